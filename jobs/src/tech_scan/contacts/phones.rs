//! Phone numbers, normalised to E.164 with the prospect's country as the
//! default region. Text is only trusted when the number is written in
//! international form or next to a phone label, so that dates, prices and
//! register numbers are not taken for phone numbers; fax numbers are skipped.

use std::sync::LazyLock;

use phonenumber::country;
use regex::Regex;

#[allow(clippy::unwrap_used)] // constant patterns
static INTERNATIONAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+|\b00)[1-9][\d\s().\-/]{6,20}\d").unwrap());
#[allow(clippy::unwrap_used)]
static LABELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(t[ée]l(?:[ée]phone|efon|\.)?|phone|fon|mobile?|portable|gsm|handy|call|tel|fax|telefax)\s*[:.]?\s*(\(?\+?\d[\d\s().\-/]{5,20}\d)",
    )
    .unwrap()
});

/// A number in E.164 (`+352261234`), if `raw` is a valid one.
pub fn normalise(raw: &str, region: Option<country::Id>) -> Option<String> {
    let cleaned: String = raw.trim().chars().filter(|c| !c.is_whitespace()).collect();
    let cleaned = cleaned
        .strip_prefix("00")
        .map_or(cleaned.clone(), |rest| format!("+{rest}"));
    let digits = cleaned.chars().filter(char::is_ascii_digit).count();
    if !(6..=15).contains(&digits) {
        return None;
    }
    let number = phonenumber::parse(region, &cleaned).ok()?;
    crate::discover::dedup::storable_e164(&number)
}

/// The number of a `tel:` link.
pub fn from_tel(path: &str, region: Option<country::Id>) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    normalise(decoded.split(';').next().unwrap_or(""), region)
}

/// Numbers in page text (international form, or labelled; never fax).
pub fn from_text(text: &str, region: Option<country::Id>) -> Vec<String> {
    let mut out = Vec::new();
    let mut fax_spans = Vec::new();
    for caps in LABELLED.captures_iter(text) {
        let (Some(label), Some(number)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        if label.as_str().to_ascii_lowercase().contains("fax") {
            fax_spans.push(number.range());
            continue;
        }
        if let Some(n) = normalise(number.as_str(), region) {
            out.push(n);
        }
    }
    for m in INTERNATIONAL.find_iter(text) {
        if fax_spans
            .iter()
            .any(|span| span.contains(&m.start()) || m.range().contains(&span.start))
        {
            continue;
        }
        if let Some(n) = normalise(m.as_str(), region) {
            out.push(n);
        }
    }
    out.dedup();
    out
}

/// The phonenumber region of a country code.
pub fn region(country: &str) -> Option<country::Id> {
    country.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_to_e164_with_the_default_region() {
        let lu = region("LU");
        assert_eq!(normalise("26 12 34 56", lu).as_deref(), Some("+35226123456"));
        assert_eq!(
            normalise("+352 621 123 456", lu).as_deref(),
            Some("+352621123456")
        );
        assert_eq!(
            normalise("00352 621 123 456", lu).as_deref(),
            Some("+352621123456")
        );
        let fr = region("FR");
        assert_eq!(normalise("01 42 68 53 00", fr).as_deref(), Some("+33142685300"));
        assert_eq!(normalise("+49 30 901820", fr).as_deref(), Some("+4930901820"));
        assert_eq!(
            from_tel("+352%2026%2012%2034%2056", lu).as_deref(),
            Some("+35226123456")
        );
        assert_eq!(normalise("12", lu), None);
    }

    #[test]
    fn text_numbers_need_an_international_prefix_or_a_label() {
        let lu = region("LU");
        let text = "Ouvert 2019-2024. Prix 1 250,00 €. RCS B123456. Tél.: 26 12 34 56 \
                    Fax: 26 12 34 57. Mobile +352 621 123 456";
        assert_eq!(from_text(text, lu), vec!["+35226123456", "+352621123456"]);
        assert!(from_text("TVA LU12345678, 12 34 56 78", lu).is_empty());
    }
}
