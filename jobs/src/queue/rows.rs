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
