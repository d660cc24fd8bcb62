//! Every statement the discover stage and its autopilot run.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::prepare::PreparedLead;

/// A coverage grid row as the discover job reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Id.
    pub id: Uuid,
    /// pending, in_progress, completed, cooldown or paused.
    pub status: String,
    /// Claims so far (the current run's number).
    pub run_count: i32,
    /// Country as stored.
    pub country: String,
    /// State.
    pub state: String,
    /// City.
    pub city: String,
    /// Industry searched for.
    pub industry: String,
    /// Provider the pagination state belongs to.
    pub provider: Option<String>,
    /// Outscraper `skip` of the next page.
    pub next_offset: i32,
    /// Places `nextPageToken` of the next page.
    pub next_page_token: Option<String>,
    /// Outscraper request submitted but not read.
    pub pending_request_id: Option<String>,
    /// No more pages this run.
    pub exhausted: bool,
    /// Pages read this run.
    pub pages_fetched: i32,
    /// Records read this run.
    pub results_fetched: i32,
}

/// One coverage grid row.
pub async fn get_target(executor: impl PgExecutor<'_>, id: Uuid) -> Result<Option<Target>, sqlx::Error> {
    sqlx::query_as!(
        Target,
        r#"
        SELECT id, status, run_count, country, state, city, industry, provider, next_offset,
               next_page_token, pending_request_id, exhausted, pages_fetched, results_fetched
        FROM coverage_grid
        WHERE id = $1
        "#,
        id,
    )
    .fetch_optional(executor)
    .await
}

/// Start pagination afresh for `provider` (the state belonged to another).
pub async fn reset_pagination(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    run: i32,
    provider: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE coverage_grid
        SET provider = $3, next_offset = 0, next_page_token = NULL, pending_request_id = NULL,
            exhausted = false, pages_fetched = 0, results_fetched = 0, rejected_count = 0
        WHERE id = $1 AND run_count = $2
        "#,
        id,
        run,
        provider,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Where the next page starts, after a page was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Outscraper `skip` of the next page.
    pub next_offset: i32,
    /// Places token of the next page.
    pub next_page_token: Option<String>,
    /// No more pages.
    pub exhausted: bool,
    /// Records in the page.
    pub results: i32,
    /// Records refused.
    pub rejected: i32,
}

/// Record a stored page and where the next one starts (in the page's
/// transaction, so a retry never stores a page twice nor skips one).
pub async fn save_progress(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    run: i32,
    progress: &Progress,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE coverage_grid
        SET next_offset = $3, next_page_token = $4, exhausted = $5, pending_request_id = NULL,
            pages_fetched = pages_fetched + 1, results_fetched = results_fetched + $6,
            rejected_count = rejected_count + $7
        WHERE id = $1 AND run_count = $2
        "#,
        id,
        run,
        progress.next_offset,
        progress.next_page_token,
        progress.exhausted,
        progress.results,
        progress.rejected,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Counters after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    /// Leads of this territory.
    pub lead_count: i32,
    /// Of which qualified.
    pub qualified_count: i32,
    /// Records read this run.
    pub results_fetched: i32,
    /// Records refused this run.
    pub rejected_count: i32,
    /// Pages read this run.
    pub pages_fetched: i32,
}

/// Finish a run: counters, `last_scraped_at`, status `completed` with a
/// cooldown, pagination reset. `None` when the run is no longer current.
pub async fn complete_target(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    run: i32,
    cooldown_secs: f64,
) -> Result<Option<Completed>, sqlx::Error> {
    sqlx::query_file_as!(
        Completed,
        "src/discover/sql/complete_target.sql",
        id,
        run,
        cooldown_secs
    )
    .fetch_optional(executor)
    .await
}

/// A run that failed for good: the territory cools down for
/// `cooldown_secs` with the reason, keeping its pagination state.
pub async fn fail_target(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    run: i32,
    cooldown_secs: f64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        r#"
        UPDATE coverage_grid
        SET status = 'cooldown', cooldown_until = now() + make_interval(secs => $3), last_error = $4
        WHERE id = $1 AND run_count = $2 AND status = 'in_progress'
        "#,
        id,
        run,
        cooldown_secs,
        reason,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// An existing lead a listing matched, with what it knows that the listing
/// may not (for the qualification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The lead.
    pub id: i64,
    /// Its e-mail.
    pub email: Option<String>,
    /// Its latest known review.
    pub last_review_at: Option<DateTime<Utc>>,
}

