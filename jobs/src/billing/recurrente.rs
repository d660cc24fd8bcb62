//! The Recurrente API client.
//!
//! Every request carries `X-PUBLIC-KEY` and `X-SECRET-KEY` (marked
//! sensitive, never logged) and has a timeout. 429, 5xx, timeouts and lost
//! connections are retried a few times in the call, with exponential
//! backoff and never sooner than a `Retry-After`; any other 4xx is returned
//! at once with the API's `error` message, because repeating the request
//! cannot change the answer.
//!
//! | answer | error | permanent |
//! |---|---|---|
//! | 401 / 403 | [`RecurrenteError::Unauthorized`] | yes |
//! | 404 | [`RecurrenteError::NotFound`] | yes |
//! | other 4xx (422…) | [`RecurrenteError::Rejected`] | yes |
//! | 429 | [`RecurrenteError::RateLimited`] | no (`Retry-After`) |
//! | 5xx | [`RecurrenteError::Unavailable`] | no |
//! | timeout | [`RecurrenteError::Timeout`] | no |
//! | no connection | [`RecurrenteError::Transport`] | no |
//! | 2xx, not the documented JSON | [`RecurrenteError::Malformed`] | yes |
//!
//! Retrying `POST /api/checkouts` after a timeout may create a second,
//! unpaid checkout; only the one whose URL we hand out can be paid, and
//! unpaid checkouts expire, so this is harmless.

use std::{fmt, time::Duration};

use chrono::{DateTime, Utc};
use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, CONTENT_TYPE, HeaderValue},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use url::Url;

use super::{
    checkout::CheckoutRequest,
    ids::{CheckoutId, SubscriptionId},
    wire::{self, IdRef, PaymentMethod, PaymentRef},
};
use crate::{
    discover::providers::redacted,
    retry::{RetryPolicy, Retryable, retry_after, retrying},
};

/// Largest response body read (a hostile or broken server cannot exhaust
/// memory); Recurrente's answers are a few kilobytes.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Where and how to reach Recurrente.
#[derive(Clone)]
pub struct RecurrenteConfig {
    /// `https://app.recurrente.com`, or the local server; the API is under
    /// `{base_url}/api/`.
    pub base_url: Url,
    /// `pk_live_…` / `pk_test_…`.
    pub public_key: SecretString,
    /// `sk_live_…` / `sk_test_…`.
    pub secret_key: SecretString,
    /// One attempt may take this long.
    pub request_timeout: Duration,
    /// Retries of 429, 5xx and lost connections within one call.
    pub retry: RetryPolicy,
}

impl fmt::Debug for RecurrenteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecurrenteConfig")
            .field("base_url", &self.base_url.as_str())
            .field("public_key", &"[redacted]")
            .field("secret_key", &"[redacted]")
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Why a Recurrente call failed.
#[derive(Debug, thiserror::Error)]
pub enum RecurrenteError {
    /// The client cannot be built (a key with characters no header allows,
    /// a base URL that cannot hold a path).
    #[error("the Recurrente client is misconfigured: {0}")]
    Config(String),
    /// 401/403: the keys are missing, wrong, or for another account.
    #[error("Recurrente refused our API keys (HTTP {status}): {message}")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The API's `error`.
        message: String,
    },
    /// 404: no such object on this account.
    #[error("Recurrente has no such object: {message}")]
    NotFound {
        /// The API's `error`.
        message: String,
    },
    /// Any other 4xx: the request is wrong; retrying cannot help.
    #[error("Recurrente rejected the request (HTTP {status}): {message}")]
    Rejected {
        /// The status.
        status: u16,
        /// The API's `error`.
        message: String,
    },
    /// 429 after our in-call retries.
    #[error("Recurrente is rate limiting us (HTTP 429)")]
    RateLimited {
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 5xx after our in-call retries.
    #[error("Recurrente answered HTTP {status}")]
    Unavailable {
        /// The status.
        status: u16,
        /// Its `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// No answer within the request timeout.
    #[error("Recurrente did not answer within {0:?}")]
    Timeout(Duration),
    /// No connection (refused, reset, DNS).
    #[error("Recurrente could not be reached")]
    Transport(#[source] reqwest::Error),
    /// A 2xx whose body is not the documented JSON.
    #[error("Recurrente sent a malformed response: {0}")]
    Malformed(String),
}

impl RecurrenteError {
    /// Retrying later cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            RecurrenteError::Config(_)
                | RecurrenteError::Unauthorized { .. }
                | RecurrenteError::NotFound { .. }
                | RecurrenteError::Rejected { .. }
                | RecurrenteError::Malformed(_)
        )
    }

    /// The delay Recurrente asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RecurrenteError::RateLimited { retry_after }
            | RecurrenteError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl Retryable for RecurrenteError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            RecurrenteError::RateLimited { .. }
                | RecurrenteError::Unavailable { .. }
                | RecurrenteError::Timeout(_)
                | RecurrenteError::Transport(_)
        )
    }

    fn retry_after(&self) -> Option<Duration> {
        RecurrenteError::retry_after(self)
    }
}

