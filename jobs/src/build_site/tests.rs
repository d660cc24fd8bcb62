//! End-to-end tests of the generator on the sample businesses and on
//! hostile records.

use super::*;
use crate::build_site::input::tests::minimal;

/// The sample businesses (also rendered for the Lighthouse run).
pub(crate) const FIXTURES: [(&str, &str); 6] = [
    ("bakery_fr", include_str!("fixtures/bakery_fr.json")),
    ("garage_de", include_str!("fixtures/garage_de.json")),
    ("dentist_en", include_str!("fixtures/dentist_en.json")),
    ("salon_bare", include_str!("fixtures/salon_bare.json")),
    (
        "restaurant_reviews",
        include_str!("fixtures/restaurant_reviews.json"),
    ),
    ("plumber_unmapped", include_str!("fixtures/plumber_unmapped.json")),
];

fn fixture(name: &str) -> SiteInput {
    let (_, json) = FIXTURES.iter().find(|(n, _)| *n == name).unwrap();
    serde_json::from_str(json).unwrap()
}

const SITE: &str = "https://preview.example.lu/s/abc123/";
const CLAIM: &str = "https://preview.example.lu/claim/abc123";

fn build(input: &SiteInput) -> Generated {
    generate(input, &GeneratorConfig::default(), SITE, CLAIM, false, None).unwrap()
}

fn assert_gate(g: &Generated, what: &str) {
    let failures: Vec<_> = g.gate.failures().collect();
    assert!(failures.is_empty(), "{what}: {failures:#?}");
}

#[test]
fn every_fixture_builds_and_passes_the_gate() {
    for (name, _) in FIXTURES {
        let g = build(&fixture(name));
        assert_gate(&g, name);
        assert!(
            g.site.html.len() <= gate::MAX_PAGE_BYTES,
            "{name}: {}",
            g.site.html.len()
        );
    }
}

#[test]
fn fixtures_speak_their_language() {
    let expect = [
        ("bakery_fr", Language::Fr, "fr-LU"),
        ("garage_de", Language::De, "de-LU"),
        ("dentist_en", Language::En, "en-LU"),
        ("salon_bare", Language::Fr, "fr-LU"),
        ("restaurant_reviews", Language::Fr, "fr-LU"),
        ("plumber_unmapped", Language::En, "en-LU"),
    ];
    for (name, lang, tag) in expect {
        let g = build(&fixture(name));
        assert_eq!(
            g.dna.language.language, lang,
            "{name}: {:?}",
            g.dna.language.scores
        );
        assert!(g.site.html.contains(&format!("<html lang=\"{tag}\">")), "{name}");
    }
}

#[test]
fn two_renders_are_byte_identical() {
    for (name, _) in FIXTURES {
        let input = fixture(name);
        let (a, b) = (build(&input), build(&input));
        assert_eq!(a.site.html, b.site.html, "{name}");
        assert_eq!(a.site.content_hash, b.site.content_hash);
        assert_eq!(a.site.content_hash.len(), 64);
    }
}

#[test]
fn a_new_template_version_or_another_business_changes_the_seed() {
    let input = fixture("bakery_fr");
    let v1 = creative_dna(&input, &GeneratorConfig::default());
    let v2 = creative_dna(
        &input,
        &GeneratorConfig {
            template_version: "sitegen-next".into(),
            ..GeneratorConfig::default()
        },
    );
    assert_ne!(v1.seed, v2.seed);
    let other = creative_dna(&fixture("garage_de"), &GeneratorConfig::default());
    assert_ne!(v1.seed, other.seed);
}

#[test]
fn the_three_themes_really_differ() {
    let input = fixture("restaurant_reviews");
    let config = GeneratorConfig::default();
    let mut pages = Vec::new();
    for theme in Theme::ALL {
        let mut dna = creative_dna(&input, &config);
        dna.theme = theme;
        let copy = write_copy(&input, &dna).unwrap();
        let site = render_site(
            &input,
            &dna,
            &copy,
            &RenderOptions::new(&config, &dna, SITE, CLAIM, true),
        )
        .unwrap();
        let report = check_site(&site);
        assert!(
            report.passed,
            "{theme:?}: {:?}",
            report.failures().collect::<Vec<_>>()
        );
        pages.push((theme, site));
    }
    let (classic, bold, editorial) = (&pages[0].1, &pages[1].1, &pages[2].1);
    assert!(classic.html.contains("class=\"hero\"") && bold.html.contains("class=\"hero band\""));
    assert!(bold.html.contains("class=\"numbered\"") && classic.html.contains("class=\"cards\""));
    assert!(editorial.html.contains("class=\"kicker\""));
    assert!(
        bold.css.contains("text-transform:uppercase") && !classic.css.contains("text-transform:uppercase")
    );
    assert!(
        editorial
            .css
            .contains("grid-template-columns:minmax(11rem,17rem) 1fr")
    );
    assert_ne!(classic.css, editorial.css);
}

