//! Every statement the `poll_inbox` stage runs: the mailbox cursors, the
//! claim of an inbound message and its outcome, and the customer lookups
//! that turn a customer's e-mail into a ticket.

use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

use super::apply::{Outcome, Parsed};

/// A folder of a mailbox, as one UIDVALIDITY numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The mailbox's address, lower case.
    pub mailbox: String,
    /// The folder read.
    pub folder: String,
    /// Its UIDVALIDITY (0 when the server reports none).
    pub uidvalidity: u32,
}

/// Where reading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The highest UID already handled (0: none).
    pub last_uid: u32,
    /// The server renumbered the folder since the last poll: the stored UID
    /// was dropped and reading starts again from 0.
    pub renumbered: bool,
}

/// The cursor of `folder`, created at 0 when it is new and reset to 0 when
/// its UIDVALIDITY changed.
pub async fn open_cursor(executor: impl PgExecutor<'_>, folder: &Folder) -> Result<Start, sqlx::Error> {
    // `previous` is the row's UIDVALIDITY before this statement (NULL for a
    // new row): the CTE reads the snapshot the upsert started from.
    let row = sqlx::query(
        "WITH previous AS (
             SELECT uidvalidity FROM mailbox_cursors WHERE mailbox = $1 AND folder = $2
         ), upserted AS (
             INSERT INTO mailbox_cursors (mailbox, folder, uidvalidity, last_uid) VALUES ($1, $2, $3, 0)
             ON CONFLICT (mailbox, folder) DO UPDATE
                 SET uidvalidity = EXCLUDED.uidvalidity,
                     last_uid = CASE WHEN mailbox_cursors.uidvalidity = EXCLUDED.uidvalidity
                                     THEN mailbox_cursors.last_uid ELSE 0 END
             RETURNING last_uid
         )
         SELECT upserted.last_uid, (SELECT uidvalidity FROM previous) AS previous FROM upserted",
    )
    .bind(&folder.mailbox)
    .bind(&folder.folder)
    .bind(i64::from(folder.uidvalidity))
    .fetch_one(executor)
    .await?;
    let last_uid: i64 = row.try_get("last_uid")?;
    let previous: Option<i64> = row.try_get("previous")?;
    Ok(Start {
        last_uid: u32::try_from(last_uid).unwrap_or(0),
        renumbered: previous.is_some_and(|p| p != i64::from(folder.uidvalidity)),
    })
}

/// Move the cursor to `uid` (never back: two polls of one mailbox may
/// overlap).
pub async fn advance_cursor(conn: &mut PgConnection, folder: &Folder, uid: u32) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mailbox_cursors SET last_uid = GREATEST(last_uid, $4)
         WHERE mailbox = $1 AND folder = $2 AND uidvalidity = $3",
    )
    .bind(&folder.mailbox)
    .bind(&folder.folder)
    .bind(i64::from(folder.uidvalidity))
    .bind(i64::from(uid))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The poll read the folder (to its end or to the per-run limit).
pub async fn mark_polled(executor: impl PgExecutor<'_>, folder: &Folder) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE mailbox_cursors SET polled_at = now() WHERE mailbox = $1 AND folder = $2")
        .bind(&folder.mailbox)
        .bind(&folder.folder)
        .execute(executor)
        .await?;
    Ok(())
}

