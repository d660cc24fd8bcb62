//! Outreach end to end on real servers: a campaign started through the
//! admin API sends its first step through a real SMTP server (aiosmtpd on
//! loopback) with a DKIM signature that verifies and RFC 8058 one-click
//! unsubscribe; the one-click POST suppresses and the next send is refused;
//! a retry that finds a send still in flight marks it for an operator and
//! sends nothing; bad tracking tokens get 404 and record nothing; a
//! template with an unknown placeholder is refused with 422.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use chrono::{NaiveTime, Weekday};
use prospector::config::Settings;
use prospector_jobs::{
    Handler, Stage,
    score::{Component, FlagKind, ReasonFlag, algorithm::Evidence},
    send_email::{
        KeyRing, SendEmail, SendEmailDeps, SendId, Token, TokenKind, Tracker,
        dkim::{DkimSigner, keygen, verify},
        settings::{DkimSettings, TransportKind, WindowSettings},
        smtp::Security,
        testing::SmtpSink,
    },
};
use serde_json::{Value, json};
use sqlx::PgPool;
use url::Url;
use uuid::Uuid;

use crate::helpers::{TOKEN, TestApp, count, wait_for};

/// 32 zero bytes, base64url: the tracking key of these tests.
pub(crate) const KEYS: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// Where the messages say the tracking endpoints are (the path is what
/// the web role serves; the tests swap in the app's real address).
pub(crate) const TRACKING_BASE: &str = "http://127.0.0.1:1/t/";

/// A DKIM key in a temporary file, and its signer (for the DNS record).
pub(crate) struct Key {
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
    signer: DkimSigner,
}

pub(crate) fn dkim_key() -> Key {
    let dir = tempfile::tempdir().unwrap();
    let pem = keygen::ed25519_pem().unwrap();
    let path = dir.path().join("dkim.pem");
    std::fs::write(&path, &pem).unwrap();
    let signer = DkimSigner::from_pem("test", "agency.example", &pem).unwrap();
    Key {
        _dir: dir,
        path,
        signer,
    }
}

/// send_email over plain SMTP to `smtp`, DKIM-signed with `key`, with caps,
/// gaps and windows out of the way.
pub(crate) fn configure(s: &mut Settings, smtp: SocketAddr, key: &std::path::Path) {
    let e = s.of_mut::<SendEmail>();
    e.transport.kind = TransportKind::Smtp;
    e.dkim = Some(DkimSettings {
        selector: "test".into(),
        domain: Some("agency.example".into()),
        key_path: key.to_path_buf(),
    });
    e.secrets.set("PROSPECTOR_TRACKING_KEYS", KEYS);
    e.tracking.base_url = Url::parse(TRACKING_BASE).unwrap();
    e.tracking.click_links = true;
    let m = &mut e.mailboxes[0];
    m.smtp.host = smtp.ip().to_string();
    m.smtp.port = Some(smtp.port());
    m.smtp.security = Some(Security::Plain);
    m.smtp.timeout = Duration::from_secs(60);
    m.daily_cap = 10_000;
    m.min_gap = Duration::ZERO;
    m.max_jitter = Duration::ZERO;
    m.window = WindowSettings {
        start: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
        days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
    };
}

async fn spawn(smtp: SocketAddr, key: &Key) -> TestApp {
    let path = key.path.clone();
    TestApp::spawn_with(move |s| configure(s, smtp, &path)).await
}

