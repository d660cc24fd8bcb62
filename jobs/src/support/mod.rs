//! Support tickets: a customer asks for a change from a form on its live
//! site; the change makes a new site version through `build_site` that
//! waits for an operator's approval before it replaces the live one.
//!
//! - [`open_ticket`] stores the ticket and enqueues its build in one
//!   transaction (the `BuildSite` payload carries the ticket as its
//!   `change_request`; its version is stored with `approval_status =
//!   'pending'` and is not made current).
//! - [`open_email_ticket`] files a customer's e-mail (read by the
//!   `poll_inbox` stage) as an `open` ticket with its subject, text and
//!   Message-ID, in the poller's transaction. It enqueues no build: an
//!   e-mail is free text (a question, a thank-you, a change request) that
//!   an operator reads first.
//! - [`approve_version`] makes a pending version current and live, and
//!   completes its ticket; [`reject_version`] refuses it.
//!
//! The build applies the request: [`change_request`] reads it into typed
//! edits (or [`interpret`] asks the configured LLM for the same JSON),
//! [`crate::build_site::changes`] applies them to the new version, and the
//! ticket records what was applied and what needs a human
//! (`applied_edits`, `needs_human`). An approved version's edits are
//! applied again on every later build of the site.

pub mod change_request;
pub mod interpret;

use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::{
    build_site::{BuildSite, Variant},
    queue::{EnqueueError, Enqueuer},
};

/// Longest request accepted, in characters.
pub const MAX_REQUEST_CHARS: usize = 4000;

/// A live site, as its support form sees it.
#[derive(Debug, Clone)]
pub struct SupportSite {
    /// `generated_sites.id`.
    pub id: Uuid,
    /// The business's name.
    pub name: String,
}

/// The live site at subdomain `slug` or at the verified custom domain `host`.
pub async fn site_by_host(
    pool: &PgPool,
    slug: Option<&str>,
    host: &str,
) -> Result<Option<SupportSite>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.id, p.business_name AS name FROM generated_sites s \
         JOIN prospects p ON p.public_id = s.business_id \
         WHERE (s.subdomain = $1 OR (s.custom_domain = $2 AND s.custom_domain_verified_at IS NOT NULL)) \
           AND s.status = 'live' \
         ORDER BY s.subdomain = $1 DESC LIMIT 1",
    )
    .bind(slug)
    .bind(host)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(SupportSite {
            id: r.try_get("id")?,
            name: r.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
        })
    })
    .transpose()
}

/// Why a ticket or an approval was refused.
#[derive(Debug, thiserror::Error)]
pub enum SupportError {
    /// The request is empty or too long.
    #[error("please describe the change (at most {MAX_REQUEST_CHARS} characters)")]
    BadRequest,
    /// The e-mail is not the customer's.
    #[error("this e-mail address is not the one the site was bought with")]
    NotTheCustomer,
    /// No such version.
    #[error("no such site version")]
    UnknownVersion,
    /// The version does not wait for approval.
    #[error("the version is {0}, not waiting for approval")]
    NotPending(String),
    /// Reading or writing failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The build could not be enqueued.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
}

/// An opened ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// `support_tickets.id`.
    pub id: Uuid,
}

/// Open a change request for `site_id` from `email` (which must be the
/// customer's), and enqueue its build.
pub async fn open_ticket(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    site_id: Uuid,
    email: &str,
    request: &str,
) -> Result<Ticket, SupportError> {
    let request = request.trim();
    if request.is_empty() || request.chars().count() > MAX_REQUEST_CHARS {
        return Err(SupportError::BadRequest);
    }
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "SELECT c.id AS customer_id, p.id AS prospect_id, s.variant FROM customers c \
         JOIN generated_sites s ON s.id = c.site_id \
         JOIN prospects p ON p.public_id = s.business_id \
         WHERE c.site_id = $1 AND lower(c.email) = lower($2) \
         ORDER BY c.created_at LIMIT 1",
    )
    .bind(site_id)
    .bind(email.trim())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(SupportError::NotTheCustomer)?;
    let customer_id: Uuid = row.try_get("customer_id")?;
    let prospect_id: i64 = row.try_get("prospect_id")?;
    let variant = match row.try_get::<String, _>("variant")?.as_str() {
        "rebuild" => Variant::Rebuild,
        _ => Variant::New,
    };
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO support_tickets (customer_id, site_id, request_text) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(customer_id)
    .bind(site_id)
    .bind(request)
    .fetch_one(&mut *tx)
    .await?;
    let build = BuildSite {
        prospect_id,
        variant: Some(variant),
        change_request: Some(id),
        batch: None,
        then: BuildSite::chain(),
    };
    enqueuer.enqueue(&mut tx, &build).await?;
    sqlx::query(
        "INSERT INTO activity_log (action, entity_type, entity_id, details, actor_type) \
         VALUES ('ticket.opened', 'support_ticket', $1, jsonb_build_object('site_id', $2::uuid), 'system')",
    )
    .bind(id)
    .bind(site_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ticket { id })
}

/// Longest e-mail text kept on a ticket, in characters (the rest is cut).
pub const MAX_EMAIL_CHARS: usize = 20_000;

