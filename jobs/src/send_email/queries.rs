//! The SQL of the send_email stage and of the tracking endpoints.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::stage::SendEmail;
use crate::domain::EmailAddress;

/// The send recorded for a job's key, locked: its id and status.
pub async fn existing_send(
    conn: &mut PgConnection,
    job: &SendEmail,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, status FROM campaigns
         WHERE prospect_id = $1 AND outreach_campaign_id = $2 AND step = $3
         FOR UPDATE",
    )
    .bind(job.prospect_id)
    .bind(job.campaign_id)
    .bind(job.step)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| (r.get("id"), r.get("status"))))
}

/// A send found `sending` by a retry: its outcome is unknown (a crash
/// mid-send); an operator decides, nothing re-sends it.
pub async fn mark_unknown(
    conn: &mut PgConnection,
    id: Uuid,
    prospect_id: i64,
    job_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaigns SET status = 'unknown',
             error_message = 'outcome unknown: job ' || $2 || ' found the send still in flight (a crash mid-send?); not sent again, an operator must check the mailbox'
         WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    interaction(
        conn,
        prospect_id,
        "note",
        Some("E-mail outcome unknown"),
        "A send was interrupted after it was handed to the mail server; check the mailbox's Sent folder. It will not be sent again.",
        Some(id),
    )
    .await
}

/// A send whose connection failed mid-session: `unknown`, with the reason.
pub async fn mark_unknown_with(
    conn: &mut PgConnection,
    id: Uuid,
    prospect_id: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaigns SET status = 'unknown', error_message = $2 WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    interaction(
        conn,
        prospect_id,
        "note",
        Some("E-mail outcome unknown"),
        reason,
        Some(id),
    )
    .await
}

/// One step of a campaign.
#[derive(Debug, Clone)]
pub struct StepRow {
    /// `campaign_templates.name`.
    pub template_name: String,
    /// Business days after the previous step.
    pub after_business_days: i32,
    /// The campaign's status.
    pub campaign_status: String,
}

/// Step `step` of `campaign_id`.
pub async fn campaign_step(
    conn: &mut PgConnection,
    campaign_id: i64,
    step: i16,
) -> Result<Option<StepRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.template_name, s.after_business_days, c.status
         FROM outreach_steps s JOIN outreach_campaigns c ON c.id = s.campaign_id
         WHERE s.campaign_id = $1 AND s.step = $2",
    )
    .bind(campaign_id)
    .bind(step)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| StepRow {
        template_name: r.get(0),
        after_business_days: r.get(1),
        campaign_status: r.get(2),
    }))
}

/// What a message says about a lead.
#[derive(Debug, Clone)]
pub struct Lead {
    /// Name.
    pub business_name: Option<String>,
    /// Domain.
    pub domain_name: Option<String>,
    /// City.
    pub city: Option<String>,
    /// ISO country.
    pub country: Option<String>,
    /// Address.
    pub email: Option<String>,
    /// Opportunity score.
    pub score: Option<i32>,
    /// The score's flags.
    pub reason_flags: Option<serde_json::Value>,
    /// Its ready generated site.
    pub site_id: Option<Uuid>,
    /// The site's preview token.
    pub preview_token: Option<String>,
    /// The site's desktop screenshot.
    pub screenshot_url: Option<String>,
}

/// The lead, its score and its ready site.
pub async fn lead(conn: &mut PgConnection, prospect_id: i64) -> Result<Option<Lead>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT p.business_name, p.domain_name, p.city, p.country, p.email,
                s.score, s.reason_flags, g.id AS site_id, g.preview_token, g.screenshot_desktop_url
         FROM prospects p
         LEFT JOIN prospect_scores s ON s.prospect_id = p.id
         LEFT JOIN LATERAL (
             SELECT id, preview_token, screenshot_desktop_url FROM generated_sites
             WHERE business_id = p.public_id AND ready_at IS NOT NULL
             ORDER BY ready_at DESC LIMIT 1
         ) g ON true
         WHERE p.id = $1",
    )
    .bind(prospect_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Lead {
        business_name: r.get("business_name"),
        domain_name: r.get("domain_name"),
        city: r.get("city"),
        country: r.get("country"),
        email: r.get("email"),
        score: r.get("score"),
        reason_flags: r.get("reason_flags"),
        site_id: r.get("site_id"),
        preview_token: r.get("preview_token"),
        screenshot_url: r.get("screenshot_desktop_url"),
    }))
}

