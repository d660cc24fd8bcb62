//! A Lighthouse result (LHR JSON, from the CLI, the resident driver or inside
//! a PageSpeed Insights response) read once into [`LighthouseReport`].
//!
//! Only what the stage stores is read; everything else in the report is kept
//! verbatim in the compressed copy. The `Raw*` structs mirror the JSON and
//! never leave this module.

use std::collections::HashMap;

use serde::Deserialize;

use super::{
    evidence::{self, FailingAudit},
    mobile::{self, MobileFriendliness},
    settings::FormFactor,
};
use crate::domain::Score;

/// The largest report read into memory (a Lighthouse result or a PageSpeed
/// Insights answer): real ones are 0.3–5 MiB; a bigger one is refused
/// before it is read, not parsed.
pub const MAX_REPORT_BYTES: u64 = 48 * 1024 * 1024;

/// A report file, read only when it is at most [`MAX_REPORT_BYTES`].
pub async fn read_report_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let len = tokio::fs::metadata(path).await?.len();
    if len > MAX_REPORT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the report is {len} bytes, over the {MAX_REPORT_BYTES}-byte limit"),
        ));
    }
    tokio::fs::read(path).await
}

/// A report that is not a Lighthouse result we can read.
#[derive(Debug, thiserror::Error)]
#[error("not a readable Lighthouse result: {0}")]
pub struct InvalidReport(#[from] pub serde_json::Error);

/// What one Lighthouse run said about a page.
#[derive(Debug, Clone, PartialEq)]
pub struct LighthouseReport {
    /// `lighthouseVersion`, e.g. `12.8.2`.
    pub lighthouse_version: String,
    /// The URL Lighthouse was asked to load.
    pub requested_url: Option<String>,
    /// The URL of the main document after redirects.
    pub final_url: Option<String>,
    /// The emulated device, as Lighthouse reports it.
    pub form_factor: Option<FormFactor>,
    /// The measurements, or why the page could not be audited.
    pub outcome: Result<Measurements, PageError>,
}

/// Lighthouse's `runtimeError`: the page could not be audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    /// Lighthouse's error code, e.g. `ERRORED_DOCUMENT_REQUEST`, `DNS_FAILURE`.
    pub code: String,
    /// Its human-readable message.
    pub message: String,
}

/// Codes that say the site itself cannot be audited (retrying cannot help),
/// unless the document answered with a 5xx status (see [`PageError::is_permanent`]).
const SITE_ERROR_CODES: &[&str] = &[
    "NO_DOCUMENT_REQUEST",
    "FAILED_DOCUMENT_REQUEST",
    "ERRORED_DOCUMENT_REQUEST",
    "INSECURE_DOCUMENT_REQUEST",
    "CHROME_INTERSTITIAL_ERROR",
    "NOT_HTML",
    "INVALID_URL",
    "DNS_FAILURE",
];

impl PageError {
    /// Site-level errors (a 404, a DNS failure, a TLS interstitial, not
    /// HTML) are permanent; a 5xx answer and Lighthouse's own trouble
    /// (`PROTOCOL_TIMEOUT`, `NO_FCP`, `TARGET_CRASHED`, …) are worth a retry.
    pub fn is_permanent(&self) -> bool {
        SITE_ERROR_CODES.contains(&self.code.as_str()) && self.http_status().is_none_or(|status| status < 500)
    }

    /// The document's HTTP status, when the message names one
    /// (`… (Status code: 404)`).
    pub fn http_status(&self) -> Option<u16> {
        let (_, rest) = self.message.split_once("Status code: ")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }
}

/// The four category scores, 0–100 (Lighthouse's 0–1 × 100, rounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LighthouseScores {
    /// `categories.performance.score`
    pub performance: Option<Score>,
    /// `categories.accessibility.score`
    pub accessibility: Option<Score>,
    /// `categories.best-practices.score`
    pub best_practices: Option<Score>,
    /// `categories.seo.score`
    pub seo: Option<Score>,
}

/// Lab metrics, from the metric audits' `numericValue`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    /// First Contentful Paint.
    pub first_contentful_paint_ms: Option<i32>,
    /// Largest Contentful Paint.
    pub largest_contentful_paint_ms: Option<i32>,
    /// Total Blocking Time.
    pub total_blocking_time_ms: Option<i32>,
    /// Cumulative Layout Shift (unitless).
    pub cumulative_layout_shift: Option<f64>,
    /// Speed Index.
    pub speed_index_ms: Option<i32>,
    /// Bytes transferred by the page load.
    pub total_byte_weight: Option<i64>,
    /// Time the server took to answer the main document.
    pub server_response_time_ms: Option<i32>,
}

