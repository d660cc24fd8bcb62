//! A PageSpeed Insights API v5 client: Lighthouse run on Google's machines.
//!
//! `GET {base_url}/pagespeedonline/v5/runPagespeed?url=…&strategy=mobile|desktop
//! &category=PERFORMANCE&category=ACCESSIBILITY&category=BEST_PRACTICES&category=SEO&locale=…`
//! with the API key in the `X-Goog-Api-Key` header (so it never appears in a
//! URL, an error message or a log line). The answer's `lighthouseResult` is a
//! Lighthouse result like a local run's and is read by the same code; the
//! whole answer (with its field data) is what the stage archives.
//!
//! Quota: every request that reached Google is written to `api_usage`
//! (provider `pagespeed`, cost 0). With `daily_quota` set, a job finding the
//! Pacific-time day's requests at the quota waits for the next day instead of
//! calling. Google's answers map to the stage's error kinds:
//!
//! | answer | error | queue |
//! |---|---|---|
//! | 429, per-minute quota | [`PageSpeedError::RateLimited`] | retried after `Retry-After` (60 s if absent) |
//! | 429, per-day quota | [`PageSpeedError::DailyQuota`] | waits until midnight Pacific time, no attempt spent |
//! | 400/500 "Lighthouse returned error: CODE" | [`PageSpeedError::Page`] | as a local runtime error |
//! | other 4xx (bad key, API disabled) | [`PageSpeedError::Rejected`] | permanent |
//! | 5xx, network errors, timeouts | [`PageSpeedError::Unavailable`], [`PageSpeedError::Http`] | retried |

use std::time::Duration;

