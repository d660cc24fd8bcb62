//! Every statement the screenshot stage runs.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// What a version capture needs.
#[derive(Debug)]
pub struct VersionPage {
    /// The customer's page (indexable, no claim bar).
    pub live_html: String,
    /// `pending`, `passed` or `failed`.
    pub gate_status: String,
}

/// The page of a version.
pub async fn version_page(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<VersionPage>, sqlx::Error> {
    sqlx::query_as!(
        VersionPage,
        "SELECT live_html, gate_status FROM site_versions WHERE id = $1",
        id
    )
    .fetch_optional(executor)
    .await
}

/// A prospect's website (`None` when the prospect is gone, `Some(None)`
/// when it has no website).
pub async fn prospect_website(
    executor: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT CASE WHEN has_website IS DISTINCT FROM false THEN website_url END AS "url" FROM prospects WHERE id = $1"#,
        id
    )
    .fetch_optional(executor)
    .await
}

/// Link a version's screenshots; its site shows them and, when this
/// version is the site's current one, becomes ready for outreach (a
/// `preview` when it was a draft).
#[allow(clippy::too_many_arguments)]
pub async fn store_version_shots(
    conn: &mut PgConnection,
    version: Uuid,
    desktop: &str,
    mobile: &str,
    thumbnail: &str,
    phash: &str,
    desktop_url: &str,
    mobile_url: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE site_versions SET screenshot_desktop = $2, screenshot_mobile = $3, thumbnail = $4,
            screenshot_phash = $5
        WHERE id = $1
        "#,
        version,
        desktop,
        mobile,
        thumbnail,
        phash,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"
        UPDATE generated_sites SET
            screenshot_desktop_url = $2,
            screenshot_mobile_url = $3,
            ready_at = now(),
            status = CASE WHEN status = 'draft' THEN 'preview' ELSE status END
        WHERE current_version_id = $1
        "#,
        version,
        desktop_url,
        mobile_url,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Link the screenshots of a prospect's own website.
pub async fn store_prospect_shots(
    executor: impl PgExecutor<'_>,
    prospect: i64,
    desktop: &str,
    mobile: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE prospects SET site_screenshot_desktop = $2, site_screenshot_mobile = $3,
            site_screenshot_at = now()
        WHERE id = $1
        "#,
        prospect,
        desktop,
        mobile,
    )
    .execute(executor)
    .await?;
    Ok(())
}
