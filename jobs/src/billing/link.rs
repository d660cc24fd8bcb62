//! The link from a Recurrente checkout back to our generated site.
//!
//! [`checkout_chain`](super::plans::checkout_chain) writes two metadata
//! keys on every checkout (and on the recurring item); the
//! `payment_intent.*` webhooks echo the checkout's metadata, which is how a
//! payment finds its site without a lookup.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Metadata key holding `generated_sites.id`.
pub const SITE_ID_KEY: &str = "prospector_site_id";
/// Metadata key holding the [`CheckoutStep`].
pub const STEP_KEY: &str = "prospector_step";

/// Which checkout of the chain a payment belongs to. Recurrente cannot mix
/// one-time and recurring items in one checkout, so a site is bought with
/// two: the setup fee first, then the monthly subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStep {
    /// The one-time setup fee.
    Setup,
    /// The monthly subscription.
    Monthly,
}

impl CheckoutStep {
    /// The metadata value (and the `{step}` of URL templates).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutStep::Setup => "setup",
            CheckoutStep::Monthly => "monthly",
        }
    }
}

impl fmt::Display for CheckoutStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Neither `setup` nor `monthly`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a checkout step is \"setup\" or \"monthly\"")]
pub struct UnknownStep;

impl FromStr for CheckoutStep {
    type Err = UnknownStep;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "setup" => Ok(CheckoutStep::Setup),
            "monthly" => Ok(CheckoutStep::Monthly),
            _ => Err(UnknownStep),
        }
    }
}

/// Our site (and chain step) named by a checkout's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteLink {
    /// `generated_sites.id`.
    pub site_id: Uuid,
    /// The step, when the metadata names a known one.
    pub step: Option<CheckoutStep>,
}

impl SiteLink {
    /// Read the link from metadata; `None` when the site id is absent or
    /// not a UUID (a checkout someone else created on the account).
    pub fn from_metadata(metadata: &Map<String, Value>) -> Option<Self> {
        let site_id = metadata
            .get(SITE_ID_KEY)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s.trim()).ok())?;
        let step = metadata
            .get(STEP_KEY)
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        Some(Self { site_id, step })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_read_from_metadata_and_foreign_checkouts_have_none() {
        let id = Uuid::new_v4();
        let metadata: Map<String, Value> = serde_json::from_value(serde_json::json!({
            SITE_ID_KEY: id.to_string(), STEP_KEY: "monthly", "other": 1
        }))
        .unwrap();
        assert_eq!(
            SiteLink::from_metadata(&metadata),
            Some(SiteLink {
                site_id: id,
                step: Some(CheckoutStep::Monthly)
            })
        );
        let no_step: Map<String, Value> =
            serde_json::from_value(serde_json::json!({ SITE_ID_KEY: id.to_string(), STEP_KEY: "x" }))
                .unwrap();
        assert_eq!(SiteLink::from_metadata(&no_step).unwrap().step, None);
        for foreign in [
            serde_json::json!({}),
            serde_json::json!({ SITE_ID_KEY: "not-a-uuid" }),
            serde_json::json!({ SITE_ID_KEY: 42 }),
        ] {
            let map: Map<String, Value> = serde_json::from_value(foreign).unwrap();
            assert_eq!(SiteLink::from_metadata(&map), None);
        }
    }
}
