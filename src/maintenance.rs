//! Retention: finished jobs, stale worker rows and old schedule slots are
//! deleted in small batches, by one process at a time.
//!
//! apalis-postgres never deletes anything; without this the queue table
//! grows forever and its fetch and acknowledgement queries slow down.

use std::time::Duration;

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
    let done_age = seconds(retention.done);
    for queue in queues_with_done_jobs(pool).await? {
        loop {
            let n = sqlx::query!(
                r#"
                DELETE FROM apalis.jobs WHERE id IN (
                    SELECT id FROM apalis.jobs
                    WHERE job_type = $1 AND status = 'Done'
                      AND done_at < now() - make_interval(secs => $2)
                    ORDER BY done_at
                    LIMIT $3
                )
                "#,
                queue,
                done_age,
                BATCH,
            )
            .execute(pool)
            .await?
            .rows_affected();
            pruned.done_jobs += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    let dead_age = seconds(retention.dead);
    loop {
        let n = sqlx::query!(
            r#"
            DELETE FROM apalis.jobs WHERE id IN (
                SELECT id FROM apalis.jobs
                WHERE (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))
                  AND done_at < now() - make_interval(secs => $1)
                LIMIT $2
            )
            "#,
            dead_age,
            BATCH,
        )
        .execute(pool)
        .await?
        .rows_affected();
        pruned.dead_jobs += n;
        if n < BATCH as u64 {
            break;
        }
    }
    pruned.workers = sqlx::query!(
        r#"
        DELETE FROM apalis.workers w
        WHERE w.last_seen < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id)
        "#,
        seconds(retention.workers),
    )
    .execute(pool)
    .await?
    .rows_affected();
    pruned.schedule_ticks = sqlx::query!(
        "DELETE FROM schedule_ticks WHERE claimed_at < now() - make_interval(secs => $1)",
        seconds(retention.schedule_ticks),
    )
    .execute(pool)
    .await?
    .rows_affected();

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

/// Queues with finished jobs: one probe of the index per queue (a loose
/// index scan), however many jobs there are.
async fn queues_with_done_jobs(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        WITH RECURSIVE q(name) AS (
            SELECT min(job_type) FROM apalis.jobs WHERE status = 'Done'
            UNION ALL
            SELECT (SELECT min(job_type) FROM apalis.jobs WHERE status = 'Done' AND job_type > q.name)
            FROM q WHERE q.name IS NOT NULL
        )
        SELECT name AS "name!" FROM q WHERE name IS NOT NULL
        "#
    )
    .fetch_all(pool)
    .await
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
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
