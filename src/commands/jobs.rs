//! `prospector jobs dead|retry|cancel|prune`

use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use prospector_jobs::queue::control as job_control;

use crate::{cli::JobsCommand, config::Settings, db, maintenance};

pub async fn run(settings: Settings, command: JobsCommand) -> anyhow::Result<ExitCode> {
    let pool = db::connect(&settings.database).await?;
    match command {
        JobsCommand::Dead { queue, limit, json } => {
            let dead = job_control::list_dead(&pool, queue.as_deref(), limit.clamp(1, 10_000)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&dead)?);
            } else if dead.is_empty() {
                println!("no dead jobs");
            } else {
                let mut table = Table::new();
                table
                    .load_preset(UTF8_FULL_CONDENSED)
                    .set_header(vec!["id", "queue", "status", "attempts", "died", "reason"]);
                for job in dead {
                    table.add_row(vec![
                        job.id,
                        job.queue,
                        job.status,
                        format!("{}/{}", job.attempts, job.max_attempts),
                        job.died_at
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                            .unwrap_or_default(),
                        job.reason.unwrap_or_default(),
                    ]);
                }
                println!("{table}");
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Retry { ids } => {
            each(&ids, "retried", |id| {
                let pool = pool.clone();
                async move { job_control::retry(&pool, &id).await }
            })
            .await
        }
        JobsCommand::Cancel { ids } => {
            each(&ids, "cancelled", |id| {
                let pool = pool.clone();
                async move { job_control::cancel(&pool, &id).await }
            })
            .await
        }
        JobsCommand::Prune => {
            match maintenance::prune_once(&pool, &settings.retention).await? {
                Some(p) => println!(
                    "pruned {} done jobs, {} dead jobs, {} workers, {} schedule slots",
                    p.done_jobs, p.dead_jobs, p.workers, p.schedule_ticks
                ),
                None => println!("another process is pruning right now"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn each<F, Fut>(ids: &[String], verb: &str, action: F) -> anyhow::Result<ExitCode>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), job_control::ControlError>>,
{
    let mut failed = false;
    for id in ids {
        match action(id.clone()).await {
            Ok(()) => println!("{id}: {verb}"),
            Err(e) => {
                eprintln!("{id}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
