//! `tech_scan`: does the prospect have a working website, what is it built
//! with, and how can the business be reached?
//!
//! - **Input**: [`ScanTech`] — a prospect id, its batch item and the stages
//!   after this one (usually `audit`, `score`).
//! - **Reads**: `prospects` (domain, website URL, country).
//! - **Writes**, in one transaction: `prospect_tech_profiles` (upserted:
//!   summary columns, reachability, TLS, parked/social-only flags,
//!   providers, and `tech_stack_json` with every detection and its
//!   evidence), `prospect_contacts` (the scan's own rows replaced; rows
//!   entered by people kept), and `prospects` (`has_website`, `uses_https`,
//!   `http_status_code`, `website_url` = the home page's final URL,
//!   `last_tech_scan_at`, `status`, and `email`/`phone` when empty).
//!   `docs/tech-scan.md` describes every column and JSON field.
//! - **Next stage**: [`pipeline::advance`] in the same transaction; when
//!   there is no reachable website (unreachable, parked, social profile
//!   only, an error page) the `audit` stage is skipped with the reason and
//!   the prospect goes on to `score`.
//! - **Idempotency**: upserts and a replace of the scan's own contacts; the
//!   next job's key is `{queue}:{prospect}:{batch}`.
//! - **Errors**: an unreachable site is a result, not an error. Permanent
//!   (the job fails once, the prospect is marked `error`): the prospect or
//!   its domain is missing, an address refused by the SSRF guard, a redirect
//!   loop, too many redirects, a body over `max_body_bytes`, a body that
//!   expands beyond `max_decompressed_bytes`. Transient (retried with
//!   backoff): a request slower than `request_timeout` (a slow drip), DNS
//!   failures, connection resets, 5xx answers, 429/503 (honouring
//!   `Retry-After`); on the last attempt a 5xx home page is stored as the
//!   result. Database errors follow [`is_transient_db_error`].
//! - **External calls**: DNS (A/AAAA, NS, MX, TXT, CNAME) and HTTP(S) to the
//!   prospect's site only: the home page, `/robots.txt`, and up to
//!   `contact_pages` same-host pages that robots.txt allows, one request at
//!   a time per host with `per_host_delay` between them.
//! - **Timeout**: each request `request_timeout`; the whole job the stage's
//!   `timeout`.

pub mod bounded_parse;
pub mod contacts;
pub mod document;
pub mod fetch;
pub mod fingerprint;
mod outcome;
pub mod parked;
pub mod probe;
pub mod queries;
pub mod scan;
pub mod settings;
pub mod summary;

use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;

pub use scan::ScanOutcome;
pub use settings::TechScanSettings;

use self::{
    fetch::{AddressGuard, FetchError, FetchSettings, Fetcher, GuardedResolver, HostGate, MemoryBudget},
    fingerprint::{DefinitionsError, Engine},
};
use crate::{
    pipeline::{self, AdvanceError, ProspectJob, ProspectLink, ProspectStage},
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    stage::{Branch, Setup, SetupError as StageSetupError, Stage, StageJob},
};

/// Marker of the `tech_scan` stage.
#[derive(Debug, Clone, Copy)]
pub enum TechScanStep {}

impl ProspectStage for TechScanStep {
    const STAGE: Stage = Stage::TechScan;
}

/// Fetch a prospect's website: reachability, technologies, contacts.
pub type ScanTech = ProspectJob<TechScanStep>;

impl StageJob for ScanTech {
    const STAGE: Stage = Stage::TechScan;
    const BRANCH: Branch = Branch::Digital;
    type Settings = TechScanSettings;

    fn build_deps(settings: &TechScanSettings, _: &Setup<'_>) -> Result<TechScanDeps, StageSetupError> {
        Ok(TechScanDeps::build(settings.clone())?)
    }

    fn for_prospect(link: ProspectLink) -> Option<Self> {
        Some(Self::from_link(link))
    }
}

/// What every `tech_scan` job shares: the fetcher (its clients, resolver and
/// per-host gate), the compiled definitions, and a CPU pool for parsing.
#[derive(Debug, Clone)]
pub struct TechScanDeps {
    /// The guarded, polite fetcher.
    pub fetcher: Fetcher,
    /// Compiled technology definitions.
    pub engine: Arc<Engine>,
    /// The settings.
    pub settings: Arc<TechScanSettings>,
    /// Bounds concurrent HTML parsing (CPU and memory) to the core count.
    pub cpu: Arc<Semaphore>,
}

/// Why the stage could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Definitions could not be loaded.
    #[error(transparent)]
    Definitions(#[from] DefinitionsError),
    /// The extra root certificates could not be read.
    #[error("cannot read tech_scan.extra_root_certificates {path}: {source}")]
    RootCertificates {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The resolver or HTTP clients could not be built.
    #[error("{0}")]
    Network(String),
}

impl TechScanDeps {
    /// Build everything from the settings: load and compile definitions
    /// (logging skipped patterns), the resolver, the HTTP clients.
    /// Needs rustls's process-wide crypto provider to be installed.
    pub fn build(settings: TechScanSettings) -> Result<Self, SetupError> {
        let engine = Engine::load(&settings.definitions)?;
        let report = engine.report();
        tracing::info!(
            technologies = report.technologies,
            patterns = report.patterns,
            skipped = report.skipped.len(),
            "technology definitions loaded"
        );
        for skipped in report.skipped.iter().take(50) {
            tracing::warn!(
                technology = %skipped.technology,
                field = %skipped.field,
                pattern = %skipped.pattern,
                reason = %skipped.reason,
                "definition pattern skipped"
            );
        }
        let fetcher = build_fetcher(&settings)?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            fetcher,
            engine: Arc::new(engine),
            settings: Arc::new(settings),
            cpu: Arc::new(Semaphore::new(cores)),
        })
    }
}

