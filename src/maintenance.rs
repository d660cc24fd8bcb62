//! Retention: finished jobs, stale worker rows and old schedule slots are
//! deleted in small batches, by one process at a time.
//!
//! apalis-postgres never deletes anything; without this the queue table
//! grows forever and its fetch and acknowledgement queries slow down.

use prospector_jobs::queue::retention;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{config::RetentionSettings, metrics as names};

const BATCH: i64 = 5_000;

/// Rows deleted by one pruning pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Succeeded jobs.
    pub done_jobs: u64,
    /// Dead jobs.
    pub dead_jobs: u64,
    /// Worker rows.
    pub workers: u64,
    /// Schedule slots.
    pub schedule_ticks: u64,
}

/// One pass, unless another process holds the pruning lock (then `None`).
pub async fn prune_once(pool: &PgPool, retention: &RetentionSettings) -> Result<Option<Pruned>, sqlx::Error> {
    let mut lock = pool.acquire().await?;
    let locked: bool =
        sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock(hashtext('prospector.prune')) AS "locked!""#)
            .fetch_one(&mut *lock)
            .await?;
    if !locked {
        return Ok(None);
    }
    let result = prune_locked(pool, retention).await;
    sqlx::query_scalar!("SELECT pg_advisory_unlock(hashtext('prospector.prune'))")
        .fetch_one(&mut *lock)
        .await?;
    result.map(Some)
}

async fn prune_locked(pool: &PgPool, retention: &RetentionSettings) -> Result<Pruned, sqlx::Error> {
    let mut pruned = Pruned::default();
    for queue in retention::queues_with_done_jobs(pool).await? {
        loop {
            let n = retention::prune_done_jobs(pool, &queue, retention.done, BATCH).await?;
            pruned.done_jobs += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    loop {
        let n = retention::prune_dead_jobs(pool, retention.dead, BATCH).await?;
        pruned.dead_jobs += n;
        if n < BATCH as u64 {
            break;
        }
    }
    pruned.workers = retention::prune_stale_workers(pool, retention.workers).await?;
    pruned.schedule_ticks = crate::scheduler::prune_schedule_ticks(pool, retention.schedule_ticks).await?;

    for (table, n) in [
        ("jobs_done", pruned.done_jobs),
        ("jobs_dead", pruned.dead_jobs),
        ("workers", pruned.workers),
        ("schedule_ticks", pruned.schedule_ticks),
    ] {
        metrics::counter!(names::PRUNED_ROWS_TOTAL, "table" => table).increment(n);
    }
    Ok(pruned)
}

/// Prune every `retention.prune_interval` until stopped.
pub async fn run(pool: PgPool, retention: RetentionSettings, stop: CancellationToken) {
    loop {
        match prune_once(&pool, &retention).await {
            Ok(Some(p)) if p != Pruned::default() => tracing::info!(
                done_jobs = p.done_jobs,
                dead_jobs = p.dead_jobs,
                workers = p.workers,
                schedule_ticks = p.schedule_ticks,
                "pruned finished rows"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed; will try again"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(retention.prune_interval) => {}
        }
    }
}
