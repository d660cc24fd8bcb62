//! What one inbound message does, in one transaction: claimed in
//! `inbound_messages` (a copy already handled does nothing), then either
//! filed as a customer's support ticket or recorded against our send
//! ([`inbox::record`]: reply, bounce, complaint, auto-reply, unsubscribe),
//! and the mailbox's cursor moved past it.
//!
//! **Customer or lead?** A message is a customer's when it is a reply or a
//! plain e-mail (not a bounce, a complaint, an automatic answer or an
//! unsubscribe request) and
//! - it is a reply that points at one of our sends (token, cited
//!   Message-ID) whose lead is now a customer, or
//! - it points at no send of ours and its sender's address is a customer's.
//!
//! A reply to outreach from a lead that is not a customer stays a reply
//! (it stops the sequence), even when the sender is also a customer of
//! another site.

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::queries::{self, CustomerSite, Folder};
use crate::{
    runtime::{error_chain, is_transient_db_error},
    send_email::{
        Classified, Inbound, Tracker, classify,
        inbox::{self, Recorded},
    },
    support::{self, EmailRequest, MAX_EMAIL_CHARS},
};

/// Longest Message-ID kept (RFC 5322 lines stop at 998 characters).
const MAX_MESSAGE_ID: usize = 998;

/// An inbound message, read once: its class, its own Message-ID and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// What it is and which send it points to.
    pub classified: Classified,
    /// Its `Message-ID`, without `<>`.
    pub message_id: Option<String>,
    /// What makes two copies the same message: the Message-ID, else
    /// `sha256:` and the digest of the bytes.
    pub dedup_key: String,
    /// Its text (the plain part, else the HTML part as text), for a ticket.
    pub text: String,
}

/// `sha256:` and the hex digest of `raw`.
pub fn digest_key(raw: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(raw)))
}

/// `text` without NUL characters, which PostgreSQL refuses in text and
/// JSONB (a hostile message must not make every poll of its mailbox fail).
fn without_nul(text: &str) -> String {
    text.replace('\0', "")
}

fn strip_nul(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => *s = without_nul(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nul),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(strip_nul),
        _ => {}
    }
}

/// The classification with every NUL removed from its strings (subject,
/// sender, a bounce's diagnostic…).
fn classified_without_nul(classified: Classified) -> Classified {
    let Ok(mut value) = serde_json::to_value(&classified) else {
        return classified;
    };
    strip_nul(&mut value);
    serde_json::from_value(value).unwrap_or(classified)
}

impl Parsed {
    /// Read a raw message. Never fails: bytes that are no message are
    /// [`Inbound::Other`] with no Message-ID and no text.
    pub fn read(raw: &[u8], tracker: &Tracker) -> Self {
        let classified = classified_without_nul(classify(raw, tracker));
        let parsed = mail_parser::MessageParser::new().parse(raw);
        let message_id = parsed
            .as_ref()
            .and_then(|m| m.message_id())
            .map(|id| without_nul(id.trim().trim_start_matches('<').trim_end_matches('>').trim()))
            .filter(|id| !id.is_empty())
            .map(|id| id.chars().take(MAX_MESSAGE_ID).collect::<String>());
        let text = parsed
            .as_ref()
            .and_then(|m| m.body_text(0))
            .map(|t| without_nul(&t).chars().take(MAX_EMAIL_CHARS).collect())
            .unwrap_or_default();
        let dedup_key = message_id
            .as_ref()
            .map_or_else(|| digest_key(raw), |id| format!("id:{id}"));
        Self {
            classified,
            message_id,
            dedup_key,
            text,
        }
    }

    /// A message that could not be read at all (its parser gave up):
    /// [`Inbound::Other`], known only by the digest of its bytes.
    pub fn unreadable(dedup_key: String) -> Self {
        Self {
            classified: Classified {
                kind: Inbound::Other,
                correlation: Default::default(),
                from: None,
                subject: None,
            },
            message_id: None,
            dedup_key,
            text: String::new(),
        }
    }

    /// `inbound_messages.kind`.
    pub fn kind(&self) -> &'static str {
        match self.classified.kind {
            Inbound::Reply(_) => "reply",
            Inbound::Bounce(_) => "bounce",
            Inbound::Complaint(_) => "complaint",
            Inbound::AutoReply { .. } => "auto_reply",
            Inbound::Unsubscribe => "unsubscribe",
            Inbound::Other => "other",
        }
    }

    /// The classification in full, for `inbound_messages.detail`.
    pub fn detail(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.classified.kind).ok()
    }

    /// The subject (at most 200 characters, from the classifier).
    pub fn subject(&self) -> Option<&str> {
        self.classified.subject.as_deref()
    }
}

