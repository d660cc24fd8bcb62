//! Loading definitions never panics: corpus files load (`ok-*`) or give a
//! typed error (`bad-*`); mutated files and both layouts give `Ok` or an
//! error; definitions with arbitrary values in every field compile (bad
//! patterns are skipped and reported) and then match pages cleanly.

use std::collections::BTreeMap;

use proptest::prelude::*;
use prospector_jobs::tech_scan::fingerprint::{
    DefinitionsError, DefinitionsSource, Engine, RawDefinitions, definitions::RawCategory,
};
use serde_json::{Map, Value};

use crate::{
    analysis::{analyse, check},
    corpus,
};

/// Pieces of definition JSON that mutations insert.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "1e400",
    "\\u0000",
    "\\ud800",
    "\\\\;version:\\\\1",
    "\"dom\":",
    "\"implies\":",
    "\"cats\":",
    "\"headers\":",
    "\"apps\":",
    "\"technologies\":",
];

/// Fields of a technology, with the ones that carry patterns repeated.
const FIELDS: &[&str] = &[
    "html",
    "scripts",
    "text",
    "css",
    "url",
    "scriptSrc",
    "script",
    "robots",
    "certIssuer",
    "headers",
    "cookies",
    "meta",
    "dns",
    "dom",
    "cats",
    "implies",
    "requires",
    "requiresCategory",
    "excludes",
    "website",
    "js",
    "xhr",
    "probe",
    "html",
    "dom",
    "headers",
];

fn load_bytes(bytes: &[u8]) -> Result<Engine, DefinitionsError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("definitions.json");
    std::fs::write(&path, bytes).expect("writable");
    Engine::load(&DefinitionsSource::Path(path))
}

const PAGE: &str = "<html><head><meta name=generator content='WordPress 6.4'><link href='/wp-content/themes/astra/s.css?ver=4.1'></head>\
    <body class='brxe-x'><div id=brx-content></div><footer><p class=credits>Built with Bricks</p></footer>self loop old-layout</body></html>";

#[test]
fn corpus_definitions_load_or_fail_as_named() {
    for (name, bytes) in corpus::files("definitions") {
        let loaded = load_bytes(&bytes);
        if name.starts_with("bad-") {
            assert!(
                matches!(loaded, Err(DefinitionsError::Format { .. })),
                "{name}: {:?}",
                loaded.map(|e| e.technology_count())
            );
        } else {
            let engine = loaded.unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Err(e) = check(&analyse(&engine, PAGE, &[])) {
                panic!("{name}: {e}");
            }
        }
    }
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(
            crate::corpus::lines("patterns")
                .into_iter()
                .chain([
                    "PHP\\;confidence:50".to_owned(),
                    "Self".to_owned(),
                    "T0".to_owned(),
                    "div.x > a[href*=y]".to_owned()
                ])
                .collect::<Vec<_>>(),
        )
        .prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "\\PC{0,10}",
                    prop::sample::select(vec![
                        "text".to_owned(),
                        "exists".to_owned(),
                        "attributes".to_owned(),
                        "properties".to_owned(),
                        "generator".to_owned(),
                        "Server".to_owned(),
                        "MX".to_owned(),
                        "session_*".to_owned(),
                        "footer .credits".to_owned(),
                    ])
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Technologies named `T0`… with arbitrary values in arbitrary fields.
fn technologies() -> impl Strategy<Value = BTreeMap<String, Map<String, Value>>> {
    let tech = prop::collection::vec((prop::sample::select(FIELDS), json()), 0..6).prop_map(|fields| {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<_, _>>()
    });
    prop::collection::vec(tech, 1..8).prop_map(|techs| {
        techs
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("T{i}"), t))
            .collect()
    })
}

proptest! {
    #![proptest_config(corpus::config(64, "definitions"))]

    #[test]
    fn mutated_definition_files(bytes in corpus::mutated(corpus::seeds("definitions"), JSON_TOKENS, 6)) {
        if let Ok(engine) = load_bytes(&bytes) {
            check(&analyse(&engine, PAGE, &[]))?;
        }
    }

    #[test]
    fn arbitrary_fields_compile_and_match(
        technologies in technologies(),
        html in corpus::mutated_text(corpus::seeds("pages"), crate::pages::HTML_TOKENS, 3),
    ) {
        let mut categories = BTreeMap::new();
        categories.insert(1, RawCategory { name: "CMS".into(), priority: Some(1) });
        let engine = Engine::compile(RawDefinitions { categories, technologies });
        let report = engine.report();
        prop_assert!(report.skipped.iter().all(|s| !s.reason.is_empty()));
        check(&analyse(&engine, PAGE, &[]))?;
        check(&analyse(&engine, &html, &[]))?;
    }

    #[test]
    fn directory_layout(
        categories in corpus::mutated(vec![br#"{"1": {"name": "CMS", "priority": 1}, "22": {"name": "Web servers"}}"#.to_vec()], JSON_TOKENS, 3),
        technologies in corpus::mutated(corpus::seeds("definitions"), JSON_TOKENS, 3),
    ) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("categories.json"), &categories).expect("writable");
        std::fs::create_dir(dir.path().join("technologies")).expect("writable");
        std::fs::write(dir.path().join("technologies/a.json"), &technologies).expect("writable");
        if let Ok(engine) = Engine::load(&DefinitionsSource::Path(dir.path().to_owned())) {
            check(&analyse(&engine, PAGE, &[]))?;
        }
    }
}
