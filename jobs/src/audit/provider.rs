//! Who measures the page: Lighthouse here, or PageSpeed Insights.
//! Both end in the same [`Audited`]: a [`LighthouseReport`] and the archived
//! JSON it was read from.

use std::time::Duration;

use sqlx::PgPool;
use url::Url;

use crate::{
    browser_proxy::{BrowserProxy, ProxyError, ProxyLimits},
    tech_scan::fetch::GuardedResolver,
};

use super::{
    archive::{ReportArchive, ReportFormat},
    error::AuditError,
    lighthouse::{LighthouseRunner, NotInstalled},
    pagespeed::{PageSpeedClient, PageSpeedRun},
    report::LighthouseReport,
    settings::{AuditSettings, FormFactor, ProviderKind},
};

/// A provider could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Lighthouse, Node or Chromium is missing.
    #[error(transparent)]
    NotInstalled(#[from] NotInstalled),
    /// The HTTP client could not be built.
    #[error("could not build the PageSpeed Insights HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// The resolver that guards audited hosts could not be built.
    #[error("{0}")]
    Resolver(String),
    /// The browser proxy could not be opened.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

/// The configured provider.
#[derive(Debug, Clone)]
pub enum AuditProvider {
    /// Lighthouse with Chromium on this machine.
    Lighthouse(LighthouseRunner),
    /// PageSpeed Insights API v5.
    PageSpeed(PageSpeedClient),
}

/// A read report and its archive.
#[derive(Debug)]
pub struct Audited {
    /// What the stage stores in the profile.
    pub report: LighthouseReport,
    /// The full document, compressed.
    pub archive: ReportArchive,
}

impl AuditProvider {
    /// The provider `settings` select (checking that it is installed). A
    /// local Lighthouse's Chromium goes through a [`BrowserProxy`] that
    /// admits what `resolver` (pins, address guard) admits.
    pub fn new(settings: &AuditSettings, resolver: &GuardedResolver) -> Result<Self, SetupError> {
        Ok(match settings.provider {
            ProviderKind::Lighthouse => {
                let proxy = BrowserProxy::bind(resolver.clone(), ProxyLimits::default())?;
                AuditProvider::Lighthouse(LighthouseRunner::new(settings.lighthouse.clone(), proxy)?)
            }
            ProviderKind::PageSpeed => AuditProvider::PageSpeed(PageSpeedClient::new(&settings.pagespeed)?),
        })
    }

    /// The proxy a local Lighthouse's browsers go through (none for
    /// PageSpeed Insights).
    pub fn browser_proxy(&self) -> Option<&BrowserProxy> {
        match self {
            AuditProvider::Lighthouse(runner) => Some(runner.proxy()),
            AuditProvider::PageSpeed(_) => None,
        }
    }

    /// Which provider this is.
    pub fn kind(&self) -> ProviderKind {
        match self {
            AuditProvider::Lighthouse(_) => ProviderKind::Lighthouse,
            AuditProvider::PageSpeed(_) => ProviderKind::PageSpeed,
        }
    }

    /// Measure `url`. Dropping the future stops the work (and kills a local
    /// run's processes).
    pub async fn audit(
        &self,
        pool: &PgPool,
        url: &Url,
        form_factor: FormFactor,
        timeout: Duration,
    ) -> Result<Audited, AuditError> {
        match self {
            AuditProvider::Lighthouse(runner) => {
                let json = runner.run(url, form_factor, timeout).await?;
                off_the_runtime(move || {
                    let report = LighthouseReport::parse(&json)?;
                    let archive = ReportArchive::compress(ReportFormat::LighthouseResult, &json)
                        .map_err(|e| AuditError::Archive(e.to_string()))?;
                    Ok(Audited { report, archive })
                })
                .await
            }
            AuditProvider::PageSpeed(client) => {
                let run: PageSpeedRun = client.run(pool, url, form_factor).await?;
                off_the_runtime(move || {
                    let report = run.report()?;
                    let archive = ReportArchive::compress(ReportFormat::PageSpeedV5, &run.body)
                        .map_err(|e| AuditError::Archive(e.to_string()))?;
                    Ok(Audited { report, archive })
                })
                .await
            }
        }
    }
}

/// Parsing and compressing a report of a few hundred KiB is CPU work.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuditError> + Send + 'static,
) -> Result<T, AuditError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AuditError::Archive(format!("the report task failed: {e}")))?
}