/// Why the lead has left the sequence, if it has.
pub async fn sequence_stop(
    conn: &mut PgConnection,
    job: &SendEmail,
    stop_on_click: bool,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CASE
             WHEN p.contact_status IN ('replied', 'unsubscribed', 'bounced', 'purchased')
                 THEN 'the lead has ' || p.contact_status
             WHEN p.status = 'converted' THEN 'the lead has purchased'
             WHEN $4 AND p.contact_status = 'clicked' THEN 'the lead clicked'
             WHEN EXISTS (
                 SELECT 1 FROM campaigns c
                 WHERE c.prospect_id = p.id AND c.outreach_campaign_id = $2 AND c.step < $3
                   AND c.status IN ('replied', 'bounced', 'complained', 'converted')
             ) THEN 'an earlier step was answered, bounced or complained about'
         END
         FROM prospects p WHERE p.id = $1",
    )
    .bind(job.prospect_id)
    .bind(job.campaign_id)
    .bind(job.step)
    .bind(stop_on_click)
    .fetch_optional(&mut *conn)
    .await
    .map(Option::flatten)
}

/// A send that is not an e-mail leaving (cancelled, refused, failed, or
/// routed to another channel), recorded under the job's key with its reason.
pub async fn record_outcome(
    conn: &mut PgConnection,
    job: &SendEmail,
    channel: &str,
    status: &str,
    reason: &str,
    template_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO campaigns (prospect_id, template_id, channel, subject_line, email_body, status,
                                error_message, outreach_campaign_id, step)
         VALUES ($1, $2, $3, '', '', $4, $5, $6, $7)
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(job.prospect_id)
    .bind(template_id)
    .bind(channel)
    .bind(status)
    .bind(reason)
    .bind(job.campaign_id)
    .bind(job.step)
    .fetch_optional(&mut *conn)
    .await?;
    if channel != "email" {
        interaction(conn, job.prospect_id, "note", Some("Not e-mailed"), reason, id).await?;
    }
    Ok(())
}

/// Why the address (or its domain) is suppressed, if it is.
pub async fn suppressed(
    conn: &mut PgConnection,
    address: &EmailAddress,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT kind || ' ' || value || ' is suppressed (' || reason || ')' FROM suppressions
         WHERE (kind = 'address' AND value = lower($1)) OR (kind = 'domain' AND value = lower($2))
         ORDER BY kind LIMIT 1",
    )
    .bind(address.as_str())
    .bind(address.domain())
    .fetch_optional(&mut *conn)
    .await
}

/// Whether the lead's consent to e-mail is recorded (and not withdrawn).
pub async fn has_consent(conn: &mut PgConnection, prospect_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM prospect_consents
                        WHERE prospect_id = $1 AND channel = 'email' AND withdrawn_at IS NULL)",
    )
    .bind(prospect_id)
    .fetch_one(&mut *conn)
    .await
}

/// A stored template.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Subject.
    pub subject: String,
    /// Text body.
    pub body: String,
    /// HTML body.
    pub body_html: Option<String>,
}

/// The active e-mail template `name` in `language`, else English, else any.
pub async fn template(
    conn: &mut PgConnection,
    name: &str,
    language: &str,
) -> Result<Option<TemplateRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, name, language, subject_template, body_template, body_html_template
         FROM campaign_templates
         WHERE name = $1 AND is_active AND channel = 'email'
         ORDER BY (language = $2) DESC, (language = 'en') DESC, language
         LIMIT 1",
    )
    .bind(name)
    .bind(language)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| TemplateRow {
        id: r.get(0),
        name: r.get(1),
        language: r.get(2),
        subject: r.get(3),
        body: r.get(4),
        body_html: r.get(5),
    }))
}

/// A mailbox's shared state.
#[derive(Debug, Clone, Default)]
pub struct MailboxRow {
    /// Its first sending day.
    pub first_send_on: Option<NaiveDate>,
    /// Its last claimed send.
    pub last_send_at: Option<DateTime<Utc>>,
    /// Paused since.
    pub paused_at: Option<DateTime<Utc>>,
    /// Why.
    pub paused_reason: Option<String>,
    /// Sends claimed per local day (recent days).
    pub days: HashMap<NaiveDate, i64>,
}

impl MailboxRow {
    /// Sends claimed on `day`.
    pub fn sent_on(&self, day: NaiveDate) -> i64 {
        self.days.get(&day).copied().unwrap_or(0)
    }
}

