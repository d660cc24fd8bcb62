//! # Prospector
//!
//! A lead-generation pipeline of durable, typed jobs on PostgreSQL: the
//! platform around the stages of `prospector-jobs` (see
//! `docs/architecture.md`).
//!
//! ## Layout
//! - [`config`]: layered settings, checked at start-up; each stage's section
//!   is read into the stage's own settings type.
//! - [`application`]: the connected application that `main`, tools and tests
//!   build; [`commands`]: one module per subcommand.
//! - [`worker_pool`]: apalis workers for each stage, supervised;
//!   [`scheduler`]: cron slots fired once each; [`maintenance`]: retention.
//! - [`admin`]: the admin HTTP API and `/metrics`; [`console`]: the
//!   server-rendered console for staff (accounts, roles, pages);
//!   [`status_report`]: the read model of queues, workers and batches.
//! - [`import`], [`grid`], [`batches`]: leads, territories and batches over
//!   the digital branch; [`csv_table`]: the CSV reading they share.
//! - [`db`], [`telemetry`], [`tls`], [`shutdown`]: plumbing.
pub mod admin;
pub mod application;
pub mod batches;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod csv_table;
pub mod db;
pub mod entry;
pub mod grid;
pub mod import;
pub mod maintenance;
pub mod metrics;
pub mod public;
pub mod scheduler;
pub mod shutdown;
pub mod status_report;
pub mod telemetry;
pub mod tls;
pub mod worker_pool;
