//! Turning what a scan found into the rows it stores: the tech profile and
//! its `tech_stack_json` document, the prospect update, and whether the
//! audit applies.

use crate::domain::ProspectStatus;
use std::time::Duration;

use serde_json::{Value, json};

use super::{
    contacts::{self, StoredContact},
    fetch::{
        Hop, Page,
        dns::DnsRecords,
        robots::{RobotsRules, RobotsState},
    },
    fingerprint::Detection,
    probe::{Attempt, TlsOutcome},
    queries::{ProfileRow, ProspectUpdate, ScanTarget},
    scan::{DOCUMENT_VERSION, HomeAnalysis, PageVisit, ScanOutcome},
    summary,
};

fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn base_profile(target: &ScanTarget) -> ProfileRow {
    ProfileRow {
        prospect_id: target.id,
        redirect_chain: json!([]),
        tech_stack_json: json!({}),
        ..ProfileRow::default()
    }
}

fn document(
    target: &ScanTarget,
    outcome: &str,
    detections: &[Detection],
    dns: &DnsRecords,
    extra: Value,
) -> Value {
    let mut doc = json!({
        "version": DOCUMENT_VERSION,
        "outcome": outcome,
        "domain": target.domain_name,
        "detections": detections,
        "dns": dns,
    });
    if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
        doc.extend(extra);
    }
    doc
}

pub(super) fn social_only(
    target: &ScanTarget,
    profile_url: &str,
    redirects: &[Hop],
    attempts: &[Attempt],
    dns: &DnsRecords,
    dns_detections: &[Detection],
) -> ScanOutcome {
    let mut profile = base_profile(target);
    profile.is_social_only = true;
    profile.social_profile_url = Some(profile_url.chars().take(500).collect());
    profile.redirect_chain = json!(redirects);
    profile.unreachable_reason = Some("the website is a social network profile".into());
    profile.tech_stack_json = document(
        target,
        "social_only",
        dns_detections,
        dns,
        json!({"social_profile_url": profile_url, "attempts": attempts}),
    );
    apply_dns_providers(&mut profile, dns_detections);
    ScanOutcome {
        prospect: ProspectUpdate {
            id: target.id,
            has_website: false,
            uses_https: false,
            http_status_code: None,
            website_url: None,
            status: ProspectStatus::Active,
            email: None,
            phone: None,
        },
        profile,
        contacts: Vec::new(),
        skip_audit: Some("the website is only a social network profile".into()),
    }
}

pub(super) fn unreachable(
    target: &ScanTarget,
    reason: &str,
    attempts: &[Attempt],
    tls: &TlsOutcome,
    dns: &DnsRecords,
    dns_detections: &[Detection],
) -> ScanOutcome {
    let mut profile = base_profile(target);
    let reason: String = reason.chars().take(500).collect();
    profile.unreachable_reason = Some(reason.clone());
    apply_tls(&mut profile, tls);
    profile.tech_stack_json = document(
        target,
        "unreachable",
        dns_detections,
        dns,
        json!({"attempts": attempts, "tls": tls}),
    );
    apply_dns_providers(&mut profile, dns_detections);
    ScanOutcome {
        prospect: ProspectUpdate {
            id: target.id,
            has_website: false,
            uses_https: false,
            http_status_code: None,
            website_url: None,
            status: ProspectStatus::Inactive,
            email: None,
            phone: None,
        },
        profile,
        contacts: Vec::new(),
        skip_audit: Some(format!(
            "no reachable website: {}",
            reason.chars().take(200).collect::<String>()
        )),
    }
}

/// Providers named by DNS alone (the site itself could not be analysed).
fn apply_dns_providers(profile: &mut ProfileRow, detections: &[Detection]) {
    let summary = summary::summarize(detections);
    profile.dns_provider = summary.dns_provider;
    profile.email_provider = summary.email_provider;
}

