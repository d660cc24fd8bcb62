//! The HTTP client for both wire formats: one call, retried in place on
//! 429, 5xx, 529, timeouts and lost connections (never on another 4xx) by
//! the platform's [`retrying`] loop: exponential backoff, never sooner than
//! a `Retry-After`, and a wait longer than `retry_max_wait` is left to the
//! queue.
//!
//! Logs carry the provider, model, request id, attempt, status, token
//! counts and sizes; never the key, the prompt or the reply.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use reqwest::{
    StatusCode,
    header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use super::{
    anthropic,
    error::LlmError,
    openai,
    prompt::Prompt,
    settings::{LlmProvider, LlmSettings, Prices},
};
use crate::{
    retry::{RetryPolicy, retry_after, retrying},
    stage::InvalidSetting,
};

/// Largest response body read: a reply of `max_output_tokens` is far
/// smaller, so anything bigger is not a reply (and cannot exhaust memory).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// `api_usage.operation` for copywriting calls.
pub const USAGE_OPERATION: &str = "write_copy";

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer.
    Complete,
    /// It hit `max_tokens`: the answer is cut off.
    MaxTokens,
    /// It refused, or a content filter stopped it.
    Refused,
    /// Another reason, as the provider named it.
    Other(String),
}

/// What one call used and cost: the numbers an `api_usage` row needs, and
/// the ids to trace it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// `api_usage.provider`.
    pub provider: LlmProvider,
    /// The model that answered (as the provider reported it, else the one
    /// asked for).
    pub model: String,
    /// Input tokens billed.
    pub input_tokens: u64,
    /// Output tokens billed.
    pub output_tokens: u64,
    /// `api_usage.cost_cents`: tokens × the configured prices.
    pub cost_cents: f64,
    /// The provider's id of the reply (`msg_…`, `chatcmpl-…`).
    pub request_id: String,
    /// From the first attempt to the reply, retries and waits included.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// HTTP attempts made (1 without retries).
    pub attempts: u32,
}

/// A successful call.
#[derive(Clone, PartialEq)]
pub struct Completion {
    /// The model's text (all text blocks, joined).
    pub text: String,
    /// Why it stopped.
    pub finish: FinishReason,
    /// Tokens, cost, ids.
    pub usage: Usage,
}

/// The text may hold personal data: `Debug` shows its size only.
impl std::fmt::Debug for Completion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion")
            .field("text_bytes", &self.text.len())
            .field("finish", &self.finish)
            .field("usage", &self.usage)
            .finish()
    }
}

