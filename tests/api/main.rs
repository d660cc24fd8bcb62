//! Integration tests: the real application on real PostgreSQL.
//! One test binary; each test gets its own database.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod admin;
mod analytics;
mod audit;
mod bait;
mod build_site;
mod cluster;
mod console_access;
mod console_browser;
mod customers;
mod discover;
mod faults;
mod helpers;
mod import;
mod large_queues;
mod observability;
mod pipeline;
mod poll_inbox;
mod providers;
mod queue;
mod scale;
mod scan;
mod scheduler;
mod schema;
mod screenshot;
mod send_email;
mod setup;
mod tech_scan;
