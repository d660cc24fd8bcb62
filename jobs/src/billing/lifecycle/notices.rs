//! E-mails to customers: the welcome when a site is first paid for, and a
//! reminder when its subscription goes past due.
//!
//! [`queue`] writes a `customer_notices` row (unique per site, kind and
//! cause, so a redelivered event finds the row it wrote) and enqueues
//! [`BillingTask::Notify`] in the caller's transaction: the e-mail is owed
//! exactly when the event is applied. [`send`] claims the row (`pending` →
//! `sending`) in its own transaction, sends through the send_email
//! mailboxes ([`SendEmailDeps::send_notice`]) and records `sent` with the
//! Message-ID, an `email_sent` line on the lead's timeline and an
//! `activity_log` entry. A row found `sending` is a crash mid-send: it
//! becomes `unknown` and is not sent again. A server that did not take the
//! message (4xx, connection) puts the row back to `pending` and the job is
//! retried; a 5xx, an unusable message or send_email not being configured
//! marks it `failed` with the reason.

use serde_json::json;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{BillingDeps, BillingError, BillingTask, queries};
use crate::{
    domain::EmailAddress,
    queue::EnqueueOptions,
    runtime::JobContext,
    send_email::{Language, Notice, NoticeError},
};

/// What a notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// The site was paid for the first time and is live.
    Welcome,
    /// A monthly payment failed.
    PastDue,
}

impl NoticeKind {
    /// `customer_notices.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Welcome => "welcome",
            NoticeKind::PastDue => "past_due",
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        match kind {
            "welcome" => Some(NoticeKind::Welcome),
            "past_due" => Some(NoticeKind::PastDue),
            _ => None,
        }
    }
}

/// Owe the site's customer a notice (once per `cause`), sent by a job
/// enqueued in the same transaction.
pub(super) async fn queue(
    conn: &mut PgConnection,
    ctx: &JobContext,
    site_id: Uuid,
    kind: NoticeKind,
    cause: &str,
) -> Result<(), BillingError> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO customer_notices (site_id, customer_id, kind, cause, recipient_email)
         SELECT $1, c.id, $2, $3, c.email FROM customers c
          WHERE c.site_id = $1 ORDER BY c.created_at DESC LIMIT 1
         ON CONFLICT (site_id, kind, cause) DO NOTHING
         RETURNING id",
    )
    .bind(site_id)
    .bind(kind.as_str())
    .bind(cause)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(notice_id) = id {
        ctx.enqueuer
            .enqueue_with(
                conn,
                &BillingTask::Notify { notice_id },
                EnqueueOptions::default(),
            )
            .await?;
    }
    Ok(())
}

/// What the message says, from the database.
struct Facts {
    kind: NoticeKind,
    site_id: Uuid,
    prospect_id: i64,
    business: String,
    subdomain: String,
    country: Option<String>,
    recipient: String,
    name: Option<String>,
}

