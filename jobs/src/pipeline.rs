//! Chains: one prospect through a sequence of stages (the digital branch is
//! `tech_scan` → `audit` → `score`).
//!
//! A stage that works on one prospect takes a [`ProspectJob`]: the prospect,
//! the batch item it counts toward, and the stages still to run after this
//! one (`then`). A stage that succeeds calls [`advance`] in the transaction
//! that writes its results: that records its per-stage progress, enqueues
//! the next stage (skipping the ones that do not apply, like `audit` for a
//! prospect with no reachable website), or — when nothing is left — records
//! the batch item as processed. The next job's idempotency key is
//! `{queue}:{prospect}:{batch}`, so a stage that runs twice enqueues its
//! successor once.
//!
//! Which stage a name in `then` becomes is decided by the stage registry
//! ([`Stage::visit`] and [`StageJob::for_prospect`]): a stage that does not
//! take a prospect is an error, never some other stage's job.

use std::{fmt, marker::PhantomData};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    Stage,
    queue::{EnqueueError, Enqueued, Enqueuer, Job},
    scan_jobs::{self, BatchItem, ItemOutcome, StageOutcome},
    stage::{StageJob, StageVisitor},
};

/// A stage that works on one prospect: the marker type of a [`ProspectJob`].
pub trait ProspectStage: Send + Sync + 'static {
    /// The stage.
    const STAGE: Stage;
}

/// A prospect moving along a chain: what any prospect stage's job is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProspectLink {
    /// The prospect (`prospects.id`).
    pub prospect_id: i64,
    /// The batch item it counts toward.
    pub batch: Option<BatchItem>,
    /// Stages to run after the next one, in order.
    pub then: Vec<Stage>,
    /// The generated site version the chain works on (`site_versions.id`),
    /// instead of the prospect's own website.
    pub site_version: Option<Uuid>,
}

impl ProspectLink {
    /// A link for `prospect_id` with no batch and nothing after it.
    pub fn new(prospect_id: i64) -> Self {
        Self {
            prospect_id,
            batch: None,
            then: Vec::new(),
            site_version: None,
        }
    }

    /// A link with no batch and nothing after it, to ask a stage whether it
    /// takes prospects at all.
    pub(crate) fn probe() -> Self {
        Self::new(0)
    }
}

/// A job that moves a prospect along a chain ([`advance`] takes it).
pub trait ChainJob: Job {
    /// Its stage.
    const CHAIN_STAGE: Stage;
    /// The prospect.
    fn prospect_id(&self) -> i64;
    /// The batch item it counts toward.
    fn batch(&self) -> Option<&BatchItem>;
    /// Stages to run after this one.
    fn then(&self) -> &[Stage];
    /// The generated site version it works on, if any.
    fn site_version(&self) -> Option<Uuid>;
}

/// One prospect, for one stage of a chain.
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
    /// The generated site version this job works on (the quality gate's
    /// audit, its screenshots), instead of the prospect's own website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_version: Option<Uuid>,
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
            site_version: None,
            stage: PhantomData,
        }
    }

    /// The same job on a generated site version.
    pub fn on_site_version(self, site_version: Uuid) -> Self {
        Self {
            site_version: Some(site_version),
            ..self
        }
    }

    /// The job of a link.
    pub fn from_link(link: ProspectLink) -> Self {
        Self {
            site_version: link.site_version,
            ..Self::new(link.prospect_id, link.batch, link.then)
        }
    }
}

impl<S> Clone for ProspectJob<S> {
    fn clone(&self) -> Self {
        Self {
            site_version: self.site_version,
            ..Self::new(self.prospect_id, self.batch.clone(), self.then.clone())
        }
    }
}

impl<S> PartialEq for ProspectJob<S> {
    fn eq(&self, other: &Self) -> bool {
        self.prospect_id == other.prospect_id
            && self.batch == other.batch
            && self.then == other.then
            && self.site_version == other.site_version
    }
}

impl<S: ProspectStage> fmt::Debug for ProspectJob<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProspectJob")
            .field("stage", &S::STAGE)
            .field("prospect_id", &self.prospect_id)
            .field("batch", &self.batch)
            .field("then", &self.then)
            .field("site_version", &self.site_version)
            .finish()
    }
}

impl<S: ProspectStage> Job for ProspectJob<S> {
    const QUEUE: &'static str = S::STAGE.queue();

    fn idempotency_key(&self) -> Option<String> {
        chain_key(
            Self::QUEUE,
            self.prospect_id,
            self.batch.as_ref(),
            self.site_version,
        )
    }

    fn batch_item(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }
}

impl<S: ProspectStage> ChainJob for ProspectJob<S> {
    const CHAIN_STAGE: Stage = S::STAGE;

    fn prospect_id(&self) -> i64 {
        self.prospect_id
    }

    fn batch(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }

    fn then(&self) -> &[Stage] {
        &self.then
    }

    fn site_version(&self) -> Option<Uuid> {
        self.site_version
    }
}

