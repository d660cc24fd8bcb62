//! `prospector status`: the status report as tables (or JSON).

use std::process::ExitCode;

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use secrecy::ExposeSecret;

use crate::{config::Settings, db, status_report::StatusReport};

pub async fn run(settings: Settings, url: Option<url::Url>, json: bool) -> anyhow::Result<ExitCode> {
    let report = match url {
        Some(url) => fetch(&settings, url).await?,
        None => {
            let pool = db::connect(&settings.database).await?;
            StatusReport::load(&pool, &settings.queue).await?
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

async fn fetch(settings: &Settings, base: url::Url) -> anyhow::Result<StatusReport> {
    let url = base.join("/api/status").context("invalid --url")?;
    let mut request = reqwest::Client::new().get(url.clone());
    if let Some(token) = &settings.admin.token {
        request = request.bearer_auth(token.expose_secret());
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("{url} answered {status}: {body}");
    }
    response.json().await.context("unexpected /api/status response")
}

fn age(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".to_owned(),
        Some(s) if s < 120.0 => format!("{s:.1}s"),
        Some(s) if s < 7200.0 => format!("{:.0}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

/// A job count; the cap means "at least".
fn count(n: i64, cap: i64) -> String {
    if n >= cap {
        format!("≥{n}")
    } else {
        n.to_string()
    }
}

/// Tables for queues, workers and batches.
pub fn render(report: &StatusReport) -> String {
    let mut queues = Table::new();
    queues.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "queue", "pending", "delayed", "running", "retrying", "dead", "done 1h", "lag", "workers",
    ]);
    for q in &report.queues {
        let name = if q.built {
            q.queue.clone()
        } else {
            format!("{} (not built)", q.queue)
        };
        queues.add_row(vec![
            name,
            count(q.pending, report.count_cap),
            count(q.delayed, report.count_cap),
            count(q.running, report.count_cap),
            count(q.retrying, report.count_cap),
            count(q.dead, report.count_cap),
            count(q.done_last_hour, report.count_cap),
            age(q.oldest_ready_age_seconds),
            q.workers_alive.to_string(),
        ]);
    }

    let mut workers = Table::new();
    workers
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(vec!["worker", "queue", "last heartbeat", "alive"]);
    for w in &report.workers {
        let since = (report.generated_at - w.last_seen).num_milliseconds() as f64 / 1000.0;
        workers.add_row(vec![
            w.name.clone(),
            w.queue.clone(),
            format!("{} ago", age(Some(since.max(0.0)))),
            if w.alive { "yes".into() } else { "no".into() },
        ]);
    }

    let mut batches = Table::new();
    batches.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "batch",
        "type",
        "status",
        "progress",
        "done",
        "failed",
        "total",
        "eta",
        "description",
    ]);
    for s in &report.scan_jobs {
        let b = &s.batch;
        batches.add_row(vec![
            b.id.to_string(),
            b.job_type.clone(),
            b.status.clone(),
            format!("{:.0}%", s.progress_percent),
            b.processed_items.to_string(),
            b.failed_items.to_string(),
            b.total_items.to_string(),
            age(s.eta_seconds),
            s.stage_progress
                .iter()
                .map(|p| {
                    let mut text = format!("{} {}", p.stage, p.done);
                    if p.skipped > 0 {
                        text.push_str(&format!(" (+{} skipped)", p.skipped));
                    }
                    if p.failed > 0 {
                        text.push_str(&format!(" ({} failed)", p.failed));
                    }
                    text
                })
                .collect::<Vec<_>>()
                .join(", "),
            b.description.clone().unwrap_or_default(),
        ]);
    }

    let mut out = format!(
        "Queues ({})\n{queues}\n",
        report.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if report.workers.is_empty() {
        out.push_str("\nWorkers: none seen in the last 10 minutes\n");
    } else {
        out.push_str(&format!("\nWorkers\n{workers}\n"));
    }
    if report.scan_jobs.is_empty() {
        out.push_str("\nBatches: none yet\n");
    } else {
        out.push_str(&format!("\nBatches\n{batches}\n"));
    }
    out
}
