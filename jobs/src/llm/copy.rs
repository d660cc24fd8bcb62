//! Asking for copy and accepting only copy that is well-formed and safe.
//!
//! The reply is parsed as JSON (a ```` ```json ```` fence is tolerated),
//! validated against the committed `schema.json` (`jsonschema`), decoded
//! into a [`CopyDocument`], and checked by the [safety rules](super::safety).
//! Anything else is a [`CopyRejected`] that says exactly why, and carries
//! the call's usage when there was a call (it was billed even if rejected).

use std::{fmt, sync::LazyLock};

use serde::{Deserialize, Serialize};

use super::{
    client::{Completion, FinishReason, LlmClient, Usage},
    error::LlmError,
    prompt::{BusinessFacts, CopyRequest, Language, PromptError},
    safety::{self, CheckError, Violation},
};

const SCHEMA_TEXT: &str = include_str!("schema.json");

/// The JSON schema every reply must satisfy (`schema.json`), as text: the
/// `{schema}` placeholder of a prompt template.
pub fn copy_schema_text() -> &'static str {
    SCHEMA_TEXT
}

static VALIDATOR: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    let schema: serde_json::Value =
        serde_json::from_str(SCHEMA_TEXT).map_err(|e| format!("schema.json is not JSON: {e}"))?;
    jsonschema::validator_for(&schema).map_err(|e| format!("schema.json is not a valid schema: {e}"))
});

/// Website copy: the document the site templates render. Its shape is
/// `schema.json`; every string is plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyDocument {
    /// The hero's H1 (≤ 80 characters).
    pub headline: String,
    /// The line under it (≤ 160).
    pub subheadline: String,
    /// The about section (≤ 900; paragraphs separated by newlines).
    pub about: String,
    /// 1 to 8 services, ≤ 80 each, no duplicates.
    pub services: Vec<String>,
    /// The primary button's label (≤ 40).
    pub call_to_action: String,
    /// Up to 6 questions and answers.
    pub faq: Vec<FaqEntry>,
}

/// One FAQ entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqEntry {
    /// ≤ 120 characters.
    pub question: String,
    /// ≤ 400 characters.
    pub answer: String,
}

impl CopyDocument {
    /// Every text with the JSON pointer of its field.
    pub fn fields(&self) -> Vec<(String, &str)> {
        let mut out = vec![
            ("/headline".to_owned(), self.headline.as_str()),
            ("/subheadline".to_owned(), self.subheadline.as_str()),
            ("/about".to_owned(), self.about.as_str()),
        ];
        out.extend(
            self.services
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("/services/{i}"), s.as_str())),
        );
        out.push(("/call_to_action".to_owned(), self.call_to_action.as_str()));
        for (i, entry) in self.faq.iter().enumerate() {
            out.push((format!("/faq/{i}/question"), entry.question.as_str()));
            out.push((format!("/faq/{i}/answer"), entry.answer.as_str()));
        }
        out
    }
}

/// Accepted copy and what the call cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmCopy {
    /// The copy.
    pub copy: CopyDocument,
    /// Tokens, cost, model, provider, request id, latency.
    pub usage: Usage,
}

/// One place where the reply does not match the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaViolation {
    /// JSON pointer into the reply (`/services/3`; empty for the root).
    pub path: String,
    /// What is wrong, without the offending value (`value is longer than
    /// 80 characters`).
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

/// Most schema violations kept in a rejection.
pub const MAX_SCHEMA_VIOLATIONS: usize = 10;