/// A scored lead with an address in `country`; returns its id.
pub(crate) async fn lead(pool: &PgPool, name: &str, email: &str, country: &str) -> i64 {
    let domain = email.split('@').nth(1).unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO prospects (business_name, domain_name, email, country, city)
         VALUES ($1, $2, $3, $4, 'Springfield') RETURNING id",
    )
    .bind(name)
    .bind(domain)
    .bind(email)
    .bind(country)
    .fetch_one(pool)
    .await
    .unwrap();
    let flags = vec![ReasonFlag {
        code: "no_https".into(),
        component: Component::TechnicalHealth,
        kind: FlagKind::Problem,
        points: 12,
        title: "Your website is not secure (no HTTPS)".into(),
        evidence: Evidence {
            source: "tech_scan".into(),
            observed: format!("http://{domain}/ answered without redirecting to https"),
            data: json!({ "url": format!("http://{domain}/") }),
        },
    }];
    sqlx::query(
        "INSERT INTO prospect_scores (prospect_id, score, lead_tier, reason_flags) VALUES ($1, 81, 'hot', $2)",
    )
    .bind(id)
    .bind(serde_json::to_value(&flags).unwrap())
    .execute(pool)
    .await
    .unwrap();
    id
}

/// The tracker the tests' messages were signed with (their bounce
/// addresses and tokens).
pub(crate) fn test_tracker() -> Tracker {
    Tracker::new(
        Url::parse(TRACKING_BASE).unwrap(),
        "bounce.agency.example",
        KeyRing::from_config(KEYS).unwrap(),
    )
    .unwrap()
}

/// The id and Message-ID of step 1 sent to `prospect`.
pub(crate) async fn first_send(pool: &PgPool, prospect: i64) -> (Uuid, String) {
    sqlx::query_as("SELECT id, message_id FROM campaigns WHERE prospect_id = $1 AND step = 1")
        .bind(prospect)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Joe's answer to the message `message_id`.
pub(crate) fn joes_reply(message_id: &str) -> String {
    format!(
        "From: Joe <joe@joesdiner.example>\r\nTo: Prospector Outreach <outreach@agency.example>\r\n\
         Subject: Re: A faster website for Joe's Diner\r\nMessage-ID: <r1@joesdiner.example>\r\n\
         In-Reply-To: <{message_id}>\r\nReferences: <{message_id}>\r\nDate: Thu, 03 Dec 2026 10:00:00 -0500\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nSounds good, give me a call tomorrow.\r\n"
    )
}

/// Ann's server bouncing the send `send` (Message-ID `message_id`) for good,
/// as an RFC 3464 report to its VERP address.
pub(crate) fn anns_hard_bounce(tracker: &Tracker, send: Uuid, message_id: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.annsbakery.example\r\nTo: {}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn1@mx.annsbakery.example>\r\nDate: Thu, 03 Dec 2026 10:00:00 -0500\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"BOUNDARY\"\r\n\r\n\
         --BOUNDARY\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\
         --BOUNDARY\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.annsbakery.example\r\n\r\n\
         Final-Recipient: rfc822; ann@annsbakery.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <ann@annsbakery.example>: User unknown\r\n\r\n\
         --BOUNDARY\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{message_id}>\r\n\
         To: ann@annsbakery.example\r\n\r\n--BOUNDARY--\r\n",
        tracker.bounce_address(SendId(send))
    )
}

pub(crate) async fn post_json(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.address))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn create_template(app: &TestApp, name: &str) {
    let response = post_json(
        app,
        "/api/templates",
        &json!({
            "name": name,
            "language": "en",
            "subject": "A faster website for {business_name}",
            "body": "Hello {business_name},\n\nwe looked at {domain} and found:\n{issues}\n\nSome of our work: https://agency.example/portfolio\n\n{sender_name}\n",
        }),
    )
    .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

async fn start_campaign(app: &TestApp, name: &str, template: &str) -> Value {
    let response = post_json(
        app,
        "/api/outreach/campaigns",
        &json!({ "name": name, "steps": [{ "template": template }], "filter": { "tier": "hot" } }),
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Status and reason of the send of (prospect, campaign name, step 1).
async fn send_of(pool: &PgPool, prospect: i64, campaign: &str) -> Option<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT c.status, c.channel, c.error_message FROM campaigns c
         JOIN outreach_campaigns o ON o.id = c.outreach_campaign_id
         WHERE c.prospect_id = $1 AND o.name = $2 AND c.step = 1",
    )
    .bind(prospect)
    .bind(campaign)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// A header of a raw message, unfolded.
fn header(raw: &str, name: &str) -> Option<String> {
    let unfolded = raw.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ");
    let head = unfolded.split("\n\n").next()?.to_owned();
    head.lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l.as_bytes()[name.len()] == b':'
        })
        .map(|l| l[name.len() + 1..].trim().to_owned())
}

