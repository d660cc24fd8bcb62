//! The inbox poller on real servers: a campaign's first step goes out
//! through aiosmtpd, the answers land in a real Dovecot mailbox, and the
//! `poll_inbox` job (enqueued by the scheduler's slot, run by the worker)
//! records them once: a reply stops the follow-up, an RFC 3464 hard bounce
//! suppresses the address, a second poll (after the server renumbered the
//! folder and a copy arrived again) records nothing new. A customer's
//! e-mail opens a support ticket; a refused login fails the job once.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use prospector::{
    config::{ScheduleSpec, ScheduledJob, Settings},
    scheduler::{Fired, Scheduler},
};
use prospector_jobs::{
    Handler, Stage,
    domain::EmailAddress,
    poll_inbox::{PollInbox, PollInboxDeps},
    send_email::{
        SendEmail, SendEmailDeps,
        settings::ServerSettings,
        smtp::Security,
        testing::{DOVECOT_PASSWORD, DOVECOT_USER, Dovecot, SmtpSink},
    },
};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, count, job_state, wait_for},
    send_email::{
        KEYS, anns_hard_bounce, configure, create_template, dkim_key, first_send, joes_reply, lead,
        post_json, test_tracker,
    },
};

/// The variable the test mailbox's IMAP password is read from.
const IMAP_PASSWORD_ENV: &str = "PROSPECTOR_TEST_IMAP_PASSWORD";

/// The first mailbox reads `dovecot`'s INBOX and moves what it handled to
/// `Processed`; `password` is what the configuration's variable holds.
fn read_from(s: &mut Settings, dovecot: &Dovecot, password: &str) {
    let e = s.of_mut::<SendEmail>();
    e.secrets.set("PROSPECTOR_TRACKING_KEYS", KEYS);
    e.secrets.set(IMAP_PASSWORD_ENV, password);
    e.mailboxes[0].imap = Some(ServerSettings {
        host: "127.0.0.1".into(),
        port: Some(dovecot.imap_port()),
        security: Some(Security::Plain),
        username: Some(DOVECOT_USER.into()),
        password_env: Some(IMAP_PASSWORD_ENV.into()),
        timeout: Duration::from_secs(10),
        pool_size: 1,
        extra_root_certificates: None,
        folder: "INBOX".into(),
        processed_folder: Some("Processed".into()),
    });
}

/// The `poll-inboxes` schedule over the app's (adjusted) mailboxes.
fn poll_schedule(app: &TestApp) -> ScheduleSpec {
    ScheduleSpec {
        name: "poll-inboxes".into(),
        job: ScheduledJob::PollInboxes {
            mailboxes: PollInboxDeps::polled_mailboxes(app.app.settings.of::<SendEmail>()),
        },
        cron: "0 */5 * * * *".parse().unwrap(),
        tz: "Europe/Luxembourg".parse().unwrap(),
    }
}

/// Fire one slot of `spec` as the scheduler does.
async fn fire(app: &TestApp, spec: &ScheduleSpec, minute: u32) {
    let scheduler = Scheduler::new(
        app.pool().clone(),
        app.app.enqueuer.clone(),
        vec![spec.clone()],
        Duration::ZERO,
        "test".into(),
    );
    let slot = Utc.with_ymd_and_hms(2026, 12, 4, 10, minute, 0).unwrap();
    assert_eq!(scheduler.fire(spec, slot).await.unwrap(), Fired::Claimed);
}

async fn polls_done(pool: &PgPool) -> i64 {
    count(
        pool,
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'poll_inbox' AND status = 'Done'",
    )
    .await
}

async fn wait_polls_done(pool: &PgPool, n: i64) {
    wait_for(
        Duration::from_secs(30),
        "the poll_inbox jobs to finish",
        || async { polls_done(pool).await == n },
    )
    .await;
}

