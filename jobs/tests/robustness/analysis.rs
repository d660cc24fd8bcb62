//! A page analysed the way the `tech_scan` stage does it (parse, match the
//! shipped definitions, extract and finalise contacts), and the checks every
//! result must pass whatever the input.

use std::{
    sync::LazyLock,
    time::{Duration, Instant},
};

use proptest::{prop_assert, prop_assert_eq, test_runner::TestCaseError};
use prospector_jobs::{
    domain::EmailAddress,
    tech_scan::{
        contacts::{self, ContactKind, StoredContact, phones},
        document::parse_page,
        fingerprint::{DefinitionsSource, Detection, Engine, PageInput},
    },
};
use regex::Regex;
use url::Url;

/// The stage's default `max_html_depth`.
pub const MAX_DEPTH: usize = 512;
/// Longest a debug build may take over one page before it counts as a hang.
pub const PAGE_LIMIT: Duration = Duration::from_secs(30);

/// The shipped definitions, compiled once.
pub static SHIPPED: LazyLock<Engine> =
    LazyLock::new(|| Engine::load(&DefinitionsSource::Builtin).expect("the shipped definitions load"));

/// `prospects.phone_e164`'s CHECK.
pub static E164: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\+[1-9][0-9]{6,14}$").expect("valid"));

/// `prospects.domain_name`'s CHECK (with `length <= 253` and lower case).
pub static DOMAIN_CHECK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$").expect("valid")
});

/// Headers, cookies and DNS records sent with every analysed page.
const HEADERS: &[(&str, &str)] = &[
    ("server", "nginx/1.25.3"),
    ("x-powered-by", "PHP/8.2.12"),
    ("content-type", "text/html; charset=UTF-8"),
    (
        "link",
        "<https://www.shop.test/wp-json/>; rel=\"https://api.w.org/\"",
    ),
];
const COOKIES: &[(&str, &str)] = &[("PHPSESSID", "abc123"), ("wp_woocommerce_session_1", "x")];

/// What one analysis gave.
pub struct Analysis {
    /// The detections.
    pub detections: Vec<Detection>,
    /// The contacts, finalised.
    pub contacts: Vec<StoredContact>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Analyse `html` served at `https://www.shop.test/fr/` with `engine`,
/// with extra response headers.
pub fn analyse(engine: &Engine, html: &str, extra_headers: &[(String, String)]) -> Analysis {
    let started = Instant::now();
    let base = Url::parse("https://www.shop.test/fr/").expect("valid");
    let parsed = parse_page(html, &base, MAX_DEPTH);
    let mut headers: Vec<(String, String)> = HEADERS
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    headers.extend(extra_headers.iter().cloned());
    let cookies: Vec<(String, String)> = COOKIES
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let dns = [
        ("MX", "mx.shop.test"),
        ("TXT", "v=spf1 include:_spf.google.com ~all"),
    ];
    let detections = engine.analyze(&PageInput {
        url: base.as_str(),
        html,
        headers: &headers,
        cookies: &cookies,
        meta: &parsed.meta,
        script_src: &parsed.script_src,
        scripts: &parsed.scripts,
        text: &parsed.text,
        css: &parsed.css,
        robots: Some("User-agent: *\nDisallow: /wp-admin/\n"),
        cert_issuer: Some("Let's Encrypt"),
        dns: &dns,
        document: Some(&parsed.document),
    });
    let found = contacts::extract(&parsed, &base, phones::region("LU"));
    let contacts = contacts::finalize(found, "www.shop.test");
    Analysis {
        detections,
        contacts,
        elapsed: started.elapsed(),
    }
}

/// Detections are well-formed: unique names, confidence 1–100, versions
/// short, trimmed and printable, evidence snippets bounded.
pub fn check_detections(detections: &[Detection]) -> Result<(), TestCaseError> {
    let mut names: Vec<&str> = detections.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    prop_assert_eq!(names.len(), detections.len(), "a technology is reported twice");
    for d in detections {
        prop_assert!(
            (1..=100).contains(&d.confidence),
            "{}: confidence {}",
            d.name,
            d.confidence
        );
        let versions = d
            .version
            .iter()
            .chain(d.evidence.iter().filter_map(|e| e.version.as_ref()));
        for v in versions {
            prop_assert!(well_formed_version(v), "{}: version {v:?}", d.name);
        }
        for e in &d.evidence {
            prop_assert!(
                e.matched.chars().count() <= 161,
                "{}: evidence {:?}",
                d.name,
                e.matched
            );
            prop_assert!(e.confidence <= 100);
        }
    }
    Ok(())
}

/// A version as stored (`cms_version VARCHAR(50)`): 1–40 bytes, no
/// surrounding space, no control characters.
pub fn well_formed_version(v: &str) -> bool {
    !v.is_empty() && v.len() <= 40 && v.trim() == v && !v.chars().any(char::is_control)
}

/// Contacts fit `prospect_contacts` (value ≤ 500, label ≤ 100 characters),
/// phones are E.164, e-mails are lower-case valid addresses of at most 254
/// characters, and each kind has at most one primary contact.
pub fn check_contacts(contacts: &[StoredContact]) -> Result<(), TestCaseError> {
    for kind in [
        ContactKind::Email,
        ContactKind::Phone,
        ContactKind::Social,
        ContactKind::Address,
        ContactKind::ContactForm,
    ] {
        let primaries = contacts
            .iter()
            .filter(|c| c.contact.kind == kind && c.is_primary)
            .count();
        let any = contacts.iter().any(|c| c.contact.kind == kind);
        prop_assert_eq!(primaries, usize::from(any), "{:?}: primaries", kind);
    }
    for c in contacts {
        let c = &c.contact;
        prop_assert!(!c.value.is_empty(), "{c:?}");
        prop_assert!(
            c.value.chars().count() <= 500,
            "{:?} value of {} characters",
            c.kind,
            c.value.len()
        );
        prop_assert!(c.label.as_ref().is_none_or(|l| l.chars().count() <= 100), "{c:?}");
        match c.kind {
            ContactKind::Phone => prop_assert!(E164.is_match(&c.value), "phone {:?}", c.value),
            ContactKind::Email => check_email(&c.value)?,
            ContactKind::Social => prop_assert!(c.value.starts_with("https://"), "{:?}", c.value),
            ContactKind::Address | ContactKind::ContactForm => {}
        }
    }
    Ok(())
}

/// A found address: lower-case, valid, and at most 254 characters.
pub fn check_email(address: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(address, address.to_lowercase());
    prop_assert!(address.len() <= 254, "{} characters", address.len());
    let parsed = EmailAddress::parse(address);
    prop_assert!(parsed.is_ok(), "{address:?}: {parsed:?}");
    Ok(())
}

/// Both checks, and the time bound.
pub fn check(analysis: &Analysis) -> Result<(), TestCaseError> {
    check_detections(&analysis.detections)?;
    check_contacts(&analysis.contacts)?;
    prop_assert!(analysis.elapsed < PAGE_LIMIT, "took {:?}", analysis.elapsed);
    Ok(())
}