/// Send notice `id` once.
pub(super) async fn send(ctx: &JobContext, deps: &BillingDeps, id: Uuid) -> Result<(), BillingError> {
    let mut tx = ctx.pool.begin().await?;
    let row = sqlx::query(
        "SELECT n.status, n.kind, n.site_id, p.id, p.business_name, s.subdomain, p.country,
                n.recipient_email, c.full_name
           FROM customer_notices n
           JOIN generated_sites s ON s.id = n.site_id
           JOIN prospects p ON p.public_id = s.business_id
           LEFT JOIN customers c ON c.id = n.customer_id
          WHERE n.id = $1
          FOR UPDATE OF n",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let status: String = row.get(0);
    match status.as_str() {
        "pending" => {}
        "sending" => {
            finish(
                &mut tx,
                id,
                "unknown",
                "a worker stopped while sending it: not sent again",
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(notice.id = %id, "a customer notice was interrupted mid-send; marked unknown");
            return Ok(());
        }
        _ => return Ok(()),
    }
    let kind: String = row.get(1);
    let Some(kind) = NoticeKind::parse(&kind) else {
        return Ok(());
    };
    let facts = Facts {
        kind,
        site_id: row.get(2),
        prospect_id: row.get(3),
        business: row.get::<Option<String>, _>(4).unwrap_or_default(),
        subdomain: row.get(5),
        country: row.get(6),
        recipient: row.get(7),
        name: row.get(8),
    };
    sqlx::query("UPDATE customer_notices SET status = 'sending' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    let Ok(to) = EmailAddress::parse(&facts.recipient) else {
        let mut tx = ctx.pool.begin().await?;
        finish(
            &mut tx,
            id,
            "failed",
            "the customer's e-mail address is not usable",
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    };
    let language = language_of(facts.country.as_deref());
    let url = deps.urls.live(&facts.subdomain);
    let sender = deps.mail.settings().sender.name.clone();
    let (subject, text) = wording(&facts, language, &url, &sender);
    let notice = Notice {
        id,
        kind: facts.kind.as_str(),
        to: &to,
        to_name: facts.name.as_deref(),
        language,
        subject: &subject,
        text: &text,
    };
    match deps.mail.send_notice(&notice).await {
        Ok(sent) => {
            let mut tx = ctx.pool.begin().await?;
            sqlx::query(
                "UPDATE customer_notices SET status = 'sent', sent_at = now(), subject = $2, message_id = $3,
                        mailbox = $4, transport_reply = $5, error_message = NULL
                  WHERE id = $1",
            )
            .bind(id)
            .bind(&subject)
            .bind(&sent.message_id)
            .bind(&sent.mailbox)
            .bind(&sent.reply)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO prospect_interactions (prospect_id, interaction_type, subject, notes)
                 VALUES ($1, 'email_sent', $2, $3)",
            )
            .bind(facts.prospect_id)
            .bind(subject.chars().take(255).collect::<String>())
            .bind(format!(
                "Customer {} e-mail sent from {} (Message-ID <{}>)",
                facts.kind.as_str(),
                sent.mailbox,
                sent.message_id
            ))
            .execute(&mut *tx)
            .await?;
            queries::activity(
                &mut tx,
                "customer.notice_sent",
                facts.site_id,
                json!({ "notice_id": id, "kind": facts.kind.as_str(), "message_id": sent.message_id }),
            )
            .await?;
            tx.commit().await?;
            tracing::info!(notice.id = %id, kind = facts.kind.as_str(), "customer notice sent");
            Ok(())
        }
        Err(NoticeError::Send(e)) if !e.is_permanent() => {
            let mut tx = ctx.pool.begin().await?;
            finish(&mut tx, id, "pending", &e.to_string()).await?;
            tx.commit().await?;
            Err(BillingError::Notice(NoticeError::Send(e)))
        }
        Err(e) => {
            let mut tx = ctx.pool.begin().await?;
            finish(&mut tx, id, "failed", &e.to_string()).await?;
            tx.commit().await?;
            tracing::warn!(notice.id = %id, error = %e, "customer notice not sent");
            Ok(())
        }
    }
}

async fn finish(conn: &mut PgConnection, id: Uuid, status: &str, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE customer_notices SET status = $2, error_message = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// French for the French-speaking countries we work in, German for the
/// German-speaking ones, English otherwise.
fn language_of(country: Option<&str>) -> Language {
    match country.map(str::to_ascii_uppercase).as_deref() {
        Some("FR" | "LU" | "BE" | "MC") => Language::Fr,
        Some("DE" | "AT" | "CH" | "LI") => Language::De,
        _ => Language::En,
    }
}

fn wording(facts: &Facts, language: Language, url: &str, sender: &str) -> (String, String) {
    let business = facts.business.trim();
    let hello = |en: &str, fr: &str, de: &str| {
        let name = facts.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        match (language, name) {
            (Language::En, Some(n)) => format!("{en} {n},"),
            (Language::Fr, Some(n)) => format!("{fr} {n},"),
            (Language::De, Some(n)) => format!("{de} {n},"),
            (Language::En, None) => format!("{en},"),
            (Language::Fr, None) => format!("{fr},"),
            (Language::De, None) => format!("{de},"),
        }
    };
    let greeting = hello("Hello", "Bonjour", "Guten Tag");
    match (facts.kind, language) {
        (NoticeKind::Welcome, Language::En) => (
            format!("{business}: your website is live"),
            format!(
                "{greeting}\n\nthank you for your payment. The website of {business} is live at {url}\n\n\
                 To ask for a change, reply to this e-mail or use the form on your site.\n\n{sender}\n"
            ),
        ),
        (NoticeKind::Welcome, Language::Fr) => (
            format!("{business} : votre site est en ligne"),
            format!(
                "{greeting}\n\nmerci pour votre paiement. Le site de {business} est en ligne : {url}\n\n\
                 Pour demander une modification, répondez à cet e-mail ou utilisez le formulaire de votre site.\n\n{sender}\n"
            ),
        ),
        (NoticeKind::Welcome, Language::De) => (
            format!("{business}: Ihre Website ist online"),
            format!(
                "{greeting}\n\nvielen Dank für Ihre Zahlung. Die Website von {business} ist online: {url}\n\n\
                 Für Änderungswünsche antworten Sie auf diese E-Mail oder nutzen Sie das Formular auf Ihrer Website.\n\n{sender}\n"
            ),
        ),
        (NoticeKind::PastDue, Language::En) => (
            format!("{business}: your monthly payment did not go through"),
            format!(
                "{greeting}\n\nthe monthly payment for the website of {business} ({url}) did not go through. \
                 Please check your card with Recurrente; the site stays online while the payment is retried.\n\n\
                 If you have a question, reply to this e-mail.\n\n{sender}\n"
            ),
        ),
        (NoticeKind::PastDue, Language::Fr) => (
            format!("{business} : votre paiement mensuel n'a pas abouti"),
            format!(
                "{greeting}\n\nle paiement mensuel du site de {business} ({url}) n'a pas abouti. \
                 Merci de vérifier votre carte auprès de Recurrente ; le site reste en ligne pendant les nouvelles tentatives.\n\n\
                 Pour toute question, répondez à cet e-mail.\n\n{sender}\n"
            ),
        ),
        (NoticeKind::PastDue, Language::De) => (
            format!("{business}: Ihre Monatszahlung ist fehlgeschlagen"),
            format!(
                "{greeting}\n\ndie Monatszahlung für die Website von {business} ({url}) ist fehlgeschlagen. \
                 Bitte prüfen Sie Ihre Karte bei Recurrente; die Website bleibt online, solange die Zahlung erneut versucht wird.\n\n\
                 Bei Fragen antworten Sie einfach auf diese E-Mail.\n\n{sender}\n"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: NoticeKind, name: Option<&str>) -> Facts {
        Facts {
            kind,
            site_id: Uuid::nil(),
            prospect_id: 1,
            business: "Boulangerie Dupont".into(),
            subdomain: "boulangerie-dupont".into(),
            country: Some("LU".into()),
            recipient: "marie@dupont.example".into(),
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn every_notice_names_the_business_and_its_live_url_in_the_customers_language() {
        let url = "https://boulangerie-dupont.sites.agency.example/";
        for kind in [NoticeKind::Welcome, NoticeKind::PastDue] {
            for language in [Language::En, Language::Fr, Language::De] {
                let (subject, text) = wording(&facts(kind, Some("Marie")), language, url, "Jane");
                assert!(subject.contains("Boulangerie Dupont"), "{subject}");
                assert!(
                    text.contains(url) && text.contains("Marie,") && text.ends_with("Jane\n"),
                    "{text}"
                );
                assert!(!subject.contains('\n'));
            }
        }
        let (_, text) = wording(&facts(NoticeKind::Welcome, None), Language::Fr, url, "Jane");
        assert!(text.starts_with("Bonjour,\n"), "{text}");
    }

    #[test]
    fn the_language_follows_the_country() {
        assert_eq!(language_of(Some("lu")), Language::Fr);
        assert_eq!(language_of(Some("DE")), Language::De);
        assert_eq!(language_of(Some("GT")), Language::En);
        assert_eq!(language_of(None), Language::En);
    }
}