/// (kind, outcome, send) of every inbound message, by UID.
async fn inbound(pool: &PgPool) -> Vec<(String, String, Option<Uuid>, bool)> {
    sqlx::query_as(
        "SELECT kind, outcome, send_id, finished_at IS NOT NULL FROM inbound_messages ORDER BY uidvalidity, uid",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_polled_reply_stops_the_follow_up_and_a_polled_hard_bounce_suppresses_once() {
    // Arrange: two leads get step 1 of a two-step campaign through SMTP.
    let sink = SmtpSink::start().await.unwrap();
    let dovecot = Dovecot::start().await.unwrap();
    let key = dkim_key();
    let (smtp, key_path) = (sink.addr(), key.path.clone());
    let app = TestApp::spawn_with(|s| {
        configure(s, smtp, &key_path);
        read_from(s, &dovecot, DOVECOT_PASSWORD);
    })
    .await;
    let pool = app.pool();
    let joe = lead(pool, "Joe's Diner", "joe@joesdiner.example", "US").await;
    let ann = lead(pool, "Ann's Bakery", "ann@annsbakery.example", "US").await;
    create_template(&app, "first-touch").await;
    create_template(&app, "bump").await;
    let started: Value = post_json(
        &app,
        "/api/outreach/campaigns",
        &json!({
            "name": "spring",
            "steps": [{ "template": "first-touch" }, { "template": "bump", "after_business_days": 2 }],
            "filter": { "tier": "hot" }
        }),
    )
    .await
    .json()
    .await
    .unwrap();
    let campaign_id = started["campaign_id"].as_i64().unwrap();
    app.start_workers(&[Stage::SendEmail, Stage::PollInbox]);
    wait_for(Duration::from_secs(30), "both first steps to be sent", || async {
        count(pool, "SELECT count(*) FROM campaigns WHERE status = 'sent'").await == 2
    })
    .await;
    let (joe_send, joe_message) = first_send(pool, joe).await;
    let (ann_send, ann_message) = first_send(pool, ann).await;
    let tracker = test_tracker();

    // Joe answers; Ann's server bounces for good (RFC 3464); and bytes that
    // are no message at all.
    let reply = joes_reply(&joe_message);
    let dsn = anns_hard_bounce(&tracker, ann_send, &ann_message);
    for raw in [
        reply.as_bytes(),
        dsn.as_bytes(),
        b"\x00\x01 not a message at all \xff\xfe\r\n",
    ] {
        dovecot.append("INBOX", raw).await.unwrap();
    }

    // Act: the scheduler's slot enqueues the mailbox's poll; the worker runs it.
    let spec = poll_schedule(&app);
    fire(&app, &spec, 0).await;
    wait_polls_done(pool, 1).await;

    // Assert: three messages, each recorded once and moved on the server.
    assert_eq!(
        inbound(pool).await,
        vec![
            ("reply".into(), "recorded".into(), Some(joe_send), true),
            ("bounce".into(), "recorded".into(), Some(ann_send), true),
            ("other".into(), "unmatched".into(), None, true),
        ]
    );
    assert_eq!(dovecot.maildir_files("INBOX").len(), 0);
    assert_eq!(dovecot.maildir_files("Processed").len(), 3);
    let (uidvalidity, last_uid): (i64, i64) = sqlx::query_as(
        "SELECT uidvalidity, last_uid FROM mailbox_cursors WHERE mailbox = 'outreach@agency.example'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(last_uid, 3);
    let events = "SELECT count(*) FROM email_events";
    assert_eq!(count(pool, events).await, 2);
    assert_eq!(
        count(pool, "SELECT count(*) FROM email_events WHERE kind = 'reply'").await,
        1
    );
    let received = "SELECT count(*) FROM prospect_interactions WHERE interaction_type = 'email_received'";
    assert_eq!(count(pool, received).await, 1);
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM prospects WHERE contact_status = 'replied'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM suppressions WHERE value = 'ann@annsbakery.example' AND reason = 'hard_bounce'"
        )
        .await,
        1
    );
    assert_eq!(count(pool, "SELECT count(*) FROM suppressions").await, 1);
    assert_eq!(
        count(pool, "SELECT count(*) FROM campaigns WHERE status = 'bounced'").await,
        1
    );

    // The follow-ups (due in two business days) run now: neither is sent.
    let deps = SendEmailDeps::new(
        app.app.settings.of::<SendEmail>().clone(),
        app.app.settings.web.clone(),
    );
    for prospect_id in [joe, ann] {
        SendEmail {
            prospect_id,
            campaign_id,
            step: 2,
        }
        .handle(&app.job_context(), &deps)
        .await
        .unwrap();
    }
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM campaigns WHERE step = 2 AND status IN ('sent', 'sending')"
        )
        .await,
        0
    );

    // Act again: the server renumbers the folder (a new UIDVALIDITY, as
    // the cursor sees it) and Joe's reply arrives a second time.
    sqlx::query("UPDATE mailbox_cursors SET uidvalidity = uidvalidity + 1")
        .execute(pool)
        .await
        .unwrap();
    dovecot.append("INBOX", reply.as_bytes()).await.unwrap();
    fire(&app, &spec, 5).await;
    wait_polls_done(pool, 2).await;

    // Assert: nothing new was recorded; the copy was read and moved.
    assert_eq!(count(pool, "SELECT count(*) FROM inbound_messages").await, 3);
    assert_eq!(count(pool, events).await, 2);
    assert_eq!(count(pool, received).await, 1);
    assert_eq!(count(pool, "SELECT count(*) FROM suppressions").await, 1);
    let cursor: (i64, i64) = sqlx::query_as("SELECT uidvalidity, last_uid FROM mailbox_cursors")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        cursor,
        (uidvalidity, 4),
        "back to the server's UIDVALIDITY, past the copy"
    );
    assert_eq!(dovecot.maildir_files("INBOX").len(), 0);
    assert_eq!(dovecot.maildir_files("Processed").len(), 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 2, "only the two first steps left");
}

