//! `score`: the opportunity score, its reasons and the lead tier.
//!
//! - **Input**: [`ScoreProspect`](crate::ScoreProspect).
//! - **Reads**: `prospects`, `prospect_tech_profiles`,
//!   `prospect_performance_profiles`, `prospect_contacts`.
//! - **Writes**: `prospect_scores` (upsert on `prospect_id`: score, the four
//!   components, `reason_flags` with evidence, `lead_tier`,
//!   `algorithm_version`), `prospects.last_score_at`.
//! - **Next stage**: whatever remains of the job's `then` (usually none:
//!   the batch item is then processed).
//! - **Idempotency**: the upsert; the same facts give the same card.
//! - **Errors**: a missing prospect is permanent; database errors are
//!   transient when the connection is at fault.
//! - **External calls**: none.
//!
//! The algorithm is in [`algorithm`] and `docs/scoring.md`.

pub mod algorithm;
pub mod eol;
pub mod facts;
mod queries;
mod settings;

use chrono::Utc;

pub use algorithm::{
    ALGORITHM_VERSION, Component, FlagKind, ReasonFlag, Rule, ScoreCard, ScoreConfig, Tier, Tiers, score,
};
pub use facts::ScoreFacts;
pub use queries::{load_facts, upsert_score};
pub use settings::ScoreSettings;

use crate::{
    pipeline::{self, AdvanceError, ProspectJob, ProspectLink, ProspectStage},
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    stage::{Branch, Setup, SetupError, Stage, StageJob},
};

/// Marker of the `score` stage.
#[derive(Debug, Clone, Copy)]
pub enum ScoreStep {}

impl ProspectStage for ScoreStep {
    const STAGE: Stage = Stage::Score;
}

/// Score a prospect from its profiles.
pub type ScoreProspect = ProspectJob<ScoreStep>;

impl StageJob for ScoreProspect {
    const STAGE: Stage = Stage::Score;
    const BRANCH: Branch = Branch::Digital;
    type Settings = ScoreSettings;

    fn build_deps(settings: &ScoreSettings, _: &Setup<'_>) -> Result<ScoreConfig, SetupError> {
        Ok(settings.config().clone())
    }

    fn for_prospect(link: ProspectLink) -> Option<Self> {
        Some(Self::from_link(link))
    }
}

/// Why a prospect could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// The prospect does not exist (deleted since the job was queued).
    #[error("prospect {0} does not exist")]
    UnknownProspect(i64),
    /// Reading or writing failed.
    #[error("database error while scoring prospect {prospect}")]
    Database {
        /// The prospect.
        prospect: i64,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
    /// Enqueueing the next stage failed.
    #[error(transparent)]
    Advance(#[from] AdvanceError),
}

impl StageError for ScoreError {
    fn is_permanent(&self) -> bool {
        match self {
            ScoreError::UnknownProspect(_) => true,
            ScoreError::Database { source, .. } => !is_transient_db_error(source),
            ScoreError::Advance(e) => e.is_permanent(),
        }
    }
}

impl Handler for ScoreProspect {
    type Deps = ScoreConfig;
    type Error = ScoreError;

    #[tracing::instrument(skip_all, fields(prospect.id = self.prospect_id))]
    async fn handle(self, ctx: &JobContext, config: &ScoreConfig) -> Result<(), ScoreError> {
        let prospect = self.prospect_id;
        let db = |source| ScoreError::Database { prospect, source };
        let mut tx = ctx.pool.begin().await.map_err(db)?;
        let facts = load_facts(&mut *tx, prospect, Utc::now().date_naive())
            .await
            .map_err(db)?
            .ok_or(ScoreError::UnknownProspect(prospect))?;
        let card = score(&facts, config);
        upsert_score(&mut tx, prospect, &card).await.map_err(db)?;
        pipeline::advance(&mut tx, &ctx.enqueuer, &self, &[]).await?;
        tx.commit().await.map_err(db)?;
        tracing::info!(
            score = card.score.get(),
            tier = card.tier.as_str(),
            flags = card.flags.len(),
            "prospect scored"
        );
        Ok(())
    }
}
