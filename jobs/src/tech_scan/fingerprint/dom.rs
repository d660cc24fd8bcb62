//! `dom` patterns: CSS selectors evaluated on the parsed page (no
//! JavaScript), with a literal prefilter taken from the selector.

use scraper::{ElementRef, Selector};
use serde_json::Value;

use super::{
    detection::LoadReport,
    engine::{snippet, strings},
    pattern::{Pattern, PatternMatch, resolve_version},
};

pub(super) enum DomCheck {
    Exists(Pattern),
    Text(Pattern),
    Attribute(String, Pattern),
}

pub(super) struct DomRule {
    pub(super) tech: usize,
    pub(super) selector_source: String,
    pub(super) selector: Selector,
    pub(super) check: DomCheck,
    pub(super) tokens: Option<Vec<Vec<u8>>>,
}

pub(super) fn dom_check<'a>(
    check: &'a DomCheck,
    el: ElementRef<'_>,
) -> Option<(&'a Pattern, String, PatternMatch)> {
    match check {
        DomCheck::Exists(pattern) => Some((
            pattern,
            element_summary(el),
            PatternMatch {
                start: 0,
                end: 0,
                version: pattern.version.as_deref().and_then(|v| resolve_version(v, &[])),
            },
        )),
        DomCheck::Text(pattern) => {
            let text: String = el.text().collect::<String>().chars().take(2000).collect();
            let m = pattern.find(&text, &text.to_ascii_lowercase())?;
            Some((pattern, snippet(&text, m.start, m.end), m))
        }
        DomCheck::Attribute(name, pattern) => {
            let value = el.value().attr(name)?;
            let m = pattern.find(value, &value.to_ascii_lowercase())?;
            Some((
                pattern,
                format!("{name}=\"{}\"", snippet(value, m.start, m.end)),
                m,
            ))
        }
    }
}

fn element_summary(el: ElementRef<'_>) -> String {
    let mut out = format!("<{}", el.value().name());
    for (name, value) in el.value().attrs().take(4) {
        out.push_str(&format!(
            " {name}=\"{}\"",
            value.chars().take(60).collect::<String>()
        ));
    }
    out.push('>');
    out
}

/// The `dom` field's rules: (selector, check or why not).
pub(super) fn dom_rules(
    value: &Value,
    report: &mut LoadReport,
    _tech: &str,
) -> Vec<(String, Result<DomCheck, String>)> {
    let exists = || Pattern::parse("").map_err(|e| e.reason);
    match value {
        Value::String(_) | Value::Array(_) => strings(Some(value))
            .into_iter()
            .map(|selector| (selector, exists().map(DomCheck::Exists)))
            .collect(),
        Value::Object(map) => {
            let mut rules = Vec::new();
            for (selector, checks) in map {
                let Value::Object(checks) = checks else {
                    rules.push((selector.clone(), exists().map(DomCheck::Exists)));
                    continue;
                };
                for (kind, spec) in checks {
                    match kind.as_str() {
                        "exists" => {
                            let raw = spec.as_str().unwrap_or("");
                            rules.push((
                                selector.clone(),
                                Pattern::parse(raw).map(DomCheck::Exists).map_err(|e| e.reason),
                            ));
                        }
                        "text" => {
                            let raw = spec.as_str().unwrap_or("");
                            rules.push((
                                selector.clone(),
                                Pattern::parse(raw).map(DomCheck::Text).map_err(|e| e.reason),
                            ));
                        }
                        "attributes" => {
                            if let Value::Object(attrs) = spec {
                                for (attr, pattern) in attrs {
                                    let raw = pattern.as_str().unwrap_or("");
                                    rules.push((
                                        selector.clone(),
                                        Pattern::parse(raw)
                                            .map(|p| DomCheck::Attribute(attr.clone(), p))
                                            .map_err(|e| e.reason),
                                    ));
                                }
                            }
                        }
                        "properties" => {
                            *report.unsupported.entry("dom.properties".into()).or_default() += 1;
                        }
                        _ => {}
                    }
                }
            }
            rules
        }
        _ => Vec::new(),
    }
}

/// Literals that must appear in the raw HTML for a selector to match: for
/// each selector of a list, its longest id, class, attribute name or value.
/// `None` when some selector of the list has none (it always runs).
pub(super) fn selector_tokens(selector: &str) -> Option<Vec<Vec<u8>>> {
    fn consider(token: &str, best: &mut Option<String>) {
        let clean = token.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
        let usable = clean.len() >= 3
            && clean.is_ascii()
            && !clean.contains(['&', '<', '>', '"', '\'', '\\', '*', '^', '$', '|', '~', '=', ' ']);
        if usable && best.as_ref().is_none_or(|b| clean.len() > b.len()) {
            *best = Some(clean.to_ascii_lowercase());
        }
    }
    let mut out = Vec::new();
    for part in selector.split(',') {
        let mut best: Option<String> = None;
        let mut marked: Option<String> = None;
        let mut attr = String::new();
        let mut in_attr = false;
        for c in part.chars() {
            if in_attr {
                if c == ']' {
                    in_attr = false;
                    let (name, value) = match attr.find(['=', '~', '|', '^', '$', '*']) {
                        Some(at) => (
                            &attr[..at],
                            attr[at..].trim_start_matches(['=', '~', '|', '^', '$', '*']),
                        ),
                        None => (attr.as_str(), ""),
                    };
                    consider(name, &mut best);
                    let value = value.trim();
                    let value = value
                        .strip_suffix(" i")
                        .or_else(|| value.strip_suffix(" s"))
                        .unwrap_or(value);
                    consider(value, &mut best);
                } else {
                    attr.push(c);
                }
                continue;
            }
            match c {
                '#' | '.' | '[' | ' ' | '>' | '+' | '~' | ':' | '(' | ')' => {
                    if let Some(token) = marked.take() {
                        consider(&token, &mut best);
                    }
                    match c {
                        '#' | '.' => marked = Some(String::new()),
                        '[' => {
                            in_attr = true;
                            attr.clear();
                        }
                        _ => {}
                    }
                }
                _ => {
                    if let Some(token) = marked.as_mut() {
                        token.push(c);
                    }
                }
            }
        }
        if let Some(token) = marked.take() {
            consider(&token, &mut best);
        }
        out.push(best?.into_bytes());
    }
    Some(out)
}
