//! One HTML page, parsed once: what the fingerprint engine and the contact
//! extractor read from it.
//!
//! Parsing is CPU work on a non-`Send` tree: callers run it on a blocking
//! thread and keep only the extracted, owned results.

use scraper::{ElementRef, Html, Node, Selector};

use super::bounded_parse::{self, CancelFlag, Cancelled};
use serde_json::Value;
use url::Url;

/// Most text kept from a page (visible text, inline scripts, inline CSS).
const MAX_TEXT: usize = 512 * 1024;
/// Most links kept from a page.
const MAX_LINKS: usize = 2000;

/// A link on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Absolute URL (any scheme: `mailto:` and `tel:` included).
    pub url: Url,
    /// The anchor's text (trimmed, collapsed).
    pub text: String,
}

/// What a page offers, extracted.
pub struct ParsedPage {
    /// The parsed tree (only for use on this thread).
    pub document: Html,
    /// `<meta>` name/property → content.
    pub meta: Vec<(String, String)>,
    /// `<script src>`, absolute.
    pub script_src: Vec<String>,
    /// Inline scripts (not JSON-LD), joined with newlines.
    pub scripts: String,
    /// Inline `<style>` contents, joined.
    pub css: String,
    /// Visible text, whitespace collapsed.
    pub text: String,
    /// `<title>`.
    pub title: Option<String>,
    /// `<html lang>`.
    pub lang: Option<String>,
    /// `<a href>` links.
    pub links: Vec<Link>,
    /// Parsed `application/ld+json` blocks.
    pub json_ld: Vec<Value>,
    /// A form with a text area and an e-mail field or a submit button.
    pub has_contact_form: bool,
    /// Set when the HTML was cut because it nests too deeply.
    pub truncated: Option<String>,
}

fn selector(s: &str) -> Selector {
    // Invariant: constant selectors below are valid.
    #[allow(clippy::expect_used)]
    Selector::parse(s).expect("a valid constant selector")
}

/// Parse `html` (fetched from `base`), cutting it where elements nest deeper
/// than `max_depth` (the HTML parser is quadratic in nesting depth).
pub fn parse_page(html: &str, base: &Url, max_depth: usize) -> ParsedPage {
    match parse_page_within(html, base, max_depth, &CancelFlag::never()) {
        Ok(page) => page,
        Err(Cancelled) => unreachable!("a flag nobody holds is never set"),
    }
}

