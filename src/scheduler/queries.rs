use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

/// Claim a slot; false when another process claimed it first.
pub async fn claim_slot(
    executor: impl PgExecutor<'_>,
    schedule: &str,
    slot: DateTime<Utc>,
    claimant: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        r#"
        INSERT INTO schedule_ticks (schedule_name, tick_at, claimed_by)
        VALUES ($1, $2, $3)
        ON CONFLICT (schedule_name, tick_at) DO NOTHING
        "#,
        schedule,
        slot,
        claimant,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Remember which job a slot enqueued.
pub async fn set_slot_job(
    executor: impl PgExecutor<'_>,
    schedule: &str,
    slot: DateTime<Utc>,
    job_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE schedule_ticks SET job_id = $3 WHERE schedule_name = $1 AND tick_at = $2",
        schedule,
        slot,
        job_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Delete fired slots claimed more than `age` ago (retention).
pub async fn prune_schedule_ticks(
    executor: impl PgExecutor<'_>,
    age: std::time::Duration,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "DELETE FROM schedule_ticks WHERE claimed_at < now() - make_interval(secs => $1)",
        age.as_secs_f64(),
    )
    .execute(executor)
    .await?
    .rows_affected())
}
