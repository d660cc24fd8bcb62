//! `GET /api/prospects/{id}/audit-report`: the prospect's latest full audit
//! report, as stored by the audit stage (gzip). Sent as is with
//! `Content-Encoding: gzip` to clients that accept it, decompressed for the
//! others. The document is a Lighthouse result (`X-Audit-Format:
//! lighthouse_result`) or a whole PageSpeed Insights v5 response
//! (`pagespeed_v5`).

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};
use chrono::{DateTime, Utc};
use prospector_jobs::audit::archive;

use super::{AdminError, AdminState};

struct StoredReport {
    provider: String,
    format: String,
    form_factor: String,
    report: Vec<u8>,
    audited_at: DateTime<Utc>,
}

/// `GET /api/prospects/{id}/audit-report`
pub async fn get_report(
    State(state): State<AdminState>,
    Path(id): Path<i64>,
    request_headers: HeaderMap,
) -> Result<Response, AdminError> {
    let stored = sqlx::query_as!(
        StoredReport,
        r#"SELECT provider, format, form_factor, report, audited_at
           FROM prospect_audit_reports WHERE prospect_id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| AdminError::NotFound(format!("no audit report for prospect {id}")))?;

    let gzip_ok = accepts_gzip(&request_headers);
    let body = if gzip_ok {
        stored.report
    } else {
        let gzip = stored.report;
        tokio::task::spawn_blocking(move || archive::decompress(&gzip))
            .await
            .map_err(|e| AdminError::Internal(format!("decompression task failed: {e}")))?
            .map_err(|e| AdminError::Internal(format!("stored report for prospect {id} is not gzip: {e}")))?
    };

    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip_ok {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    for (name, value) in [
        ("x-audit-provider", stored.provider),
        ("x-audit-format", stored.format),
        ("x-audit-form-factor", stored.form_factor),
        ("x-audited-at", stored.audited_at.to_rfc3339()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// Whether `Accept-Encoding` lists gzip with a non-zero weight.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_sent_only_to_clients_that_take_it() {
        let cases = [
            ("gzip, deflate, br", true),
            ("br;q=1.0, gzip;q=0.8", true),
            ("*", true),
            ("gzip;q=0", false),
            ("identity", false),
            ("", false),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            assert_eq!(accepts_gzip(&headers), expected, "{value:?}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
