use prospector_jobs::domain::ProspectStatus;
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;

/// Which prospects a batch takes (all given conditions must hold).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProspectFilter {
    /// Only these prospects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<i64>>,
    /// Tagged with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// With this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProspectStatus>,
    /// Not tech-scanned for this many seconds (or never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after_seconds: Option<f64>,
    /// Only qualified leads with no website that wait for their site
    /// (`pipeline_route = 'build_site'`, not routed yet).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_build: bool,
    /// At most this many (stalest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// Ids of the prospects matching `filter`, stalest first. With `needs_site`,
/// only prospects that have a domain.
pub async fn select_prospects(
    executor: impl PgExecutor<'_>,
    filter: &ProspectFilter,
    needs_site: bool,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        SELECT id
        FROM prospects
        WHERE ($1::bigint[] IS NULL OR id = ANY($1))
          AND ($2::text IS NULL OR tags ? $2)
          AND ($3::text IS NULL OR status = $3)
          AND ($4::float8 IS NULL OR last_tech_scan_at IS NULL
               OR last_tech_scan_at < now() - make_interval(secs => $4))
          AND (NOT $5 OR domain_name IS NOT NULL)
          AND (NOT $7 OR (pipeline_route = 'build_site' AND routed_at IS NULL))
        ORDER BY last_tech_scan_at NULLS FIRST, id
        LIMIT $6
        "#,
        filter.ids.as_deref(),
        filter.tag,
        filter.status.map(ProspectStatus::as_str),
        filter.stale_after_seconds,
        needs_site,
        filter.limit.unwrap_or(i64::MAX),
        filter.awaiting_build,
    )
    .fetch_all(executor)
    .await
}
