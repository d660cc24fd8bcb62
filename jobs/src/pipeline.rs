//! The digital branch: one prospect through `tech_scan` → `audit` → `score`.
//!
//! Each of those stages takes a [`ProspectJob`]: the prospect, the batch item
//! it counts toward, and the stages still to run after this one (`then`).
//! A stage that succeeds calls [`advance`] in the transaction that writes its
//! results: that records its per-stage progress, enqueues the next stage
//! (skipping the ones that do not apply, like `audit` for a prospect with no
//! reachable website), or — when nothing is left — records the batch item as
//! processed. The next job's idempotency key is `{queue}:{prospect}:{batch}`,
//! so a stage that runs twice enqueues its successor once.

use std::{fmt, marker::PhantomData};

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::{
    Stage,
    queue::{EnqueueError, Enqueuer, Job},
    scan_jobs::{self, BatchItem, ItemOutcome, StageOutcome},
};

/// A stage that works on one prospect.
pub trait ProspectStage: Send + Sync + 'static {
    /// The stage.
    const STAGE: Stage;
}

/// Marker of the `tech_scan` stage.
#[derive(Debug, Clone, Copy)]
pub enum TechScanStep {}
/// Marker of the `audit` stage.
#[derive(Debug, Clone, Copy)]
pub enum AuditStep {}
/// Marker of the `score` stage.
#[derive(Debug, Clone, Copy)]
pub enum ScoreStep {}

impl ProspectStage for TechScanStep {
    const STAGE: Stage = Stage::TechScan;
}
impl ProspectStage for AuditStep {
    const STAGE: Stage = Stage::Audit;
}
impl ProspectStage for ScoreStep {
    const STAGE: Stage = Stage::Score;
}

/// Fetch a prospect's website: reachability, technologies, contacts.
pub type ScanTech = ProspectJob<TechScanStep>;
/// Lighthouse audit of a prospect's website.
pub type AuditPage = ProspectJob<AuditStep>;
/// Score a prospect from its profiles.
pub type ScoreProspect = ProspectJob<ScoreStep>;

/// One prospect, for one stage of the digital branch.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct ProspectJob<S> {
    /// The prospect (`prospects.id`).
    pub prospect_id: i64,
    /// The batch item it counts toward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchItem>,
    /// Stages to run after this one, in order.
    #[serde(default)]
    pub then: Vec<Stage>,
    #[serde(skip)]
    stage: PhantomData<S>,
}

impl<S> ProspectJob<S> {
    /// A job for `prospect_id`, then `then`.
    pub fn new(prospect_id: i64, batch: Option<BatchItem>, then: Vec<Stage>) -> Self {
        Self {
            prospect_id,
            batch,
            then,
            stage: PhantomData,
        }
    }
}

impl<S> Clone for ProspectJob<S> {
    fn clone(&self) -> Self {
        Self::new(self.prospect_id, self.batch.clone(), self.then.clone())
    }
}

impl<S> PartialEq for ProspectJob<S> {
    fn eq(&self, other: &Self) -> bool {
        self.prospect_id == other.prospect_id && self.batch == other.batch && self.then == other.then
    }
}

impl<S: ProspectStage> fmt::Debug for ProspectJob<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProspectJob")
            .field("stage", &S::STAGE)
            .field("prospect_id", &self.prospect_id)
            .field("batch", &self.batch)
            .field("then", &self.then)
            .finish()
    }
}

impl<S: ProspectStage> Job for ProspectJob<S> {
    const QUEUE: &'static str = S::STAGE.queue();

    fn idempotency_key(&self) -> Option<String> {
        self.batch
            .as_ref()
            .map(|b| format!("{}:{}:{}", Self::QUEUE, self.prospect_id, b.scan_job_id))
    }

    fn batch_item(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }
}

/// Where a prospect went after a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advanced {
    /// The next stage's job was enqueued (or was already queued).
    Enqueued(Stage),
    /// No stage left: the batch item (if any) is processed.
    Finished,
}

/// Why the next stage could not be enqueued.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    /// `then` names a stage that does not take a prospect.
    #[error("the {0} stage does not take a prospect")]
    NotAProspectStage(Stage),
    /// Enqueue failed.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
    /// Recording progress failed.
    #[error("could not record batch progress")]
    Database(#[from] sqlx::Error),
}

/// After `job`'s stage succeeded: record it, skip the stages in `skip` (with
/// their reasons), and enqueue the next stage or finish the item. Run it in
/// the transaction that stores the stage's results.
pub async fn advance<S: ProspectStage>(
    conn: &mut PgConnection,
    enqueuer: &Enqueuer,
    job: &ProspectJob<S>,
    skip: &[(Stage, &str)],
) -> Result<Advanced, AdvanceError> {
    if let Some(item) = &job.batch {
        scan_jobs::record_stage(&mut *conn, item, S::STAGE.queue(), &StageOutcome::Done).await?;
    }
    let mut rest: &[Stage] = &job.then;
    while let Some((next, tail)) = rest.split_first() {
        let Some((_, reason)) = skip.iter().find(|(s, _)| s == next) else {
            break;
        };
        if let Some(item) = &job.batch {
            let outcome = StageOutcome::Skipped((*reason).to_owned());
            scan_jobs::record_stage(&mut *conn, item, next.queue(), &outcome).await?;
        }
        rest = tail;
    }
    let Some((next, tail)) = rest.split_first() else {
        if let Some(item) = &job.batch {
            scan_jobs::record_item(&mut *conn, item, S::STAGE.queue(), &ItemOutcome::Processed).await?;
        }
        return Ok(Advanced::Finished);
    };
    let (prospect, batch, then) = (job.prospect_id, job.batch.clone(), tail.to_vec());
    match next {
        Stage::TechScan => {
            enqueuer
                .enqueue(conn, &ScanTech::new(prospect, batch, then))
                .await?
        }
        Stage::Audit => {
            enqueuer
                .enqueue(conn, &AuditPage::new(prospect, batch, then))
                .await?
        }
        Stage::Score => {
            enqueuer
                .enqueue(conn, &ScoreProspect::new(prospect, batch, then))
                .await?
        }
        other @ (Stage::Discover
        | Stage::BuildSite
        | Stage::Screenshot
        | Stage::SendEmail
        | Stage::SnapshotAnalytics) => return Err(AdvanceError::NotAProspectStage(*other)),
    };
    Ok(Advanced::Enqueued(*next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_name_their_queue() {
        let job = AuditPage::new(
            42,
            Some(BatchItem {
                scan_job_id: 7,
                item_key: "42".into(),
                prospect_id: Some(42),
            }),
            vec![Stage::Score],
        );
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<AuditPage>(&json).unwrap(), job);
        assert_eq!(AuditPage::QUEUE, "audit");
        assert_eq!(ScanTech::QUEUE, "tech_scan");
        assert_eq!(ScoreProspect::QUEUE, "score");
        assert_eq!(job.idempotency_key().as_deref(), Some("audit:42:7"));
        assert_eq!(ScoreProspect::new(1, None, vec![]).idempotency_key(), None);
    }
}
