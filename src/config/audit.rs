//! The `[audit]` section: raw layer, parsing, checks that name their key.

use std::{collections::HashMap, path::PathBuf};

use prospector_jobs::audit::{
    AuditSettings, FormFactor, LighthouseSettings, PageSpeedSettings, ProviderKind, RunnerKind,
};
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::{ConfigError, StageSettings, invalid, positive_duration};

/// The environment variable holding the PageSpeed Insights API key. It is
/// read from the environment only (a configuration file cannot set it).
pub const PAGESPEED_API_KEY_VAR: &str = "PROSPECTOR__AUDIT__PAGESPEED__API_KEY";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    provider: String,
    form_factor: String,
    timeout: String,
    lighthouse: RawLighthouse,
    pagespeed: RawPageSpeed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLighthouse {
    runner: String,
    install_dir: String,
    node: String,
    chrome_path: String,
    chrome_flags: Vec<String>,
    #[serde(default)]
    work_dir: String,
    start_timeout: String,
    recycle_after: u32,
    idle_timeout: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPageSpeed {
    base_url: String,
    request_timeout: String,
    #[serde(default)]
    daily_quota: Option<u32>,
    locale: String,
}

/// Flags the runner sets itself, per run.
const RUNNER_FLAGS: [&str; 3] = ["--user-data-dir", "--remote-debugging-port", "--crash-dumps-dir"];

pub(super) fn parse(raw: RawAudit) -> Result<AuditSettings, ConfigError> {
    let provider = raw
        .provider
        .parse::<ProviderKind>()
        .map_err(|e| invalid("audit.provider", e))?;
    let form_factor = raw
        .form_factor
        .parse::<FormFactor>()
        .map_err(|e| invalid("audit.form_factor", e.to_string()))?;
    let timeout = positive_duration("audit.timeout", &raw.timeout)?;

    let lh = raw.lighthouse;
    let runner = lh
        .runner
        .parse::<RunnerKind>()
        .map_err(|e| invalid("audit.lighthouse.runner", e))?;
    for flag in &lh.chrome_flags {
        if flag.contains('"') {
            return Err(invalid(
                "audit.lighthouse.chrome_flags",
                format!("`{flag}` contains a double quote"),
            ));
        }
        if let Some(own) = RUNNER_FLAGS.iter().find(|f| flag.starts_with(*f)) {
            return Err(invalid(
                "audit.lighthouse.chrome_flags",
                format!("{own} is set by the runner for each run"),
            ));
        }
    }
    let non_empty = |key: &str, value: &str| -> Result<PathBuf, ConfigError> {
        if value.trim().is_empty() {
            return Err(invalid(key, "must not be empty"));
        }
        Ok(PathBuf::from(value.trim()))
    };
    if lh.recycle_after == 0 {
        return Err(invalid("audit.lighthouse.recycle_after", "must be at least 1"));
    }
    let lighthouse = LighthouseSettings {
        runner,
        install_dir: non_empty("audit.lighthouse.install_dir", &lh.install_dir)?,
        node: non_empty("audit.lighthouse.node", &lh.node)?,
        chrome_path: non_empty("audit.lighthouse.chrome_path", &lh.chrome_path)?,
        chrome_flags: lh.chrome_flags,
        work_dir: match lh.work_dir.trim() {
            "" => std::env::temp_dir(),
            dir => PathBuf::from(dir),
        },
        start_timeout: positive_duration("audit.lighthouse.start_timeout", &lh.start_timeout)?,
        recycle_after: lh.recycle_after,
        idle_timeout: positive_duration("audit.lighthouse.idle_timeout", &lh.idle_timeout)?,
    };

    let ps = raw.pagespeed;
    let base_url = Url::parse(ps.base_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            invalid(
                "audit.pagespeed.base_url",
                format!("`{}` is not an http(s) URL", ps.base_url),
            )
        })?;
    if ps.daily_quota == Some(0) {
        return Err(invalid(
            "audit.pagespeed.daily_quota",
            "must be at least 1 (leave it out for no local limit)",
        ));
    }
    if ps.locale.trim().is_empty() {
        return Err(invalid("audit.pagespeed.locale", "must not be empty"));
    }
    let pagespeed = PageSpeedSettings {
        base_url,
        api_key: None,
        request_timeout: positive_duration("audit.pagespeed.request_timeout", &ps.request_timeout)?,
        daily_quota: ps.daily_quota,
        locale: ps.locale.trim().to_owned(),
    };

    Ok(AuditSettings {
        provider,
        form_factor,
        timeout,
        lighthouse,
        pagespeed,
    })
}

