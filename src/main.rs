use std::process::ExitCode;

use clap::Parser;
use prospector::{cli::Cli, commands, config::Sources, entry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sources = Sources::from_process(cli.config.clone());
    entry::run(&sources, |settings| commands::run(cli.command, settings))
}
