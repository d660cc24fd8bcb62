//! What an inbound message does to the database: the DB half of the inbox
//! poller (the IMAP half is [`super::imap`], the classification
//! [`super::inbound`]). A reply, bounce or complaint is matched to its send
//! by the VERP/unsubscribe token, else by a cited Message-ID of ours, else
//! by the sender's address; then:
//!
//! - reply: an `email_received` interaction, the send `replied`, the lead's
//!   `contact_status = 'replied'` (so the follow-ups stop);
//! - hard bounce: the address suppressed, the send `bounced`, the lead
//!   `bounced`; soft bounces and blocks are only recorded (the block should
//!   pause the mailbox: not done yet);
//! - complaint: the address suppressed, the send `complained`;
//! - `mailto:` unsubscribe: the address suppressed;
//! - auto-replies: recorded, the sequence goes on (unless
//!   `stop_on_auto_reply`).
//!
//! Every one is an `email_events` row and a line on the lead's timeline.

use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{
    inbound::{BounceClass, Classified, Inbound},
    queries,
};

/// What recording an inbound message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// It matched no send of ours.
    Unmatched,
    /// Recorded against this send, as this kind of event.
    Send {
        /// `campaigns.id`.
        send: Uuid,
        /// The `email_events.kind`.
        kind: &'static str,
    },
}

/// A send of ours and its lead.
type SendRow = (Uuid, i64, Option<String>);

fn send_row(row: sqlx::postgres::PgRow) -> SendRow {
    (row.get(0), row.get(1), row.get(2))
}

/// The send an inbound message itself points to: the token of our address
/// it came to, else a Message-ID of ours under `message_id_domain` that it
/// cites. Never guessed from the sender (see [`record`] for that).
pub async fn correlated_send(
    conn: &mut PgConnection,
    message: &Classified,
    message_id_domain: &str,
) -> Result<Option<CorrelatedSend>, sqlx::Error> {
    Ok(correlated_row(conn, message, message_id_domain)
        .await?
        .map(|(send, prospect_id, _)| CorrelatedSend { send, prospect_id }))
}

/// A send an inbound message points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelatedSend {
    /// `campaigns.id`.
    pub send: Uuid,
    /// Its lead (`prospects.id`).
    pub prospect_id: i64,
}

async fn correlated_row(
    conn: &mut PgConnection,
    message: &Classified,
    message_id_domain: &str,
) -> Result<Option<SendRow>, sqlx::Error> {
    if let Some(token) = &message.correlation.token {
        let row = sqlx::query("SELECT id, prospect_id, recipient_email FROM campaigns WHERE id = $1")
            .bind(token.send.0)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            return Ok(Some(send_row(row)));
        }
    }
    let ids: Vec<String> = message
        .correlation
        .message_ids_under(message_id_domain)
        .map(str::to_owned)
        .collect();
    if !ids.is_empty() {
        let row = sqlx::query(
            "SELECT id, prospect_id, recipient_email FROM campaigns WHERE message_id = ANY($1)
             ORDER BY sent_at DESC NULLS LAST LIMIT 1",
        )
        .bind(&ids)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = row {
            return Ok(Some(send_row(row)));
        }
    }
    Ok(None)
}

/// The send an inbound message points to: its token, a cited Message-ID
/// under `message_id_domain`, or the latest send to its sender.
async fn matching_send(
    conn: &mut PgConnection,
    message: &Classified,
    message_id_domain: &str,
) -> Result<Option<SendRow>, sqlx::Error> {
    if let Some(found) = correlated_row(conn, message, message_id_domain).await? {
        return Ok(Some(found));
    }
    if let (Inbound::Reply(_) | Inbound::AutoReply { .. }, Some(from)) = (&message.kind, &message.from) {
        let row = sqlx::query(
            "SELECT id, prospect_id, recipient_email FROM campaigns
             WHERE lower(recipient_email) = lower($1) AND sent_at IS NOT NULL
             ORDER BY sent_at DESC LIMIT 1",
        )
        .bind(from)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = row {
            return Ok(Some(send_row(row)));
        }
    }
    Ok(None)
}