/// What a message did (`inbound_messages.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded against a send of ours.
    Recorded,
    /// It points at no send of ours.
    Unmatched,
    /// A customer's e-mail, now a support ticket.
    Ticket,
    /// A customer's e-mail, but the customer has no site to file it under.
    NoSite,
    /// Recording it failed for good; kept with the reason.
    Failed,
    /// Handled before (same UID, or a copy with the same Message-ID).
    Duplicate,
}

impl Outcome {
    /// The column value (a duplicate has no row of its own).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Recorded => "recorded",
            Outcome::Unmatched | Outcome::Duplicate => "unmatched",
            Outcome::Ticket => "ticket",
            Outcome::NoSite => "no_site",
            Outcome::Failed => "failed",
        }
    }
}

/// The outcome and the rows it touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// What happened.
    pub outcome: Outcome,
    /// The send it was recorded against.
    pub send: Option<Uuid>,
    /// The customer it came from.
    pub customer: Option<Uuid>,
    /// The ticket it opened.
    pub ticket: Option<Uuid>,
}

impl Done {
    fn only(outcome: Outcome) -> Self {
        Self {
            outcome,
            send: None,
            customer: None,
            ticket: None,
        }
    }
}

/// What the recording needs from the configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The domain of our Message-IDs (`send_email.message_id_domain`).
    pub message_id_domain: String,
    /// `send_email.stop_on_auto_reply`.
    pub stop_on_auto_reply: bool,
}

/// The customer whose address sent `message`.
async fn customer_by_sender(
    conn: &mut PgConnection,
    message: &Classified,
) -> Result<Option<CustomerSite>, sqlx::Error> {
    match &message.from {
        Some(from) => queries::customer_by_address(conn, from).await,
        None => Ok(None),
    }
}

/// The customer a message comes from, when it is a customer's (see the
/// module documentation).
async fn customer_of(
    conn: &mut PgConnection,
    message: &Classified,
    rules: &Rules,
) -> Result<Option<CustomerSite>, sqlx::Error> {
    match &message.kind {
        Inbound::Reply(_) => match inbox::correlated_send(conn, message, &rules.message_id_domain).await? {
            Some(send) => queries::customer_of_prospect(conn, send.prospect_id).await,
            None => customer_by_sender(conn, message).await,
        },
        Inbound::Other => customer_by_sender(conn, message).await,
        Inbound::Bounce(_) | Inbound::Complaint(_) | Inbound::AutoReply { .. } | Inbound::Unsubscribe => {
            Ok(None)
        }
    }
}

/// Claim, handle and move the cursor, on `conn` (a transaction).
async fn apply_in(
    conn: &mut PgConnection,
    folder: &Folder,
    uid: u32,
    message: &Parsed,
    rules: &Rules,
) -> Result<Done, sqlx::Error> {
    let claimed = queries::claim_message(conn, folder, uid, message, Outcome::Unmatched, None).await?;
    if !claimed {
        queries::advance_cursor(conn, folder, uid).await?;
        return Ok(Done::only(Outcome::Duplicate));
    }
    let done = match customer_of(conn, &message.classified, rules).await? {
        Some(CustomerSite {
            customer,
            site: Some(site),
        }) => {
            let ticket = support::open_email_ticket(
                conn,
                &EmailRequest {
                    customer_id: customer,
                    site_id: site,
                    subject: message.subject(),
                    text: &message.text,
                    message_id: message.message_id.as_deref(),
                },
            )
            .await?;
            Done {
                outcome: Outcome::Ticket,
                send: None,
                customer: Some(customer),
                ticket: Some(ticket.id),
            }
        }
        Some(CustomerSite { customer, site: None }) => Done {
            customer: Some(customer),
            ..Done::only(Outcome::NoSite)
        },
        None => match inbox::record(
            conn,
            &message.classified,
            &rules.message_id_domain,
            rules.stop_on_auto_reply,
        )
        .await?
        {
            Recorded::Send { send, .. } => Done {
                send: Some(send),
                ..Done::only(Outcome::Recorded)
            },
            Recorded::Unmatched => Done::only(Outcome::Unmatched),
        },
    };
    queries::complete_message(conn, folder, uid, &done).await?;
    queries::advance_cursor(conn, folder, uid).await?;
    Ok(done)
}

