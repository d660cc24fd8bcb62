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
//! `/api` routes take `Authorization: Bearer …`: the environment's
//! `admin.token` (automation, compared in constant time) or a console
//! user's API token, with failed attempts throttled per client address
//! ([`auth`]). Each route declares the role it needs (reads: viewer,
//! changes: operator) in [`api_routes`]; the console (`/console`, see
//! [`crate::console`]) shares the same table type.

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

use axum::{Router, routing::get};
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{timeout::TimeoutLayer, trace::TraceLayer};

pub use error::AdminError;

use crate::{
    config::Settings,
    console::{Role, RouteSpec, Routes, Surface},
};

/// What every handler shares.
#[derive(Clone)]
pub struct AdminState {
    /// The pool.
    pub pool: PgPool,
    /// Settings (queue timings for the status page).
    pub settings: Arc<Settings>,
    /// The bearer token, if configured.
    pub token: Option<Arc<SecretString>>,
    /// Failed token and sign-in attempts per client address.
    pub(crate) auth_throttle: Arc<auth::AuthThrottle>,
    /// Failed sign-ins per account (e-mail).
    pub(crate) login_throttle: Arc<auth::AuthThrottle<String>>,
    /// The console's compiled templates.
    pub templates: Arc<crate::console::Templates>,
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
        let login_throttle = Arc::new(auth::AuthThrottle::new(settings.admin.auth_failures_per_minute));
        // A template that does not compile is a bug the unit tests catch.
        #[allow(clippy::expect_used)]
        let templates = Arc::new(crate::console::Templates::new().expect("the console's templates compile"));
        Self {
            auth_throttle,
            login_throttle,
            templates,
            pool,
            settings,
            token,
            metrics_report: Arc::default(),
        }
    }

    /// Whether cookies get `Secure`: when the web role is served over TLS
    /// (`web.public_url` is https).
    pub fn secure_cookies(&self) -> bool {
        self.settings.web.public_url.scheme() == "https"
    }

    /// How long console sessions live.
    pub fn session_lifetimes(&self) -> crate::console::Lifetimes {
        crate::console::Lifetimes {
            idle: self.settings.admin.session_idle,
            absolute: self.settings.admin.session_lifetime,
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

/// Every `/api` route and the role it needs.
pub fn api_routes() -> Routes<AdminState> {
    Routes::new(Surface::Api)
        .get("/api/status", Role::Viewer, status::get_status)
        .get("/api/jobs/dead", Role::Viewer, jobs::list_dead)
        .post("/api/jobs/{id}/retry", Role::Operator, jobs::retry)
        .post("/api/jobs/{id}/cancel", Role::Operator, jobs::cancel)
        .get("/api/prospects", Role::Viewer, prospects::list)
        .get("/api/prospects/{id}", Role::Viewer, prospects::get_one)
        .get("/api/scan-jobs", Role::Viewer, scan_jobs::list)
        .get("/api/scan-jobs/{id}", Role::Viewer, scan_jobs::get_one)
        .get(
            "/api/prospects/{id}/audit-report",
            Role::Viewer,
            audit_reports::get_report,
        )
        .get("/api/autopilot", Role::Viewer, autopilot::get)
        .put("/api/autopilot", Role::Operator, autopilot::put)
        .get("/api/site-versions/{id}", Role::Viewer, site_versions::get_one)
        .get("/api/support-tickets", Role::Viewer, support_tickets::list)
        .get(
            "/api/support-tickets/{id}",
            Role::Viewer,
            support_tickets::get_one,
        )
        .post(
            "/api/site-versions/{id}/approve",
            Role::Operator,
            site_versions::approve,
        )
        .post(
            "/api/site-versions/{id}/reject",
            Role::Operator,
            site_versions::reject,
        )
        .get("/api/templates", Role::Viewer, outreach::list_templates)
        .post("/api/templates", Role::Operator, outreach::create_template)
        .put("/api/templates/{id}", Role::Operator, outreach::update_template)
        .post(
            "/api/outreach/campaigns",
            Role::Operator,
            outreach::start_campaign,
        )
        .post(
            "/api/sites/{id}/custom-domain",
            Role::Operator,
            custom_domains::set,
        )
}

/// Every guarded route of the web role: the API's and the console's.
pub fn route_table() -> Vec<RouteSpec> {
    let mut specs = api_routes().specs().to_vec();
    specs.extend_from_slice(crate::console::routes().specs());
    specs
}

/// The full admin router: health, metrics, the API and the console.
pub fn router(state: AdminState) -> Router {
    let api = api_routes()
        .into_router()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(api)
        .merge(crate::console::router(state.clone()))
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