/// The guarded, polite fetcher of these settings (their address guard,
/// resolver pins, limits and User-Agent): the tech scan's, and any other
/// stage's that reads prospects' websites. Needs rustls's process-wide crypto
/// provider to be installed.
pub fn build_fetcher(settings: &TechScanSettings) -> Result<Fetcher, SetupError> {
    let extra_roots_pem = match &settings.extra_root_certificates {
        Some(path) => std::fs::read(path).map_err(|source| SetupError::RootCertificates {
            path: path.display().to_string(),
            source,
        })?,
        None => Vec::new(),
    };
    let guard = AddressGuard::new(settings.allow_networks.clone());
    let resolver = GuardedResolver::new(&settings.dns(), settings.resolve.clone(), guard)
        .map_err(SetupError::Network)?;
    let gate = Arc::new(HostGate::new(settings.per_host_delay));
    let fetcher = Fetcher::new(
        FetchSettings {
            user_agent: settings.user_agent_header(),
            connect_timeout: settings.connect_timeout,
            request_timeout: settings.request_timeout,
            max_redirects: settings.max_redirects,
            max_body_bytes: settings.body_limit(),
            max_decompressed_bytes: settings.decompressed_limit(),
            extra_roots_pem,
            budget: MemoryBudget::process(settings.memory_budget.as_u64(), settings.request_timeout),
        },
        resolver,
        gate,
    )
    .map_err(SetupError::Network)?;
    Ok(fetcher)
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum TechScanError {
    /// The prospect does not exist.
    #[error("prospect {0} does not exist")]
    ProspectNotFound(i64),
    /// Nothing to scan.
    #[error("prospect {0} has neither a domain nor a website URL")]
    NoTarget(i64),
    /// Fetching the home page failed.
    #[error(transparent)]
    Fetch(FetchError),
    /// The site asks us to slow down (429, 503).
    #[error("{url} answered {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// Its `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The site answers with a server error.
    #[error("{url} answered {status}")]
    ServerError {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Parsing or matching failed unexpectedly.
    #[error("page analysis failed: {0}")]
    Analysis(String),
    /// Reading or writing the database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Enqueuing the next stage failed.
    #[error(transparent)]
    Advance(#[from] AdvanceError),
}

impl StageError for TechScanError {
    fn is_permanent(&self) -> bool {
        match self {
            TechScanError::ProspectNotFound(_) | TechScanError::NoTarget(_) | TechScanError::Analysis(_) => {
                true
            }
            TechScanError::Fetch(e) => e.is_permanent(),
            TechScanError::RateLimited { .. } | TechScanError::ServerError { .. } => false,
            TechScanError::Database(e) => !is_transient_db_error(e),
            TechScanError::Advance(e) => e.is_permanent(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            TechScanError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl Handler for ScanTech {
    type Deps = TechScanDeps;
    type Error = TechScanError;

    #[tracing::instrument(skip_all, fields(prospect.id = self.prospect_id))]
    async fn handle(self, ctx: &JobContext, deps: &TechScanDeps) -> Result<(), TechScanError> {
        let target = queries::load_target(&ctx.pool, self.prospect_id)
            .await?
            .ok_or(TechScanError::ProspectNotFound(self.prospect_id))?;
        let outcome = match scan::scan(&target, deps, ctx.is_last_attempt()).await {
            Ok(outcome) => outcome,
            Err(e) => {
                if e.is_permanent()
                    && !matches!(e, TechScanError::ProspectNotFound(_))
                    && let Err(db) = queries::mark_scan_failed(&ctx.pool, target.id).await
                {
                    tracing::warn!(error = %db, "could not mark the prospect as failed");
                }
                return Err(e);
            }
        };
        let mut tx = ctx.pool.begin().await?;
        queries::upsert_tech_profile(&mut tx, &outcome.profile).await?;
        queries::replace_scraped_contacts(&mut tx, target.id, &outcome.contacts).await?;
        queries::update_prospect(&mut tx, &outcome.prospect).await?;
        let skip: Vec<(Stage, &str)> = outcome
            .skip_audit
            .as_deref()
            .map(|reason| vec![(Stage::Audit, reason)])
            .unwrap_or_default();
        pipeline::advance(&mut tx, &ctx.enqueuer, &self, &skip).await?;
        tx.commit().await?;
        tracing::info!(
            has_website = outcome.prospect.has_website,
            status = outcome.prospect.status.as_str(),
            technologies = outcome.profile.tech_stack_json["detections"]
                .as_array()
                .map_or(0, Vec::len),
            contacts = outcome.contacts.len(),
            "tech scan stored"
        );
        Ok(())
    }
}
