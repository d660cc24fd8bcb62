//! One capture in one fresh browser context: configure the page, navigate,
//! wait, measure, shoot, and always dispose of the context.
//!
//! An event pump runs beside the capture for its whole life. It answers
//! what must never wait: paused requests (checked by the guard, then
//! continued or failed), JavaScript dialogs (dismissed), auth challenges
//! (cancelled), auto-attached workers and frames (guarded too, then
//! resumed); and it keeps a [`PageState`] (navigations, load events,
//! crashes, downloads, blocked requests) that the capture waits on.

use std::{collections::HashSet, sync::Arc, time::Duration};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
    time::Instant,
};
use url::Url;

use super::{
    cdp::{Cdp, CdpError, Event},
    error::{CaptureError, Refusal},
    guard::RequestGuard,
    settings::{CaptureLimits, ScreenshotScale, ScreenshotSettings, Viewport},
};
use crate::audit::FormFactor;

/// A screenshot and what the browser saw while taking it.
#[derive(Clone)]
pub struct Capture {
    /// The PNG, as Chromium encoded it.
    pub png: Vec<u8>,
    /// Image width in pixels (from the PNG header).
    pub width: u32,
    /// Image height in pixels (from the PNG header).
    pub height: u32,
    /// The page's layout width in CSS pixels: the viewport width for a
    /// responsive page, 980 for a page without a mobile viewport on a phone.
    pub css_width: u32,
    /// The document's full height in CSS pixels, before the height cap.
    pub css_height: u32,
    /// The document was taller than `max_height_css` and was cut.
    pub truncated: bool,
    /// Desktop or mobile.
    pub form_factor: FormFactor,
    /// The viewport it was rendered in.
    pub viewport: Viewport,
    /// CSS or device pixels.
    pub scale: ScreenshotScale,
    /// The URL asked for.
    pub requested_url: Url,
    /// The URL of the document captured, after redirects and late
    /// navigations.
    pub final_url: Url,
    /// The document's title.
    pub title: String,
    /// The HTTP status of the captured document, when known.
    pub http_status: Option<u16>,
    /// The `load` event fired before the load timeout (false: a page that
    /// kept loading was captured as it was).
    pub load_complete: bool,
    /// The page navigated again after `load` (a script, a meta refresh).
    pub navigated_after_load: bool,
    /// That late navigation left the origin of the document that loaded
    /// first (compare `final_url`).
    pub left_origin: bool,
    /// JavaScript dialogs dismissed.
    pub dialogs_dismissed: u32,
    /// Downloads the page started (all denied).
    pub downloads_denied: u32,
    /// Requests the guard failed, at most [`MAX_BLOCKED_LISTED`] listed.
    pub blocked_requests: Vec<BlockedRequest>,
    /// All requests the guard failed.
    pub blocked_total: u32,
    /// Time from the start of the capture (its context already made) to
    /// the screenshot.
    pub duration: Duration,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("png_bytes", &self.png.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("css_width", &self.css_width)
            .field("css_height", &self.css_height)
            .field("truncated", &self.truncated)
            .field("form_factor", &self.form_factor)
            .field("final_url", &self.final_url.as_str())
            .field("title", &self.title)
            .field("http_status", &self.http_status)
            .field("load_complete", &self.load_complete)
            .field("navigated_after_load", &self.navigated_after_load)
            .field("left_origin", &self.left_origin)
            .field("dialogs_dismissed", &self.dialogs_dismissed)
            .field("downloads_denied", &self.downloads_denied)
            .field("blocked_total", &self.blocked_total)
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

/// How many blocked requests a [`Capture`] lists (all are counted).
pub const MAX_BLOCKED_LISTED: usize = 20;

/// A request the guard failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedRequest {
    /// The URL (query string dropped: it may carry tokens).
    pub url: String,
    /// Chromium's resource type (`Document`, `Image`, `Fetch`…).
    pub resource_type: String,
    /// The guard's reason.
    pub reason: String,
}

/// What the pump has seen of the page.
#[derive(Debug, Default, Clone)]
struct PageState {
    /// Main-frame documents committed.
    commits: u32,
    /// Main-frame navigations the page asked for (scripts, meta refresh).
    requested: u32,
    /// Same-document navigations of the main frame.
    same_document: u32,
    /// Times the main frame stopped loading: after a document's `load`, or
    /// when a navigation ended without a new document (a download, a 204).
    stops: u32,
    /// The main frame's current document.
    loader: Option<String>,
    url: Option<String>,
    /// Documents whose `load` fired.
    loaded: HashSet<String>,
    /// HTTP status of the main frame's last document response.
    document_status: Option<u16>,
    /// The main frame's last document response was an attachment.
    document_is_download: bool,
    crashed: bool,
    closed: Option<String>,
    dialogs: u32,
    downloads: u32,
    blocked: Vec<BlockedRequest>,
    blocked_total: u32,
    /// A main-frame document request the guard failed, with its reason.
    main_blocked: Option<(String, bool)>,
    /// Auto-attached child sessions (workers, frames), to unsubscribe.
    children: Vec<String>,
}

impl PageState {
    fn current_loaded(&self) -> bool {
        self.loader.as_ref().is_some_and(|l| self.loaded.contains(l))
    }
}

/// Request patterns paused in the browser: every request before it is
/// sent (the guard), and document responses (their status, attachments).
fn fetch_patterns() -> Value {
    json!({
        "patterns": [
            {"urlPattern": "*", "requestStage": "Request"},
            {"urlPattern": "*", "resourceType": "Document", "requestStage": "Response"},
        ],
        "handleAuthRequests": true,
    })
}

/// Disables animations and transitions, waits for web fonts (bounded), two
/// animation frames and the settle pause, then measures the document the
/// way Playwright measures a full page and reads what identifies it. Runs
/// in an isolated world, so page scripts that replace `setTimeout` or
/// `Promise` cannot stall it.
const SETTLE_JS: &str = r#"(async (fontsMs, settleMs) => {
  const css = '*,*::before,*::after{animation:none!important;transition:none!important;caret-color:transparent!important;scroll-behavior:auto!important}';
  const root = document.head || document.documentElement;
  if (root) { const s = document.createElement('style'); s.textContent = css; root.appendChild(s); }
  const wait = ms => new Promise(r => setTimeout(r, ms));
  if (document.fonts) await Promise.race([document.fonts.ready, wait(fontsMs)]);
  await Promise.race([new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))), wait(500)]);
  await wait(settleMs);
  return MEASURE;
})"#;