/// id, customer, site, status, text, e-mail subject, e-mail Message-ID.
type TicketRow = (Uuid, Uuid, Uuid, String, String, Option<String>, Option<String>);

#[tokio::test]
async fn an_e_mail_from_a_customers_address_opens_a_support_ticket() {
    // Arrange: a customer with a live site, and two e-mails in the mailbox:
    // the customer's (its address in another case) and a stranger's.
    let dovecot = Dovecot::start().await.unwrap();
    let app = TestApp::spawn_with(|s| read_from(s, &dovecot, DOVECOT_PASSWORD)).await;
    let pool = app.pool();
    sqlx::raw_sql(
        "INSERT INTO prospects (id, public_id, business_name, domain_name, contact_status) OVERRIDING SYSTEM VALUE
             VALUES (1, '10000000-0000-0000-0000-000000000001', 'Café Ana', 'cafe-ana.example', 'purchased');
         INSERT INTO generated_sites (id, business_id, subdomain, html_content, status)
             VALUES ('20000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000001', 'cafe-ana', '<html>', 'live');
         INSERT INTO customers (id, business_id, site_id, email)
             VALUES ('30000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000001',
                     '20000000-0000-0000-0000-000000000001', 'ana@cafe-ana.example');",
    )
    .execute(pool)
    .await
    .unwrap();
    let from_customer = "From: Ana <Ana@Cafe-Ana.example>\r\nTo: outreach@agency.example\r\n\
         Subject: New opening hours\r\nMessage-ID: <hours-1@cafe-ana.example>\r\n\
         Date: Fri, 04 Dec 2026 09:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Hello, from Monday we open at 7:00. Please change it on the site.\r\n";
    let from_stranger = "From: someone@elsewhere.example\r\nTo: outreach@agency.example\r\n\
         Subject: Hello\r\nMessage-ID: <x-1@elsewhere.example>\r\n\r\nJust saying hi.\r\n";
    for raw in [from_customer, from_stranger] {
        dovecot.append("INBOX", raw.as_bytes()).await.unwrap();
    }

    // Act
    app.start_workers(&[Stage::PollInbox]);
    let job = app
        .enqueue(&PollInbox {
            mailbox: EmailAddress::parse("outreach@agency.example").unwrap(),
        })
        .await;
    wait_for(Duration::from_secs(30), "the poll to finish", || async {
        job_state(pool, &job).await.status == "Done"
    })
    .await;

    // Assert: one ticket, from e-mail, with the subject, text and Message-ID.
    let tickets: Vec<TicketRow> = sqlx::query_as(
        "SELECT id, customer_id, site_id, status, request_text, email_subject, email_message_id
         FROM support_tickets WHERE source = 'email'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let (ticket, customer, site, status, text, subject, message_id) = tickets[0].clone();
    assert_eq!(
        customer,
        Uuid::parse_str("30000000-0000-0000-0000-000000000001").unwrap()
    );
    assert_eq!(
        site,
        Uuid::parse_str("20000000-0000-0000-0000-000000000001").unwrap()
    );
    assert_eq!(status, "open");
    assert_eq!(
        text,
        "Hello, from Monday we open at 7:00. Please change it on the site."
    );
    assert_eq!(subject.as_deref(), Some("New opening hours"));
    assert_eq!(message_id.as_deref(), Some("hours-1@cafe-ana.example"));
    assert_eq!(count(pool, "SELECT count(*) FROM support_tickets").await, 1);
    let rows: Vec<(String, String, Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "SELECT message_id, outcome, customer_id, ticket_id FROM inbound_messages ORDER BY uid",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "hours-1@cafe-ana.example".into(),
                "ticket".into(),
                Some(customer),
                Some(ticket)
            ),
            ("x-1@elsewhere.example".into(), "unmatched".into(), None, None),
        ]
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM activity_log WHERE action = 'ticket.opened'"
        )
        .await,
        1
    );
    // An e-mail is read by an operator first: no build was enqueued.
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'build_site'"
        )
        .await,
        0
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM email_events").await,
        0,
        "a customer's e-mail is not an outreach event"
    );
}