impl crate::StageError for RecurrenteError {
    fn is_permanent(&self) -> bool {
        RecurrenteError::is_permanent(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        RecurrenteError::retry_after(self)
    }
}

/// `POST /api/checkouts`' answer: the checkout and where to send the
/// customer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutCreated {
    /// `ch_…`.
    pub id: CheckoutId,
    /// `https://app.recurrente.com/checkout-session/ch_…`.
    pub checkout_url: Url,
}

/// A checkout's payment state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    /// Not paid (yet).
    Unpaid,
    /// Paid.
    Paid,
    /// A bank transfer is on its way (up to 24 h).
    PaymentInProgress,
    /// A status this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// `GET /api/checkouts/{id}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Checkout {
    /// `ch_…`.
    pub id: String,
    /// Payment state.
    #[serde(default, deserialize_with = "status_or_unknown")]
    pub status: CheckoutStatus,
    /// The payment, once paid: `paymentable` names the subscription
    /// (`su_…`) or one-time payment.
    #[serde(default)]
    pub payment: Option<PaymentRef>,
    /// How it was paid.
    #[serde(default)]
    pub payment_method: Option<PaymentMethod>,
    /// Our metadata, echoed.
    #[serde(default, deserialize_with = "wire::object_or_empty")]
    pub metadata: Map<String, Value>,
    /// The total (sent as a string).
    #[serde(default, deserialize_with = "wire::cents")]
    pub total_in_cents: Option<i64>,
    /// `GTQ` or `USD`.
    #[serde(default)]
    pub currency: Option<String>,
    /// After this it cannot be paid.
    #[serde(default, deserialize_with = "wire::timestamp")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    #[serde(default, deserialize_with = "wire::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
}

/// A subscription's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Charging normally.
    Active,
    /// Paused.
    Paused,
    /// A renewal failed; Recurrente retries.
    PastDue,
    /// Ended.
    #[serde(alias = "canceled")]
    Cancelled,
    /// The first charge never succeeded.
    UnableToStart,
    /// A status this client does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// `GET /api/subscriptions/{id}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Subscription {
    /// `su_…`.
    pub id: String,
    /// The plan's description.
    #[serde(default)]
    pub description: Option<String>,
    /// State.
    #[serde(default, deserialize_with = "status_or_unknown")]
    pub status: SubscriptionStatus,
    /// Current billing period.
    #[serde(default, deserialize_with = "wire::timestamp")]
    pub current_period_start: Option<DateTime<Utc>>,
    /// End of the current billing period (paid up to here).
    #[serde(default, deserialize_with = "wire::timestamp")]
    pub current_period_end: Option<DateTime<Utc>>,
    /// The paying customer.
    #[serde(default)]
    pub subscriber: Option<Subscriber>,
    /// The checkout that started it: the link to our site.
    #[serde(default)]
    pub checkout: Option<IdRef>,
    /// Its product.
    #[serde(default)]
    pub product: Option<IdRef>,
}

/// A subscriber. Personal data: its `Debug` shows only the id.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Subscriber {
    /// `us_…`.
    pub id: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// An unknown or `null` status is `Unknown`, not an error.