/// The measurement alone (after an interrupted settle).
const MEASURE_JS: &str = r#"(() => MEASURE)()"#;

/// An expression: the document's size and identity.
const MEASURE: &str = r#"(() => {
  const d = document.documentElement, b = document.body;
  const max = k => Math.max(d ? d[k] || 0 : 0, b ? b[k] || 0 : 0);
  const nav = performance.getEntriesByType('navigation')[0];
  const code = document.querySelector('.error-code');
  return {
    href: location.href,
    title: document.title || '',
    status: (nav && nav.responseStatus) || 0,
    width: Math.max(max('scrollWidth'), max('offsetWidth'), max('clientWidth')),
    height: Math.max(max('scrollHeight'), max('offsetHeight'), max('clientHeight')),
    errorCode: code ? code.textContent.trim() : '',
  };
})()"#;

/// The parts of a capture request that stay fixed for one capture.
pub(crate) struct PageRequest<'a> {
    pub cdp: &'a Cdp,
    pub guard: Arc<dyn RequestGuard>,
    pub settings: &'a ScreenshotSettings,
    pub chrome_major: &'a str,
    pub url: &'a Url,
    pub form_factor: FormFactor,
    pub limits: &'a CaptureLimits,
}

/// How a capture left the browser.
pub(crate) struct Outcome {
    pub result: Result<Capture, CaptureError>,
    /// The browser context was disposed of; when false the browser should
    /// not be trusted with another capture.
    pub clean: bool,
}

/// A fresh browser context with one blank page, attached, with the
/// domains every capture needs enabled (all but the form factor's
/// emulation). The slot makes the next one while a capture loads and
/// settles, so a capture starts at navigation.
pub(crate) struct Prepared {
    context: String,
    target: String,
    session: String,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
}

impl Prepared {
    /// Make one; on failure nothing is left in the browser.
    pub(crate) async fn new(cdp: &Cdp) -> Result<Self, CaptureError> {
        let created = cdp
            .call(
                None,
                "Target.createBrowserContext",
                json!({"disposeOnDetach": true}),
            )
            .await
            .map_err(|e| from_cdp("Target.createBrowserContext", e))?;
        let context = string_field(&created, "browserContextId", "Target.createBrowserContext")?;
        match Self::open_page(cdp, &context).await {
            Ok((target, session, events_tx, events_rx)) => Ok(Self {
                context,
                target,
                session,
                events_tx,
                events_rx,
            }),
            Err(e) => {
                dispose(cdp, &context).await;
                Err(e)
            }
        }
    }

