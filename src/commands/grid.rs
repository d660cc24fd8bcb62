//! `prospector grid import|list`

use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use prospector_jobs::domain::CountryCode;

use super::EXIT_DATA_ERROR;
use crate::{cli::GridCommand, config::Settings, db, grid};

const STATUSES: [&str; 5] = ["pending", "in_progress", "completed", "cooldown", "paused"];

pub async fn run(settings: Settings, command: GridCommand) -> anyhow::Result<ExitCode> {
    match command {
        GridCommand::Import { file, country } => {
            let country = match country {
                Some(c) => CountryCode::parse(&c)?,
                None => settings.import.default_country,
            };
            let pool = db::connect(&settings.database).await?;
            let report = grid::import_file(&pool, &file, country).await?;
            for error in &report.rejected {
                eprintln!("rejected {error}");
            }
            println!(
                "{}: {} rows — {} new territories, {} updated, {} rejected",
                file.display(),
                report.rows,
                report.inserted,
                report.updated,
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
        GridCommand::List { status, limit, json } => {
            if let Some(s) = &status
                && !STATUSES.contains(&s.as_str())
            {
                anyhow::bail!("--status must be one of {}", STATUSES.join(", "));
            }
            if !(1..=100_000).contains(&limit) {
                anyhow::bail!("--limit must be between 1 and 100000");
            }
            let pool = db::connect(&settings.database).await?;
            let rows = grid::list_territories(&pool, status.as_deref(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
                "city",
                "state",
                "country",
                "industry",
                "status",
                "priority",
                "population",
                "leads",
                "qualified",
                "last scraped",
                "cooldown until",
            ]);
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
            };
            for row in &rows {
                let status = match &row.last_error {
                    Some(error) => format!("{} ({})", row.status, error.chars().take(60).collect::<String>()),
                    None => row.status.clone(),
                };
                table.add_row(vec![
                    row.city.clone(),
                    row.state.clone(),
                    row.country.clone(),
                    row.industry.clone(),
                    status,
                    row.priority.to_string(),
                    row.population.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                    row.lead_count.to_string(),
                    row.qualified_count.to_string(),
                    time(row.last_scraped_at),
                    time(row.cooldown_until),
                ]);
            }
            println!("{table}");
            println!("{} territories", rows.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
