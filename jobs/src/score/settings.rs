//! The stage's settings: `[score]` in the configuration (tiers, component
//! maxima and points per rule, all optional over the defaults).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::{Component, FlagKind, Rule, ScoreConfig, Tiers};
use crate::stage::{CheckContext, InvalidSetting, StageConfig};

/// `[score]`: overrides of [`ScoreConfig::default`]; checked into
/// [`ScoreSettings::config`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSettings {
    /// Hot from this score.
    #[serde(default)]
    pub hot: Option<u8>,
    /// Warm from this score.
    #[serde(default)]
    pub warm: Option<u8>,
    /// Maximum per component, by name.
    #[serde(default)]
    pub components: HashMap<String, u8>,
    /// Points per rule, by code.
    #[serde(default)]
    pub points: HashMap<String, i32>,
    #[serde(skip)]
    config: ScoreConfig,
}

impl ScoreSettings {
    /// The weights and thresholds (valid once checked).
    pub fn config(&self) -> &ScoreConfig {
        &self.config
    }
}

impl StageConfig for ScoreSettings {
    fn check(&mut self, _: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        let mut config = ScoreConfig::default();
        for (name, max) in &self.components {
            let component = Component::ALL
                .into_iter()
                .find(|c| c.as_str() == name)
                .ok_or_else(|| {
                    InvalidSetting::new(
                        format!("components.{name}"),
                        "not a score component (technical_health, modernity, business_value, engagement)",
                    )
                })?;
            config.caps.insert(component, *max);
        }
        let total: u32 = config.caps.values().map(|v| u32::from(*v)).sum();
        if total != 100 {
            return Err(InvalidSetting::new(
                "components",
                format!("the component maxima must add up to 100 (they add up to {total})"),
            ));
        }
        let rules: BTreeMap<&str, Rule> = Rule::ALL.iter().map(|r| (r.code(), *r)).collect();
        for (code, points) in &self.points {
            let key = format!("points.{code}");
            let rule = rules
                .get(code.as_str())
                .ok_or_else(|| InvalidSetting::new(&key, "not a scoring rule (see docs/scoring.md)"))?;
            // Problems and signals add, the credit subtracts: that is what
            // keeps "adding a problem never lowers a score" true.
            let allowed = match rule.kind() {
                FlagKind::Credit => -100..=0,
                FlagKind::Problem | FlagKind::Signal => 0..=100,
            };
            if !allowed.contains(points) {
                return Err(InvalidSetting::new(
                    &key,
                    format!("must be within {}..={}", allowed.start(), allowed.end()),
                ));
            }
            config.points.insert(*rule, *points);
        }
        let tiers = Tiers {
            hot: self.hot.unwrap_or(config.tiers.hot),
            warm: self.warm.unwrap_or(config.tiers.warm),
        };
        if tiers.hot > 100 || tiers.warm >= tiers.hot {
            return Err(InvalidSetting::new("hot", "tiers need 0 <= warm < hot <= 100"));
        }
        config.tiers = tiers;
        self.config = config;
        Ok(())
    }
}