/// A customer's e-mail to file as a ticket.
#[derive(Debug, Clone, Copy)]
pub struct EmailRequest<'a> {
    /// `customers.id`.
    pub customer_id: Uuid,
    /// The site the ticket is about (`generated_sites.id`).
    pub site_id: Uuid,
    /// The e-mail's subject.
    pub subject: Option<&'a str>,
    /// Its text (cut at [`MAX_EMAIL_CHARS`]).
    pub text: &'a str,
    /// Its Message-ID: one ticket per e-mail, however many of our mailboxes
    /// it reached.
    pub message_id: Option<&'a str>,
}

/// File a customer's e-mail as an `open` ticket (source `email`), in the
/// caller's transaction. An e-mail already filed (same Message-ID) gives
/// its ticket again.
pub async fn open_email_ticket(
    conn: &mut PgConnection,
    request: &EmailRequest<'_>,
) -> Result<Ticket, sqlx::Error> {
    let subject = request
        .subject
        .map(|s| s.trim().chars().take(255).collect::<String>())
        .filter(|s| !s.is_empty());
    let mut text: String = request.text.trim().chars().take(MAX_EMAIL_CHARS).collect();
    if text.is_empty() {
        text = subject
            .clone()
            .unwrap_or_else(|| "(an e-mail without text)".to_owned());
    }
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO support_tickets (customer_id, site_id, request_text, source, email_subject, email_message_id) \
         VALUES ($1, $2, $3, 'email', $4, $5) \
         ON CONFLICT (email_message_id) WHERE email_message_id IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(request.customer_id)
    .bind(request.site_id)
    .bind(&text)
    .bind(&subject)
    .bind(request.message_id)
    .fetch_optional(&mut *conn)
    .await?;
    let id = match inserted {
        Some(id) => id,
        None => {
            return sqlx::query_scalar("SELECT id FROM support_tickets WHERE email_message_id = $1")
                .bind(request.message_id)
                .fetch_one(&mut *conn)
                .await
                .map(|id| Ticket { id });
        }
    };
    sqlx::query(
        "INSERT INTO activity_log (action, entity_type, entity_id, details, actor_type) \
         VALUES ('ticket.opened', 'support_ticket', $1, \
                 jsonb_build_object('site_id', $2::uuid, 'source', 'email'), 'system')",
    )
    .bind(id)
    .bind(request.site_id)
    .execute(&mut *conn)
    .await?;
    Ok(Ticket { id })
}

/// What an approval changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approved {
    /// The site.
    pub site_id: Uuid,
    /// The version now current (and live, for a sold site).
    pub version_id: Uuid,
    /// Its number.
    pub version: i32,
}

async fn lock_pending(
    tx: &mut sqlx::PgConnection,
    version_id: Uuid,
) -> Result<(Uuid, i32, Option<Uuid>), SupportError> {
    let row = sqlx::query(
        "SELECT v.site_id, v.version, v.approval_status, v.change_request_id FROM site_versions v \
         JOIN generated_sites s ON s.id = v.site_id WHERE v.id = $1 FOR UPDATE OF v, s",
    )
    .bind(version_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(SupportError::UnknownVersion)?;
    let status: String = row.try_get("approval_status")?;
    if status != "pending" {
        return Err(SupportError::NotPending(status));
    }
    Ok((
        row.try_get("site_id")?,
        row.try_get("version")?,
        row.try_get("change_request_id")?,
    ))
}

/// An operator approves a pending version: it becomes the site's current
/// version and, for a live or paused site, the one served on its host; its
/// ticket is completed.
pub async fn approve_version(pool: &PgPool, version_id: Uuid) -> Result<Approved, SupportError> {
    let mut tx = pool.begin().await?;
    let (site_id, version, ticket) = lock_pending(&mut tx, version_id).await?;
    sqlx::query("UPDATE site_versions SET approval_status = 'approved', approved_at = now() WHERE id = $1")
        .bind(version_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE generated_sites s SET current_version_id = v.id, version = v.version, \
             html_content = v.html_content, css_content = v.css_content, \
             live_version_id = CASE WHEN s.status IN ('live', 'paused') THEN v.id ELSE s.live_version_id END \
         FROM site_versions v WHERE v.id = $1 AND s.id = v.site_id",
    )
    .bind(version_id)
    .execute(&mut *tx)
    .await?;
    if let Some(ticket) = ticket {
        sqlx::query(
            "UPDATE support_tickets SET status = 'completed', resolved_at = now(), resolved_by = 'human' \
             WHERE id = $1",
        )
        .bind(ticket)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO activity_log (action, entity_type, entity_id, details, actor_type) \
         VALUES ('site.change_approved', 'generated_site', $1, jsonb_build_object('version_id', $2::uuid), 'user')",
    )
    .bind(site_id)
    .bind(version_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Approved {
        site_id,
        version_id,
        version,
    })
}

/// An operator refuses a pending version; its ticket is rejected.
pub async fn reject_version(pool: &PgPool, version_id: Uuid) -> Result<(), SupportError> {
    let mut tx = pool.begin().await?;
    let (_, _, ticket) = lock_pending(&mut tx, version_id).await?;
    sqlx::query("UPDATE site_versions SET approval_status = 'rejected' WHERE id = $1")
        .bind(version_id)
        .execute(&mut *tx)
        .await?;
    if let Some(ticket) = ticket {
        sqlx::query(
            "UPDATE support_tickets SET status = 'rejected', resolved_at = now(), resolved_by = 'human' \
             WHERE id = $1",
        )
        .bind(ticket)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
