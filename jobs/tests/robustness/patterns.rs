//! Pattern strings (`regex\;version:\1\;confidence:50`) never panic: each
//! parses to a pattern or a typed error; a parsed pattern finds matches
//! inside the haystack and gives well-formed versions; version templates
//! resolve to short, trimmed strings.

use proptest::prelude::*;
use prospector_jobs::tech_scan::fingerprint::pattern::{Pattern, resolve_version};

use crate::{analysis::well_formed_version, corpus};

/// Pieces of pattern syntax that mutations and the generator use.
const PATTERN_TOKENS: &[&str] = &[
    "(",
    ")",
    "(?:",
    "(?i)",
    "(?-u)",
    "(?<n>",
    "(?P<n>",
    "[",
    "]",
    "[^",
    "\\",
    "\\;",
    "\\;version:",
    "\\;confidence:",
    "\\1",
    "\\2",
    "\\11",
    "?",
    ":",
    "*",
    "+",
    "{2,}",
    "{1000}",
    "{0}",
    "|",
    "^",
    "$",
    "\\b",
    "\\B",
    "\\d",
    "\\w",
    "\\s",
    "\\p{L}",
    "\\P{Greek}",
    "\\x{ff}",
    "\\xff",
    ".",
    "a-z",
    "A-Z",
    "é",
    "ſ",
    "K",
    "wp-",
    "content",
    "\\.js",
];

fn seeds() -> Vec<Vec<u8>> {
    corpus::lines("patterns")
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

/// Concatenations of pattern syntax and literals.
fn generated() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(PATTERN_TOKENS).prop_map(str::to_owned),
            "[a-zA-Z0-9 ./-]{1,6}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn check_pattern(raw: &str, haystack: &str) -> Result<(), TestCaseError> {
    let pattern = match Pattern::parse(raw) {
        Ok(pattern) => pattern,
        Err(e) => {
            prop_assert!(!e.reason.is_empty(), "{raw:?}: an error without a reason");
            return Ok(());
        }
    };
    prop_assert!(pattern.confidence <= 100);
    if let Some(literals) = &pattern.literals {
        prop_assert!(
            !literals.is_empty() && literals.iter().all(|l| l.len() >= 3),
            "{literals:?}"
        );
    }
    let lower = haystack.to_ascii_lowercase();
    if let Some(m) = pattern.find(haystack, &lower) {
        prop_assert!(
            m.start <= m.end && m.end <= haystack.len(),
            "{raw:?}: {}..{} of {}",
            m.start,
            m.end,
            haystack.len()
        );
        if let Some(v) = &m.version {
            prop_assert!(well_formed_version(v), "{raw:?} on {haystack:?}: version {v:?}");
        }
    }
    Ok(())
}

#[test]
fn corpus_patterns_parse_or_fail_cleanly() {
    let haystack = "<link href='/wp-content/themes/astra/style.css?ver=4.1.2'>WordPress 6.4.2 jquery-migrate-3.4.1 nginx/1.25.3";
    for raw in corpus::lines("patterns") {
        if let Err(e) = check_pattern(&raw, haystack) {
            panic!("{raw:?}: {e}");
        }
    }
}

proptest! {
    #![proptest_config(corpus::config(256, "patterns"))]

    #[test]
    fn arbitrary_strings(raw in "\\PC{0,64}", haystack in "\\PC{0,64}") {
        check_pattern(&raw, &haystack)?;
    }

    #[test]
    fn generated_syntax(raw in generated(), haystack in "[a-zA-Z0-9 ./éſK-]{0,64}") {
        check_pattern(&raw, &haystack)?;
    }

    #[test]
    fn mutated_corpus_patterns(
        raw in corpus::mutated_text(seeds(), PATTERN_TOKENS, 6),
        haystack in corpus::mutated_text(vec![b"WordPress 6.4.2 /wp-content/ jquery-3.7.1.min.js nginx/1.25".to_vec()], PATTERN_TOKENS, 4),
    ) {
        check_pattern(&raw, &haystack)?;
    }

    #[test]
    fn version_templates_resolve_to_short_trimmed_text(
        template in "([\\\\0-9?:a-z. ]|\\\\[0-9]\\?){0,24}",
        groups in prop::collection::vec(prop::option::of("\\PC{0,12}"), 0..12),
    ) {
        let groups: Vec<Option<&str>> = groups.iter().map(Option::as_deref).collect();
        if let Some(v) = resolve_version(&template, &groups) {
            prop_assert!(!v.is_empty() && v.len() <= 40 && v.trim() == v, "{template:?}: {v:?}");
        }
    }
}
