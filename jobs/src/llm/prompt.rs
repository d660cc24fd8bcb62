//! What the copywriter is asked: the business's facts, the language and
//! tone, and the operator's prompt template with `{placeholder}`s filled
//! from the facts.
//!
//! Templates are stored in the database and edited by operators, so they
//! are input: a `{word}` that is not a known placeholder is an error (a typo
//! must not reach the model), while any other brace (a JSON example in the
//! prompt) is kept as written. Fact values are inserted once and never
//! expanded again, so a business called `{city}` stays `{city}`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::copy::copy_schema_text;

/// The languages the copy can be written in (with the stop words the
/// language check knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// French.
    Fr,
    /// German.
    De,
    /// English.
    En,
}

impl Language {
    /// Every language.
    pub const ALL: [Language; 3] = [Language::Fr, Language::De, Language::En];

    /// ISO 639-1 code (`{language}`).
    pub const fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::De => "de",
            Language::En => "en",
        }
    }

    /// English name (`{language_name}`), which models follow best.
    pub const fn english_name(self) -> &'static str {
        match self {
            Language::Fr => "French",
            Language::De => "German",
            Language::En => "English",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The voice of the copy (`{tone}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    /// Warm and personal (cafés, bakeries, salons).
    Friendly,
    /// Sober and precise (dentists, lawyers, accountants).
    Professional,
    /// Short and direct (trades, repairs, emergencies).
    Direct,
    /// Refined (restaurants, boutiques).
    Elegant,
}

impl Tone {
    /// How the tone is described to the model.
    pub const fn description(self) -> &'static str {
        match self {
            Tone::Friendly => "friendly and warm",
            Tone::Professional => "professional and reassuring",
            Tone::Direct => "short, clear and direct",
            Tone::Elegant => "elegant and understated",
        }
    }
}

/// A review quote that is real: shown to the model as context (it may echo
/// what customers praise), never invented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewQuote {
    /// The quote, verbatim.
    pub text: String,
    /// First name and initial only.
    pub author: String,
}

/// What is known about the business. Everything the copy may state must
/// come from here: the safety rules allow a number, URL, e-mail address,
/// phone number or award only if it appears in these facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessFacts {
    /// Trading name.
    pub name: String,
    /// What it is (`bakery`, `dentist`), in the copy's language or English.
    pub category: String,
    /// Town or city.
    pub city: String,
    /// Street address, when known.
    #[serde(default)]
    pub address: Option<String>,
    /// Phone number as published.
    #[serde(default)]
    pub phone: Option<String>,
    /// Public e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Website or profile URL.
    #[serde(default)]
    pub website: Option<String>,
    /// Opening hours, one line per day or range (`Mon–Fri 08:00–18:00`).
    #[serde(default)]
    pub opening_hours: Vec<String>,
    /// Average rating (0–5), when known.
    #[serde(default)]
    pub rating: Option<f32>,
    /// Number of reviews behind the rating.
    #[serde(default)]
    pub review_count: Option<u32>,
    /// Real review quotes.
    #[serde(default)]
    pub reviews: Vec<ReviewQuote>,
    /// Other facts an operator checked (services offered, founding year,
    /// an award with its year).
    #[serde(default)]
    pub highlights: Vec<String>,
}

/// Longest fact value accepted (a hostile listing cannot blow up the
/// prompt, or the bill).
pub const MAX_FACT_CHARS: usize = 2_000;
/// Most review quotes or highlights or hour lines accepted.
pub const MAX_FACT_ITEMS: usize = 20;

impl BusinessFacts {
    /// Every fact value, as text (what the safety rules compare against).
    pub fn texts(&self) -> Vec<String> {
        let mut out = vec![self.name.clone(), self.category.clone(), self.city.clone()];
        out.extend(
            [&self.address, &self.phone, &self.email, &self.website]
                .into_iter()
                .flatten()
                .cloned(),
        );
        out.extend(self.opening_hours.iter().cloned());
        out.extend(self.rating.map(format_rating));
        out.extend(self.review_count.map(|n| n.to_string()));
        for review in &self.reviews {
            out.push(review.text.clone());
            out.push(review.author.clone());
        }
        out.extend(self.highlights.iter().cloned());
        out
    }

    fn check(&self) -> Result<(), PromptError> {
        for (field, value) in [
            ("name", &self.name),
            ("category", &self.category),
            ("city", &self.city),
        ] {
            if value.trim().is_empty() {
                return Err(PromptError::MissingFact { field });
            }
        }
        for (field, count) in [
            ("opening_hours", self.opening_hours.len()),
            ("reviews", self.reviews.len()),
            ("highlights", self.highlights.len()),
        ] {
            if count > MAX_FACT_ITEMS {
                return Err(PromptError::TooManyFacts { field, count });
            }
        }
        if let Some(rating) = self.rating
            && !(rating.is_finite() && (0.0..=5.0).contains(&rating))
        {
            return Err(PromptError::BadRating);
        }
        let too_long = self
            .texts()
            .into_iter()
            .find(|v| v.chars().count() > MAX_FACT_CHARS);
        if let Some(value) = too_long {
            return Err(PromptError::FactTooLong {
                chars: value.chars().count(),
            });
        }
        Ok(())
    }
}

fn format_rating(rating: f32) -> String {
    format!("{rating:.1}")
}

/// The operator's prompt: a system part and a user part, each with
/// placeholders (see [`PLACEHOLDERS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTemplate {
    /// Instructions (Anthropic `system`, OpenAI `system` message).
    pub system: String,
    /// The request with the facts (the `user` message).
    pub user: String,
}

/// The placeholders a template may use. Absent optional facts are filled
/// with an empty string; `{facts}` lists only the facts that are present.
pub const PLACEHOLDERS: &[&str] = &[
    "name",
    "category",
    "city",
    "address",
    "phone",
    "email",
    "website",
    "opening_hours",
    "rating",
    "review_count",
    "reviews",
    "highlights",
    "facts",
    "language",
    "language_name",
    "tone",
    "schema",
];

/// One request for copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyRequest {
    /// What is known about the business.
    pub facts: BusinessFacts,
    /// The language the copy must be in.
    pub language: Language,
    /// Its voice.
    pub tone: Tone,
    /// The operator's template.
    pub template: PromptTemplate,
}

/// The filled prompt, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Prompt {
    /// System instructions.
    pub system: String,
    /// The user message.
    pub user: String,
}

