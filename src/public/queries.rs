//! The statements the public routes run.

use sqlx::PgExecutor;

/// A page to serve and its ETag.
#[derive(Debug)]
pub struct Page {
    /// The HTML.
    pub html: String,
    /// Its SHA-256 (hex).
    pub hash: String,
}

/// The current preview of the site whose token is `token`.
pub async fn preview(executor: impl PgExecutor<'_>, token: &str) -> Result<Option<Page>, sqlx::Error> {
    sqlx::query_as!(
        Page,
        r#"
        SELECT v.html_content AS html, v.content_hash AS hash
        FROM generated_sites s JOIN site_versions v ON v.id = s.current_version_id
        WHERE s.preview_token = $1 AND s.status <> 'archived'
        "#,
        token
    )
    .fetch_optional(executor)
    .await
}

/// What a live host shows.
#[derive(Debug)]
pub struct LiveSite {
    /// `live`, `paused`, … (only `live` and `paused` are served).
    pub status: String,
    /// The business name (for the paused page).
    pub name: Option<String>,
    /// The live version's page, when there is one.
    pub html: Option<String>,
    /// Its hash.
    pub hash: Option<String>,
}

/// The site served at subdomain `slug`, or at the verified custom domain `host`.
pub async fn live_site(
    executor: impl PgExecutor<'_>,
    slug: Option<&str>,
    host: &str,
) -> Result<Option<LiveSite>, sqlx::Error> {
    sqlx::query_as!(
        LiveSite,
        r#"
        SELECT s.status, p.business_name AS name, v.live_html AS "html?", v.live_content_hash AS "hash?"
        FROM generated_sites s
        JOIN prospects p ON p.public_id = s.business_id
        LEFT JOIN site_versions v ON v.id = s.live_version_id
        WHERE (s.subdomain = $1 OR (s.custom_domain = $2 AND s.custom_domain_verified_at IS NOT NULL))
          AND s.status IN ('live', 'paused')
        ORDER BY s.subdomain = $1 DESC
        LIMIT 1
        "#,
        slug,
        host,
    )
    .fetch_optional(executor)
    .await
}