use chrono::{DateTime, Days, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use reqwest::{StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::PgPool;
use url::Url;

use super::{
    queries,
    report::{InvalidReport, LighthouseReport, MAX_REPORT_BYTES, PageError},
    settings::{FormFactor, PageSpeedSettings},
};

/// The `api_usage.provider` of PageSpeed Insights calls.
pub const USAGE_PROVIDER: &str = "pagespeed";
/// The `api_usage.operation` of PageSpeed Insights calls.
pub const USAGE_OPERATION: &str = "runPagespeed";

/// The categories requested, explicitly (the API's default is performance only).
pub const CATEGORIES: [&str; 4] = ["PERFORMANCE", "ACCESSIBILITY", "BEST_PRACTICES", "SEO"];

/// Why PageSpeed Insights gave no usable result.
#[derive(Debug, thiserror::Error)]
pub enum PageSpeedError {
    /// Too many requests for now.
    #[error("PageSpeed Insights is rate limiting (HTTP 429): {message}")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
        /// Google's message.
        message: String,
    },
    /// The day's quota is spent.
    #[error("the PageSpeed Insights daily quota is spent: {message}")]
    DailyQuota {
        /// Until the next Pacific-time day.
        wait: Duration,
        /// Google's message, or ours when the local count reached the quota.
        message: String,
    },
    /// Lighthouse (on Google's side) could not audit the page.
    #[error("PageSpeed Insights could not audit the page: {} ({})", .0.message, .0.code)]
    Page(PageError),
    /// A request Google will never accept (bad key, API not enabled, bad URL).
    #[error("PageSpeed Insights refused the request (HTTP {status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Google's message.
        message: String,
    },
    /// Google failed; worth a retry.
    #[error("PageSpeed Insights failed (HTTP {status}): {message}")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// Google's message.
        message: String,
        /// `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// No answer (connection, timeout).
    #[error("could not reach PageSpeed Insights: {0}")]
    Http(#[source] reqwest::Error),
    /// An answer that is not a PageSpeed Insights result.
    #[error("unexpected PageSpeed Insights answer: {0}")]
    InvalidResponse(String),
    /// Reading or writing the usage ledger failed.
    #[error("could not check the PageSpeed Insights quota")]
    Ledger(#[source] sqlx::Error),
}

impl PageSpeedError {
    /// Retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        match self {
            PageSpeedError::Rejected { .. } => true,
            PageSpeedError::Page(page) => page.is_permanent(),
            PageSpeedError::Ledger(e) => !crate::runtime::is_transient_db_error(e),
            _ => false,
        }
    }

    /// The delay Google asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PageSpeedError::RateLimited { retry_after, .. } => Some(*retry_after),
            PageSpeedError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Not a failure: come back when the quota is renewed.
    pub fn wait(&self) -> Option<Duration> {
        match self {
            PageSpeedError::DailyQuota { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct PageSpeedRun {
    /// The whole response body (the PSI v5 JSON document).
    pub body: Vec<u8>,
}

impl PageSpeedRun {
    /// Read the Lighthouse result inside the answer.
    pub fn report(&self) -> Result<LighthouseReport, InvalidReport> {
        let raw: RawRunResponse = serde_json::from_slice(&self.body)?;
        LighthouseReport::from_value(raw.lighthouse_result)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRunResponse {
    lighthouse_result: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
struct RawErrorBody {
    #[serde(default)]
    error: RawError,
}

#[derive(Debug, Default, Deserialize)]
struct RawError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<RawErrorDetail>,
}

#[derive(Debug, Deserialize)]
struct RawErrorDetail {
    #[serde(default)]
    metadata: Option<RawQuotaMetadata>,
}

#[derive(Debug, Deserialize)]
struct RawQuotaMetadata {
    #[serde(default)]
    quota_limit: Option<String>,
}

/// The PageSpeed Insights v5 client.
#[derive(Clone)]
pub struct PageSpeedClient {
    http: reqwest::Client,
    endpoint: Url,
    api_key: Option<SecretString>,
    locale: String,
    daily_quota: Option<u32>,
}

impl std::fmt::Debug for PageSpeedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageSpeedClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("daily_quota", &self.daily_quota)
            .finish_non_exhaustive()
    }
}

impl PageSpeedClient {
    /// A client for `settings` (its base URL may be a local server in tests).
    pub fn new(settings: &PageSpeedSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .user_agent(concat!("prospector/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            endpoint: endpoint(&settings.base_url),
            api_key: settings.api_key.clone(),
            locale: settings.locale.clone(),
            daily_quota: settings.daily_quota,
        })
    }

    /// The request URL for `url` (without the key, which goes in a header).
    pub fn request_url(&self, url: &Url, form_factor: FormFactor) -> Url {
        request_url(&self.endpoint, url, form_factor, &self.locale)
    }

    /// Run PageSpeed Insights on `url`, checking and recording the quota in
    /// `pool`'s `api_usage`.
    pub async fn run(
        &self,
        pool: &PgPool,
        url: &Url,
        form_factor: FormFactor,
    ) -> Result<PageSpeedRun, PageSpeedError> {
        let now = Utc::now();
        let day_start = pacific_day_start(now);
        if let Some(quota) = self.daily_quota {
            let used = queries::count_api_usage_since(pool, USAGE_PROVIDER, day_start)
                .await
                .map_err(PageSpeedError::Ledger)?;
            if used >= i64::from(quota) {
                return Err(PageSpeedError::DailyQuota {
                    wait: until_next_pacific_day(now),
                    message: format!("{used} requests today reached audit.pagespeed.daily_quota = {quota}"),
                });
            }
        }

        let mut request = self.http.get(self.request_url(url, form_factor));
        if let Some(key) = &self.api_key {
            request = request.header("X-Goog-Api-Key", key.expose_secret());
        }
        let response = request
            .send()
            .await
            .map_err(|e| PageSpeedError::Http(e.without_url()))?;
        queries::record_api_usage(pool, USAGE_PROVIDER, USAGE_OPERATION)
            .await
            .map_err(PageSpeedError::Ledger)?;

        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()));
        let body = read_capped(response, MAX_REPORT_BYTES).await?;
        if status.is_success() {
            return Ok(PageSpeedRun { body: body.to_vec() });
        }
        Err(classify_failure(status, retry_after, &body, Utc::now()))
    }
}

/// The body, refused as soon as it passes `limit` bytes (announced or read).
async fn read_capped(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, PageSpeedError> {
    let too_large = || PageSpeedError::InvalidResponse(format!("the answer is larger than {limit} bytes"));
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| PageSpeedError::Http(e.without_url()))?
    {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn endpoint(base_url: &Url) -> Url {
    let mut endpoint = base_url.clone();
    if let Ok(mut segments) = endpoint.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(["pagespeedonline", "v5", "runPagespeed"]);
    }
    endpoint
}

fn request_url(endpoint: &Url, url: &Url, form_factor: FormFactor, locale: &str) -> Url {
    let mut request = endpoint.clone();
    {
        let mut query = request.query_pairs_mut();
        query
            .append_pair("url", url.as_str())
            .append_pair("strategy", form_factor.as_str());
        for category in CATEGORIES {
            query.append_pair("category", category);
        }
        query.append_pair("locale", locale);
    }
    request
}

/// What a non-2xx answer means.
fn classify_failure(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    now: DateTime<Utc>,
) -> PageSpeedError {
    let error = serde_json::from_slice::<RawErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_default();
    let message = if error.message.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
    } else {
        error.message.clone()
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        let per_day = message.to_ascii_lowercase().contains("per day")
            || error.details.iter().any(|d| {
                d.metadata
                    .as_ref()
                    .and_then(|m| m.quota_limit.as_deref())
                    .is_some_and(|limit| limit.to_ascii_lowercase().contains("perday"))
            });
        if per_day {
            return PageSpeedError::DailyQuota {
                wait: until_next_pacific_day(now),
                message,
            };
        }
        return PageSpeedError::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(60)),
            message,
        };
    }
    if let Some(page) = lighthouse_error(&message) {
        return PageSpeedError::Page(page);
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return PageSpeedError::Unavailable {
            status: status.as_u16(),
            message,
            retry_after,
        };
    }
    PageSpeedError::Rejected {
        status: status.as_u16(),
        message,
    }
}

