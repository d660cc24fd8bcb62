//! Running one job: decode, call the stage's handler, decide what a failure
//! means for the queue row.
//!
//! | handler result                     | row afterwards                          | counted as   |
//! |------------------------------------|-----------------------------------------|--------------|
//! | `Ok`                               | `Done`                                  | `succeeded`  |
//! | transient, attempts left           | `Failed`, `run_at` = now + backoff      | `retried`    |
//! | transient, last attempt            | `Failed`, attempts = max (dead)         | `dead`       |
//! | permanent (or undecodable, panic)  | `Killed` (dead), reason kept            | `failed`     |
//! | `wait(d)`                          | `Pending`, `run_at` = now + d, attempt not charged | `deferred`   |
//! | shutdown grace over                | `Pending`, `run_at` = now, attempt not charged     | `interrupted`|
//! | fetched after its worker crashed with no attempts left | `Killed` (dead), "crashed its worker N times" | `failed` |
//!
//! A job that ends dead and belongs to a batch records its item as failed
//! with the reason, so the batch still finishes.
//!
//! Attempts: apalis counts a run when it acknowledges it. Deferrals and
//! shutdown hand-backs release the row themselves ([`rows::release_uncharged`]),
//! so the acknowledgement finds no row of this worker and the job keeps its
//! attempts. A worker process that dies mid-job is not acknowledged either:
//! apalis's orphan rescue puts the job back as `Pending` with one more
//! attempt (a trigger counts it as a crash), and a `Pending` job is fetched
//! whatever its attempts, so the check at the start of [`execute`] is what
//! stops a job that crashes every worker it runs on.

use std::{
    convert::Infallible,
    fmt,
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use apalis::prelude::{AbortError, BoxDynError, Data, FromRequest, RetryAfterError, Task};
use futures::FutureExt;
use prospector_jobs::{
    Enqueuer, Handler, JobContext, StageError, WorkerSettings, error_chain,
    queue::rows,
    scan_jobs::{self, BatchItem, ItemOutcome, StageOutcome},
};
use rand::Rng;
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::metrics as names;

/// The shortest deferral. apalis acknowledges a run after its handler
/// returns, in the worker's next event flush, and the acknowledgement
/// charges whatever row this worker holds under that id. A fetch already in
/// flight when a job defers itself could pick the released row again (if it
/// were due at once) before that flush, and the late acknowledgement would
/// then charge the new run. No fetch lasts this long, so a released row is
/// never due before the acknowledgement of the run that released it.
const MIN_DEFERRAL: Duration = Duration::from_secs(2);

/// What every run of one queue's jobs shares.
pub struct QueueRuntime<H: Handler> {
    /// The pool.
    pub pool: PgPool,
    /// For follow-up jobs.
    pub enqueuer: Enqueuer,
    /// The handler's dependencies.
    pub deps: H::Deps,
    /// Timeout and backoff.
    pub settings: WorkerSettings,
    /// Cancelled when running jobs must stop.
    pub abort: CancellationToken,
}

/// The queue row's identity, extracted from the apalis task.
#[derive(Debug, Clone)]
pub struct JobMeta {
    id: String,
    attempt: u32,
    max_attempts: u32,
    worker: String,
}

impl FromRequest<Task<Value>> for JobMeta {
    type Error = Infallible;

    async fn from_request(task: &Task<Value>) -> Result<Self, Infallible> {
        let ctx = task.ctx();
        Ok(Self {
            id: ctx.task_id().map(ToString::to_string).unwrap_or_default(),
            attempt: u32::try_from(ctx.attempt()).unwrap_or(u32::MAX).max(1),
            max_attempts: ctx
                .max_attempts()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1),
            worker: ctx.lock_by().unwrap_or_default().to_owned(),
        })
    }
}

/// A failure message stored as the job's result.
#[derive(Debug)]
struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

