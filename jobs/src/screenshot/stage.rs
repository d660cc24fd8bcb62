//! The `screenshot` job: desktop and mobile captures of a generated site
//! version (after its quality gate passed) or of a prospect's own website
//! (the "before" picture), analysed, stored, and linked from the database in
//! the transaction that advances the chain.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;
use uuid::Uuid;

use super::{
    BrowserSlot, Capture, CaptureError, GuardFuture, MediaStore, RequestGuard, ResolverGuard,
    ScreenshotSettings, analysis::analyse_blocking_task, store_screenshot,
};
use crate::{
    audit::FormFactor,
    browser_proxy::{BrowserProxy, ProxyLimits},
    local_page::LocalPage,
    pipeline::{self, AdvanceError, ProspectJob, ProspectLink, ProspectStage},
    public_urls::PublicUrls,
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    stage::{Branch, CheckContext, InvalidSetting, Setup, SetupError, Stage, StageConfig, StageJob},
    tech_scan::{
        ScanTech,
        fetch::{AddressGuard, GuardedResolver},
    },
};

/// Marker of the `screenshot` stage.
#[derive(Debug, Clone, Copy)]
pub enum ScreenshotStep {}

impl ProspectStage for ScreenshotStep {
    const STAGE: Stage = Stage::Screenshot;
}

/// Capture a site version (or the prospect's own site) on desktop and mobile.
pub type CaptureScreenshot = ProspectJob<ScreenshotStep>;

impl StageConfig for ScreenshotSettings {
    fn check(&mut self, ctx: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        if self.chromium_path.as_os_str().is_empty() {
            return Err(InvalidSetting::new("chromium_path", "must not be empty"));
        }
        if let Some(flag) = self.all_flags().find(|flag| is_proxy_flag(flag)) {
            return Err(InvalidSetting::new(
                "flags",
                format!("{flag}: the stage sends all browser traffic through its own proxy"),
            ));
        }
        if self.limits.total_timeout >= ctx.worker.timeout {
            return Err(InvalidSetting::new(
                "limits.total_timeout",
                format!(
                    "two captures of this must fit in stages.screenshot.timeout ({})",
                    humantime::format_duration(ctx.worker.timeout)
                ),
            ));
        }
        Ok(())
    }
}

/// Chromium's proxy switches, which the stage sets itself.
fn is_proxy_flag(flag: &str) -> bool {
    [
        "--proxy-server",
        "--proxy-bypass-list",
        "--proxy-pac-url",
        "--no-proxy-server",
        "--proxy-auto-detect",
    ]
    .iter()
    .any(|own| flag.starts_with(own))
}

/// What every capture shares: one browser per concurrent job, the media
/// store, the guard and the browser proxy (one for all the slots of this
/// process, started and stopped with these deps), and where files are
/// served.
pub struct ScreenshotDeps {
    settings: Arc<ScreenshotSettings>,
    slots: Mutex<Vec<BrowserSlot>>,
    free: Arc<Semaphore>,
    guard: Arc<LocalPagesGuard>,
    proxy: BrowserProxy,
    store: MediaStore,
    urls: PublicUrls,
}

impl std::fmt::Debug for ScreenshotDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenshotDeps")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ScreenshotDeps {
    /// Deps with `slots` browsers (one per job run at once). Pages and
    /// every request they make are admitted by `resolver` (its pins and
    /// address guard): checked in the browser (`Fetch`) and, for every
    /// connection, by the browser proxy.
    pub fn new(
        settings: ScreenshotSettings,
        resolver: GuardedResolver,
        slots: usize,
        urls: PublicUrls,
    ) -> Result<Self, SetupError> {
        let store = MediaStore::from_config(&settings.store)?;
        let settings = Arc::new(settings);
        let proxy = BrowserProxy::bind(resolver.clone(), ProxyLimits::default())?;
        let guard = Arc::new(LocalPagesGuard {
            inner: Arc::new(ResolverGuard::new(resolver)),
            pages: Mutex::default(),
        });
        let slots = (0..slots.max(1))
            .map(|_| {
                BrowserSlot::new(Arc::clone(&settings), Arc::clone(&guard) as Arc<dyn RequestGuard>)
                    .with_proxy(proxy.clone())
            })
            .collect::<Vec<_>>();
        Ok(Self {
            proxy,
            free: Arc::new(Semaphore::new(slots.len())),
            slots: Mutex::new(slots),
            settings,
            guard,
            store,
            urls,
        })
    }

    /// The proxy the browsers go through: its denials say what pages tried
    /// to reach and were refused.
    pub fn browser_proxy(&self) -> &BrowserProxy {
        &self.proxy
    }

    /// A free browser slot (waits for one).
    async fn slot(&self) -> Result<Slot<'_>, CaptureError> {
        let permit = Arc::clone(&self.free)
            .acquire_owned()
            .await
            .map_err(|_| CaptureError::Protocol {
                method: "pool".into(),
                message: "the browser pool is closed".into(),
            })?;
        let slot = self
            .slots
            .lock()
            .map_err(|_| CaptureError::Protocol {
                method: "pool".into(),
                message: "the browser pool is poisoned".into(),
            })?
            .pop()
            .ok_or_else(|| CaptureError::Protocol {
                method: "pool".into(),
                message: "no free browser slot".into(),
            })?;
        Ok(Slot {
            deps: self,
            slot: Some(slot),
            _permit: permit,
        })
    }
}