    async fn open_page(
        cdp: &Cdp,
        context: &str,
    ) -> Result<
        (
            String,
            String,
            mpsc::UnboundedSender<Event>,
            mpsc::UnboundedReceiver<Event>,
        ),
        CaptureError,
    > {
        let browser_call = |method: &'static str, params: Value| async move {
            cdp.call(None, method, params)
                .await
                .map_err(|e| from_cdp(method, e))
        };
        let (denied, target) = tokio::join!(
            browser_call(
                "Browser.setDownloadBehavior",
                json!({"behavior": "deny", "browserContextId": context, "eventsEnabled": true}),
            ),
            browser_call(
                "Target.createTarget",
                json!({"url": "about:blank", "browserContextId": context}),
            ),
        );
        denied?;
        let target = string_field(&target?, "targetId", "Target.createTarget")?;
        let attached = browser_call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        )
        .await?;
        let session = string_field(&attached, "sessionId", "Target.attachToTarget")?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        cdp.subscribe(&session, events_tx.clone());
        let calls = [
            ("Page.enable", json!({})),
            ("Page.setLifecycleEventsEnabled", json!({"enabled": true})),
            ("Inspector.enable", json!({})),
            ("Page.setBypassCSP", json!({"enabled": true})),
            ("Fetch.enable", fetch_patterns()),
            (
                "Emulation.setEmulatedMedia",
                json!({"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]}),
            ),
            (
                "Target.setAutoAttach",
                json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
            ),
        ];
        let session_ref = session.as_str();
        let results = futures::future::join_all(calls.into_iter().map(|(method, params)| async move {
            cdp.call(Some(session_ref), method, params)
                .await
                .map(|_| ())
                .map_err(|e| from_cdp(method, e))
        }))
        .await;
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            cdp.unsubscribe(&session);
            return Err(e);
        }
        Ok((target, session, events_tx, events_rx))
    }
}

/// Dispose of a browser context (its pages and their processes); false
/// when the browser did not confirm within 5 s.
async fn dispose(cdp: &Cdp, context: &str) -> bool {
    let disposed = tokio::time::timeout(
        Duration::from_secs(5),
        cdp.call(
            None,
            "Target.disposeBrowserContext",
            json!({"browserContextId": context}),
        ),
    )
    .await;
    let clean = matches!(disposed, Ok(Ok(_)));
    if !clean {
        tracing::debug!(?disposed, "could not dispose of a browser context");
    }
    clean
}

/// Capture `request.url` in the prepared context, then dispose of it.
pub(crate) async fn capture(request: PageRequest<'_>, prepared: Prepared) -> Outcome {
    let started = Instant::now();
    let cdp = request.cdp;
    let Prepared {
        context,
        target,
        session,
        events_tx,
        events_rx,
    } = prepared;
    cdp.set_browser_sink(Some(events_tx.clone()));
    let (state_tx, state_rx) = watch::channel(PageState::default());
    let mut run = Run {
        request: &request,
        session,
        main_frame: target,
        state: state_rx,
        started,
    };
    let result = run.run(events_tx, events_rx, state_tx).await;

    cdp.set_browser_sink(None);
    cdp.unsubscribe(&run.session);
    for child in &run.state.borrow().children {
        cdp.unsubscribe(child);
    }
    let clean = dispose(cdp, &context).await;
    Outcome { result, clean }
}

struct Run<'r, 'a> {
    request: &'r PageRequest<'a>,
    session: String,
    main_frame: String,
    state: watch::Receiver<PageState>,
    started: Instant,
}

impl Run<'_, '_> {
    async fn run(
        &mut self,
        events_tx: mpsc::UnboundedSender<Event>,
        events_rx: mpsc::UnboundedReceiver<Event>,
        state_tx: watch::Sender<PageState>,
    ) -> Result<Capture, CaptureError> {
        let cdp = self.request.cdp;
        let limits = self.request.limits;
        let viewport = self.request.settings.viewport(self.request.form_factor).clone();

        let pump = Pump {
            cdp: cdp.clone(),
            guard: Arc::clone(&self.request.guard),
            state: state_tx,
            sink: events_tx.downgrade(),
            main_session: self.session.clone(),
            main_frame: self.main_frame.clone(),
        };
        drop(events_tx);
        let _pump = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(pump.run(events_rx)));

        self.configure(&viewport).await?;

        // Navigate. Page.navigate answers once the document commits (or
        // fails); a server that never answers is a navigation timeout.
        let load_deadline = Instant::now() + limits.load_timeout;
        let navigated = match tokio::time::timeout_at(
            load_deadline,
            self.call("Page.navigate", json!({"url": self.request.url.as_str()})),
        )
        .await
        {
            Ok(result) => result?,
            Err(_) => {
                return Err(CaptureError::Timeout {
                    stage: "navigation",
                    after: limits.load_timeout,
                });
            }
        };
        if let Some(error) = navigated.get("errorText").and_then(Value::as_str) {
            return Err(self.navigation_error(error).await);
        }

