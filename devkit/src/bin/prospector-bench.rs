//! `prospector-bench`: benchmarks that print figures.

use std::process::ExitCode;

use clap::Parser;
use prospector::{
    config::{Settings, Sources},
    telemetry, tls,
};
use prospector_devkit::{bench, cli::BenchCli};

fn main() -> ExitCode {
    let cli = BenchCli::parse();
    let sources = Sources {
        tool: Some(bench::TOOL_QUEUES),
        ..Sources::from_process(cli.config.clone())
    };
    let settings = match Settings::load(&sources) {
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
    match runtime.block_on(bench::commands::run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", prospector_jobs::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