/// The idempotency key of a chain's job: `{queue}:{prospect}:{batch}` in a
/// batch, `{queue}:{prospect}:v:{version}` for a site version, so a stage
/// that runs twice enqueues its successor once. Outside both, none.
pub fn chain_key(
    queue: &str,
    prospect_id: i64,
    batch: Option<&BatchItem>,
    site_version: Option<Uuid>,
) -> Option<String> {
    match (batch, site_version) {
        (Some(b), None) => Some(format!("{queue}:{prospect_id}:{}", b.scan_job_id)),
        (Some(b), Some(v)) => Some(format!("{queue}:{prospect_id}:{}:v:{v}", b.scan_job_id)),
        (None, Some(v)) => Some(format!("{queue}:{prospect_id}:v:{v}")),
        (None, None) => None,
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

impl AdvanceError {
    /// Whether retrying cannot help: a chain naming a stage that takes no
    /// prospect, or an undecodable payload, is permanent; a database error is
    /// permanent unless it is transient ([`crate::runtime::is_transient_db_error`]).
    pub fn is_permanent(&self) -> bool {
        match self {
            AdvanceError::NotAProspectStage(_) => true,
            AdvanceError::Enqueue(e) => e.is_permanent(),
            AdvanceError::Database(e) => !crate::runtime::is_transient_db_error(e),
        }
    }
}

/// Enqueue `links` as jobs of `stage` in one statement per chunk. Fails when
/// the stage does not take a prospect.
pub async fn enqueue_links(
    conn: &mut PgConnection,
    enqueuer: &Enqueuer,
    stage: Stage,
    links: Vec<ProspectLink>,
) -> Result<u64, AdvanceError> {
    struct EnqueueLinks<'a> {
        conn: &'a mut PgConnection,
        enqueuer: &'a Enqueuer,
        links: Vec<ProspectLink>,
    }
    impl<'a> StageVisitor for EnqueueLinks<'a> {
        type Output = BoxFuture<'a, Result<u64, AdvanceError>>;
        fn visit<J: StageJob>(self) -> Self::Output {
            Box::pin(async move {
                let jobs = self
                    .links
                    .into_iter()
                    .map(|link| J::for_prospect(link).ok_or(AdvanceError::NotAProspectStage(J::STAGE)))
                    .collect::<Result<Vec<J>, _>>()?;
                Ok(self.enqueuer.enqueue_many(self.conn, &jobs).await?)
            })
        }
    }
    stage
        .visit(EnqueueLinks {
            conn,
            enqueuer,
            links,
        })
        .await
}

/// Enqueue one link as a job of `stage`.
pub async fn enqueue_link(
    conn: &mut PgConnection,
    enqueuer: &Enqueuer,
    stage: Stage,
    link: ProspectLink,
) -> Result<Enqueued, AdvanceError> {
    struct EnqueueLink<'a> {
        conn: &'a mut PgConnection,
        enqueuer: &'a Enqueuer,
        link: ProspectLink,
    }
    impl<'a> StageVisitor for EnqueueLink<'a> {
        type Output = BoxFuture<'a, Result<Enqueued, AdvanceError>>;
        fn visit<J: StageJob>(self) -> Self::Output {
            Box::pin(async move {
                let job = J::for_prospect(self.link).ok_or(AdvanceError::NotAProspectStage(J::STAGE))?;
                Ok(self.enqueuer.enqueue(self.conn, &job).await?)
            })
        }
    }
    stage.visit(EnqueueLink { conn, enqueuer, link }).await
}

/// After `job`'s stage succeeded: record it, skip the stages in `skip` (with
/// their reasons), and enqueue the next stage or finish the item. Run it in
/// the transaction that stores the stage's results.
pub async fn advance<J: ChainJob>(
    conn: &mut PgConnection,
    enqueuer: &Enqueuer,
    job: &J,
    skip: &[(Stage, &str)],
) -> Result<Advanced, AdvanceError> {
    advance_on(conn, enqueuer, job, skip, job.site_version()).await
}

/// [`advance`], with the following stages working on `site_version` (the
/// version a build just stored).
pub async fn advance_on<J: ChainJob>(
    conn: &mut PgConnection,
    enqueuer: &Enqueuer,
    job: &J,
    skip: &[(Stage, &str)],
    site_version: Option<Uuid>,
) -> Result<Advanced, AdvanceError> {
    let stage = J::CHAIN_STAGE;
    if let Some(item) = job.batch() {
        scan_jobs::record_stage(&mut *conn, item, stage.queue(), &StageOutcome::Done).await?;
    }
    let mut rest: &[Stage] = job.then();
    while let Some((next, tail)) = rest.split_first() {
        let Some((_, reason)) = skip.iter().find(|(s, _)| s == next) else {
            break;
        };
        if let Some(item) = job.batch() {
            let outcome = StageOutcome::Skipped((*reason).to_owned());
            scan_jobs::record_stage(&mut *conn, item, next.queue(), &outcome).await?;
        }
        rest = tail;
    }
    let Some((next, tail)) = rest.split_first() else {
        if let Some(item) = job.batch() {
            scan_jobs::record_item(&mut *conn, item, stage.queue(), &ItemOutcome::Processed).await?;
        }
        return Ok(Advanced::Finished);
    };
    let link = ProspectLink {
        prospect_id: job.prospect_id(),
        batch: job.batch().cloned(),
        then: tail.to_vec(),
        site_version,
    };
    enqueue_link(conn, enqueuer, *next, link).await?;
    Ok(Advanced::Enqueued(*next))
}

/// End `job`'s chain here with a failed item (the work succeeded, but what
/// it found stops the chain, like a site version under its quality gate).
pub async fn stop_chain<J: ChainJob>(
    conn: &mut PgConnection,
    job: &J,
    reason: &str,
) -> Result<(), AdvanceError> {
    let stage = J::CHAIN_STAGE;
    if let Some(item) = job.batch() {
        let failed = StageOutcome::Failed(reason.to_owned());
        scan_jobs::record_stage(&mut *conn, item, stage.queue(), &failed).await?;
        scan_jobs::record_item(
            &mut *conn,
            item,
            stage.queue(),
            &ItemOutcome::Failed(reason.to_owned()),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditPage, ScanTech, ScoreProspect};

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
