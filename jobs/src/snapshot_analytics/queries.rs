use chrono::NaiveDate;
use sqlx::PgExecutor;

use super::AnalyticsSettings;

/// The stored snapshot row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// Day.
    pub snapshot_date: NaiveDate,
    /// Leads created that day.
    pub leads_scraped: i32,
    /// Of which qualified.
    pub leads_qualified: i32,
    /// Sites generated.
    pub sites_generated: i32,
    /// Sites deployed.
    pub sites_deployed: i32,
    /// Outreach messages sent.
    pub emails_sent: i32,
    /// First opens.
    pub emails_opened: i32,
    /// First clicks.
    pub emails_clicked: i32,
    /// Distinct checkouts started.
    pub checkouts_created: i32,
    /// Succeeded payments (not refunds).
    pub purchases: i32,
    /// Their amount.
    pub revenue_cents: i32,
    /// Monthly recurring revenue at the end of the day.
    pub mrr_cents: i32,
    /// Paid API calls.
    pub api_costs_cents: i32,
}

/// Compute the day's metrics from the real tables and upsert them.
pub async fn upsert_snapshot(
    executor: impl PgExecutor<'_>,
    date: NaiveDate,
    deps: &AnalyticsSettings,
) -> Result<SnapshotRow, sqlx::Error> {
    sqlx::query_file_as!(
        SnapshotRow,
        "src/snapshot_analytics/sql/upsert_snapshot.sql",
        date,
        deps.time_zone.name(),
        deps.qualified_min_score,
    )
    .fetch_one(executor)
    .await
}