/// The lead a listing already is, if any (locked for the update).
pub async fn find_match(
    conn: &mut PgConnection,
    lead: &PreparedLead,
) -> Result<Option<Matched>, sqlx::Error> {
    let keys = &lead.keys;
    sqlx::query_file_as!(
        Matched,
        "src/discover/sql/find_match.sql",
        keys.place_id,
        keys.gmb_id,
        keys.host,
        keys.registrable_domain,
        keys.phone_e164,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Insert a new maps lead; `routed` says whether its route's job is
/// enqueued in this transaction.
pub async fn insert_lead(
    conn: &mut PgConnection,
    lead: &PreparedLead,
    grid: Uuid,
    routed: bool,
) -> Result<i64, sqlx::Error> {
    let row = lead.row();
    sqlx::query_file_scalar!(
        "src/discover/sql/insert_lead.sql",
        row.source,
        row.name,
        row.place_id,
        row.gmb_id,
        row.category,
        row.subcategory,
        row.email,
        row.phone,
        row.phone_e164,
        row.website_url,
        row.host,
        row.registrable_domain,
        row.profile_url,
        row.address,
        row.city,
        row.state,
        row.postal_code,
        row.country,
        row.lat,
        row.lng,
        row.rating,
        row.review_count,
        row.last_review_at,
        row.photos,
        row.opening_hours,
        row.business_status,
        row.score,
        row.qualified,
        row.reasons,
        row.route,
        routed,
        grid,
        row.reviews,
    )
    .fetch_one(&mut *conn)
    .await
}

/// Update a lead found again.
pub async fn update_lead(
    conn: &mut PgConnection,
    id: i64,
    lead: &PreparedLead,
    grid: Uuid,
) -> Result<(), sqlx::Error> {
    let row = lead.row();
    sqlx::query_file!(
        "src/discover/sql/update_lead.sql",
        id,
        row.name,
        row.place_id,
        row.gmb_id,
        row.category,
        row.subcategory,
        row.email,
        row.phone,
        row.phone_e164,
        row.website_url,
        row.host,
        row.registrable_domain,
        row.profile_url,
        row.address,
        row.city,
        row.state,
        row.postal_code,
        row.country,
        row.lat,
        row.lng,
        row.rating,
        row.review_count,
        row.last_review_at,
        row.photos,
        row.opening_hours,
        row.business_status,
        row.score,
        row.qualified,
        row.reasons,
        row.source,
        grid,
        row.reviews,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A territory the autopilot claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTarget {
    /// Id.
    pub id: Uuid,
    /// The run this claim starts.
    pub run_count: i32,
    /// Priority.
    pub priority: i32,
    /// Population.
    pub population: Option<i32>,
    /// Country.
    pub country: String,
    /// State.
    pub state: String,
    /// City.
    pub city: String,
    /// Industry.
    pub industry: String,
}

/// Claim up to `limit` next targets (WebMagic's "next target" query).
pub async fn claim_next_targets(
    executor: impl PgExecutor<'_>,
    limit: i64,
    claimant: &str,
) -> Result<Vec<ClaimedTarget>, sqlx::Error> {
    let mut claimed = sqlx::query_file_as!(
        ClaimedTarget,
        "src/discover/sql/claim_next_targets.sql",
        limit,
        claimant
    )
    .fetch_all(executor)
    .await?;
    // UPDATE … RETURNING has no order: restore the query's.
    claimed.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| match (a.population, b.population) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => y.cmp(&x),
            })
    });
    Ok(claimed)
}

/// Remember which job works on a claimed target.
pub async fn set_target_job(
    executor: impl PgExecutor<'_>,
    id: Uuid,
    job_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE coverage_grid SET discover_job_id = $2 WHERE id = $1",
        id,
        job_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Territories whose cooldown is over become pending again.
pub async fn release_cooled_down(executor: impl PgExecutor<'_>) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"
        UPDATE coverage_grid
        SET status = 'pending'
        WHERE status IN ('completed', 'cooldown') AND cooldown_until IS NOT NULL AND cooldown_until <= now()
        "#
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Claims whose job is gone (dead, timed out on its last attempt, deleted)
/// cool down for `cooldown_secs` instead of staying in progress forever.
/// Claims younger than five minutes are left alone: another autopilot's
/// claim may be committed while this statement runs, with a job this
/// statement's snapshot cannot see yet.
pub async fn release_orphaned_claims(
    executor: impl PgExecutor<'_>,
    cooldown_secs: f64,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"
        UPDATE coverage_grid g
        SET status = 'cooldown',
            cooldown_until = now() + make_interval(secs => $1),
            last_error = coalesce(g.last_error, 'the discover job ended without finishing this territory')
        WHERE g.status = 'in_progress'
          AND g.claimed_at < now() - interval '5 minutes'
          AND NOT EXISTS (
              SELECT 1 FROM apalis.jobs j
              WHERE j.id = g.discover_job_id
                AND (j.status IN ('Pending', 'Queued', 'Running')
                     OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))
        "#,
        cooldown_secs,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Maps leads created since `since`.
pub async fn count_maps_leads_since(
    executor: impl PgExecutor<'_>,
    since: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM prospects WHERE channel = 'maps' AND created_at >= $1"#,
        since,
    )
    .fetch_one(executor)
    .await
}

/// Runtime overrides whose key starts with `prefix`.
pub async fn runtime_settings(
    executor: impl PgExecutor<'_>,
    prefix: &str,
) -> Result<Vec<(String, Value)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT key, value FROM runtime_settings WHERE starts_with(key, $1) ORDER BY key",
        prefix,
    )
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(|r| (r.key, r.value)).collect())
}

/// Store a runtime override.
pub async fn put_runtime_setting(
    executor: impl PgExecutor<'_>,
    key: &str,
    value: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        INSERT INTO runtime_settings (key, value) VALUES ($1, $2)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
        "#,
        key,
        value,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Remove a runtime override (the configuration applies again).
pub async fn delete_runtime_setting(executor: impl PgExecutor<'_>, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM runtime_settings WHERE key = $1", key)
        .execute(executor)
        .await?;
    Ok(())
}