fn status_or_unknown<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = Option::<Value>::deserialize(d)?;
    Ok(value
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

#[derive(Deserialize)]
struct MessageBody {
    #[serde(default)]
    message: Option<String>,
}

/// The Recurrente API, over one connection pool.
#[derive(Clone)]
pub struct RecurrenteClient {
    http: reqwest::Client,
    api: Url,
    public_key: HeaderValue,
    secret_key: HeaderValue,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for RecurrenteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecurrenteClient")
            .field("api", &self.api.as_str())
            .field("keys", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RecurrenteClient {
    /// A client for `config`.
    pub fn new(config: &RecurrenteConfig) -> Result<Self, RecurrenteError> {
        let key = |secret: &SecretString, name: &str| {
            let mut value = HeaderValue::from_str(secret.expose_secret().trim()).map_err(|_| {
                RecurrenteError::Config(format!("the {name} key is not a valid header value"))
            })?;
            value.set_sensitive(true);
            Ok::<_, RecurrenteError>(value)
        };
        let public_key = key(&config.public_key, "public")?;
        let secret_key = key(&config.secret_key, "secret")?;
        let mut api = config.base_url.clone();
        api.path_segments_mut()
            .map_err(|()| RecurrenteError::Config("the base URL cannot hold a path".into()))?
            .pop_if_empty()
            .push("api")
            .push("");
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .user_agent(concat!("prospector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RecurrenteError::Config(e.without_url().to_string()))?;
        Ok(Self {
            http,
            api,
            public_key,
            secret_key,
            timeout: config.request_timeout,
            retry: config.retry,
        })
    }

    /// `GET /api/test`: checks the keys; returns the greeting (it names the
    /// account).
    pub async fn test(&self) -> Result<String, RecurrenteError> {
        let body: MessageBody = self.call(Method::GET, &["test"], None).await?;
        body.message
            .ok_or_else(|| RecurrenteError::Malformed("no `message` in the answer".into()))
    }

    /// `POST /api/checkouts`: create a checkout; send the customer to its
    /// `checkout_url`.
    pub async fn create_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutCreated, RecurrenteError> {
        self.call(Method::POST, &["checkouts"], Some(&request.to_wire()))
            .await
    }

    /// `GET /api/checkouts/{id}`: its status and payment (the
    /// reconciliation poller's source when a webhook was missed).
    pub async fn get_checkout(&self, id: &CheckoutId) -> Result<Checkout, RecurrenteError> {
        self.call(Method::GET, &["checkouts", id.as_str()], None).await
    }

    /// `GET /api/subscriptions/{id}`.
    pub async fn get_subscription(&self, id: &SubscriptionId) -> Result<Subscription, RecurrenteError> {
        self.call(Method::GET, &["subscriptions", id.as_str()], None)
            .await
    }

    /// `DELETE /api/subscriptions/{id}`: cancel it; returns Recurrente's
    /// message ("Suscripción cancelada").
    pub async fn cancel_subscription(&self, id: &SubscriptionId) -> Result<String, RecurrenteError> {
        let body: MessageBody = self
            .call(Method::DELETE, &["subscriptions", id.as_str()], None)
            .await?;
        Ok(body.message.unwrap_or_default())
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // `api` was built with a trailing empty segment.
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<T, RecurrenteError> {
        let url = self.url(segments);
        let endpoint = segments.first().copied().unwrap_or("");
        let bytes = retrying(&self.retry, endpoint, || self.attempt(method.clone(), &url, body)).await?;
        serde_json::from_slice(&bytes).map_err(|e| RecurrenteError::Malformed(redacted(&e)))
    }

    async fn attempt(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, RecurrenteError> {
        let mut request = self
            .http
            .request(method, url.clone())
            .header("X-PUBLIC-KEY", self.public_key.clone())
            .header("X-SECRET-KEY", self.secret_key.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = self.read_body(response).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        let message = error_message(&bytes);
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RecurrenteError::Unauthorized {
                status: status.as_u16(),
                message,
            },
            StatusCode::NOT_FOUND => RecurrenteError::NotFound { message },
            StatusCode::TOO_MANY_REQUESTS => RecurrenteError::RateLimited { retry_after },
            s if s.is_server_error() => RecurrenteError::Unavailable {
                status: s.as_u16(),
                retry_after,
            },
            s => RecurrenteError::Rejected {
                status: s.as_u16(),
                message,
            },
        })
    }

    fn transport(&self, error: reqwest::Error) -> RecurrenteError {
        if error.is_timeout() {
            RecurrenteError::Timeout(self.timeout)
        } else {
            RecurrenteError::Transport(error.without_url())
        }
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, RecurrenteError> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(RecurrenteError::Malformed(format!(
                    "the response is larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The API's `error` (a string, or a list of strings), else `message`,
/// else the body; printable characters only, at most 200.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        let text = |key: &str| match v.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => None,
        };
        text("error").or_else(|| text("message"))
    });
    let message = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let message: String = message.chars().filter(|c| !c.is_control()).take(200).collect();
    if message.trim().is_empty() {
        "no message".to_owned()
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_error_key() {
        assert_eq!(error_message(br#"{"error":"Invalid keys"}"#), "Invalid keys");
        assert_eq!(
            error_message(br#"{"error":["Items is invalid","Currency is invalid"]}"#),
            "Items is invalid; Currency is invalid"
        );
        assert_eq!(error_message(br#"{"message":"Nope"}"#), "Nope");
        assert_eq!(
            error_message(b"<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(error_message(b""), "no message");
        assert_eq!(error_message("x\u{7}y".as_bytes()), "xy");
        assert_eq!(error_message(&[b'x'; 1000]).len(), 200);
    }

    #[test]
    fn checkouts_decode_with_string_totals_and_missing_fields() {
        let full: Checkout = serde_json::from_str(
            r#"{"id":"ch_1","status":"paid",
                "payment":{"id":"pa_1","paymentable":{"type":"Subscription","id":"su_1"}},
                "payment_method":{"id":"pay_m_1","type":"card","card":{"last4":"4242","network":"visa"}},
                "transfer_setups":[],"metadata":{"prospector_site_id":"x"},
                "expires_at":"2050-05-15T13:45:30Z","success_url":"https://a/ok","cancel_url":"https://a/no",
                "created_at":"2026-11-20T10:00:00.000-06:00","total_in_cents":"79900","currency":"GTQ",
                "latest_intent":{"id":"pa_1","type":"PaymentIntent","data":{"auth_code":"123"}}}"#,
        )
        .unwrap();
        assert_eq!(full.status, CheckoutStatus::Paid);
        assert_eq!(full.total_in_cents, Some(79900));
        assert_eq!(
            full.payment.unwrap().paymentable.unwrap().subscription_id(),
            Some("su_1")
        );
        assert_eq!(
            full.payment_method.unwrap().card.unwrap().last4.as_deref(),
            Some("4242")
        );
        assert!(full.created_at.is_some());

        let sparse: Checkout = serde_json::from_str(
            r#"{"id":"ch_2","status":"payment_in_progress","metadata":null,"payment":null}"#,
        )
        .unwrap();
        assert_eq!(sparse.status, CheckoutStatus::PaymentInProgress);
        assert!(sparse.metadata.is_empty());
        assert_eq!(sparse.total_in_cents, None);

        let odd: Checkout = serde_json::from_str(r#"{"id":"ch_3","status":"expired"}"#).unwrap();
        assert_eq!(odd.status, CheckoutStatus::Unknown);
    }

    #[test]
    fn subscriptions_decode_every_documented_status() {
        for (text, status) in [
            ("active", SubscriptionStatus::Active),
            ("paused", SubscriptionStatus::Paused),
            ("past_due", SubscriptionStatus::PastDue),
            ("cancelled", SubscriptionStatus::Cancelled),
            ("canceled", SubscriptionStatus::Cancelled),
            ("unable_to_start", SubscriptionStatus::UnableToStart),
            ("frozen", SubscriptionStatus::Unknown),
        ] {
            let json = format!(r#"{{"id":"su_1","status":"{text}"}}"#);
            let sub: Subscription = serde_json::from_str(&json).unwrap();
            assert_eq!(sub.status, status, "{text}");
        }
        let sub: Subscription = serde_json::from_str(
            r#"{"id":"su_1","description":"Plan","status":"active",
                "current_period_start":"2026-11-01T00:00:00Z","current_period_end":"2026-12-01T00:00:00Z",
                "subscriber":{"id":"us_1","first_name":"Ana","last_name":"López","full_name":"Ana López",
                              "email":"ana@example.com","phone_number":"+50255555555"},
                "checkout":{"id":"ch_1"},"product":{"id":"prod_1"}}"#,
        )
        .unwrap();
        assert_eq!(sub.checkout.unwrap().id.as_deref(), Some("ch_1"));
        assert!(sub.current_period_end > sub.current_period_start);
        let debug = format!("{:?}", sub.subscriber.unwrap());
        assert!(!debug.contains("ana@") && !debug.contains("+502"), "{debug}");
    }

    #[test]
    fn only_transient_errors_are_retried_and_only_they_are_not_permanent() {
        let rejected = RecurrenteError::Rejected {
            status: 422,
            message: "x".into(),
        };
        assert!(rejected.is_permanent() && !rejected.is_retryable());
        let limited = RecurrenteError::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
        };
        assert!(!limited.is_permanent() && limited.is_retryable());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
        assert!(RecurrenteError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(!RecurrenteError::Malformed("x".into()).is_retryable());
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let config = RecurrenteConfig {
            base_url: Url::parse("https://app.recurrente.com").unwrap(),
            public_key: SecretString::from("pk_live_visible"),
            secret_key: SecretString::from("sk_live_visible"),
            request_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = RecurrenteClient::new(&config).unwrap();
        for text in [format!("{config:?}"), format!("{client:?}")] {
            assert!(!text.contains("visible"), "{text}");
        }
        assert_eq!(
            client.url(&["checkouts", "ch_1"]).as_str(),
            "https://app.recurrente.com/api/checkouts/ch_1"
        );
        let bad = RecurrenteConfig {
            secret_key: SecretString::from("sk\nlive"),
            ..config
        };
        assert!(matches!(
            RecurrenteClient::new(&bad),
            Err(RecurrenteError::Config(_))
        ));
    }
}
