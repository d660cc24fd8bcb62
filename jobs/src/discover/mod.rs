//! `discover`: find the businesses of one territory (city × industry) on a
//! places provider, store them as leads, qualify and route them.
//!
//! - **Input**: [`DiscoverBusinesses`] — a `coverage_grid` row claimed by the
//!   autopilot ([`autopilot::run_autopilot`]), the run number of that claim,
//!   and the batch item it counts toward.
//! - **Reads**: `coverage_grid` (the territory and its pagination state),
//!   `prospects` (dedup), `api_usage` (today's spend and reservations,
//!   under the provider's budget lock).
//! - **Writes**: `prospects` (channel `maps`; upserted — a business found
//!   again updates its row), `coverage_grid` (pagination after every page;
//!   at the end lead_count, qualified_count, last_scraped_at, status
//!   `completed` with `cooldown_until`), `api_usage` (every attempt the
//!   provider may bill: reserved before, settled after — [`usage`]),
//!   `scan_job_items` (refused records as failed items, the territory as
//!   processed).
//! - **Next stage**: each *new* lead with a website of its own gets a
//!   `tech_scan` job (then `audit`, `score`) in the transaction that stores
//!   it; a new lead with no website that qualifies is recorded with
//!   `pipeline_route = 'build_site'` and `routed_at` NULL for the build_site
//!   stage to pick up; others are stored with their reasons.
//! - **Idempotency**: key `discover:{territory}:{run}`. Each page is stored
//!   with the cursor of the next page in one transaction, so a retry resumes
//!   at the first page not stored; leads are upserted by their dedup keys
//!   ([`dedup`]); only a lead's first discovery routes it.
//! - **Errors**: a missing territory, a missing API key, or a 4xx from the
//!   provider are permanent; 429, 5xx, timeouts and malformed answers are
//!   transient (retried in the job a few times — each retry a newly
//!   reserved and entered attempt —, then by the queue's persisted backoff,
//!   honouring `Retry-After`). A spent daily budget is
//!   not an error: the job waits until the budget's next day
//!   ([`StageError::wait`]). A run that fails for good puts its territory in
//!   `cooldown` for `discover.failure_cooldown` with the reason.
//! - **Bad records** (no name, no id, bad coordinates or rating, a repeated
//!   id in a page) are refused one by one with their reason — logged,
//!   counted in `coverage_grid.rejected_count` and listed as failed items of
//!   the batch — and never stop the page.
//! - **External calls**: Google Places API (New) Text Search or an
//!   Outscraper-compatible Maps search ([`providers`]). Timeout: the stage's.

pub mod autopilot;
pub mod business;
pub mod dedup;
mod fetch;
pub mod prepare;
pub mod providers;
pub mod qualify;
pub mod queries;
mod settings;
mod store;
pub mod usage;
pub mod website;

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use autopilot::{AutopilotConfig, AutopilotRun, run_autopilot};
pub use business::{DiscoveredBusiness, ProviderKind};
pub use providers::{ApiKey, ProviderError, RetryPolicy};
pub use qualify::QualificationRules;
pub use settings::{AutopilotSettings, DiscoverSettings, OutscraperSettings, PlacesSettings};

use crate::{
    domain::CountryCode,
    pipeline::ProspectLink,
    queue::{EnqueueError, Job},
    runtime::{Handler, JobContext, StageError, error_chain, is_transient_db_error},
    scan_jobs::BatchItem,
    stage::{Branch, Setup, SetupError, Stage, StageJob},
};
use providers::{google_places::GooglePlacesClient, outscraper::OutscraperClient};

/// Provider records by provider and outcome (`new`, `updated`, `refused`).
pub const RECORDS_TOTAL: &str = "prospector_discover_records_total";
/// Discover runs deferred because a provider's daily budget was spent.
pub const BUDGET_WAITS_TOTAL: &str = "prospector_discover_budget_waits_total";
/// Paid provider attempts by provider and outcome (`ok`, `submitted`,
/// `timeout`, `http_5xx`, …, `not_billed`).
pub const PAID_CALLS_TOTAL: &str = "prospector_discover_paid_calls_total";

/// The environment variable holding Google Places' API key.
pub const GOOGLE_PLACES_KEY_ENV: &str = "GOOGLE_PLACES_API_KEY";
/// The environment variable holding Outscraper's API key.
pub const OUTSCRAPER_KEY_ENV: &str = "OUTSCRAPER_API_KEY";

/// Discover the businesses of one claimed territory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoverBusinesses {
    /// The territory (`coverage_grid.id`).
    pub coverage_grid_id: Uuid,
    /// The claim this job works for (`coverage_grid.run_count`); a job of an
    /// older claim does nothing. Pagination state lives in the row, so a
    /// retried job continues from the last stored page.
    pub run: i32,
    /// The autopilot batch item (`grid:{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchItem>,
}

impl Job for DiscoverBusinesses {
    const QUEUE: &'static str = Stage::Discover.name();

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("discover:{}:{}", self.coverage_grid_id, self.run))
    }

    fn batch_item(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }
}

