//! What a handler sees while it runs, and how it reports failure.

use std::{future::Future, time::Duration};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::queue::{Enqueuer, Job};

/// A stage's error type: says how the platform should treat the failure.
///
/// - permanent (bad input, a 404, an invalid address): the job fails once,
///   with its reason, and is listed as dead;
/// - transient (timeouts, 5xx, a lost connection): the job is retried with
///   exponential backoff persisted in the queue, until `max_attempts`;
/// - [`retry_after`](StageError::retry_after): transient, with a delay the
///   remote side asked for (`Retry-After`);
/// - [`wait`](StageError::wait): not a failure (a spent daily budget, say):
///   the job goes back to the queue and runs again later.
pub trait StageError: std::error::Error + Send + Sync + 'static {
    /// True when retrying cannot help.
    fn is_permanent(&self) -> bool;

    /// A delay requested by the remote side for the next attempt.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Run again after this delay without counting a failed attempt.
    fn wait(&self) -> Option<Duration> {
        None
    }
}

/// The running job's context: its identity, the database, and shutdown.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The shared pool.
    pub pool: PgPool,
    /// Pushes follow-up jobs with their queue's policy.
    pub enqueuer: Enqueuer,
    /// This job's id (a ULID).
    pub job_id: String,
    /// 1 on the first run.
    pub attempt: u32,
    /// Runs allowed before the job is dead.
    pub max_attempts: u32,
    /// The worker running it.
    pub worker: String,
    /// Cancelled when the process must stop now (after the shutdown grace
    /// period): long stages kill their child processes and return.
    pub abort: CancellationToken,
}

impl JobContext {
    /// A context for running a handler outside a worker (benchmarks, tools,
    /// tests): a first and only attempt, never aborted.
    pub fn new(pool: PgPool, enqueuer: Enqueuer, job_id: impl Into<String>) -> Self {
        Self {
            pool,
            enqueuer,
            job_id: job_id.into(),
            attempt: 1,
            max_attempts: 1,
            worker: String::from("direct"),
            abort: CancellationToken::new(),
        }
    }

    /// The same context for attempt `attempt` of `max_attempts`.
    pub fn attempt(self, attempt: u32, max_attempts: u32) -> Self {
        Self {
            attempt,
            max_attempts,
            ..self
        }
    }

    /// The same context, aborted by `abort`.
    pub fn with_abort(self, abort: CancellationToken) -> Self {
        Self { abort, ..self }
    }

    /// Whether this is the last attempt the job gets.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// A stage's handler, implemented on its payload type.
pub trait Handler: Job + Sized {
    /// What the handler needs besides the database (settings, HTTP clients).
    type Deps: Send + Sync + 'static;
    /// The stage's error.
    type Error: StageError;

    /// Do the work. Must be idempotent: it may run again after a crash.
    fn handle(
        self,
        ctx: &JobContext,
        deps: &Self::Deps,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Whether a database error is worth retrying: lost connections, pool
/// exhaustion, serialization failures and deadlocks, resource and operator
/// errors (SQLSTATE classes 08, 40, 53, 57, 58). Constraint violations and
/// other statement errors are permanent.
pub fn is_transient_db_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "40", "53", "57", "58"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}

/// The error and its causes on one line (`outer: inner: root`), each cause
/// once: what a job's stored reason and a log line say.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_joins_causes_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(error_chain(&e), "outer: inner");
    }
}
