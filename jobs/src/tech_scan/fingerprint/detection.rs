//! What the engine reads (a page) and what it reports (detections, with
//! their evidence, and what loading found).

use std::collections::BTreeMap;

use scraper::Html;
use serde::{Deserialize, Serialize};

/// What a page offers to match against.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageInput<'a> {
    /// The page URL.
    pub url: &'a str,
    /// The HTML as received.
    pub html: &'a str,
    /// Response headers (names lower-case).
    pub headers: &'a [(String, String)],
    /// Cookies set by the response (name, value).
    pub cookies: &'a [(String, String)],
    /// `<meta>` name/property (lower-case) → content.
    pub meta: &'a [(String, String)],
    /// `<script src>` URLs.
    pub script_src: &'a [String],
    /// Inline script contents, joined.
    pub scripts: &'a str,
    /// Visible text.
    pub text: &'a str,
    /// Inline CSS (`<style>` contents), joined.
    pub css: &'a str,
    /// robots.txt, when fetched.
    pub robots: Option<&'a str>,
    /// The certificate issuer (organisation).
    pub cert_issuer: Option<&'a str>,
    /// DNS records (type, value).
    pub dns: &'a [(&'a str, &'a str)],
    /// The parsed document, for `dom` patterns.
    pub document: Option<&'a Html>,
}

/// Which input a pattern looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `html`
    Html,
    /// `scripts` (inline script contents)
    Scripts,
    /// `text`
    Text,
    /// `css`
    Css,
    /// `url`
    Url,
    /// `scriptSrc`
    ScriptSrc,
    /// `robots`
    Robots,
    /// `certIssuer`
    CertIssuer,
    /// `headers`
    Header,
    /// `cookies`
    Cookie,
    /// `meta`
    Meta,
    /// `dns`
    Dns,
    /// `dom`
    Dom,
}

/// Why a technology was detected: one matched pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The field.
    pub field: Field,
    /// Header/cookie/meta name, DNS type or CSS selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The pattern as written.
    pub pattern: String,
    /// What it matched (shortened).
    pub matched: String,
    /// The pattern's confidence.
    pub confidence: u8,
    /// The version it gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A category, as attached to detections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRef {
    /// Id in the definitions.
    pub id: u32,
    /// Name (`CMS`, `Web servers`…).
    pub name: String,
}

/// A detected technology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// Name, as in the definitions.
    pub name: String,
    /// Best version seen, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// 0–100: the sum of the matched patterns' confidences, capped.
    pub confidence: u8,
    /// Its categories.
    pub categories: Vec<CategoryRef>,
    /// Its website, from the definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Patterns that matched on this page.
    pub evidence: Vec<Evidence>,
    /// Technologies whose `implies` added this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implied_by: Vec<String>,
}

impl Detection {
    /// Whether it has a category with this name (case-insensitive).
    pub fn in_category(&self, name: &str) -> bool {
        self.categories.iter().any(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// A pattern that was skipped at load time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedPattern {
    /// The technology.
    pub technology: String,
    /// The field (`html`, `headers.server`, `dom`…).
    pub field: String,
    /// The pattern as written.
    pub pattern: String,
    /// Why.
    pub reason: String,
}

/// What loading found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// Technologies loaded.
    pub technologies: usize,
    /// Categories loaded.
    pub categories: usize,
    /// Patterns compiled.
    pub patterns: usize,
    /// Patterns skipped (invalid for Rust's regex, bad selectors).
    pub skipped: Vec<SkippedPattern>,
    /// Fields that need JavaScript (`js`, `xhr`, `probe`, DOM properties),
    /// with how many technologies use them: not evaluated.
    pub unsupported: BTreeMap<String, usize>,
    /// References to technologies that do not exist (implies, requires, excludes).
    pub unknown_references: Vec<String>,
}
