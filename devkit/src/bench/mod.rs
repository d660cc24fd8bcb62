//! Benchmarks that print figures (`prospector-bench …`). Speed is measured
//! here, never in tests.

pub mod audit;
pub mod audit_site;
pub mod build;
pub mod commands;
pub mod data;
pub mod discover;
pub mod email;
pub mod fingerprint;
pub mod fleet;
mod job;
pub mod queue;
pub mod scan;

pub use job::{BENCH_QUEUE, BenchJob, TOOL_QUEUES};

use std::time::Duration;

/// Milliseconds, for printing.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile of sorted durations (nearest rank).
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
