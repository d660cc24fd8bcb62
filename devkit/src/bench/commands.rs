//! `prospector-bench …`: one function per subcommand, and [`run`].

use std::process::ExitCode;

use prospector::{
    commands::roles::{self, Connect},
    config::Settings,
    worker_pool::WorkerPool,
};

use super::BenchJob;
use crate::{
    bench,
    cli::{
        BenchAuditArgs, BenchCommand, BenchDataArgs, BenchDiscoverArgs, BenchEmailArgs, BenchFingerprintArgs,
        BenchQueueArgs, BenchScanArgs,
    },
};

/// Run a subcommand to completion.
pub async fn run(command: BenchCommand, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Queue(args) => queue(settings, args).await,
        BenchCommand::Work => work(settings).await,
        BenchCommand::Audit(args) => audit(settings, args).await,
        BenchCommand::Discover(args) => discover(settings, args).await,
        BenchCommand::Data(args) => data(settings, args).await,
        BenchCommand::Fingerprint(args) => fingerprint(settings, args),
        BenchCommand::Scan(args) => scan(settings, args).await,
        BenchCommand::Email(args) => email(args).await,
        BenchCommand::Build { sites, threads } => {
            bench::build::run(sites, threads)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `prospector-bench queue`
pub async fn queue(settings: Settings, args: BenchQueueArgs) -> anyhow::Result<ExitCode> {
    bench::queue::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}

/// A worker process running only the benchmark queue.
pub async fn work(settings: Settings) -> anyhow::Result<ExitCode> {
    let Some(app) = roles::start(settings, Connect::Only).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut pool: WorkerPool = app.bare_worker_pool();
    pool.spawn_queue::<BenchJob>(());
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

/// `prospector-bench data`
pub async fn data(settings: Settings, args: BenchDataArgs) -> anyhow::Result<ExitCode> {
    bench::data::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}

/// `prospector-bench fingerprint DIR`
pub fn fingerprint(settings: Settings, args: BenchFingerprintArgs) -> anyhow::Result<ExitCode> {
    bench::fingerprint::run(&settings, &args)?;
    Ok(ExitCode::SUCCESS)
}

/// `prospector-bench scan`
pub async fn scan(settings: Settings, args: BenchScanArgs) -> anyhow::Result<ExitCode> {
    bench::scan::run(settings, args).await?;
    Ok(ExitCode::SUCCESS)
}

/// `prospector-bench email`
pub async fn email(args: BenchEmailArgs) -> anyhow::Result<ExitCode> {
    bench::email::run(args).await?;
    Ok(ExitCode::SUCCESS)
}
