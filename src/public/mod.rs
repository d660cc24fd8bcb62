//! The public side of the web role: what businesses and their visitors see.
//!
//! | route / host                      | what                                             |
//! |-----------------------------------|--------------------------------------------------|
//! | `GET /preview/{token}/`           | a site's current preview (`noindex`)             |
//! | `GET /media/{key}`                | a stored screenshot (immutable, content-addressed) |
//! | `Host: {slug}.{web.sites_domain}` | a live site (or its paused page); 404 otherwise  |
//! | `GET /t/o/{token}` …              | outreach tracking: pixel, click, one-click unsubscribe ([`tracking`]) |
//!
//! Nothing here needs a login: a preview's 128-bit token is its capability,
//! media keys are content hashes, and live sites are public. Unknown tokens,
//! hosts and paths answer 404; nothing outside a site's own page is served.

mod media;
mod queries;
mod sites;
pub mod tracking;

use std::sync::Arc;

use axum::{Router, routing::get};
use prospector_jobs::{public_urls::PublicUrls, screenshot::MediaStore};
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
    /// The outreach tracking routes (none without tracking keys).
    pub tracking: Option<tracking::TrackingState>,
}

/// The public routes (the live-site host dispatch is a middleware:
/// [`serve_live_sites`]).
pub fn router(state: PublicState) -> Router {
    let tracking = state.tracking.clone();
    let router = Router::new()
        .route("/preview/{token}", get(sites::preview))
        .route("/preview/{token}/", get(sites::preview))
        .route("/media/{*key}", get(media::get))
        .with_state(state);
    match tracking {
        Some(tracking) => router.merge(tracking::router(tracking)),
        None => router,
    }
}
