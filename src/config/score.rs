//! The `[score]` section: weights, component maxima and tier thresholds.

use std::collections::{BTreeMap, HashMap};

use prospector_jobs::score::{Component, FlagKind, Rule, ScoreConfig, Tiers};
use serde::Deserialize;

use super::{ConfigError, invalid};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScore {
    #[serde(default)]
    hot: Option<u8>,
    #[serde(default)]
    warm: Option<u8>,
    #[serde(default)]
    components: HashMap<String, u8>,
    #[serde(default)]
    points: HashMap<String, i32>,
}

pub(super) fn parse(raw: RawScore) -> Result<ScoreConfig, ConfigError> {
    let mut config = ScoreConfig::default();
    for (name, max) in raw.components {
        let component = Component::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                invalid(
                    format!("score.components.{name}"),
                    "not a score component (technical_health, modernity, business_value, engagement)",
                )
            })?;
        config.caps.insert(component, max);
    }
    let total: u32 = config.caps.values().map(|v| u32::from(*v)).sum();
    if total != 100 {
        return Err(invalid(
            "score.components",
            format!("the component maxima must add up to 100 (they add up to {total})"),
        ));
    }
    let rules: BTreeMap<&str, Rule> = Rule::ALL.iter().map(|r| (r.code(), *r)).collect();
    for (code, points) in raw.points {
        let key = format!("score.points.{code}");
        let rule = rules
            .get(code.as_str())
            .ok_or_else(|| invalid(&key, "not a scoring rule (see docs/scoring.md)"))?;
        // Problems and signals add, the credit subtracts: that is what keeps
        // "adding a problem never lowers a score" true.
        let allowed = match rule.kind() {
            FlagKind::Credit => -100..=0,
            FlagKind::Problem | FlagKind::Signal => 0..=100,
        };
        if !allowed.contains(&points) {
            return Err(invalid(
                &key,
                format!("must be within {}..={}", allowed.start(), allowed.end()),
            ));
        }
        config.points.insert(*rule, points);
    }
    let tiers = Tiers {
        hot: raw.hot.unwrap_or(config.tiers.hot),
        warm: raw.warm.unwrap_or(config.tiers.warm),
    };
    if tiers.hot > 100 || tiers.warm >= tiers.hot {
        return Err(invalid("score.hot", "tiers need 0 <= warm < hot <= 100"));
    }
    config.tiers = tiers;
    Ok(config)
}
