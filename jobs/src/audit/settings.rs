//! The audit stage's settings: `[audit]` in the configuration.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::stage::{CheckContext, InvalidSetting, StageConfig};

/// The environment variable holding the PageSpeed Insights API key. It is
/// read from the environment only (a configuration file cannot set it).
pub const PAGESPEED_API_KEY_VAR: &str = "PROSPECTOR__AUDIT__PAGESPEED__API_KEY";

/// Flags the runner sets itself, per run (the proxy's among them: all of
/// Chromium's traffic goes through the stage's browser proxy).
const RUNNER_FLAGS: [&str; 8] = [
    "--user-data-dir",
    "--remote-debugging-port",
    "--crash-dumps-dir",
    "--proxy-server",
    "--proxy-bypass-list",
    "--proxy-pac-url",
    "--no-proxy-server",
    "--proxy-auto-detect",
];

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Lighthouse on this machine, with Chromium.
    Lighthouse,
    /// Google's PageSpeed Insights API v5 (Lighthouse on Google's machines).
    #[serde(rename = "pagespeed")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// Settings of local Lighthouse runs (`[audit.lighthouse]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Where each run's (or each resident driver's) fresh directory is made
    /// (`""`: the system's temporary directory).
    #[serde(default = "std::env::temp_dir", deserialize_with = "dir_or_temp")]
    pub work_dir: PathBuf,
    /// A resident driver must be ready within this.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
    /// A resident driver is replaced (fresh Chromium profile) after this
    /// many audits.
    pub recycle_after: u32,
    /// An idle resident driver is stopped after this long.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

fn dir_or_temp<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    Ok(match String::deserialize(d)?.trim() {
        "" => std::env::temp_dir(),
        dir => PathBuf::from(dir),
    })
}

/// Settings of the PageSpeed Insights client (`[audit.pagespeed]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSpeedSettings {
    /// `https://www.googleapis.com`, or a local server in tests.
    pub base_url: Url,
    /// The API key (from [`PAGESPEED_API_KEY_VAR`] only); without one Google
    /// allows a small anonymous quota.
    #[serde(skip)]
    pub api_key: Option<SecretString>,
    /// One request may take this long (PSI runs Lighthouse: 10–60 s).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Requests allowed per Pacific-time day (Google's default quota is
    /// 25 000); past it jobs wait for the next day instead of calling.
    #[serde(default)]
    pub daily_quota: Option<u32>,
    /// Language of titles and displayed values.
    pub locale: String,
}

/// The `[audit]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Lighthouse here, or PageSpeed Insights.
    pub provider: ProviderKind,
    /// Mobile (default) or desktop.
    pub form_factor: FormFactor,
    /// One Lighthouse run may take this long; then its processes are killed
    /// and the job is retried.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Local Lighthouse.
    pub lighthouse: LighthouseSettings,
    /// PageSpeed Insights.
    pub pagespeed: PageSpeedSettings,
}

impl StageConfig for AuditSettings {
    fn check(&mut self, ctx: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        if self.timeout.is_zero() {
            return Err(InvalidSetting::new("timeout", "must be longer than zero"));
        }
        let lh = &self.lighthouse;
        for flag in &lh.chrome_flags {
            if flag.contains('"') {
                return Err(InvalidSetting::new(
                    "lighthouse.chrome_flags",
                    format!("`{flag}` contains a double quote"),
                ));
            }
            if let Some(own) = RUNNER_FLAGS.iter().find(|f| flag.starts_with(*f)) {
                return Err(InvalidSetting::new(
                    "lighthouse.chrome_flags",
                    format!("{own} is set by the runner for each run"),
                ));
            }
        }
        for (key, path) in [
            ("lighthouse.install_dir", &lh.install_dir),
            ("lighthouse.node", &lh.node),
            ("lighthouse.chrome_path", &lh.chrome_path),
        ] {
            if path.as_os_str().to_string_lossy().trim().is_empty() {
                return Err(InvalidSetting::new(key, "must not be empty"));
            }
        }
        if lh.recycle_after == 0 {
            return Err(InvalidSetting::new(
                "lighthouse.recycle_after",
                "must be at least 1",
            ));
        }
        for (key, value) in [
            ("lighthouse.start_timeout", lh.start_timeout),
            ("lighthouse.idle_timeout", lh.idle_timeout),
            ("pagespeed.request_timeout", self.pagespeed.request_timeout),
        ] {
            if value.is_zero() {
                return Err(InvalidSetting::new(key, "must be longer than zero"));
            }
        }
        let ps = &mut self.pagespeed;
        if !matches!(ps.base_url.scheme(), "http" | "https") || ps.base_url.host().is_none() {
            return Err(InvalidSetting::new(
                "pagespeed.base_url",
                format!("`{}` is not an http(s) URL", ps.base_url),
            ));
        }
        if ps.daily_quota == Some(0) {
            return Err(InvalidSetting::new(
                "pagespeed.daily_quota",
                "must be at least 1 (leave it out for no local limit)",
            ));
        }
        ps.locale = ps.locale.trim().to_owned();
        if ps.locale.is_empty() {
            return Err(InvalidSetting::new("pagespeed.locale", "must not be empty"));
        }
        ps.api_key = match ctx.env.get(PAGESPEED_API_KEY_VAR).map(|k| k.trim()) {
            None | Some("") => None,
            Some(key) if key.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                return Err(InvalidSetting::variable(
                    PAGESPEED_API_KEY_VAR,
                    "must not contain spaces or control characters",
                ));
            }
            Some(key) => Some(SecretString::from(key.to_owned())),
        };
        // A run must end (or be killed) before the worker's own timeout
        // fails the job.
        let (key, needed) = match self.provider {
            ProviderKind::Lighthouse => ("timeout", self.timeout + self.lighthouse.start_timeout),
            ProviderKind::PageSpeed => ("pagespeed.request_timeout", self.pagespeed.request_timeout),
        };
        if needed >= ctx.worker.timeout {
            return Err(InvalidSetting::new(
                key,
                format!(
                    "with the start-up allowance ({}) it must stay under stages.audit.timeout ({})",
                    humantime::format_duration(needed),
                    humantime::format_duration(ctx.worker.timeout)
                ),
            ));
        }
        Ok(())
    }
}
