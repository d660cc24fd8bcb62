use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{bench::BenchJob, queue::Job, snapshot_analytics::SnapshotAnalytics};

/// A pipeline stage. Each stage owns exactly one queue.
///
/// The worker pool registers workers with an exhaustive `match` over this
/// enum, so adding a stage without deciding how it runs does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Find businesses from places providers, driven by the coverage grid.
    Discover,
    /// Fetch a prospect's website: reachability, technologies, contacts.
    TechScan,
    /// Lighthouse audit of a prospect's website.
    Audit,
    /// Opportunity score, reason flags and lead tier.
    Score,
    /// Build a site for a business that has none.
    BuildSite,
    /// Desktop and mobile screenshots of a generated site.
    Screenshot,
    /// Outreach e-mail from a template.
    SendEmail,
    /// Daily metrics snapshot.
    SnapshotAnalytics,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 8] = [
        Stage::Discover,
        Stage::TechScan,
        Stage::Audit,
        Stage::Score,
        Stage::BuildSite,
        Stage::Screenshot,
        Stage::SendEmail,
        Stage::SnapshotAnalytics,
    ];

    /// The queue (apalis `job_type`) this stage's jobs live on.
    pub const fn queue(self) -> &'static str {
        match self {
            Stage::Discover => crate::discover::DiscoverBusinesses::QUEUE,
            Stage::TechScan => "tech_scan",
            Stage::Audit => "audit",
            Stage::Score => "score",
            Stage::BuildSite => "build_site",
            Stage::Screenshot => "screenshot",
            Stage::SendEmail => "send_email",
            Stage::SnapshotAnalytics => SnapshotAnalytics::QUEUE,
        }
    }

    /// The stable name used in config, CLI flags and the admin API.
    pub fn as_str(self) -> &'static str {
        self.queue()
    }

    /// Whether this stage has a handler that workers can run.
    pub fn is_built(self) -> bool {
        match self {
            Stage::SnapshotAnalytics | Stage::Discover | Stage::TechScan | Stage::Audit | Stage::Score => {
                true
            }
            Stage::BuildSite | Stage::Screenshot | Stage::SendEmail => false,
        }
    }

    /// The stages that are built, in pipeline order.
    pub fn built() -> impl Iterator<Item = Stage> {
        Stage::ALL.into_iter().filter(|s| s.is_built())
    }

    /// Every queue a status page should show: the stages plus the benchmark queue.
    pub fn known_queues() -> impl Iterator<Item = &'static str> {
        Stage::ALL
            .into_iter()
            .map(Stage::queue)
            .chain(std::iter::once(BenchJob::QUEUE))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage name that is not one of [`Stage::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown stage `{0}` (expected one of: discover, tech_scan, audit, score, build_site, screenshot, send_email, snapshot_analytics)"
)]
pub struct UnknownStage(pub String);

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s.trim())
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_round_trips_through_its_name() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        }
    }

    #[test]
    fn queue_names_are_unique() {
        let mut names: Vec<_> = Stage::known_queues().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Stage::ALL.len() + 1);
    }

    #[test]
    fn unknown_stage_names_are_rejected_with_the_name() {
        let err = "scrape".parse::<Stage>().unwrap_err();
        assert!(err.to_string().contains("`scrape`"));
    }
}
