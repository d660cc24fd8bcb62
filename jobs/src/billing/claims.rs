//! Claims: a business that liked its preview confirms its e-mail and plan,
//! and is sent to the two Recurrente checkouts of the chain in order (the
//! setup fee, then the monthly plan).
//!
//! The checkout URLs stored and redirected to are only ever the ones
//! Recurrente returned. A claim in progress is reused (one per site), so a
//! second submit or a reload of the success page sends the customer to the
//! same checkout instead of creating another.

use chrono::Utc;
use sqlx::{PgPool, Row};
use url::Url;
use uuid::Uuid;

use super::{
    BillingSettings, CheckoutId, CheckoutStatus, PlanError, RecurrenteClient, RecurrenteError, SiteCheckout,
    checkout_chain,
};

/// A site as the claim pages show it.
#[derive(Debug, Clone)]
pub struct ClaimableSite {
    /// `generated_sites.id`.
    pub id: Uuid,
    /// `draft`, `preview`, `live`, `paused`, …
    pub status: String,
    /// The business's name.
    pub name: String,
    /// Its live host's label.
    pub subdomain: String,
    /// Its preview token.
    pub preview_token: String,
    /// A screenshot, shown next to the checkout items.
    pub screenshot_url: Option<String>,
}

impl ClaimableSite {
    /// Whether the site can still be claimed (it is not sold or archived).
    pub fn claimable(&self) -> bool {
        matches!(self.status.as_str(), "draft" | "preview")
    }
}

