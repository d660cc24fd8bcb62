//! `audit`: Lighthouse (or PageSpeed Insights) on a prospect's website —
//! the performance, accessibility, SEO and mobile evidence an agency shows
//! a business owner.
//!
//! - **Input**: [`AuditPage`] (a [`ProspectJob`](crate::pipeline::ProspectJob)):
//!   the prospect, its batch item, the stages after this one.
//! - **Reads**: `prospects.website_url` (the final URL the tech scan
//!   reached), else `https://{domain_name}/`.
//! - **Writes**, in one transaction: `prospect_performance_profiles`
//!   (upsert: scores, lab metrics, `is_mobile_friendly` and its checks,
//!   failing audits with their displayed values, provider, form factor,
//!   Lighthouse version, URLs), `prospect_audit_reports` (upsert: the full
//!   report, gzip), `prospects.last_audit_at`; then [`pipeline::advance`].
//!   Every column and JSON field is described in `docs/audit.md`.
//! - **Next stage**: the next of the job's `then` (usually `score`), or the
//!   batch item is processed.
//! - **Idempotency**: upserts keyed by prospect; the next job's idempotency
//!   key is `{queue}:{prospect}:{batch}`.
//! - **Errors**: permanent — unknown prospect, no http(s) URL, a page
//!   Lighthouse cannot audit (`runtimeError`: 404, DNS failure, TLS
//!   interstitial, not HTML; a 5xx is retried), PageSpeed Insights refusing
//!   the request. Transient — Lighthouse crashing or timing out, Lighthouse's
//!   own errors (`PROTOCOL_TIMEOUT`, `NO_FCP`, …), PageSpeed Insights 5xx,
//!   429 (after its `Retry-After`), lost connections. Not a failure — the
//!   PageSpeed Insights daily quota: the job waits for the next day.
//! - **External calls**: a local Lighthouse run (Node + Chromium child
//!   processes, see [`lighthouse`]) or one PageSpeed Insights request (see
//!   [`pagespeed`]).
//! - **Timeout**: `audit.timeout` per Lighthouse run (processes killed with
//!   their group), `audit.pagespeed.request_timeout` per PSI request, both
//!   inside `stages.audit.timeout`. On shutdown (`ctx.abort`) the run is
//!   killed and the job goes back to the queue.

pub mod archive;
pub mod capacity;
mod error;
pub mod evidence;
mod gate;
pub mod lighthouse;
pub mod mobile;
pub mod pagespeed;
mod provider;
pub mod queries;
pub mod reach;
pub mod report;
pub mod settings;
pub mod target;

use std::time::Duration;

use url::Url;

pub use error::AuditError;
pub use provider::{AuditProvider, Audited, SetupError};
pub use settings::{
    AuditSettings, FormFactor, LighthouseSettings, PAGESPEED_API_KEY_VAR, PageSpeedSettings, ProviderKind,
    RunnerKind,
};

use crate::{
    build_site::{BuildSite, GateThresholds},
    pipeline::{self, ProspectJob, ProspectLink, ProspectStage},
    runtime::{Handler, JobContext, StageError},
    stage::{Branch, Setup, SetupError as StageSetupError, Stage, StageJob},
    tech_scan::{
        ScanTech, TechScanSettings,
        fetch::{AddressGuard, GuardedResolver},
    },
};

/// Marker of the `audit` stage.
#[derive(Debug, Clone, Copy)]
pub enum AuditStep {}

impl ProspectStage for AuditStep {
    const STAGE: Stage = Stage::Audit;
}

/// Lighthouse audit of a prospect's website.
pub type AuditPage = ProspectJob<AuditStep>;

impl StageJob for AuditPage {
    const STAGE: Stage = Stage::Audit;
    const BRANCH: Branch = Branch::Digital;
    const SECRET_VARS: &'static [&'static str] = &[PAGESPEED_API_KEY_VAR];
    type Settings = AuditSettings;

    fn build_deps(settings: &AuditSettings, setup: &Setup<'_>) -> Result<AuditDeps, StageSetupError> {
        let mut deps = AuditDeps::new(settings, setup.settings::<ScanTech>())?;
        deps.gate = setup.settings::<BuildSite>().gate;
        Ok(deps)
    }

    fn for_prospect(link: ProspectLink) -> Option<Self> {
        Some(Self::from_link(link))
    }

    /// One Lighthouse run per available core, as memory allows.
    fn default_concurrency() -> usize {
        capacity::default_concurrency()
    }
}

/// What the audit stage needs besides the database.
#[derive(Debug, Clone)]
pub struct AuditDeps {
    /// Lighthouse here or PageSpeed Insights.
    pub provider: AuditProvider,
    /// The device emulated.
    pub form_factor: FormFactor,
    /// Longest Lighthouse run.
    pub timeout: Duration,
    /// Resolves and guards the hosts a local Lighthouse run visits.
    pub resolver: GuardedResolver,
    /// Scores a generated site version needs to pass its quality gate.
    pub gate: GateThresholds,
}

