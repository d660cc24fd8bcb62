//! Review quotes: extractive only.
//!
//! A quote is shown verbatim (whitespace folded, nothing rewritten), from a
//! review rated 4 or 5, 60–280 characters long, attributed by first name and
//! initial, linked to its source when that is an `https:` URL. Duplicates
//! (the same words, ignoring case and punctuation) are shown once, the most
//! recent first. Reviews that carry other people's data (an e-mail address,
//! a URL, a phone number) or rude words are skipped rather than edited.

use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};

use super::input::{ReviewInput, safe_url};
use super::text;

/// Quotes shown at most.
pub const MAX_QUOTES: usize = 4;
/// Shortest quote, in characters: shorter says nothing.
pub const MIN_CHARS: usize = 60;
/// Longest quote, in characters: longer would need cutting, and quotes are
/// never cut.
pub const MAX_CHARS: usize = 280;

/// One quote, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// `"Marie D."`.
    pub author: String,
    /// 4 or 5.
    pub rating: u8,
    /// The review text, verbatim.
    pub text: String,
    /// Publication date, when known.
    pub published: Option<NaiveDate>,
    /// Where it can be read (`https:` only).
    pub source_url: Option<String>,
}

const RUDE: &[&str] = &[
    "fuck",
    "shit",
    "merde",
    "putain",
    "connard",
    "scheiße",
    "scheisse",
    "arschloch",
    "idiot",
    "crap",
];

fn published(raw: Option<&str>) -> Option<NaiveDate> {
    let raw = raw?.trim();
    DateTime::parse_from_rfc3339(raw)
        .map(|d| d.date_naive())
        .ok()
        .or_else(|| NaiveDate::parse_from_str(raw.get(..10)?, "%Y-%m-%d").ok())
}

/// Letters and digits only, lower case: the identity used to de-duplicate.
fn fingerprint(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn carries_contact_data(text: &str) -> bool {
    let lower = text.to_lowercase();
    let digits_run = lower
        .split(|c: char| !(c.is_ascii_digit() || c == ' ' || c == '+' || c == '.' || c == '/'))
        .any(|run| run.chars().filter(char::is_ascii_digit).count() >= 8);
    lower.contains('@') || lower.contains("http") || lower.contains("www.") || digits_run
}

fn is_rude(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| RUDE.contains(&w))
}

/// Choose up to `max` quotes.
pub fn select(reviews: &[ReviewInput], max: usize) -> Vec<Quote> {
    let mut candidates: Vec<(usize, Quote)> = reviews
        .iter()
        .take(200)
        .enumerate()
        .filter_map(|(i, r)| {
            let rating = r.rating.filter(|x| x.is_finite() && *x >= 4.0 && *x <= 5.0)?;
            let body = text::clean(&r.text);
            let n = text::len(&body);
            if !(MIN_CHARS..=MAX_CHARS).contains(&n) || carries_contact_data(&body) || is_rude(&body) {
                return None;
            }
            Some((
                i,
                Quote {
                    author: text::first_name_and_initial(&r.author)?,
                    rating: if rating >= 4.5 { 5 } else { 4 },
                    text: body,
                    published: published(r.published.as_deref()),
                    source_url: r
                        .source_url
                        .as_deref()
                        .and_then(safe_url)
                        .filter(|u| u.starts_with("https:")),
                },
            ))
        })
        .collect();
    // Newest first; undated after dated; ties keep the provider's order.
    candidates.sort_by(|(ia, a), (ib, b)| b.published.cmp(&a.published).then(ia.cmp(ib)));
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (_, quote) in candidates {
        let print = fingerprint(&quote.text);
        let head: String = print.chars().take(48).collect();
        if seen.iter().any(|s| *s == print || s.starts_with(&head)) {
            continue;
        }
        seen.push(print);
        out.push(quote);
        if out.len() == max {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(author: &str, rating: f64, text: &str, published: Option<&str>) -> ReviewInput {
        ReviewInput {
            author: author.into(),
            rating: Some(rating),
            text: text.into(),
            published: published.map(Into::into),
            source_url: Some("https://maps.google.com/?cid=1".into()),
        }
    }

    const GOOD: &str = "Le meilleur pain de la ville, croustillant et toujours frais le matin. Merci !";

    #[test]
    fn only_good_reviews_of_the_right_length_are_quoted() {
        let reviews = vec![
            review("Marie Dupont", 5.0, GOOD, Some("2025-03-01")),
            review("Paul Martin", 3.0, &format!("{GOOD} (three stars)"), None),
            review("Anna Schmit", 5.0, "Super!", None),
            review("Tom Weber", 4.0, &"Very good. ".repeat(40), None),
            review("Lea Muller", f64::NAN, &format!("{GOOD} nan"), None),
        ];
        let quotes = select(&reviews, 4);
        assert_eq!(quotes.len(), 1);
        assert_eq!(quotes[0].author, "Marie D.");
        assert_eq!(quotes[0].text, GOOD);
        assert_eq!(quotes[0].published, NaiveDate::from_ymd_opt(2025, 3, 1));
    }

    #[test]
    fn duplicates_are_shown_once_and_newest_come_first() {
        let other = "Service rapide et très aimable, la baguette tradition est vraiment excellente.";
        let reviews = vec![
            review("A B", 5.0, GOOD, Some("2024-01-01")),
            review("C D", 5.0, &GOOD.to_uppercase(), Some("2025-01-01")),
            review("E F", 4.0, other, Some("2025-06-01T10:00:00Z")),
            review(
                "G H",
                5.0,
                "Undated but fine: friendly staff and lovely croissants every time.",
                None,
            ),
        ];
        let quotes = select(&reviews, 4);
        let authors: Vec<_> = quotes.iter().map(|q| q.author.as_str()).collect();
        assert_eq!(authors, ["E F.", "C D.", "G H."]);
    }

    #[test]
    fn reviews_with_contact_data_or_rude_words_are_skipped_not_edited() {
        let reviews = vec![
            review(
                "A B",
                5.0,
                "Great work, write to me at someone@example.com for details on the job!",
                None,
            ),
            review(
                "A B",
                5.0,
                "Great work, call me on +352 621 123 456 if you want to know more about it.",
                None,
            ),
            review(
                "A B",
                5.0,
                "Great work, see my photos on https://example.com/photos of the new kitchen",
                None,
            ),
            review(
                "A B",
                5.0,
                "Holy shit this plumber was fast, he fixed the leak in twenty minutes flat.",
                None,
            ),
        ];
        assert!(select(&reviews, 4).is_empty());
    }

    #[test]
    fn hostile_text_is_kept_verbatim_for_the_template_to_escape() {
        let text = "<script>alert('x')</script> Excellent accueil, je recommande vivement ce salon !";
        let quotes = select(&[review("<b>Eve</b> Z", 5.0, text, None)], 4);
        assert_eq!(quotes[0].text, text);
        assert_eq!(quotes[0].author, "<b>Eve</b> Z.");
    }

    #[test]
    fn only_https_sources_are_linked() {
        let mut r = review("A B", 5.0, GOOD, None);
        r.source_url = Some("javascript:alert(1)".into());
        assert_eq!(select(&[r], 4)[0].source_url, None);
    }
}
