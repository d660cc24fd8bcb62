//! Read models of the queue: which queues have jobs, how many per state
//! (counted by index up to a cap), and the workers' heartbeats. The status
//! page, `prospector status` and `/metrics` build on these.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// Jobs of one queue by state, each count stopping at the cap.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueCounts {
    /// Queue.
    pub queue: String,
    /// Ready to run now.
    pub pending: i64,
    /// Scheduled for later.
    pub delayed: i64,
    /// Fetched or running.
    pub running: i64,
    /// Failed, waiting for a retry.
    pub retrying: i64,
    /// Failed for good (cancelled jobs excluded).
    pub dead: i64,
    /// Age of the oldest job that could run now, in seconds.
    pub oldest_ready: Option<f64>,
}

/// A worker row seen recently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    /// Unique per process start.
    pub id: String,
    /// Queue it consumes.
    pub queue: String,
    /// Last heartbeat.
    pub last_seen: DateTime<Utc>,
}

/// Queues with live or dead jobs (a loose index scan: one probe per
/// distinct queue, however many jobs there are).
pub async fn queues_with_jobs(pool: impl PgExecutor<'_>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
            WITH RECURSIVE live(q) AS (
                SELECT min(job_type) FROM apalis.jobs
                WHERE status IN ('Pending', 'Queued', 'Running')
                   OR (status = 'Failed' AND attempts < max_attempts)
                UNION ALL
                SELECT (SELECT min(job_type) FROM apalis.jobs
                        WHERE (status IN ('Pending', 'Queued', 'Running')
                               OR (status = 'Failed' AND attempts < max_attempts))
                          AND job_type > live.q)
                FROM live WHERE live.q IS NOT NULL
            ), dead(q) AS (
                SELECT min(job_type) FROM apalis.jobs
                WHERE status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts)
                UNION ALL
                SELECT (SELECT min(job_type) FROM apalis.jobs
                        WHERE (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))
                          AND job_type > dead.q)
                FROM dead WHERE dead.q IS NOT NULL
            )
            SELECT q AS "queue!" FROM live WHERE q IS NOT NULL
            UNION
            SELECT q FROM dead WHERE q IS NOT NULL
            "#
    )
    .fetch_all(pool)
    .await
}

/// Counts of each of `names`, each up to `cap` rows of an index, so the
/// cost is the same with a hundred thousand jobs waiting or ten million.
pub async fn count_queues(
    pool: impl PgExecutor<'_>,
    names: &[String],
    cap: i64,
) -> Result<Vec<QueueCounts>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
            SELECT q.queue AS "queue!",
                (SELECT count(*) FROM (SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = q.queue AND j.status = 'Pending' AND j.run_at <= now()
                    LIMIT $2) x) AS "pending!",
                (SELECT count(*) FROM (SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = q.queue AND j.status = 'Pending' AND j.run_at > now()
                    LIMIT $2) x) AS "delayed!",
                (SELECT count(*) FROM (SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = q.queue AND j.status IN ('Queued', 'Running')
                    LIMIT $2) x) AS "running!",
                (SELECT count(*) FROM (SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = q.queue AND j.status = 'Failed' AND j.attempts < j.max_attempts
                    LIMIT $2) x) AS "retrying!",
                (SELECT count(*) FROM (SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = q.queue
                      AND (j.status = 'Killed' OR (j.status = 'Failed' AND j.attempts >= j.max_attempts))
                      AND NOT coalesce(exist(j.metadata, 'cancelled_at'), false)
                    LIMIT $2) x) AS "dead!",
                extract(epoch FROM now() - least(
                    (SELECT min(j.run_at) FROM apalis.jobs j
                     WHERE j.job_type = q.queue AND j.status = 'Pending' AND j.run_at <= now()),
                    (SELECT min(j.run_at) FROM apalis.jobs j
                     WHERE j.job_type = q.queue AND j.status = 'Failed' AND j.attempts < j.max_attempts
                       AND j.run_at <= now())))::float8 AS oldest_ready
            FROM unnest($1::text[]) AS q(queue)
            "#,
        names,
        cap,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| QueueCounts {
            queue: r.queue,
            pending: r.pending,
            delayed: r.delayed,
            running: r.running,
            retrying: r.retrying,
            dead: r.dead,
            oldest_ready: r.oldest_ready,
        })
        .collect())
}

/// Jobs of each of `names` done in the last hour, each up to `cap`.
pub async fn done_last_hour(
    pool: impl PgExecutor<'_>,
    names: &[String],
    cap: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
            SELECT q.queue AS "queue!",
                (SELECT count(*) FROM (SELECT 1 FROM apalis.jobs j
                    WHERE j.job_type = q.queue AND j.status = 'Done'
                      AND j.done_at > now() - interval '1 hour'
                    LIMIT $2) x) AS "done!"
            FROM unnest($1::text[]) AS q(queue)
            "#,
        names,
        cap,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.queue, r.done)).collect())
}

/// Worker rows with a heartbeat in the last ten minutes.
pub async fn recent_workers(pool: impl PgExecutor<'_>) -> Result<Vec<WorkerRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
            SELECT id, worker_type, last_seen
            FROM apalis.workers
            WHERE last_seen > now() - interval '10 minutes'
            ORDER BY worker_type, id
            "#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|w| WorkerRow {
            id: w.id,
            queue: w.worker_type,
            last_seen: w.last_seen,
        })
        .collect())
}