/// Our tracking URL with the app's real address.
fn local(app: &TestApp, url: &str) -> String {
    url.replace("http://127.0.0.1:1", &app.address)
}

#[tokio::test]
async fn a_campaign_sends_through_smtp_signed_and_one_click_unsubscribe_refuses_the_next_send() {
    let sink = SmtpSink::start().await.unwrap();
    let key = dkim_key();
    let app = spawn(sink.addr(), &key).await;
    let pool = app.pool();
    let joe = lead(pool, "Joe's Diner", "joe@joesdiner.example", "US").await;
    // Luxembourg needs consent for cold e-mail: this lead goes to the phone.
    let lux = lead(pool, "Boulangerie Dupont", "info@dupont.example", "LU").await;
    create_template(&app, "first-touch").await;

    let started = start_campaign(&app, "spring", "first-touch").await;
    assert_eq!(started["leads"], 2, "{started}");
    assert_eq!(started["enqueued"], 2, "{started}");
    // Starting it again enqueues nothing new.
    let again = start_campaign(&app, "spring", "first-touch").await;
    assert_eq!(again["enqueued"], 0, "{again}");

    app.start_workers(&[Stage::SendEmail]);
    wait_for(Duration::from_secs(30), "the first step to be sent", || async {
        send_of(pool, joe, "spring").await.is_some_and(|s| s.0 == "sent")
            && send_of(pool, lux, "spring").await.is_some()
    })
    .await;

    // One message reached the server, for Joe, signed, with one-click
    // unsubscribe, the sender's identity and the evidence-backed issue.
    let messages = sink.wait_for(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(messages.len(), 1);
    let raw = String::from_utf8_lossy(&messages[0]).into_owned();
    assert!(
        header(&raw, "To").unwrap().contains("joe@joesdiner.example"),
        "{raw}"
    );
    assert!(header(&raw, "DKIM-Signature").is_some(), "{raw}");
    assert_eq!(
        verify::verify(&messages[0], &key.signer.dns_name(), &key.signer.dns_record()).await,
        verify::Outcome::Pass("agency.example".into())
    );
    let list_unsubscribe = header(&raw, "List-Unsubscribe").unwrap();
    assert!(list_unsubscribe.contains("<mailto:unsub+"), "{list_unsubscribe}");
    assert_eq!(
        header(&raw, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let message_id: String = sqlx::query_scalar("SELECT message_id FROM campaigns WHERE prospect_id = $1")
        .bind(joe)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(header(&raw, "Message-ID").unwrap().contains(&message_id), "{raw}");
    let (basis, mailbox): (String, String) =
        sqlx::query_as("SELECT lawful_basis, mailbox FROM campaigns WHERE prospect_id = $1")
            .bind(joe)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        (basis.as_str(), mailbox.as_str()),
        ("opt_out", "outreach@agency.example")
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM prospect_interactions WHERE interaction_type = 'email_sent'"
        )
        .await,
        1
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM email_mailbox_days WHERE sent = 1").await,
        1,
        "the cap is counted in PostgreSQL"
    );
    // The Luxembourg lead is a phone task, not an e-mail.
    let (status, channel, reason) = send_of(pool, lux, "spring").await.unwrap();
    assert_eq!((status.as_str(), channel.as_str()), ("pending", "phone"));
    assert!(reason.unwrap().contains("consent"));

    // One-click unsubscribe: POST, no cookie, no redirect, 200.
    let https = list_unsubscribe
        .split(',')
        .map(|p| p.trim().trim_start_matches('<').trim_end_matches('>'))
        .find(|p| p.starts_with("http"))
        .unwrap()
        .to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .post(local(&app, &https))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response.headers().get("location").is_none());
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM suppressions WHERE kind = 'address' AND value = 'joe@joesdiner.example' AND reason = 'unsubscribe'"
        )
        .await,
        1
    );
    // Twice is the same.
    let again = no_redirects.post(local(&app, &https)).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(count(pool, "SELECT count(*) FROM suppressions").await, 1);

    // The next campaign's send to Joe is refused at send time.
    create_template(&app, "second-touch").await;
    let started = start_campaign(&app, "summer", "second-touch").await;
    assert_eq!(started["enqueued"], 2, "{started}");
    wait_for(
        Duration::from_secs(30),
        "the summer send to be decided",
        || async { send_of(pool, joe, "summer").await.is_some() },
    )
    .await;
    let (status, _, reason) = send_of(pool, joe, "summer").await.unwrap();
    assert_eq!(status, "refused");
    assert!(reason.unwrap().contains("suppressed"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "nothing more was sent");
}

