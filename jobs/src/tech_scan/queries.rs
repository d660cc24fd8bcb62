//! Every statement the `tech_scan` stage runs.

use crate::domain::ProspectStatus;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};

use super::contacts::StoredContact;

/// The prospect fields the scan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    /// Id.
    pub id: i64,
    /// Normalised domain, if any.
    pub domain_name: Option<String>,
    /// Known website URL, if any (a maps listing's link, a previous scan's final URL).
    pub website_url: Option<String>,
    /// ISO country code (phone numbers' default region).
    pub country: String,
}

/// Load a prospect, or `None` if it does not exist.
pub async fn load_target(executor: impl PgExecutor<'_>, id: i64) -> Result<Option<ScanTarget>, sqlx::Error> {
    sqlx::query_as!(
        ScanTarget,
        "SELECT id, domain_name, website_url, country FROM prospects WHERE id = $1",
        id
    )
    .fetch_optional(executor)
    .await
}

/// A tech profile row (see docs/tech-scan.md for each column).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileRow {
    /// Prospect.
    pub prospect_id: i64,
    /// Summary: CMS.
    pub cms: Option<String>,
    /// Summary: web server.
    pub server: Option<String>,
    /// Summary: hosting.
    pub hosting_provider: Option<String>,
    /// Summary: CDN.
    pub cdn: Option<String>,
    /// Summary: JS framework.
    pub js_framework: Option<String>,
    /// Summary: analytics list.
    pub analytics: Option<String>,
    /// Summary: ecommerce platform.
    pub ecommerce_platform: Option<String>,
    /// The full document.
    pub tech_stack_json: Value,
    /// Final URL of the home page.
    pub final_url: Option<String>,
    /// Redirect hops.
    pub redirect_chain: Value,
    /// Final status.
    pub http_status_code: Option<i32>,
    /// Time to first byte of the final hop.
    pub response_time_ms: Option<i32>,
    /// Why the site could not be reached.
    pub unreachable_reason: Option<String>,
    /// Certificate valid (None: no HTTPS answered).
    pub tls_valid: Option<bool>,
    /// Certificate issuer.
    pub tls_issuer: Option<String>,
    /// Certificate expiry.
    pub tls_expires_at: Option<DateTime<Utc>>,
    /// Why the certificate was refused.
    pub tls_error: Option<String>,
    /// Parked or placeholder domain.
    pub is_parked: bool,
    /// Why.
    pub parked_reason: Option<String>,
    /// The "website" is a social profile.
    pub is_social_only: bool,
    /// That profile.
    pub social_profile_url: Option<String>,
    /// CMS version.
    pub cms_version: Option<String>,
    /// DNS provider.
    pub dns_provider: Option<String>,
    /// E-mail provider.
    pub email_provider: Option<String>,
    /// `<title>`.
    pub page_title: Option<String>,
    /// `<html lang>`.
    pub page_language: Option<String>,
}

/// Insert or replace the prospect's tech profile.
pub async fn upsert_tech_profile(conn: &mut PgConnection, row: &ProfileRow) -> Result<(), sqlx::Error> {
    sqlx::query_file!(
        "src/tech_scan/sql/upsert_tech_profile.sql",
        row.prospect_id,
        row.cms,
        row.server,
        row.hosting_provider,
        row.cdn,
        row.js_framework,
        row.analytics,
        row.ecommerce_platform,
        row.tech_stack_json,
        row.final_url,
        row.redirect_chain,
        row.http_status_code,
        row.response_time_ms,
        row.unreachable_reason,
        row.tls_valid,
        row.tls_issuer,
        row.tls_expires_at,
        row.tls_error,
        row.is_parked,
        row.parked_reason,
        row.is_social_only,
        row.social_profile_url,
        row.cms_version,
        row.dns_provider,
        row.email_provider,
        row.page_title,
        row.page_language,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replace the scan's contacts of a prospect: drop scraped rows no longer
/// found, clear scraped primaries, upsert what was found. Manual rows
/// (no `source_url`) are left alone.
pub async fn replace_scraped_contacts(
    conn: &mut PgConnection,
    prospect_id: i64,
    contacts: &[StoredContact],
) -> Result<(), sqlx::Error> {
    let kinds: Vec<String> = contacts
        .iter()
        .map(|c| c.contact.kind.as_str().to_owned())
        .collect();
    let values: Vec<String> = contacts.iter().map(|c| clip(&c.contact.value, 500)).collect();
    let labels: Vec<Option<String>> = contacts
        .iter()
        .map(|c| c.contact.label.as_deref().map(|l| clip(l, 100)))
        .collect();
    let roles: Vec<Option<bool>> = contacts.iter().map(|c| c.contact.is_role_address).collect();
    let sources: Vec<String> = contacts
        .iter()
        .map(|c| clip(&c.contact.source_url, 1000))
        .collect();
    let primaries: Vec<bool> = contacts.iter().map(|c| c.is_primary).collect();
    sqlx::query!(
        r#"
        DELETE FROM prospect_contacts c
        WHERE c.prospect_id = $1 AND c.source_url IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM UNNEST($2::text[], $3::text[]) AS t(contact_type, value)
              WHERE t.contact_type = c.contact_type AND t.value = c.value
          )
        "#,
        prospect_id,
        &kinds,
        &values,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE prospect_contacts SET is_primary = false WHERE prospect_id = $1 AND source_url IS NOT NULL AND is_primary",
        prospect_id
    )
    .execute(&mut *conn)
    .await?;
    if contacts.is_empty() {
        return Ok(());
    }
    sqlx::query_file!(
        "src/tech_scan/sql/replace_contacts.sql",
        prospect_id,
        &kinds,
        &values,
        &labels as &[Option<String>],
        &roles as &[Option<bool>],
        &sources,
        &primaries,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the scan says about the prospect itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProspectUpdate {
    /// Prospect.
    pub id: i64,
    /// A real site answers.
    pub has_website: bool,
    /// The home page is served over HTTPS.
    pub uses_https: bool,
    /// Final status of the home page.
    pub http_status_code: Option<i32>,
    /// Final URL of the home page (None keeps the current value).
    pub website_url: Option<String>,
    /// New status (not applied to contacted or converted prospects).
    pub status: ProspectStatus,
    /// Primary e-mail, filled in only when the prospect has none.
    pub email: Option<String>,
    /// Primary phone, filled in only when the prospect has none.
    pub phone: Option<String>,
}

/// Record the scan on the prospect row.
pub async fn update_prospect(conn: &mut PgConnection, u: &ProspectUpdate) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE prospects SET
            has_website = $2,
            uses_https = $3,
            http_status_code = $4,
            website_url = coalesce($5, website_url),
            status = CASE WHEN status IN ('contacted', 'converted') THEN status ELSE $6 END,
            email = coalesce(email, $7),
            phone = coalesce(phone, $8),
            last_tech_scan_at = now()
        WHERE id = $1
        "#,
        u.id,
        u.has_website,
        u.uses_https,
        u.http_status_code,
        u.website_url.as_deref().filter(|w| w.len() <= 500),
        u.status.as_str(),
        u.email.as_deref().filter(|e| e.len() <= 255),
        u.phone.as_deref().filter(|p| p.len() <= 50),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A scan failed for good: mark the prospect `error` (unless it is already
/// contacted or converted) and note when.
pub async fn mark_scan_failed(executor: impl PgExecutor<'_>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE prospects SET
            status = CASE WHEN status IN ('contacted', 'converted') THEN status ELSE 'error' END,
            last_tech_scan_at = now()
        WHERE id = $1
        "#,
        id
    )
    .execute(executor)
    .await?;
    Ok(())
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