/// A browser taken from the pool; it goes back when dropped.
struct Slot<'a> {
    deps: &'a ScreenshotDeps,
    slot: Option<BrowserSlot>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let (Some(slot), Ok(mut slots)) = (self.slot.take(), self.deps.slots.lock()) {
            slots.push(slot);
        }
    }
}

/// The address guard, letting through the loopback pages this process
/// serves for captures of generated versions (and nothing else private).
#[derive(Debug)]
struct LocalPagesGuard {
    inner: Arc<dyn RequestGuard>,
    pages: Mutex<HashSet<SocketAddr>>,
}

impl RequestGuard for LocalPagesGuard {
    fn check<'a>(&'a self, url: &'a Url) -> GuardFuture<'a> {
        let ours = url
            .socket_addrs(|| None)
            .ok()
            .and_then(|addrs| addrs.first().copied())
            .filter(|addr| addr.ip().is_loopback())
            .is_some_and(|addr| self.pages.lock().is_ok_and(|pages| pages.contains(&addr)));
        if ours {
            Box::pin(async { Ok(()) })
        } else {
            self.inner.check(url)
        }
    }
}

impl StageJob for CaptureScreenshot {
    const STAGE: Stage = Stage::Screenshot;
    const BRANCH: Branch = Branch::Preview;
    type Settings = ScreenshotSettings;

    fn build_deps(settings: &ScreenshotSettings, setup: &Setup<'_>) -> Result<ScreenshotDeps, SetupError> {
        // The same guard as the tech scan and the audit: its allowed
        // networks and resolver pins.
        let tech = setup.settings::<ScanTech>();
        let guard = AddressGuard::new(tech.allow_networks.clone());
        let resolver = GuardedResolver::new(&tech.dns(), tech.resolve.clone(), guard)?;
        ScreenshotDeps::new(
            settings.clone(),
            resolver,
            setup.worker.concurrency,
            setup.platform.web.clone(),
        )
    }

    fn for_prospect(link: ProspectLink) -> Option<Self> {
        Some(Self::from_link(link))
    }
}

