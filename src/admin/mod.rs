//! The admin HTTP server (`prospector web`).
//!
//! | route                              | auth   | what                                   |
//! |------------------------------------|--------|----------------------------------------|
//! | `GET /healthz`                     | none   | the process answers                    |
//! | `GET /readyz`                      | none   | database reachable, migrations current |
//! | `GET /metrics`                     | none   | Prometheus text format                 |
//! | `GET /api/status`                  | bearer | queues, workers, batches               |
//! | `GET /api/jobs/dead`               | bearer | dead jobs (`?queue=&limit=`)           |
//! | `POST /api/jobs/{id}/retry`        | bearer | retry a dead job                       |
//! | `POST /api/jobs/{id}/cancel`       | bearer | cancel a waiting job                   |
//! | `GET /api/prospects`               | bearer | list: tier, score range, city, CMS, …  |
//! | `GET /api/prospects/{id}`          | bearer | profile, score, flags, contacts        |
//! | `GET /api/scan-jobs`               | bearer | recent batches                         |
//! | `GET /api/scan-jobs/{id}`          | bearer | one batch, per-stage progress, failures|
//! | `GET /api/prospects/{id}/audit-report` | bearer | the latest full audit report (JSON, gzip) |
//! | `GET /api/autopilot`               | bearer | autopilot switch, daily target, grid   |
//! | `PUT /api/autopilot`               | bearer | change them at runtime                 |
//! | `GET /api/site-versions/{id}`      | bearer | a version: its page, edits, ticket     |
//! | `POST /api/site-versions/{id}/approve` | bearer | a change request's version goes live |
//! | `POST /api/site-versions/{id}/reject`  | bearer | refuse it                            |
//! | `GET /api/support-tickets`         | bearer | change requests (`?status=&limit=`)    |
//! | `GET /api/support-tickets/{id}`    | bearer | one: applied edits, what needs a human, versions |
//! | `GET/POST /api/templates`          | bearer | outreach templates (422: unknown placeholder) |
//! | `PUT /api/templates/{id}`          | bearer | change one (checked the same way)      |
//! | `POST /api/outreach/campaigns`     | bearer | start a campaign: enqueue its first step |
//! | `POST /api/sites/{id}/custom-domain` | bearer | a customer's domain, served once its CNAME points at us |
//!
//! Protected routes compare `Authorization: Bearer …` with `admin.token`
//! in constant time and throttle failed attempts per client address
//! ([`auth`]); with no token configured they refuse every request.

mod audit_reports;
mod auth;
mod autopilot;
mod custom_domains;
mod error;
mod health;
mod jobs;
mod metrics;
mod outreach;
mod prospects;
mod scan_jobs;
mod site_versions;
mod status;
mod support_tickets;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    routing::{get, post},
};
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

pub use error::AdminError;

use crate::config::Settings;

/// What every handler shares.
#[derive(Clone)]
pub struct AdminState {
    /// The pool.
    pub pool: PgPool,
    /// Settings (queue timings for the status page).
    pub settings: Arc<Settings>,
    /// The bearer token, if configured.
    pub token: Option<Arc<SecretString>>,
    /// Failed token attempts per client address.
    auth_throttle: Arc<auth::AuthThrottle>,
    /// The last status read for `/metrics`, and when it was made.
    metrics_report: Arc<tokio::sync::Mutex<Option<CachedReport>>>,
}

/// A status report and when it was read.
type CachedReport = (std::time::Instant, Arc<crate::status_report::StatusReport>);

impl AdminState {
    /// State from settings.
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        let token = settings.admin.token.clone().map(Arc::new);
        let auth_throttle = Arc::new(auth::AuthThrottle::new(settings.admin.auth_failures_per_minute));
        Self {
            auth_throttle,
            pool,
            settings,
            token,
            metrics_report: Arc::default(),
        }
    }

    /// The status report `/metrics` shows: read at most once per
    /// `admin.metrics_cache` (concurrent scrapes wait for one read), and
    /// `None` when the database did not answer within 3 s.
    pub async fn status_for_metrics(&self) -> Option<Arc<crate::status_report::StatusReport>> {
        let mut cached = self.metrics_report.lock().await;
        if let Some((at, report)) = cached.as_ref()
            && at.elapsed() < self.settings.admin.metrics_cache
        {
            return Some(Arc::clone(report));
        }
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            crate::status_report::StatusReport::load(&self.pool, &self.settings.queue),
        )
        .await;
        match read {
            Ok(Ok(report)) => {
                let report = Arc::new(report);
                *cached = Some((std::time::Instant::now(), Arc::clone(&report)));
                Some(report)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: could not read queue state");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: queue state query timed out");
                None
            }
        }
    }
}

/// The full admin router.
pub fn router(state: AdminState) -> Router {
    let protected = Router::new()
        .route("/api/status", get(status::get_status))
        .route("/api/jobs/dead", get(jobs::list_dead))
        .route("/api/jobs/{id}/retry", post(jobs::retry))
        .route("/api/jobs/{id}/cancel", post(jobs::cancel))
        .route("/api/prospects", get(prospects::list))
        .route("/api/prospects/{id}", get(prospects::get_one))
        .route("/api/scan-jobs", get(scan_jobs::list))
        .route("/api/scan-jobs/{id}", get(scan_jobs::get_one))
        .route("/api/prospects/{id}/audit-report", get(audit_reports::get_report))
        .route("/api/autopilot", get(autopilot::get).put(autopilot::put))
        .route("/api/site-versions/{id}", get(site_versions::get_one))
        .route("/api/site-versions/{id}/approve", post(site_versions::approve))
        .route("/api/site-versions/{id}/reject", post(site_versions::reject))
        .route("/api/support-tickets", get(support_tickets::list))
        .route("/api/support-tickets/{id}", get(support_tickets::get_one))
        .route(
            "/api/templates",
            get(outreach::list_templates).post(outreach::create_template),
        )
        .route(
            "/api/templates/{id}",
            axum::routing::put(outreach::update_template),
        )
        .route("/api/outreach/campaigns", post(outreach::start_campaign))
        .route("/api/sites/{id}/custom-domain", post(custom_domains::set))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(protected)
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

/// Only `/metrics` and `/healthz`, for worker and scheduler processes.
pub fn metrics_router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::render))
        .with_state(state)
}

/// Serve `router` until `stop` is cancelled.
pub async fn serve(listener: TcpListener, router: Router, stop: CancellationToken) -> std::io::Result<()> {
    // Connection info gives the auth throttle each client's address.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stop.cancelled_owned())
    .await
}