        let load_complete = self.wait_until(load_deadline, PageState::current_loaded).await?;
        let loaded_url = self.state.borrow().url.clone();

        // Settle; follow navigations that happen after load, a few times.
        let mut navigated_after_load = false;
        let mut rounds = 0;
        let measured = loop {
            let before = self.navigation_marks();
            let settled = self.settle().await?;
            let after = self.navigation_marks();
            if before.navigations() == after.navigations() || rounds >= limits.max_late_navigations {
                match settled {
                    Some(measured) => break measured,
                    None => break self.measure().await?,
                }
            }
            rounds += 1;
            // Wait for the new document to load, or for the navigation to
            // end without one (a download).
            let deadline = Instant::now() + limits.load_timeout;
            let marks = after;
            self.wait_until(deadline, |s| {
                s.stops > marks.stops
                    || (s.commits > marks.commits && s.current_loaded())
                    || s.same_document > marks.same_document
            })
            .await?;
            navigated_after_load |= self.state.borrow().commits > before.commits;
        };

        let final_href = measured.href.clone();
        if final_href.starts_with("chrome-error://") {
            return Err(self.error_page(&measured).await);
        }
        let final_url = Url::parse(&final_href).unwrap_or_else(|_| self.request.url.clone());
        let left_origin = navigated_after_load
            && loaded_url
                .as_deref()
                .and_then(|u| Url::parse(u).ok())
                .is_some_and(|first| first.origin() != final_url.origin());

