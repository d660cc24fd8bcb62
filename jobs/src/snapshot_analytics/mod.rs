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
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};

use crate::{
    pipeline::ProspectLink,
    queue::Job,
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    stage::{Branch, CheckContext, InvalidSetting, Setup, SetupError, Stage, StageConfig, StageJob},
};

pub use queries::upsert_snapshot;

/// Compute and store the metrics of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotAnalytics {
    /// The local calendar day to snapshot.
    pub date: NaiveDate,
}

impl Job for SnapshotAnalytics {
    const QUEUE: &'static str = Stage::SnapshotAnalytics.name();
}

impl StageJob for SnapshotAnalytics {
    const STAGE: Stage = Stage::SnapshotAnalytics;
    const BRANCH: Branch = Branch::Reporting;
    const SECTION: &'static str = "analytics";
    type Settings = AnalyticsSettings;

    fn build_deps(settings: &AnalyticsSettings, _: &Setup<'_>) -> Result<AnalyticsSettings, SetupError> {
        Ok(settings.clone())
    }

    fn for_prospect(_: ProspectLink) -> Option<Self> {
        None
    }
}

/// `[analytics]`: what the snapshot needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsSettings {
    /// Day boundaries are midnight in this zone (also the agency's day for
    /// budgets and targets: see [`crate::stage::Platform`]).
    #[serde(deserialize_with = "time_zone")]
    pub time_zone: Tz,
    /// A lead counts as qualified from this qualification score up.
    pub qualified_min_score: i32,
}

impl StageConfig for AnalyticsSettings {
    fn check(&mut self, _: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        if !(0..=100).contains(&self.qualified_min_score) {
            return Err(InvalidSetting::new(
                "qualified_min_score",
                "must be between 0 and 100",
            ));
        }
        Ok(())
    }
}

/// An IANA time zone name, with a message that says what is expected.
pub fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.trim().parse::<Tz>().map_err(|_| {
        D::Error::custom(format!(
            "`{name}` is not an IANA time zone like \"Europe/Luxembourg\""
        ))
    })
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
    type Deps = AnalyticsSettings;
    type Error = SnapshotAnalyticsError;

    #[tracing::instrument(skip_all, fields(snapshot.date = %self.date))]
    async fn handle(self, ctx: &JobContext, deps: &AnalyticsSettings) -> Result<(), Self::Error> {
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
