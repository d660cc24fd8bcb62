//! The application: settings, pool and shared handles, and the roles built
//! from them. `main` and the integration tests build the same thing.

use std::sync::Arc;

use prospector_jobs::{Enqueuer, Stage};
use sqlx::PgPool;
use tokio::net::TcpListener;

use prospector_jobs::{
    billing::BillingTask,
    screenshot::{CaptureScreenshot, MediaStore},
    send_email::SendEmail,
};

use crate::{
    admin::{self, AdminState},
    config::Settings,
    db::{self, DbError},
    maintenance,
    public::{self, PublicState},
    scheduler::Scheduler,
    shutdown::Shutdown,
    worker_pool::{Instance, PoolError, WorkerPool},
};

/// A connected application.
#[derive(Clone)]
pub struct Application {
    /// Settings, shared.
    pub settings: Arc<Settings>,
    /// The pool.
    pub pool: PgPool,
    /// The queue machinery's pool in worker processes (`pool` itself for
    /// an application built on an existing pool).
    pub queue_pool: PgPool,
    /// Pushes jobs with each queue's policy.
    pub enqueuer: Enqueuer,
    /// This process start's identity.
    pub instance: Instance,
    /// Shutdown tokens.
    pub shutdown: Shutdown,
}

impl Application {
    /// Connect (without migrating).
    pub async fn connect(settings: Settings) -> Result<Self, DbError> {
        let pool = db::connect(&settings.database).await?;
        let queue_pool = db::queue_pool(&settings.database)?;
        let mut app = Self::with_pool(settings, pool);
        app.queue_pool = queue_pool;
        Ok(app)
    }

    /// Create the database if needed, connect and migrate.
    pub async fn connect_and_migrate(settings: Settings) -> Result<Self, DbError> {
        db::create_database_if_missing(&settings.database).await?;
        let app = Self::connect(settings).await?;
        db::migrate(&app.pool).await?;
        Ok(app)
    }

    /// An application on an existing pool.
    pub fn with_pool(settings: Settings, pool: PgPool) -> Self {
        crate::tls::init();
        crate::metrics::handle();
        let enqueuer = Enqueuer::new(settings.queue_policies());
        Self {
            settings: Arc::new(settings),
            queue_pool: pool.clone(),
            pool,
            enqueuer,
            instance: Instance::new(),
            shutdown: Shutdown::new(),
        }
    }

    /// State for the admin handlers.
    pub fn admin_state(&self) -> AdminState {
        AdminState::new(self.pool.clone(), Arc::clone(&self.settings))
    }

    /// Serve the admin API on `listener` until shutdown.
    pub async fn serve_admin(&self, listener: TcpListener) -> std::io::Result<()> {
        if self.settings.admin.token.is_none() {
            tracing::warn!(
                "no admin token configured (PROSPECTOR__ADMIN__TOKEN): /api routes refuse every request"
            );
        }
        let stop = self.shutdown.stop.clone();
        admin::serve(listener, self.web_router(), stop).await
    }

    /// State of the public routes (previews, live sites, media).
    pub fn public_state(&self) -> PublicState {
        let store = &self.settings.of::<CaptureScreenshot>().store;
        let media = match MediaStore::from_config(store) {
            Ok(store) => Some(Arc::new(store)),
            Err(e) => {
                tracing::warn!(error = %e, "the media store cannot be opened; /media answers 404");
                None
            }
        };
        let billing = self.settings.of::<BillingTask>();
        let client = billing.client().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the Recurrente client cannot be built; claims answer 503");
            None
        });
        // The secrets were checked when the settings were loaded.
        let verifier = billing.webhook_verifier().unwrap_or_default();
        if verifier.secret_count() == 0 {
            tracing::warn!(
                "no webhook secret configured (PROSPECTOR__BILLING__WEBHOOK_SECRETS): every webhook is refused"
            );
        }
        PublicState {
            pool: self.pool.clone(),
            urls: Arc::new(self.settings.web.clone()),
            media,
            enqueuer: self.enqueuer.clone(),
            billing: Arc::new(public::PublicBilling {
                settings: billing.clone(),
                verifier,
                client,
            }),
            tracking: self.tracking_state(),
        }
    }

    /// State of the outreach tracking routes: none (and a warning) when the
    /// tracking keys are not in the environment.
    pub fn tracking_state(&self) -> Option<public::tracking::TrackingState> {
        let settings = self.settings.of::<SendEmail>();
        let env = |name: &str| settings.secrets.get(name);
        match settings.tracker(&env) {
            Ok(tracker) => Some(public::tracking::TrackingState {
                pool: self.pool.clone(),
                tracker: Arc::new(tracker),
                min_human_delay: settings.tracking.min_human_delay,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "outreach tracking and one-click unsubscribe are off");
                None
            }
        }
    }

    /// Everything the web role serves: live sites by host, then the public
    /// routes and the admin API.
    pub fn web_router(&self) -> axum::Router {
        let public = self.public_state();
        admin::router(self.admin_state())
            .merge(public::router(public.clone()))
            .layer(axum::middleware::from_fn_with_state(
                public,
                public::serve_live_sites,
            ))
    }

    /// Serve only /metrics and /healthz (worker and scheduler processes).
    pub async fn serve_metrics(&self, listener: TcpListener) -> std::io::Result<()> {
        let stop = self.shutdown.stop.clone();
        admin::serve(listener, admin::metrics_router(self.admin_state()), stop).await
    }

    /// A worker pool running `stages` (every stage when empty).
    pub fn worker_pool(&self, stages: &[Stage]) -> Result<WorkerPool, PoolError> {
        let stages = if stages.is_empty() { Stage::ALL } else { stages };
        let mut pool = self.bare_worker_pool();
        for stage in stages {
            pool.spawn_stage(*stage)?;
        }
        Ok(pool)
    }

    /// A worker pool with no queue yet (add them with
    /// [`WorkerPool::spawn_stage`] or [`WorkerPool::spawn_queue`]).
    pub fn bare_worker_pool(&self) -> WorkerPool {
        WorkerPool::new(
            self.pool.clone(),
            self.queue_pool.clone(),
            Arc::clone(&self.settings),
            self.enqueuer.clone(),
            self.shutdown.clone(),
            self.instance.clone(),
        )
    }

    /// The scheduler of the configured schedules.
    pub fn scheduler(&self) -> Scheduler {
        Scheduler::new(
            self.pool.clone(),
            self.enqueuer.clone(),
            self.settings.schedules.clone(),
            self.settings.scheduler.misfire_grace,
            self.instance.role_name("scheduler"),
        )
    }

    /// Scheduler and retention pruning until shutdown.
    pub async fn run_scheduler(&self) {
        let stop = self.shutdown.stop.clone();
        tokio::join!(
            self.scheduler().run(stop.clone()),
            maintenance::run(self.pool.clone(), self.settings.retention.clone(), stop),
        );
    }
}
