//! The status read model shared by `/api/status`, `prospector status` and
//! the queue gauges of `/metrics`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prospector_jobs::{Stage, queue::counts, scan_jobs};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::config::QueueSettings;

/// Job counts stop at this many: a figure equal to it means "at least".
/// Counting is by index, so the cap bounds what one status read costs.
pub const COUNT_CAP: i64 = 100_000;

/// Everything an operator checks first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusReport {
    /// When this was read.
    pub generated_at: DateTime<Utc>,
    /// One entry per queue.
    pub queues: Vec<QueueStatus>,
    /// Workers seen in the last ten minutes.
    pub workers: Vec<WorkerStatus>,
    /// Unfinished batches, then recent ones.
    pub scan_jobs: Vec<ScanJobStatus>,
    /// Job counts stop here (a count equal to it means at least as many).
    #[serde(default = "count_cap")]
    pub count_cap: i64,
}

fn count_cap() -> i64 {
    COUNT_CAP
}

/// Jobs of one queue by state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QueueStatus {
    /// Queue name.
    pub queue: String,
    /// Whether it is a stage of this build (other queues seen in the
    /// database: a tool's, or a stage's from another version).
    pub built: bool,
    /// Ready to run now.
    pub pending: i64,
    /// Scheduled for later.
    pub delayed: i64,
    /// Fetched or running.
    pub running: i64,
    /// Failed, waiting for a retry.
    pub retrying: i64,
    /// Failed for good (see `prospector jobs dead`).
    pub dead: i64,
    /// Succeeded in the last hour.
    pub done_last_hour: i64,
    /// Age of the oldest job that could run now (queue lag).
    pub oldest_ready_age_seconds: Option<f64>,
    /// Workers with a recent heartbeat.
    pub workers_alive: i64,
}

/// One worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerStatus {
    /// Unique per process start.
    pub name: String,
    /// Queue it consumes.
    pub queue: String,
    /// Last heartbeat.
    pub last_seen: DateTime<Utc>,
    /// Heartbeat within `heartbeat_interval × missed_heartbeats`.
    pub alive: bool,
}

/// One batch with its progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScanJobStatus {
    /// The batch.
    #[serde(flatten)]
    pub batch: scan_jobs::BatchSummary,
    /// Finished share, 0–100.
    pub progress_percent: f64,
    /// Estimated seconds left.
    pub eta_seconds: Option<f64>,
    /// Progress of each stage (done, skipped, failed items).
    #[serde(default)]
    pub stage_progress: Vec<scan_jobs::StageProgress>,
}

fn queue_entry<'a>(queues: &'a mut BTreeMap<String, QueueStatus>, name: &str) -> &'a mut QueueStatus {
    queues.entry(name.to_owned()).or_insert_with(|| QueueStatus {
        queue: name.to_owned(),
        built: false,
        ..QueueStatus::default()
    })
}

impl ScanJobStatus {
    /// A batch with its derived figures.
    pub fn new(
        batch: scan_jobs::BatchSummary,
        now: DateTime<Utc>,
        stage_progress: Vec<scan_jobs::StageProgress>,
    ) -> Self {
        Self {
            progress_percent: batch.progress_percent(),
            eta_seconds: batch.eta_seconds(now),
            stage_progress,
            batch,
        }
    }
}

impl StatusReport {
    /// Read the current status.
    pub async fn load(pool: &PgPool, queue_settings: &QueueSettings) -> Result<Self, sqlx::Error> {
        let now = Utc::now();
        let mut queues: BTreeMap<String, QueueStatus> = Stage::ALL
            .iter()
            .map(|stage| {
                (
                    stage.name().to_owned(),
                    QueueStatus {
                        queue: stage.name().to_owned(),
                        built: true,
                        ..QueueStatus::default()
                    },
                )
            })
            .collect();
        // Queues with live or dead jobs that no stage names (a loose index
        // scan: one probe per distinct queue, however many jobs there are).
        let others = counts::queues_with_jobs(pool).await?;
        for queue in others {
            queue_entry(&mut queues, &queue);
        }

        // Each figure counts up to COUNT_CAP rows of an index, so the page
        // costs the same with a hundred thousand jobs waiting or ten million.
        let names: Vec<String> = queues.keys().cloned().collect();
        let counts = counts::count_queues(pool, &names, COUNT_CAP).await?;
        for row in counts {
            let q = queue_entry(&mut queues, &row.queue);
            q.pending = row.pending;
            q.delayed = row.delayed;
            q.running = row.running;
            q.retrying = row.retrying;
            q.dead = row.dead;
            q.oldest_ready_age_seconds = row.oldest_ready;
        }

        let done = counts::done_last_hour(pool, &names, COUNT_CAP).await?;
        for (queue, done) in done {
            queue_entry(&mut queues, &queue).done_last_hour = done;
        }

        let alive_within = queue_settings.heartbeat_interval
            * u32::try_from(queue_settings.missed_heartbeats).unwrap_or(u32::MAX);
        let alive_after = now - chrono::Duration::from_std(alive_within).unwrap_or_default();
        let workers: Vec<WorkerStatus> = counts::recent_workers(pool)
            .await?
            .into_iter()
            .map(|w| WorkerStatus {
                alive: w.last_seen > alive_after,
                name: w.id,
                queue: w.queue,
                last_seen: w.last_seen,
            })
            .collect();
        for worker in workers.iter().filter(|w| w.alive) {
            let q = queue_entry(&mut queues, &worker.queue);
            q.workers_alive += 1;
        }

        let batches = scan_jobs::list_recent(pool, 20).await?;
        let ids: Vec<i64> = batches.iter().map(|b| b.id).collect();
        let mut progress = scan_jobs::stage_progress_many(pool, &ids).await?;
        let scan_jobs = batches
            .into_iter()
            .map(|batch| {
                let stage_progress = progress
                    .extract_if(.., |(id, _)| *id == batch.id)
                    .map(|(_, p)| p)
                    .collect();
                ScanJobStatus::new(batch, now, stage_progress)
            })
            .collect();

        Ok(Self {
            generated_at: now,
            queues: queues.into_values().collect(),
            workers,
            scan_jobs,
            count_cap: COUNT_CAP,
        })
    }
}
