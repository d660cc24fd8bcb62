//! Dead jobs, and the operator's retry and cancel.
//!
//! A job is dead when it failed for good: `Killed` (a permanent error, a
//! panic, an undecodable payload) or `Failed` with no attempts left. Dead
//! jobs stay (until retention) so an operator can read why and retry them.
//! Cancelling marks a job that has not started `Killed` with the reason
//! "cancelled by operator"; cancelled jobs are not listed as dead.

use crate::scan_jobs::{self, BatchItem, ItemOutcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// A dead job as the CLI and the admin API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadJob {
    /// Job id (ULID).
    pub id: String,
    /// Queue.
    pub queue: String,
    /// `Killed` or `Failed`.
    pub status: String,
    /// Runs so far.
    pub attempts: i32,
    /// Runs allowed.
    pub max_attempts: i32,
    /// The last error.
    pub reason: Option<String>,
    /// When it died.
    pub died_at: Option<DateTime<Utc>>,
}

/// Why a retry or cancel was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No such job.
    #[error("no job with id {0}")]
    NotFound(String),
    /// The job is not in a state that allows it.
    #[error("job {id} is {status}: {why}")]
    Conflict {
        /// Job id.
        id: String,
        /// Its status.
        status: String,
        /// What is allowed.
        why: &'static str,
    },
    /// Database failure.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Dead jobs, newest first, optionally of one queue.
pub async fn list_dead(pool: &PgPool, queue: Option<&str>, limit: i64) -> Result<Vec<DeadJob>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT id, job_type, status, attempts, max_attempts, last_result, done_at
        FROM apalis.jobs
        WHERE (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))
          AND NOT coalesce(exist(metadata, 'cancelled_at'), false)
          AND ($1::text IS NULL OR job_type = $1)
        ORDER BY done_at DESC NULLS LAST
        LIMIT $2
        "#,
        queue,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeadJob {
            id: r.id,
            queue: r.job_type,
            status: r.status,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            reason: r.last_result.as_ref().and_then(reason_of),
            died_at: r.done_at,
        })
        .collect())
}

/// The error text of an apalis result (`{"Err": "..."}`), without the
/// `AbortError: ` prefix apalis adds for permanent failures.
fn reason_of(result: &serde_json::Value) -> Option<String> {
    let text = result.get("Err")?.as_str()?;
    Some(text.strip_prefix("AbortError: ").unwrap_or(text).to_owned())
}

/// Put a dead (or cancelled) job back on its queue with fresh attempts.
pub async fn retry(pool: &PgPool, id: &str) -> Result<(), ControlError> {
    let retried = sqlx::query_scalar!(
        r#"
        WITH retried AS (
            UPDATE apalis.jobs
            SET status = 'Pending', attempts = 0, run_at = now(), lock_by = NULL, lock_at = NULL,
                done_at = NULL, metadata = metadata - 'cancelled_at'::text
            WHERE id = $1 AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))
            RETURNING id, job_type
        )
        SELECT pg_notify('apalis::job::insert', json_build_object('job_type', job_type, 'id', id)::text)::text
        FROM retried
        "#,
        id,
    )
    .fetch_optional(pool)
    .await?;
    if retried.is_some() {
        return Ok(());
    }
    Err(refusal(pool, id, "only dead or cancelled jobs can be retried").await)
}

/// Cancel a job that is waiting (pending, delayed, or failed awaiting its
/// retry). Running jobs cannot be cancelled. A cancelled batch job counts as
/// a failed item of its batch.
pub async fn cancel(pool: &PgPool, id: &str) -> Result<(), ControlError> {
    let cancelled = sqlx::query!(
        r#"
        UPDATE apalis.jobs
        SET status = 'Killed', done_at = now(),
            last_result = '{"Err": "cancelled by operator"}'::jsonb,
            metadata = coalesce(metadata, ''::hstore) || hstore('cancelled_at', now()::text)
        WHERE id = $1
          AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))
        RETURNING job_type, job
        "#,
        id,
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = cancelled else {
        return Err(refusal(
            pool,
            id,
            "only waiting jobs (pending, delayed or awaiting a retry) can be cancelled",
        )
        .await);
    };
    let batch = serde_json::from_slice::<serde_json::Value>(&row.job)
        .ok()
        .and_then(|v| v.get("batch").cloned())
        .and_then(|b| serde_json::from_value::<BatchItem>(b).ok());
    if let Some(item) = batch {
        scan_jobs::record_item(
            pool,
            &item,
            &row.job_type,
            &ItemOutcome::Failed("cancelled by operator".into()),
        )
        .await?;
    }
    Ok(())
}

async fn refusal(pool: &PgPool, id: &str, why: &'static str) -> ControlError {
    match sqlx::query_scalar!("SELECT status FROM apalis.jobs WHERE id = $1", id)
        .fetch_optional(pool)
        .await
    {
        Ok(Some(status)) => ControlError::Conflict {
            id: id.to_owned(),
            status,
            why,
        },
        Ok(None) => ControlError::NotFound(id.to_owned()),
        Err(e) => ControlError::Database(e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reasons_lose_the_abort_prefix() {
        assert_eq!(
            reason_of(&json!({"Err": "AbortError: bad input"})),
            Some("bad input".into())
        );
        assert_eq!(reason_of(&json!({"Err": "timed out"})), Some("timed out".into()));
        assert_eq!(reason_of(&json!({"Ok": null})), None);
    }
}