/// Handle message `uid` of `folder` in one transaction. A database error
/// that a retry cannot fix (a value the schema refuses) does not block the
/// mailbox: the message is kept as `failed` with the reason, and the cursor
/// moves on. Transient errors are returned (the job is retried and reads the
/// message again).
pub async fn apply(
    pool: &PgPool,
    folder: &Folder,
    uid: u32,
    message: &Parsed,
    rules: &Rules,
) -> Result<Done, sqlx::Error> {
    let mut tx = pool.begin().await?;
    match apply_in(&mut tx, folder, uid, message, rules).await {
        Ok(done) => {
            tx.commit().await?;
            Ok(done)
        }
        Err(error) if !is_transient_db_error(&error) => {
            tx.rollback().await?;
            let reason = error_chain(&error);
            tracing::warn!(imap.uid = uid, error = %reason, "an inbound message could not be recorded; kept as failed");
            let mut tx = pool.begin().await?;
            let claimed =
                queries::claim_message(&mut tx, folder, uid, message, Outcome::Failed, Some(&reason)).await?;
            queries::advance_cursor(&mut tx, folder, uid).await?;
            tx.commit().await?;
            Ok(Done::only(if claimed {
                Outcome::Failed
            } else {
                Outcome::Duplicate
            }))
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::send_email::KeyRing;

    fn tracker() -> Tracker {
        Tracker::new(
            Url::parse("https://t.agency.example/").unwrap(),
            "bounce.agency.example",
            KeyRing::new(vec![vec![0x5a; 32]]).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_message_is_known_by_its_message_id_and_keeps_its_text() {
        let raw = b"From: Ana <ana@cafe.example>\r\nTo: outreach@agency.example\r\n\
                    Subject: New opening hours\r\nMessage-ID: <abc.123@cafe.example>\r\n\
                    Content-Type: text/plain; charset=utf-8\r\n\r\nWe now open at 7:00.\r\n";
        let parsed = Parsed::read(raw, &tracker());
        assert_eq!(parsed.message_id.as_deref(), Some("abc.123@cafe.example"));
        assert_eq!(parsed.dedup_key, "id:abc.123@cafe.example");
        assert_eq!(parsed.kind(), "other");
        assert_eq!(parsed.subject(), Some("New opening hours"));
        assert_eq!(parsed.text.trim(), "We now open at 7:00.");
    }

    #[test]
    fn without_a_message_id_copies_are_known_by_their_bytes() {
        let raw = b"From: ana@cafe.example\r\nSubject: hi\r\n\r\nhello\r\n";
        let first = Parsed::read(raw, &tracker());
        let again = Parsed::read(raw, &tracker());
        let other = Parsed::read(
            b"From: ana@cafe.example\r\nSubject: hi\r\n\r\nbye\r\n",
            &tracker(),
        );
        assert_eq!(first.message_id, None);
        assert!(first.dedup_key.starts_with("sha256:"), "{}", first.dedup_key);
        assert_eq!(first.dedup_key, again.dedup_key);
        assert_ne!(first.dedup_key, other.dedup_key);
    }

    #[test]
    fn bytes_that_are_no_message_are_other() {
        let parsed = Parsed::read(b"\x00\x01 not a message at all \xff\xfe\r\n", &tracker());
        assert_eq!(parsed.classified.kind, Inbound::Other);
        assert_eq!(parsed.kind(), "other");
        assert!(parsed.text.len() <= MAX_EMAIL_CHARS);
    }

    #[test]
    fn nul_characters_never_reach_the_database() {
        let raw = "From: MAILER-DAEMON@mx.example\r\nSubject: =?utf-8?q?fail=00ed?=\r\n\
                   Message-ID: <a=00b@mx.example>\r\nX-Failed-Recipients: ann@shop.example\r\n\
                   Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   550 5.1.1 user=00 unknown\r\n";
        // The classifier decodes them (the subject's encoded word, the body).
        let decoded = classify(raw.as_bytes(), &tracker());
        assert!(
            decoded.subject.as_deref().is_some_and(|s| s.contains('\0')),
            "{decoded:?}"
        );
        let parsed = Parsed::read(raw.as_bytes(), &tracker());
        let everything = format!(
            "{}{:?}{}{}",
            serde_json::to_string(&parsed.classified).unwrap(),
            parsed.message_id,
            parsed.dedup_key,
            parsed.text
        );
        assert!(!everything.contains('\0'), "{everything:?}");
        assert!(!everything.contains("\\u0000"), "{everything}");
        assert_eq!(parsed.kind(), "bounce", "{:?}", parsed.classified);
    }

    #[test]
    fn every_kind_has_its_column_value() {
        let reply = b"From: joe@diner.example\r\nIn-Reply-To: <x@agency.example>\r\n\
                      Message-ID: <r@diner.example>\r\nSubject: Re: hi\r\n\r\nyes\r\n";
        assert_eq!(Parsed::read(reply, &tracker()).kind(), "reply");
        let unreadable = Parsed::unreadable(digest_key(b"x"));
        assert_eq!(unreadable.kind(), "other");
        assert_eq!(Outcome::Duplicate.as_str(), "unmatched");
        for outcome in [
            Outcome::Recorded,
            Outcome::Unmatched,
            Outcome::Ticket,
            Outcome::NoSite,
            Outcome::Failed,
        ] {
            // The values of inbound_messages_outcome_check.
            assert!(
                ["recorded", "unmatched", "ticket", "no_site", "failed"].contains(&outcome.as_str()),
                "{outcome:?}"
            );
        }
    }
}
