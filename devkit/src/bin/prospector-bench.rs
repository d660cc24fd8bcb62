//! `prospector-bench`: benchmarks that print figures.

use std::process::ExitCode;

use clap::Parser;
use prospector::{config::Sources, entry};
use prospector_devkit::{bench, cli::BenchCli};

fn main() -> ExitCode {
    let cli = BenchCli::parse();
    let sources = Sources {
        tool: Some(bench::TOOL_QUEUES),
        ..Sources::from_process(cli.config.clone())
    };
    entry::run(&sources, |settings| bench::commands::run(cli.command, settings))
}
