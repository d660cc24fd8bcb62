//! `screenshot`: the capture engine — desktop and true-mobile screenshots
//! of a web page with Debian's Chromium over the DevTools protocol,
//! analysed, thumbnailed, hashed and stored content-addressed. The job
//! handler, its SQL and the route that serves the files build on this.
//!
//! - **Takes**: an http(s) [`Url`](url::Url), a
//!   [`FormFactor`](crate::audit::FormFactor) and [`CaptureLimits`], on a
//!   [`BrowserSlot`] (one per worker slot) built from [`ScreenshotSettings`]
//!   and a [`RequestGuard`].
//! - **Returns**: a [`Capture`] (PNG, pixel and CSS sizes, final URL,
//!   title, status, what happened on the page) or a [`CaptureError`] whose
//!   [`is_permanent`](CaptureError::is_permanent) says whether a retry can
//!   help. [`analysis::analyse`] turns a capture into an [`Analysis`]
//!   (thumbnail, perceptual hash) or refuses it ([`Refusal`]: blank, one
//!   colour, Chromium's error page). [`MediaStore`] stores the PNG and the
//!   thumbnail under `ab/cd/<sha256>.png|jpg`.
//! - **Guarantees**:
//!   - every capture runs in a fresh browser context (no cookies, cache or
//!     storage from the last site) that is disposed of afterwards;
//!   - desktop is 1366×768 at DPR 1; mobile is 390×844 at DPR 3 with
//!     `mobile: true`, touch and a phone user agent, kept during the
//!     full-page shot; images are in CSS pixels by default (a mobile
//!     capture is 390 pixels wide), see [`ScreenshotScale`];
//!   - full page the way Playwright does it: the clip is the document,
//!     capped at `max_height_css`, beyond the viewport only when needed;
//!   - the page and every request it makes (frames, workers included) pass
//!     the guard before they leave the browser; a refused page is a
//!     permanent [`CaptureError::AddressRefused`]; in the stage every
//!     connection the browser opens (WebSockets, preconnects included) also
//!     goes through the [`BrowserProxy`](crate::browser_proxy::BrowserProxy),
//!     which resolves and checks the host itself;
//!   - JavaScript dialogs are dismissed, downloads denied, auth prompts
//!     cancelled, animations and transitions switched off;
//!   - each capture ends within `limits.total_timeout`: on timeout, or when
//!     the browser dies under it, the browser's whole process group is
//!     killed and the error is transient; the next capture starts a new
//!     browser. A renderer crash is an error, never a hang. After
//!     [`BrowserSlot::shutdown`] or a drop no process of the slot is left
//!     and its profile directory is gone.
//!
//! ## The stage
//! - **Input**: [`CaptureScreenshot`] — a prospect, and the generated site
//!   version to capture (after its quality gate passed) or none (the
//!   prospect's own website: the "before" picture).
//! - **Reads**: `site_versions.live_html` (served on loopback for the
//!   capture) or `prospects.website_url`.
//! - **Writes**, in one transaction: the version's screenshot keys, thumbnail
//!   and perceptual hash; `generated_sites.screenshot_desktop_url` and
//!   `screenshot_mobile_url` (media URLs served by the web role), `ready_at`,
//!   and `status` `draft → preview`; or `prospects.site_screenshot_*`. The
//!   files go to the [`MediaStore`] first (content-addressed, so a retry
//!   writes nothing new).
//! - **Next stage**: what is left of the chain (usually nothing).
//! - **Errors**: see [`CaptureError::is_permanent`]; a version that has not
//!   passed its gate, or a prospect without a website, is permanent.

pub mod analysis;
mod bench;
mod browser;
mod cdp;
mod error;
pub mod guard;
mod page;
pub mod process;
mod queries;
pub mod settings;
mod stage;
pub mod store;

pub use analysis::{Analysis, PhashError, analyse, phash_distance};
pub use bench::{BenchFigures, RunFigures, bench_captures};
pub use browser::BrowserSlot;
pub use error::{CaptureError, Refusal};
pub use guard::{AllowAll, GuardFuture, GuardRefusal, RequestGuard, ResolverGuard, guard_from_settings};
pub use page::{BlockedRequest, Capture, MAX_BLOCKED_LISTED};
pub use settings::{
    AnalysisSettings, CaptureLimits, MediaStoreConfig, NetworkSettings, ScreenshotScale, ScreenshotSettings,
    Viewport,
};
pub use stage::{CaptureScreenshot, ScreenshotDeps, ScreenshotError, ScreenshotStep};
pub use store::{MediaKey, MediaKind, MediaStore, StoreError, Stored};

/// The two files of a kept screenshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredScreenshot {
    /// The full PNG.
    pub png: Stored,
    /// The JPEG thumbnail.
    pub thumbnail: Stored,
}

/// Store a capture's PNG and its thumbnail (idempotent: a retry of the
/// same capture writes nothing new).
pub async fn store_screenshot(
    store: &MediaStore,
    capture: &Capture,
    analysis: &Analysis,
) -> Result<StoredScreenshot, CaptureError> {
    let png = store.put(&capture.png, MediaKind::Png).await?;
    let thumbnail = store.put(&analysis.thumbnail_jpeg, MediaKind::Jpeg).await?;
    Ok(StoredScreenshot { png, thumbnail })
}