async fn suppress(
    conn: &mut PgConnection,
    address: &str,
    reason: &str,
    send: Uuid,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO suppressions (kind, value, reason, source_send_id, note) VALUES ('address', lower($1), $2, $3, $4)
         ON CONFLICT (kind, value) DO NOTHING",
    )
    .bind(address.trim())
    .bind(reason)
    .bind(send)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn set_statuses(
    conn: &mut PgConnection,
    send: Uuid,
    prospect_id: i64,
    send_status: &str,
    contact_status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaigns SET status = $2,
             replied_at = CASE WHEN $2 = 'replied' THEN coalesce(replied_at, now()) ELSE replied_at END
         WHERE id = $1",
    )
    .bind(send)
    .bind(send_status)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE prospects SET contact_status = $2 WHERE id = $1 AND contact_status NOT IN ('purchased', 'unsubscribed')",
    )
    .bind(prospect_id)
    .bind(contact_status)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Record one classified inbound message (idempotence is the caller's: the
/// `poll_inbox` stage claims the message in `inbound_messages` and moves
/// its mailbox's cursor in the same transaction).
pub async fn record(
    conn: &mut PgConnection,
    message: &Classified,
    message_id_domain: &str,
    stop_on_auto_reply: bool,
) -> Result<Recorded, sqlx::Error> {
    if matches!(message.kind, Inbound::Other) {
        return Ok(Recorded::Unmatched);
    }
    let Some((send, prospect_id, recipient)) = matching_send(conn, message, message_id_domain).await? else {
        return Ok(Recorded::Unmatched);
    };
    let subject = message.subject.clone().unwrap_or_default();
    let detail = serde_json::to_value(&message.kind).unwrap_or_default();
    let (kind, interaction, notes): (&'static str, &str, String) = match &message.kind {
        Inbound::Reply(_) => {
            set_statuses(conn, send, prospect_id, "replied", "replied").await?;
            ("reply", "email_received", format!("Reply: {subject}"))
        }
        Inbound::AutoReply { .. } => {
            if stop_on_auto_reply {
                set_statuses(conn, send, prospect_id, "replied", "replied").await?;
            }
            (
                "auto_reply",
                "email_received",
                format!("Automatic reply: {subject}"),
            )
        }
        Inbound::Bounce(bounce) => {
            let address = bounce.recipient.clone().or(recipient.clone()).unwrap_or_default();
            let why = bounce.diagnostic.clone().unwrap_or_default();
            if bounce.class == BounceClass::Hard && !address.is_empty() {
                suppress(conn, &address, "hard_bounce", send, &why).await?;
                set_statuses(conn, send, prospect_id, "bounced", "bounced").await?;
            }
            (
                "bounce",
                "email_bounced",
                format!("{:?} bounce for {address}: {why}", bounce.class),
            )
        }
        Inbound::Complaint(complaint) => {
            let address = complaint
                .recipient
                .clone()
                .or(recipient.clone())
                .unwrap_or_default();
            if !address.is_empty() {
                suppress(conn, &address, "complaint", send, &complaint.feedback_type).await?;
            }
            sqlx::query("UPDATE campaigns SET status = 'complained' WHERE id = $1")
                .bind(send)
                .execute(&mut *conn)
                .await?;
            (
                "complaint",
                "email_complained",
                format!("Spam complaint ({})", complaint.feedback_type),
            )
        }
        Inbound::Unsubscribe => {
            let address = recipient.clone().unwrap_or_default();
            queries::unsubscribe(conn, send, prospect_id, &address, "mailto").await?;
            return Ok(Recorded::Send {
                send,
                kind: "unsubscribe",
            });
        }
        Inbound::Other => return Ok(Recorded::Unmatched),
    };
    sqlx::query("INSERT INTO email_events (send_id, prospect_id, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(send)
        .bind(prospect_id)
        .bind(kind)
        .bind(&detail)
        .execute(&mut *conn)
        .await?;
    queries::interaction(
        conn,
        prospect_id,
        interaction,
        Some(&subject.chars().take(255).collect::<String>()),
        &notes,
        Some(send),
    )
    .await?;
    Ok(Recorded::Send { send, kind })
}