#[test]
fn preview_pages_are_noindex_and_gate_pages_are_not() {
    let input = fixture("dentist_en");
    let config = GeneratorConfig::default();
    let preview = generate(&input, &config, SITE, CLAIM, false, None).unwrap();
    let gate_copy = generate(&input, &config, SITE, CLAIM, true, None).unwrap();
    assert!(
        preview
            .site
            .html
            .contains(r#"<meta name="robots" content="noindex,nofollow">"#)
    );
    assert!(!gate_copy.site.html.contains("noindex"));
    assert_gate(&preview, "preview");
    assert_gate(&gate_copy, "indexable");
}

#[test]
fn the_page_has_the_required_structure() {
    let g = build(&fixture("bakery_fr"));
    let html = &g.site.html;
    assert_eq!(html.matches("<h1").count(), 1);
    assert!(
        html.contains(r#"<a class="btn" href="tel:+35226481234">"#),
        "primary CTA calls"
    );
    assert!(html.contains(r#"<link rel="canonical" href="https://preview.example.lu/s/abc123/">"#));
    assert!(
        html.contains(
            r#"<meta property="og:image" content="https://preview.example.lu/photos/bakery-1.svg">"#
        )
    );
    assert!(html.contains(r#"fetchpriority="high""#));
    assert_eq!(html.matches(r#"loading="lazy" decoding="async""#).count(), 2);
    assert!(html.contains("https://www.google.com/maps/search/?api=1&amp;query=49.600123%2C6.133456"));
    assert!(
        html.contains("Note Google : 4,7/5 (213 avis)"),
        "rating shown as text"
    );
    assert!(
        html.contains("Cet aperçu gratuit a été préparé pour Boulangerie Hoffmann par Prospector Studio.")
    );
    assert!(html.contains(&format!(r#"href="{CLAIM}""#)));
    assert!(html.contains("prefers-reduced-motion"));
    assert!(!html.contains("aggregateRating"));
    // Reviews: the 2-star and the short one are left out; newest first.
    let sophie = html.find("Sophie L.").unwrap();
    let marc = html.find("Marc W.").unwrap();
    assert!(sophie < marc);
    assert!(!html.contains("Thomas R.") && !html.contains("Top !"));
    // Sections in DNA order.
    let positions: Vec<usize> = g
        .dna
        .section_order
        .iter()
        .filter(|s| **s != Section::Hero)
        .map(|s| html.find(&format!("id=\"{}\"", s.id())).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[test]
fn a_business_with_no_hours_photos_or_reviews_gets_designed_fallbacks() {
    let g = build(&fixture("salon_bare"));
    assert_gate(&g, "salon_bare");
    let html = &g.site.html;
    assert!(
        html.contains(
            "Les horaires ne sont pas encore publiés. Appelez le +352 80 91 92 93 avant de passer."
        )
    );
    assert!(!html.contains("<img"), "no photos, no img");
    assert!(html.contains(r#"class="facts""#), "text-first hero");
    assert!(!html.contains(r#"id="reviews""#) && !html.contains(r#"id="gallery""#));
}

#[test]
fn an_unmapped_category_gets_the_fallback_persona_and_local_business() {
    let g = build(&fixture("plumber_unmapped"));
    assert_gate(&g, "plumber_unmapped");
    assert_eq!(g.dna.persona, Persona::TrustedLocal);
    assert!(g.site.html.contains(r#""@type": "LocalBusiness""#));
    // Rebuild: the old site's own description is reused verbatim.
    assert!(
        g.site
            .html
            .contains("Leak detection and water damage drying for homes")
    );
    // The unparsed hours line is shown as text, not guessed.
    assert!(g.site.html.contains("Sunday: On call, phone first"));
}

#[test]
fn the_restaurant_shows_deduplicated_recent_quotes() {
    let g = build(&fixture("restaurant_reviews"));
    let html = &g.site.html;
    assert_eq!(html.matches("Un vrai coup de cœur").count(), 1);
    assert!(!html.contains("Waited forty minutes"));
    assert!(html.find("Tom B.").unwrap() < html.find("Paolo R.").unwrap());
    assert_eq!(html.matches("<blockquote>").count(), reviews::MAX_QUOTES);
}

fn hostile() -> SiteInput {
    let mut input = fixture("restaurant_reviews");
    input.name = format!(
        "🍕 مطعم {{name}} <script>alert(\"pwn\")</script></script><img src=x onerror=alert(1)> {}",
        "Ä".repeat(10_000)
    );
    input.category = Some("</script><script>alert(2)</script>".into());
    input.address.city = Some("\"><svg onload=alert(3)>".into());
    input.address.street = Some("'; DROP TABLE prospects; --".into());
    input.reviews[0].text =
        "<script>alert('review')</script> Great food, great service, we loved everything about this place!"
            .into();
    input.reviews[0].author = "<b onmouseover=alert(4)>Eve</b> Evil".into();
    input.reviews[0].source_url = Some("javascript:alert(5)".into());
    input.photos[0].url = "javascript:alert(6)".into();
    input.email = Some("\"<script>\"@example.lu".into());
    input.rating = Some(f64::NAN);
    input
}

#[test]
fn hostile_values_are_always_escaped_including_in_json_ld() {
    let g = build(&hostile());
    assert_gate(&g, "hostile");
    let html = &g.site.html;
    assert_eq!(html.matches("<script").count(), 1, "only the JSON-LD script tag");
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<svg"));
    assert!(!html.contains("<b onmouseover"));
    assert!(!html.contains("javascript:"));
    assert!(
        html.contains("&lt;script&gt;alert(&quot;pwn&quot;)"),
        "name shown, escaped"
    );
    // Inside the JSON-LD block, < and > are JSON escapes, so the block cannot
    // be closed early, and the JSON still parses to the original name.
    let start = html.find(r#"<script type="application/ld+json">"#).unwrap();
    let end = start + html[start..].find("</script>").unwrap();
    let block = &html[start + r#"<script type="application/ld+json">"#.len()..end];
    assert!(!block.contains('<') && !block.contains('>'));
    let value: serde_json::Value = serde_json::from_str(block).unwrap();
    assert!(
        value["name"]
            .as_str()
            .unwrap()
            .starts_with("🍕 مطعم {name} <script>alert(\"pwn\")</script>")
    );
    // The emoji and RTL text survive; the 10 KB name is cut.
    assert!(html.contains("🍕") && html.contains("مطعم"));
    assert!(html.len() < gate::MAX_PAGE_BYTES);
    let name = value["name"].as_str().unwrap();
    assert!(name.ends_with('…') && text::len(name) <= input::limits::NAME);
    // A slot-looking name is shown literally, never expanded.
    assert!(html.contains("{name}"));
    // The NaN rating leaves no trust line and no "NaN".
    assert!(!html.contains("NaN"));
}

#[test]
fn no_name_is_refused_with_a_typed_error_and_missing_optionals_are_not() {
    let err = generate(
        &minimal("  "),
        &GeneratorConfig::default(),
        SITE,
        CLAIM,
        false,
        None,
    )
    .unwrap_err();
    assert!(matches!(err, BuildError::MissingName));
    assert!(err.is_permanent());
    let bare = build(&minimal("Chez Nous"));
    assert_gate(&bare, "bare");
    assert!(bare.site.html.contains(r##"<a class="btn" href="#contact">"##));
}

#[test]
fn bad_render_options_are_typed_errors() {
    let input = fixture("bakery_fr");
    for (site, claim, field) in [
        ("not a url", CLAIM, "site_url"),
        ("ftp://x.example/", CLAIM, "site_url"),
        (SITE, "http://claim.example/", "claim_url"),
        (SITE, "javascript:alert(1)", "claim_url"),
    ] {
        match generate(&input, &GeneratorConfig::default(), site, claim, false, None) {
            Err(BuildError::InvalidOption { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{site} {claim}: {other:?}"),
        }
    }
}

#[test]
fn outside_copy_is_validated_and_slots_are_filled_from_facts() {
    let input = fixture("bakery_fr");
    let config = GeneratorConfig::default();
    let dna = creative_dna(&input, &config);
    let mut copy = write_copy(&input, &dna).unwrap();
    copy.headline = "{name}, le meilleur pain de {city}".into();
    let g = generate(&input, &config, SITE, CLAIM, false, Some(copy.clone())).unwrap();
    assert!(
        g.site
            .html
            .contains("Boulangerie Hoffmann, le meilleur pain de Luxembourg</h1>")
    );

    copy.subheadline = "Commandez sur <a href=https://evil.example>notre site</a>".into();
    match generate(&input, &config, SITE, CLAIM, false, Some(copy.clone())) {
        Err(BuildError::CopyRejected(issues)) => assert!(issues.iter().any(|i| i.field == "subheadline")),
        other => panic!("{other:?}"),
    }

    // Valid copy that needs a fact the record lacks fails at render.
    let mut bare_copy = write_copy(&minimal("X"), &creative_dna(&minimal("X"), &config)).unwrap();
    bare_copy.headline = "{name} à {city}".into();
    match generate(&minimal("X"), &config, SITE, CLAIM, false, Some(bare_copy)) {
        Err(BuildError::Copy(issue)) => assert_eq!(issue.problem, CopyProblem::MissingFact("city".into())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_gate_catches_broken_pages() {
    let good = build(&fixture("dentist_en")).site;
    let broken = |edit: &dyn Fn(&mut RenderedSite)| {
        let mut site = good.clone();
        edit(&mut site);
        check_site(&site)
            .failures()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        broken(&|s| s.html = s.html.replacen("<h2", "<h1", 1)),
        ["headings"]
    );
    assert_eq!(
        broken(&|s| s.html = s.html.replacen("<h2", "<h4", 1).replacen("</h2>", "</h4>", 1)),
        ["headings"]
    );
    assert_eq!(
        broken(&|s| s.html = s.html.replacen(" alt=\"", " data-alt=\"", 1)),
        ["images"]
    );
    assert_eq!(
        broken(&|s| s.html = s.html.replacen("href=\"#hours\"", "href=\"#nowhere\"", 1)),
        ["links"]
    );
    assert_eq!(
        broken(&|s| s.html = s.html.replacen("href=\"tel:", "href=\"http://x.example/?", 1)),
        ["links"]
    );
    assert_eq!(
        broken(&|s| s.html = s.html.replacen(
            "</body>",
            "<script src=\"https://cdn.example/x.js\"></script></body>",
            1
        )),
        ["self_contained"]
    );
    assert_eq!(
        broken(&|s| s.html = s.html.replacen("\"@type\": \"Dentist\"", "\"@type\": null", 1)),
        ["json_ld"]
    );
    assert_eq!(
        broken(&|s| s.html = s.html.replacen(" lang=\"en-LU\"", "", 1)),
        ["lang"]
    );
    assert_eq!(broken(&|s| s.indexable = true), ["robots"]);
    assert_eq!(
        broken(&|s| {
            s.contrast[0].foreground = Rgb::parse("#eeeeee").unwrap();
        }),
        ["contrast"]
    );
    assert!(broken(&|s| s.html.push_str(&" ".repeat(gate::MAX_PAGE_BYTES))).contains(&"size".to_owned()));
}

mod hostile_property {
    use super::*;
    use proptest::prelude::*;

    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[<>&\"'{}/ a-zA-Z0-9\u{202e}\u{0600}-\u{06ff}\u{1f600}-\u{1f64f}]{0,300}",
            Just("</script><script>alert(1)</script>".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn any_text_in_any_field_renders_escaped_and_passes_the_gate(
            name in hostile_text(), category in hostile_text(), city in hostile_text(),
            review in hostile_text(), hours in hostile_text(), rating in any::<f64>(),
        ) {
            let mut input = fixture("restaurant_reviews");
            input.name = name;
            input.category = Some(category);
            input.address.city = Some(city);
            input.reviews[0].text = review;
            input.opening_hours.push(hours);
            input.rating = Some(rating);
            match generate(&input, &GeneratorConfig::default(), SITE, CLAIM, false, None) {
                Ok(g) => {
                    let failures: Vec<_> = g.gate.failures().collect();
                    prop_assert!(failures.is_empty(), "{failures:?}");
                    prop_assert_eq!(g.site.html.matches("<script").count(), 1);
                }
                Err(BuildError::MissingName) => prop_assert!(text::clip(&input.name, 80).is_empty()),
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }
}

/// Writes every fixture, rendered indexable, to `$BUILD_SITE_OUT` for the
/// Lighthouse run (`jobs/src/build_site/lighthouse.sh`). Ignored by default.
#[test]
#[ignore = "writes files for the Lighthouse script"]
fn write_fixture_sites_for_lighthouse() {
    let out = std::env::var("BUILD_SITE_OUT").expect("set BUILD_SITE_OUT");
    let base = std::env::var("BUILD_SITE_BASE").unwrap_or_else(|_| "http://127.0.0.1:8765".into());
    let config = GeneratorConfig::default();
    let mut themes = std::collections::BTreeSet::new();
    for (name, _) in FIXTURES {
        let input = fixture(name);
        let url = format!("{base}/{name}/");
        let g = generate(&input, &config, &url, CLAIM, true, None).unwrap();
        assert_gate(&g, name);
        themes.insert(g.dna.theme.slug());
        let dir = std::path::Path::new(&out).join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), &g.site.html).unwrap();
        std::fs::write(
            dir.join("dna.json"),
            serde_json::to_string_pretty(&g.dna).unwrap(),
        )
        .unwrap();
        println!(
            "{name}: theme {} persona {:?} {} bytes",
            g.dna.theme.slug(),
            g.dna.persona,
            g.site.html.len()
        );
    }
    println!("themes: {themes:?}");
}
