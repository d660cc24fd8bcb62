use serde_json::json;

use super::*;

fn engine(technologies: Value) -> Engine {
    let raw = json!({
        "categories": {
            "1": {"name": "CMS", "priority": 1},
            "6": {"name": "Ecommerce", "priority": 1},
            "12": {"name": "JavaScript frameworks", "priority": 8},
            "22": {"name": "Web servers", "priority": 8},
            "27": {"name": "Programming languages", "priority": 5},
            "59": {"name": "JavaScript libraries", "priority": 9},
            "87": {"name": "WordPress plugins", "priority": 9}
        },
        "technologies": technologies
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("defs.json");
    std::fs::write(&path, raw.to_string()).unwrap();
    Engine::load(&DefinitionsSource::Path(path)).unwrap()
}

fn names(detections: &[Detection]) -> Vec<&str> {
    let mut names: Vec<&str> = detections.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    names
}

fn find<'a>(detections: &'a [Detection], name: &str) -> &'a Detection {
    detections
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("{name} not detected in {:?}", names(detections)))
}

#[test]
fn every_pattern_kind_matches_its_own_input() {
    let engine = engine(json!({
        "ByHtml": {"cats": [1], "html": "<div id=\"byhtml-root\""},
        "ByScripts": {"cats": [59], "scripts": "window\\.byScripts\\s*="},
        "ByText": {"cats": [1], "text": "Powered by ByText"},
        "ByCss": {"cats": [1], "css": "\\.bycss-grid"},
        "ByUrl": {"cats": [1], "url": "^https?://[^/]+/byurl/"},
        "BySrc": {"cats": [59], "scriptSrc": "bysrc(?:\\.min)?\\.js"},
        "ByRobots": {"cats": [1], "robots": "Disallow: /byrobots-admin/"},
        "ByIssuer": {"cats": [1], "certIssuer": "ByIssuer CA"},
        "ByHeader": {"cats": [22], "headers": {"Server": "^byheader"}},
        "ByCookie": {"cats": [1], "cookies": {"bycookie_session": ""}},
        "ByCookiePrefix": {"cats": [1], "cookies": {"byprefix_*": ""}},
        "ByMeta": {"cats": [1], "meta": {"generator": "^ByMeta"}},
        "ByDns": {"cats": [1], "dns": {"MX": "mx\\.bydns\\.example"}},
        "ByDom": {"cats": [1], "dom": "link[href*='bydom-assets']"},
        "ByDomText": {"cats": [1], "dom": {"footer .credits": {"text": "Built with ByDomText"}}},
        "ByDomAttr": {"cats": [1], "dom": {"body": {"attributes": {"data-bydomattr": ""}}}},
        "Absent": {"cats": [1], "html": "never-on-this-page", "headers": {"X-Absent": ""}}
    }));
    let html = r#"<html><head><link rel="stylesheet" href="/bydom-assets/site.css"><style>.ByCss-grid{}</style></head>
        <body data-bydomattr="1"><div id="byhtml-root"></div><script>window.byScripts = 1;</script>
        <footer><p class="credits">Built with ByDomText</p></footer></body></html>"#;
    let document = Html::parse_document(html);
    let headers = vec![("server".to_owned(), "ByHeader/1.2".to_owned())];
    let cookies = vec![
        ("bycookie_session".to_owned(), "abc".to_owned()),
        ("byprefix_42".to_owned(), "x".to_owned()),
    ];
    let meta = vec![("generator".to_owned(), "ByMeta 3".to_owned())];
    let srcs = vec!["https://cdn.test/js/BySrc.min.js?v=1".to_owned()];
    let dns = [("MX", "mx.bydns.example")];
    let page = PageInput {
        url: "https://shop.test/byurl/home",
        html,
        headers: &headers,
        cookies: &cookies,
        meta: &meta,
        script_src: &srcs,
        scripts: "window.byScripts = 1;",
        text: "Welcome. Powered by ByText.",
        css: ".ByCss-grid{}",
        robots: Some("User-agent: *\nDisallow: /byrobots-admin/\n"),
        cert_issuer: Some("ByIssuer CA"),
        dns: &dns,
        document: Some(&document),
    };
    let found = engine.analyze(&page);
    assert_eq!(
        names(&found),
        vec![
            "ByCookie",
            "ByCookiePrefix",
            "ByCss",
            "ByDns",
            "ByDom",
            "ByDomAttr",
            "ByDomText",
            "ByHeader",
            "ByHtml",
            "ByIssuer",
            "ByMeta",
            "ByRobots",
            "ByScripts",
            "BySrc",
            "ByText",
            "ByUrl"
        ]
    );
    let header = find(&found, "ByHeader");
    assert_eq!(header.evidence[0].field, Field::Header);
    assert_eq!(header.evidence[0].key.as_deref(), Some("server"));
    assert_eq!(header.evidence[0].matched, "ByHeader");
    assert_eq!(
        find(&found, "ByDom").evidence[0].key.as_deref(),
        Some("link[href*='bydom-assets']")
    );
    assert_eq!(
        find(&found, "ByCss").evidence[0].matched,
        ".ByCss-grid",
        "evidence keeps the page's case"
    );
    assert_eq!(find(&found, "ByHeader").categories[0].name, "Web servers");
}

