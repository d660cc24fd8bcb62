//! `score`: the opportunity score, its reasons and the lead tier.
//!
//! - **Input**: [`ScoreProspect`](crate::pipeline::ScoreProspect).
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

pub use algorithm::{
    ALGORITHM_VERSION, Component, FlagKind, ReasonFlag, Rule, ScoreCard, ScoreConfig, Tier, Tiers, score,
};
pub use facts::ScoreFacts;