impl Prompt {
    /// Characters in both parts (for the budget's worst case).
    pub fn chars(&self) -> usize {
        self.system.chars().count() + self.user.chars().count()
    }
}

/// Prompts hold personal data (names, reviews): `Debug` shows sizes only,
/// so a prompt in a log line or an error report leaks nothing.
impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("system_bytes", &self.system.len())
            .field("user_bytes", &self.user.len())
            .finish()
    }
}

/// Why no prompt could be built from a template and facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// The template has a `{word}` that is not a placeholder.
    #[error("the prompt template uses the unknown placeholder `{{{name}}}` (known: {known})", known = PLACEHOLDERS.join(", "))]
    UnknownPlaceholder {
        /// The word between the braces.
        name: String,
    },
    /// A template part is blank.
    #[error("the prompt template's {part} part is empty")]
    EmptyTemplate {
        /// `system` or `user`.
        part: &'static str,
    },
    /// A required fact is blank.
    #[error("the business has no {field}")]
    MissingFact {
        /// The fact.
        field: &'static str,
    },
    /// A list of facts is longer than [`MAX_FACT_ITEMS`].
    #[error("the business has {count} {field}, more than {MAX_FACT_ITEMS}")]
    TooManyFacts {
        /// The list.
        field: &'static str,
        /// Its length.
        count: usize,
    },
    /// A fact is longer than [`MAX_FACT_CHARS`].
    #[error("a fact is {chars} characters long, more than {MAX_FACT_CHARS}")]
    FactTooLong {
        /// Its length.
        chars: usize,
    },
    /// The rating is not between 0 and 5.
    #[error("the rating must be between 0 and 5")]
    BadRating,
}