/// Create the mailboxes' rows if needed and lock them all (in address
/// order, so two senders never deadlock), with their recent day counts.
pub async fn lock_mailboxes(
    conn: &mut PgConnection,
    addresses: &[String],
    now: DateTime<Utc>,
) -> Result<HashMap<String, MailboxRow>, sqlx::Error> {
    sqlx::query("INSERT INTO email_mailboxes (address) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING")
        .bind(addresses)
        .execute(&mut *conn)
        .await?;
    let rows = sqlx::query(
        "SELECT address, first_send_on, last_send_at, paused_at, paused_reason
         FROM email_mailboxes WHERE address = ANY($1) ORDER BY address FOR UPDATE",
    )
    .bind(addresses)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: HashMap<String, MailboxRow> = rows
        .into_iter()
        .map(|r| {
            (
                r.get::<String, _>(0),
                MailboxRow {
                    first_send_on: r.get(1),
                    last_send_at: r.get(2),
                    paused_at: r.get(3),
                    paused_reason: r.get(4),
                    days: HashMap::new(),
                },
            )
        })
        .collect();
    let since = (now - chrono::Duration::days(2)).date_naive();
    let days = sqlx::query(
        "SELECT address, day, sent FROM email_mailbox_days WHERE address = ANY($1) AND day >= $2",
    )
    .bind(addresses)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    for r in days {
        let address: String = r.get(0);
        if let Some(row) = out.get_mut(&address) {
            row.days.insert(r.get(1), i64::from(r.get::<i32, _>(2)));
        }
    }
    Ok(out)
}

/// The Message-ID of the step before this one (to thread under it).
pub async fn previous_message_id(
    conn: &mut PgConnection,
    job: &SendEmail,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT message_id FROM campaigns
         WHERE prospect_id = $1 AND outreach_campaign_id = $2 AND step < $3 AND message_id IS NOT NULL
         ORDER BY step DESC LIMIT 1",
    )
    .bind(job.prospect_id)
    .bind(job.campaign_id)
    .bind(job.step)
    .fetch_optional(&mut *conn)
    .await
}

/// What a claim stores.
#[derive(Debug)]
pub struct Claim<'a> {
    /// The send's id (names its tokens and Message-ID).
    pub id: Uuid,
    /// The job.
    pub job: &'a SendEmail,
    /// The template.
    pub template_id: i64,
    /// The lead's site.
    pub site_id: Option<Uuid>,
    /// Rendered subject.
    pub subject: &'a str,
    /// Rendered text body.
    pub body: &'a str,
    /// The recipient.
    pub recipient: &'a str,
    /// The Message-ID.
    pub message_id: &'a str,
    /// The mailbox.
    pub mailbox: &'a str,
    /// Lawful basis.
    pub lawful_basis: &'a str,
    /// The job id.
    pub job_id: &'a str,
    /// Click targets.
    pub links: serde_json::Value,
    /// Transport name.
    pub provider: &'a str,
    /// The Message-ID followed.
    pub in_reply_to: Option<&'a str>,
}

/// Insert the send as `sending`; false when the key (or the template for
/// this lead) is taken already.
pub async fn claim(conn: &mut PgConnection, c: &Claim<'_>) -> Result<bool, sqlx::Error> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO campaigns (id, prospect_id, site_id, template_id, channel, subject_line, email_body,
                                recipient_email, status, message_id, mailbox, lawful_basis, claimed_at,
                                claimed_by_job, tracked_links, email_provider, outreach_campaign_id, step,
                                in_reply_to)
         VALUES ($1, $2, $3, $4, 'email', $5, $6, $7, 'sending', $8, $9, $10, now(), $11, $12, $13, $14, $15, $16)
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(c.id)
    .bind(c.job.prospect_id)
    .bind(c.site_id)
    .bind(c.template_id)
    .bind(c.subject)
    .bind(c.body)
    .bind(c.recipient)
    .bind(c.message_id)
    .bind(c.mailbox)
    .bind(c.lawful_basis)
    .bind(c.job_id)
    .bind(&c.links)
    .bind(c.provider)
    .bind(c.job.campaign_id)
    .bind(c.job.step)
    .bind(c.in_reply_to)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id.is_some())
}