        let shot = self.screenshot(&viewport, &measured).await?;
        let (width, height) = png_size(&shot.png).ok_or_else(|| {
            CaptureError::Image("Chromium returned a screenshot that is not a PNG".to_owned())
        })?;
        let state = self.state.borrow().clone();
        let http_status = match measured.status {
            0 => state.document_status,
            status => u16::try_from(status).ok(),
        };
        Ok(Capture {
            png: shot.png,
            width,
            height,
            css_width: shot.css_width,
            css_height: measured.height,
            truncated: shot.truncated,
            form_factor: self.request.form_factor,
            viewport,
            scale: self.request.settings.scale,
            requested_url: self.request.url.clone(),
            final_url,
            title: measured.title,
            http_status,
            load_complete,
            navigated_after_load,
            left_origin,
            dialogs_dismissed: state.dialogs,
            downloads_denied: state.downloads,
            blocked_requests: state.blocked,
            blocked_total: state.blocked_total,
            duration: self.started.elapsed(),
        })
    }

    /// The form factor: device metrics, touch, user agent and its client
    /// hints.
    async fn configure(&self, viewport: &Viewport) -> Result<(), CaptureError> {
        let ua = viewport.user_agent_for(self.request.chrome_major);
        let brands = json!([
            {"brand": "Chromium", "version": self.request.chrome_major},
            {"brand": "Not.A/Brand", "version": "99"},
        ]);
        let mut metrics = json!({
            "width": viewport.width,
            "height": viewport.height,
            "deviceScaleFactor": viewport.device_scale_factor,
            "mobile": viewport.mobile,
            "screenWidth": viewport.width,
            "screenHeight": viewport.height,
        });
        if viewport.mobile {
            metrics["screenOrientation"] = json!({"type": "portraitPrimary", "angle": 0});
        }
        let calls = [
            ("Emulation.setDeviceMetricsOverride", metrics),
            (
                "Emulation.setTouchEmulationEnabled",
                json!({"enabled": viewport.mobile, "maxTouchPoints": if viewport.mobile { 5 } else { 1 }}),
            ),
            (
                "Emulation.setUserAgentOverride",
                json!({
                    "userAgent": ua,
                    "platform": viewport.platform,
                    "userAgentMetadata": {
                        "brands": brands,
                        "platform": viewport.platform,
                        "platformVersion": "",
                        "architecture": if viewport.mobile { "" } else { "x86" },
                        "model": viewport.model,
                        "mobile": viewport.mobile,
                    },
                }),
            ),
        ];
        let results = futures::future::join_all(
            calls
                .into_iter()
                .map(|(method, params)| async move { self.call(method, params).await.map(|_| ()) }),
        )
        .await;
        results.into_iter().collect()
    }

    /// Counters that change whenever the main frame navigates.
    fn navigation_marks(&self) -> Marks {
        let s = self.state.borrow();
        Marks {
            commits: s.commits,
            requested: s.requested,
            same_document: s.same_document,
            stops: s.stops,
        }
    }

    /// Styles, fonts, frames, the settle pause, then the measurement. A
    /// navigation during it destroys the isolated world: not an error
    /// (`None`), the caller sees the navigation and settles again.
    async fn settle(&self) -> Result<Option<Measured>, CaptureError> {
        let limits = self.request.limits;
        let expression = format!(
            "{}({}, {})",
            SETTLE_JS.replace("MEASURE", MEASURE),
            limits.fonts_timeout.as_millis(),
            limits.settle.as_millis()
        );
        let bound = limits.fonts_timeout + limits.settle + Duration::from_secs(2);
        let measured = match tokio::time::timeout(bound, self.evaluate(&expression, true)).await {
            Ok(Ok(value)) => Some(Measured::from_value(&value)),
            Ok(Err(CaptureError::Protocol { message, .. })) => {
                tracing::debug!(%message, "settling was interrupted");
                None
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                tracing::debug!("settling took longer than its bound");
                None
            }
        };
        self.check_alive()?;
        Ok(measured)
    }

    async fn measure(&self) -> Result<Measured, CaptureError> {
        let value = self
            .evaluate(&MEASURE_JS.replace("MEASURE", MEASURE), false)
            .await?;
        Ok(Measured::from_value(&value))
    }

    /// Full page, Playwright's way: clip to the document (height capped),
    /// beyond the viewport only when the document is taller, at CSS scale
    /// by default. On a phone, a page without a mobile viewport is laid out
    /// wider than the screen and shown zoomed out; the clip keeps that zoom
    /// (the page scale), so the image is as wide as the phone's screen.
    async fn screenshot(&self, viewport: &Viewport, measured: &Measured) -> Result<Shot, CaptureError> {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await?;
        let page_scale = if viewport.mobile {
            metrics
                .pointer("/cssVisualViewport/scale")
                .and_then(Value::as_f64)
                .filter(|s| *s > 0.05 && *s <= 1.0)
                .unwrap_or(1.0)
        } else {
            1.0
        };
        let layout_width = metrics
            .pointer("/cssLayoutViewport/clientWidth")
            .and_then(Value::as_f64)
            .unwrap_or(f64::from(viewport.width));
        let layout_height = metrics
            .pointer("/cssLayoutViewport/clientHeight")
            .and_then(Value::as_f64)
            .unwrap_or(f64::from(viewport.height));
        let clip_width = (f64::from(viewport.width) / page_scale).round().max(1.0);
        let cap = f64::from(self.request.limits.max_height_css);
        let document_height = f64::from(measured.height.max(1));
        let clip_height = document_height.min(cap).max(1.0);
        let truncated = document_height > cap;
        let dpr = viewport.device_scale_factor.max(0.1);
        let scale = match self.request.settings.scale {
            ScreenshotScale::Css => page_scale / dpr,
            ScreenshotScale::Device => page_scale,
        };
        let beyond = clip_height > layout_height.ceil() || clip_width > layout_width.ceil();
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "clip": {"x": 0, "y": 0, "width": clip_width, "height": clip_height, "scale": scale},
                    "captureBeyondViewport": beyond,
                    "fromSurface": true,
                    "optimizeForSpeed": true,
                }),
            )
            .await?;
        let data = shot.get("data").and_then(Value::as_str).unwrap_or_default();
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| CaptureError::Image(format!("the screenshot is not base64: {e}")))?;
        Ok(Shot {
            png,
            css_width: measured.width.max(layout_width.round() as u32),
            truncated,
        })
    }

    /// Why `Page.navigate` failed, in the most specific terms available.
    async fn navigation_error(&mut self, error: &str) -> CaptureError {
        // A download by MIME type is only announced by an event that may
        // trail the navigation's answer.
        if error.contains("ERR_ABORTED") {
            let soon = Instant::now() + Duration::from_millis(300);
            let _ = self
                .wait_until(soon, |s| s.document_is_download || s.downloads > 0)
                .await;
        }
        let state = self.state.borrow().clone();
        let url = self.request.url.to_string();
        if let Some((reason, permanent)) = state.main_blocked {
            return CaptureError::AddressRefused { reason, permanent };
        }
        if state.document_is_download || (error.contains("ERR_ABORTED") && state.downloads > 0) {
            return CaptureError::Download { url };
        }
        if error.contains("ERR_HTTP_RESPONSE_CODE_FAILURE") {
            return CaptureError::Refused(Refusal::BrowserErrorPage {
                url,
                code: error.trim_start_matches("net::").to_owned(),
                http_status: state.document_status,
            });
        }
        CaptureError::NavigationFailed {
            url,
            net_error: error.to_owned(),
        }
    }

    /// The page ended on Chromium's error page after load (a late
    /// navigation that failed).
    async fn error_page(&self, measured: &Measured) -> CaptureError {
        let state = self.state.borrow().clone();
        if let Some((reason, permanent)) = state.main_blocked {
            return CaptureError::AddressRefused { reason, permanent };
        }
        let code = if measured.error_code.is_empty() {
            "an unknown network error".to_owned()
        } else {
            measured.error_code.clone()
        };
        CaptureError::Refused(Refusal::BrowserErrorPage {
            url: state.url.unwrap_or_else(|| self.request.url.to_string()),
            code,
            http_status: state.document_status,
        })
    }

    /// Evaluate `expression` in a fresh isolated world of the main frame.
    async fn evaluate(&self, expression: &str, await_promise: bool) -> Result<Value, CaptureError> {
        let world = self
            .call(
                "Page.createIsolatedWorld",
                json!({"frameId": self.main_frame, "worldName": "prospector-capture"}),
            )
            .await?;
        let context = world
            .get("executionContextId")
            .and_then(Value::as_i64)
            .ok_or_else(|| protocol("Page.createIsolatedWorld", "no executionContextId"))?;
        let result = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": expression,
                    "contextId": context,
                    "awaitPromise": await_promise,
                    "returnByValue": true,
                }),
            )
            .await?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details
                .pointer("/exception/description")
                .or_else(|| details.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("an exception");
            return Err(protocol("Runtime.evaluate", text));
        }
        Ok(result.pointer("/result/value").cloned().unwrap_or(Value::Null))
    }

    /// A command on the page session, cut short by a renderer crash.
    async fn call(&self, method: &str, params: Value) -> Result<Value, CaptureError> {
        let mut state = self.state.clone();
        tokio::select! {
            result = self.request.cdp.call(Some(&self.session), method, params) => {
                self.check_alive()?;
                result.map_err(|e| from_cdp(method, e))
            }
            () = crashed(&mut state) => Err(self.crash_error()),
        }
    }

    /// Wait until `done` holds, the deadline passes (`Ok(false)`), or the
    /// page crashes or the browser goes away (an error).
    async fn wait_until(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&PageState) -> bool,
    ) -> Result<bool, CaptureError> {
        loop {
            {
                let state = self.state.borrow_and_update();
                if done(&state) {
                    return Ok(true);
                }
            }
            self.check_alive()?;
            match tokio::time::timeout_at(deadline, self.state.changed()).await {
                Err(_) => return Ok(false),
                Ok(Err(_)) => return Err(self.gone_error()),
                Ok(Ok(())) => {}
            }
        }
    }

    fn check_alive(&self) -> Result<(), CaptureError> {
        let state = self.state.borrow();
        if state.crashed {
            return Err(self.crash_error());
        }
        if let Some(reason) = &state.closed {
            return Err(CaptureError::BrowserDied {
                detail: reason.clone(),
            });
        }
        Ok(())
    }

    fn crash_error(&self) -> CaptureError {
        CaptureError::RendererCrashed {
            url: self.request.url.to_string(),
        }
    }

    fn gone_error(&self) -> CaptureError {
        CaptureError::BrowserDied {
            detail: self
                .request
                .cdp
                .closed_reason()
                .unwrap_or_else(|| "the page's events stopped".to_owned()),
        }
    }
}

