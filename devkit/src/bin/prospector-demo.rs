//! `prospector-demo`: Prospector on a local demo (what `scripts/demo` runs).
//!
//! Serves the sample sites on loopback, points the stages at them, then runs
//! every role in one process like `prospector run`, imports the sample leads
//! and walks them through the pipeline, printing each step.

use std::process::ExitCode;

use clap::Parser;
use prospector::{
    commands::roles,
    config::{Settings, Sources},
    telemetry, tls,
};
use prospector_devkit::{
    cli::DemoCli,
    demo::{Demo, DemoRun},
};

fn main() -> ExitCode {
    let cli = DemoCli::parse();
    let mut settings = match Settings::load(&Sources::from_process(cli.config.clone())) {
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
    let run = async {
        let demo = Demo::start(tokio_util::sync::CancellationToken::new()).await?;
        let token = demo.configure(&mut settings);
        roles::run_all(settings, cli.bind, &[], DemoRun { demo, token }).await
    };
    match runtime.block_on(run) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", prospector_jobs::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