#[tokio::test]
async fn a_refused_imap_login_fails_the_poll_once_and_names_the_mailbox() {
    // Arrange: the configured password is wrong.
    let dovecot = Dovecot::start().await.unwrap();
    let app = TestApp::spawn_with(|s| read_from(s, &dovecot, "not-the-password")).await;
    let pool = app.pool();
    dovecot
        .append(
            "INBOX",
            b"From: a@b.example\r\nSubject: x\r\nMessage-ID: <m@b.example>\r\n\r\nx\r\n",
        )
        .await
        .unwrap();

    // Act
    app.start_workers(&[Stage::PollInbox]);
    let job = app
        .enqueue(&PollInbox {
            mailbox: EmailAddress::parse("outreach@agency.example").unwrap(),
        })
        .await;
    wait_for(Duration::from_secs(30), "the poll to fail", || async {
        job_state(pool, &job).await.status == "Killed"
    })
    .await;

    // Assert: one run, a reason naming the mailbox (not an address), and
    // nothing read.
    let state = job_state(pool, &job).await;
    assert_eq!(state.attempts, 1, "{state:?}");
    let reason = state.last_result.unwrap().to_string();
    assert!(
        reason.contains("refused the login of send_email.mailboxes[0]"),
        "{reason}"
    );
    assert!(!reason.contains('@'), "no address in the reason: {reason}");
    assert_eq!(count(pool, "SELECT count(*) FROM inbound_messages").await, 0);
    assert_eq!(count(pool, "SELECT count(*) FROM mailbox_cursors").await, 0);
    assert_eq!(dovecot.maildir_files("INBOX").len(), 1);
}