/// A run must end (or be killed) before the stage's own timeout fails the job.
pub(super) fn check_timeouts(audit: &AuditSettings, stage: &StageSettings) -> Result<(), ConfigError> {
    let (key, needed) = match audit.provider {
        ProviderKind::Lighthouse => ("audit.timeout", audit.timeout + audit.lighthouse.start_timeout),
        ProviderKind::PageSpeed => ("audit.pagespeed.request_timeout", audit.pagespeed.request_timeout),
    };
    if needed >= stage.timeout {
        return Err(invalid(
            key,
            format!(
                "with the start-up allowance ({}) it must stay under stages.audit.timeout ({})",
                humantime::format_duration(needed),
                humantime::format_duration(stage.timeout)
            ),
        ));
    }
    Ok(())
}

/// The key from [`PAGESPEED_API_KEY_VAR`], if set and not blank.
pub(super) fn pagespeed_api_key(env: &HashMap<String, String>) -> Result<Option<SecretString>, ConfigError> {
    match env.get(PAGESPEED_API_KEY_VAR).map(|k| k.trim()) {
        None | Some("") => Ok(None),
        Some(key) if key.chars().any(|c| c.is_whitespace() || c.is_control()) => Err(invalid(
            PAGESPEED_API_KEY_VAR,
            "must not contain spaces or control characters",
        )),
        Some(key) => Ok(Some(SecretString::from(key.to_owned()))),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::{Settings, Sources};

    fn load_with(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load(&Sources {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Sources::default()
        })
    }

    #[test]
    fn defaults_audit_with_resident_lighthouse_on_mobile() {
        let settings = load_with(&[]).unwrap();
        let audit = &settings.audit;
        assert_eq!(audit.provider, ProviderKind::Lighthouse);
        assert_eq!(audit.form_factor, FormFactor::Mobile);
        assert_eq!(audit.lighthouse.runner, RunnerKind::Resident);
        assert!(
            audit
                .lighthouse
                .chrome_flags
                .iter()
                .any(|f| f == "--headless=new")
        );
        assert!(audit.pagespeed.api_key.is_none());
        assert_eq!(
            settings.stage("audit").concurrency,
            prospector_jobs::audit::capacity::default_concurrency(),
            "the audit concurrency follows the machine"
        );
    }

    #[test]
    fn the_audit_concurrency_can_be_set_per_worker() {
        let settings = load_with(&[("PROSPECTOR__STAGES__AUDIT__CONCURRENCY", "1")]).unwrap();
        assert_eq!(settings.stage("audit").concurrency, 1);
    }

    #[test]
    fn bad_audit_values_name_their_key() {
        let cases = [
            ("PROSPECTOR__AUDIT__PROVIDER", "webpagetest", "audit.provider"),
            ("PROSPECTOR__AUDIT__FORM_FACTOR", "tablet", "audit.form_factor"),
            ("PROSPECTOR__AUDIT__TIMEOUT", "forever", "audit.timeout"),
            ("PROSPECTOR__AUDIT__TIMEOUT", "10m", "audit.timeout"),
            (
                "PROSPECTOR__AUDIT__LIGHTHOUSE__RUNNER",
                "docker",
                "audit.lighthouse.runner",
            ),
            (
                "PROSPECTOR__AUDIT__LIGHTHOUSE__RECYCLE_AFTER",
                "0",
                "audit.lighthouse.recycle_after",
            ),
            (
                "PROSPECTOR__AUDIT__LIGHTHOUSE__CHROME_PATH",
                " ",
                "audit.lighthouse.chrome_path",
            ),
            (
                "PROSPECTOR__AUDIT__PAGESPEED__BASE_URL",
                "ftp://example",
                "audit.pagespeed.base_url",
            ),
            (
                "PROSPECTOR__AUDIT__PAGESPEED__DAILY_QUOTA",
                "0",
                "audit.pagespeed.daily_quota",
            ),
            (PAGESPEED_API_KEY_VAR, "two words", PAGESPEED_API_KEY_VAR),
        ];
        for (var, value, key) in cases {
            let err = load_with(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
        }
    }

    #[test]
    fn chrome_flags_the_runner_owns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flags.toml");
        std::fs::write(
            &file,
            "[audit.lighthouse]\nchrome_flags = [\"--headless=new\", \"--user-data-dir=/tmp/shared\"]\n",
        )
        .unwrap();
        let err = Settings::load(&Sources {
            extra_file: Some(file),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("audit.lighthouse.chrome_flags"), "{err}");
        assert!(err.contains("--user-data-dir"), "{err}");
    }

    #[test]
    fn the_pagespeed_key_comes_from_the_environment_only() {
        let settings = load_with(&[(PAGESPEED_API_KEY_VAR, "AIza-from-env")]).unwrap();
        let key = settings.audit.pagespeed.api_key.as_ref().unwrap();
        assert_eq!(key.expose_secret(), "AIza-from-env");
        assert!(!format!("{:?}", settings.audit).contains("AIza-from-env"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.toml");
        std::fs::write(&file, "[audit.pagespeed]\napi_key = \"AIza-in-a-file\"\n").unwrap();
        let err = Settings::load(&Sources {
            extra_file: Some(file),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("api_key"), "{err}");
    }
}
