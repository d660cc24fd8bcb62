//! `llm`: an optional copywriter for generated preview sites.
//!
//! - **Takes**: a [`CopyRequest`] — the business's facts ([`BusinessFacts`]:
//!   name, category, city, contact details, opening hours, real review
//!   quotes, checked highlights), the language (`fr`, `de`, `en`), a
//!   [`Tone`], and the operator's [`PromptTemplate`] (stored in the
//!   database; its `{placeholders}` are filled from the facts, an unknown
//!   one is an error).
//! - **Returns**: [`write_copy`] gives an [`LlmCopy`] — a [`CopyDocument`]
//!   (headline ≤ 80, subheadline ≤ 160, about ≤ 900, 1–8 services ≤ 80,
//!   call to action ≤ 40, ≤ 6 FAQ entries) plus its [`Usage`] (provider,
//!   model, input/output tokens, cost in cents, request id, latency), or a
//!   [`CopyRejected`] that says exactly why: the prompt, the provider's
//!   error, an unfinished answer, not JSON, the schema (JSON pointer and
//!   message), or the safety rule with the field and the offending text.
//!   A rejection carries the usage when the call was made: record it in
//!   `api_usage` (provider, [`USAGE_OPERATION`], cost) either way.
//! - **Guarantees**: accepted copy matches the committed `schema.json`
//!   (`additionalProperties: false`, lengths, required fields), is plain
//!   text, and states no URL, e-mail address, phone number, number or award
//!   that is not in the facts, and is plausibly in the requested language
//!   ([`safety`]). Nothing is written to the database here.
//! - **External calls**: the Anthropic Messages API or an OpenAI-compatible
//!   Chat Completions API ([`LlmClient`]), with a configurable base URL.
//!   Retried in the call on 429, 5xx, 529, timeouts and lost connections
//!   (the platform's [`crate::retry::retrying`], never sooner than `Retry-After`),
//!   never on another 4xx. [`LlmError::is_permanent`] tells the queue what
//!   to do with the rest. Timeout: `timeout` per attempt.
//! - **Cost**: tokens × the configured prices; [`LlmSettings::budget_allows`]
//!   says whether a call fits in what is left of the daily budget (the
//!   caller sums today's `api_usage`).
//! - **Privacy**: the key comes from the environment variable named by
//!   `api_key_env` and is never logged; logs carry sizes, ids, token
//!   counts and rule names, never the prompt or the reply.
//! - **Testing**: with the `testing` feature (and in tests), `local_server` is an
//!   axum server that speaks both wire formats with scripted replies, and
//!   `bench::run` prints the figures of the acceptance path.
//!
//! ## Settings
//!
//! [`LlmSettings`] is meant to be a subsection of the stage that uses it
//! (its `check` calls [`LlmSettings::validate`] and prefixes the key with
//! [`InvalidSetting::within`](crate::stage::InvalidSetting::within)); every
//! key has a default and the copywriter is off unless `enabled`:
//!
//! ```toml
//! [build_site.llm]
//! enabled = true
//! provider = "anthropic"            # or "openai" (any compatible server)
//! # base_url = "https://api.anthropic.com"
//! model = "claude-haiku-4-5"
//! api_key_env = "ANTHROPIC_API_KEY" # the variable's NAME; the key is never in a file
//! timeout = "60s"
//! max_retries = 2
//! retry_base = "1s"
//! retry_max_wait = "30s"
//! max_output_tokens = 2000
//! temperature = 0.4
//! input_price_cents_per_mtok = 100
//! output_price_cents_per_mtok = 500
//! daily_budget_cents = 500
//! ```
//!
//! ## Use
//!
//! [`LlmClient::from_env`] once per worker (`None` when off); per site,
//! check [`LlmSettings::budget_allows`] against today's spend, call
//! [`write_copy`], and on [`CopyRejected`] store `reason` (its
//! [`RejectReason::code`] for metrics) and use the deterministic copy;
//! [`CopyRejected::is_retryable`] says whether a later job could do better.

mod anthropic;
#[cfg(any(test, feature = "testing"))]
pub mod bench;
pub mod client;
pub mod copy;
pub mod error;
#[cfg(any(test, feature = "testing"))]
pub mod local_server;
mod openai;
pub mod prompt;
pub mod safety;
pub mod settings;
#[cfg(test)]
mod tests;

pub use anthropic::API_VERSION as ANTHROPIC_VERSION;
pub use client::{ClientSetupError, Completion, FinishReason, LlmClient, USAGE_OPERATION, Usage};
pub use copy::{
    CopyDocument, CopyRejected, FaqEntry, LlmCopy, RejectReason, SchemaViolation, check_reply,
    copy_schema_text, write_copy,
};
pub use error::LlmError;
pub use prompt::{
    BusinessFacts, CopyRequest, Language, Prompt, PromptError, PromptTemplate, ReviewQuote, Tone,
};
pub use safety::{SafetyRule, Violation};
pub use settings::{LlmProvider, LlmSettings, Prices};
