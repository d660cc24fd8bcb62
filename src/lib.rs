//! # Prospector
//!
//! A lead-generation pipeline of durable, typed jobs on PostgreSQL.
//!
//! ## Layout
//! - [`config`]: layered settings, checked at start-up.
//! - [`db`]: the pool and migrations.
//! - [`worker_pool`]: apalis workers per stage, supervised.
pub mod admin;
pub mod application;

pub mod cli;
pub mod commands;
pub mod config;
pub mod csv_table;
pub mod db;

pub mod batches;
pub mod grid;
pub mod import;
pub mod maintenance;
pub mod metrics;
pub mod scheduler;
pub mod shutdown;
pub mod status_report;
pub mod telemetry;
pub mod tls;
pub mod worker_pool;