/// Count a claimed send against the mailbox's day and gap.
pub async fn count_send(
    conn: &mut PgConnection,
    address: &str,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_mailboxes SET last_send_at = $3, first_send_on = coalesce(first_send_on, $2)
         WHERE address = $1",
    )
    .bind(address)
    .bind(day)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO email_mailbox_days (address, day, sent) VALUES ($1, $2, 1)
         ON CONFLICT (address, day) DO UPDATE SET sent = email_mailbox_days.sent + 1",
    )
    .bind(address)
    .bind(day)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The server took the message: `sent`, on the timeline, lead contacted.
/// Returns when it was sent.
pub async fn mark_sent(
    conn: &mut PgConnection,
    id: Uuid,
    prospect_id: i64,
    reply: &str,
    subject: &str,
    step: i16,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE campaigns SET status = 'sent', sent_at = now(), transport_reply = $2, error_message = NULL
         WHERE id = $1 AND status IN ('sending', 'unknown')
         RETURNING sent_at, message_id, mailbox",
    )
    .bind(id)
    .bind(reply.chars().take(1000).collect::<String>())
    .fetch_optional(&mut *conn)
    .await?;
    let (sent_at, message_id, mailbox): (DateTime<Utc>, Option<String>, Option<String>) = match row {
        Some(r) => (r.get(0), r.get(1), r.get(2)),
        None => (Utc::now(), None, None),
    };
    interaction(
        conn,
        prospect_id,
        "email_sent",
        Some(&subject.chars().take(255).collect::<String>()),
        &format!(
            "Step {step} sent from {} (Message-ID <{}>)",
            mailbox.unwrap_or_default(),
            message_id.unwrap_or_default()
        ),
        Some(id),
    )
    .await?;
    sqlx::query(
        "UPDATE prospects SET last_contacted_at = now(),
             contact_status = CASE WHEN contact_status = 'pending' THEN 'emailed' ELSE contact_status END
         WHERE id = $1",
    )
    .bind(prospect_id)
    .execute(&mut *conn)
    .await?;
    Ok(sent_at)
}

/// The server refused the message for good.
pub async fn mark_failed(conn: &mut PgConnection, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaigns SET status = 'failed', error_message = $2 WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The server said it did not take the message: drop the claim and its
/// count, so the retry claims again.
pub async fn release_claim(
    conn: &mut PgConnection,
    id: Uuid,
    address: &str,
    day: NaiveDate,
) -> Result<(), sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM campaigns WHERE id = $1 AND status = 'sending'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if deleted.rows_affected() > 0 {
        sqlx::query(
            "UPDATE email_mailbox_days SET sent = greatest(sent - 1, 0) WHERE address = $1 AND day = $2",
        )
        .bind(address)
        .bind(day)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stop using a mailbox until someone looks (its credentials or TLS failed).
pub async fn pause_mailbox(conn: &mut PgConnection, address: &str, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE email_mailboxes SET paused_at = now(), paused_reason = $2 WHERE address = $1")
        .bind(address)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A line on the lead's timeline.
pub async fn interaction(
    conn: &mut PgConnection,
    prospect_id: i64,
    kind: &str,
    subject: Option<&str>,
    notes: &str,
    send_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO prospect_interactions (prospect_id, interaction_type, subject, notes, send_id)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(prospect_id)
    .bind(kind)
    .bind(subject)
    .bind(notes)
    .bind(send_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A send as the tracking endpoints see it.
#[derive(Debug, Clone)]
pub struct TrackedSend {
    /// The lead.
    pub prospect_id: i64,
    /// When it left (none: not sent yet).
    pub sent_at: Option<DateTime<Utc>>,
    /// The recipient.
    pub recipient: Option<String>,
    /// Its click targets.
    pub links: super::tracking::TrackedLinks,
}

/// The send a verified token names, if it exists.
pub async fn tracked_send(conn: &mut PgConnection, id: Uuid) -> Result<Option<TrackedSend>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT prospect_id, sent_at, recipient_email, tracked_links FROM campaigns WHERE id = $1 AND channel = 'email'",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| TrackedSend {
        prospect_id: r.get(0),
        sent_at: r.get(1),
        recipient: r.get(2),
        links: serde_json::from_value(r.get::<serde_json::Value, _>(3)).unwrap_or_default(),
    }))
}

/// Distinct links of a send clicked within the last second (a scanner
/// follows them all at once).
pub async fn distinct_recent_clicks(conn: &mut PgConnection, id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(DISTINCT link_index) FROM email_events
         WHERE send_id = $1 AND kind = 'click' AND occurred_at > now() - interval '1 second'",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
}

/// A tracking hit: an open or a click.
#[derive(Debug, Clone, Copy)]
pub struct HitRecord<'a> {
    /// The send.
    pub send_id: Uuid,
    /// Its lead.
    pub prospect_id: i64,
    /// `open` or `click`.
    pub kind: &'a str,
    /// The link's index (clicks).
    pub link: Option<i16>,
    /// The link's target (clicks).
    pub url: Option<&'a str>,
    /// Why it is a machine's, when it is.
    pub machine: Option<&'a str>,
    /// The User-Agent.
    pub user_agent: Option<&'a str>,
}

