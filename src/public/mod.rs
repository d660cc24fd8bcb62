//! The public side of the web role: what businesses and their visitors see.
//!
//! | route / host                      | what                                             |
//! |-----------------------------------|--------------------------------------------------|
//! | `GET /preview/{token}/`           | a site's current preview (`noindex`)             |
//! | `GET /media/{key}`                | a stored screenshot (immutable, content-addressed) |
//! | `Host: {slug}.{web.sites_domain}` | a live site (or its paused page); 404 otherwise  |
//! | `GET/POST /claim/{token}`, `GET /sites/{id}/paid`, `…/cancelled` | claiming a preview and paying it ([`claim`]) |
//! | `POST /webhooks/recurrente`       | Recurrente's Svix-signed webhooks ([`webhooks`]) |
//! | `Host: {slug}.…` `GET/POST /support` | a live site's change requests ([`support`]) |
//! | `GET /t/o/{token}` …              | outreach tracking: pixel, click, one-click unsubscribe ([`tracking`]) |
//!
//! Nothing here needs a login: a preview's 128-bit token is its capability,
//! media keys are content hashes, and live sites are public. Unknown tokens,
//! hosts and paths answer 404; nothing outside a site's own page is served.

pub mod claim;
mod media;
mod queries;
mod sites;
pub mod support;
pub mod tracking;
pub mod webhooks;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use prospector_jobs::{
    Enqueuer,
    billing::{BillingSettings, RecurrenteClient, WebhookVerifier},
    public_urls::PublicUrls,
    screenshot::MediaStore,
};
use sqlx::PgPool;

pub use sites::serve_live_sites;

/// What the public routes share.
#[derive(Clone)]
pub struct PublicState {
    /// The pool.
    pub pool: PgPool,
    /// Our public addresses (which hosts are live sites).
    pub urls: Arc<PublicUrls>,
    /// Where screenshots are stored.
    pub media: Option<Arc<MediaStore>>,
    /// Records webhook events with their jobs.
    pub enqueuer: Enqueuer,
    /// Checkouts and webhook verification.
    pub billing: Arc<PublicBilling>,
    /// The outreach tracking routes (none without tracking keys).
    pub tracking: Option<tracking::TrackingState>,
}

/// What the claim pages and the webhook endpoint need.
#[derive(Debug)]
pub struct PublicBilling {
    /// `[billing]`.
    pub settings: BillingSettings,
    /// Refuses everything when no secret is configured.
    pub verifier: WebhookVerifier,
    /// The API client (none without keys: claims answer 503).
    pub client: Option<RecurrenteClient>,
}

/// The public routes (the live-site host dispatch is a middleware:
/// [`serve_live_sites`]).
pub fn router(state: PublicState) -> Router {
    let tracking = state.tracking.clone();
    let router = Router::new()
        .route("/preview/{token}", get(sites::preview))
        .route("/preview/{token}/", get(sites::preview))
        .route("/media/{*key}", get(media::get))
        .route("/claim/{token}", get(claim::show).post(claim::submit))
        .route("/sites/{site_id}/paid", get(claim::paid))
        .route("/sites/{site_id}/cancelled", get(claim::cancelled))
        .route(
            "/webhooks/recurrente",
            post(webhooks::recurrente).layer(DefaultBodyLimit::max(webhooks::MAX_BODY)),
        )
        .with_state(state);
    match tracking {
        Some(tracking) => router.merge(tracking::router(tracking)),
        None => router,
    }
}
