//! `prospector bench …`

use std::process::ExitCode;

use crate::{
    bench,
    cli::{
        BenchAuditArgs, BenchDataArgs, BenchDiscoverArgs, BenchFingerprintArgs, BenchQueueArgs, BenchScanArgs,
    },
    config::Settings,
};

pub async fn queue(settings: Settings, args: BenchQueueArgs) -> anyhow::Result<ExitCode> {
    bench::queue::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}

/// A worker process running only the benchmark queue.
pub async fn work(settings: Settings) -> anyhow::Result<ExitCode> {
    let Some(app) = super::roles::start(settings, super::roles::Connect::Only).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut pool = crate::worker_pool::WorkerPool::new(
        app.pool.clone(),
        std::sync::Arc::clone(&app.settings),
        app.enqueuer.clone(),
        app.shutdown.clone(),
        app.instance.clone(),
    );
    pool.spawn_bench();
    Ok(match pool.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "bench worker pool stopped");
            ExitCode::FAILURE
        }
    })
}

/// Audits per minute through the stage vs a plain `lighthouse` loop.
pub async fn audit(settings: Settings, args: BenchAuditArgs) -> anyhow::Result<ExitCode> {
    bench::audit::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}

/// Records per second through the discover stage.
pub async fn discover(settings: Settings, args: BenchDiscoverArgs) -> anyhow::Result<ExitCode> {
    bench::discover::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}

/// `prospector bench data`
pub async fn data(settings: Settings, args: BenchDataArgs) -> anyhow::Result<ExitCode> {
    bench::data::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}

/// `prospector bench fingerprint DIR`
pub fn fingerprint(settings: Settings, args: BenchFingerprintArgs) -> anyhow::Result<ExitCode> {
    bench::fingerprint::run(&settings, &args)?;
    Ok(ExitCode::SUCCESS)
}

/// `prospector bench scan`
pub async fn scan(settings: Settings, args: BenchScanArgs) -> anyhow::Result<ExitCode> {
    bench::scan::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}