#[test]
fn versions_and_confidence_come_from_tags() {
    let engine = engine(json!({
        "WordPress": {
            "cats": [1],
            "meta": {"generator": "^WordPress ?([\\d.]+)?\\;version:\\1"},
            "html": "/wp-content/\\;confidence:40"
        },
        "Maybe": {"cats": [1], "html": "maybe-marker\\;confidence:30"},
        "Twice": {"cats": [1], "html": ["twice-a\\;confidence:30", "twice-b\\;confidence:30"]},
        "Next.js": {"cats": [12], "headers": {"x-powered-by": "^Next\\.js ?([0-9.]+)?\\;version:\\1"}},
        "jQuery": {"cats": [59], "scriptSrc": "jquery(-migrate)?[.-]([\\d.]+)(?:\\.min)?\\.js\\;version:\\1?migrate-\\2:\\2"}
    }));
    let html = "<link href='/wp-content/x.css'> maybe-marker twice-a twice-b";
    let meta = vec![("generator".to_owned(), "WordPress 6.4.2".to_owned())];
    let headers = vec![("x-powered-by".to_owned(), "Next.js".to_owned())];
    let srcs = vec![
        "/wp-includes/js/jquery/jquery-migrate-3.4.1.min.js".to_owned(),
        "/js/jquery-3.7.1.min.js".to_owned(),
    ];
    let found = engine.analyze(&PageInput {
        html,
        meta: &meta,
        headers: &headers,
        script_src: &srcs,
        ..PageInput::default()
    });
    let wp = find(&found, "WordPress");
    assert_eq!(wp.version.as_deref(), Some("6.4.2"));
    assert_eq!(wp.confidence, 100, "100 + 40 is capped at 100");
    assert_eq!(wp.evidence.len(), 2);
    assert_eq!(find(&found, "Maybe").confidence, 30);
    assert_eq!(find(&found, "Twice").confidence, 60, "confidences add up");
    assert_eq!(
        find(&found, "Next.js").version,
        None,
        "an empty group gives no version"
    );
    let jquery = find(&found, "jQuery");
    // The first script gives "migrate-3.4.1" through the ternary form.
    assert_eq!(jquery.evidence[0].version.as_deref(), Some("migrate-3.4.1"));
}

#[test]
fn implies_requires_and_excludes_are_resolved() {
    let engine = engine(json!({
        "WordPress": {"cats": [1], "meta": {"generator": "^WordPress"}, "implies": ["PHP", "MySQL\\;confidence:50"]},
        "PHP": {"cats": [27]},
        "MySQL": {"cats": [27]},
        "WooCommerce": {"cats": [6], "html": "woocommerce", "requires": "WordPress"},
        "Elementor": {"cats": [87], "html": "elementor-", "requiresCategory": 1},
        "Orphan plugin": {"cats": [87], "html": "orphan-plugin", "requires": "Drupal"},
        "Drupal": {"cats": [1], "html": "drupal-never"},
        "Shopify": {"cats": [6], "html": "cdn\\.shopify\\.com", "excludes": ["WooCommerce"]}
    }));
    let meta = vec![("generator".to_owned(), "WordPress 6.5".to_owned())];
    let found = engine.analyze(&PageInput {
        html: "class='woocommerce elementor-kit' orphan-plugin",
        meta: &meta,
        ..PageInput::default()
    });
    assert_eq!(
        names(&found),
        vec!["Elementor", "MySQL", "PHP", "WooCommerce", "WordPress"]
    );
    let php = find(&found, "PHP");
    assert_eq!(php.implied_by, vec!["WordPress"]);
    assert!(php.evidence.is_empty());
    assert_eq!(find(&found, "MySQL").confidence, 50);

    // Without WordPress, the plugins that require it are not claimed.
    let found = engine.analyze(&PageInput {
        html: "class='woocommerce elementor-kit'",
        ..PageInput::default()
    });
    assert!(found.is_empty(), "{:?}", names(&found));

    // Shopify excludes WooCommerce.
    let found = engine.analyze(&PageInput {
        html: "https://cdn.shopify.com/s/files woocommerce",
        meta: &meta,
        ..PageInput::default()
    });
    assert!(names(&found).contains(&"Shopify"));
    assert!(!names(&found).contains(&"WooCommerce"));
}

