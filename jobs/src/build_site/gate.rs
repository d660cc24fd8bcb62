//! The static quality gate: checks a rendered page as a browser and a
//! crawler would see it, before anyone does.
//!
//! It parses the HTML with `scraper` (html5ever, the same tree a browser
//! builds) and checks structure (one h1, no skipped heading levels, `lang`,
//! unique ids, landmarks), meta (title ≤ 60, description ≤ 155, viewport,
//! canonical, robots matching the indexable flag), images (alt, width and
//! height, lazy below the fold), links (only `tel:`, `mailto:`, `https:` and
//! anchors that exist), self-containment (no scripts but JSON-LD, no
//! external CSS, frames or imports), JSON-LD (parses, has the required
//! fields, carries no ratings), the palette's contrast (recomputed, not
//! trusted) and the size budget. Lighthouse runs later, in the audit stage.

use std::collections::HashSet;

use scraper::{ElementRef, Html, Selector};
use serde::{Deserialize, Serialize};
use url::Url;

use super::palette::contrast_ratio;
use super::render::RenderedSite;
use super::schema_org;

/// HTML and CSS together may not exceed this many bytes (images excluded).
pub const MAX_PAGE_BYTES: usize = 60 * 1024;

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateCheck {
    /// Stable name (`headings`, `links`, `json_ld`, …).
    pub name: String,
    /// Outcome.
    pub passed: bool,
    /// What was found (counts on success, the offending values on failure).
    pub detail: String,
}

/// All checks of one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// Every check passed.
    pub passed: bool,
    /// Each check.
    pub checks: Vec<GateCheck>,
    /// Size of the HTML (CSS included), bytes.
    pub html_bytes: usize,
}

impl GateReport {
    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &GateCheck> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

type Outcome = Result<String, String>;

fn select<'a>(doc: &'a Html, css: &str) -> Result<Vec<ElementRef<'a>>, String> {
    let selector = Selector::parse(css).map_err(|e| format!("selector {css}: {e}"))?;
    Ok(doc.select(&selector).collect())
}

fn text_of(el: &ElementRef<'_>) -> String {
    el.text().collect::<String>().trim().to_owned()
}

fn count_chars(s: &str) -> usize {
    super::text::len(s)
}

fn check_lang(doc: &Html) -> Outcome {
    let html = select(doc, "html")?;
    match html.first().and_then(|h| h.value().attr("lang")) {
        Some(lang) if !lang.trim().is_empty() => Ok(format!("lang={lang}")),
        _ => Err("<html> has no lang".into()),
    }
}

fn check_headings(doc: &Html) -> Outcome {
    let headings = select(doc, "h1, h2, h3, h4, h5, h6")?;
    let levels: Vec<u8> = headings
        .iter()
        .filter_map(|h| h.value().name().strip_prefix('h')?.parse().ok())
        .collect();
    let h1 = levels.iter().filter(|l| **l == 1).count();
    if h1 != 1 {
        return Err(format!("{h1} h1 elements"));
    }
    if levels.first() != Some(&1) {
        return Err("the first heading is not the h1".into());
    }
    for pair in levels.windows(2) {
        if pair[1] > pair[0] + 1 {
            return Err(format!("h{} follows h{}", pair[1], pair[0]));
        }
    }
    if let Some(empty) = headings.iter().find(|h| text_of(h).is_empty()) {
        return Err(format!("empty <{}>", empty.value().name()));
    }
    Ok(format!("{} headings", levels.len()))
}