/// A server that accepts connections and never says a word: a send to it
/// hangs after its claim is committed, like a process killed mid-send.
async fn silent_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

#[tokio::test]
async fn a_retry_that_finds_the_send_in_flight_marks_it_unknown_and_sends_nothing() {
    let sink = SmtpSink::start().await.unwrap();
    let silent = silent_server().await;
    let key = dkim_key();
    let app = spawn(silent, &key).await;
    let pool = app.pool();
    let joe = lead(pool, "Joe's Diner", "joe@joesdiner.example", "US").await;
    create_template(&app, "first-touch").await;
    let started = start_campaign(&app, "spring", "first-touch").await;
    let job = SendEmail {
        prospect_id: joe,
        campaign_id: started["campaign_id"].as_i64().unwrap(),
        step: 1,
    };
    let settings = app.app.settings.of::<SendEmail>().clone();
    let web = app.app.settings.web.clone();

    // Attempt 1 claims the send, then hangs in SMTP and is cut off (the
    // process "dies" mid-send).
    let hanging = SendEmailDeps::new(settings.clone(), web.clone());
    let ctx = app.job_context();
    let cut = tokio::time::timeout(Duration::from_secs(3), job.clone().handle(&ctx, &hanging)).await;
    assert!(cut.is_err(), "the send hangs");
    let (status, _, _) = send_of(pool, joe, "spring").await.unwrap();
    assert_eq!(status, "sending");

    // Attempt 2, with a server that works, does not send it again.
    let mut working = settings.clone();
    working.mailboxes[0].smtp.port = Some(sink.addr().port());
    let deps = SendEmailDeps::new(working, web);
    let ctx = app.job_context().attempt(2, 5);
    job.clone().handle(&ctx, &deps).await.unwrap();
    let (status, _, reason) = send_of(pool, joe, "spring").await.unwrap();
    assert_eq!(status, "unknown");
    assert!(reason.unwrap().contains("not sent again"));
    // And neither does attempt 3.
    job.clone().handle(&ctx, &deps).await.unwrap();
    assert_eq!(send_of(pool, joe, "spring").await.unwrap().0, "unknown");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty(), "nothing was sent twice");
    assert_eq!(count(pool, "SELECT count(*) FROM campaigns").await, 1);
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM prospect_interactions WHERE interaction_type = 'note' AND send_id IS NOT NULL"
        )
        .await,
        1,
        "the operator sees it on the timeline"
    );
}