impl AuditDeps {
    /// Dependencies from settings; fails when the provider is not installed.
    /// Pages are checked with the tech scan's resolver, address guard and
    /// overrides (`tech_scan.allow_networks`, `tech_scan.resolve`).
    pub fn new(settings: &AuditSettings, tech_scan: &TechScanSettings) -> Result<Self, SetupError> {
        let guard = AddressGuard::new(tech_scan.allow_networks.clone());
        let resolver = GuardedResolver::new(&tech_scan.dns(), tech_scan.resolve.clone(), guard)
            .map_err(SetupError::Resolver)?;
        // Chromium never resolves a page's host itself: its browser proxy
        // does, with this resolver, so the pins and the guard apply to
        // every request it makes.
        Ok(Self {
            provider: AuditProvider::new(settings, &resolver)?,
            form_factor: settings.form_factor,
            timeout: settings.timeout,
            resolver,
            gate: GateThresholds::default(),
        })
    }

    /// The proxy every request of a local Lighthouse run goes through
    /// (none with PageSpeed Insights): its denials say what a page tried
    /// to reach and was refused.
    pub fn browser_proxy(&self) -> Option<&crate::browser_proxy::BrowserProxy> {
        self.provider.browser_proxy()
    }

    /// Whether pages are loaded on this machine (so must be guarded).
    fn runs_locally(&self) -> bool {
        matches!(self.provider, AuditProvider::Lighthouse(_))
    }
}

impl Handler for AuditPage {
    type Deps = AuditDeps;
    type Error = AuditError;

    #[tracing::instrument(skip_all, fields(prospect.id = self.prospect_id))]
    async fn handle(self, ctx: &JobContext, deps: &AuditDeps) -> Result<(), AuditError> {
        if let Some(version) = self.site_version {
            return gate::run(&self, version, ctx, deps).await;
        }
        match self.audit_site(ctx, deps).await {
            Err(error) if error.is_permanent() && error.is_about_the_site() => {
                self.score_without_audit(ctx, &error).await
            }
            result => result,
        }
    }
}

impl AuditPage {
    /// Measure the prospect's site and store the results with the next job.
    async fn audit_site(&self, ctx: &JobContext, deps: &AuditDeps) -> Result<(), AuditError> {
        let target = queries::load_target(&ctx.pool, self.prospect_id)
            .await?
            .ok_or(AuditError::UnknownProspect(self.prospect_id))?;
        let url = target::audit_url(target.website_url.as_deref(), target.domain_name.as_deref())?;
        if deps.runs_locally() {
            reach::check(&deps.resolver, &url).await?;
        }

        let audit = deps
            .provider
            .audit(&ctx.pool, &url, deps.form_factor, deps.timeout);
        let audited = tokio::select! {
            biased;
            () = ctx.abort.cancelled() => return Err(AuditError::Interrupted),
            audited = audit => audited?,
        };
        let landed = audited
            .report
            .final_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        // Chromium's own error page (`chrome-error://chromewebdata/`): no
        // page of the site was shown, and Lighthouse's error names why.
        let error_page = landed.as_ref().is_some_and(reach::is_browser_error_page);
        // A redirect to a refused address: the report is of a page that
        // must not be visited, so it is not kept.
        if deps.runs_locally()
            && !error_page
            && let Some(landed) = &landed
        {
            reach::check(&deps.resolver, landed).await?;
        }
        let measurements = match &audited.report.outcome {
            Ok(_) if error_page => {
                return Err(AuditError::Page {
                    url: url.to_string(),
                    error: reach::browser_error_page(),
                });
            }
            Ok(measurements) => measurements,
            Err(error) if deps.runs_locally() => {
                let error = reach::name_navigation_error(&deps.resolver, &url, error.clone()).await;
                return Err(AuditError::Page {
                    url: url.to_string(),
                    error,
                });
            }
            Err(error) => {
                return Err(AuditError::Page {
                    url: url.to_string(),
                    error: error.clone(),
                });
            }
        };
        let source = queries::ProfileSource {
            provider: deps.provider.kind(),
            form_factor: audited.report.form_factor.unwrap_or(deps.form_factor),
            report: &audited.report,
        };

        let mut tx = ctx.pool.begin().await?;
        queries::upsert_performance_profile(&mut tx, self.prospect_id, source, measurements).await?;
        queries::upsert_audit_report(&mut tx, self.prospect_id, source, &audited.archive).await?;
        queries::mark_audited(&mut tx, self.prospect_id).await?;
        let next = pipeline::advance(&mut tx, &ctx.enqueuer, self, &[]).await?;
        tx.commit().await?;

        tracing::info!(
            performance = measurements.scores.performance.map(|s| s.get()),
            mobile_friendly = measurements.mobile.is_mobile_friendly,
            failing_audits = measurements.failing_audits.len(),
            next = ?next,
            "audit stored"
        );
        Ok(())
    }

    /// The site cannot be audited (a 404, a refused address, a page that
    /// does not load): record why and go on to the next stages, so the
    /// prospect is scored from its tech profile and the score says the
    /// audit is missing. The job ends without error; the reason is on the
    /// prospect (`audit_failure`) and in the score's evidence.
    async fn score_without_audit(&self, ctx: &JobContext, error: &AuditError) -> Result<(), AuditError> {
        let reason = crate::runtime::error_chain(error);
        let mut tx = ctx.pool.begin().await?;
        queries::record_failure(&mut tx, self.prospect_id, &reason).await?;
        let next = pipeline::advance(&mut tx, &ctx.enqueuer, self, &[]).await?;
        tx.commit().await?;
        tracing::warn!(reason = %reason, next = ?next, "the site could not be audited; scoring without the audit");
        Ok(())
    }
}