async fn crashed(state: &mut watch::Receiver<PageState>) {
    if state.wait_for(|s| s.crashed).await.is_err() {
        // The pump ended: never resolve, the command itself will fail.
        std::future::pending::<()>().await;
    }
}

#[derive(Debug, Clone, Copy)]
struct Marks {
    commits: u32,
    requested: u32,
    same_document: u32,
    stops: u32,
}

impl Marks {
    /// The counters that mean "the page moved" (`stops` only ends a wait).
    fn navigations(self) -> (u32, u32, u32) {
        (self.commits, self.requested, self.same_document)
    }
}

#[derive(Debug, Clone)]
struct Measured {
    href: String,
    title: String,
    status: u32,
    width: u32,
    height: u32,
    error_code: String,
}

impl Measured {
    fn from_value(value: &Value) -> Self {
        let text = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let number = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_f64)
                .map_or(0, |n| n.clamp(0.0, f64::from(u32::MAX)).ceil() as u32)
        };
        Self {
            href: text("href"),
            title: text("title"),
            status: number("status"),
            width: number("width"),
            height: number("height"),
            error_code: text("errorCode"),
        }
    }
}

struct Shot {
    png: Vec<u8>,
    css_width: u32,
    truncated: bool,
}

/// Answers the page's events.
struct Pump {
    cdp: Cdp,
    guard: Arc<dyn RequestGuard>,
    state: watch::Sender<PageState>,
    /// Where auto-attached sessions' events go: weak, so the channel closes
    /// when the connection drops its senders.
    sink: mpsc::WeakUnboundedSender<Event>,
    main_session: String,
    main_frame: String,
}