#[tokio::test]
async fn bad_tracking_tokens_get_404_and_record_nothing_and_a_click_goes_only_to_its_stored_url() {
    let sink = SmtpSink::start().await.unwrap();
    let key = dkim_key();
    let app = spawn(sink.addr(), &key).await;
    let pool = app.pool();
    let joe = lead(pool, "Joe's Diner", "joe@joesdiner.example", "US").await;
    create_template(&app, "first-touch").await;
    start_campaign(&app, "spring", "first-touch").await;
    app.start_workers(&[Stage::SendEmail]);
    wait_for(Duration::from_secs(30), "the send", || async {
        send_of(pool, joe, "spring").await.is_some_and(|s| s.0 == "sent")
    })
    .await;
    let send: Uuid = sqlx::query_scalar("SELECT id FROM campaigns WHERE prospect_id = $1")
        .bind(joe)
        .fetch_one(pool)
        .await
        .unwrap();
    let links: Value = sqlx::query_scalar("SELECT tracked_links FROM campaigns WHERE id = $1")
        .bind(send)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(
        links.to_string().contains("https://agency.example/portfolio"),
        "{links}"
    );

    let ours = Tracker::new(
        Url::parse(TRACKING_BASE).unwrap(),
        "bounce.agency.example",
        KeyRing::from_config(KEYS).unwrap(),
    )
    .unwrap();
    let theirs = Tracker::new(
        Url::parse(TRACKING_BASE).unwrap(),
        "bounce.agency.example",
        KeyRing::new(vec![vec![9u8; 32]]).unwrap(),
    )
    .unwrap();
    let id = SendId(send);
    let click = ours.click_url(id, 0).to_string();
    let token = click.rsplit('/').next().unwrap().to_owned();
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let base = format!("{}/t", app.address);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bad = [
        format!("{base}/c/garbage"),
        format!("{base}/c/{flipped}"),
        local(&app, theirs.click_url(id, 0).as_str()),
        // A valid token of another kind, on the click route.
        format!("{base}/c/{}", ours.keys().sign(&Token::new(id, TokenKind::Open))),
        // A valid click token for a link the send does not have.
        local(&app, ours.click_url(id, 7).as_str()),
        // A valid token for a send that does not exist.
        local(&app, ours.click_url(SendId(Uuid::new_v4()), 0).as_str()),
        format!("{base}/o/{flipped}"),
    ];
    let browser =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
    for url in &bad {
        let response = no_redirects
            .get(url)
            .header("user-agent", browser)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{url}");
        assert!(response.headers().get("location").is_none(), "{url}");
    }
    let unsubscribe = no_redirects
        .post(format!("{base}/u/{flipped}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unsubscribe.status(), 404);
    assert_eq!(count(pool, "SELECT count(*) FROM email_events").await, 0);
    assert_eq!(count(pool, "SELECT count(*) FROM suppressions").await, 0);
    assert_eq!(
        count(pool, "SELECT clicked_count::bigint FROM campaigns").await,
        0
    );

    // The real click redirects to the stored URL only, and is recorded
    // (as a machine's: it came sooner than a person could click).
    let response = no_redirects
        .get(local(&app, &click))
        .header("user-agent", browser)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        "https://agency.example/portfolio"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM email_events WHERE kind = 'click' AND machine"
        )
        .await,
        1
    );
    assert_eq!(
        count(pool, "SELECT clicked_count::bigint FROM campaigns").await,
        0,
        "a machine's click is not counted as a person's"
    );
}

