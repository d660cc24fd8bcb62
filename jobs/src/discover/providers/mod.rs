//! Places providers: real HTTP clients for Google Places API (New) Text
//! Search and an Outscraper-compatible Google Maps search.
//!
//! Both have a configurable base URL (tests point them at a local server
//! that speaks the documented wire format) and take their API key from the
//! environment; the key is sent in a header and never logged or stored.
//! Wire JSON goes into private `Raw*` structs, converted once into
//! [`BusinessDraft`](super::business::BusinessDraft)s. Each record of a page
//! is decoded on its own, so one malformed record is reported and the others
//! are kept.
//!
//! [`send`] is the shared request loop: 429 and 5xx answers are retried a
//! few times in the job with backoff (never sooner than a `Retry-After`);
//! when that is not enough the error carries the delay for the queue's
//! persisted retry.

pub mod google_places;
pub mod outscraper;

pub use crate::retry::RetryPolicy;
use crate::retry::{Retryable, retry_after, retrying};
use std::{fmt, time::Duration};

use reqwest::{RequestBuilder, StatusCode};

use super::business::{DiscoveredBusiness, ProviderKind};

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key; `None` when blank.
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let key = key.into();
        let key = key.trim();
        (!key.is_empty()).then(|| Self(key.to_owned()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Largest response body read (a hostile server cannot exhaust memory).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// 429: slow down.
    #[error("{provider} is rate limiting us (HTTP 429)")]
    RateLimited {
        /// Provider.
        provider: ProviderKind,
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 5xx.
    #[error("{provider} answered HTTP {status}")]
    Unavailable {
        /// Provider.
        provider: ProviderKind,
        /// Status.
        status: u16,
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// A 4xx other than 429: our request or key is wrong; retrying cannot help.
    #[error("{provider} refused the request (HTTP {status}): {message}")]
    Refused {
        /// Provider.
        provider: ProviderKind,
        /// Status.
        status: u16,
        /// What it said (cut short).
        message: String,
    },
    /// No answer (timeout, refused connection, reset).
    #[error("{provider} could not be reached")]
    Transport {
        /// Provider.
        provider: ProviderKind,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer is not the documented shape.
    #[error("{provider} sent a malformed response: {message}")]
    Malformed {
        /// Provider.
        provider: ProviderKind,
        /// What is wrong.
        message: String,
    },
    /// An async request ended without results.
    #[error("{provider} request {request_id} ended with status `{status}`")]
    RequestFailed {
        /// Provider.
        provider: ProviderKind,
        /// The request.
        request_id: String,
        /// Its final status.
        status: String,
    },
    /// An async request was still pending when we stopped waiting.
    #[error("{provider} request {request_id} is still pending after {waited:?}")]
    StillPending {
        /// Provider.
        provider: ProviderKind,
        /// The request.
        request_id: String,
        /// How long we polled.
        waited: Duration,
    },
    /// The provider pointed us at another host (where our key must not go).
    #[error("{provider} gave a results location outside its base URL")]
    ForeignLocation {
        /// Provider.
        provider: ProviderKind,
    },
}

impl ProviderError {
    /// Retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ProviderError::Refused { .. }
                | ProviderError::RequestFailed { .. }
                | ProviderError::ForeignLocation { .. }
        )
    }

    /// The delay the provider asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. }
            | ProviderError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// One page of results.
#[derive(Debug)]
pub struct Page {
    /// Each record, checked, or why it was refused (with its index).
    pub records: Vec<Result<DiscoveredBusiness, RecordProblem>>,
    /// Records the provider sent (what per-result prices apply to).
    pub results: usize,
}

/// A provider record that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    /// Position in the page (0-based).
    pub index: usize,
    /// Its id, when it had one.
    pub listing_id: Option<String>,
    /// Why.
    pub reason: String,
}

/// Send a request (built afresh for each try), retrying 429, 5xx and lost
/// connections per `policy`, and return a 2xx body.
pub async fn send(
    provider: ProviderKind,
    policy: &RetryPolicy,
    build: impl Fn() -> RequestBuilder,
) -> Result<Vec<u8>, ProviderError> {
    retrying(policy, provider.as_str(), || async {
        match build().send().await {
            Err(source) => Err(ProviderError::Transport { provider, source }),
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(response.headers());
                let body = read_body(provider, response).await?;
                classify(provider, status, retry_after, body)
            }
        }
    })
    .await
}

impl Retryable for ProviderError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Unavailable { .. }
                | ProviderError::Transport { .. }
        )
    }

    fn retry_after(&self) -> Option<Duration> {
        ProviderError::retry_after(self)
    }
}

fn classify(
    provider: ProviderKind,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
) -> Result<Vec<u8>, ProviderError> {
    if status.is_success() {
        return Ok(body);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::RateLimited {
            provider,
            retry_after,
        });
    }
    if status.is_server_error() {
        return Err(ProviderError::Unavailable {
            provider,
            status: status.as_u16(),
            retry_after,
        });
    }
    Err(ProviderError::Refused {
        provider,
        status: status.as_u16(),
        message: error_message(&body),
    })
}

/// The provider's own error message, cut short (never the request).
fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("errorMessage"))
                .or_else(|| v.get("message"))
                .or_else(|| v.get("error").filter(|e| e.is_string()))
        })
        .and_then(|m| m.as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let message: String = message.chars().filter(|c| !c.is_control()).take(200).collect();
    if message.trim().is_empty() {
        "no message".to_owned()
    } else {
        message
    }
}

async fn read_body(
    provider: ProviderKind,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ProviderError::Malformed {
                        provider,
                        message: format!("the response is larger than {MAX_BODY_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(source) => return Err(ProviderError::Transport { provider, source }),
        }
    }
}

/// A decoding error without the values it quotes (a mistyped field could
/// be a phone number or an e-mail address: never in logs or reasons).
pub fn redacted(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        match closing {
            Some(end) if c == end => {
                out.push('…');
                out.push(c);
                closing = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '"' || c == '`' {
                    closing = Some(c);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let soon = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(soon)).unwrap(),
        );
        let d = retry_after(&headers).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn error_messages_come_from_the_body_and_are_short() {
        let google = br#"{"error":{"code":400,"message":"Invalid pageToken","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(error_message(google), "Invalid pageToken");
        let outscraper = br#"{"error": true, "errorMessage": "Wrong API key"}"#;
        assert_eq!(error_message(outscraper), "Wrong API key");
        assert_eq!(error_message(&[b'x'; 500]).len(), 200);
        assert_eq!(error_message(b""), "no message");
    }

    #[test]
    fn decoding_errors_do_not_repeat_values() {
        let error = serde_json::from_str::<f64>("\"+352 621 123 456\"").unwrap_err();
        let text = redacted(&error);
        assert!(!text.contains("621"), "{text}");
        assert!(text.contains("invalid type"), "{text}");
        let error = serde_json::from_str::<String>("35262112345").unwrap_err();
        assert!(!redacted(&error).contains("3526"), "{}", redacted(&error));
    }

    #[test]
    fn keys_never_show() {
        let key = ApiKey::new(" secret-key ").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        assert_eq!(key.expose(), "secret-key");
        assert!(ApiKey::new("  ").is_none());
    }
}
