//! The long-running roles: migrate, web, work, schedule, and run (all three).

use std::{net::SocketAddr, process::ExitCode};

use anyhow::Context;
use prospector_jobs::Stage;
use tokio::net::TcpListener;

use crate::{application::Application, config::Settings, shutdown::Shutdown};

/// How a role connects at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// Connect to an existing, migrated database.
    Only,
    /// Create the database if needed and migrate it first.
    AndMigrate,
}

/// Work that [`run_all`] does once every role is up (a tool's walk-through,
/// like the demo's). It runs beside the workers; the process keeps running
/// after it returns.
pub trait RunHook: Send {
    /// Called with the running application and the admin server's address.
    fn started(
        self,
        app: &Application,
        admin: SocketAddr,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// No extra work.
#[derive(Debug, Clone, Copy)]
pub struct NoHook;

impl RunHook for NoHook {
    async fn started(self, _: &Application, _: SocketAddr) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Listen for SIGTERM/SIGINT, then connect. A signal while connecting ends
/// the start-up cleanly (`None`) instead of killing the process.
pub async fn start(settings: Settings, connect: Connect) -> anyhow::Result<Option<Application>> {
    let shutdown = Shutdown::new();
    shutdown
        .listen_for_signals(settings.queue.shutdown_grace)
        .context("cannot listen for SIGTERM/SIGINT")?;
    let app = async {
        match connect {
            Connect::Only => Application::connect(settings).await,
            Connect::AndMigrate => Application::connect_and_migrate(settings).await,
        }
    };
    tokio::select! {
        app = app => {
            let mut app = app?;
            app.shutdown = shutdown;
            Ok(Some(app))
        }
        () = shutdown.stop.cancelled() => {
            tracing::info!("shutdown requested during start-up");
            Ok(None)
        }
    }
}

/// `prospector migrate`.
pub async fn migrate(settings: Settings) -> anyhow::Result<ExitCode> {
    let app = Application::connect_and_migrate(settings).await?;
    let count = prospector_jobs::MIGRATOR.iter().count();
    println!("database migrated ({count} Prospector migrations, plus the job queue's)");
    app.pool.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

/// `prospector web`.
pub async fn web(settings: Settings, address: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let address = address.unwrap_or(settings.admin.bind);
    let Some(app) = start(settings, Connect::Only).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let listener = bind(address).await?;
    tracing::info!(address = %listener.local_addr()?, "admin HTTP server listening");
    app.serve_admin(listener)
        .await
        .context("admin HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}

async fn spawn_metrics(app: &Application, address: Option<SocketAddr>) -> anyhow::Result<()> {
    if let Some(address) = address {
        let listener = bind(address).await?;
        tracing::info!(address = %listener.local_addr()?, "metrics endpoint listening");
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = app.serve_metrics(listener).await {
                tracing::error!(error = %e, "metrics endpoint failed");
            }
        });
    }
    Ok(())
}

/// `prospector work`.
pub async fn work(
    settings: Settings,
    stages: &[Stage],
    metrics: Option<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let Some(app) = start(settings, Connect::Only).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    spawn_metrics(&app, metrics).await?;
    check_capacity(&app).await?;
    let pool = app.worker_pool(stages)?;
    tracing::info!(queues = ?pool.queues(), "worker pool running");
    match pool.run().await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            tracing::error!(error = %e, "worker pool stopped");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Refuse to start workers whose pools do not fit in the connections the
/// server still accepts (a pool that cannot grow starves its workers).
async fn check_capacity(app: &Application) -> anyhow::Result<()> {
    crate::db::check_capacity(&app.pool, &app.settings.database)
        .await
        .context("could not read the server's connection limits")??;
    Ok(())
}

/// `prospector schedule`.
pub async fn schedule(settings: Settings, metrics: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let Some(app) = start(settings, Connect::Only).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    spawn_metrics(&app, metrics).await?;
    app.run_scheduler().await;
    Ok(ExitCode::SUCCESS)
}

/// Migrate, then run web, workers and scheduler in one process; `hook` runs
/// once they are up.
pub async fn run_all(
    settings: Settings,
    address: Option<SocketAddr>,
    stages: &[Stage],
    hook: impl RunHook,
) -> anyhow::Result<ExitCode> {
    let address = address.unwrap_or(settings.admin.bind);
    let Some(app) = start(settings, Connect::AndMigrate).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let listener = bind(address).await?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "admin HTTP server listening");

    check_capacity(&app).await?;
    let pool = app.worker_pool(stages)?;
    let web = {
        let app = app.clone();
        tokio::spawn(async move {
            let result = app.serve_admin(listener).await;
            // The server ending (other than at shutdown) ends the process.
            app.shutdown.trigger();
            result
        })
    };
    let scheduler = {
        let app = app.clone();
        tokio::spawn(async move { app.run_scheduler().await })
    };
    if let Err(e) = hook.started(&app, local).await {
        tracing::error!(error = %prospector_jobs::error_chain(e.as_ref()), "the start-up walk-through did not complete");
    }
    let workers = pool.run().await;
    app.shutdown.trigger();
    let web = web.await;
    scheduler.await.ok();
    let mut failed = false;
    if let Err(e) = workers {
        tracing::error!(error = %e, "worker pool stopped");
        failed = true;
    }
    match web {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "admin HTTP server failed");
            failed = true;
        }
        Err(e) => {
            tracing::error!(error = %e, "admin HTTP server panicked");
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