impl StageJob for DiscoverBusinesses {
    const STAGE: Stage = Stage::Discover;
    const BRANCH: Branch = Branch::Discovery;
    const SECRET_VARS: &'static [&'static str] = &[GOOGLE_PLACES_KEY_ENV, OUTSCRAPER_KEY_ENV];
    type Settings = DiscoverSettings;

    fn build_deps(settings: &DiscoverSettings, setup: &Setup<'_>) -> Result<DiscoverDeps, SetupError> {
        Ok(settings.deps(setup.platform)?)
    }

    fn for_prospect(_: ProspectLink) -> Option<Self> {
        None
    }
}

/// The configured provider's client.
#[derive(Debug, Clone)]
pub enum ProviderClient {
    /// Google Places API (New).
    GooglePlaces(GooglePlacesClient),
    /// Outscraper-compatible search.
    Outscraper(OutscraperClient),
}

/// The provider, and its client when its API key is set.
#[derive(Debug, Clone)]
pub struct ProviderSetup {
    /// Which provider.
    pub kind: ProviderKind,
    /// Its client; `None` when its key is not in the environment.
    pub client: Option<ProviderClient>,
}

impl ProviderSetup {
    /// The environment variable of this provider's key.
    pub fn key_env(&self) -> &'static str {
        match self.kind {
            ProviderKind::GooglePlaces => GOOGLE_PLACES_KEY_ENV,
            ProviderKind::Outscraper => OUTSCRAPER_KEY_ENV,
        }
    }
}

/// Prices and budget of the provider, in cents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pricing {
    /// Per request sent.
    pub per_request_cents: f64,
    /// Per record returned.
    pub per_result_cents: f64,
    /// Spend per day (in `DiscoverDeps::time_zone`) before jobs wait.
    pub daily_budget_cents: f64,
}

/// How a territory is searched.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSettings {
    /// Text of the query, with `{industry}`, `{city}`, `{state}`, `{country}`.
    pub query_template: String,
    /// Language of results.
    pub language: Option<String>,
    /// Records per page.
    pub page_size: u32,
    /// Stop a run after this many records.
    pub max_results: u32,
    /// Outscraper: submit async requests and poll them.
    pub outscraper_async: bool,
    /// Outscraper: time between polls.
    pub poll_interval: Duration,
    /// Outscraper: stop polling (and retry later) after this long.
    pub max_poll_wait: Duration,
}

impl SearchSettings {
    /// The query text of a territory.
    pub fn query(&self, industry: &str, city: &str, state: &str, country: &str) -> String {
        self.query_template
            .replace("{industry}", industry)
            .replace("{city}", city)
            .replace("{state}", state)
            .replace("{country}", country)
    }
}

/// What the discover handler needs.
#[derive(Debug, Clone)]
pub struct DiscoverDeps {
    /// The provider.
    pub provider: ProviderSetup,
    /// Its prices and budget.
    pub pricing: Pricing,
    /// The search.
    pub search: SearchSettings,
    /// Qualification thresholds.
    pub rules: QualificationRules,
    /// A completed territory rests this long.
    pub cooldown: Duration,
    /// A failed territory rests this long.
    pub failure_cooldown: Duration,
    /// Budget days start at midnight here.
    pub time_zone: Tz,
    /// Country of territories whose country is not a code.
    pub default_country: CountryCode,
}