#[test]
fn invalid_patterns_are_reported_and_skipped() {
    let engine = engine(json!({
        "Lookahead": {"cats": [1], "html": ["good-marker", "bad(?!x)marker"]},
        "BadSelector": {"cats": [1], "dom": "div[[["},
        "NeedsJs": {"cats": [1], "js": {"window.foo": ""}},
        "Broken": {"cats": [1], "implies": "Nowhere"}
    }));
    let report = engine.report();
    assert_eq!(report.technologies, 4);
    assert_eq!(report.skipped.len(), 2, "{:?}", report.skipped);
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.technology == "Lookahead" && s.pattern == "bad(?!x)marker")
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.technology == "BadSelector" && s.field == "dom")
    );
    assert_eq!(report.unsupported.get("js"), Some(&1));
    assert_eq!(report.unknown_references.len(), 1);
    // The valid pattern of the same technology still works.
    let found = engine.analyze(&PageInput {
        html: "good-marker",
        ..PageInput::default()
    });
    assert_eq!(names(&found), vec!["Lookahead"]);
}

#[test]
fn the_prefilter_never_hides_a_match() {
    // Many patterns so that the literal prefilter is used; each must still
    // match exactly where the plain regex does.
    let mut techs = serde_json::Map::new();
    for i in 0..300 {
        techs.insert(
            format!("Tech{i}"),
            json!({"cats": [1], "html": [format!("marker-{i:03}-(?:alpha|beta)"), format!("^<!-- t{i} -->")]}),
        );
    }
    techs.insert("NoLiteral".into(), json!({"cats": [1], "html": "[0-9]{12}"}));
    let engine = engine(Value::Object(techs));
    let html = "<!-- t7 -->\n<p>Marker-042-BETA, marker-199-alpha, 123456789012</p>";
    let found = engine.analyze(&PageInput {
        html,
        ..PageInput::default()
    });
    assert_eq!(names(&found), vec!["NoLiteral", "Tech199", "Tech42", "Tech7"]);
}

#[test]
fn the_builtin_definitions_load_cleanly() {
    let engine = Engine::load(&DefinitionsSource::Builtin).unwrap();
    let report = engine.report();
    assert!(report.technologies >= 300, "{} technologies", report.technologies);
    assert!(report.skipped.is_empty(), "{:#?}", report.skipped);
    assert!(
        report.unknown_references.is_empty(),
        "{:#?}",
        report.unknown_references
    );
    assert!(report.unsupported.is_empty(), "{:?}", report.unsupported);
}

#[test]
fn selector_tokens_are_required_substrings() {
    assert_eq!(
        selector_tokens("link[href*='wp-content']"),
        Some(vec![b"wp-content".to_vec()])
    );
    assert_eq!(
        selector_tokens("div#wix-root > .site"),
        Some(vec![b"wix-root".to_vec()])
    );
    assert_eq!(
        selector_tokens("meta[name=generator], .sqs-block"),
        Some(vec![b"generator".to_vec(), b"sqs-block".to_vec()])
    );
    assert_eq!(selector_tokens("header nav"), None);
}