enum Outcome {
    Succeeded,
    Retried,
    Dead,
    Failed,
    Deferred,
    Interrupted,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Retried => "retried",
            Outcome::Dead => "dead",
            Outcome::Failed => "failed",
            Outcome::Deferred => "deferred",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The apalis handler of every queue: runs `H` on one job.
pub async fn execute<H: Handler>(
    payload: Value,
    meta: JobMeta,
    runtime: Data<Arc<QueueRuntime<H>>>,
) -> Result<(), BoxDynError> {
    let runtime: &QueueRuntime<H> = &runtime;
    let started = Instant::now();
    let span = tracing::info_span!("job", queue = H::QUEUE, job.id = %meta.id, job.attempt = meta.attempt);
    let (outcome, result) = tracing::Instrument::instrument(run::<H>(payload, &meta, runtime), span).await;
    metrics::counter!(names::JOBS_TOTAL, "queue" => H::QUEUE, "outcome" => outcome.label()).increment(1);
    metrics::histogram!(names::JOB_DURATION_SECONDS, "queue" => H::QUEUE)
        .record(started.elapsed().as_secs_f64());
    result
}

async fn run<H: Handler>(
    payload: Value,
    meta: &JobMeta,
    runtime: &QueueRuntime<H>,
) -> (Outcome, Result<(), BoxDynError>) {
    let batch: Option<BatchItem> = payload
        .get("batch")
        .and_then(|b| serde_json::from_value(b.clone()).ok());
    let job: H = match serde_json::from_value(payload) {
        Ok(job) => job,
        Err(e) => {
            let reason = format!("payload is not a valid {} job: {e}", H::QUEUE);
            return fail_permanently::<H>(runtime, batch.as_ref(), reason).await;
        }
    };
    let batch = job.batch_item().cloned().or(batch);
    if meta.attempt > meta.max_attempts {
        // Only an orphan rescue brings a job back past its last attempt. It
        // dies when it was running each time its worker died; a job that was
        // only fetched by dead workers runs (its next failure is its last).
        let crashes = match rows::worker_crashes(&runtime.pool, &meta.id).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the job's crash count");
                meta.attempt - 1
            }
        };
        if crashes >= meta.max_attempts {
            let reason = format!("crashed its worker {crashes} times");
            return fail_permanently::<H>(runtime, batch.as_ref(), reason).await;
        }
    }

    if let Err(e) = rows::mark_running(&runtime.pool, &meta.id, &meta.worker).await {
        tracing::warn!(error = %e, "could not mark the job as started; a crash under it would not be counted");
    }

    let ctx = JobContext {
        pool: runtime.pool.clone(),
        enqueuer: runtime.enqueuer.clone(),
        job_id: meta.id.clone(),
        attempt: meta.attempt,
        max_attempts: meta.max_attempts,
        worker: meta.worker.clone(),
        abort: runtime.abort.clone(),
    };
    let timeout = runtime.settings.timeout;
    let work = AssertUnwindSafe(job.handle(&ctx, &runtime.deps)).catch_unwind();
    let result = tokio::select! {
        biased;
        () = runtime.abort.cancelled() => None,
        result = tokio::time::timeout(timeout, work) => Some(result),
    };

    match result {
        // Shutdown: put the job straight back; it did not fail.
        None => {
            release(runtime, meta, Duration::ZERO, "interrupted by shutdown").await;
            tracing::info!("job interrupted by shutdown; back on the queue");
            (
                Outcome::Interrupted,
                Err(Box::new(RetryAfterError::new(
                    Failure("interrupted by shutdown".into()),
                    Duration::ZERO,
                ))),
            )
        }
        Some(Ok(Ok(Ok(())))) => (Outcome::Succeeded, Ok(())),
        Some(Ok(Ok(Err(error)))) => handle_error::<H>(runtime, meta, batch.as_ref(), &error).await,
        Some(Ok(Err(panic))) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            fail_permanently::<H>(runtime, batch.as_ref(), format!("handler panicked: {message}")).await
        }
        Some(Err(_elapsed)) => {
            let reason = format!("timed out after {}", humantime::format_duration(timeout));
            retry_or_die::<H>(runtime, meta, batch.as_ref(), reason, None).await
        }
    }
}