/// Why there is no copy.
#[derive(Debug, thiserror::Error)]
pub enum RejectReason {
    /// The template or facts cannot make a prompt; nothing was sent.
    #[error("no prompt: {0}")]
    Prompt(#[from] PromptError),
    /// The call failed; see [`LlmError::is_permanent`].
    #[error("the LLM call failed: {0}")]
    Provider(#[from] LlmError),
    /// The model stopped before finishing (`max_tokens`), refused, or was
    /// filtered.
    #[error("the model did not finish its answer ({finish:?})")]
    Unfinished {
        /// Why it stopped.
        finish: FinishReason,
    },
    /// The text is not one JSON value.
    #[error("the reply is not JSON: {message}")]
    NotJson {
        /// The parser's message (line and column).
        message: String,
    },
    /// The JSON does not match `schema.json`.
    #[error("the reply does not match the copy schema: {}", join(violations))]
    Schema {
        /// Where and why (at most [`MAX_SCHEMA_VIOLATIONS`]).
        violations: Vec<SchemaViolation>,
    },
    /// A safety rule is broken.
    #[error("the copy is unsafe: {0}")]
    Unsafe(Violation),
    /// The committed schema or patterns do not compile (a bug).
    #[error("the copy checks could not be built: {0}")]
    Internal(String),
}

fn join(violations: &[SchemaViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl RejectReason {
    /// A short stable name of the reason (for metrics and the stored row):
    /// `prompt`, `provider`, `unfinished`, `not_json`, `schema`,
    /// `unsafe:<rule>`, `internal`.
    pub fn code(&self) -> String {
        match self {
            RejectReason::Prompt(_) => "prompt".to_owned(),
            RejectReason::Provider(_) => "provider".to_owned(),
            RejectReason::Unfinished { .. } => "unfinished".to_owned(),
            RejectReason::NotJson { .. } => "not_json".to_owned(),
            RejectReason::Schema { .. } => "schema".to_owned(),
            RejectReason::Unsafe(v) => format!("unsafe:{}", v.rule),
            RejectReason::Internal(_) => "internal".to_owned(),
        }
    }
}

/// No copy from the LLM: the caller stores [`reason`](Self::reason) and
/// uses the deterministic copy; [`usage`](Self::usage) is what the call
/// cost when one was made (record it in `api_usage` either way).
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct CopyRejected {
    /// Why.
    pub reason: RejectReason,
    /// The call's usage, when the provider answered.
    pub usage: Option<Usage>,
}

impl CopyRejected {
    /// Whether asking again later could give copy: a transient provider
    /// failure (429, 5xx, timeout). A rejected reply is not retried: the
    /// fallback is the deterministic copy.
    pub fn is_retryable(&self) -> bool {
        matches!(&self.reason, RejectReason::Provider(e) if !e.is_permanent())
    }
}

/// Ask `client` for copy for `request`, and accept it only if it passes
/// the schema and the safety rules.
pub async fn write_copy(client: &LlmClient, request: &CopyRequest) -> Result<LlmCopy, CopyRejected> {
    let prompt = request.prompt().map_err(|e| CopyRejected {
        reason: RejectReason::Prompt(e),
        usage: None,
    })?;
    let completion = client.complete(&prompt).await.map_err(|e| CopyRejected {
        reason: RejectReason::Provider(e),
        usage: None,
    })?;
    let outcome = accept(&completion, &request.facts, request.language);
    let usage = completion.usage;
    match outcome {
        Ok(copy) => {
            tracing::info!(
                llm.provider = usage.provider.as_str(),
                llm.request_id = %usage.request_id,
                outcome = "accepted",
                "LLM copy accepted"
            );
            Ok(LlmCopy { copy, usage })
        }
        Err(reason) => {
            tracing::warn!(
                llm.provider = usage.provider.as_str(),
                llm.request_id = %usage.request_id,
                outcome = "rejected",
                reason = %reason.code(),
                "LLM copy rejected; the deterministic copy is used"
            );
            Err(CopyRejected {
                reason,
                usage: Some(usage),
            })
        }
    }
}

fn accept(
    completion: &Completion,
    facts: &BusinessFacts,
    language: Language,
) -> Result<CopyDocument, RejectReason> {
    if completion.finish != FinishReason::Complete {
        return Err(RejectReason::Unfinished {
            finish: completion.finish.clone(),
        });
    }
    check_reply(&completion.text, facts, language)
}

/// Parse, validate and safety-check a model's text: the whole acceptance
/// path of [`write_copy`] after the call (also used by the benchmark).
pub fn check_reply(
    text: &str,
    facts: &BusinessFacts,
    language: Language,
) -> Result<CopyDocument, RejectReason> {
    let value: serde_json::Value =
        serde_json::from_str(strip_fence(text)).map_err(|e| RejectReason::NotJson {
            message: e.to_string(),
        })?;
    let validator = VALIDATOR
        .as_ref()
        .map_err(|e| RejectReason::Internal(e.clone()))?;
    let violations: Vec<SchemaViolation> = validator
        .iter_errors(&value)
        .take(MAX_SCHEMA_VIOLATIONS)
        .map(|e| SchemaViolation {
            path: e.instance_path().to_string(),
            message: e.masked().to_string(),
        })
        .collect();
    if !violations.is_empty() {
        return Err(RejectReason::Schema { violations });
    }
    let copy: CopyDocument = serde_json::from_value(value).map_err(|e| RejectReason::Schema {
        violations: vec![SchemaViolation {
            path: String::new(),
            message: e.to_string(),
        }],
    })?;
    safety::check(&copy.fields(), facts, language).map_err(|e| match e {
        CheckError::Unsafe(v) => RejectReason::Unsafe(v),
        CheckError::Patterns(message) => RejectReason::Internal(message),
    })?;
    Ok(copy)
}

/// The JSON inside a Markdown code fence (```` ```json … ``` ````), or the
/// text itself.
fn strip_fence(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(after) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    // The info string (`json`) runs to the end of the first line.
    let body = after.split_once('\n').map_or("", |(_, body)| body);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{prompt::ReviewQuote, safety::SafetyRule};
    use serde_json::json;

    fn facts() -> BusinessFacts {
        BusinessFacts {
            name: "Boulangerie Weber".into(),
            category: "bakery".into(),
            city: "Esch-sur-Alzette".into(),
            phone: Some("+352 54 12 34".into()),
            website: Some("weber.lu".into()),
            opening_hours: vec!["Tue–Sat 07:00–18:00".into()],
            reviews: vec![ReviewQuote {
                text: "The croissants are the best".into(),
                author: "Marie L.".into(),
            }],
            ..BusinessFacts::default()
        }
    }

    fn good() -> serde_json::Value {
        json!({
            "headline": "Fresh bread every morning in Esch-sur-Alzette",
            "subheadline": "A family bakery where you can pick up bread, croissants and cakes.",
            "about": "Boulangerie Weber bakes bread and pastries for the neighbourhood. \
                      We are open from Tuesday to Saturday, from 7:00 to 18:00, and we are happy to see you.",
            "services": ["Bread", "Croissants", "Cakes to order"],
            "call_to_action": "Call us",
            "faq": [{"question": "When are you open?", "answer": "From Tuesday to Saturday, 7:00 to 18:00."}]
        })
    }

    fn with(pointer: &str, value: serde_json::Value) -> String {
        let mut doc = good();
        *doc.pointer_mut(pointer).unwrap() = value;
        doc.to_string()
    }

    #[test]
    fn the_committed_schema_compiles_and_accepts_good_copy() {
        assert!(VALIDATOR.is_ok(), "{:?}", VALIDATOR.as_ref().err());
        let copy = check_reply(&good().to_string(), &facts(), Language::En).unwrap();
        assert_eq!(copy.services.len(), 3);
        assert_eq!(copy.faq[0].question, "When are you open?");
    }

    #[test]
    fn a_json_fence_is_tolerated() {
        let fenced = format!("```json\n{}\n```\n", good());
        assert_eq!(
            check_reply(&fenced, &facts(), Language::En).unwrap().headline,
            "Fresh bread every morning in Esch-sur-Alzette"
        );
        assert_eq!(strip_fence("```\n{}\n```"), "{}");
        assert_eq!(strip_fence("```"), "");
        assert_eq!(strip_fence(" {} "), "{}");
    }

    #[test]
    fn replies_that_are_not_json_are_rejected_with_the_parser_message() {
        for text in [
            "Here is your copy: {",
            "",
            "```json\n{\"headline\": }\n```",
            "{} trailing",
        ] {
            let err = check_reply(text, &facts(), Language::En).unwrap_err();
            assert!(matches!(err, RejectReason::NotJson { .. }), "{text}: {err}");
            assert_eq!(err.code(), "not_json");
        }
    }

    #[test]
    fn each_schema_rule_is_reported_with_its_path() {
        let mut extra = good();
        extra["testimonials"] = json!(["great"]);
        let mut missing = good();
        missing.as_object_mut().unwrap().remove("call_to_action");
        let cases: Vec<(&str, String, &str, &str)> = vec![
            (
                "headline too long",
                with("/headline", json!("x".repeat(81))),
                "/headline",
                "longer than 80",
            ),
            (
                "about too long",
                with("/about", json!("word ".repeat(181))),
                "/about",
                "longer than 900",
            ),
            (
                "too many services",
                with(
                    "/services",
                    json!(
                        ["a1"; 9]
                            .iter()
                            .enumerate()
                            .map(|(i, _)| format!("Service {i}"))
                            .collect::<Vec<_>>()
                    ),
                ),
                "/services",
                "more than 8",
            ),
            (
                "duplicate services",
                with("/services", json!(["Bread", "Bread"])),
                "/services",
                "non-unique",
            ),
            (
                "service too long",
                with("/services/1", json!("y".repeat(81))),
                "/services/1",
                "longer than 80",
            ),
            (
                "blank call to action",
                with("/call_to_action", json!("   ")),
                "/call_to_action",
                "does not match",
            ),
            (
                "cta too long",
                with("/call_to_action", json!("z".repeat(41))),
                "/call_to_action",
                "longer than 40",
            ),
            (
                "faq answer too long",
                with("/faq/0/answer", json!("a".repeat(401))),
                "/faq/0/answer",
                "longer than 400",
            ),
            (
                "faq extra key",
                with(
                    "/faq/0",
                    json!({"question": "Why us today?", "answer": "ok", "x": 1}),
                ),
                "/faq/0",
                "Additional properties",
            ),
            (
                "wrong type",
                with("/services", json!("Bread")),
                "/services",
                "not of type",
            ),
            ("extra property", extra.to_string(), "", "Additional properties"),
            ("missing property", missing.to_string(), "", "required"),
            ("not an object", "[]".to_owned(), "", "not of type"),
        ];
        for (name, text, path, message) in cases {
            match check_reply(&text, &facts(), Language::En) {
                Err(RejectReason::Schema { violations }) => {
                    assert!(
                        violations
                            .iter()
                            .any(|v| v.path == path && v.message.contains(message)),
                        "{name}: {violations:?}"
                    );
                    assert!(violations.len() <= MAX_SCHEMA_VIOLATIONS);
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn schema_messages_do_not_repeat_the_offending_text() {
        let text = with("/headline", json!(format!("Marie L. {}", "x".repeat(80))));
        let err = check_reply(&text, &facts(), Language::En).unwrap_err();
        assert!(!err.to_string().contains("Marie"), "{err}");
    }

    #[test]
    fn each_safety_rule_rejects_copy_that_passed_the_schema() {
        let cases: Vec<(&str, String, SafetyRule, &str)> = vec![
            (
                "made-up award year",
                with(
                    "/about",
                    json!(
                        "Boulangerie Weber won the Golden Loaf in 2019 and we are proud of the bread that you love."
                    ),
                ),
                SafetyRule::Number,
                "/about",
            ),
            (
                "url",
                with(
                    "/faq/0/answer",
                    json!("Order at https://order.example.com for the weekend."),
                ),
                SafetyRule::Url,
                "/faq/0/answer",
            ),
            (
                "html",
                with("/headline", json!("<h1>Fresh bread</h1>")),
                SafetyRule::Markup,
                "/headline",
            ),
            (
                "placeholder",
                with("/services/0", json!("{service}")),
                SafetyRule::Placeholder,
                "/services/0",
            ),
            (
                "phone",
                with("/call_to_action", json!("Call +352 99 99 99")),
                SafetyRule::Phone,
                "/call_to_action",
            ),
            (
                "email",
                with(
                    "/about",
                    json!("Write to us at hello@weber-bakery.com, we answer every message that you send."),
                ),
                SafetyRule::Email,
                "/about",
            ),
            (
                "claim",
                with("/subheadline", json!("The award-winning bakery of the south")),
                SafetyRule::Claim,
                "/subheadline",
            ),
            (
                "language",
                {
                    let mut doc = good();
                    doc["about"] = json!(
                        "Die Bäckerei backt jeden Morgen frisches Brot und Kuchen für die Nachbarschaft, mit Liebe und Zeit."
                    );
                    doc["subheadline"] = json!("Unsere Bäckerei ist für Sie da, mit Brot und Kuchen.");
                    doc["faq"] = json!([]);
                    doc.to_string()
                },
                SafetyRule::Language,
                "/",
            ),
        ];
        for (name, text, rule, field) in cases {
            match check_reply(&text, &facts(), Language::En) {
                Err(RejectReason::Unsafe(v)) => {
                    assert_eq!((v.rule, v.field.as_str()), (rule, field), "{name}: {v}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_claim_from_a_real_review_is_allowed() {
        let text = with("/subheadline", json!("Customers say the croissants are the best"));
        assert!(check_reply(&text, &facts(), Language::En).is_ok());
    }

    #[test]
    fn rejection_codes_are_stable() {
        let v = Violation {
            rule: SafetyRule::Url,
            field: "/about".into(),
            text: "x.com".into(),
        };
        assert_eq!(RejectReason::Unsafe(v).code(), "unsafe:url");
        let schema = RejectReason::Schema {
            violations: vec![SchemaViolation {
                path: "/headline".into(),
                message: "value is longer than 80 characters".into(),
            }],
        };
        assert_eq!(
            schema.to_string(),
            "the reply does not match the copy schema: /headline: value is longer than 80 characters"
        );
    }

    proptest::proptest! {
        #[test]
        fn accepted_copy_always_fits_the_limits(
            headline in "[A-Za-z ]{0,100}|\\PC{0,100}",
            service in "[A-Za-z ]{0,100}|\\PC{0,100}",
        ) {
            let mut doc = good();
            doc["headline"] = json!(headline);
            doc["services"][0] = json!(service);
            if let Ok(copy) = check_reply(&doc.to_string(), &facts(), Language::En) {
                proptest::prop_assert!(copy.headline.chars().count() <= 80);
                proptest::prop_assert!(copy.services[0].chars().count() <= 80);
                proptest::prop_assert!(!copy.services[0].trim().is_empty());
            }
        }
    }
}