/// Why a discover run stopped.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The territory is gone.
    #[error("coverage grid territory {0} does not exist")]
    TargetMissing(Uuid),
    /// The provider has no key.
    #[error("no API key for {provider}: set the {env} environment variable")]
    NoApiKey {
        /// Provider.
        provider: &'static str,
        /// Variable.
        env: &'static str,
    },
    /// Today's budget is spent.
    #[error(
        "{provider}'s daily budget is spent ({spent_cents:.2} of {budget_cents:.2} cents); waiting until {until}"
    )]
    BudgetSpent {
        /// Provider.
        provider: &'static str,
        /// Spent today.
        spent_cents: f64,
        /// The budget.
        budget_cents: f64,
        /// When the next day starts.
        until: DateTime<Utc>,
        /// How long that is.
        wait: Duration,
    },
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The database failed.
    #[error("database error while discovering")]
    Database(#[from] sqlx::Error),
    /// The task entering a call in the ledger did not finish.
    #[error("the ledger entry of a provider call could not be written")]
    Ledger(#[from] tokio::task::JoinError),
    /// A follow-up job could not be enqueued.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
}

/// A unique violation here is a concurrent job inserting the same business
/// first: retrying finds its row and updates it.
fn is_retryable_db_error(error: &sqlx::Error) -> bool {
    is_transient_db_error(error)
        || matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

impl StageError for DiscoverError {
    fn is_permanent(&self) -> bool {
        match self {
            DiscoverError::TargetMissing(_) | DiscoverError::NoApiKey { .. } => true,
            DiscoverError::BudgetSpent { .. } => false,
            DiscoverError::Provider(e) => e.is_permanent(),
            DiscoverError::Database(e) => !is_retryable_db_error(e),
            DiscoverError::Ledger(_) => false,
            DiscoverError::Enqueue(EnqueueError::Database { source, .. }) => !is_retryable_db_error(source),
            DiscoverError::Enqueue(EnqueueError::Encode { .. }) => true,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            DiscoverError::Provider(e) => e.retry_after(),
            _ => None,
        }
    }

    fn wait(&self) -> Option<Duration> {
        match self {
            DiscoverError::BudgetSpent { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

/// In-call retries: only a provider's 429, 5xx and lost connections are
/// tried again (each a newly reserved and entered attempt).
impl crate::retry::Retryable for DiscoverError {
    fn is_retryable(&self) -> bool {
        matches!(self, DiscoverError::Provider(e) if crate::retry::Retryable::is_retryable(e))
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            DiscoverError::Provider(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Pages stored this job.
    pub pages: u32,
    /// New leads.
    pub new_leads: u32,
    /// Leads found again.
    pub updated_leads: u32,
    /// Records refused.
    pub rejected: u32,
    /// `tech_scan` jobs enqueued.
    pub tech_scans: u32,
    /// Leads recorded for site building.
    pub build_site: u32,
    /// The job belonged to an older claim and did nothing.
    pub stale: bool,
}

impl Handler for DiscoverBusinesses {
    type Deps = DiscoverDeps;
    type Error = DiscoverError;

    #[tracing::instrument(skip_all, fields(coverage_grid.id = %self.coverage_grid_id, discover.run = self.run, provider = deps.provider.kind.as_str()))]
    async fn handle(self, ctx: &JobContext, deps: &DiscoverDeps) -> Result<(), DiscoverError> {
        match fetch::run(&self, ctx, deps).await {
            Ok(report) => {
                tracing::info!(
                    pages = report.pages,
                    new_leads = report.new_leads,
                    updated_leads = report.updated_leads,
                    rejected = report.rejected,
                    tech_scans = report.tech_scans,
                    build_site = report.build_site,
                    stale = report.stale,
                    "territory discovered"
                );
                Ok(())
            }
            Err(error) => {
                let gives_up = error.wait().is_none() && (error.is_permanent() || ctx.is_last_attempt());
                if gives_up {
                    let reason: String = error_chain(&error).chars().take(1000).collect();
                    let cooled = queries::fail_target(
                        &ctx.pool,
                        self.coverage_grid_id,
                        self.run,
                        deps.failure_cooldown.as_secs_f64(),
                        &reason,
                    )
                    .await;
                    if let Err(e) = cooled {
                        tracing::error!(error = %e, "could not put the failed territory in cooldown; the autopilot will release it");
                    }
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_keys_on_territory_and_run() {
        let job = DiscoverBusinesses {
            coverage_grid_id: Uuid::nil(),
            run: 3,
            batch: Some(BatchItem {
                scan_job_id: 9,
                item_key: "grid:x".into(),
                prospect_id: None,
            }),
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<DiscoverBusinesses>(&json).unwrap(), job);
        assert_eq!(
            job.idempotency_key().as_deref(),
            Some("discover:00000000-0000-0000-0000-000000000000:3")
        );
        assert_eq!(DiscoverBusinesses::QUEUE, Stage::Discover.queue());
    }

    #[test]
    fn queries_fill_the_template() {
        let search = SearchSettings {
            query_template: "{industry} in {city}, {state}, {country}".into(),
            language: None,
            page_size: 20,
            max_results: 60,
            outscraper_async: true,
            poll_interval: Duration::from_secs(1),
            max_poll_wait: Duration::from_secs(10),
        };
        assert_eq!(
            search.query("bakery", "Esch-sur-Alzette", "Esch", "LU"),
            "bakery in Esch-sur-Alzette, Esch, LU"
        );
    }

    #[test]
    fn budget_waits_rate_limits_retry_and_refusals_fail() {
        let wait = DiscoverError::BudgetSpent {
            provider: "outscraper",
            spent_cents: 10.0,
            budget_cents: 10.0,
            until: Utc::now(),
            wait: Duration::from_secs(60),
        };
        assert_eq!(wait.wait(), Some(Duration::from_secs(60)));
        assert!(!wait.is_permanent());
        let limited = DiscoverError::Provider(ProviderError::RateLimited {
            provider: ProviderKind::GooglePlaces,
            retry_after: Some(Duration::from_secs(30)),
        });
        assert!(!limited.is_permanent());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(30)));
        let refused = DiscoverError::Provider(ProviderError::Refused {
            provider: ProviderKind::GooglePlaces,
            status: 403,
            message: "API key not valid".into(),
        });
        assert!(refused.is_permanent());
        assert!(
            DiscoverError::NoApiKey {
                provider: "google_places",
                env: GOOGLE_PLACES_KEY_ENV
            }
            .is_permanent()
        );
    }
}
