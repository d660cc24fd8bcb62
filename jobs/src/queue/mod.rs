//! Typed jobs and how they get onto their queues.
//!
//! Jobs are rows of `apalis.jobs` (apalis-postgres 1.0). We insert them with
//! our own statement instead of apalis's `push_tasks` for two reasons:
//! `max_attempts` must come from the stage's config on every push (apalis
//! defaults to 25), and a duplicate idempotency key must mean "already
//! queued", not an error that aborts the caller's transaction.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use sqlx::PgConnection;

use crate::{runtime::is_transient_db_error, scan_jobs::BatchItem};

pub mod control;
pub mod counts;
pub mod retention;
pub mod rows;
mod worker_settings;

pub use worker_settings::{WorkerOverrides, WorkerSettings};

/// A typed job payload bound to one queue.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The queue (apalis `job_type`). Never change it once jobs exist.
    const QUEUE: &'static str;

    /// A key that makes a second enqueue of the same work a no-op.
    /// The key is unique per queue forever (also after the job is done), so
    /// include a period in it (`tech_scan:42:2026-11`) when work may recur.
    fn idempotency_key(&self) -> Option<String> {
        None
    }

    /// The batch item this job works on, when it belongs to a batch.
    fn batch_item(&self) -> Option<&BatchItem> {
        None
    }
}

/// Retry policy of one queue, applied to every push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Runs before a failing job is dead (1 = never retried).
    pub max_attempts: u32,
    /// Higher runs first.
    pub priority: i32,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            priority: 0,
        }
    }
}

/// Per-push overrides.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Do not run before this time.
    pub run_at: Option<DateTime<Utc>>,
    /// Overrides [`Job::idempotency_key`].
    pub idempotency_key: Option<String>,
    /// Overrides the queue's priority.
    pub priority: Option<i32>,
}

/// What an enqueue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job with this id.
    New(String),
    /// A job with the same idempotency key exists already.
    AlreadyQueued,
}

impl Enqueued {
    /// The new job's id, if one was created.
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Enqueued::New(id) => Some(id),
            Enqueued::AlreadyQueued => None,
        }
    }
}

/// Why an enqueue failed.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// The payload could not be serialised.
    #[error("could not encode the {queue} payload")]
    Encode {
        /// Queue name.
        queue: &'static str,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// The insert failed.
    #[error("could not insert a {queue} job")]
    Database {
        /// Queue name.
        queue: &'static str,
        /// Cause.
        #[source]
        source: sqlx::Error,
    },
}

impl EnqueueError {
    /// Whether retrying cannot help: an unencodable payload, or a database
    /// error that is not transient.
    pub fn is_permanent(&self) -> bool {
        match self {
            EnqueueError::Encode { .. } => true,
            EnqueueError::Database { source, .. } => !is_transient_db_error(source),
        }
    }
}

/// Puts jobs on their queues with each queue's policy.
///
/// Cheap to clone; every role (workers, scheduler, import, admin) shares one.
#[derive(Debug, Clone, Default)]
pub struct Enqueuer {
    policies: Arc<HashMap<String, QueuePolicy>>,
}

impl Enqueuer {
    /// An enqueuer with a policy per queue name; other queues get the default.
    pub fn new(policies: HashMap<String, QueuePolicy>) -> Self {
        Self {
            policies: Arc::new(policies),
        }
    }

    /// The policy applied to `queue`.
    pub fn policy(&self, queue: &str) -> QueuePolicy {
        self.policies.get(queue).copied().unwrap_or_default()
    }

    /// Enqueue one job now, on the caller's connection or transaction.
    pub async fn enqueue<J: Job>(&self, conn: &mut PgConnection, job: &J) -> Result<Enqueued, EnqueueError> {
        self.enqueue_with(conn, job, EnqueueOptions::default()).await
    }

    /// Enqueue one job with overrides.
    pub async fn enqueue_with<J: Job>(
        &self,
        conn: &mut PgConnection,
        job: &J,
        options: EnqueueOptions,
    ) -> Result<Enqueued, EnqueueError> {
        let policy = self.policy(J::QUEUE);
        let payload = serde_json::to_vec(job).map_err(|source| EnqueueError::Encode {
            queue: J::QUEUE,
            source,
        })?;
        let key = options.idempotency_key.or_else(|| job.idempotency_key());
        let id = ulid::Ulid::new().to_string();
        let inserted = sqlx::query_scalar!(
            r#"
            INSERT INTO apalis.jobs
                (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
            VALUES ($1, $2, $3, 'Pending', 0, $4, coalesce($5, now()), $6, $7)
            ON CONFLICT (job_type, idempotency_key) DO NOTHING
            RETURNING id
            "#,
            id,
            J::QUEUE,
            payload,
            saturating_i32(policy.max_attempts),
            options.run_at,
            options.priority.unwrap_or(policy.priority),
            key,
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(|source| EnqueueError::Database {
            queue: J::QUEUE,
            source,
        })?;
        Ok(match inserted {
            Some(id) => Enqueued::New(id),
            None => Enqueued::AlreadyQueued,
        })
    }

    /// Enqueue many jobs of one queue in a single statement.
    /// Returns how many were new (duplicates by idempotency key are skipped).
    pub async fn enqueue_many<J: Job>(
        &self,
        conn: &mut PgConnection,
        jobs: &[J],
    ) -> Result<u64, EnqueueError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let policy = self.policy(J::QUEUE);
        let mut ids = Vec::with_capacity(jobs.len());
        let mut payloads = Vec::with_capacity(jobs.len());
        let mut keys: Vec<Option<String>> = Vec::with_capacity(jobs.len());
        for job in jobs {
            ids.push(ulid::Ulid::new().to_string());
            payloads.push(serde_json::to_vec(job).map_err(|source| EnqueueError::Encode {
                queue: J::QUEUE,
                source,
            })?);
            keys.push(job.idempotency_key());
        }
        let result = sqlx::query!(
            r#"
            INSERT INTO apalis.jobs
                (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
            SELECT t.id, $2, t.job, 'Pending', 0, $4, now(), $5, t.idempotency_key
            FROM UNNEST($1::text[], $3::bytea[], $6::text[]) AS t(id, job, idempotency_key)
            ON CONFLICT (job_type, idempotency_key) DO NOTHING
            "#,
            &ids,
            J::QUEUE,
            &payloads,
            saturating_i32(policy.max_attempts),
            policy.priority,
            &keys as &[Option<String>],
        )
        .execute(&mut *conn)
        .await
        .map_err(|source| EnqueueError::Database {
            queue: J::QUEUE,
            source,
        })?;
        Ok(result.rows_affected())
    }
}

fn saturating_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
