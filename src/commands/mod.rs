//! One module per subcommand; [`run`] dispatches.

mod admin;
mod build;
mod grid;
mod import;
mod jobs;
mod outreach;
pub mod roles;
mod scan;
mod setup;
pub mod status;

use std::process::ExitCode;

use crate::{cli::Command, config::Settings};

/// Exit status for "some input rows were rejected" (sysexits EX_DATAERR).
pub const EXIT_DATA_ERROR: u8 = 65;

/// Run a subcommand to completion.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Migrate => roles::migrate(settings).await,
        Command::Web { bind } => roles::web(settings, bind).await,
        Command::Work { stages, metrics_bind } => roles::work(settings, &stages, metrics_bind).await,
        Command::Schedule { metrics_bind } => roles::schedule(settings, metrics_bind).await,
        Command::Run { bind, stages } => roles::run_all(settings, bind, &stages, roles::NoHook).await,
        Command::Import(args) => import::run(settings, args).await,
        Command::Scan(args) => scan::run(settings, args).await,
        Command::Build(args) => build::run(settings, args).await,
        Command::Status { url, json } => status::run(settings, url, json).await,
        Command::Jobs { command } => jobs::run(settings, command).await,
        Command::Grid { command } => grid::run(settings, command).await,
        Command::Setup { dir, npm } => setup::run(&settings, dir, &npm).await,
        Command::Outreach { command } => outreach::run(settings, command).await,
        Command::Admin { command } => admin::run(settings, command).await,
    }
}
