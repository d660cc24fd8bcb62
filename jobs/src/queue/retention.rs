//! Retention of the queue's own rows: finished jobs and worker rows that
//! apalis-postgres never deletes. Deletes go in small batches (`batch` rows
//! per statement), oldest first, so a pass never holds long locks; the
//! caller repeats until fewer than `batch` rows went.

use std::time::Duration;

use sqlx::PgExecutor;

/// Delete up to `batch` succeeded jobs of `queue` finished more than `age` ago.
pub async fn prune_done_jobs(
    executor: impl PgExecutor<'_>,
    queue: &str,
    age: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
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
        age.as_secs_f64(),
        batch,
    )
    .execute(executor)
    .await?
    .rows_affected())
}

/// Delete up to `batch` dead jobs (any queue) that died more than `age` ago.
pub async fn prune_dead_jobs(
    executor: impl PgExecutor<'_>,
    age: Duration,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        r#"
            DELETE FROM apalis.jobs WHERE id IN (
                SELECT id FROM apalis.jobs
                WHERE (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))
                  AND done_at < now() - make_interval(secs => $1)
                LIMIT $2
            )
            "#,
        age.as_secs_f64(),
        batch,
    )
    .execute(executor)
    .await?
    .rows_affected())
}

/// Delete worker rows not seen for `age` that hold no job.
pub async fn prune_stale_workers(executor: impl PgExecutor<'_>, age: Duration) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        r#"
        DELETE FROM apalis.workers w
        WHERE w.last_seen < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id)
        "#,
        age.as_secs_f64(),
    )
    .execute(executor)
    .await?
    .rows_affected())
}

/// Queues with finished jobs: one probe of the index per queue (a loose
/// index scan), however many jobs there are.
pub async fn queues_with_done_jobs(executor: impl PgExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
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
    .fetch_all(executor)
    .await
}
