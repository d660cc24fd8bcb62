//! Batches over the digital branch: `prospector scan` and the re-scan
//! schedule.
//!
//! A batch picks prospects by a filter (a tag, a status, stale profiles, or
//! the prospects of an imported file), creates a `prospect_scan_jobs` row
//! with one item per prospect, and enqueues the first chosen stage for each
//! one — all in one transaction, so a batch never exists half-enqueued. Each
//! job carries the remaining stages, so items flow `tech_scan → audit →
//! score` and the batch counts each of them once.
//!
//! A changed profile is re-scored: when the stages include `tech_scan` or
//! `audit`, `score` is appended if it is not there.

mod queries;

use std::time::Duration;

use prospector_jobs::{
    Branch, Enqueuer, Stage,
    build_site::{BuildSite, Variant},
    pipeline::{self, AdvanceError, ProspectLink},
    scan_jobs::{self, BatchItem, BatchKind},
};
use sqlx::{PgConnection, PgPool};

pub use queries::ProspectFilter;

/// Why a batch could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// No stages, or stages out of order, or not of the digital branch.
    #[error("stages must be a subset of {branch} in that order (got {given})", branch = digital_names())]
    BadStages {
        /// The stages given.
        given: String,
    },
    /// The filter matched nothing.
    #[error("no prospect matches the filter")]
    NothingToScan,
    /// More prospects than a batch can count.
    #[error("the filter matches more than 2 147 483 647 prospects")]
    TooLarge,
    /// Enqueue failed.
    #[error(transparent)]
    Enqueue(#[from] AdvanceError),
    /// Database failure.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

fn digital_names() -> String {
    Branch::Digital
        .stages()
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// Check and complete a stage list: a subsequence of the digital branch, in
/// order, ending with the branch's last stage (so a changed profile is
/// re-scored).
pub fn plan_stages(stages: &[Stage]) -> Result<Vec<Stage>, ScanError> {
    let given = || stages.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    if stages.is_empty() {
        return Err(ScanError::BadStages { given: "none".into() });
    }
    let branch = Branch::Digital.stages();
    let mut position = 0;
    for stage in stages {
        match branch[position..].iter().position(|s| s == stage) {
            Some(offset) => position += offset + 1,
            None => return Err(ScanError::BadStages { given: given() }),
        }
    }
    let mut planned = stages.to_vec();
    if let Some(last) = Branch::Digital.last()
        && !planned.contains(&last)
    {
        planned.push(last);
    }
    Ok(planned)
}

/// A started batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The batch.
    pub scan_job_id: i64,
    /// Prospects in it.
    pub prospects: usize,
    /// Stages each goes through.
    pub stages: Vec<Stage>,
}

/// Start a batch over the prospects matching `filter`.
pub async fn start_batch(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    kind: BatchKind,
    filter: &ProspectFilter,
    stages: &[Stage],
    description: &str,
) -> Result<Started, ScanError> {
    let mut tx = pool.begin().await?;
    let started = start_batch_in(&mut tx, enqueuer, kind, filter, stages, description).await?;
    tx.commit().await?;
    Ok(started)
}

/// [`start_batch`] in the caller's transaction (the re-scan schedule
/// starts its batch in the transaction that claims the slot).
pub async fn start_batch_in(
    tx: &mut PgConnection,
    enqueuer: &Enqueuer,
    kind: BatchKind,
    filter: &ProspectFilter,
    stages: &[Stage],
    description: &str,
) -> Result<Started, ScanError> {
    let stages = plan_stages(stages)?;
    // Every stage of the branch but the last reads the prospect's website.
    let needs_site = stages.first() != Branch::Digital.last().as_ref();
    let ids = queries::select_prospects(&mut *tx, filter, needs_site).await?;
    if ids.is_empty() {
        return Err(ScanError::NothingToScan);
    }
    let total = i32::try_from(ids.len()).map_err(|_| ScanError::TooLarge)?;
    let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
    let parameters = serde_json::to_value(filter).unwrap_or_default();
    let scan_job_id =
        scan_jobs::create_batch(&mut *tx, kind, &names, total, Some(description), &parameters).await?;
    let then = stages[1..].to_vec();
    let item = |id: i64| {
        Some(BatchItem {
            scan_job_id,
            item_key: id.to_string(),
            prospect_id: Some(id),
        })
    };
    for chunk in ids.chunks(5_000) {
        let links = chunk
            .iter()
            .map(|id| ProspectLink {
                batch: item(*id),
                then: then.clone(),
                ..ProspectLink::new(*id)
            })
            .collect();
        pipeline::enqueue_links(tx, enqueuer, stages[0], links).await?;
    }
    Ok(Started {
        scan_job_id,
        prospects: ids.len(),
        stages,
    })
}

/// Start a batch that builds the preview site of every prospect matching
/// `filter` (then gates and captures it: [`BuildSite::chain`]), in the
/// caller's transaction. `variant` forces a new site or a redesign; by
/// default each prospect's build decides from whether it has a website.
pub async fn start_build_batch_in(
    tx: &mut PgConnection,
    enqueuer: &Enqueuer,
    filter: &ProspectFilter,
    variant: Option<Variant>,
    description: &str,
) -> Result<Started, ScanError> {
    let ids = queries::select_prospects(&mut *tx, filter, false).await?;
    if ids.is_empty() {
        return Err(ScanError::NothingToScan);
    }
    let total = i32::try_from(ids.len()).map_err(|_| ScanError::TooLarge)?;
    let stages: Vec<Stage> = std::iter::once(Stage::BuildSite)
        .chain(BuildSite::chain())
        .collect();
    let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
    let parameters = serde_json::to_value(filter).unwrap_or_default();
    let scan_job_id = scan_jobs::create_batch(
        &mut *tx,
        BatchKind::Build,
        &names,
        total,
        Some(description),
        &parameters,
    )
    .await?;
    for chunk in ids.chunks(5_000) {
        let jobs: Vec<BuildSite> = chunk
            .iter()
            .map(|id| BuildSite {
                variant,
                ..BuildSite::new(
                    *id,
                    Some(BatchItem {
                        scan_job_id,
                        item_key: id.to_string(),
                        prospect_id: Some(*id),
                    }),
                )
            })
            .collect();
        enqueuer
            .enqueue_many(tx, &jobs)
            .await
            .map_err(|e| ScanError::Enqueue(e.into()))?;
    }
    Ok(Started {
        scan_job_id,
        prospects: ids.len(),
        stages,
    })
}

/// [`start_build_batch_in`] in its own transaction.
pub async fn start_build_batch(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    filter: &ProspectFilter,
    variant: Option<Variant>,
    description: &str,
) -> Result<Started, ScanError> {
    let mut tx = pool.begin().await?;
    let started = start_build_batch_in(&mut tx, enqueuer, filter, variant, description).await?;
    tx.commit().await?;
    Ok(started)
}

/// The filter of a re-scan: digital prospects not tech-scanned for `older_than`.
pub fn stale_filter(older_than: Duration, limit: Option<i64>) -> ProspectFilter {
    ProspectFilter {
        stale_after_seconds: Some(older_than.as_secs_f64()),
        limit,
        ..ProspectFilter::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_planned_in_pipeline_order_and_end_with_score() {
        assert_eq!(
            plan_stages(&[Stage::TechScan]).unwrap(),
            vec![Stage::TechScan, Stage::Score]
        );
        assert_eq!(
            plan_stages(&[Stage::TechScan, Stage::Audit]).unwrap(),
            Branch::Digital.stages()
        );
        assert_eq!(plan_stages(&[Stage::Score]).unwrap(), vec![Stage::Score]);
        assert!(plan_stages(&[Stage::Audit, Stage::TechScan]).is_err());
        assert!(plan_stages(&[Stage::TechScan, Stage::TechScan]).is_err());
        assert!(plan_stages(&[Stage::Discover]).is_err());
        assert!(plan_stages(&[]).is_err());
    }
}
