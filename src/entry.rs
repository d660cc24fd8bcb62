//! What every Prospector binary's `main` does: load the settings (exit 78,
//! EX_CONFIG, with the bad key named), set up logging and TLS, run one
//! command on a Tokio runtime, and print its error chain on failure.

use std::{future::Future, process::ExitCode};

use crate::{
    config::{Settings, Sources},
    telemetry, tls,
};

/// Run `command` with the settings loaded from `sources`.
pub fn run<F, Fut>(sources: &Sources, command: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    let settings = match Settings::load(sources) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    telemetry::init(&settings.log);
    tls::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command(settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", prospector_jobs::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