/// Why a screenshot job failed.
#[derive(Debug, thiserror::Error)]
pub enum ScreenshotError {
    /// The prospect or version is gone.
    #[error("{0} does not exist")]
    Missing(String),
    /// There is no website to capture.
    #[error("prospect {0} has no website to capture")]
    NoWebsite(i64),
    /// The version has not passed its quality gate.
    #[error("site version {0} has not passed its quality gate")]
    NotGated(Uuid),
    /// The capture failed.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The loopback page could not be served.
    #[error("could not serve the version on loopback: {0}")]
    Serve(#[source] std::io::Error),
    /// Reading or writing failed.
    #[error("database error while storing screenshots")]
    Database(#[from] sqlx::Error),
    /// Enqueueing the next stage failed.
    #[error(transparent)]
    Advance(#[from] AdvanceError),
}

impl StageError for ScreenshotError {
    fn is_permanent(&self) -> bool {
        match self {
            ScreenshotError::Missing(_) | ScreenshotError::NoWebsite(_) | ScreenshotError::NotGated(_) => {
                true
            }
            ScreenshotError::Capture(e) => e.is_permanent(),
            ScreenshotError::Serve(_) => false,
            ScreenshotError::Database(e) => !is_transient_db_error(e),
            ScreenshotError::Advance(e) => e.is_permanent(),
        }
    }
}

/// The two stored captures of one page.
struct Shots {
    desktop: String,
    mobile: String,
    thumbnail: String,
    phash: String,
}

async fn capture_both(deps: &ScreenshotDeps, url: &Url) -> Result<Shots, ScreenshotError> {
    let mut slot = deps.slot().await?;
    let browser = slot.slot.as_mut().ok_or_else(|| CaptureError::Protocol {
        method: "pool".into(),
        message: "no browser in the slot".into(),
    })?;
    let limits = deps.settings.limits.clone();
    let desktop = browser.capture(url, FormFactor::Desktop, &limits).await?;
    let mobile = browser.capture(url, FormFactor::Mobile, &limits).await?;
    drop(slot);
    let store = |capture: Capture| async {
        let capture = Arc::new(capture);
        let analysis = analyse_blocking_task(Arc::clone(&capture), deps.settings.analysis.clone()).await?;
        let stored = store_screenshot(&deps.store, &capture, &analysis).await?;
        Ok::<_, CaptureError>((stored, analysis))
    };
    let (desktop, desktop_analysis) = store(desktop).await?;
    let (mobile, _) = store(mobile).await?;
    Ok(Shots {
        desktop: desktop.png.key.to_string(),
        mobile: mobile.png.key.to_string(),
        thumbnail: desktop.thumbnail.key.to_string(),
        phash: desktop_analysis.phash,
    })
}

impl Handler for CaptureScreenshot {
    type Deps = ScreenshotDeps;
    type Error = ScreenshotError;

    #[tracing::instrument(skip_all, fields(prospect.id = self.prospect_id, site.version = ?self.site_version))]
    async fn handle(self, ctx: &JobContext, deps: &ScreenshotDeps) -> Result<(), ScreenshotError> {
        match self.site_version {
            Some(version) => {
                let page = super::queries::version_page(&ctx.pool, version)
                    .await?
                    .ok_or_else(|| ScreenshotError::Missing(format!("site version {version}")))?;
                if page.gate_status != "passed" {
                    return Err(ScreenshotError::NotGated(version));
                }
                let local = LocalPage::serve(page.live_html)
                    .await
                    .map_err(ScreenshotError::Serve)?;
                let address = local.address();
                let admitted = deps.proxy.admit_local(address);
                if let Ok(mut pages) = deps.guard.pages.lock() {
                    pages.insert(address);
                }
                let shots = capture_both(deps, &local.url()).await;
                if let Ok(mut pages) = deps.guard.pages.lock() {
                    pages.remove(&address);
                }
                drop(admitted);
                let shots = shots?;
                let mut tx = ctx.pool.begin().await?;
                super::queries::store_version_shots(
                    &mut tx,
                    version,
                    &shots.desktop,
                    &shots.mobile,
                    &shots.thumbnail,
                    &shots.phash,
                    &deps.urls.media(&shots.desktop),
                    &deps.urls.media(&shots.mobile),
                )
                .await?;
                pipeline::advance(&mut tx, &ctx.enqueuer, &self, &[]).await?;
                tx.commit().await?;
                tracing::info!("site version captured");
            }
            None => {
                let website = super::queries::prospect_website(&ctx.pool, self.prospect_id)
                    .await?
                    .ok_or_else(|| ScreenshotError::Missing(format!("prospect {}", self.prospect_id)))?
                    .ok_or(ScreenshotError::NoWebsite(self.prospect_id))?;
                let url = Url::parse(&website).map_err(|e| CaptureError::InvalidUrl {
                    url: website.clone(),
                    reason: e.to_string(),
                })?;
                let shots = capture_both(deps, &url).await?;
                let mut tx = ctx.pool.begin().await?;
                super::queries::store_prospect_shots(
                    &mut *tx,
                    self.prospect_id,
                    &shots.desktop,
                    &shots.mobile,
                )
                .await?;
                pipeline::advance(&mut tx, &ctx.enqueuer, &self, &[]).await?;
                tx.commit().await?;
                tracing::info!("prospect website captured");
            }
        }
        Ok(())
    }
}