fn apply_tls(profile: &mut ProfileRow, tls: &TlsOutcome) {
    profile.tls_valid = tls.valid;
    profile.tls_error = tls.error.as_ref().map(|e| e.chars().take(300).collect());
    if let Some(cert) = &tls.certificate {
        profile.tls_issuer = cert.issuer.as_ref().map(|i| i.chars().take(200).collect());
        profile.tls_expires_at = cert.not_after;
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn reachable(
    target: &ScanTarget,
    page: &Page,
    tls: &TlsOutcome,
    attempts: &[Attempt],
    insecure: bool,
    dns: &DnsRecords,
    robots: &RobotsRules,
    analysis: HomeAnalysis,
    contacts: Vec<StoredContact>,
    visits: Vec<PageVisit>,
) -> ScanOutcome {
    let status = page.status;
    let summary = summary::summarize(&analysis.detections);
    let ok = (200..300).contains(&status);
    let parked = analysis.parked.as_ref();
    let has_website = parked.is_none() && (ok || matches!(status, 401 | 403) || status >= 500);
    let mut profile = base_profile(target);
    profile.cms = summary.cms.clone();
    profile.cms_version = summary.cms_version.clone().map(|v| v.chars().take(50).collect());
    profile.server = summary.server.clone();
    profile.hosting_provider = summary.hosting_provider.clone();
    profile.cdn = summary.cdn.clone();
    profile.js_framework = summary.js_framework.clone();
    profile.analytics = summary.analytics.clone();
    profile.ecommerce_platform = summary.ecommerce_platform.clone();
    profile.dns_provider = summary.dns_provider.clone();
    profile.email_provider = summary.email_provider.clone();
    profile.final_url = Some(page.url.as_str().chars().take(2000).collect());
    profile.redirect_chain = json!(page.redirects);
    profile.http_status_code = Some(i32::from(status));
    profile.response_time_ms = Some(ms(page.time_to_first_byte));
    apply_tls(&mut profile, tls);
    profile.is_parked = parked.is_some();
    profile.parked_reason = parked.map(|p| p.reason.chars().take(200).collect());
    profile.page_title = analysis.title.as_ref().map(|t| t.chars().take(300).collect());
    profile.page_language = analysis.lang.clone();
    if !has_website && parked.is_none() {
        profile.unreachable_reason = Some(format!("the home page answers HTTP {status}"));
    }
    if page
        .header("cf-mitigated")
        .is_some_and(|v| v.eq_ignore_ascii_case("challenge"))
    {
        profile.unreachable_reason = Some("the home page is behind a bot challenge (Cloudflare)".into());
    }
    let robots_state = match &robots.state {
        RobotsState::Found => {
            json!({"state": "found", "crawl_delay_ms": robots.crawl_delay().as_millis() as u64})
        }
        other => json!(other),
    };
    profile.tech_stack_json = document(
        target,
        if parked.is_some() {
            "parked"
        } else if has_website {
            "reachable"
        } else {
            "error_page"
        },
        &analysis.detections,
        dns,
        json!({
            "final_url": page.url.as_str(),
            "status": status,
            "attempts": attempts,
            "redirects": page.redirects,
            "timing": {
                "time_to_first_byte_ms": ms(page.time_to_first_byte),
                "total_ms": ms(page.total_time),
            },
            "tls": tls,
            "fetched_without_certificate_check": insecure,
            "html": {
                "wire_bytes": page.wire_bytes,
                "bytes": page.body.len(),
                "charset": page.charset,
                "truncated": analysis.truncated,
            },
            "headers": interesting_headers(&page.headers),
            "robots": robots_state,
            "parked": parked,
            "summary": summary,
            "contact_pages": visits,
        }),
    );
    let primary = |kind| {
        contacts
            .iter()
            .find(|c| c.is_primary && c.contact.kind == kind)
            .map(|c| c.contact.value.clone())
    };
    let prospect = ProspectUpdate {
        id: target.id,
        has_website,
        uses_https: page.url.scheme() == "https",
        http_status_code: Some(i32::from(status)),
        website_url: Some(page.url.to_string()),
        status: if parked.is_some() {
            ProspectStatus::Parked
        } else if has_website {
            ProspectStatus::Active
        } else {
            ProspectStatus::Inactive
        },
        email: primary(contacts::ContactKind::Email),
        phone: primary(contacts::ContactKind::Phone),
    };
    let skip_audit = if let Some(p) = parked {
        Some(format!("the domain is parked: {}", p.reason))
    } else if !ok {
        Some(format!("the home page answers HTTP {status}"))
    } else {
        None
    };
    ScanOutcome {
        profile,
        contacts,
        prospect,
        skip_audit,
    }
}

/// Headers worth keeping for the record (no cookies' values).
fn interesting_headers(headers: &[(String, String)]) -> Value {
    const KEEP: &[&str] = &[
        "server",
        "x-powered-by",
        "via",
        "x-cache",
        "cf-ray",
        "x-served-by",
        "x-generator",
        "x-drupal-cache",
        "x-shopify-stage",
        "x-wix-request-id",
        "content-type",
        "strict-transport-security",
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "permissions-policy",
        "cache-control",
        "age",
        "x-vercel-id",
        "x-nf-request-id",
        "x-github-request-id",
        "x-amz-cf-id",
        "x-litespeed-cache",
        "x-turbo-charged-by",
        "x-aspnet-version",
        "x-redirect-by",
        "link",
    ];
    let mut out = serde_json::Map::new();
    for (name, value) in headers {
        if KEEP.contains(&name.as_str()) && !out.contains_key(name) {
            out.insert(name.clone(), Value::String(value.chars().take(300).collect()));
        }
    }
    Value::Object(out)
}
