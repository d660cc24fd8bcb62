//! Why an LLM call failed, and whether trying again can help.

use std::time::Duration;

use super::settings::LlmProvider;
use crate::retry::Retryable;

/// A failed call to the provider. Messages carry the provider's own error
/// type and message (cut short), never the key or the prompt.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// 429: we are over a rate limit.
    #[error("{provider} is rate limiting us (HTTP 429, {kind}): {message}")]
    RateLimited {
        /// Provider.
        provider: LlmProvider,
        /// The provider's error type (`rate_limit_error`, `rate_limit_exceeded`).
        kind: String,
        /// Its message.
        message: String,
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 529 (Anthropic) or a 503 that says so: the provider has no capacity.
    #[error("{provider} is overloaded (HTTP {status}): {message}")]
    Overloaded {
        /// Provider.
        provider: LlmProvider,
        /// 529 or 503.
        status: u16,
        /// Its message.
        message: String,
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Another 5xx.
    #[error("{provider} failed (HTTP {status}, {kind}): {message}")]
    Server {
        /// Provider.
        provider: LlmProvider,
        /// Status.
        status: u16,
        /// The provider's error type, or `unknown`.
        kind: String,
        /// Its message.
        message: String,
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// A 4xx other than a retryable 429: the request, key, model or account
    /// is wrong, and sending it again cannot help (400, 401, 403, 404, 413,
    /// and OpenAI's 429 `insufficient_quota`).
    #[error("{provider} refused the request (HTTP {status}, {kind}): {message}")]
    Refused {
        /// Provider.
        provider: LlmProvider,
        /// Status.
        status: u16,
        /// The provider's error type (`authentication_error`,
        /// `invalid_request_error`, …), or `unknown`.
        kind: String,
        /// Its message.
        message: String,
    },
    /// No complete answer within the configured timeout.
    #[error("{provider} did not answer within {timeout:?}")]
    Timeout {
        /// Provider.
        provider: LlmProvider,
        /// The per-attempt timeout.
        timeout: Duration,
    },
    /// The connection failed (refused, reset, DNS, TLS).
    #[error("{provider} could not be reached")]
    Connection {
        /// Provider.
        provider: LlmProvider,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx whose body is not the documented shape (a base URL pointing at
    /// a server that speaks another format, or a truncated body).
    #[error("{provider} sent a malformed response: {message}")]
    Malformed {
        /// Provider.
        provider: LlmProvider,
        /// What is wrong (no body text).
        message: String,
    },
}

impl LlmError {
    /// Trying again (later, by the queue) cannot help: bad request, key,
    /// model, quota, or a server that does not speak the format.
    pub fn is_permanent(&self) -> bool {
        matches!(self, LlmError::Refused { .. } | LlmError::Malformed { .. })
    }

    /// Whether the call itself retries this error (429, 5xx, 529, timeouts,
    /// lost connections).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::Overloaded { .. }
                | LlmError::Server { .. }
                | LlmError::Timeout { .. }
                | LlmError::Connection { .. }
        )
    }

    /// The delay the provider asked for (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after, .. }
            | LlmError::Overloaded { retry_after, .. }
            | LlmError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the provider answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::RateLimited { .. } => Some(429),
            LlmError::Overloaded { status, .. }
            | LlmError::Server { status, .. }
            | LlmError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl Retryable for LlmError {
    fn is_retryable(&self) -> bool {
        LlmError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        LlmError::retry_after(self)
    }
}
