//! The audit stage's settings, as parsed from the `[audit]` configuration
//! section (the binary's `config.rs` builds them and names bad keys).

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

/// The device a run emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormFactor {
    /// A mid-range phone on a slow 4G connection (Lighthouse's default).
    Mobile,
    /// A desktop on a fast connection (Lighthouse's desktop preset).
    Desktop,
}

impl FormFactor {
    /// The stored name (`form_factor` column).
    pub fn as_str(self) -> &'static str {
        match self {
            FormFactor::Mobile => "mobile",
            FormFactor::Desktop => "desktop",
        }
    }
}

impl fmt::Display for FormFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is neither `mobile` nor `desktop`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither \"mobile\" nor \"desktop\"")]
pub struct UnknownFormFactor(pub String);

impl FromStr for FormFactor {
    type Err = UnknownFormFactor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mobile" => Ok(FormFactor::Mobile),
            "desktop" => Ok(FormFactor::Desktop),
            _ => Err(UnknownFormFactor(s.to_owned())),
        }
    }
}

/// Who measures the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Lighthouse on this machine, with Chromium.
    Lighthouse,
    /// Google's PageSpeed Insights API v5 (Lighthouse on Google's machines).
    PageSpeed,
}

impl ProviderKind {
    /// The stored name (`provider` columns).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Lighthouse => "lighthouse",
            ProviderKind::PageSpeed => "pagespeed",
        }
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "lighthouse" => Ok(ProviderKind::Lighthouse),
            "pagespeed" => Ok(ProviderKind::PageSpeed),
            other => Err(format!("`{other}` is neither \"lighthouse\" nor \"pagespeed\"")),
        }
    }
}

/// How Lighthouse processes are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerKind {
    /// A long-lived Node process with its own Chromium per concurrent audit
    /// (`tools/lighthouse/driver.mjs`), reused for many audits.
    Resident,
    /// A fresh `lighthouse` CLI process, which starts its own Chromium, per
    /// audit.
    Cli,
}

impl FromStr for RunnerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "resident" => Ok(RunnerKind::Resident),
            "cli" => Ok(RunnerKind::Cli),
            other => Err(format!("`{other}` is neither \"resident\" nor \"cli\"")),
        }
    }
}

/// Settings of local Lighthouse runs.
#[derive(Debug, Clone)]
pub struct LighthouseSettings {
    /// Resident driver or CLI per audit.
    pub runner: RunnerKind,
    /// The pinned install (`tools/lighthouse`: `driver.mjs`, `node_modules`).
    pub install_dir: PathBuf,
    /// The Node.js executable (≥ 18.20 for Lighthouse 12).
    pub node: PathBuf,
    /// The Chromium executable.
    pub chrome_path: PathBuf,
    /// Chromium's flags (headless, no sandbox, no background networking…).
    /// The runner adds the user-data and crash-dump directories.
    pub chrome_flags: Vec<String>,
    /// Where each run's (or each resident driver's) fresh directory is made.
    pub work_dir: PathBuf,
    /// A resident driver must be ready within this.
    pub start_timeout: Duration,
    /// A resident driver is replaced (fresh Chromium profile) after this
    /// many audits.
    pub recycle_after: u32,
    /// An idle resident driver is stopped after this long.
    pub idle_timeout: Duration,
}

/// Settings of the PageSpeed Insights client.
#[derive(Debug, Clone)]
pub struct PageSpeedSettings {
    /// `https://www.googleapis.com`, or a local server in tests.
    pub base_url: Url,
    /// The API key (from the environment only); without one Google allows a
    /// small anonymous quota.
    pub api_key: Option<SecretString>,
    /// One request may take this long (PSI runs Lighthouse: 10–60 s).
    pub request_timeout: Duration,
    /// Requests allowed per Pacific-time day (Google's default quota is
    /// 25 000); past it jobs wait for the next day instead of calling.
    pub daily_quota: Option<u32>,
    /// Language of titles and displayed values.
    pub locale: String,
}

/// The `[audit]` section.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Lighthouse here, or PageSpeed Insights.
    pub provider: ProviderKind,
    /// Mobile (default) or desktop.
    pub form_factor: FormFactor,
    /// One Lighthouse run may take this long; then its processes are killed
    /// and the job is retried.
    pub timeout: Duration,
    /// Local Lighthouse.
    pub lighthouse: LighthouseSettings,
    /// PageSpeed Insights.
    pub pagespeed: PageSpeedSettings,
}
