//! Every statement the audit stage runs.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::{
    archive::ReportArchive,
    report::{LighthouseReport, Measurements},
    settings::{FormFactor, ProviderKind},
};

/// What the stage reads about a prospect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    /// The final URL the tech scan reached.
    pub website_url: Option<String>,
    /// The prospect's domain.
    pub domain_name: Option<String>,
}

/// The prospect's URLs, or `None` when it does not exist.
pub async fn load_target(
    executor: impl PgExecutor<'_>,
    prospect_id: i64,
) -> Result<Option<AuditTarget>, sqlx::Error> {
    sqlx::query_as!(
        AuditTarget,
        "SELECT website_url, domain_name FROM prospects WHERE id = $1",
        prospect_id
    )
    .fetch_optional(executor)
    .await
}

/// Where a profile came from.
#[derive(Debug, Clone, Copy)]
pub struct ProfileSource<'a> {
    /// Lighthouse here or PageSpeed Insights.
    pub provider: ProviderKind,
    /// The device emulated.
    pub form_factor: FormFactor,
    /// Version and URLs.
    pub report: &'a LighthouseReport,
}

/// Insert or replace the prospect's performance profile.
pub async fn upsert_performance_profile(
    conn: &mut PgConnection,
    prospect_id: i64,
    source: ProfileSource<'_>,
    measurements: &Measurements,
) -> Result<i64, sqlx::Error> {
    let scores = &measurements.scores;
    let metrics = &measurements.metrics;
    let score = |s: Option<crate::domain::Score>| s.map(i32::from);
    let checks =
        serde_json::to_value(&measurements.mobile.checks).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let failing =
        serde_json::to_value(&measurements.failing_audits).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_file_scalar!(
        "src/audit/sql/upsert_performance_profile.sql",
        prospect_id,
        source.provider.as_str(),
        source.form_factor.as_str(),
        source.report.lighthouse_version,
        source.report.requested_url,
        source.report.final_url,
        score(scores.performance),
        score(scores.accessibility),
        score(scores.best_practices),
        score(scores.seo),
        metrics.first_contentful_paint_ms,
        metrics.largest_contentful_paint_ms,
        metrics.total_blocking_time_ms,
        metrics.cumulative_layout_shift,
        metrics.speed_index_ms,
        metrics.total_byte_weight,
        metrics.server_response_time_ms,
        measurements.mobile.is_mobile_friendly,
        checks,
        failing,
    )
    .fetch_one(conn)
    .await
}

/// Insert or replace the prospect's archived report.
pub async fn upsert_audit_report(
    conn: &mut PgConnection,
    prospect_id: i64,
    source: ProfileSource<'_>,
    archive: &ReportArchive,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        INSERT INTO prospect_audit_reports
            (prospect_id, provider, format, form_factor, lighthouse_version, report, report_bytes, audited_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, now())
        ON CONFLICT (prospect_id) DO UPDATE SET
            provider = EXCLUDED.provider,
            format = EXCLUDED.format,
            form_factor = EXCLUDED.form_factor,
            lighthouse_version = EXCLUDED.lighthouse_version,
            report = EXCLUDED.report,
            report_bytes = EXCLUDED.report_bytes,
            audited_at = EXCLUDED.audited_at
        "#,
        prospect_id,
        source.provider.as_str(),
        archive.format.as_str(),
        source.form_factor.as_str(),
        source.report.lighthouse_version,
        archive.gzip,
        i32::try_from(archive.bytes).unwrap_or(i32::MAX),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Stamp `prospects.last_audit_at`.
pub async fn mark_audited(conn: &mut PgConnection, prospect_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE prospects SET last_audit_at = now(), audit_failure = NULL, audit_failed_at = NULL WHERE id = $1",
        prospect_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Record why the prospect's site could not be audited (its score goes on
/// without the audit).
pub async fn record_failure(
    conn: &mut PgConnection,
    prospect_id: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE prospects SET audit_failure = $2, audit_failed_at = now() WHERE id = $1",
        prospect_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Calls to `provider` recorded since `since`.
pub async fn count_api_usage_since(
    executor: impl PgExecutor<'_>,
    provider: &str,
    since: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let requests = sqlx::query_scalar!(
        r#"SELECT coalesce(sum(requests), 0)::bigint AS "requests!" FROM api_usage
           WHERE provider = $1 AND occurred_at >= $2"#,
        provider,
        since,
    )
    .fetch_one(executor)
    .await?;
    Ok(requests)
}

/// Record one call (free: PageSpeed Insights has a quota, not a price).
pub async fn record_api_usage(
    executor: impl PgExecutor<'_>,
    provider: &str,
    operation: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO api_usage (provider, operation, requests, results, cost_cents) VALUES ($1, $2, 1, 1, 0)",
        provider,
        operation,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The customer's rendering of a generated site version (what the gate audits).
pub async fn version_live_html(
    executor: impl PgExecutor<'_>,
    version: uuid::Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT live_html FROM site_versions WHERE id = $1", version)
        .fetch_optional(executor)
        .await
}

/// Store a version's gate: its scores and verdict, and on its site (when it
/// is the current version) the lowest score as `lighthouse_score`.
pub async fn store_gate(
    conn: &mut PgConnection,
    version: uuid::Uuid,
    scores: &crate::build_site::GateScores,
    failure: Option<&str>,
) -> Result<(), sqlx::Error> {
    let score = |s: Option<u8>| s.map(i32::from);
    sqlx::query!(
        r#"
        UPDATE site_versions SET
            gate_status = CASE WHEN $6::text IS NULL THEN 'passed' ELSE 'failed' END,
            gate_reason = $6,
            performance_score = $2, accessibility_score = $3, best_practices_score = $4, seo_score = $5,
            gated_at = now()
        WHERE id = $1
        "#,
        version,
        score(scores.performance),
        score(scores.accessibility),
        score(scores.best_practices),
        score(scores.seo),
        failure,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"
        UPDATE generated_sites SET lighthouse_score = least($2::int, $3::int, $4::int, $5::int)
        WHERE current_version_id = $1
        "#,
        version,
        score(scores.performance),
        score(scores.accessibility),
        score(scores.best_practices),
        score(scores.seo),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
