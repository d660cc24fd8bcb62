//! [`BrowserSlot`]: one Chromium per worker slot, reused across captures,
//! relaunched when it died, recycled after `recycle_after` captures, killed
//! with its whole process group on timeout, crash, drop and shutdown.

use std::{process::Stdio, sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::{process::Command, time::Instant};
use url::Url;

use super::{
    cdp::Cdp,
    error::CaptureError,
    guard::RequestGuard,
    page::{self, Capture, PageRequest, Prepared},
    process::{GroupChild, ProfileDir},
    settings::{CaptureLimits, ScreenshotSettings},
};
use crate::{audit::FormFactor, browser_proxy::BrowserProxy};

const LOG: &str = "chromium.log";

/// A running browser. Field order is drop order: the connection closes,
/// the process group dies, then the profile is swept and deleted.
struct Browser {
    /// The context the next capture will use, being made while the current
    /// one runs.
    spare: Option<tokio::task::JoinHandle<Result<Prepared, CaptureError>>>,
    cdp: Cdp,
    child: GroupChild,
    chrome_major: String,
    captures: u32,
    profile: ProfileDir,
}

impl Browser {
    async fn launch(
        settings: &ScreenshotSettings,
        proxy: Option<&BrowserProxy>,
    ) -> Result<Self, CaptureError> {
        let base = settings.work_dir.clone().unwrap_or_else(std::env::temp_dir);
        let profile = ProfileDir::new(&base).map_err(|e| CaptureError::Launch {
            detail: format!("cannot create a profile directory in {}: {e}", base.display()),
        })?;
        match Self::start(settings, proxy, &profile).await {
            Ok((cdp, child, chrome_major)) => Ok(Self {
                spare: None,
                cdp,
                child,
                chrome_major,
                captures: 0,
                profile,
            }),
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || profile.remove_now()).await;
                Err(e)
            }
        }
    }

    async fn start(
        settings: &ScreenshotSettings,
        proxy: Option<&BrowserProxy>,
        profile: &ProfileDir,
    ) -> Result<(Cdp, GroupChild, String), CaptureError> {
        let launch_error = |detail: String| CaptureError::Launch { detail };
        // After the configured flags, so they win.
        let proxy_flags = match proxy {
            Some(proxy) => proxy.chromium_flags().map_err(|e| launch_error(e.to_string()))?,
            None => Vec::new(),
        };
        let data_dir = profile.path().join("profile");
        let log = std::fs::File::create(profile.path().join(LOG))
            .map_err(|e| launch_error(format!("cannot create the browser log: {e}")))?;
        let mut command = Command::new(&settings.chromium_path);
        command
            .args(settings.all_flags())
            .args(&proxy_flags)
            .arg(format!("--user-data-dir={}", data_dir.display()))
            .arg("--remote-debugging-port=0")
            .arg("--remote-debugging-address=127.0.0.1")
            .arg("about:blank");
        crate::child_env::isolate(&mut command, profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let mut child = GroupChild::spawn(&mut command)
            .map_err(|e| launch_error(format!("cannot run {}: {e}", settings.chromium_path.display())))?;

        // Chromium writes its port and browser path to DevToolsActivePort.
        let deadline = Instant::now() + settings.launch_timeout;
        let port_file = data_dir.join("DevToolsActivePort");
        let endpoint = loop {
            if let Ok(text) = tokio::fs::read_to_string(&port_file).await {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next())
                    && port.trim().parse::<u16>().is_ok()
                    && path.starts_with("/devtools/browser/")
                {
                    break format!("ws://127.0.0.1:{}{}", port.trim(), path.trim());
                }
            }
            if let Some(status) = child.try_exit() {
                let tail = log_tail(profile, 1200);
                return Err(launch_error(format!(
                    "Chromium exited at start ({status}): {tail}"
                )));
            }
            if Instant::now() >= deadline {
                child.kill().await;
                return Err(launch_error(format!(
                    "no DevTools endpoint within {:?}: {}",
                    settings.launch_timeout,
                    log_tail(profile, 1200)
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let connected =
            tokio::time::timeout_at(deadline + Duration::from_secs(2), Cdp::connect(&endpoint)).await;
        let cdp = match connected {
            Ok(Ok(cdp)) => cdp,
            Ok(Err(e)) => {
                child.kill().await;
                return Err(launch_error(e));
            }
            Err(_) => {
                child.kill().await;
                return Err(launch_error("the DevTools websocket did not open".to_owned()));
            }
        };
        let version = tokio::time::timeout(
            Duration::from_secs(5),
            cdp.call(None, "Browser.getVersion", json!({})),
        )
        .await
        .map_err(|_| launch_error("Browser.getVersion did not answer".to_owned()))?
        .map_err(|e| launch_error(format!("Browser.getVersion failed: {e}")))?;
        let product = version.get("product").and_then(Value::as_str).unwrap_or_default();
        let chrome_major = product
            .split('/')
            .nth(1)
            .and_then(|v| v.split('.').next())
            .filter(|m| !m.is_empty())
            .unwrap_or("130")
            .to_owned();
        tracing::debug!(browser.product = %product, browser.pid = child.pid(), "Chromium started");
        Ok((cdp, child, chrome_major))
    }

    /// Still usable: connected and its process alive.
    fn is_alive(&mut self) -> bool {
        !self.cdp.is_closed() && self.child.try_exit().is_none()
    }

    /// The spare context if it is ready and sound, else a new one.
    async fn take_prepared(&mut self) -> Result<Prepared, CaptureError> {
        if let Some(spare) = self.spare.take() {
            match spare.await {
                Ok(Ok(prepared)) => return Ok(prepared),
                Ok(Err(e)) => tracing::debug!(error = %e, "the spare context failed; making another"),
                Err(e) => tracing::debug!(error = %e, "the spare context's task failed"),
            }
        }
        Prepared::new(&self.cdp).await
    }

    /// Start making the next capture's context.
    fn prepare_spare(&mut self) {
        let cdp = self.cdp.clone();
        self.spare = Some(tokio::spawn(async move { Prepared::new(&cdp).await }));
    }

    /// Kill the group, reap the leader, sweep and delete the profile.
    async fn stop(mut self) {
        if let Some(spare) = self.spare.take() {
            spare.abort();
        }
        self.child.kill().await;
        let Browser {
            cdp, child, profile, ..
        } = self;
        drop(cdp);
        drop(child);
        // Sweep stragglers and delete the profile before returning.
        let _ = tokio::task::spawn_blocking(move || profile.remove_now()).await;
    }

    /// How the browser went away, for the error.
    async fn death(&mut self) -> String {
        let status = match tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await {
            Ok(Ok(status)) => format!("Chromium exited ({status})"),
            Ok(Err(e)) => format!("Chromium's status is unknown: {e}"),
            Err(_) => "Chromium stopped answering".to_owned(),
        };
        match self.cdp.closed_reason() {
            Some(reason) => format!("{status}; {reason}"),
            None => status,
        }
    }
}

fn log_tail(profile: &ProfileDir, max: usize) -> String {
    let bytes = std::fs::read(profile.path().join(LOG)).unwrap_or_default();
    let tail = &bytes[bytes.len().saturating_sub(max)..];
    String::from_utf8_lossy(tail)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// One browser for one worker slot. Captures run one at a time (`&mut
/// self`), each in a fresh browser context, so nothing (cookies, storage,
/// cache, service workers) carries over from one site to the next.
///
/// Each capture also starts making the next capture's context (a blank
/// page in a new context, its domains enabled) while it loads and settles,
/// so the next one begins at navigation; an idle slot therefore holds one
/// blank page (one renderer process).
///
/// With a [`BrowserProxy`] ([`BrowserSlot::with_proxy`], as the stage
/// always does) all of the browser's traffic goes through it, so the
/// address guard sees every connection, WebSockets and preconnects
/// included; without one only the request guard (`Fetch`) applies.
///
/// The browser starts on first use. A capture that finds it dead (crashed,
/// killed) starts a new one; a capture that times out, or whose browser
/// died under it, kills the whole process group and returns a transient
/// error, and the next capture starts afresh. Dropping the slot kills the
/// group and deletes the profile; [`BrowserSlot::shutdown`] does the same
/// and waits for it.
pub struct BrowserSlot {
    settings: Arc<ScreenshotSettings>,
    guard: Arc<dyn RequestGuard>,
    proxy: Option<BrowserProxy>,
    browser: Option<Browser>,
    launches: u32,
}

impl std::fmt::Debug for BrowserSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSlot")
            .field("pid", &self.browser_pid())
            .field("launches", &self.launches)
            .finish_non_exhaustive()
    }
}

impl BrowserSlot {
    /// A slot; no browser runs until the first capture (or
    /// [`BrowserSlot::start`]).
    pub fn new(settings: Arc<ScreenshotSettings>, guard: Arc<dyn RequestGuard>) -> Self {
        Self {
            settings,
            guard,
            proxy: None,
            browser: None,
            launches: 0,
        }
    }

    /// Send all of the slot's browser traffic through `proxy` (from the
    /// next browser launch on).
    pub fn with_proxy(mut self, proxy: BrowserProxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// The settings it captures with.
    pub fn settings(&self) -> &ScreenshotSettings {
        &self.settings
    }

    /// Start the browser now (when none runs), so the first capture does
    /// not pay for it.
    pub async fn start(&mut self) -> Result<(), CaptureError> {
        self.ensure_browser().await.map(|_| ())
    }

    /// The browser's pid, which is also its process group id; `None` when
    /// no browser runs. For monitoring (RSS) and for tests that kill it.
    pub fn browser_pid(&self) -> Option<u32> {
        self.browser.as_ref().map(|b| b.child.pid())
    }

    /// How many browsers this slot has started.
    pub fn launches(&self) -> u32 {
        self.launches
    }

    /// Capture `url` as `form_factor` sees it, within `limits`.
    ///
    /// The URL must be http(s) and its host must pass the guard. The whole
    /// capture, browser start included, is bounded by
    /// `limits.total_timeout`.
    pub async fn capture(
        &mut self,
        url: &Url,
        form_factor: FormFactor,
        limits: &CaptureLimits,
    ) -> Result<Capture, CaptureError> {
        check_url(url)?;
        if let Err(refusal) = self.guard.check(url).await {
            return Err(CaptureError::AddressRefused {
                reason: refusal.reason,
                permanent: refusal.permanent,
            });
        }
        let total = limits.total_timeout;
        match tokio::time::timeout(total, self.capture_in_browser(url, form_factor, limits)).await {
            Ok(Ok(capture)) => Ok(capture),
            Ok(Err(error)) => Err(error),
            Err(_) => {
                tracing::debug!(%url, "capture timed out; killing the browser");
                self.kill_browser().await;
                Err(CaptureError::Timeout {
                    stage: "capture",
                    after: total,
                })
            }
        }
    }

    async fn capture_in_browser(
        &mut self,
        url: &Url,
        form_factor: FormFactor,
        limits: &CaptureLimits,
    ) -> Result<Capture, CaptureError> {
        let guard = Arc::clone(&self.guard);
        let settings = Arc::clone(&self.settings);
        let browser = self.ensure_browser().await?;
        browser.captures += 1;
        let prepared = match browser.take_prepared().await {
            Ok(prepared) => Ok(prepared),
            Err(e) => {
                if !browser.is_alive() {
                    let detail = browser.death().await;
                    self.kill_browser().await;
                    return Err(CaptureError::BrowserDied { detail });
                }
                Err(e)
            }
        }?;
        // The next capture's context is made while this one loads and
        // settles (unless this browser is about to be recycled).
        if browser.captures < settings.recycle_after {
            browser.prepare_spare();
        }
        let outcome = page::capture(
            PageRequest {
                cdp: &browser.cdp,
                guard,
                settings: &settings,
                chrome_major: &browser.chrome_major,
                url,
                form_factor,
                limits,
            },
            prepared,
        )
        .await;
        let died = matches!(outcome.result, Err(CaptureError::BrowserDied { .. })) || !browser.is_alive();
        if died {
            let detail = browser.death().await;
            self.kill_browser().await;
            return Err(match outcome.result {
                Err(CaptureError::RendererCrashed { url }) => CaptureError::RendererCrashed { url },
                _ => CaptureError::BrowserDied { detail },
            });
        }
        if !outcome.clean {
            // The context may still hold a hung page: start afresh.
            self.kill_browser().await;
        }
        outcome.result
    }

    async fn ensure_browser(&mut self) -> Result<&mut Browser, CaptureError> {
        let replace = match &mut self.browser {
            Some(browser) => !browser.is_alive() || browser.captures >= self.settings.recycle_after,
            None => false,
        };
        if replace {
            self.kill_browser().await;
        }
        if self.browser.is_none() {
            let browser = Browser::launch(&self.settings, self.proxy.as_ref()).await?;
            self.launches += 1;
            self.browser = Some(browser);
        }
        match self.browser.as_mut() {
            Some(browser) => Ok(browser),
            // Set just above.
            None => Err(CaptureError::Launch {
                detail: "the browser vanished after starting".to_owned(),
            }),
        }
    }

    async fn kill_browser(&mut self) {
        if let Some(browser) = self.browser.take() {
            browser.stop().await;
        }
    }

    /// Kill the browser's process group and delete its profile; the slot
    /// can still be used (the next capture starts a new browser).
    pub async fn shutdown(&mut self) {
        self.kill_browser().await;
    }
}

fn check_url(url: &Url) -> Result<(), CaptureError> {
    let invalid = |reason: &str| CaptureError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_owned(),
    };
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(invalid(&format!(
                "only http and https pages are captured, not {other}:"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_captured() {
        for bad in [
            "chrome://crash",
            "file:///etc/passwd",
            "data:text/html,x",
            "javascript:alert(1)",
        ] {
            let url = Url::parse(bad).unwrap();
            let error = check_url(&url).unwrap_err();
            assert!(error.is_permanent(), "{bad}");
            assert!(error.to_string().contains("only http and https"), "{error}");
        }
        check_url(&Url::parse("https://example.com/").unwrap()).unwrap();
    }
}