impl Pump {
    async fn run(self, mut events: mpsc::UnboundedReceiver<Event>) {
        let me = Arc::new(self);
        let mut checks = JoinSet::new();
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => me.handle(event, &mut checks),
                    None => break,
                },
                Some(_) = checks.join_next(), if !checks.is_empty() => {}
                () = me.cdp.closed() => break,
            }
        }
        let reason = me
            .cdp
            .closed_reason()
            .unwrap_or_else(|| "the page's event stream ended".to_owned());
        me.state.send_modify(|s| {
            if s.closed.is_none() && me.cdp.is_closed() {
                s.closed = Some(reason);
            }
        });
    }

    fn handle(self: &Arc<Self>, event: Event, checks: &mut JoinSet<()>) {
        let p = &event.params;
        let session = event.session.as_deref();
        let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        match event.method.as_str() {
            "Fetch.requestPaused" => {
                let request_id = str_of(p, "requestId");
                let response_stage =
                    p.get("responseStatusCode").is_some() || p.get("responseErrorReason").is_some();
                if response_stage {
                    self.document_response(p);
                    self.cdp
                        .send(session, "Fetch.continueRequest", json!({"requestId": request_id}));
                    return;
                }
                let url = p
                    .pointer("/request/url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let resource_type = str_of(p, "resourceType");
                let is_main_document = resource_type == "Document" && str_of(p, "frameId") == self.main_frame;
                let me = Arc::clone(self);
                let session = event.session.clone();
                checks.spawn(async move {
                    me.check_request(session, request_id, url, resource_type, is_main_document)
                        .await;
                });
            }
            "Fetch.authRequired" => {
                self.cdp.send(
                    session,
                    "Fetch.continueWithAuth",
                    json!({"requestId": str_of(p, "requestId"), "authChallengeResponse": {"response": "CancelAuth"}}),
                );
            }
            "Page.javascriptDialogOpening" => {
                // alert: OK; beforeunload: leave; confirm and prompt: cancel.
                let kind = str_of(p, "type");
                let accept = kind == "alert" || kind == "beforeunload";
                self.cdp
                    .send(session, "Page.handleJavaScriptDialog", json!({"accept": accept}));
                self.state.send_modify(|s| s.dialogs += 1);
            }
            "Page.frameNavigated" if session == Some(self.main_session.as_str()) => {
                let frame = &p["frame"];
                if frame.get("parentId").is_none() && str_of(frame, "id") == self.main_frame {
                    let loader = str_of(frame, "loaderId");
                    let url = str_of(frame, "url");
                    self.state.send_modify(|s| {
                        s.commits += 1;
                        s.loader = Some(loader);
                        s.url = Some(url);
                    });
                }
            }
            "Page.navigatedWithinDocument" if str_of(p, "frameId") == self.main_frame => {
                let url = str_of(p, "url");
                self.state.send_modify(|s| {
                    s.same_document += 1;
                    s.url = Some(url);
                });
            }
            "Page.frameStoppedLoading" if str_of(p, "frameId") == self.main_frame => {
                self.state.send_modify(|s| s.stops += 1);
            }
            "Page.frameRequestedNavigation" if str_of(p, "frameId") == self.main_frame => {
                self.state.send_modify(|s| s.requested += 1);
            }
            "Page.lifecycleEvent"
                if str_of(p, "frameId") == self.main_frame && str_of(p, "name") == "load" =>
            {
                let loader = str_of(p, "loaderId");
                self.state.send_modify(|s| {
                    s.loaded.insert(loader);
                });
            }
            "Inspector.targetCrashed" if session == Some(self.main_session.as_str()) => {
                self.state.send_modify(|s| s.crashed = true);
            }
            "Target.targetCrashed" if str_of(p, "targetId") == self.main_frame => {
                self.state.send_modify(|s| s.crashed = true);
            }
            "Browser.downloadWillBegin" => {
                self.state.send_modify(|s| s.downloads += 1);
            }
            // Only targets attached under this page's sessions are its
            // children; a browser-level attach is another capture's page.
            "Target.attachedToTarget" if session.is_some() => self.attached(p, checks),
            "Target.detachedFromTarget" => {
                if let Some(child) = p.get("sessionId").and_then(Value::as_str)
                    && child != self.main_session
                {
                    self.cdp.unsubscribe(child);
                }
            }
            _ => {}
        }
    }

    /// A worker or frame the page started: guard its requests too, then
    /// let it run.
    fn attached(self: &Arc<Self>, p: &Value, checks: &mut JoinSet<()>) {
        let Some(child) = p.get("sessionId").and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        let kind = p
            .pointer("/targetInfo/type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(sink) = self.sink.upgrade() {
            self.cdp.subscribe(&child, sink);
        }
        self.state.send_modify(|s| s.children.push(child.clone()));
        let cdp = self.cdp.clone();
        checks.spawn(async move {
            if let Err(e) = cdp.call(Some(&child), "Fetch.enable", fetch_patterns()).await {
                tracing::debug!(target.kind = %kind, error = %e, "requests of an attached target are not guarded");
            }
            if kind != "worker" && kind != "service_worker" && kind != "shared_worker" {
                let _ = cdp
                    .call(
                        Some(&child),
                        "Target.setAutoAttach",
                        json!({"autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true}),
                    )
                    .await;
            }
            let _ = cdp.call(Some(&child), "Runtime.runIfWaitingForDebugger", json!({})).await;
        });
    }

    fn document_response(&self, p: &Value) {
        if p.get("resourceType").and_then(Value::as_str) != Some("Document")
            || p.get("frameId").and_then(Value::as_str) != Some(self.main_frame.as_str())
        {
            return;
        }
        let status = p
            .get("responseStatusCode")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok());
        let attachment = p
            .get("responseHeaders")
            .and_then(Value::as_array)
            .is_some_and(|headers| {
                headers.iter().any(|h| {
                    h.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case("content-disposition"))
                        && h.get("value")
                            .and_then(Value::as_str)
                            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("attachment"))
                })
            });
        self.state.send_modify(|s| {
            s.document_status = status;
            s.document_is_download = attachment;
        });
    }

    async fn check_request(
        self: Arc<Self>,
        session: Option<String>,
        request_id: String,
        url: String,
        resource_type: String,
        is_main_document: bool,
    ) {
        let verdict = match Url::parse(&url) {
            Ok(parsed) => self.guard.check(&parsed).await,
            Err(e) => Err(super::guard::GuardRefusal {
                reason: format!("the URL does not parse: {e}"),
                permanent: true,
            }),
        };
        match verdict {
            Ok(()) => self.cdp.send(
                session.as_deref(),
                "Fetch.continueRequest",
                json!({"requestId": request_id}),
            ),
            Err(refusal) => {
                let listed = BlockedRequest {
                    url: without_query(&url),
                    resource_type,
                    reason: refusal.reason.clone(),
                };
                self.state.send_modify(|s| {
                    s.blocked_total += 1;
                    if s.blocked.len() < MAX_BLOCKED_LISTED {
                        s.blocked.push(listed);
                    }
                    if is_main_document {
                        s.main_blocked = Some((refusal.reason, refusal.permanent));
                    }
                });
                // After the state: the navigation's failure must find the
                // reason recorded.
                self.cdp.send(
                    session.as_deref(),
                    "Fetch.failRequest",
                    json!({"requestId": request_id, "errorReason": "BlockedByClient"}),
                );
            }
        }
    }
}

