use std::process::ExitCode;

use clap::Parser;
use prospector::{
    cli::Cli,
    commands,
    config::{Settings, Sources},
    telemetry, tls,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&Sources::from_process(cli.config.clone())) {
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
    match runtime.block_on(commands::run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", prospector_jobs::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
