//! `prospector-demo`: Prospector on a local demo (what `scripts/demo` runs).
//!
//! Serves the sample sites on loopback, points the stages at them, then runs
//! every role in one process like `prospector run`, imports the sample leads
//! and walks them through the pipeline, printing each step.

use std::process::ExitCode;

use clap::Parser;
use prospector::{commands::roles, config::Sources, entry};
use prospector_devkit::{
    cli::DemoCli,
    demo::{Demo, DemoRun},
};

fn main() -> ExitCode {
    let cli = DemoCli::parse();
    let sources = Sources::from_process(cli.config.clone());
    entry::run(&sources, |mut settings| async move {
        let demo = Demo::start(tokio_util::sync::CancellationToken::new()).await?;
        let token = demo.configure(&mut settings);
        roles::run_all(settings, cli.bind, &[], DemoRun { demo, token }).await
    })
}