impl CopyRequest {
    /// The template with every placeholder filled from the facts.
    pub fn prompt(&self) -> Result<Prompt, PromptError> {
        self.facts.check()?;
        for (part, text) in [("system", &self.template.system), ("user", &self.template.user)] {
            if text.trim().is_empty() {
                return Err(PromptError::EmptyTemplate { part });
            }
        }
        Ok(Prompt {
            system: fill(&self.template.system, |name| self.value(name))?,
            user: fill(&self.template.user, |name| self.value(name))?,
        })
    }

    fn value(&self, name: &str) -> Option<String> {
        let f = &self.facts;
        let opt = |v: &Option<String>| v.as_deref().map(clean).unwrap_or_default();
        let value = match name {
            "name" => clean(&f.name),
            "category" => clean(&f.category),
            "city" => clean(&f.city),
            "address" => opt(&f.address),
            "phone" => opt(&f.phone),
            "email" => opt(&f.email),
            "website" => opt(&f.website),
            "opening_hours" => lines(f.opening_hours.iter().map(|l| clean(l))),
            "rating" => f.rating.map(format_rating).unwrap_or_default(),
            "review_count" => f.review_count.map(|n| n.to_string()).unwrap_or_default(),
            "reviews" => lines(self.review_lines()),
            "highlights" => lines(f.highlights.iter().map(|l| clean(l))),
            "facts" => self.fact_list(),
            "language" => self.language.code().to_owned(),
            "language_name" => self.language.english_name().to_owned(),
            "tone" => self.tone.description().to_owned(),
            "schema" => copy_schema_text().to_owned(),
            _ => return None,
        };
        Some(value)
    }

    fn review_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.facts
            .reviews
            .iter()
            .map(|r| format!("\"{}\" ({})", clean(&r.text), clean(&r.author)))
    }

    /// Every present fact, one `- key: value` line each.
    fn fact_list(&self) -> String {
        let f = &self.facts;
        let mut out = vec![
            format!("- name: {}", clean(&f.name)),
            format!("- category: {}", clean(&f.category)),
            format!("- city: {}", clean(&f.city)),
        ];
        for (key, value) in [
            ("address", &f.address),
            ("phone", &f.phone),
            ("email", &f.email),
            ("website", &f.website),
        ] {
            if let Some(value) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                out.push(format!("- {key}: {}", clean(value)));
            }
        }
        if !f.opening_hours.is_empty() {
            out.push("- opening hours:".to_owned());
            out.extend(f.opening_hours.iter().map(|l| format!("  - {}", clean(l))));
        }
        if let (Some(rating), Some(count)) = (f.rating, f.review_count) {
            out.push(format!(
                "- rating: {} from {count} reviews",
                format_rating(rating)
            ));
        }
        if !f.reviews.is_empty() {
            out.push("- review quotes:".to_owned());
            out.extend(self.review_lines().map(|l| format!("  - {l}")));
        }
        if !f.highlights.is_empty() {
            out.push("- other facts:".to_owned());
            out.extend(f.highlights.iter().map(|l| format!("  - {}", clean(l))));
        }
        out.join("\n")
    }
}

fn lines(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join("\n")
}