#[tokio::test]
async fn a_template_with_an_unknown_placeholder_is_refused_with_422() {
    let app = TestApp::spawn().await;
    let pool = app.pool();
    let response = post_json(
        &app,
        "/api/templates",
        &json!({
            "name": "typo",
            "subject": "Hello {buisness_name}",
            "body": "Hello {business_name}",
        }),
    )
    .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown placeholder `{buisness_name}`"),
        "{body}"
    );
    assert_eq!(count(pool, "SELECT count(*) FROM campaign_templates").await, 0);

    // A good one is stored; changing it to an unknown placeholder is
    // refused and leaves it as it was.
    create_template(&app, "first-touch").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM campaign_templates")
        .fetch_one(pool)
        .await
        .unwrap();
    let response = app
        .http
        .put(format!("{}/api/templates/{id}", app.address))
        .bearer_auth(TOKEN)
        .json(&json!({ "name": "first-touch", "subject": "Hi", "body": "Visit {website_url}" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let subject: String = sqlx::query_scalar("SELECT subject_template FROM campaign_templates")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(subject, "A faster website for {business_name}");
}

#[tokio::test]
async fn the_daily_cap_is_counted_in_postgresql_and_a_sent_step_schedules_its_follow_up() {
    let sink = SmtpSink::start().await.unwrap();
    let key = dkim_key();
    let path = key.path.clone();
    let smtp = sink.addr();
    let app = TestApp::spawn_with(move |s| {
        configure(s, smtp, &path);
        s.of_mut::<SendEmail>().mailboxes[0].daily_cap = 1;
        // Two consumers, so both leads' jobs run at once.
        s.worker_mut(Stage::SendEmail.name()).workers = 2;
    })
    .await;
    let pool = app.pool();
    let joe = lead(pool, "Joe's Diner", "joe@joesdiner.example", "US").await;
    let ann = lead(pool, "Ann's Bakery", "ann@annsbakery.example", "US").await;
    create_template(&app, "first-touch").await;
    create_template(&app, "bump").await;
    let response = post_json(
        &app,
        "/api/outreach/campaigns",
        &json!({
            "name": "spring",
            "steps": [{ "template": "first-touch" }, { "template": "bump", "after_business_days": 3 }],
            "filter": { "min_score": 50 }
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    app.start_workers(&[Stage::SendEmail]);

    wait_for(Duration::from_secs(30), "one send and one deferred job", || async {
        count(pool, "SELECT count(*) FROM campaigns WHERE status = 'sent'").await == 1
            && count(
                pool,
                "SELECT count(*) FROM apalis.jobs WHERE job_type = 'send_email' AND status = 'Pending' AND run_at > now() + interval '1 minute'",
            )
            .await
                >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.messages().len(), 1, "the cap of 1 held");
    assert_eq!(count(pool, "SELECT count(*) FROM campaigns").await, 1);
    assert_eq!(
        count(
            pool,
            "SELECT coalesce(sum(sent), 0)::bigint FROM email_mailbox_days"
        )
        .await,
        1
    );
    // The one sent has its follow-up queued for a later business day; the
    // other waits for tomorrow's cap.
    let sent: i64 = sqlx::query_scalar("SELECT prospect_id FROM campaigns WHERE status = 'sent'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!([joe, ann].contains(&sent));
    let follow_ups: Vec<SendEmail> = crate::helpers::enqueued::<SendEmail>(pool).await;
    assert!(
        follow_ups.iter().any(|j| j.prospect_id == sent && j.step == 2),
        "{follow_ups:?}"
    );
}

/// A configuration file for a `prospector work` process: send_email over
/// plain SMTP to `smtp`, caps and windows out of the way.
fn worker_config(dir: &std::path::Path, smtp: SocketAddr, name: &str) -> PathBuf {
    worker_config_with(dir, smtp, name, 10_000, Duration::ZERO)
}

/// Like [`worker_config`], with the mailbox's daily cap and gap, and
/// send_email jobs fetched one at a time.
fn worker_config_with(
    dir: &std::path::Path,
    smtp: SocketAddr,
    name: &str,
    daily_cap: u32,
    gap: Duration,
) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            r#"
[send_email.transport]
kind = "smtp"

[send_email.tracking]
base_url = "{TRACKING_BASE}"

[stages.send_email]
batch_size = 1

[[send_email.mailboxes]]
address = "outreach@agency.example"
display_name = "Prospector Outreach"
daily_cap = {daily_cap}
min_gap = "{}ms"
max_jitter = "0s"
smtp = {{ host = "{}", port = {}, security = "plain", timeout = "60s" }}
window = {{ start = "00:00", end = "23:59", days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] }}
"#,
            gap.as_millis(),
            smtp.ip(),
            smtp.port()
        ),
    )
    .unwrap();
    path
}

/// A one-step campaign `spring` with the template `first-touch`, started
/// directly (no web role) for every lead of the database at `url`.
async fn start_first_touch(pool: &PgPool, url: &str) {
    use prospector_jobs::send_email::campaign::{self, CampaignSpec, LeadFilter, StepSpec};

    sqlx::query(
        "INSERT INTO campaign_templates (name, language, subject_template, body_template)
         VALUES ('first-touch', 'en', 'Hello {business_name}', 'Hello {business_name}, see {domain}.')",
    )
    .execute(pool)
    .await
    .unwrap();
    let settings = crate::helpers::settings(url);
    let enqueuer = prospector_jobs::Enqueuer::new(settings.queue_policies());
    campaign::start(
        pool,
        &enqueuer,
        &CampaignSpec {
            name: "spring".into(),
            steps: vec![StepSpec {
                template: "first-touch".into(),
                after_business_days: 0,
            }],
            filter: LeadFilter::default(),
        },
    )
    .await
    .unwrap();
}

/// A `prospector work --stages send_email` process with `config`, its
/// output discarded.
fn send_email_worker(url: &str, config: &std::path::Path) -> tokio::process::Child {
    crate::helpers::command(url)
        .arg("--config")
        .arg(config)
        .args(["work", "--stages", "send_email"])
        .env("PROSPECTOR_TRACKING_KEYS", KEYS)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn the_cap_and_gap_hold_across_two_worker_processes() {
    const CAP: i64 = 3;
    const GAP: Duration = Duration::from_secs(2);
    let db = crate::helpers::TestDb::new().await;
    let pool = db.pool().await;
    let sink = SmtpSink::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for i in 0..8 {
        lead(
            &pool,
            &format!("Diner {i}"),
            &format!("owner@diner{i}.example"),
            "US",
        )
        .await;
    }
    start_first_touch(&pool, &db.url).await;

    let config = worker_config_with(dir.path(), sink.addr(), "capped.toml", CAP as u32, GAP);
    let mut workers = Vec::new();
    for _ in 0..2 {
        workers.push(send_email_worker(&db.url, &config));
    }
    wait_for(Duration::from_secs(60), "the cap to be reached and the rest deferred", || async {
        count(&pool, "SELECT count(*) FROM campaigns WHERE status = 'sent'").await == CAP
            && count(
                &pool,
                "SELECT count(*) FROM apalis.jobs WHERE job_type = 'send_email' AND status = 'Pending' AND run_at > now() + interval '1 minute'",
            )
            .await
                == 8 - CAP
    })
    .await;
    // Both processes were consuming the queue all along.
    let consumers = count(
        &pool,
        "SELECT count(*) FROM apalis.workers WHERE worker_type = 'send_email' AND last_seen > now() - interval '30 seconds'",
    )
    .await;
    tokio::time::sleep(GAP).await;
    assert_eq!(sink.messages().len() as i64, CAP, "the daily cap of {CAP} held");
    assert_eq!(count(&pool, "SELECT count(*) FROM campaigns").await, CAP);
    assert_eq!(
        count(
            &pool,
            "SELECT coalesce(sum(sent), 0)::bigint FROM email_mailbox_days"
        )
        .await,
        CAP
    );
    let sent: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT sent_at FROM campaigns WHERE status = 'sent' ORDER BY sent_at")
            .fetch_all(&pool)
            .await
            .unwrap();
    for pair in sent.windows(2) {
        let apart = (pair[1] - pair[0]).to_std().unwrap();
        // Claims are GAP apart; the SMTP exchange after each adds a few ms.
        assert!(
            apart >= GAP - Duration::from_millis(500),
            "sends {apart:?} apart: {sent:?}"
        );
    }
    assert!(consumers >= 2, "{consumers} send_email consumers registered");
    for mut worker in workers {
        worker.start_kill().unwrap();
        worker.wait().await.unwrap();
    }
}

#[tokio::test]
async fn a_worker_killed_mid_send_leaves_the_send_unknown_and_the_next_worker_sends_nothing() {
    use nix::sys::signal::Signal;

    let db = crate::helpers::TestDb::new().await;
    let pool = db.pool().await;
    let sink = SmtpSink::start().await.unwrap();
    let silent = silent_server().await;
    let dir = tempfile::tempdir().unwrap();
    let joe = lead(&pool, "Joe's Diner", "joe@joesdiner.example", "US").await;
    start_first_touch(&pool, &db.url).await;

    // Worker 1 claims the send and hangs in SMTP; it is SIGKILLed there.
    let hanging = worker_config(dir.path(), silent, "hanging.toml");
    let mut first = send_email_worker(&db.url, &hanging);
    wait_for(Duration::from_secs(30), "the send to be claimed", || async {
        send_of(&pool, joe, "spring")
            .await
            .is_some_and(|s| s.0 == "sending")
    })
    .await;
    crate::helpers::signal(&first, Signal::SIGKILL);
    first.wait().await.unwrap();

    // Worker 2 has a working server; it picks the job up when worker 1's
    // heartbeats stop, and does not send it again.
    let working = worker_config(dir.path(), sink.addr(), "working.toml");
    let _second = send_email_worker(&db.url, &working);
    wait_for(
        Duration::from_secs(60),
        "the retry to mark the send unknown",
        || async {
            send_of(&pool, joe, "spring")
                .await
                .is_some_and(|s| s.0 == "unknown")
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sink.messages().is_empty(), "nothing was sent twice");
    assert_eq!(count(&pool, "SELECT count(*) FROM campaigns").await, 1);
}

#[tokio::test]
async fn a_reply_stops_the_follow_up_and_a_dsn_hard_bounce_suppresses() {
    use prospector_jobs::send_email::{classify, inbox};

    let sink = SmtpSink::start().await.unwrap();
    let key = dkim_key();
    let app = spawn(sink.addr(), &key).await;
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
    app.start_workers(&[Stage::SendEmail]);
    wait_for(Duration::from_secs(30), "both first steps to be sent", || async {
        count(pool, "SELECT count(*) FROM campaigns WHERE status = 'sent'").await == 2
    })
    .await;
    let (_, joe_message) = first_send(pool, joe).await;
    let (ann_send, ann_message) = first_send(pool, ann).await;
    let tracker = test_tracker();

    // Joe answers.
    let reply = joes_reply(&joe_message);
    // Ann's server bounces the message for good (RFC 3464).
    let dsn = anns_hard_bounce(&tracker, ann_send, &ann_message);
    let mut conn = pool.acquire().await.unwrap();
    for raw in [&reply, &dsn] {
        let classified = classify(raw.as_bytes(), &tracker);
        let recorded = inbox::record(&mut conn, &classified, "agency.example", false)
            .await
            .unwrap();
        assert!(matches!(recorded, inbox::Recorded::Send { .. }), "{classified:?}");
    }
    drop(conn);
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
            "SELECT count(*) FROM prospect_interactions WHERE interaction_type = 'email_received'"
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
    let follow_ups: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT prospect_id, status, error_message FROM campaigns WHERE step = 2 ORDER BY prospect_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(follow_ups.len(), 2, "{follow_ups:?}");
    assert!(
        follow_ups
            .iter()
            .all(|(_, status, _)| status != "sent" && status != "sending"),
        "{follow_ups:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 2, "only the two first steps left");
}
