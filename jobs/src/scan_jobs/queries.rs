use sqlx::PgExecutor;

use super::{BatchItem, BatchKind, BatchSummary, ItemFailure, ItemOutcome, StageOutcome, StageProgress};

/// Create a batch of `total_items` items going through `stages`.
pub async fn create_batch(
    executor: impl PgExecutor<'_>,
    kind: BatchKind,
    stages: &[&str],
    total_items: i32,
    description: Option<&str>,
    parameters: &serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let stages: Vec<String> = stages.iter().map(|s| (*s).to_owned()).collect();
    sqlx::query_scalar!(
        r#"
        INSERT INTO prospect_scan_jobs (job_type, stages, total_items, description, parameters)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id
        "#,
        kind.as_str(),
        &stages,
        total_items,
        description,
        parameters,
    )
    .fetch_one(executor)
    .await
}

/// Grow a batch whose size is discovered as it runs (discovery pages).
pub async fn add_total_items(
    executor: impl PgExecutor<'_>,
    scan_job_id: i64,
    more: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE prospect_scan_jobs SET total_items = total_items + $2 WHERE id = $1",
        scan_job_id,
        more,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Record how an item's route ended. Idempotent: the same outcome twice
/// changes nothing; a changed outcome moves the counters.
pub async fn record_item(
    executor: impl PgExecutor<'_>,
    item: &BatchItem,
    stage: &str,
    outcome: &ItemOutcome,
) -> Result<(), sqlx::Error> {
    let items = [(item.item_key.clone(), item.prospect_id, outcome.clone())];
    record_items(executor, item.scan_job_id, stage, &items).await
}

/// Record many item outcomes of one batch in one statement (imports).
pub async fn record_items(
    executor: impl PgExecutor<'_>,
    scan_job_id: i64,
    stage: &str,
    items: &[(String, Option<i64>, ItemOutcome)],
) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::with_capacity(items.len());
    let mut prospects = Vec::with_capacity(items.len());
    let mut outcomes = Vec::with_capacity(items.len());
    let mut reasons: Vec<Option<String>> = Vec::with_capacity(items.len());
    for (key, prospect_id, outcome) in items {
        keys.push(key.clone());
        prospects.push(*prospect_id);
        match outcome {
            ItemOutcome::Processed => {
                outcomes.push("processed".to_owned());
                reasons.push(None);
            }
            ItemOutcome::Failed(reason) => {
                outcomes.push("failed".to_owned());
                reasons.push(Some(reason.clone()));
            }
        }
    }
    sqlx::query!(
        r#"
        INSERT INTO scan_job_items (scan_job_id, item_key, prospect_id, stage, outcome, reason)
        SELECT $1, t.item_key, t.prospect_id, $2, t.outcome, t.reason
        FROM UNNEST($3::text[], $4::bigint[], $5::text[], $6::text[])
            AS t(item_key, prospect_id, outcome, reason)
        ON CONFLICT (scan_job_id, item_key) DO UPDATE
        SET outcome = EXCLUDED.outcome,
            stage = EXCLUDED.stage,
            reason = EXCLUDED.reason,
            prospect_id = coalesce(EXCLUDED.prospect_id, scan_job_items.prospect_id),
            updated_at = now()
        WHERE scan_job_items.outcome IS DISTINCT FROM EXCLUDED.outcome
           OR scan_job_items.reason IS DISTINCT FROM EXCLUDED.reason
        "#,
        scan_job_id,
        stage,
        &keys,
        &prospects as &[Option<i64>],
        &outcomes,
        &reasons as &[Option<String>],
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Record how one stage went for one item (per-stage progress).
pub async fn record_stage(
    executor: impl PgExecutor<'_>,
    item: &BatchItem,
    stage: &str,
    outcome: &StageOutcome,
) -> Result<(), sqlx::Error> {
    let (outcome, reason) = match outcome {
        StageOutcome::Done => ("done", None),
        StageOutcome::Skipped(reason) => ("skipped", Some(reason.as_str())),
        StageOutcome::Failed(reason) => ("failed", Some(reason.as_str())),
    };
    sqlx::query!(
        r#"
        INSERT INTO scan_job_stage_items (scan_job_id, stage, item_key, outcome, reason)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (scan_job_id, stage, item_key) DO UPDATE
        SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, updated_at = now()
        "#,
        item.scan_job_id,
        stage,
        item.item_key,
        outcome,
        reason,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Mark a batch cancelled (its remaining jobs are cancelled separately).
pub async fn cancel_batch(executor: impl PgExecutor<'_>, scan_job_id: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        r#"
        UPDATE prospect_scan_jobs
        SET status = 'cancelled', finished_at = coalesce(finished_at, now())
        WHERE id = $1 AND status IN ('pending', 'running')
        "#,
        scan_job_id,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// One batch.
pub async fn get_batch(
    executor: impl PgExecutor<'_>,
    scan_job_id: i64,
) -> Result<Option<BatchSummary>, sqlx::Error> {
    sqlx::query_as!(
        BatchSummary,
        r#"
        SELECT id, job_type, status, stages, description, total_items, processed_items,
               failed_items, started_at, finished_at, created_at
        FROM prospect_scan_jobs
        WHERE id = $1
        "#,
        scan_job_id,
    )
    .fetch_optional(executor)
    .await
}

/// Unfinished batches first, then the most recent ones.
pub async fn list_recent(
    executor: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<BatchSummary>, sqlx::Error> {
    sqlx::query_as!(
        BatchSummary,
        r#"
        SELECT id, job_type, status, stages, description, total_items, processed_items,
               failed_items, started_at, finished_at, created_at
        FROM prospect_scan_jobs
        ORDER BY (status IN ('pending', 'running')) DESC, created_at DESC
        LIMIT $1
        "#,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Failed items of a batch with their reasons.
pub async fn list_failures(
    executor: impl PgExecutor<'_>,
    scan_job_id: i64,
    limit: i64,
) -> Result<Vec<ItemFailure>, sqlx::Error> {
    sqlx::query_as!(
        ItemFailure,
        r#"
        SELECT item_key, prospect_id, stage, reason, updated_at
        FROM scan_job_items
        WHERE scan_job_id = $1 AND outcome = 'failed'
        ORDER BY updated_at DESC, item_key
        LIMIT $2
        "#,
        scan_job_id,
        limit,
    )
    .fetch_all(executor)
    .await
}

/// Per-stage progress of a batch (counters kept by a trigger on
/// `scan_job_stage_items`).
pub async fn stage_progress(
    executor: impl PgExecutor<'_>,
    scan_job_id: i64,
) -> Result<Vec<StageProgress>, sqlx::Error> {
    sqlx::query_as!(
        StageProgress,
        r#"
        SELECT stage, done::int8 AS "done!", skipped::int8 AS "skipped!", failed::int8 AS "failed!"
        FROM scan_job_stage_counts
        WHERE scan_job_id = $1
        ORDER BY stage
        "#,
        scan_job_id,
    )
    .fetch_all(executor)
    .await
}

/// Per-stage progress of several batches at once.
pub async fn stage_progress_many(
    executor: impl PgExecutor<'_>,
    scan_job_ids: &[i64],
) -> Result<Vec<(i64, StageProgress)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT scan_job_id, stage,
               done::int8 AS "done!", skipped::int8 AS "skipped!", failed::int8 AS "failed!"
        FROM scan_job_stage_counts
        WHERE scan_job_id = ANY($1)
        ORDER BY scan_job_id, stage
        "#,
        scan_job_ids,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.scan_job_id,
                StageProgress {
                    stage: r.stage,
                    done: r.done,
                    skipped: r.skipped,
                    failed: r.failed,
                },
            )
        })
        .collect())
}