/// Everything measured on a page that loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurements {
    /// Category scores.
    pub scores: LighthouseScores,
    /// Lab metrics.
    pub metrics: Metrics,
    /// Mobile-friendliness and the checks it was derived from.
    pub mobile: MobileFriendliness,
    /// Failing audits a salesperson can quote, with their displayed values.
    pub failing_audits: Vec<FailingAudit>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLhr {
    lighthouse_version: String,
    #[serde(default)]
    requested_url: Option<String>,
    #[serde(default)]
    main_document_url: Option<String>,
    #[serde(default)]
    final_displayed_url: Option<String>,
    #[serde(default)]
    runtime_error: Option<RawRuntimeError>,
    #[serde(default)]
    config_settings: Option<RawConfigSettings>,
    #[serde(default)]
    categories: HashMap<String, RawCategory>,
    #[serde(default)]
    audits: HashMap<String, RawAudit>,
}

#[derive(Debug, Deserialize)]
struct RawRuntimeError {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfigSettings {
    #[serde(default)]
    form_factor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawCategory {
    #[serde(default)]
    score: Option<f64>,
}

/// One audit. Its `details` are only read for the savings totals.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawAudit {
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) score: Option<f64>,
    #[serde(default)]
    pub(super) score_display_mode: String,
    #[serde(default)]
    pub(super) display_value: Option<String>,
    #[serde(default)]
    pub(super) numeric_value: Option<f64>,
    #[serde(default)]
    pub(super) numeric_unit: Option<String>,
    #[serde(default)]
    pub(super) details: Option<RawDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawDetails {
    #[serde(default)]
    pub(super) overall_savings_ms: Option<f64>,
    #[serde(default)]
    pub(super) overall_savings_bytes: Option<f64>,
}

impl RawAudit {
    /// Pass/fail for audits Lighthouse scores (`binary`, `numeric`,
    /// `metricSavings`), by its own threshold: 0.9 and up passes.
    /// `None` for informative, manual, not-applicable and errored audits.
    pub(super) fn passed(&self) -> Option<bool> {
        match self.score_display_mode.as_str() {
            "binary" | "numeric" | "metricSavings" => self.score.map(|s| s >= 0.9),
            _ => None,
        }
    }
}

impl LighthouseReport {
    /// Read a Lighthouse result (LHR) JSON document.
    pub fn parse(json: &[u8]) -> Result<Self, InvalidReport> {
        let raw: RawLhr = serde_json::from_slice(json)?;
        Ok(Self::from_raw(raw))
    }

    /// Read the LHR inside a larger document already parsed (PageSpeed
    /// Insights' `lighthouseResult`).
    pub(super) fn from_value(value: serde_json::Value) -> Result<Self, InvalidReport> {
        let raw: RawLhr = serde_json::from_value(value)?;
        Ok(Self::from_raw(raw))
    }

