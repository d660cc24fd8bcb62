//! schema.org data: postal addresses, telephones, e-mails and `sameAs`
//! profiles from JSON-LD, and postal addresses from microdata.

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use crate::tech_scan::document::collapse;

/// What structured data says about the business.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Structured {
    /// Formatted postal addresses.
    pub addresses: Vec<String>,
    /// Telephones as written.
    pub telephones: Vec<String>,
    /// E-mail addresses as written.
    pub emails: Vec<String>,
    /// `sameAs` URLs.
    pub same_as: Vec<String>,
}

/// Walk JSON-LD blocks (objects, arrays, `@graph`) for contact facts.
pub fn from_json_ld(blocks: &[Value]) -> Structured {
    let mut out = Structured::default();
    for block in blocks {
        walk(block, &mut out, 0);
    }
    out
}

fn walk(value: &Value, out: &mut Structured, depth: usize) {
    if depth > 12 {
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| walk(v, out, depth + 1)),
        Value::Object(map) => {
            for (key, v) in map {
                match key.as_str() {
                    "address" => match v {
                        Value::String(s) => push(&mut out.addresses, collapse(s)),
                        Value::Object(_) => {
                            if let Some(a) = format_address(|k| v.get(k).and_then(text_of)) {
                                push(&mut out.addresses, a);
                            }
                        }
                        Value::Array(items) => {
                            for item in items {
                                if let Some(a) = format_address(|k| item.get(k).and_then(text_of)) {
                                    push(&mut out.addresses, a);
                                }
                            }
                        }
                        _ => {}
                    },
                    "telephone" => strings(v).into_iter().for_each(|t| push(&mut out.telephones, t)),
                    "email" => strings(v)
                        .into_iter()
                        .for_each(|e| push(&mut out.emails, e.trim_start_matches("mailto:").to_owned())),
                    "sameAs" => strings(v).into_iter().for_each(|u| push(&mut out.same_as, u)),
                    _ => walk(v, out, depth + 1),
                }
            }
        }
        _ => {}
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(collapse(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("name").and_then(text_of),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.trim().to_owned()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(|s| s.trim().to_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

fn push(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && value.len() <= 500 && !list.contains(&value) && list.len() < 20 {
        list.push(value);
    }
}

/// `street, postcode locality, region, country` from PostalAddress parts.
fn format_address(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    let street = get("streetAddress");
    let locality = [get("postalCode"), get("addressLocality")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let parts: Vec<String> = [
        street,
        Some(locality),
        get("addressRegion"),
        get("addressCountry"),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect();
    // A country alone is not an address.
    if parts.len() < 2 {
        return None;
    }
    Some(parts.join(", "))
}

/// Postal addresses marked up with schema.org microdata.
pub fn microdata_addresses(document: &Html) -> Vec<String> {
    let (Ok(scope), Ok(prop)) = (
        Selector::parse("[itemtype*='schema.org/PostalAddress' i]"),
        Selector::parse("[itemprop]"),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for el in document.select(&scope) {
        let props: Vec<(String, String)> = el
            .select(&prop)
            .map(|p| {
                let name = p.value().attr("itemprop").unwrap_or_default().to_owned();
                (name, microdata_value(p))
            })
            .collect();
        let get = |k: &str| {
            props
                .iter()
                .find(|(name, _)| name.split_whitespace().any(|n| n == k))
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        if let Some(a) = format_address(get) {
            push(&mut out, a);
        }
    }
    out
}

fn microdata_value(el: ElementRef<'_>) -> String {
    let v = el.value();
    let raw = v
        .attr("content")
        .map(str::to_owned)
        .unwrap_or_else(|| el.text().collect::<String>());
    collapse(&raw)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_ld_addresses_phones_and_profiles_are_found() {
        let blocks = vec![json!({
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebSite", "name": "Dupont"},
                {
                    "@type": "Bakery",
                    "name": "Boulangerie Dupont",
                    "telephone": "+352 26 12 34 56",
                    "email": "mailto:info@dupont.lu",
                    "sameAs": ["https://www.facebook.com/dupont", "https://www.instagram.com/dupont"],
                    "address": {
                        "@type": "PostalAddress",
                        "streetAddress": "12, rue de la Gare",
                        "postalCode": "L-1611",
                        "addressLocality": "Luxembourg",
                        "addressCountry": {"@type": "Country", "name": "LU"}
                    }
                }
            ]
        })];
        let s = from_json_ld(&blocks);
        assert_eq!(s.addresses, vec!["12, rue de la Gare, L-1611 Luxembourg, LU"]);
        assert_eq!(s.telephones, vec!["+352 26 12 34 56"]);
        assert_eq!(s.emails, vec!["info@dupont.lu"]);
        assert_eq!(s.same_as.len(), 2);
    }

    #[test]
    fn microdata_addresses_are_found() {
        let html = Html::parse_document(
            r#"<div itemscope itemtype="https://schema.org/LocalBusiness">
                 <div itemprop="address" itemscope itemtype="https://schema.org/PostalAddress">
                   <span itemprop="streetAddress">Hauptstraße 5</span>,
                   <span itemprop="postalCode">10115</span> <span itemprop="addressLocality">Berlin</span>
                   <meta itemprop="addressCountry" content="DE">
                 </div></div>"#,
        );
        assert_eq!(
            microdata_addresses(&html),
            vec!["Hauptstraße 5, 10115 Berlin, DE"]
        );
    }

    #[test]
    fn a_country_alone_is_not_an_address() {
        let s = from_json_ld(&[json!({"address": {"addressCountry": "LU"}})]);
        assert!(s.addresses.is_empty());
    }
}
