//! A prospect's identity and lifecycle status.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A prospect (`prospects.id`). Payloads carry it as a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct ProspectId(pub i64);

impl ProspectId {
    /// The database key.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl From<i64> for ProspectId {
    fn from(id: i64) -> Self {
        Self(id)
    }
}

impl fmt::Display for ProspectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `prospects.status`: where a lead stands (the prospects design's enum,
/// checked by the `prospects_status_check` constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProspectStatus {
    /// Not looked at yet.
    Pending,
    /// Has a working website (or a social profile we can reach it through).
    Active,
    /// No reachable website.
    Inactive,
    /// Its domain is parked (for sale, a registrar's placeholder).
    Parked,
    /// Its scan failed for good (bad input, refused address).
    Error,
    /// An agency member or an outreach e-mail has reached it.
    Contacted,
    /// It became a customer.
    Converted,
}

impl ProspectStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ProspectStatus; 7] = [
        ProspectStatus::Pending,
        ProspectStatus::Active,
        ProspectStatus::Inactive,
        ProspectStatus::Parked,
        ProspectStatus::Error,
        ProspectStatus::Contacted,
        ProspectStatus::Converted,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProspectStatus::Pending => "pending",
            ProspectStatus::Active => "active",
            ProspectStatus::Inactive => "inactive",
            ProspectStatus::Parked => "parked",
            ProspectStatus::Error => "error",
            ProspectStatus::Contacted => "contacted",
            ProspectStatus::Converted => "converted",
        }
    }
}

impl fmt::Display for ProspectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of [`ProspectStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a prospect status (pending, active, inactive, parked, error, contacted, converted)")]
pub struct UnknownProspectStatus(pub String);

impl FromStr for ProspectStatus {
    type Err = UnknownProspectStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProspectStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s.trim())
            .ok_or_else(|| UnknownProspectStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in ProspectStatus::ALL {
            assert_eq!(status.as_str().parse::<ProspectStatus>(), Ok(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert!("dead".parse::<ProspectStatus>().is_err());
        assert_eq!(serde_json::to_string(&ProspectId(42)).unwrap(), "42");
    }
}
