//! The webhook ledger: a verified delivery is stored once by its `svix-id`
//! and its processing job is enqueued in the same transaction, so the HTTP
//! handler only verifies, records and enqueues, and a crash loses nothing.
//! What the reconciliation poller learns from the API goes through the same
//! ledger ([`record_reconciled`]) under a deterministic id.

use sqlx::PgPool;

use super::{VerifiedMessage, WebhookEvent, lifecycle::BillingTask};
use crate::queue::{EnqueueError, Enqueued, Enqueuer};

/// What recording a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new event, with its job.
    New,
    /// The same `svix-id` was stored already (a Svix retry): nothing new.
    Duplicate,
}

/// Why a delivery could not be recorded (the sender should retry).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The insert failed.
    #[error("could not store the billing event")]
    Database(#[from] sqlx::Error),
    /// The job could not be enqueued.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
}

/// Store a verified delivery and enqueue its processing, once per
/// `svix-id`. `raw_body` is the body as signed; it is parsed only for the
/// ledger's `event_type` and `object_id` columns (a body that does not
/// parse is stored with neither, and its job marks it malformed).
pub async fn record(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    message: &VerifiedMessage,
    raw_body: &[u8],
) -> Result<Recorded, LedgerError> {
    store(pool, enqueuer, &message.id, message.timestamp, raw_body).await
}

/// Prefix of the ids of events the reconciliation poller records.
pub const RECONCILE_PREFIX: &str = "reconcile:";

/// Store an event the reconciliation poller learnt from Recurrente's API
/// (a webhook that never came), under the deterministic id
/// `reconcile:<object id>:<status>`, and enqueue its processing exactly as
/// for a webhook: the same event learnt twice is stored once, and applying
/// it is as idempotent as applying its late webhook (payments by their
/// `pa_…` id, subscriptions by their `su_…` id).
pub async fn record_reconciled(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    object_id: &str,
    status: &str,
    body: &[u8],
) -> Result<Recorded, LedgerError> {
    let id = truncate(&format!("{RECONCILE_PREFIX}{object_id}:{status}"), 100);
    store(pool, enqueuer, &id, chrono::Utc::now(), body).await
}

async fn store(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    svix_id: &str,
    signed_at: chrono::DateTime<chrono::Utc>,
    raw_body: &[u8],
) -> Result<Recorded, LedgerError> {
    let parsed = WebhookEvent::parse(raw_body).ok();
    let event_type = parsed.as_ref().map(|e| truncate(e.event_type(), 100));
    let object_id = parsed
        .as_ref()
        .and_then(|e| e.object_id())
        .map(|id| truncate(id, 100));
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO billing_events (svix_id, event_type, object_id, signed_at, raw_body) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (svix_id) DO NOTHING",
    )
    .bind(svix_id)
    .bind(event_type)
    .bind(object_id)
    .bind(signed_at)
    .bind(raw_body)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !inserted {
        tx.rollback().await?;
        return Ok(Recorded::Duplicate);
    }
    let job = BillingTask::Process {
        svix_id: svix_id.to_owned(),
    };
    let enqueued = enqueuer.enqueue(&mut tx, &job).await?;
    tx.commit().await?;
    if enqueued == Enqueued::AlreadyQueued {
        tracing::warn!("a new billing event found its job queued already");
    }
    Ok(Recorded::New)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
