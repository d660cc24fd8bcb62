//! `bench`: the synthetic job that `prospector-bench queue` and the fault
//! tests push through the real queue machinery.
//!
//! - **Input**: [`BenchJob`] — a sequence number, optional simulated work
//!   (`work_ms` of sleep), an optional batch item, and `abort` (the job
//!   aborts its worker process: a poison job for the fault tests).
//! - **Writes**: nothing, unless it belongs to a batch: then its item outcome,
//!   so the fault tests can check that every item is counted exactly once.
//! - **Errors**: database errors only (transient when the connection is lost).
//! - Not a pipeline stage: workers for it run only under `prospector-bench
//!   work`, which registers the queue with [`TOOL_QUEUES`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use prospector::config::ToolQueues;
use prospector_jobs::{
    Handler, Job, JobContext, StageError,
    runtime::is_transient_db_error,
    scan_jobs::{self, BatchItem, ItemOutcome},
};

/// The benchmark queue's name.
pub const BENCH_QUEUE: &str = "bench";

/// The benchmark queue, configured like a stage (`[stages.bench]`,
/// `PROSPECTOR__STAGES__BENCH__…`).
pub const TOOL_QUEUES: ToolQueues = ToolQueues {
    defaults: include_str!("bench.toml"),
    queues: &[BENCH_QUEUE],
};

/// A no-op (or sleep-only) job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchJob {
    /// Sequence number within a run.
    pub seq: u64,
    /// Simulated work, in milliseconds.
    #[serde(default)]
    pub work_ms: u32,
    /// The batch item it counts toward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchItem>,
    /// Abort the worker process (a poison job, for the fault tests).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort: bool,
}

impl Job for BenchJob {
    const QUEUE: &'static str = BENCH_QUEUE;

    fn batch_item(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }
}

/// A database error while recording the item.
#[derive(Debug, thiserror::Error)]
#[error("could not record bench job {seq}")]
pub struct BenchError {
    seq: u64,
    #[source]
    source: sqlx::Error,
}

impl StageError for BenchError {
    fn is_permanent(&self) -> bool {
        !is_transient_db_error(&self.source)
    }
}

impl Handler for BenchJob {
    type Deps = ();
    type Error = BenchError;

    async fn handle(self, ctx: &JobContext, _deps: &()) -> Result<(), Self::Error> {
        if self.abort {
            // A job that takes its worker process down with it.
            std::process::abort();
        }
        if self.work_ms > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(self.work_ms))).await;
        }
        if let Some(item) = &self.batch {
            scan_jobs::record_item(&ctx.pool, item, Self::QUEUE, &ItemOutcome::Processed)
                .await
                .map_err(|source| BenchError {
                    seq: self.seq,
                    source,
                })?;
        }
        Ok(())
    }
}