async fn handle_error<H: Handler>(
    runtime: &QueueRuntime<H>,
    meta: &JobMeta,
    batch: Option<&BatchItem>,
    error: &H::Error,
) -> (Outcome, Result<(), BoxDynError>) {
    let reason = error_chain(error);
    if let Some(wait) = error.wait() {
        let wait = wait.max(MIN_DEFERRAL);
        release(runtime, meta, wait, &reason).await;
        tracing::info!(reason = %reason, wait_seconds = wait.as_secs_f64(), "job deferred");
        return (
            Outcome::Deferred,
            Err(Box::new(RetryAfterError::new(Failure(reason), wait))),
        );
    }
    if error.is_permanent() {
        return fail_permanently::<H>(runtime, batch, reason).await;
    }
    retry_or_die::<H>(runtime, meta, batch, reason, error.retry_after()).await
}

/// Back on the queue after `delay`, without using up an attempt.
async fn release<H: Handler>(runtime: &QueueRuntime<H>, meta: &JobMeta, delay: Duration, reason: &str) {
    match rows::release_uncharged(&runtime.pool, &meta.id, &meta.worker, delay, reason).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!("the job was no longer held by this worker when it was put back"),
        Err(e) => {
            // apalis's acknowledgement still puts it back (charging an attempt).
            tracing::warn!(error = %e, "could not put the job back uncharged");
            if let Err(e) = rows::delay_next_run(&runtime.pool, &meta.id, delay).await {
                tracing::warn!(error = %e, "could not delay the job either; it will run again now");
            }
        }
    }
}

async fn retry_or_die<H: Handler>(
    runtime: &QueueRuntime<H>,
    meta: &JobMeta,
    batch: Option<&BatchItem>,
    reason: String,
    retry_after: Option<Duration>,
) -> (Outcome, Result<(), BoxDynError>) {
    if meta.attempt >= meta.max_attempts {
        let reason = format!("gave up after {} attempts: {reason}", meta.attempt);
        tracing::error!(reason = %reason, "job is dead");
        record_failure::<H>(runtime, batch, &reason).await;
        return (Outcome::Dead, Err(Box::new(Failure(reason))));
    }
    let settings = &runtime.settings;
    let jitter = rand::rng().random_range(-0.2..=0.2);
    let backoff = settings.backoff().delay_with_jitter(meta.attempt, jitter);
    // Never sooner than the remote side asked, nor sooner than our backoff.
    let delay = retry_after.map_or(backoff, |asked| asked.max(backoff));
    if let Err(e) = rows::delay_next_run(&runtime.pool, &meta.id, delay).await {
        tracing::warn!(error = %e, "could not persist the retry delay; the job will be retried at once");
    }
    tracing::warn!(
        reason = %reason,
        retry_in_seconds = delay.as_secs_f64(),
        attempts_left = meta.max_attempts - meta.attempt,
        "job failed; will retry"
    );
    (Outcome::Retried, Err(Box::new(Failure(reason))))
}

async fn fail_permanently<H: Handler>(
    runtime: &QueueRuntime<H>,
    batch: Option<&BatchItem>,
    reason: String,
) -> (Outcome, Result<(), BoxDynError>) {
    tracing::warn!(reason = %reason, "job failed permanently");
    record_failure::<H>(runtime, batch, &reason).await;
    (Outcome::Failed, Err(Box::new(AbortError::new(Failure(reason)))))
}

async fn record_failure<H: Handler>(runtime: &QueueRuntime<H>, batch: Option<&BatchItem>, reason: &str) {
    let Some(item) = batch else {
        return;
    };
    let stage = StageOutcome::Failed(reason.to_owned());
    let outcome = ItemOutcome::Failed(reason.to_owned());
    let recorded = async {
        let mut tx = runtime.pool.begin().await?;
        scan_jobs::record_stage(&mut *tx, item, H::QUEUE, &stage).await?;
        scan_jobs::record_item(&mut *tx, item, H::QUEUE, &outcome).await?;
        tx.commit().await
    };
    if let Err(e) = recorded.await {
        tracing::error!(error = %e, scan_job.id = item.scan_job_id, "could not record a failed batch item");
    }
}