/// [`parse_page`], stopped with [`Cancelled`] once `cancel` is set (checked
/// between input chunks and between extraction steps).
pub fn parse_page_within(
    html: &str,
    base: &Url,
    max_depth: usize,
    cancel: &CancelFlag,
) -> Result<ParsedPage, Cancelled> {
    let parsed = bounded_parse::parse_document(html, max_depth, cancel)?;
    let truncated = parsed.cut_at.map(|cut| {
        format!("the HTML nests deeper than {max_depth} levels; only its first {cut} bytes were analysed")
    });
    let document = parsed.document;
    let mut meta = Vec::new();
    for el in document.select(&selector("meta")) {
        let v = el.value();
        let key = v
            .attr("name")
            .or_else(|| v.attr("property"))
            .or_else(|| v.attr("http-equiv"));
        if let (Some(key), Some(content)) = (key, v.attr("content")) {
            meta.push((
                key.trim().to_ascii_lowercase(),
                content.chars().take(1000).collect(),
            ));
        }
    }
    cancel.check()?;
    let mut script_src = Vec::new();
    let mut scripts = String::new();
    let mut json_ld = Vec::new();
    for el in document.select(&selector("script")) {
        let v = el.value();
        if let Some(src) = v.attr("src") {
            if let Ok(url) = base.join(src.trim()) {
                script_src.push(url.to_string());
            }
            continue;
        }
        let body: String = el.text().collect();
        let kind = v.attr("type").unwrap_or("").to_ascii_lowercase();
        if kind.contains("ld+json") {
            if let Ok(value) = serde_json::from_str::<Value>(body.trim()) {
                json_ld.push(value);
            }
            continue;
        }
        if scripts.len() + body.len() <= MAX_TEXT {
            scripts.push_str(&body);
            scripts.push('\n');
        }
    }
    let mut css = String::new();
    for el in document.select(&selector("style")) {
        let body: String = el.text().collect();
        if css.len() + body.len() <= MAX_TEXT {
            css.push_str(&body);
            css.push('\n');
        }
    }
    let title = document
        .select(&selector("title"))
        .next()
        .map(|t| collapse(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty());
    let lang = document
        .root_element()
        .value()
        .attr("lang")
        .map(|l| l.trim().chars().take(35).collect::<String>())
        .filter(|l| !l.is_empty());
    cancel.check()?;
    let mut links = Vec::new();
    for el in document.select(&selector("a[href]")) {
        if links.len() >= MAX_LINKS {
            break;
        }
        let Some(href) = el.value().attr("href") else {
            continue;
        };
        if let Ok(url) = base.join(href.trim()) {
            let mut text = collapse(&el.text().collect::<String>());
            if text.is_empty() {
                text = el
                    .value()
                    .attr("title")
                    .or_else(|| el.value().attr("aria-label"))
                    .map(collapse)
                    .unwrap_or_default();
            }
            links.push(Link { url, text });
        }
    }
    let has_contact_form = document.select(&selector("form")).any(|form| {
        let has = |s: &str| form.select(&selector(s)).next().is_some();
        has("textarea") && (has("input[type=email]") || has("input[name*=mail]") || has("[type=submit]"))
    });
    cancel.check()?;
    let text = visible_text(&document);
    Ok(ParsedPage {
        document,
        meta,
        script_src,
        scripts,
        css,
        text,
        title,
        lang,
        links,
        json_ld,
        has_contact_form,
        truncated,
    })
}

/// The page's visible text (no script, style, template or noscript),
/// whitespace collapsed, at most `MAX_TEXT` bytes.
fn visible_text(document: &Html) -> String {
    let mut out = String::new();
    let root = document.root_element();
    for node in root.descendants() {
        let Node::Text(text) = node.value() else {
            continue;
        };
        let hidden = node.ancestors().any(|a| {
            ElementRef::wrap(a).is_some_and(|e| {
                matches!(
                    e.value().name(),
                    "script" | "style" | "noscript" | "template" | "head"
                )
            })
        });
        if hidden {
            continue;
        }
        let t = text.trim();
        if t.is_empty() {
            continue;
        }
        if out.len() + t.len() > MAX_TEXT {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    }
    collapse(&out)
}

/// Collapse runs of whitespace to one space.
pub fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tech_scan::bounded_parse::CancelOnDrop;

    fn base() -> Url {
        Url::parse("https://shop.test/fr/").unwrap()
    }

    #[test]
    fn the_page_is_split_into_what_the_engine_reads() {
        let html = r#"<!doctype html><html><head><title> Boulangerie  Dupont </title>
            <meta name="Generator" content="WordPress 6.5"><meta property="og:type" content="website">
            <script src="/wp-includes/js/jquery/jquery.min.js?ver=3.7.1"></script>
            <script>var x = 1;</script>
            <script type="application/ld+json">{"@type":"Bakery","name":"Dupont"}</script>
            <style>.hero{color:red}</style></head>
            <body><h1>Bienvenue</h1><script>hidden()</script><p>Pain &amp; viennoiseries</p>
            <a href="contact">Contact</a><a href="mailto:info@dupont.lu"></a>
            <form><textarea name="msg"></textarea><input type="email" name="email"></form></body></html>"#;
        let page = parse_page(html, &base(), 256);
        assert_eq!(page.title.as_deref(), Some("Boulangerie Dupont"));
        assert!(page.meta.contains(&("generator".into(), "WordPress 6.5".into())));
        assert!(page.meta.contains(&("og:type".into(), "website".into())));
        assert_eq!(
            page.script_src,
            vec!["https://shop.test/wp-includes/js/jquery/jquery.min.js?ver=3.7.1".to_owned()]
        );
        assert!(page.scripts.contains("var x = 1;"));
        assert!(!page.scripts.contains("Bakery"), "JSON-LD is not script code");
        assert_eq!(page.json_ld.len(), 1);
        assert!(page.css.contains(".hero"));
        assert_eq!(page.text, "Bienvenue Pain & viennoiseries Contact");
        assert_eq!(page.links[0].url.as_str(), "https://shop.test/fr/contact");
        assert_eq!(page.links[1].url.scheme(), "mailto");
        assert!(page.has_contact_form);
        assert!(page.truncated.is_none());
    }

    #[test]
    fn deep_nesting_is_cut_while_parsing() {
        let deep = format!(
            "<html><body>{}x{}</body></html>",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        let page = parse_page(&deep, &base(), 512);
        let note = page.truncated.unwrap();
        assert!(note.contains("512 levels"), "{note}");
    }

    #[test]
    fn stray_closing_tags_do_not_hide_deep_nesting() {
        let deep = format!("<html><body>{}x</body></html>", "<div></span></b>".repeat(50_000));
        let page = parse_page(&deep, &base(), 512);
        assert!(page.truncated.unwrap().contains("512 levels"));
    }

    #[test]
    fn ordinary_sloppy_html_is_not_cut() {
        let sloppy = format!(
            "<html><body>{}<ul>{}</ul><table>{}</table><script>if (a<b) {{ x = '<div>'; }}</script><!-- <div><div> --></body></html>",
            "<p>para".repeat(2000),
            "<li>item".repeat(2000),
            "<tr><td>cell".repeat(2000)
        );
        assert!(parse_page(&sloppy, &base(), 64).truncated.is_none());
        let balanced = "<div>".repeat(50) + &"</div>".repeat(50);
        assert!(parse_page(&balanced.repeat(100), &base(), 64).truncated.is_none());
    }

    #[test]
    fn a_cancelled_parse_extracts_nothing() {
        let guard = CancelOnDrop::new();
        let flag = guard.flag();
        drop(guard);
        assert!(matches!(
            parse_page_within("<title>x</title>", &base(), 64, &flag),
            Err(Cancelled)
        ));
    }
}
