//! `snapshot_analytics`: the day's metrics row.
//!
//! - **Input**: [`SnapshotAnalytics`] — a calendar date in the configured
//!   time zone.
//! - **Reads**: prospects, generated_sites, campaigns, payments,
//!   subscriptions, api_usage (rows whose timestamps fall in that local day).
//! - **Writes**: one `analytics_snapshots` row per date, upserted, so
//!   re-running a day gives the same row (when the underlying data is the same).
//! - **Next stage**: none.
//! - **Idempotency**: the upsert; scheduled runs also carry the schedule slot
//!   as idempotency key.
//! - **Errors**: lost connections and the like are transient; anything else
//!   (a constraint violation) is permanent.
//! - **External calls**: none. Timeout: the stage's configured timeout.
//!
//! What each column counts is in `docs/data-model.md`.

mod queries;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{
    queue::Job,
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
};

pub use queries::upsert_snapshot;

/// Compute and store the metrics of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotAnalytics {
    /// The local calendar day to snapshot.
    pub date: NaiveDate,
}

impl Job for SnapshotAnalytics {
    const QUEUE: &'static str = "snapshot_analytics";
}

/// Settings the snapshot needs.
#[derive(Debug, Clone)]
pub struct AnalyticsDeps {
    /// Day boundaries are midnight in this zone.
    pub time_zone: Tz,
    /// A lead counts as qualified from this qualification score up.
    pub qualified_min_score: i32,
}

/// Why a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotAnalyticsError {
    /// The upsert failed.
    #[error("could not upsert the snapshot of {date}")]
    Database {
        /// The day.
        date: NaiveDate,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
}

impl StageError for SnapshotAnalyticsError {
    fn is_permanent(&self) -> bool {
        match self {
            SnapshotAnalyticsError::Database { source, .. } => !is_transient_db_error(source),
        }
    }
}

impl Handler for SnapshotAnalytics {
    type Deps = AnalyticsDeps;
    type Error = SnapshotAnalyticsError;

    #[tracing::instrument(skip_all, fields(snapshot.date = %self.date))]
    async fn handle(self, ctx: &JobContext, deps: &AnalyticsDeps) -> Result<(), Self::Error> {
        let row = upsert_snapshot(&ctx.pool, self.date, deps)
            .await
            .map_err(|source| SnapshotAnalyticsError::Database {
                date: self.date,
                source,
            })?;
        tracing::info!(
            leads_scraped = row.leads_scraped,
            emails_sent = row.emails_sent,
            purchases = row.purchases,
            "analytics snapshot stored"
        );
        Ok(())
    }
}