fn without_query(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.chars().take(200).collect(),
    }
}

fn string_field(v: &Value, key: &str, method: &str) -> Result<String, CaptureError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| protocol(method, &format!("no {key} in the answer")))
}

fn protocol(method: &str, message: &str) -> CaptureError {
    CaptureError::Protocol {
        method: method.to_owned(),
        message: message.to_owned(),
    }
}

fn from_cdp(method: &str, error: CdpError) -> CaptureError {
    match error {
        CdpError::Closed(detail) => CaptureError::BrowserDied { detail },
        CdpError::Protocol { message, .. } => protocol(method, &message),
    }
}

/// Width and height from a PNG's IHDR chunk.
pub(crate) fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || &png[..8] != SIGNATURE || &png[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(png[20..24].try_into().ok()?);
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_sizes_come_from_the_header_and_junk_is_none() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&390u32.to_be_bytes());
        png.extend_from_slice(&16000u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((390, 16000)));
        assert_eq!(png_size(b"GIF89a"), None);
        assert_eq!(png_size(&png[..20]), None);
    }

    #[test]
    fn blocked_urls_lose_their_query() {
        assert_eq!(
            without_query("http://10.0.0.1/a.png?token=secret#x"),
            "http://10.0.0.1/a.png"
        );
    }
}
