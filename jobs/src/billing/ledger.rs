//! The webhook ledger: a verified delivery is stored once by its `svix-id`
//! and its processing job is enqueued in the same transaction, so the HTTP
//! handler only verifies, records and enqueues, and a crash loses nothing.

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
    .bind(&message.id)
    .bind(event_type)
    .bind(object_id)
    .bind(message.timestamp)
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
        svix_id: message.id.clone(),
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