fn check_meta(doc: &Html) -> Outcome {
    let title = select(doc, "head > title")?;
    let title = match title.as_slice() {
        [one] => text_of(one),
        other => return Err(format!("{} <title> elements", other.len())),
    };
    if title.is_empty() || count_chars(&title) > 60 {
        return Err(format!("title has {} characters", count_chars(&title)));
    }
    let description = select(doc, r#"meta[name="description"]"#)?;
    let description = description
        .first()
        .and_then(|m| m.value().attr("content"))
        .ok_or("no meta description")?;
    if description.trim().is_empty() || count_chars(description) > 155 {
        return Err(format!("description has {} characters", count_chars(description)));
    }
    let viewport = select(doc, r#"meta[name="viewport"]"#)?;
    let viewport = viewport
        .first()
        .and_then(|m| m.value().attr("content"))
        .ok_or("no viewport")?;
    if !viewport.contains("width=device-width") || viewport.contains("user-scalable=no") {
        return Err(format!("viewport {viewport:?}"));
    }
    let charset = select(doc, "meta[charset]")?;
    if charset.is_empty() {
        return Err("no meta charset".into());
    }
    let canonical = select(doc, r#"link[rel="canonical"]"#)?;
    let canonical = canonical
        .first()
        .and_then(|l| l.value().attr("href"))
        .ok_or("no canonical")?;
    Url::parse(canonical).map_err(|e| format!("canonical {canonical:?}: {e}"))?;
    for property in ["og:title", "og:description", "og:url", "og:type"] {
        if select(doc, &format!(r#"meta[property="{property}"]"#))?.is_empty() {
            return Err(format!("no {property}"));
        }
    }
    if select(doc, r#"meta[name="theme-color"]"#)?.is_empty()
        || select(doc, r#"link[rel="icon"]"#)?.is_empty()
    {
        return Err("no theme-color or favicon".into());
    }
    Ok(format!(
        "title {} chars, description {} chars",
        count_chars(&title),
        count_chars(description)
    ))
}

fn check_robots(doc: &Html, indexable: bool) -> Outcome {
    let robots: Vec<String> = select(doc, r#"meta[name="robots"]"#)?
        .iter()
        .filter_map(|m| m.value().attr("content"))
        .map(str::to_lowercase)
        .collect();
    let noindex = robots.iter().any(|r| r.contains("noindex") || r.contains("none"));
    match (indexable, noindex) {
        (true, false) => Ok("indexable".into()),
        (false, true) => Ok("noindex preview".into()),
        (true, true) => Err("rendered as indexable but carries noindex".into()),
        (false, false) => Err("a preview without noindex".into()),
    }
}

fn check_landmarks(doc: &Html) -> Outcome {
    for (css, what) in [
        ("main#main", "main#main"),
        ("header", "header"),
        ("footer", "footer"),
    ] {
        if select(doc, css)?.len() != 1 {
            return Err(format!("expected one {what}"));
        }
    }
    let skip = select(doc, r##"body > a.skip[href="#main"]"##)?;
    if skip.is_empty() {
        return Err("no skip link".into());
    }
    Ok("main, header, footer, skip link".into())
}

fn check_ids(doc: &Html) -> Result<(String, HashSet<String>), String> {
    let mut ids = HashSet::new();
    for el in select(doc, "[id]")? {
        if let Some(id) = el.value().attr("id")
            && !ids.insert(id.to_owned())
        {
            return Err(format!("duplicate id {id:?}"));
        }
    }
    Ok((format!("{} ids", ids.len()), ids))
}

fn check_images(doc: &Html) -> Outcome {
    let images = select(doc, "img")?;
    for (i, img) in images.iter().enumerate() {
        let a = img.value();
        let src = a.attr("src").unwrap_or_default();
        if a.attr("alt").is_none() {
            return Err(format!("img {src:?} has no alt"));
        }
        if a.attr("width").and_then(|w| w.parse::<u32>().ok()).is_none()
            || a.attr("height").and_then(|h| h.parse::<u32>().ok()).is_none()
        {
            return Err(format!("img {src:?} has no width/height"));
        }
        if i > 0 && (a.attr("loading") != Some("lazy") || a.attr("decoding") != Some("async")) {
            return Err(format!("img {src:?} below the fold is not lazy"));
        }
        let ok_src = src.starts_with("https://") || (src.starts_with('/') && !src.starts_with("//"));
        if !ok_src {
            return Err(format!("img src {src:?} is neither https nor on our host"));
        }
    }
    Ok(format!("{} images", images.len()))
}

fn check_links(doc: &Html, ids: &HashSet<String>, site_url: &str) -> Outcome {
    let origin = Url::parse(site_url).ok().map(|u| u.origin());
    let links = select(doc, "a")?;
    for a in &links {
        let href = a
            .value()
            .attr("href")
            .ok_or_else(|| format!("<a> without href: {:?}", text_of(a)))?;
        if text_of(a).is_empty() {
            return Err(format!("link {href:?} has no text"));
        }
        let ok = if let Some(anchor) = href.strip_prefix('#') {
            ids.contains(anchor)
        } else if let Some(number) = href.strip_prefix("tel:") {
            number.starts_with('+') && number.len() > 8 && number[1..].chars().all(|c| c.is_ascii_digit())
        } else if let Some(address) = href.strip_prefix("mailto:") {
            crate::domain::EmailAddress::parse(address).is_ok()
        } else {
            // https anywhere; http only back to the page's own origin (a
            // preview served over http, as in a local demo).
            Url::parse(href).is_ok_and(|u| {
                u.host_str().is_some()
                    && (u.scheme() == "https" || (u.scheme() == "http" && Some(u.origin()) == origin))
            })
        };
        if !ok {
            return Err(format!(
                "link {href:?} is not tel:, mailto:, https: or an existing anchor"
            ));
        }
    }
    Ok(format!("{} links", links.len()))
}

fn check_self_contained(doc: &Html) -> Outcome {
    for script in select(doc, "script")? {
        if script.value().attr("type") != Some("application/ld+json") || script.value().attr("src").is_some()
        {
            return Err("a script other than inline JSON-LD".into());
        }
    }
    let external = select(
        doc,
        r#"link[rel="stylesheet"], link[rel="preload"], iframe, object, embed"#,
    )?;
    if let Some(el) = external.first() {
        return Err(format!("external resource <{}>", el.value().name()));
    }
    let styles = select(doc, "style")?;
    if styles.len() != 1 {
        return Err(format!("{} <style> elements", styles.len()));
    }
    if styles
        .iter()
        .any(|s| text_of(s).contains("@import") || text_of(s).contains("url("))
    {
        return Err("CSS loads something".into());
    }
    let inline = select(doc, "[style], [onclick], [onload], [onerror]")?;
    if let Some(el) = inline.first() {
        return Err(format!("inline style or handler on <{}>", el.value().name()));
    }
    Ok("no scripts, one inline style".into())
}

fn check_json_ld(doc: &Html) -> Outcome {
    let scripts = select(doc, r#"script[type="application/ld+json"]"#)?;
    let [script] = scripts.as_slice() else {
        return Err(format!("{} JSON-LD blocks", scripts.len()));
    };
    let raw: String = script.text().collect();
    let value: serde_json::Value =
        serde_json::from_str(&raw).map_err(|e| format!("JSON-LD does not parse: {e}"))?;
    for field in schema_org::REQUIRED {
        if value.get(field).is_none_or(|v| v.is_null()) {
            return Err(format!("JSON-LD has no {field}"));
        }
    }
    for banned in ["aggregateRating", "review"] {
        if value.get(banned).is_some() {
            return Err(format!("JSON-LD carries {banned}"));
        }
    }
    Ok(format!("@type {}", value["@type"]))
}

fn check_contrast(site: &RenderedSite) -> Outcome {
    if site.contrast.is_empty() {
        return Err("no contrast report".into());
    }
    for c in &site.contrast {
        let actual = contrast_ratio(c.foreground, c.background);
        if actual + 1e-9 < c.required || !c.passes {
            return Err(format!(
                "{}: {} on {} is {actual:.2}, needs {}",
                c.pair, c.foreground, c.background, c.required
            ));
        }
        let hexes = [c.foreground.hex(), c.background.hex()];
        if !hexes.iter().all(|h| site.css.contains(h.as_str())) {
            return Err(format!("{} colours are not the page's", c.pair));
        }
    }
    Ok(format!("{} pairs pass", site.contrast.len()))
}

fn check_size(site: &RenderedSite) -> Outcome {
    let bytes = site.html.len();
    if bytes > MAX_PAGE_BYTES {
        return Err(format!("{bytes} bytes > {MAX_PAGE_BYTES}"));
    }
    if !site.html.contains(&site.css) {
        return Err("the CSS is not inlined".into());
    }
    Ok(format!("{bytes} bytes"))
}

/// Run every check on `site`.
pub fn check_site(site: &RenderedSite) -> GateReport {
    let doc = Html::parse_document(&site.html);
    let mut checks = Vec::new();
    let mut push = |name: &str, outcome: Outcome| {
        let (passed, detail) = match outcome {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        checks.push(GateCheck {
            name: name.to_owned(),
            passed,
            detail,
        });
    };
    push("lang", check_lang(&doc));
    push("headings", check_headings(&doc));
    push("meta", check_meta(&doc));
    push("robots", check_robots(&doc, site.indexable));
    push("landmarks", check_landmarks(&doc));
    let ids = match check_ids(&doc) {
        Ok((detail, ids)) => {
            push("unique_ids", Ok(detail));
            ids
        }
        Err(e) => {
            push("unique_ids", Err(e));
            HashSet::new()
        }
    };
    push("images", check_images(&doc));
    push("links", check_links(&doc, &ids, &site.site_url));
    push("self_contained", check_self_contained(&doc));
    push("json_ld", check_json_ld(&doc));
    push("contrast", check_contrast(site));
    push("size", check_size(site));
    GateReport {
        passed: checks.iter().all(|c| c.passed),
        checks,
        html_bytes: site.html.len(),
    }
}