/// Pages saved from real generators (and realistic hand-written ones):
/// every technology a careful engineer would name, and nothing else.
#[test]
fn saved_pages_get_exactly_the_expected_detections() {
    let engine = Engine::load(&DefinitionsSource::Builtin).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pages");
    let cases: &[(&str, &[&str])] = &[
        (
            "mkdocs-material.html",
            &["Google Font API", "Material for MkDocs", "MkDocs"],
        ),
        ("sphinx-alabaster.html", &["Alabaster", "Sphinx"]),
        ("apache-debian-default.html", &["Apache HTTP Server", "Debian"]),
        ("nginx-default.html", &["Nginx"]),
        ("hugo.html", &["Hugo"]),
        (
            "wordpress-bakery.html",
            &[
                "Astra",
                "Contact Form 7",
                "Google Analytics",
                "Gutenberg",
                "Nginx",
                "PHP",
                "WordPress",
                "Yoast SEO",
                "jQuery",
                "jQuery Migrate",
            ],
        ),
        (
            "wordpress-woocommerce-large.html",
            &[
                "CookieYes",
                "Elementor",
                "Google Font API",
                "Google Tag Manager",
                "Gutenberg",
                "Hello Elementor",
                "Meta Pixel",
                "Nginx",
                "PHP",
                "WooCommerce",
                "WordPress",
                "Yoast SEO",
                "jQuery",
                "jQuery Migrate",
            ],
        ),
    ];
    let url = url::Url::parse("https://site.test/").unwrap();
    for (file, expected) in cases {
        let html = std::fs::read_to_string(dir.join(file)).unwrap();
        let headers: Vec<(String, String)> =
            std::fs::read_to_string(dir.join(file).with_extension("headers"))
                .map(|t| {
                    t.lines()
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
        let cookies: Vec<(String, String)> = headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| {
                v.split(';')
                    .next()?
                    .split_once('=')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
            })
            .collect();
        let parsed = crate::tech_scan::document::parse_page(&html, &url, 512);
        let found = engine.analyze(&PageInput {
            url: url.as_str(),
            html: &html,
            headers: &headers,
            cookies: &cookies,
            meta: &parsed.meta,
            script_src: &parsed.script_src,
            scripts: &parsed.scripts,
            text: &parsed.text,
            css: &parsed.css,
            document: Some(&parsed.document),
            ..PageInput::default()
        });
        let mut got = names(&found);
        got.sort_by_key(|n| n.to_ascii_lowercase());
        let mut want: Vec<&str> = expected.to_vec();
        want.sort_by_key(|n| n.to_ascii_lowercase());
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn a_webappanalyzer_style_directory_loads() {
    // categories.json + technologies/*.json, as in the community repository's src/.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("categories.json"),
        r#"{"1": {"name": "CMS", "priority": 1, "groups": [3]}, "22": {"name": "Web servers", "priority": 8}}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("technologies")).unwrap();
    std::fs::write(
        dir.path().join("technologies/a.json"),
        r##"{"Acme CMS": {"cats": [1], "meta": {"generator": "^Acme ([\\d.]+)\\;version:\\1"}, "js": {"Acme.version": ""},
            "dom": {"#acme": {"properties": {"_acme": ""}}}, "icon": "Acme.svg", "cpe": "cpe:2.3:a:acme:cms:*", "saas": false}}"##,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("technologies/n.json"),
        r#"{"Nginx": {"cats": [22], "headers": {"Server": "nginx(?:/([\\d.]+))?\\;version:\\1"}}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("technologies/notes.txt"), "not json, ignored").unwrap();
    let engine = Engine::load(&DefinitionsSource::Path(dir.path().to_owned())).unwrap();
    assert_eq!(engine.report().technologies, 2);
    assert_eq!(engine.report().categories, 2);
    assert_eq!(engine.report().unsupported.get("js"), Some(&1));
    assert_eq!(engine.report().unsupported.get("dom.properties"), Some(&1));
    let meta = vec![("generator".to_owned(), "Acme 2.1".to_owned())];
    let headers = vec![("server".to_owned(), "nginx/1.25.3".to_owned())];
    let found = engine.analyze(&PageInput {
        meta: &meta,
        headers: &headers,
        ..PageInput::default()
    });
    assert_eq!(find(&found, "Acme CMS").version.as_deref(), Some("2.1"));
    assert_eq!(find(&found, "Nginx").version.as_deref(), Some("1.25.3"));
    // A broken file is an error that names it.
    std::fs::write(dir.path().join("technologies/z.json"), "{ not json").unwrap();
    let err = Engine::load(&DefinitionsSource::Path(dir.path().to_owned())).unwrap_err();
    assert!(err.to_string().contains("z.json"), "{err}");
}