/// Record a hit; a person's (not a machine's) also counts on the send, the
/// lead's contact status and its timeline.
pub async fn record_hit(conn: &mut PgConnection, hit: &HitRecord<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO email_events (send_id, prospect_id, kind, link_index, url, machine, machine_reason, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, left($8, 500))",
    )
    .bind(hit.send_id)
    .bind(hit.prospect_id)
    .bind(hit.kind)
    .bind(hit.link)
    .bind(hit.url)
    .bind(hit.machine.is_some())
    .bind(hit.machine)
    .bind(hit.user_agent)
    .execute(&mut *conn)
    .await?;
    if hit.machine.is_some() {
        return Ok(());
    }
    let click = hit.kind == "click";
    let (interaction_type, subject) = if click {
        ("email_clicked", "Link clicked")
    } else {
        ("email_opened", "E-mail opened")
    };
    // Statuses only move forward: sent → opened → clicked.
    sqlx::query(
        "UPDATE campaigns SET
             opened_count = opened_count + CASE WHEN $2 THEN 0 ELSE 1 END,
             opened_at = CASE WHEN $2 THEN opened_at ELSE coalesce(opened_at, now()) END,
             clicked_count = clicked_count + CASE WHEN $2 THEN 1 ELSE 0 END,
             clicked_at = CASE WHEN $2 THEN coalesce(clicked_at, now()) ELSE clicked_at END,
             status = CASE
                 WHEN $2 AND status IN ('sent', 'delivered', 'opened') THEN 'clicked'
                 WHEN NOT $2 AND status IN ('sent', 'delivered') THEN 'opened'
                 ELSE status END
         WHERE id = $1",
    )
    .bind(hit.send_id)
    .bind(click)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE prospects SET contact_status = CASE
             WHEN $2 AND contact_status IN ('pending', 'emailed', 'opened') THEN 'clicked'
             WHEN NOT $2 AND contact_status IN ('pending', 'emailed') THEN 'opened'
             ELSE contact_status END
         WHERE id = $1",
    )
    .bind(hit.prospect_id)
    .bind(click)
    .execute(&mut *conn)
    .await?;
    let notes = hit.url.map_or_else(String::new, |u| format!("Clicked {u}"));
    interaction(
        conn,
        hit.prospect_id,
        interaction_type,
        Some(subject),
        &notes,
        Some(hit.send_id),
    )
    .await
}

/// One-click unsubscribe: the send's recipient is suppressed (idempotent),
/// the lead marked unsubscribed, the event and the timeline written.
/// Returns the suppressed address.
pub async fn unsubscribe(
    conn: &mut PgConnection,
    send: Uuid,
    prospect_id: i64,
    recipient: &str,
    how: &str,
) -> Result<(), sqlx::Error> {
    let address = recipient.trim().to_lowercase();
    let new = sqlx::query(
        "INSERT INTO suppressions (kind, value, reason, source_send_id, note)
         VALUES ('address', $1, 'unsubscribe', $2, $3)
         ON CONFLICT (kind, value) DO NOTHING",
    )
    .bind(&address)
    .bind(send)
    .bind(how)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if !new {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO email_events (send_id, prospect_id, kind, detail) VALUES ($1, $2, 'unsubscribe', jsonb_build_object('how', $3::text))",
    )
    .bind(send)
    .bind(prospect_id)
    .bind(how)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE prospects SET contact_status = 'unsubscribed' WHERE id = $1")
        .bind(prospect_id)
        .execute(&mut *conn)
        .await?;
    interaction(
        conn,
        prospect_id,
        "email_unsubscribed",
        Some("Unsubscribed"),
        &format!("{address} unsubscribed ({how}); it is never e-mailed again"),
        Some(send),
    )
    .await
}