/// Why a claim step cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// No such site (or not claimable).
    #[error("no such site")]
    UnknownSite,
    /// The site is live or archived already.
    #[error("this site cannot be claimed any more")]
    NotClaimable,
    /// No claim in progress for the site.
    #[error("no claim is in progress for this site")]
    NoClaim,
    /// The setup fee has not been paid yet.
    #[error("the setup fee has not been received yet")]
    SetupUnpaid,
    /// Payments are not configured (no API keys).
    #[error("payments are not configured")]
    NotConfigured,
    /// The plan cannot make its checkouts.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Recurrente refused or could not be reached.
    #[error(transparent)]
    Recurrente(#[from] RecurrenteError),
    /// Reading or writing failed.
    #[error("database error while claiming a site")]
    Database(#[from] sqlx::Error),
}

macro_rules! site_columns {
    () => {
        "SELECT s.id, s.status, p.business_name AS name, s.subdomain, s.preview_token, \
         s.screenshot_desktop_url FROM generated_sites s JOIN prospects p ON p.public_id = s.business_id"
    };
}

fn site_from(row: &sqlx::postgres::PgRow) -> Result<ClaimableSite, sqlx::Error> {
    Ok(ClaimableSite {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        name: row.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
        subdomain: row.try_get("subdomain")?,
        preview_token: row
            .try_get::<Option<String>, _>("preview_token")?
            .unwrap_or_default(),
        screenshot_url: row.try_get("screenshot_desktop_url")?,
    })
}

/// The site whose preview token is `token`.
pub async fn site_by_token(pool: &PgPool, token: &str) -> Result<Option<ClaimableSite>, sqlx::Error> {
    let row = sqlx::query(concat!(
        site_columns!(),
        " WHERE s.preview_token = $1 AND s.status <> 'archived'"
    ))
    .bind(token)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(site_from).transpose()
}

/// The site `id`.
pub async fn site_by_id(pool: &PgPool, id: Uuid) -> Result<Option<ClaimableSite>, sqlx::Error> {
    let row = sqlx::query(concat!(site_columns!(), " WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(site_from).transpose()
}

#[derive(Debug)]
struct OpenClaim {
    id: Uuid,
    status: String,
    setup_checkout_id: Option<String>,
    setup_checkout_url: Option<String>,
    monthly_checkout_url: Option<String>,
}

fn claim_from(row: &sqlx::postgres::PgRow) -> Result<OpenClaim, sqlx::Error> {
    Ok(OpenClaim {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        setup_checkout_id: row.try_get("setup_checkout_id")?,
        setup_checkout_url: row.try_get("setup_checkout_url")?,
        monthly_checkout_url: row.try_get("monthly_checkout_url")?,
    })
}

macro_rules! claim_columns {
    () => {
        "id, status, setup_checkout_id, setup_checkout_url, monthly_checkout_url"
    };
}

async fn open_claim(pool: &PgPool, site_id: Uuid) -> Result<Option<OpenClaim>, sqlx::Error> {
    let row = sqlx::query(concat!(
        "SELECT ",
        claim_columns!(),
        " FROM site_claims WHERE site_id = $1 AND status IN ('started', 'setup_paid')"
    ))
    .bind(site_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(claim_from).transpose()
}

fn stored_url(url: Option<&str>) -> Option<Url> {
    url.and_then(|u| Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

fn checkout_site(site: &ClaimableSite) -> SiteCheckout {
    SiteCheckout {
        site_id: site.id,
        image_url: site
            .screenshot_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .filter(|u| u.scheme() == "https"),
        user_id: None,
    }
}

/// Start (or resume) the claim of `site` by `email` and return the checkout
/// to send the customer to: the setup fee's, or the monthly plan's when the
/// setup fee is paid already.
pub async fn start(
    pool: &PgPool,
    client: Option<&RecurrenteClient>,
    settings: &BillingSettings,
    site: &ClaimableSite,
    email: &str,
) -> Result<Url, ClaimError> {
    if !site.claimable() {
        return Err(ClaimError::NotClaimable);
    }
    let client = client.ok_or(ClaimError::NotConfigured)?;
    let row = sqlx::query(concat!(
        "INSERT INTO site_claims (site_id, email) VALUES ($1, $2) \
         ON CONFLICT (site_id) WHERE status IN ('started', 'setup_paid') \
         DO UPDATE SET email = CASE WHEN site_claims.setup_checkout_id IS NULL \
                                    THEN EXCLUDED.email ELSE site_claims.email END \
         RETURNING ",
        claim_columns!()
    ))
    .bind(site.id)
    .bind(email)
    .fetch_one(pool)
    .await?;
    let claim = claim_from(&row)?;
    if claim.status == "setup_paid" {
        return monthly(pool, Some(client), settings, site).await;
    }
    if let Some(url) = stored_url(claim.setup_checkout_url.as_deref()) {
        return Ok(url);
    }
    let [setup, _] = checkout_chain(settings, &checkout_site(site), Utc::now())?;
    let created = client.create_checkout(&setup).await?;
    let stored: Option<String> = sqlx::query_scalar(
        "UPDATE site_claims SET setup_checkout_id = $2, setup_checkout_url = $3 \
         WHERE id = $1 AND setup_checkout_id IS NULL RETURNING setup_checkout_url",
    )
    .bind(claim.id)
    .bind(created.id.as_str())
    .bind(created.checkout_url.as_str())
    .fetch_optional(pool)
    .await?;
    if stored.is_some() {
        return Ok(created.checkout_url);
    }
    // Another submit stored its checkout first: send everyone there.
    let claim = open_claim(pool, site.id).await?.ok_or(ClaimError::NoClaim)?;
    stored_url(claim.setup_checkout_url.as_deref()).ok_or(ClaimError::NoClaim)
}

/// The monthly plan's checkout of the site's claim, once the setup fee is
/// paid (the webhook recorded it, or Recurrente says the checkout is paid).
pub async fn monthly(
    pool: &PgPool,
    client: Option<&RecurrenteClient>,
    settings: &BillingSettings,
    site: &ClaimableSite,
) -> Result<Url, ClaimError> {
    let client = client.ok_or(ClaimError::NotConfigured)?;
    let claim = open_claim(pool, site.id).await?.ok_or(ClaimError::NoClaim)?;
    if let Some(url) = stored_url(claim.monthly_checkout_url.as_deref()) {
        return Ok(url);
    }
    if claim.status != "setup_paid" {
        let checkout = claim
            .setup_checkout_id
            .as_deref()
            .and_then(|id| CheckoutId::parse(id).ok())
            .ok_or(ClaimError::SetupUnpaid)?;
        if client.get_checkout(&checkout).await?.status != CheckoutStatus::Paid {
            return Err(ClaimError::SetupUnpaid);
        }
    }
    let [_, plan] = checkout_chain(settings, &checkout_site(site), Utc::now())?;
    let created = client.create_checkout(&plan).await?;
    let stored: Option<String> = sqlx::query_scalar(
        "UPDATE site_claims SET monthly_checkout_id = $2, monthly_checkout_url = $3 \
         WHERE id = $1 AND monthly_checkout_id IS NULL RETURNING monthly_checkout_url",
    )
    .bind(claim.id)
    .bind(created.id.as_str())
    .bind(created.checkout_url.as_str())
    .fetch_optional(pool)
    .await?;
    if stored.is_some() {
        return Ok(created.checkout_url);
    }
    let claim = open_claim(pool, site.id).await?.ok_or(ClaimError::NoClaim)?;
    stored_url(claim.monthly_checkout_url.as_deref()).ok_or(ClaimError::NoClaim)
}
