//! Mobile-friendliness, derived from Lighthouse audits now that Google's
//! Mobile-Friendly Test is gone.
//!
//! A page is mobile-friendly when it has a viewport meta tag fit for phones
//! (`viewport`, required), and neither its text is too small to read
//! (`font-size`) nor its tap targets too small or too close (`target-size`).
//! The last two count only when Lighthouse could judge them (`font-size` is
//! not applicable on desktop runs, `target-size` on pages without targets).
//! Without a usable `viewport` result the answer is unknown (`None`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::report::RawAudit;

/// The audits that decide, in the order they are stored.
pub const MOBILE_AUDITS: [&str; 3] = ["viewport", "font-size", "target-size"];

/// One check behind `is_mobile_friendly`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileCheck {
    /// The Lighthouse audit id.
    pub audit: String,
    /// Passed, failed, or `null` when Lighthouse could not judge it.
    pub passed: Option<bool>,
    /// What Lighthouse displayed, e.g. `62% legible text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_value: Option<String>,
}

/// The verdict and the checks it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MobileFriendliness {
    /// `None` when the viewport audit gave no result.
    pub is_mobile_friendly: Option<bool>,
    /// The checks (see [`MOBILE_AUDITS`]); absent audits are left out.
    pub checks: Vec<MobileCheck>,
}

pub(super) fn derive(audits: &HashMap<String, RawAudit>) -> MobileFriendliness {
    let checks: Vec<MobileCheck> = MOBILE_AUDITS
        .iter()
        .filter_map(|id| {
            let audit = audits.get(*id)?;
            Some(MobileCheck {
                audit: (*id).to_owned(),
                passed: audit.passed(),
                display_value: audit.display_value.clone().filter(|v| !v.is_empty()),
            })
        })
        .collect();
    let outcome = |id: &str| checks.iter().find(|c| c.audit == id).and_then(|c| c.passed);
    let is_mobile_friendly = outcome("viewport").map(|viewport| {
        viewport && outcome("font-size") != Some(false) && outcome("target-size") != Some(false)
    });
    MobileFriendliness {
        is_mobile_friendly,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(mode: &str, score: Option<f64>) -> RawAudit {
        serde_json::from_value(serde_json::json!({
            "title": "t", "score": score, "scoreDisplayMode": mode
        }))
        .unwrap()
    }

    fn verdict(cases: Vec<(&str, RawAudit)>) -> Option<bool> {
        let audits: HashMap<String, RawAudit> = cases.into_iter().map(|(id, a)| (id.to_owned(), a)).collect();
        derive(&audits).is_mobile_friendly
    }

    #[test]
    fn the_viewport_decides_and_the_other_checks_can_only_fail_it() {
        let pass = || audit("binary", Some(1.0));
        let fail = || audit("binary", Some(0.0));
        let na = || audit("notApplicable", None);
        let named = [
            (
                "all pass",
                vec![
                    ("viewport", pass()),
                    ("font-size", pass()),
                    ("target-size", pass()),
                ],
                Some(true),
            ),
            (
                "no viewport",
                vec![
                    ("viewport", fail()),
                    ("font-size", pass()),
                    ("target-size", pass()),
                ],
                Some(false),
            ),
            (
                "tiny text",
                vec![
                    ("viewport", pass()),
                    ("font-size", fail()),
                    ("target-size", pass()),
                ],
                Some(false),
            ),
            (
                "cramped taps",
                vec![
                    ("viewport", pass()),
                    ("font-size", pass()),
                    ("target-size", fail()),
                ],
                Some(false),
            ),
            (
                "desktop run",
                vec![("viewport", pass()), ("font-size", na()), ("target-size", na())],
                Some(true),
            ),
            (
                "viewport errored",
                vec![("viewport", audit("error", None)), ("font-size", pass())],
                None,
            ),
            ("no audits", vec![], None),
        ];
        for (name, cases, expected) in named {
            assert_eq!(verdict(cases), expected, "{name}");
        }
    }
}
