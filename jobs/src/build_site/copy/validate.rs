//! Checks on copy that did not come from our own library (an LLM's).
//!
//! Copy is phrases with slots; facts (names, numbers, addresses, e-mail)
//! arrive only through slots. So copy itself must not contain markup,
//! entities, links, domain names or e-mail addresses, braces other than
//! known slots, or control characters, and every field has a length budget
//! and every list a size cap. The renderer escapes everything anyway; this
//! check keeps bad text from being shown at all.

use serde::{Deserialize, Serialize};

use super::{Copy, SLOTS};
use crate::build_site::text;

/// Budgets, in characters (graphemes) of the phrase with its slots unfilled.
pub mod limits {
    /// `<title>` phrase.
    pub const TITLE: usize = 60;
    /// Meta description phrase.
    pub const META_DESCRIPTION: usize = 155;
    /// The h1.
    pub const HEADLINE: usize = 100;
    /// Subheadline.
    pub const SUBHEADLINE: usize = 160;
    /// CTA label.
    pub const CTA: usize = 40;
    /// Section headings.
    pub const HEADING: usize = 60;
    /// One-line texts (intros, fallbacks).
    pub const LINE: usize = 200;
    /// Trust strip and service items.
    pub const ITEM: usize = 60;
    /// About paragraphs.
    pub const PARAGRAPH: usize = 500;
    /// FAQ question.
    pub const QUESTION: usize = 120;
    /// FAQ answer.
    pub const ANSWER: usize = 300;
    /// Trust items.
    pub const TRUST_ITEMS: usize = 4;
    /// Services.
    pub const SERVICES: usize = 8;
    /// About paragraphs.
    pub const PARAGRAPHS: usize = 3;
    /// FAQ entries.
    pub const FAQ: usize = 6;
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum CopyProblem {
    /// A required field is empty.
    Empty,
    /// Longer than its budget.
    TooLong {
        /// Budget.
        max: usize,
        /// Actual length.
        len: usize,
    },
    /// A list has too many entries.
    TooMany {
        /// Cap.
        max: usize,
    },
    /// `<`, `>`, an HTML entity or an unbalanced brace.
    Markup,
    /// A link, domain name or e-mail address.
    Url,
    /// A control character.
    Control,
    /// `{slot}` that does not exist.
    UnknownSlot(String),
    /// `{slot}` the business has no value for (found when filling).
    MissingFact(String),
}

/// One problem in one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("copy field {field}: {problem:?}")]
pub struct CopyIssue {
    /// Field name (`services[2]`, `faq[0].answer`).
    pub field: String,
    /// What is wrong.
    pub problem: CopyProblem,
}

impl CopyIssue {
    /// An issue in `field`.
    pub fn new(field: &str, problem: CopyProblem) -> CopyIssue {
        CopyIssue {
            field: field.to_owned(),
            problem,
        }
    }
}

fn looks_like_domain(token: &str) -> bool {
    let token = token.trim_matches(|c: char| !c.is_alphanumeric());
    let Some((head, tld)) = token.rsplit_once('.') else {
        return false;
    };
    let head_label = head.rsplit('.').next().unwrap_or(head);
    (2..=24).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && head_label.chars().filter(|c| c.is_ascii_alphanumeric()).count() >= 2
        && head_label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn check_text(field: &str, value: &str, max: usize, required: bool, issues: &mut Vec<CopyIssue>) {
    let mut push = |p: CopyProblem| issues.push(CopyIssue::new(field, p));
    if value.trim().is_empty() {
        if required {
            push(CopyProblem::Empty);
        }
        return;
    }
    let len = text::len(value);
    if len > max {
        push(CopyProblem::TooLong { max, len });
    }
    if value
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
    {
        push(CopyProblem::Control);
    }
    let lower = value.to_lowercase();
    let entity = lower.match_indices('&').any(|(i, _)| {
        let rest = &lower[i + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '#')
            .collect();
        !name.is_empty() && rest[name.len()..].starts_with(';')
    });
    if value.contains(['<', '>']) || entity {
        push(CopyProblem::Markup);
    }
    let schemes = [
        "://",
        "www.",
        "javascript:",
        "data:",
        "mailto:",
        "tel:",
        "vbscript:",
        "file:",
    ];
    if value.contains('@')
        || schemes.iter().any(|s| lower.contains(s))
        || value.split_whitespace().any(looks_like_domain)
    {
        push(CopyProblem::Url);
    }
    // Braces: only `{known}` pairs.
    let mut rest = value;
    loop {
        match (rest.find('{'), rest.find('}')) {
            (None, None) => break,
            (Some(open), Some(close)) if open < close => {
                let slot = &rest[open + 1..close];
                if slot.contains('{') {
                    push(CopyProblem::Markup);
                    break;
                }
                if !SLOTS.contains(&slot) {
                    push(CopyProblem::UnknownSlot(slot.chars().take(32).collect()));
                }
                rest = &rest[close + 1..];
            }
            _ => {
                push(CopyProblem::Markup);
                break;
            }
        }
    }
}

fn check_list(field: &str, items: &[String], max_items: usize, max: usize, issues: &mut Vec<CopyIssue>) {
    if items.len() > max_items {
        issues.push(CopyIssue::new(field, CopyProblem::TooMany { max: max_items }));
    }
    for (i, item) in items.iter().enumerate().take(max_items) {
        check_text(&format!("{field}[{i}]"), item, max, true, issues);
    }
}

/// Check every field of `copy`; all problems are reported, not just the
/// first.
pub fn validate_copy(copy: &Copy) -> Result<(), Vec<CopyIssue>> {
    use limits as l;
    let mut issues = Vec::new();
    let required = [
        ("title", &copy.title, l::TITLE),
        ("meta_description", &copy.meta_description, l::META_DESCRIPTION),
        ("headline", &copy.headline, l::HEADLINE),
        ("cta", &copy.cta, l::CTA),
        ("services_title", &copy.services_title, l::HEADING),
        ("about_title", &copy.about_title, l::HEADING),
        ("reviews_title", &copy.reviews_title, l::HEADING),
        ("gallery_title", &copy.gallery_title, l::HEADING),
        ("hours_title", &copy.hours_title, l::HEADING),
        ("hours_fallback", &copy.hours_fallback, l::LINE),
        ("location_title", &copy.location_title, l::HEADING),
        ("location_text", &copy.location_text, l::LINE),
        ("faq_title", &copy.faq_title, l::HEADING),
        ("contact_title", &copy.contact_title, l::HEADING),
    ];
    for (field, value, max) in required {
        check_text(field, value, max, true, &mut issues);
    }
    for (field, value, max) in [
        ("subheadline", &copy.subheadline, l::SUBHEADLINE),
        ("services_intro", &copy.services_intro, l::LINE),
        ("contact_text", &copy.contact_text, l::LINE),
    ] {
        check_text(field, value, max, false, &mut issues);
    }
    check_list("trust", &copy.trust, l::TRUST_ITEMS, l::ITEM, &mut issues);
    check_list("services", &copy.services, l::SERVICES, l::ITEM, &mut issues);
    check_list("about", &copy.about, l::PARAGRAPHS, l::PARAGRAPH, &mut issues);
    if copy.faq.len() > l::FAQ {
        issues.push(CopyIssue::new("faq", CopyProblem::TooMany { max: l::FAQ }));
    }
    for (i, item) in copy.faq.iter().enumerate().take(l::FAQ) {
        check_text(
            &format!("faq[{i}].question"),
            &item.question,
            l::QUESTION,
            true,
            &mut issues,
        );
        check_text(
            &format!("faq[{i}].answer"),
            &item.answer,
            l::ANSWER,
            true,
            &mut issues,
        );
    }
    if issues.is_empty() { Ok(()) } else { Err(issues) }
}

#[cfg(test)]
mod tests {
    use super::super::FaqItem;
    use super::*;

    fn good() -> Copy {
        let s = |t: &str| t.to_owned();
        Copy {
            title: s("{name} – {what} in {city}"),
            meta_description: s("{name}: services, hours and contact."),
            headline: s("{name} in {city}"),
            subheadline: s("Close to you."),
            cta: s("Call {phone}"),
            trust: vec![s("Rated {rating}/5 on Google ({review_count} reviews)")],
            services_title: s("What we do"),
            services_intro: s("Our services:"),
            services: vec![s("Repairs"), s("Leaks")],
            about_title: s("About {name}"),
            about: vec![s(
                "{name} is open {open_days} days a week. Approx. 4.8 stars, e.g. z.B. etc.",
            )],
            reviews_title: s("What customers say"),
            gallery_title: s("Photos"),
            hours_title: s("Opening hours"),
            hours_fallback: s("Please call."),
            location_title: s("Find us"),
            location_text: s("{address}"),
            faq_title: s("Questions"),
            faq: vec![FaqItem {
                question: s("Where is {name}?"),
                answer: s("At {address}."),
            }],
            contact_title: s("Contact"),
            contact_text: s("Get in touch."),
        }
    }

    fn problems(copy: &Copy) -> Vec<(String, CopyProblem)> {
        validate_copy(copy)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|i| (i.field, i.problem))
            .collect()
    }

    #[test]
    fn good_copy_passes() {
        assert_eq!(problems(&good()), vec![]);
    }

    #[test]
    fn markup_urls_and_unknown_slots_are_refused() {
        type Case = (&'static str, fn(&mut Copy), CopyProblem);
        let cases: [Case; 9] = [
            (
                "headline",
                |c| c.headline = "<b>{name}</b>".into(),
                CopyProblem::Markup,
            ),
            (
                "headline",
                |c| c.headline = "{name} &amp; sons".into(),
                CopyProblem::Markup,
            ),
            (
                "subheadline",
                |c| c.subheadline = "See https://evil.example".into(),
                CopyProblem::Url,
            ),
            (
                "subheadline",
                |c| c.subheadline = "Visit www.evil.example".into(),
                CopyProblem::Url,
            ),
            (
                "subheadline",
                |c| c.subheadline = "Visit evil-shop.com today".into(),
                CopyProblem::Url,
            ),
            (
                "contact_text",
                |c| c.contact_text = "Mail boss@evil.example".into(),
                CopyProblem::Url,
            ),
            ("cta", |c| c.cta = "javascript:alert(1)".into(), CopyProblem::Url),
            (
                "title",
                |c| c.title = "{name} {owner}".into(),
                CopyProblem::UnknownSlot("owner".into()),
            ),
            ("title", |c| c.title = "{name".into(), CopyProblem::Markup),
        ];
        for (field, edit, problem) in cases {
            let mut copy = good();
            edit(&mut copy);
            let found = problems(&copy);
            assert!(
                found.contains(&(field.to_owned(), problem.clone())),
                "{field} {problem:?}: {found:?}"
            );
        }
    }

    #[test]
    fn budgets_and_caps_are_enforced() {
        let mut copy = good();
        copy.title = "x".repeat(61);
        copy.services = vec!["Repairs".into(); 9];
        copy.cta = String::new();
        copy.about = vec!["a\u{0007}b".into()];
        let found = problems(&copy);
        assert!(found.contains(&("title".into(), CopyProblem::TooLong { max: 60, len: 61 })));
        assert!(found.contains(&("services".into(), CopyProblem::TooMany { max: 8 })));
        assert!(found.contains(&("cta".into(), CopyProblem::Empty)));
        assert!(found.contains(&("about[0]".into(), CopyProblem::Control)));
    }
}