/// A fact value on one line: control characters (newlines in a review
/// included) become spaces, runs of spaces one space.
fn clean(value: &str) -> String {
    value
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replace each `{identifier}` by `value(identifier)`; other braces stay.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, PromptError> {
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let ident_len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if ident_len > 0 && after[ident_len..].starts_with('}') {
            let name = &after[..ident_len];
            let filled = value(name).ok_or_else(|| PromptError::UnknownPlaceholder {
                name: name.to_owned(),
            })?;
            out.push_str(&filled);
            rest = &after[ident_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(system: &str, user: &str) -> CopyRequest {
        CopyRequest {
            facts: BusinessFacts {
                name: "Boulangerie {city} Weber".into(),
                category: "bakery".into(),
                city: "Esch-sur-Alzette".into(),
                phone: Some("+352 54 12 34".into()),
                opening_hours: vec!["Tue–Sat 07:00–18:00".into()],
                rating: Some(4.75),
                review_count: Some(112),
                reviews: vec![ReviewQuote {
                    text: "Best bread\nin town".into(),
                    author: "Marie L.".into(),
                }],
                ..BusinessFacts::default()
            },
            language: Language::Fr,
            tone: Tone::Friendly,
            template: PromptTemplate {
                system: system.into(),
                user: user.into(),
            },
        }
    }

    #[test]
    fn placeholders_are_filled_once_and_other_braces_are_kept() {
        let prompt = request(
            "Write in {language_name} ({language}), {tone}. Reply as {\"headline\": \"…\"}.",
            "{name} is a {category} in {city}. Call {phone}. Email: {email}.\nReviews:\n{reviews}",
        )
        .prompt()
        .unwrap();
        assert_eq!(
            prompt.system,
            "Write in French (fr), friendly and warm. Reply as {\"headline\": \"…\"}."
        );
        assert_eq!(
            prompt.user,
            "Boulangerie {city} Weber is a bakery in Esch-sur-Alzette. Call +352 54 12 34. Email: .\n\
             Reviews:\n\"Best bread in town\" (Marie L.)"
        );
    }

    #[test]
    fn the_fact_list_names_only_present_facts_and_the_schema_is_available() {
        let prompt = request("{schema}", "{facts}").prompt().unwrap();
        assert!(prompt.system.contains("\"additionalProperties\": false"));
        assert_eq!(
            prompt.user,
            "- name: Boulangerie {city} Weber\n- category: bakery\n- city: Esch-sur-Alzette\n\
             - phone: +352 54 12 34\n- opening hours:\n  - Tue–Sat 07:00–18:00\n\
             - rating: 4.8 from 112 reviews\n- review quotes:\n  - \"Best bread in town\" (Marie L.)"
        );
    }

    #[test]
    fn bad_templates_and_facts_are_refused_with_the_reason() {
        let cases: Vec<(&str, CopyRequest, PromptError)> = vec![
            (
                "unknown placeholder",
                request("ok", "{nmae} in {city}"),
                PromptError::UnknownPlaceholder { name: "nmae".into() },
            ),
            (
                "empty system part",
                request("  ", "x"),
                PromptError::EmptyTemplate { part: "system" },
            ),
            (
                "no name",
                {
                    let mut r = request("s", "u");
                    r.facts.name = " ".into();
                    r
                },
                PromptError::MissingFact { field: "name" },
            ),
            (
                "rating out of range",
                {
                    let mut r = request("s", "u");
                    r.facts.rating = Some(f32::NAN);
                    r
                },
                PromptError::BadRating,
            ),
            (
                "huge review",
                {
                    let mut r = request("s", "u");
                    r.facts.reviews[0].text = "a".repeat(MAX_FACT_CHARS + 1);
                    r
                },
                PromptError::FactTooLong {
                    chars: MAX_FACT_CHARS + 1,
                },
            ),
            (
                "too many highlights",
                {
                    let mut r = request("s", "u");
                    r.facts.highlights = vec!["x".into(); MAX_FACT_ITEMS + 1];
                    r
                },
                PromptError::TooManyFacts {
                    field: "highlights",
                    count: MAX_FACT_ITEMS + 1,
                },
            ),
        ];
        for (name, request, expected) in cases {
            assert_eq!(request.prompt().unwrap_err(), expected, "{name}");
        }
    }

    #[test]
    fn stray_and_unclosed_braces_never_panic() {
        for template in ["{", "}", "{}", "{{name}}", "{name", "x{é}", "{NAME}", "{na me}"] {
            let prompt = request("s", template).prompt().unwrap();
            assert!(!prompt.user.is_empty() || template.is_empty(), "{template}");
        }
        assert_eq!(
            request("s", "{{name}}").prompt().unwrap().user,
            "{Boulangerie {city} Weber}"
        );
    }

    #[test]
    fn a_prompts_debug_shows_sizes_not_text() {
        let prompt = request("secret system", "Marie L. said so").prompt().unwrap();
        let shown = format!("{prompt:?}");
        assert!(!shown.contains("Marie"), "{shown}");
        assert!(shown.contains("user_bytes"), "{shown}");
    }
}