/// `Lighthouse returned error: ERRORED_DOCUMENT_REQUEST. Lighthouse was unable…`
fn lighthouse_error(message: &str) -> Option<PageError> {
    let (_, rest) = message.split_once("Lighthouse returned error: ")?;
    let code: String = rest
        .chars()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    if code.is_empty() {
        return None;
    }
    let detail = rest[code.len()..].trim_start_matches(['.', ' ']).trim();
    Some(PageError {
        code,
        message: if detail.is_empty() {
            message.to_owned()
        } else {
            detail.to_owned()
        },
    })
}

/// Google's daily quotas reset at midnight Pacific time.
fn pacific_day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&Los_Angeles).date_naive();
    Los_Angeles
        .from_local_datetime(&local.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(now, |t| t.with_timezone(&Utc))
}

/// Time until the next Pacific-time midnight, plus a minute of slack.
fn until_next_pacific_day(now: DateTime<Utc>) -> Duration {
    let tomorrow = now
        .with_timezone(&Los_Angeles)
        .date_naive()
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 1, 0))
        .and_then(|t| Los_Angeles.from_local_datetime(&t).earliest());
    tomorrow
        .and_then(|t| (t.with_timezone(&Utc) - now).to_std().ok())
        .unwrap_or(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &[u8] = include_bytes!("../../tests/fixtures/pagespeed-v5-heavy-mobile.json");
    const DAILY: &[u8] = include_bytes!("../../tests/fixtures/pagespeed-v5-error-daily-quota.json");
    const PER_MINUTE: &[u8] = include_bytes!("../../tests/fixtures/pagespeed-v5-error-rate-limit.json");
    const PAGE_404: &[u8] = include_bytes!("../../tests/fixtures/pagespeed-v5-error-lighthouse-404.json");

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// A server that answers once with `body`, announced or chunked.
    async fn answer(body: Vec<u8>, announce: bool) -> reqwest::Response {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request).await;
            let mut out =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n".to_vec();
            if announce {
                out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(&body);
            } else {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
                for part in body.chunks(300) {
                    out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    out.extend_from_slice(part);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            let _ = socket.write_all(&out).await;
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_answer_over_the_size_limit_is_refused_announced_or_not() {
        for announce in [true, false] {
            let small = read_capped(answer(vec![b'x'; 900], announce).await, 1000)
                .await
                .unwrap();
            assert_eq!(small.len(), 900);
            let error = read_capped(answer(vec![b'x'; 5000], announce).await, 1000)
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains("larger than 1000 bytes"),
                "{announce}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn a_report_file_over_the_limit_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_REPORT_BYTES + 1).unwrap();
        let error = crate::audit::report::read_report_file(&path).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
        std::fs::write(&path, b"{}").unwrap();
        assert_eq!(
            crate::audit::report::read_report_file(&path).await.unwrap(),
            b"{}"
        );
    }

    #[test]
    fn a_psi_answer_maps_into_the_same_report_as_a_local_run() {
        let run = PageSpeedRun {
            body: REPORT.to_vec(),
        };
        let report = run.report().unwrap();
        assert_eq!(report.form_factor, Some(FormFactor::Mobile));
        let m = report.outcome.unwrap();
        for score in [
            m.scores.performance,
            m.scores.accessibility,
            m.scores.best_practices,
            m.scores.seo,
        ] {
            assert!(score.is_some_and(|s| s.get() <= 100));
        }
        assert!(m.metrics.largest_contentful_paint_ms.unwrap() > 0);
        assert_eq!(m.mobile.is_mobile_friendly, Some(false));
        assert!(m.failing_audits.iter().any(|a| a.id == "viewport"));
    }

    #[test]
    fn the_per_day_quota_waits_for_midnight_pacific() {
        let now = at("2026-11-23T20:00:00Z"); // 12:00 in Los Angeles
        let error = classify_failure(StatusCode::TOO_MANY_REQUESTS, None, DAILY, now);
        let wait = error.wait().expect("a daily quota waits");
        assert_eq!(wait, Duration::from_secs(12 * 3600 + 60));
        assert!(!error.is_permanent());
        assert_eq!(error.retry_after(), None);
    }

    #[test]
    fn the_per_minute_quota_retries_after_the_asked_delay() {
        let now = at("2026-11-23T20:00:00Z");
        let error = classify_failure(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(17)),
            PER_MINUTE,
            now,
        );
        assert_eq!(error.retry_after(), Some(Duration::from_secs(17)));
        assert_eq!(error.wait(), None);
        let no_header = classify_failure(StatusCode::TOO_MANY_REQUESTS, None, PER_MINUTE, now);
        assert_eq!(no_header.retry_after(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn a_page_error_from_google_keeps_lighthouses_code() {
        let error = classify_failure(StatusCode::BAD_REQUEST, None, PAGE_404, Utc::now());
        let PageSpeedError::Page(page) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(page.code, "ERRORED_DOCUMENT_REQUEST");
        assert_eq!(page.http_status(), Some(404));
        assert!(error.is_permanent());
    }

    #[test]
    fn other_answers_are_permanent_for_4xx_and_retried_for_5xx() {
        let body = br#"{"error":{"code":403,"message":"API key not valid. Please pass a valid API key.","status":"PERMISSION_DENIED"}}"#;
        let forbidden = classify_failure(StatusCode::FORBIDDEN, None, body, Utc::now());
        assert!(forbidden.is_permanent(), "{forbidden}");
        assert!(forbidden.to_string().contains("API key not valid"));
        let unavailable = classify_failure(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(Duration::from_secs(5)),
            b"<html>busy</html>",
            Utc::now(),
        );
        assert!(!unavailable.is_permanent());
        assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn the_pacific_day_starts_at_local_midnight_across_dst() {
        assert_eq!(
            pacific_day_start(at("2026-11-23T20:00:00Z")),
            at("2026-11-23T08:00:00Z")
        );
        assert_eq!(
            pacific_day_start(at("2026-07-01T06:59:00Z")),
            at("2026-06-30T07:00:00Z")
        );
    }

    #[test]
    fn requests_name_every_category_and_the_strategy() {
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        let url = request_url(
            &endpoint(&base),
            &Url::parse("https://bakery.example/").unwrap(),
            FormFactor::Desktop,
            "en",
        );
        assert_eq!(url.path(), "/pagespeedonline/v5/runPagespeed");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let values = |key: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(values("url"), ["https://bakery.example/"]);
        assert_eq!(values("strategy"), ["desktop"]);
        assert_eq!(values("category"), CATEGORIES);
        assert_eq!(values("locale"), ["en"]);
    }
}
