//! # Prospector's pipeline stages
//!
//! Every stage of the lead pipeline is a typed job on a Postgres-backed apalis
//! queue. This crate holds the stage registry, each stage's payload, handler,
//! settings and SQL, and the queue's own SQL; the `prospector` binary wires
//! them into worker processes (see `docs/architecture.md`).
//!
//! ```text
//!   coverage grid ──► discover ──┬──► tech_scan ──► audit ──► score
//!   import / CSV ────────────────┘
//!   discover (no website, qualified) ──► pipeline_route = build_site
//!   scheduler ──► snapshot_analytics (daily metrics)
//!   scheduler ──► poll_inbox (one per mailbox with IMAP: replies, bounces, customers' e-mails)
//! ```
//!
//! | queue                | payload                        | writes                         |
//! |----------------------|--------------------------------|--------------------------------|
//! | `discover`           | [`DiscoverBusinesses`]         | `prospects` (maps), `coverage_grid`, `api_usage` |
//! | `tech_scan`          | [`ScanTech`]                   | `prospect_tech_profiles`, `prospect_contacts`, `prospects` ([`tech_scan`]) |
//! | `audit`              | [`AuditPage`]                  | `prospect_performance_profiles`, `prospect_audit_reports` |
//! | `score`              | [`ScoreProspect`]              | `prospect_scores`              |
//! | `poll_inbox`         | [`poll_inbox::PollInbox`]      | `inbound_messages`, `mailbox_cursors`, `email_events`, `suppressions`, `support_tickets` |
//! | `snapshot_analytics` | [`SnapshotAnalytics`]          | `analytics_snapshots`          |
//!
//! ## The registry
//! [`Stage`] lists the stages; each stage's module implements [`StageJob`]
//! on its payload, declaring its queue, branch, settings, how its
//! dependencies are built and whether it follows another stage in a chain.
//! Everything else derives from that ([`Stage::visit`]).
//!
//! ## Contracts shared by every stage
//! - A payload type implements [`Job`]: its queue name is the stage's name,
//!   never the Rust type name, so renaming a type does not strand queued rows.
//! - A handler implements [`Handler`] and returns a [`StageError`] that says
//!   whether a failure is permanent (bad input: fail once, with the reason),
//!   transient (timeouts, 5xx: retried later with a persisted backoff) or a
//!   wait (a spent budget: back on the queue without counting a failure).
//! - Delivery is at least once: handlers are idempotent, write with upserts,
//!   and enqueue the next stage in the same transaction as their results
//!   ([`Enqueuer::enqueue`] takes a `&mut PgConnection`; chains use
//!   [`pipeline::advance`]).
//! - Batch progress (`prospect_scan_jobs`) counts each item exactly once, via
//!   [`scan_jobs::record_item`].
#![warn(missing_docs)]

pub mod audit;
pub mod billing;
pub mod browser_proxy;
pub mod build_site;
pub mod child_env;
pub mod discover;
pub mod domain;
pub mod llm;
pub mod local_page;
pub mod pipeline;
pub mod poll_inbox;
pub mod public_urls;
pub mod queue;
pub mod retry;
pub mod runtime;
pub mod scan_jobs;
pub mod score;
pub mod screenshot;
pub mod send_email;
pub mod snapshot_analytics;
pub mod stage;
pub mod support;
pub mod tech_scan;

pub use audit::AuditPage;
pub use discover::DiscoverBusinesses;
pub use queue::{EnqueueError, EnqueueOptions, Enqueued, Enqueuer, Job, QueuePolicy, WorkerSettings};
pub use runtime::{Handler, JobContext, StageError, error_chain};
pub use score::ScoreProspect;
pub use snapshot_analytics::SnapshotAnalytics;
pub use stage::{
    Branch, CheckContext, InvalidSetting, PipelineSettings, Platform, Setup, SetupError, Stage, StageConfig,
    StageJob, StageVisitor, UnknownStage,
};
pub use tech_scan::{ScanTech, TechScanDeps, TechScanError, TechScanSettings};

/// Prospector's own schema migrations (the `migrations/` folder).
///
/// They assume the job queue's schema exists: run
/// `apalis_postgres::PostgresStorage::setup` first (the binary's
/// `db::migrate` does both, in that order).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
