//! # Prospector
//!
//! A lead-generation pipeline of durable, typed jobs on PostgreSQL.
//!
//! ## Layout
//! - [`config`]: layered settings, checked at start-up.
//! - [`db`]: the pool and migrations.
//! - [`worker_pool`]: apalis workers per stage, supervised.
pub mod config;
pub mod db;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;
pub mod worker_pool;
pub mod job_control;
pub mod maintenance;
pub mod scheduler;
pub mod status;
pub mod admin;
pub mod import;
pub mod application;
pub mod cli;
pub mod bench;
pub mod commands;
