//! Batches (`prospect_scan_jobs`) and exactly-once item counting.
//!
//! A batch is created with the number of items it will process. Each item
//! ends with exactly one outcome row in `scan_job_items` (primary key
//! `(scan_job_id, item_key)`), and a trigger keeps the batch's counters and
//! status in step with those rows. A job that runs twice (a crash before its
//! ack, an operator retry) upserts the same row, so it is counted once.

mod queries;

use serde::{Deserialize, Serialize};

pub use queries::{
    add_total_items, cancel_batch, create_batch, get_batch, list_failures, list_recent, record_item,
    record_items, record_stage, stage_progress, stage_progress_many,
};

/// The part of a job payload that ties it to a batch item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// The batch (`prospect_scan_jobs.id`).
    pub scan_job_id: i64,
    /// Stable key of the item within the batch (a prospect id, an import line).
    pub item_key: String,
    /// The prospect the item is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prospect_id: Option<i64>,
}

/// How an item's route through the batch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Done (its last stage finished, or it needed no more stages).
    Processed,
    /// Failed for good, with the reason an admin reads.
    Failed(String),
}

/// How one stage went for one item (per-stage progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// The stage finished.
    Done,
    /// The stage did not need to run for this item, and why.
    Skipped(String),
    /// The stage failed for good, and why.
    Failed(String),
}

/// Kinds of batch (the `job_type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchKind {
    /// A file import.
    Import,
    /// A discovery run.
    Discover,
    /// A scan over a filter.
    Scan,
    /// A scheduled re-scan of stale profiles.
    Rescan,
    /// An outreach campaign.
    Outreach,
    /// Analytics snapshots.
    Analytics,
    /// Preview sites built (gated and captured).
    Build,
}

impl BatchKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchKind::Import => "import",
            BatchKind::Discover => "discover",
            BatchKind::Scan => "scan",
            BatchKind::Rescan => "rescan",
            BatchKind::Outreach => "outreach",
            BatchKind::Analytics => "analytics",
            BatchKind::Build => "build",
        }
    }
}

/// A batch as admins see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Id.
    pub id: i64,
    /// Kind of batch.
    pub job_type: String,
    /// pending, running, completed, failed or cancelled.
    pub status: String,
    /// Stages every item goes through.
    pub stages: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// Items in the batch.
    pub total_items: i32,
    /// Items done.
    pub processed_items: i32,
    /// Items failed for good.
    pub failed_items: i32,
    /// First item finished.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last item finished.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl BatchSummary {
    /// Share of items finished (done or failed), 0–100.
    pub fn progress_percent(&self) -> f64 {
        if self.total_items <= 0 {
            return 0.0;
        }
        let finished = f64::from(self.processed_items + self.failed_items);
        (finished * 100.0 / f64::from(self.total_items)).min(100.0)
    }

    /// Estimated seconds left, from the rate so far (None until it has one).
    pub fn eta_seconds(&self, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
        let started = self.started_at?;
        if self.finished_at.is_some() || self.status != "running" {
            return None;
        }
        let finished = f64::from(self.processed_items + self.failed_items);
        let remaining = f64::from(self.total_items) - finished;
        let elapsed = (now - started).num_milliseconds() as f64 / 1000.0;
        if finished <= 0.0 || elapsed <= 0.0 || remaining <= 0.0 {
            return None;
        }
        Some(remaining / (finished / elapsed))
    }
}

/// A failed item, for the admin's failure list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    /// Item key.
    pub item_key: String,
    /// Prospect, if any.
    pub prospect_id: Option<i64>,
    /// Stage where it failed.
    pub stage: String,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Progress of one stage within a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageProgress {
    /// Stage (queue) name.
    pub stage: String,
    /// Items that finished this stage.
    pub done: i64,
    /// Items that skipped it.
    pub skipped: i64,
    /// Items that failed at it.
    pub failed: i64,
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;

    fn summary(total: i32, processed: i32, failed: i32) -> BatchSummary {
        BatchSummary {
            id: 1,
            job_type: "scan".into(),
            status: "running".into(),
            stages: vec![],
            description: None,
            total_items: total,
            processed_items: processed,
            failed_items: failed,
            started_at: Some(Utc::now() - Duration::seconds(10)),
            finished_at: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn progress_counts_failures_as_finished() {
        assert_eq!(summary(10, 4, 1).progress_percent(), 50.0);
        assert_eq!(summary(0, 0, 0).progress_percent(), 0.0);
    }

    #[test]
    fn eta_follows_the_rate_so_far() {
        let eta = summary(10, 5, 0).eta_seconds(Utc::now()).unwrap();
        assert!((9.0..=11.5).contains(&eta), "eta was {eta}");
        assert_eq!(summary(10, 0, 0).eta_seconds(Utc::now()), None);
    }
}
