//! Is the "website" a real site? Parked and for-sale domains, registrar and
//! web-server placeholder pages, and links that are only a social profile.

use serde::{Deserialize, Serialize};

use super::fingerprint::Detection;

/// What kind of non-site a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParkedKind {
    /// A parking service or marketplace page (ads, "buy this domain").
    ForSale,
    /// A registrar's or host's placeholder for a registered domain.
    Placeholder,
    /// A web server's or control panel's default page.
    DefaultPage,
}

/// Why a page counts as parked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    /// Kind.
    pub kind: ParkedKind,
    /// Human-readable reason (stored in `parked_reason`).
    pub reason: String,
}

/// Phrases of for-sale and parking pages (matched lower-cased).
const FOR_SALE: &[&str] = &[
    "this domain is for sale",
    "this domain may be for sale",
    "the domain is for sale",
    "domain is for sale",
    "buy this domain",
    "this domain name is for sale",
    "make an offer on this domain",
    "this domain is parked",
    "domain name is parked",
    "this web page is parked",
    "ce nom de domaine est à vendre",
    "ce domaine est à vendre",
    "diese domain steht zum verkauf",
    "diese domain kaufen",
    "domain kaufen",
    "deze domeinnaam is te koop",
];
/// Phrases of registrar and hosting placeholders.
const PLACEHOLDER: &[&str] = &[
    "future home of something quite cool",
    "this domain has been registered",
    "domain has been registered via",
    "ce domaine a été enregistré",
    "votre nom de domaine a bien été",
    "diese domain wurde registriert",
    "this domain is registered at",
    "domain reserved",
    "website coming soon. this domain",
    "parked free, courtesy of",
    "this site is under construction. domain",
];
/// Titles and phrases of default pages.
const DEFAULT_PAGES: &[(&str, &str)] = &[
    ("welcome to nginx!", "nginx default page"),
    ("apache2 debian default page", "Apache default page"),
    ("apache2 ubuntu default page", "Apache default page"),
    ("test page for the apache http server", "Apache default page"),
    ("test page for the http server on", "Apache default page"),
    ("iis windows server", "IIS default page"),
    ("internet information services", "IIS default page"),
    ("default web site page", "cPanel default page"),
    ("web server's default page", "Plesk default page"),
    ("domain default page", "Plesk default page"),
    ("welcome to caddy", "Caddy default page"),
    ("litespeed web server", "LiteSpeed default page"),
    ("index of /", "bare directory listing"),
];

/// Decide from the home page's title, visible text and detections.
pub fn detect(title: Option<&str>, text: &str, detections: &[Detection]) -> Option<Parked> {
    if let Some(d) = detections
        .iter()
        .find(|d| d.confidence >= 50 && d.in_category("Domain parking"))
    {
        return Some(Parked {
            kind: ParkedKind::ForSale,
            reason: format!("a {} page", d.name),
        });
    }
    let title = title.unwrap_or("").to_lowercase();
    // Placeholder pages are short; a long page mentioning "buy this domain"
    // is a real site (a registrar's, say).
    let words = text.split_whitespace().count();
    let head: String = text.chars().take(3000).collect::<String>().to_lowercase();
    if words < 400
        && let Some(p) = FOR_SALE.iter().find(|p| head.contains(*p) || title.contains(*p))
    {
        return Some(Parked {
            kind: ParkedKind::ForSale,
            reason: format!("the page says \"{p}\""),
        });
    }
    if words < 300
        && let Some(p) = PLACEHOLDER
            .iter()
            .find(|p| head.contains(*p) || title.contains(*p))
    {
        return Some(Parked {
            kind: ParkedKind::Placeholder,
            reason: format!("a registrar or hosting placeholder (\"{p}\")"),
        });
    }
    // Default pages are long (they explain the server's setup), but their
    // titles are never a real site's.
    if let Some((_, what)) = DEFAULT_PAGES.iter().find(|(p, _)| title.contains(p)) {
        return Some(Parked {
            kind: ParkedKind::DefaultPage,
            reason: format!("the {what}"),
        });
    }
    if text.trim() == "It works!" {
        return Some(Parked {
            kind: ParkedKind::DefaultPage,
            reason: "the Apache default page".into(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_sale_placeholder_and_default_pages_are_parked() {
        let cases = [
            (
                None,
                "dupont.lu - This domain may be for sale! Make an offer.",
                ParkedKind::ForSale,
            ),
            (
                Some("dupont.lu"),
                "Diese Domain steht zum Verkauf",
                ParkedKind::ForSale,
            ),
            (
                None,
                "Future home of something quite cool. Coming soon",
                ParkedKind::Placeholder,
            ),
            (
                Some("Welcome to nginx!"),
                "Welcome to nginx! If you see this page…",
                ParkedKind::DefaultPage,
            ),
            (
                Some("Apache2 Debian Default Page: It works"),
                "It works!",
                ParkedKind::DefaultPage,
            ),
            (None, "It works!", ParkedKind::DefaultPage),
        ];
        for (title, text, kind) in cases {
            assert_eq!(detect(title, text, &[]).map(|p| p.kind), Some(kind), "{text}");
        }
    }

    #[test]
    fn the_real_debian_apache_and_nginx_default_pages_are_parked() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pages");
        let base = url::Url::parse("http://site.test/").unwrap();
        for (file, reason) in [
            ("apache-debian-default.html", "the Apache default page"),
            ("nginx-default.html", "the nginx default page"),
        ] {
            let html = std::fs::read_to_string(dir.join(file)).unwrap();
            let page = crate::tech_scan::document::parse_page(&html, &base, 512);
            let parked = detect(page.title.as_deref(), &page.text, &[]).expect(file);
            assert_eq!(
                (parked.kind, parked.reason.as_str()),
                (ParkedKind::DefaultPage, reason)
            );
        }
        let html = std::fs::read_to_string(dir.join("hugo.html")).unwrap();
        let page = crate::tech_scan::document::parse_page(&html, &base, 512);
        assert_eq!(detect(page.title.as_deref(), &page.text, &[]), None);
    }

    #[test]
    fn real_sites_are_not_parked() {
        let long = "Bienvenue chez Dupont. ".repeat(200) + "Buy this domain name at our registrar.";
        assert_eq!(detect(Some("Registrar"), &long, &[]), None);
        assert_eq!(
            detect(Some("Boulangerie Dupont"), "Pain, viennoiseries, contact", &[]),
            None
        );
    }
}
