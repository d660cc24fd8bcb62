//! The queue-row updates the worker pool makes besides apalis's own:
//! persisted backoff and the hand-back of unfinished jobs at shutdown.

use std::time::Duration;

use sqlx::PgExecutor;

/// Move a failing job's next run into the future. apalis re-fetches a
/// `Failed` job as soon as `run_at` has passed, so this is the backoff, and it
/// survives restarts because it lives in the row. The row keeps its lock
/// (`lock_by`), so apalis's acknowledgement still applies to it.
pub async fn delay_next_run(
    executor: impl PgExecutor<'_>,
    job_id: &str,
    delay: Duration,
) -> Result<(), sqlx::Error> {
    let millis = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    sqlx::query!(
        "UPDATE apalis.jobs SET run_at = now() + make_interval(secs => $2::float8 / 1000) WHERE id = $1",
        job_id,
        millis as f64,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Give back every unfinished job locked by these workers (a shutdown whose
/// grace period ran out): they go straight back to `Pending` instead of
/// waiting for the orphan timeout.
pub async fn hand_back_jobs(executor: impl PgExecutor<'_>, workers: &[String]) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"
        UPDATE apalis.jobs
        SET status = 'Pending', lock_by = NULL, lock_at = NULL, done_at = NULL, run_at = now(),
            last_result = '{"Err": "handed back at shutdown"}'::jsonb
        WHERE lock_by = ANY($1) AND status IN ('Queued', 'Running')
        "#,
        workers,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Put a job this worker holds back on the queue for `delay` without
/// charging it an attempt (a deferral, a shutdown): the row goes back to
/// `Pending` unlocked, so apalis's acknowledgement, which only touches rows
/// the worker still locks, leaves its attempt count as it was. False when
/// the worker no longer holds the job.
pub async fn release_uncharged(
    executor: impl PgExecutor<'_>,
    job_id: &str,
    worker: &str,
    delay: Duration,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let millis = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    let result = sqlx::query!(
        r#"
        UPDATE apalis.jobs
        SET status = 'Pending', lock_by = NULL, lock_at = NULL, done_at = NULL,
            run_at = now() + make_interval(secs => $3::float8 / 1000),
            last_result = jsonb_build_object('Err', $4::text)
        WHERE id = $1 AND lock_by = $2 AND status IN ('Queued', 'Running')
        "#,
        job_id,
        worker,
        millis as f64,
        reason,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Mark a fetched job as started, before its handler runs, so that a worker
/// that dies under it counts as a crash (the trigger of
/// `migrations/20261203200002_count_worker_crashes.sql` counts only running
/// jobs; fetched jobs that had not started are handed back uncounted).
pub async fn mark_running(
    executor: impl PgExecutor<'_>,
    job_id: &str,
    worker: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE apalis.jobs SET status = 'Running'
         WHERE id = $1 AND lock_by = $2 AND status = 'Queued'",
    )
    .bind(job_id)
    .bind(worker)
    .execute(executor)
    .await?;
    Ok(())
}

/// How many times the job's worker died (or lost its heartbeat) while
/// running it: counted by the trigger of
/// `migrations/20261203200002_count_worker_crashes.sql` on each orphan
/// rescue.
pub async fn worker_crashes(executor: impl PgExecutor<'_>, job_id: &str) -> Result<u32, sqlx::Error> {
    let crashes = sqlx::query_scalar!(
        r#"SELECT coalesce((metadata -> 'prospector.crashes')::int, 0) AS "crashes!" FROM apalis.jobs WHERE id = $1"#,
        job_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(crashes.map_or(0, |n| u32::try_from(n).unwrap_or(0)))
}
