//! The failing audits a salesperson can put in front of a business owner,
//! each with what Lighthouse displayed for it ("LCP 7.9 s", "Potential
//! savings of 2,430 KiB"). Stored as `failing_audits` (see docs/audit.md).
//!
//! Only the audits in [`SALES_AUDITS`] are kept, in that order: each says
//! something a visitor or a search engine notices. An audit fails when
//! Lighthouse scored it below its own pass mark (0.9).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::report::RawAudit;
use crate::domain::Score;

/// What a failing audit is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// The page is slow to show or to respond.
    Speed,
    /// The page is hard to use on a phone.
    Mobile,
    /// Search engines will rank or show it poorly.
    Search,
    /// Visitors may distrust it (no HTTPS, errors, distorted images).
    Trust,
    /// People with disabilities cannot use it well.
    Accessibility,
}

/// The audits that matter for sales, most telling first within each topic.
pub const SALES_AUDITS: &[(&str, Topic)] = &[
    ("largest-contentful-paint", Topic::Speed),
    ("first-contentful-paint", Topic::Speed),
    ("speed-index", Topic::Speed),
    ("total-blocking-time", Topic::Speed),
    ("cumulative-layout-shift", Topic::Speed),
    ("server-response-time", Topic::Speed),
    ("render-blocking-insight", Topic::Speed),
    ("render-blocking-resources", Topic::Speed),
    ("total-byte-weight", Topic::Speed),
    ("image-delivery-insight", Topic::Speed),
    ("uses-optimized-images", Topic::Speed),
    ("modern-image-formats", Topic::Speed),
    ("uses-responsive-images", Topic::Speed),
    ("offscreen-images", Topic::Speed),
    ("uses-text-compression", Topic::Speed),
    ("cache-insight", Topic::Speed),
    ("uses-long-cache-ttl", Topic::Speed),
    ("unused-javascript", Topic::Speed),
    ("bootup-time", Topic::Speed),
    ("redirects", Topic::Speed),
    ("viewport", Topic::Mobile),
    ("font-size", Topic::Mobile),
    ("target-size", Topic::Mobile),
    ("image-size-responsive", Topic::Mobile),
    ("document-title", Topic::Search),
    ("meta-description", Topic::Search),
    ("http-status-code", Topic::Search),
    ("is-crawlable", Topic::Search),
    ("link-text", Topic::Search),
    ("crawlable-anchors", Topic::Search),
    ("hreflang", Topic::Search),
    ("canonical", Topic::Search),
    ("robots-txt", Topic::Search),
    ("is-on-https", Topic::Trust),
    ("redirects-http", Topic::Trust),
    ("errors-in-console", Topic::Trust),
    ("image-aspect-ratio", Topic::Trust),
    ("deprecations", Topic::Trust),
    ("geolocation-on-start", Topic::Trust),
    ("notification-on-start", Topic::Trust),
    ("color-contrast", Topic::Accessibility),
    ("image-alt", Topic::Accessibility),
    ("html-has-lang", Topic::Accessibility),
    ("link-name", Topic::Accessibility),
    ("button-name", Topic::Accessibility),
    ("label", Topic::Accessibility),
    ("heading-order", Topic::Accessibility),
    ("meta-viewport", Topic::Accessibility),
];

/// One failing audit and what Lighthouse displayed for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingAudit {
    /// Lighthouse's audit id, e.g. `render-blocking-insight`.
    pub id: String,
    /// What it is evidence of.
    pub topic: Topic,
    /// Lighthouse's title (English).
    pub title: String,
    /// Lighthouse's score for the audit, 0–100.
    pub score: Option<Score>,
    /// What Lighthouse displays next to the title, e.g. `7.9 s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_value: Option<String>,
    /// The measured value behind it, in `numeric_unit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numeric_value: Option<f64>,
    /// `millisecond`, `byte`, `unitless`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numeric_unit: Option<String>,
    /// Time a fix would save, when Lighthouse estimates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savings_ms: Option<f64>,
    /// Bytes a fix would save, when Lighthouse estimates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savings_bytes: Option<f64>,
}

/// The failing sales audits of a report, in [`SALES_AUDITS`] order.
pub(super) fn failing_audits(audits: &HashMap<String, RawAudit>) -> Vec<FailingAudit> {
    SALES_AUDITS
        .iter()
        .filter_map(|(id, topic)| {
            let audit = audits.get(*id)?;
            if audit.passed()? {
                return None;
            }
            let details = audit.details.as_ref();
            Some(FailingAudit {
                id: (*id).to_owned(),
                topic: *topic,
                title: audit.title.clone(),
                score: audit.score.map(|s| Score::clamped(s * 100.0)),
                display_value: audit.display_value.clone().filter(|v| !v.is_empty()),
                numeric_value: audit.numeric_value.filter(|v| v.is_finite()),
                numeric_unit: audit.numeric_unit.clone(),
                savings_ms: details.and_then(|d| d.overall_savings_ms).filter(|v| *v > 0.0),
                savings_bytes: details.and_then(|d| d.overall_savings_bytes).filter(|v| *v > 0.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(mode: &str, score: Option<f64>) -> RawAudit {
        serde_json::from_value(serde_json::json!({
            "title": "Some audit",
            "score": score,
            "scoreDisplayMode": mode,
            "displayValue": "3.2 s",
            "numericValue": 3200.0,
            "numericUnit": "millisecond",
            "details": {"type": "opportunity", "overallSavingsMs": 1200.0}
        }))
        .unwrap()
    }

    #[test]
    fn only_scored_audits_below_the_pass_mark_fail() {
        let audits: HashMap<String, RawAudit> = [
            ("largest-contentful-paint", audit("numeric", Some(0.42))),
            ("first-contentful-paint", audit("numeric", Some(0.9))),
            ("viewport", audit("metricSavings", Some(0.0))),
            ("font-size", audit("notApplicable", None)),
            ("target-size", audit("informative", Some(0.0))),
            ("is-on-https", audit("error", None)),
            ("not-a-sales-audit", audit("binary", Some(0.0))),
        ]
        .into_iter()
        .map(|(id, a)| (id.to_owned(), a))
        .collect();

        let failing = failing_audits(&audits);

        let ids: Vec<&str> = failing.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["largest-contentful-paint", "viewport"]);
        let lcp = &failing[0];
        assert_eq!(lcp.topic, Topic::Speed);
        assert_eq!(lcp.score.unwrap().get(), 42);
        assert_eq!(lcp.display_value.as_deref(), Some("3.2 s"));
        assert_eq!(lcp.savings_ms, Some(1200.0));
        assert_eq!(failing[1].topic, Topic::Mobile);
    }

    #[test]
    fn sales_audits_are_listed_once() {
        let mut ids: Vec<&str> = SALES_AUDITS.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before);
    }
}
