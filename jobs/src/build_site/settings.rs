//! The stage's settings: `[build_site]` in the configuration.

use secrecy::SecretString;
use serde::Deserialize;

use super::GeneratorConfig;
use crate::{
    llm::LlmSettings,
    stage::{CheckContext, InvalidSetting, StageConfig},
};

/// `[build_site]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSiteSettings {
    /// The generator: template version, languages per country, claim text,
    /// agency name.
    #[serde(default)]
    pub generator: GeneratorConfig,
    /// The quality gate a version must pass before it may be sent out.
    #[serde(default)]
    pub gate: GateThresholds,
    /// `[build_site.llm]`: the LLM that reads customers' change requests
    /// into edits (off by default: the deterministic rules read them).
    #[serde(default)]
    pub llm: LlmSettings,
    /// The LLM's API key, read from the variable `llm.api_key_env` names
    /// when `llm.enabled` (never from a file).
    #[serde(skip)]
    pub llm_key: Option<SecretString>,
}

/// Lighthouse scores (0–100) a version needs in every category, on an
/// indexable rendering of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateThresholds {
    /// Performance.
    pub performance: u8,
    /// Accessibility.
    pub accessibility: u8,
    /// Best practices.
    pub best_practices: u8,
    /// SEO.
    pub seo: u8,
}

impl Default for GateThresholds {
    fn default() -> Self {
        Self {
            performance: 95,
            accessibility: 95,
            best_practices: 95,
            seo: 95,
        }
    }
}

/// Scores a gate audit measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateScores {
    /// Performance.
    pub performance: Option<u8>,
    /// Accessibility.
    pub accessibility: Option<u8>,
    /// Best practices.
    pub best_practices: Option<u8>,
    /// SEO.
    pub seo: Option<u8>,
}

impl GateThresholds {
    /// `Ok` when every score reaches its threshold, else every shortfall
    /// (`performance 82 < 95`), joined: the version's stored reason.
    pub fn judge(&self, scores: &GateScores) -> Result<(), String> {
        let shortfalls: Vec<String> = [
            ("performance", scores.performance, self.performance),
            ("accessibility", scores.accessibility, self.accessibility),
            ("best practices", scores.best_practices, self.best_practices),
            ("SEO", scores.seo, self.seo),
        ]
        .into_iter()
        .filter_map(|(name, score, needed)| match score {
            Some(s) if s >= needed => None,
            Some(s) => Some(format!("{name} {s} < {needed}")),
            None => Some(format!("{name} not measured")),
        })
        .collect();
        if shortfalls.is_empty() {
            Ok(())
        } else {
            Err(format!("under the quality gate: {}", shortfalls.join(", ")))
        }
    }
}

impl StageConfig for BuildSiteSettings {
    fn check(&mut self, ctx: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        for (key, value) in [
            ("gate.performance", self.gate.performance),
            ("gate.accessibility", self.gate.accessibility),
            ("gate.best_practices", self.gate.best_practices),
            ("gate.seo", self.gate.seo),
        ] {
            if value > 100 {
                return Err(InvalidSetting::new(key, "must be a score between 0 and 100"));
            }
        }
        if self.llm.enabled {
            self.llm.validate().map_err(|e| e.within("llm"))?;
            self.llm_key = Some(self.llm.api_key(ctx.env)?);
        }
        if self.generator.agency_name.trim().is_empty() {
            return Err(InvalidSetting::new("generator.agency_name", "must not be empty"));
        }
        if self.generator.template_version.trim().is_empty() {
            return Err(InvalidSetting::new(
                "generator.template_version",
                "must not be empty",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, time::Duration};

    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::queue::WorkerSettings;

    #[test]
    fn the_change_request_llm_takes_its_key_from_the_environment() {
        let worker = WorkerSettings {
            workers: 1,
            concurrency: 1,
            batch_size: 1,
            max_attempts: 3,
            priority: 0,
            timeout: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
        };
        let check = |enabled: bool, env: &[(&str, &str)]| {
            let mut settings = BuildSiteSettings::default();
            settings.llm.enabled = enabled;
            settings.llm.model = "claude-haiku-4-5".into();
            settings.llm.api_key_env = "CHANGE_REQUEST_LLM_KEY".into();
            let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            settings
                .check(&CheckContext {
                    env: &env,
                    worker: &worker,
                })
                .map(|()| settings.llm_key.map(|k| k.expose_secret().to_owned()))
        };
        assert_eq!(check(false, &[]).unwrap(), None, "off: no key needed");
        assert_eq!(
            check(true, &[("CHANGE_REQUEST_LLM_KEY", "sk-abc")])
                .unwrap()
                .as_deref(),
            Some("sk-abc")
        );
        let missing = check(true, &[]).unwrap_err();
        assert_eq!(missing.key, "CHANGE_REQUEST_LLM_KEY");
    }

    #[test]
    fn the_gate_names_every_shortfall() {
        let gate = GateThresholds::default();
        let all = |s| GateScores {
            performance: Some(s),
            accessibility: Some(s),
            best_practices: Some(s),
            seo: Some(s),
        };
        assert!(gate.judge(&all(95)).is_ok());
        let reason = gate
            .judge(&GateScores {
                performance: Some(82),
                seo: None,
                ..all(100)
            })
            .unwrap_err();
        assert!(reason.contains("performance 82 < 95"), "{reason}");
        assert!(reason.contains("SEO not measured"), "{reason}");
    }
}
