//! Local Lighthouse runs with Debian's Chromium.
//!
//! Two runners produce the same Lighthouse result (LHR JSON):
//!
//! - **resident** (default): a pool of long-lived drivers
//!   (`tools/lighthouse/driver.mjs`), one per concurrent audit. Each is a
//!   Node process that loaded Lighthouse once and a Chromium it launched
//!   once, in the driver's process group; every audit runs in a fresh
//!   browser context. Node's start-up, Lighthouse's loading and Chromium's
//!   start (5–7 s of a ~18 s CLI run) are paid once per driver. A driver is
//!   replaced after `recycle_after` audits or any failure, and stopped after
//!   `idle_timeout` without work.
//! - **cli**: the `lighthouse` CLI per audit, which starts and stops its own
//!   Chromium.
//!
//! Both runners' Chromium sends all of its traffic through the stage's
//! [`BrowserProxy`] (flags from [`BrowserProxy::chromium_flags`], added
//! after the configured ones so they win): the page, its redirects,
//! sub-resources, frames, fetches and WebSockets are all checked against
//! the address guard before a connection is made.
//!
//! Both run each process group under a timeout and kill it (and anything
//! else that uses the run's directory) on timeout, on shutdown and on drop:
//! see [`process`]. A non-zero exit with a report is not a failure here: the
//! report's `runtimeError` says what went wrong with the page.

mod cli;
pub mod install;
mod process;
mod resident;

use std::{io, path::Path, sync::Arc, time::Duration};

use url::Url;

pub use self::cli::{chrome_flags_arg, entry_point as cli_entry_point};
use super::settings::{FormFactor, LighthouseSettings, RunnerKind};
use crate::browser_proxy::{BrowserProxy, ProxyError};

/// Why a run produced no report. Every variant is worth a retry.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The run's directory or a process could not be set up.
    #[error("could not start Lighthouse: {0}")]
    Spawn(#[source] io::Error),
    /// A resident driver did not say it was ready in time.
    #[error("the Lighthouse driver was not ready within {0:?}; its processes were killed")]
    StartTimeout(Duration),
    /// The run took too long.
    #[error("Lighthouse did not finish within {0:?}; its processes were killed")]
    Timeout(Duration),
    /// The process ended without a report.
    #[error("Lighthouse exited ({status}) without a report; its log: {log}")]
    Crashed {
        /// Exit status, or how the driver went away.
        status: String,
        /// The end of its stderr.
        log: String,
    },
    /// Lighthouse threw (the resident driver reports the exception).
    #[error("Lighthouse failed: {0}")]
    Failed(String),
    /// The report file could not be read.
    #[error("could not read the Lighthouse report: {0}")]
    ReadReport(#[source] io::Error),
    /// The browser proxy could not serve.
    #[error("could not start the browser proxy: {0}")]
    Proxy(#[from] ProxyError),
}

/// Lighthouse or Chromium is not where the settings say.
#[derive(Debug, thiserror::Error)]
#[error("{what} not found at {path} ({hint})")]
pub struct NotInstalled {
    /// What is missing.
    pub what: &'static str,
    /// Where it was looked for.
    pub path: String,
    /// How to fix it.
    pub hint: &'static str,
}

/// Runs Lighthouse on this machine.
#[derive(Clone)]
pub struct LighthouseRunner {
    settings: Arc<LighthouseSettings>,
    proxy: BrowserProxy,
    resident: Option<resident::ResidentPool>,
}

impl std::fmt::Debug for LighthouseRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LighthouseRunner")
            .field("runner", &self.settings.runner)
            .field("install_dir", &self.settings.install_dir)
            .finish_non_exhaustive()
    }
}

impl LighthouseRunner {
    /// A runner whose Chromium goes through `proxy`, after checking that
    /// Node, Lighthouse and Chromium are installed where `settings` say.
    pub fn new(mut settings: LighthouseSettings, proxy: BrowserProxy) -> Result<Self, NotInstalled> {
        // A relative install is looked for beyond the working directory.
        if let Ok(cwd) = std::env::current_dir() {
            let exe = std::env::current_exe().ok();
            settings.install_dir = install::locate(
                &settings.install_dir,
                &cwd,
                install::data_dir().as_deref(),
                exe.as_deref(),
            );
        }
        // Runs start in their own directory: make relative paths absolute now.
        for path in [
            &mut settings.install_dir,
            &mut settings.chrome_path,
            &mut settings.work_dir,
        ] {
            if let Ok(absolute) = std::path::absolute(&*path) {
                *path = absolute;
            }
        }
        if settings.node.components().count() > 1
            && let Ok(absolute) = std::path::absolute(&settings.node)
        {
            settings.node = absolute;
        }
        check_installation(&settings)?;
        let settings = Arc::new(settings);
        let resident = match settings.runner {
            RunnerKind::Resident => Some(resident::ResidentPool::new(Arc::clone(&settings), proxy.clone())),
            RunnerKind::Cli => None,
        };
        Ok(Self {
            settings,
            proxy,
            resident,
        })
    }

    /// The proxy its browsers go through.
    pub fn proxy(&self) -> &BrowserProxy {
        &self.proxy
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &LighthouseSettings {
        &self.settings
    }

    /// Audit `url`; returns the report (LHR JSON) whatever Lighthouse thought
    /// of the page. Killing the returned future kills the run's processes.
    pub async fn run(
        &self,
        url: &Url,
        form_factor: FormFactor,
        timeout: Duration,
    ) -> Result<Vec<u8>, RunnerError> {
        match &self.resident {
            Some(pool) => pool.run(url, form_factor, timeout).await,
            None => cli::run(&self.settings, &self.proxy, url, form_factor, timeout).await,
        }
    }
}

const INSTALL_HINT: &str =
    "run `prospector setup` (installs it in the data directory), or `npm ci` in tools/lighthouse";

fn check_installation(settings: &LighthouseSettings) -> Result<(), NotInstalled> {
    let require = |what: &'static str, path: &Path, hint: &'static str| {
        if path.is_file() {
            Ok(())
        } else {
            Err(NotInstalled {
                what,
                path: path.display().to_string(),
                hint,
            })
        }
    };
    require(
        "Chromium",
        &settings.chrome_path,
        "apt-get install chromium, or set audit.lighthouse.chrome_path",
    )?;
    require("Lighthouse", &cli_entry_point(settings), INSTALL_HINT)?;
    require(
        "the resident Lighthouse driver",
        &settings.install_dir.join("driver.mjs"),
        INSTALL_HINT,
    )?;
    let node = &settings.node;
    let found = if node.components().count() > 1 {
        node.is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(node).is_file()))
    };
    if !found {
        return Err(NotInstalled {
            what: "Node.js",
            path: node.display().to_string(),
            hint: "install Node.js >= 18.20, or set audit.lighthouse.node",
        });
    }
    Ok(())
}

/// Chromium flags for one run: the configured ones, a crash-dump
/// directory inside the run's directory (so Chromium's crash handler is
/// found, and cleaned up, with the run), then the proxy's (last, so they
/// win over anything configured).
fn chrome_flags(
    settings: &LighthouseSettings,
    run_dir: &Path,
    proxy: &BrowserProxy,
) -> Result<Vec<String>, ProxyError> {
    let mut flags = settings.chrome_flags.clone();
    flags.push(format!(
        "--crash-dumps-dir={}",
        run_dir.join("crashpad").display()
    ));
    flags.extend(proxy.chromium_flags()?);
    Ok(flags)
}
