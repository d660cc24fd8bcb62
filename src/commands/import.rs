//! `prospector import FILE`

use std::{io::IsTerminal, process::ExitCode};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prospector_jobs::domain::CountryCode;

use super::EXIT_DATA_ERROR;
use crate::{
    cli::ImportArgs,
    config::Settings,
    db,
    import::{self, ImportRequest, Progress, RowDefaults, RowError},
};

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, rows: u64) {
        self.0.set_length(rows);
    }
    fn advance(&self, rows: u64) {
        self.0.inc(rows);
    }
    fn rejected(&self, error: &RowError) {
        self.0.suspend(|| eprintln!("rejected {error}"));
    }
}

pub async fn run(settings: Settings, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let country = match &args.country {
        Some(c) => CountryCode::parse(c)?,
        None => settings.import.default_country,
    };
    let request = ImportRequest {
        path: args.file.clone(),
        format: args.format,
        defaults: RowDefaults {
            channel: args.channel,
            source: args.source.clone(),
            tags: args.tags.clone(),
            country,
        },
        chunk_size: settings.import.chunk_size,
    };
    let pool = db::connect(&settings.database).await?;

    let bar = ProgressBar::new(0);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} importing [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let report = import::import_file(&pool, &request, &Bar(bar.clone())).await;
    bar.finish_and_clear();
    let report = report?;

    for column in &report.ignored_columns {
        eprintln!("note: ignored column `{column}`");
    }
    println!(
        "batch {}: {} rows — {} new, {} updated, {} duplicates in the file, {} rejected",
        report.scan_job_id,
        report.rows,
        report.inserted,
        report.updated,
        report.duplicates,
        report.rejected.len()
    );
    if report.rejected.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} rows were rejected (listed above); every other row was imported",
            report.rejected.len()
        );
        Ok(ExitCode::from(EXIT_DATA_ERROR))
    }
}