    fn from_raw(raw: RawLhr) -> Self {
        let form_factor = raw
            .config_settings
            .and_then(|s| s.form_factor)
            .and_then(|f| f.parse().ok());
        let outcome = match raw.runtime_error {
            Some(error) => Err(PageError {
                code: error.code,
                message: error.message,
            }),
            None => Ok(measure(&raw.categories, &raw.audits)),
        };
        Self {
            lighthouse_version: raw.lighthouse_version,
            requested_url: raw.requested_url,
            final_url: raw.main_document_url.or(raw.final_displayed_url),
            form_factor,
            outcome,
        }
    }
}

fn measure(categories: &HashMap<String, RawCategory>, audits: &HashMap<String, RawAudit>) -> Measurements {
    let category = |id: &str| {
        categories
            .get(id)
            .and_then(|c| c.score)
            .map(|s| Score::clamped(s * 100.0))
    };
    let numeric = |id: &str| {
        audits
            .get(id)
            .and_then(|a| a.numeric_value)
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let millis = |id: &str| numeric(id).map(|v| v.round().min(f64::from(i32::MAX)) as i32);
    Measurements {
        scores: LighthouseScores {
            performance: category("performance"),
            accessibility: category("accessibility"),
            best_practices: category("best-practices"),
            seo: category("seo"),
        },
        metrics: Metrics {
            first_contentful_paint_ms: millis("first-contentful-paint"),
            largest_contentful_paint_ms: millis("largest-contentful-paint"),
            total_blocking_time_ms: millis("total-blocking-time"),
            cumulative_layout_shift: numeric("cumulative-layout-shift"),
            speed_index_ms: millis("speed-index"),
            total_byte_weight: numeric("total-byte-weight").map(|v| v.round() as i64),
            server_response_time_ms: millis("server-response-time"),
        },
        mobile: mobile::derive(audits),
        failing_audits: evidence::failing_audits(audits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAN: &[u8] = include_bytes!("../../tests/fixtures/lighthouse-12-lean-mobile.json");
    const HEAVY: &[u8] = include_bytes!("../../tests/fixtures/lighthouse-12-heavy-mobile.json");
    const NOT_FOUND: &[u8] = include_bytes!("../../tests/fixtures/lighthouse-12-404.json");
    const DNS: &[u8] = include_bytes!("../../tests/fixtures/lighthouse-12-dns-failure.json");

    fn measured(json: &[u8]) -> (LighthouseReport, Measurements) {
        let report = LighthouseReport::parse(json).unwrap();
        let measurements = report.outcome.clone().unwrap();
        (report, measurements)
    }

    #[test]
    fn a_lean_page_reads_as_fast_and_mobile_friendly() {
        let (report, m) = measured(LEAN);
        assert_eq!(report.lighthouse_version, "12.8.2");
        assert_eq!(report.form_factor, Some(FormFactor::Mobile));
        assert!(report.final_url.as_deref().unwrap().ends_with("/lean/"));
        for score in [m.scores.performance, m.scores.accessibility, m.scores.seo] {
            assert!(score.unwrap().get() >= 90, "{score:?}");
        }
        assert!(m.scores.best_practices.is_some());
        let metrics = m.metrics;
        assert!(metrics.first_contentful_paint_ms.unwrap() > 0);
        assert!(metrics.largest_contentful_paint_ms.unwrap() >= metrics.first_contentful_paint_ms.unwrap());
        assert!(metrics.total_blocking_time_ms.is_some());
        assert!(metrics.cumulative_layout_shift.unwrap() < 0.1);
        assert!(metrics.speed_index_ms.unwrap() > 0);
        assert!(metrics.total_byte_weight.unwrap() > 0);
        assert_eq!(m.mobile.is_mobile_friendly, Some(true));
        assert!(
            !m.failing_audits.iter().any(|a| a.id == "viewport"),
            "{:?}",
            m.failing_audits
        );
    }

    #[test]
    fn a_heavy_page_reads_as_slow_with_evidence() {
        let (_, lean) = measured(LEAN);
        let (_, heavy) = measured(HEAVY);
        assert!(heavy.scores.performance < lean.scores.performance);
        assert!(heavy.scores.seo < lean.scores.seo);
        assert!(heavy.scores.accessibility < lean.scores.accessibility);
        assert!(heavy.metrics.largest_contentful_paint_ms > lean.metrics.largest_contentful_paint_ms);
        assert!(heavy.metrics.total_byte_weight.unwrap() > 1_000_000);
        assert_eq!(heavy.mobile.is_mobile_friendly, Some(false));
        let ids: Vec<&str> = heavy.failing_audits.iter().map(|a| a.id.as_str()).collect();
        for expected in ["viewport", "largest-contentful-paint", "meta-description"] {
            assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
        }
        assert!(
            ids.iter().any(|id| id.starts_with("render-blocking")),
            "no render-blocking evidence in {ids:?}"
        );
        let lcp = heavy
            .failing_audits
            .iter()
            .find(|a| a.id == "largest-contentful-paint")
            .unwrap();
        // Lighthouse separates number and unit with a no-break space: "24.9\u{a0}s".
        assert!(
            lcp.display_value.as_deref().unwrap().ends_with("\u{a0}s"),
            "{lcp:?}"
        );
        assert!(lcp.score.unwrap().get() < 90);
    }

    #[test]
    fn a_404_is_a_permanent_page_error_with_its_code() {
        let report = LighthouseReport::parse(NOT_FOUND).unwrap();
        let error = report.outcome.unwrap_err();
        assert_eq!(error.code, "ERRORED_DOCUMENT_REQUEST");
        assert_eq!(error.http_status(), Some(404));
        assert!(error.is_permanent());
    }

    #[test]
    fn a_dns_failure_is_permanent() {
        let error = LighthouseReport::parse(DNS).unwrap().outcome.unwrap_err();
        assert!(error.is_permanent(), "{error:?}");
        assert!(!error.message.is_empty());
    }

    #[test]
    fn server_errors_and_tooling_errors_are_transient() {
        let cases = [
            (
                "ERRORED_DOCUMENT_REQUEST",
                "Lighthouse was unable to reliably load the page you requested. (Status code: 503)",
                false,
            ),
            (
                "PROTOCOL_TIMEOUT",
                "Waiting for DevTools protocol response has exceeded the allotted time.",
                false,
            ),
            ("NO_FCP", "The page did not paint any content.", false),
            (
                "CHROME_INTERSTITIAL_ERROR",
                "Chrome prevented page load with an interstitial.",
                true,
            ),
            (
                "INSECURE_DOCUMENT_REQUEST",
                "The URL you have provided does not have a valid security certificate.",
                true,
            ),
        ];
        for (code, message, permanent) in cases {
            let error = PageError {
                code: code.into(),
                message: message.into(),
            };
            assert_eq!(error.is_permanent(), permanent, "{code}: {message}");
        }
    }

    #[test]
    fn garbage_is_an_invalid_report() {
        assert!(LighthouseReport::parse(b"<html>").is_err());
        assert!(LighthouseReport::parse(br#"{"audits": {}}"#).is_err());
    }
}