/// A 2xx body in either format, converted.
#[derive(Debug)]
pub(crate) struct Reply {
    pub request_id: String,
    pub model: Option<String>,
    pub text: String,
    pub finish: FinishReason,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// An error body in either format.
#[derive(Debug)]
pub(crate) struct ProviderError {
    pub kind: String,
    pub message: String,
    pub code: Option<String>,
}

impl ProviderError {
    /// A body that is not the documented error shape (a proxy's HTML page).
    pub(crate) fn unparsed(body: &[u8]) -> Self {
        Self {
            kind: "unknown".to_owned(),
            message: String::from_utf8_lossy(body).into_owned(),
            code: None,
        }
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// The HTTP client (TLS) could not be set up.
    #[error("the LLM HTTP client could not be built")]
    Http(#[source] reqwest::Error),
    /// The key cannot be sent in a header.
    #[error("the LLM API key is not a valid header value")]
    BadKey,
    /// The base URL cannot take the endpoint's path.
    #[error("the LLM base URL cannot be joined with the endpoint path")]
    BadBaseUrl,
    /// A setting or the key's variable is invalid (the key is named).
    #[error(transparent)]
    Setting(#[from] InvalidSetting),
}

/// A client for the configured provider. Cheap to clone (the connection
/// pool is shared).
#[derive(Debug, Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    provider: LlmProvider,
    endpoint: Url,
    model: String,
    key: SecretString,
    max_output_tokens: u32,
    temperature: f32,
    prices: Prices,
    timeout: Duration,
    retry: RetryPolicy,
}

impl LlmClient {
    /// The client the settings ask for: `None` when the copywriter is off;
    /// otherwise the settings are validated and the key is read from `env`
    /// (the environment the configuration saw), so a missing key stops
    /// start-up with the variable's name.
    pub fn from_env(
        settings: &LlmSettings,
        env: &HashMap<String, String>,
    ) -> Result<Option<Self>, ClientSetupError> {
        if !settings.enabled {
            return Ok(None);
        }
        settings.validate()?;
        let key = settings.api_key(env)?;
        Self::new(settings, key).map(Some)
    }

    /// A client for `settings` (already validated) with `key` (from
    /// [`LlmSettings::api_key`]). HTTPS needs rustls's process-wide crypto
    /// provider to be installed.
    pub fn new(settings: &LlmSettings, key: SecretString) -> Result<Self, ClientSetupError> {
        if HeaderValue::from_str(key.expose_secret()).is_err() {
            return Err(ClientSetupError::BadKey);
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            // The key is in a header that reqwest does not strip on a
            // cross-host redirect: follow none (a 3xx is an error).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("prospector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientSetupError::Http)?;
        let mut base = settings.effective_base_url();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let endpoint = base
            .join(settings.provider.endpoint_path())
            .map_err(|_| ClientSetupError::BadBaseUrl)?;
        Ok(Self {
            http,
            provider: settings.provider,
            endpoint,
            model: settings.model.trim().to_owned(),
            key,
            max_output_tokens: settings.max_output_tokens,
            temperature: settings.temperature,
            prices: settings.prices(),
            timeout: settings.timeout,
            retry: settings.retry_policy(),
        })
    }

    /// The provider it speaks to.
    pub fn provider(&self) -> LlmProvider {
        self.provider
    }

    /// The model it asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The URL it posts to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Send `prompt` and return the model's text with its usage.
    ///
    /// Retryable failures are tried again up to `max_retries` times, each
    /// after the backoff delay or the provider's `Retry-After`, whichever is
    /// longer; a wait longer than `retry_max_wait` is not spent here: the
    /// error is returned at once with its [`LlmError::retry_after`].
    pub async fn complete(&self, prompt: &Prompt) -> Result<Completion, LlmError> {
        let body = self.request_body(prompt)?;
        let started = Instant::now();
        // Atomic, not a `Cell`: the call's future must be `Send` (a job
        // handler awaits it).
        let counter = AtomicU32::new(0);
        let (client, body, tries) = (self, body.as_slice(), &counter);
        let outcome = retrying(&self.retry, "llm", move || {
            tries.fetch_add(1, Ordering::Relaxed);
            client.attempt(body)
        })
        .await;
        let attempts = counter.load(Ordering::Relaxed);
        match outcome {
            Ok(reply) => Ok(self.completion(reply, started, attempts, prompt)),
            Err(error) => {
                tracing::warn!(
                    llm.provider = self.provider.as_str(),
                    llm.attempts = attempts,
                    http.status = error.status(),
                    permanent = error.is_permanent(),
                    retry_after_ms = error.retry_after().map(|d| d.as_millis() as u64),
                    "LLM call failed"
                );
                Err(error)
            }
        }
    }

    fn request_body(&self, prompt: &Prompt) -> Result<Vec<u8>, LlmError> {
        let encoded = match self.provider {
            LlmProvider::Anthropic => serde_json::to_vec(&anthropic::Request {
                model: &self.model,
                max_tokens: self.max_output_tokens,
                system: &prompt.system,
                messages: [anthropic::Message {
                    role: "user",
                    content: &prompt.user,
                }],
                temperature: self.temperature,
            }),
            LlmProvider::Openai => serde_json::to_vec(&openai::Request {
                model: &self.model,
                messages: [
                    openai::Message {
                        role: "system",
                        content: &prompt.system,
                    },
                    openai::Message {
                        role: "user",
                        content: &prompt.user,
                    },
                ],
                max_tokens: self.max_output_tokens,
                temperature: self.temperature,
                response_format: openai::ResponseFormat { kind: "json_object" },
            }),
        };
        encoded.map_err(|e| LlmError::Malformed {
            provider: self.provider,
            message: format!("the request could not be encoded: {e}"),
        })
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // `new` checked that the key is a valid header value.
        let secret = |value: String| {
            HeaderValue::from_str(&value).map(|mut v| {
                v.set_sensitive(true);
                v
            })
        };
        match self.provider {
            LlmProvider::Anthropic => {
                if let Ok(v) = secret(self.key.expose_secret().to_owned()) {
                    headers.insert("x-api-key", v);
                }
                headers.insert(
                    "anthropic-version",
                    HeaderValue::from_static(anthropic::API_VERSION),
                );
            }
            LlmProvider::Openai => {
                if let Ok(v) = secret(format!("Bearer {}", self.key.expose_secret())) {
                    headers.insert(AUTHORIZATION, v);
                }
            }
        }
        headers
    }

    async fn attempt(&self, body: &[u8]) -> Result<Reply, LlmError> {
        let provider = self.provider;
        let response = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers())
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = read_body(response).await.map_err(|e| match e {
            BodyError::Transport(e) => self.transport_error(e),
            BodyError::TooLarge => LlmError::Malformed {
                provider,
                message: format!("the response is larger than {MAX_BODY_BYTES} bytes"),
            },
        })?;
        tracing::debug!(
            llm.provider = provider.as_str(),
            http.status = status.as_u16(),
            response_bytes = body.len(),
            "LLM answered"
        );
        if status.is_success() {
            let parsed = match provider {
                LlmProvider::Anthropic => anthropic::parse_reply(&body),
                LlmProvider::Openai => openai::parse_reply(&body),
            };
            return parsed.map_err(|message| LlmError::Malformed { provider, message });
        }
        let details = match provider {
            LlmProvider::Anthropic => anthropic::parse_error(&body),
            LlmProvider::Openai => openai::parse_error(&body),
        };
        Err(classify(provider, status, retry_after, details))
    }

    fn transport_error(&self, error: reqwest::Error) -> LlmError {
        if error.is_timeout() {
            LlmError::Timeout {
                provider: self.provider,
                timeout: self.timeout,
            }
        } else {
            LlmError::Connection {
                provider: self.provider,
                source: error.without_url(),
            }
        }
    }

    fn completion(&self, reply: Reply, started: Instant, attempts: u32, prompt: &Prompt) -> Completion {
        let usage = Usage {
            provider: self.provider,
            model: reply
                .model
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| self.model.clone()),
            input_tokens: reply.input_tokens,
            output_tokens: reply.output_tokens,
            cost_cents: self.prices.cost_cents(reply.input_tokens, reply.output_tokens),
            request_id: reply.request_id,
            latency: started.elapsed(),
            attempts,
        };
        tracing::info!(
            llm.provider = self.provider.as_str(),
            llm.model = %usage.model,
            llm.request_id = %usage.request_id,
            llm.attempts = attempts,
            llm.input_tokens = usage.input_tokens,
            llm.output_tokens = usage.output_tokens,
            llm.cost_cents = usage.cost_cents,
            prompt_bytes = prompt.system.len() + prompt.user.len(),
            reply_bytes = reply.text.len(),
            latency_ms = usage.latency.as_millis() as u64,
            "LLM call done"
        );
        Completion {
            text: reply.text,
            finish: reply.finish,
            usage,
        }
    }
}

/// Map a non-2xx answer to an error: 429 and 5xx (529 included) are
/// retryable, everything else is the request's fault.
fn classify(
    provider: LlmProvider,
    status: StatusCode,
    retry_after: Option<Duration>,
    details: ProviderError,
) -> LlmError {
    let message = short(&details.message);
    let kind = short(&details.kind);
    let code = status.as_u16();
    let overloaded =
        details.kind == "overloaded_error" || details.message.to_lowercase().contains("overloaded");
    match code {
        429 if details.code.as_deref() == Some("insufficient_quota")
            || details.kind == "insufficient_quota" =>
        {
            LlmError::Refused {
                provider,
                status: code,
                kind,
                message,
            }
        }
        429 => LlmError::RateLimited {
            provider,
            kind,
            message,
            retry_after,
        },
        529 => LlmError::Overloaded {
            provider,
            status: code,
            message,
            retry_after,
        },
        503 if overloaded => LlmError::Overloaded {
            provider,
            status: code,
            message,
            retry_after,
        },
        500..=599 => LlmError::Server {
            provider,
            status: code,
            kind,
            message,
            retry_after,
        },
        _ => LlmError::Refused {
            provider,
            status: code,
            kind,
            message,
        },
    }
}

/// A provider's message, on one line and cut short.
fn short(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    match text.trim() {
        "" => "no message".to_owned(),
        t => t.to_owned(),
    }
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(kind: &str, message: &str, code: Option<&str>) -> ProviderError {
        ProviderError {
            kind: kind.into(),
            message: message.into(),
            code: code.map(str::to_owned),
        }
    }

    #[test]
    fn statuses_map_to_retryable_or_permanent_errors() {
        let p = LlmProvider::Anthropic;
        let cases = [
            (400, "invalid_request_error", None, false, true),
            (401, "authentication_error", None, false, true),
            (403, "permission_error", None, false, true),
            (404, "not_found_error", None, false, true),
            (413, "request_too_large", None, false, true),
            (429, "rate_limit_error", None, true, false),
            (429, "insufficient_quota", Some("insufficient_quota"), false, true),
            (500, "api_error", None, true, false),
            (502, "unknown", None, true, false),
            (529, "overloaded_error", None, true, false),
            (301, "unknown", None, false, true),
        ];
        for (status, kind, code, retryable, permanent) in cases {
            let e = classify(
                p,
                StatusCode::from_u16(status).unwrap(),
                None,
                details(kind, "m", code),
            );
            assert_eq!(
                (e.is_retryable(), e.is_permanent()),
                (retryable, permanent),
                "{status} {kind}"
            );
            assert_eq!(e.status(), Some(status));
        }
        let e = classify(
            LlmProvider::Openai,
            StatusCode::SERVICE_UNAVAILABLE,
            Some(Duration::from_secs(3)),
            details("server_error", "The engine is currently overloaded", None),
        );
        assert!(matches!(e, LlmError::Overloaded { status: 503, .. }), "{e}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn provider_messages_are_one_short_line() {
        let long = format!("line one\nline two {}", "x".repeat(500));
        let s = short(&long);
        assert!(!s.contains('\n'));
        assert_eq!(s.chars().count(), 200);
        assert_eq!(short(" \n"), "no message");
    }
}