/// Claim message `uid`: insert its row, or nothing when it (or a copy with
/// the same Message-ID) was handled already. True when this call claimed it.
pub async fn claim_message(
    conn: &mut PgConnection,
    folder: &Folder,
    uid: u32,
    message: &Parsed,
    outcome: Outcome,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "INSERT INTO inbound_messages
             (mailbox, folder, uidvalidity, uid, message_id, dedup_key, kind, detail, outcome, subject, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT DO NOTHING",
    )
    .bind(&folder.mailbox)
    .bind(&folder.folder)
    .bind(i64::from(folder.uidvalidity))
    .bind(i64::from(uid))
    .bind(message.message_id.as_deref())
    .bind(&message.dedup_key)
    .bind(message.kind())
    .bind(message.detail())
    .bind(outcome.as_str())
    .bind(message.subject())
    .bind(error)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// What handling the claimed message `uid` did.
pub async fn complete_message(
    conn: &mut PgConnection,
    folder: &Folder,
    uid: u32,
    done: &super::apply::Done,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inbound_messages SET outcome = $5, send_id = $6, customer_id = $7, ticket_id = $8
         WHERE mailbox = $1 AND folder = $2 AND uidvalidity = $3 AND uid = $4",
    )
    .bind(&folder.mailbox)
    .bind(&folder.folder)
    .bind(i64::from(folder.uidvalidity))
    .bind(i64::from(uid))
    .bind(done.outcome.as_str())
    .bind(done.send)
    .bind(done.customer)
    .bind(done.ticket)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Messages of `folder` handled but not yet marked seen or moved on the
/// server (a poll that failed between its commit and the IMAP command).
pub async fn unfinished_uids(
    executor: impl PgExecutor<'_>,
    folder: &Folder,
    limit: i64,
) -> Result<Vec<u32>, sqlx::Error> {
    let uids: Vec<i64> = sqlx::query_scalar(
        "SELECT uid FROM inbound_messages
         WHERE mailbox = $1 AND folder = $2 AND uidvalidity = $3 AND finished_at IS NULL
         ORDER BY uid LIMIT $4",
    )
    .bind(&folder.mailbox)
    .bind(&folder.folder)
    .bind(i64::from(folder.uidvalidity))
    .bind(limit)
    .fetch_all(executor)
    .await?;
    Ok(uids.into_iter().filter_map(|u| u32::try_from(u).ok()).collect())
}

/// These messages were marked seen or moved on the server.
pub async fn mark_finished(
    executor: impl PgExecutor<'_>,
    folder: &Folder,
    uids: &[u32],
) -> Result<(), sqlx::Error> {
    if uids.is_empty() {
        return Ok(());
    }
    let uids: Vec<i64> = uids.iter().copied().map(i64::from).collect();
    sqlx::query(
        "UPDATE inbound_messages SET finished_at = now()
         WHERE mailbox = $1 AND folder = $2 AND uidvalidity = $3 AND uid = ANY($4) AND finished_at IS NULL",
    )
    .bind(&folder.mailbox)
    .bind(&folder.folder)
    .bind(i64::from(folder.uidvalidity))
    .bind(&uids)
    .execute(executor)
    .await?;
    Ok(())
}

/// A customer, and the site its tickets are filed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerSite {
    /// `customers.id`.
    pub customer: Uuid,
    /// Its site: `customers.site_id`, else the latest site of its business.
    pub site: Option<Uuid>,
}

fn customer_site(row: &sqlx::postgres::PgRow) -> Result<CustomerSite, sqlx::Error> {
    Ok(CustomerSite {
        customer: row.try_get("id")?,
        site: row.try_get("site_id")?,
    })
}

/// The customer whose address is `address` (an active one first, then
/// the latest).
pub async fn customer_by_address(
    conn: &mut PgConnection,
    address: &str,
) -> Result<Option<CustomerSite>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, coalesce(c.site_id, (
             SELECT s.id FROM generated_sites s WHERE s.business_id = c.business_id
             ORDER BY s.created_at DESC LIMIT 1)) AS site_id
         FROM customers c WHERE lower(c.email) = lower($1)
         ORDER BY c.status = 'active' DESC, c.created_at DESC LIMIT 1",
    )
    .bind(address.trim())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(customer_site).transpose()
}

/// The customer who bought the site of lead `prospect_id`, if it is one.
pub async fn customer_of_prospect(
    conn: &mut PgConnection,
    prospect_id: i64,
) -> Result<Option<CustomerSite>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, coalesce(c.site_id, (
             SELECT s.id FROM generated_sites s WHERE s.business_id = c.business_id
             ORDER BY s.created_at DESC LIMIT 1)) AS site_id
         FROM customers c JOIN prospects p ON p.public_id = c.business_id WHERE p.id = $1
         ORDER BY c.status = 'active' DESC, c.created_at DESC LIMIT 1",
    )
    .bind(prospect_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(customer_site).transpose()
}
