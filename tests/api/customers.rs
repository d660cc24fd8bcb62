//! Customers: a business claims its preview, pays the setup fee and the
//! monthly plan on the local Recurrente-compatible server (real HTTP, real
//! Svix-signed webhooks), its site goes live on its host, and lapses after
//! the grace period once the subscription ends.

use std::time::Duration;

use chrono::Utc;
use prospector_jobs::{
    Handler, Stage, StageJob,
    billing::{
        BillingSettings, BillingTask, SigningSecret,
        local_server::{
            DeliveryOptions, DeliveryOutcome, LocalRecurrente, LocalRecurrenteConfig, Payer,
            RunningLocalRecurrente, SubscriptionChange,
        },
        sign,
    },
    build_site::BuildSite,
    send_email::{SendEmail, settings::TransportKind, smtp::Security, testing::SmtpSink},
    tech_scan::ScanTech,
};
use reqwest::{StatusCode, header};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TOKEN, TestApp, assert_enqueued, count, wait_for};

const PUBLIC_KEY: &str = "pk_test_local";
const SECRET_KEY: &str = "sk_test_local";
const GRACE: Duration = Duration::from_secs(2);

/// The app with billing pointed at `recurrente` (when given), a built
/// preview, and billing workers.
struct Shop {
    app: TestApp,
    recurrente: Option<RunningLocalRecurrente>,
    secret: SigningSecret,
    site_id: Uuid,
    token: String,
    subdomain: String,
    /// Follows no redirects (the tests read `Location`).
    http: reqwest::Client,
    /// The SMTP server the send_email mailbox sends to (customer notices).
    mail: SmtpSink,
}

async fn shop(with_server: bool, configure: impl FnOnce(&mut BillingSettings) + Send + 'static) -> Shop {
    prospector::tls::init();
    let secret = SigningSecret::from_bytes(vec![0x42; 32]).unwrap();
    let recurrente = if with_server {
        let server =
            LocalRecurrente::new(LocalRecurrenteConfig::new(PUBLIC_KEY, SECRET_KEY, secret.clone())).unwrap();
        Some(server.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap())
    } else {
        None
    };
    let base_url = recurrente.as_ref().map(|r| r.base_url().clone());
    let whsec = secret.to_whsec();
    let dns = customer_dns().await;
    let mail = SmtpSink::start().await.unwrap();
    let smtp = mail.addr();
    let app = TestApp::spawn_with(move |s| {
        let e = s.of_mut::<SendEmail>();
        e.transport.kind = TransportKind::Smtp;
        e.secrets.set(
            "PROSPECTOR_TRACKING_KEYS",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        );
        let m = &mut e.mailboxes[0];
        m.smtp.host = smtp.ip().to_string();
        m.smtp.port = Some(smtp.port());
        m.smtp.security = Some(Security::Plain);
        s.of_mut::<ScanTech>().dns_servers = vec![dns];
        s.of_mut::<ScanTech>().dns_timeout = Duration::from_secs(2);
        let billing = s.of_mut::<BillingTask>();
        if let Some(base_url) = base_url {
            billing.base_url = base_url;
        }
        billing.public_key = Some(SecretString::from(PUBLIC_KEY));
        billing.secret_key = Some(SecretString::from(SECRET_KEY));
        billing.webhook_secrets = Some(whsec);
        billing.grace_period = GRACE;
        billing.max_retries = 0;
        configure(billing);
        let worker = s.worker_mut(Stage::Billing.name());
        worker.backoff_base = Duration::from_millis(300);
        worker.backoff_max = Duration::from_secs(1);
    })
    .await;
    if let Some(server) = &recurrente {
        server.set_webhook_url(Some(
            format!("{}/webhooks/recurrente", app.address).parse().unwrap(),
        ));
    }
    let (site_id, token, subdomain) = build_site(&app).await;
    app.start_workers(&[Stage::Billing]);
    Shop {
        app,
        recurrente,
        secret,
        site_id,
        token,
        subdomain,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        mail,
    }
}

/// A local name server for customers' domains: one points at the sites
/// domain, one elsewhere, one has no CNAME.
async fn customer_dns() -> std::net::SocketAddr {
    use hickory_proto::rr::{Name, RData, RecordType, rdata::CNAME};
    use prospector_devkit::bench::fleet::dns::{self, Answer};
    use std::str::FromStr;
    let zone: dns::Zone = std::sync::Arc::new(|name: &str, kind: RecordType| match (name, kind) {
        ("www.laespiga.example", RecordType::CNAME) => Answer::Records(vec![RData::CNAME(CNAME(
            Name::from_str("sites.localhost.").unwrap(),
        ))]),
        ("pan.elsewhere.example", RecordType::CNAME) => Answer::Records(vec![RData::CNAME(CNAME(
            Name::from_str("parking.registrar.example.").unwrap(),
        ))]),
        _ => Answer::Records(Vec::new()),
    });
    dns::serve(zone, std::sync::Arc::new(|_: &str| Duration::ZERO))
        .await
        .unwrap()
}

fn build_deps(app: &TestApp) -> <BuildSite as Handler>::Deps {
    let settings = &app.app.settings;
    let platform = settings.platform();
    BuildSite::build_deps(
        settings.of::<BuildSite>(),
        &prospector_jobs::Setup {
            stages: &settings.pipeline,
            platform: &platform,
            worker: settings.worker("build_site"),
        },
    )
    .unwrap()
}

/// A business and its preview, built by the real build_site handler.
async fn build_site(app: &TestApp) -> (Uuid, String, String) {
    let pool = app.pool();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO prospects (channel, business_name, category, city, country, opening_hours) \
         VALUES ('maps', 'Panadería La Espiga', 'bakery', 'Antigua Guatemala', 'GT', \
                 '[\"Monday: 7:00 AM – 6:00 PM\"]') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    BuildSite {
        then: vec![],
        ..BuildSite::new(id, None)
    }
    .handle(&app.job_context(), &build_deps(app))
    .await
    .unwrap();
    sqlx::query_as("SELECT id, preview_token, subdomain FROM generated_sites")
        .fetch_one(pool)
        .await
        .unwrap()
}

impl Shop {
    fn pool(&self) -> &PgPool {
        self.app.pool()
    }

    fn server(&self) -> &RunningLocalRecurrente {
        self.recurrente.as_ref().unwrap()
    }

    async fn claim(&self, email: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/claim/{}", self.app.address, self.token))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("email={}&plan=monthly", email.replace('@', "%40")))
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.app.address))
            .send()
            .await
            .unwrap()
    }

    async fn live_page(&self) -> reqwest::Response {
        self.http
            .get(format!("{}/", self.app.address))
            .header(header::HOST, format!("{}.sites.localhost", self.subdomain))
            .send()
            .await
            .unwrap()
    }

    async fn page_at(&self, host: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/", self.app.address))
            .header(header::HOST, host)
            .send()
            .await
            .unwrap()
    }

    async fn set_custom_domain(&self, domain: &str) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/api/sites/{}/custom-domain",
                self.app.address, self.site_id
            ))
            .bearer_auth(TOKEN)
            .json(&json!({ "domain": domain }))
            .send()
            .await
            .unwrap()
    }

    /// The messages (recipient, subject, text) the mail server got for the
    /// notice of `kind`, once it is no longer pending.
    async fn notice(&self, kind: &str) -> Vec<(String, String, String)> {
        let query: &'static str = match kind {
            "welcome" => {
                "SELECT count(*) FROM customer_notices WHERE kind = 'welcome' AND status NOT IN ('pending', 'sending')"
            }
            _ => {
                "SELECT count(*) FROM customer_notices WHERE kind = 'past_due' AND status NOT IN ('pending', 'sending')"
            }
        };
        wait_for(
            Duration::from_secs(20),
            "the customer notice to be sent",
            || async { count(self.pool(), query).await >= 1 },
        )
        .await;
        let subject: Option<String> = sqlx::query_scalar(
            "SELECT subject FROM customer_notices WHERE kind = $1 AND status = 'sent' LIMIT 1",
        )
        .bind(kind)
        .fetch_one(self.pool())
        .await
        .unwrap();
        let subject = subject.expect("the notice was sent");
        self.mail
            .messages()
            .iter()
            .filter_map(|raw| {
                let m = mail_parser::MessageParser::default().parse(raw)?;
                let to = m.to()?.first()?.address()?.to_owned();
                let text = m.body_text(0)?.into_owned();
                Some((to, m.subject()?.to_owned(), text))
            })
            .filter(|(_, s, _)| *s == subject)
            .collect()
    }

    async fn site_status(&self) -> String {
        sqlx::query_scalar("SELECT status FROM generated_sites WHERE id = $1")
            .bind(self.site_id)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    async fn wait_status(&self, status: &str, limit: Duration) {
        wait_for(limit, &format!("the site to be {status}"), || async {
            self.site_status().await == status
        })
        .await;
    }

    /// Every stored event processed.
    async fn wait_processed(&self, events: i64) {
        wait_for(
            Duration::from_secs(20),
            "the billing events to be processed",
            || async {
                count(
                    self.pool(),
                    "SELECT count(*) FROM billing_events WHERE processed_at IS NOT NULL",
                )
                .await
                    == events
            },
        )
        .await;
    }

    /// POST a webhook signed with `secret` at `timestamp`.
    async fn deliver(&self, secret: &SigningSecret, svix_id: &str, timestamp: i64, body: &str) -> StatusCode {
        let signed = sign(std::slice::from_ref(secret), svix_id, timestamp, body.as_bytes());
        self.post_webhook(signed.to_header_map(), body).await
    }

    async fn post_webhook(&self, headers: reqwest::header::HeaderMap, body: &str) -> StatusCode {
        self.http
            .post(format!("{}/webhooks/recurrente", self.app.address))
            .headers(headers)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn all_answered_ok(deliveries: &[prospector_jobs::billing::local_server::DeliveryReport]) {
    assert!(!deliveries.is_empty());
    for d in deliveries {
        assert_eq!(d.outcome, DeliveryOutcome::Answered(200), "{d:?}");
    }
}

/// The rows a payment writes, as one value.
async fn ledger(pool: &PgPool) -> Value {
    sqlx::query_scalar(
        r#"
        SELECT jsonb_build_object(
            'customers', (SELECT count(*) FROM customers),
            'subscriptions', (SELECT count(*) FROM subscriptions),
            'subscription_status', (SELECT string_agg(status, ',') FROM subscriptions),
            'payments', (SELECT count(*) FROM payments),
            'amounts', (SELECT jsonb_agg(amount_cents ORDER BY amount_cents) FROM payments),
            'lifetime_value', (SELECT sum(lifetime_value_cents) FROM customers),
            'events', (SELECT count(*) FROM billing_events),
            'jobs', (SELECT count(*) FROM apalis.jobs WHERE job_type = 'billing'
                     AND convert_from(job, 'UTF8')::jsonb ->> 'kind' = 'process'),
            'contact_status', (SELECT string_agg(contact_status, ',') FROM prospects),
            'interactions', (SELECT count(*) FROM prospect_interactions WHERE interaction_type = 'note'),
            'purchased', (SELECT count(*) FROM activity_log WHERE action = 'site.purchased'))
        "#,
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_claimed_preview_is_paid_in_two_checkouts_goes_live_and_lapses_after_its_grace_period() {
    let shop = shop(true, |_| {}).await;
    let server = shop.server();
    let payer = Payer {
        email: "duena@laespiga.example".into(),
        full_name: "Ana López".into(),
    };

    // The claim page, from the preview's claim bar.
    let form = shop.get(&format!("/claim/{}", shop.token)).await;
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains("Panadería La Espiga"), "{html}");
    assert!(
        html.contains("GTQ 3900.00") && html.contains("GTQ 799.00"),
        "{html}"
    );
    assert!(html.contains("name=\"email\""));
    let bad = shop.claim("not-an-address").await;
    assert_eq!(bad.status(), 422);
    assert!(server.checkout_ids().is_empty(), "no checkout for a bad e-mail");

    // Claim: 303 to the setup fee's checkout, on Recurrente; a second
    // submit resumes the same checkout.
    let claimed = shop.claim(&payer.email).await;
    assert_eq!(claimed.status(), 303);
    let setup_url = location(&claimed);
    assert!(
        setup_url.starts_with(&format!("{}checkout-session/ch_", server.base_url())),
        "{setup_url}"
    );
    assert_eq!(location(&shop.claim(&payer.email).await), setup_url);
    assert_eq!(server.checkout_ids().len(), 1);
    let setup_id = server.checkout_ids()[0].clone();
    let requests = server.requests();
    let created = requests.iter().find(|r| r.method == "POST").unwrap();
    assert!(created.authorized);
    let body = created.body.as_ref().unwrap();
    assert_eq!(body["metadata"]["prospector_site_id"], shop.site_id.to_string());
    assert_eq!(body["metadata"]["prospector_step"], "setup");
    assert_eq!(body["items"][0]["amount_in_cents"], 390000);
    assert!(body["items"][0].get("charge_type").is_none(), "one-time: {body}");
    let success = body["success_url"].as_str().unwrap().to_owned();
    assert!(success.ends_with(&format!("/sites/{}/paid?step=setup", shop.site_id)));

    // The success page refuses to move on before the setup fee is paid.
    let success_path = &success[success.find("/sites/").unwrap()..];
    assert_eq!(shop.get(success_path).await.status(), 409);

    // Pay the setup fee: the webhook records a one-time payment.
    let paid = server
        .pay(&setup_id, &payer, &DeliveryOptions::default())
        .await
        .unwrap();
    all_answered_ok(&paid.deliveries);
    shop.wait_processed(1).await;
    assert_eq!(
        shop.site_status().await,
        "draft",
        "not live on the setup fee alone"
    );

    // The success URL chains the monthly plan's checkout.
    let chained = shop.get(success_path).await;
    assert_eq!(chained.status(), 303);
    let monthly_url = location(&chained);
    assert_ne!(monthly_url, setup_url);
    let monthly_id = server.checkout_ids()[1].clone();
    assert!(monthly_url.ends_with(&monthly_id), "{monthly_url}");
    let plan = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .nth(1)
        .unwrap()
        .body
        .unwrap();
    assert_eq!(plan["items"][0]["charge_type"], "recurring");
    assert_eq!(plan["items"][0]["billing_interval"], "month");
    assert_eq!(plan["metadata"]["prospector_step"], "monthly");
    assert_eq!(
        location(&shop.get(success_path).await),
        monthly_url,
        "reloading reuses it"
    );

    // Pay the plan; every webhook delivered 3 times, concurrently.
    let subscribed = server
        .pay(
            &monthly_id,
            &payer,
            &DeliveryOptions {
                copies: 3,
                concurrent: true,
                ..DeliveryOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(subscribed.deliveries.len(), 6);
    all_answered_ok(&subscribed.deliveries);
    shop.wait_status("live", Duration::from_secs(20)).await;
    shop.wait_processed(3).await;

    // Exactly one customer and subscription, one payment per checkout.
    let rows = ledger(shop.pool()).await;
    assert_eq!(
        rows,
        json!({
            "customers": 1, "subscriptions": 1, "subscription_status": "active",
            "payments": 2, "amounts": [79900, 390000], "lifetime_value": 469900,
            "events": 3, "jobs": 3, "contact_status": "purchased",
            "interactions": 1, "purchased": 1,
        })
    );
    let claim: String = sqlx::query_scalar("SELECT status FROM site_claims")
        .fetch_one(shop.pool())
        .await
        .unwrap();
    assert_eq!(claim, "paid");

    // One welcome e-mail, through the send_email mailbox, to the payer,
    // with the live site's address (every event was delivered 3 times).
    let welcome = shop.notice("welcome").await;
    assert_eq!(welcome.len(), 1, "{welcome:?}");
    let (to, subject, text) = &welcome[0];
    assert_eq!(to, "duena@laespiga.example");
    assert_eq!(subject, "Panadería La Espiga: your website is live");
    assert!(text.starts_with("Hello Ana López,"), "{text}");
    assert!(
        text.contains(&format!("://{}.", shop.subdomain)),
        "the live address: {text}"
    );
    assert_eq!(
        count(shop.pool(), "SELECT count(*) FROM customer_notices WHERE kind = 'welcome' AND status = 'sent' AND message_id IS NOT NULL").await,
        1
    );
    assert_eq!(
        count(
            shop.pool(),
            "SELECT count(*) FROM prospect_interactions WHERE interaction_type = 'email_sent'"
        )
        .await,
        1,
        "the welcome is on the lead's timeline"
    );

    // Live on its host: the customer's page.
    let live = shop.live_page().await;
    assert_eq!(live.status(), 200);
    let page = live.text().await.unwrap();
    assert!(page.contains("Panadería La Espiga"));

    // The customer's own domain is served only once its CNAME points at us.
    for (domain, cname) in [
        ("pan.elsewhere.example", json!(["parking.registrar.example"])),
        ("nocname.example", json!([])),
    ] {
        let set = shop.set_custom_domain(domain).await;
        assert_eq!(set.status(), 200);
        let body: Value = set.json().await.unwrap();
        assert_eq!(body["verified"], false, "{body}");
        assert_eq!(body["cname"], cname, "{body}");
        assert_ne!(shop.page_at(domain).await.status(), 200, "{domain} is not served");
    }
    assert_eq!(
        shop.set_custom_domain("klein.sites.localhost").await.status(),
        422
    );
    assert_eq!(shop.set_custom_domain("not a domain").await.status(), 422);
    let set = shop.set_custom_domain("WWW.LaEspiga.example.").await;
    let body: Value = set.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "domain": "www.laespiga.example", "verified": true })
    );
    let own = shop.page_at("www.laespiga.example").await;
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("Panadería La Espiga"));
    assert!(!page.contains(r#"class="claim""#), "no claim bar on a sold site");
    assert_eq!(
        shop.get(&format!("/claim/{}", shop.token)).await.status(),
        409,
        "a sold site cannot be claimed again"
    );

    // Paused by Recurrente: after the grace period the paused page is
    // served; a renewal payment resumes the site.
    let su = subscribed.subscription_id.clone().unwrap();
    let changed = server
        .change_subscription(&su, SubscriptionChange::Paused, &DeliveryOptions::default())
        .await
        .unwrap();
    all_answered_ok(&changed);
    shop.wait_processed(4).await;
    assert_eq!(shop.site_status().await, "live", "live during the grace period");
    shop.wait_status("paused", Duration::from_secs(20)).await;
    let paused = shop.live_page().await;
    assert_eq!(paused.status(), 503);
    assert!(paused.text().await.unwrap().contains("paused"));
    let renewed = server
        .renew_subscription(&su, &DeliveryOptions::default())
        .await
        .unwrap();
    all_answered_ok(&renewed.deliveries);
    shop.wait_status("live", Duration::from_secs(20)).await;
    assert_eq!(shop.live_page().await.status(), 200);

    // A renewal fails (delivered twice): one reminder, the site stays live.
    let late = server
        .change_subscription(
            &su,
            SubscriptionChange::PastDue,
            &DeliveryOptions {
                copies: 2,
                ..DeliveryOptions::default()
            },
        )
        .await
        .unwrap();
    all_answered_ok(&late);
    let reminders = shop.notice("past_due").await;
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    let (to, subject, text) = &reminders[0];
    assert_eq!(to, "duena@laespiga.example");
    assert_eq!(
        subject,
        "Panadería La Espiga: your monthly payment did not go through"
    );
    assert!(text.contains("Recurrente"), "{text}");
    assert_eq!(shop.site_status().await, "live");
    assert_eq!(shop.notice("welcome").await.len(), 1, "still one welcome");

    // Cancelled: paused again once the grace period is over.
    let cancelled_at = Utc::now();
    let changed = server
        .change_subscription(&su, SubscriptionChange::Cancel, &DeliveryOptions::default())
        .await
        .unwrap();
    all_answered_ok(&changed);
    shop.wait_status("paused", Duration::from_secs(20)).await;
    let paused_at: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT paused_at FROM generated_sites WHERE id = $1")
            .bind(shop.site_id)
            .fetch_one(shop.pool())
            .await
            .unwrap();
    assert!(
        paused_at - cancelled_at
            >= chrono::Duration::from_std(GRACE).unwrap() - chrono::Duration::milliseconds(200),
        "paused only after the grace period ({paused_at} vs {cancelled_at})"
    );
    let rows = ledger(shop.pool()).await;
    assert_eq!(rows["subscription_status"], "cancelled");
    assert_eq!(rows["customers"], 1);
    assert_eq!(rows["payments"], 3, "setup, first month, renewal");
}

/// The published Svix test vector (svix crate `test_sign`).
const VECTOR_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const VECTOR_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const VECTOR_TS: i64 = 1649367553;
const VECTOR_BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;
const VECTOR_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

async fn nothing_written(pool: &PgPool) -> (i64, i64) {
    (
        count(pool, "SELECT count(*) FROM billing_events").await,
        count(
            pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'billing'",
        )
        .await,
    )
}

#[tokio::test]
async fn forged_stale_unsigned_and_unconfigured_webhooks_are_refused_and_nothing_is_written() {
    let shop = shop(false, |b| {
        b.webhook_secrets = Some(SecretString::from(VECTOR_SECRET));
    })
    .await;
    let vector = SigningSecret::parse(&SecretString::from(VECTOR_SECRET)).unwrap();
    assert_eq!(
        sign(
            std::slice::from_ref(&vector),
            VECTOR_ID,
            VECTOR_TS,
            VECTOR_BODY.as_bytes()
        )
        .signature,
        VECTOR_SIGNATURE,
        "the documented scheme"
    );
    let now = Utc::now().timestamp();
    let event = r#"{"event_type":"payment_intent.succeeded","id":"pa_forged","amount_in_cents":100}"#;

    // The published vector, replayed years later: a valid signature, too old.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("svix-id", VECTOR_ID.parse().unwrap());
    headers.insert("svix-timestamp", VECTOR_TS.to_string().parse().unwrap());
    headers.insert("svix-signature", VECTOR_SIGNATURE.parse().unwrap());
    assert_eq!(shop.post_webhook(headers.clone(), VECTOR_BODY).await, 401);

    // Forged, stale, future, unsigned, tampered.
    let other = SigningSecret::from_bytes(vec![7; 32]).unwrap();
    assert_eq!(shop.deliver(&other, "msg_forged", now, event).await, 401);
    assert_eq!(shop.deliver(&vector, "msg_old", now - 301, event).await, 401);
    assert_eq!(shop.deliver(&vector, "msg_future", now + 301, event).await, 401);
    let good = sign(
        std::slice::from_ref(&vector),
        "msg_tampered",
        now,
        event.as_bytes(),
    );
    assert_eq!(
        shop.post_webhook(good.to_header_map(), &event.replace("100", "900"))
            .await,
        401,
        "a changed body"
    );
    for missing in ["svix-id", "svix-timestamp", "svix-signature"] {
        let mut headers = good.to_header_map();
        headers.remove(missing);
        assert_eq!(shop.post_webhook(headers, event).await, 400, "without {missing}");
    }
    let mut garbled = good.to_header_map();
    garbled.insert("svix-timestamp", "yesterday".parse().unwrap());
    assert_eq!(shop.post_webhook(garbled, event).await, 400);
    assert_eq!(nothing_written(shop.pool()).await, (0, 0));

    // The vector's body signed now: accepted once, a redelivery writes
    // nothing new; it is no webhook event, so it is marked malformed.
    assert_eq!(shop.deliver(&vector, VECTOR_ID, now, VECTOR_BODY).await, 200);
    assert_eq!(shop.deliver(&vector, VECTOR_ID, now, VECTOR_BODY).await, 200);
    // An event type we do not handle is stored and ignored.
    let unified = r#"{"event_type":"intent.succeeded","id":"in_1","type":"payment"}"#;
    assert_eq!(shop.deliver(&vector, "msg_unified", now, unified).await, 200);
    // A payment on a checkout that is not ours (no site in its metadata).
    let foreign = r#"{"event_type":"payment_intent.succeeded","id":"pa_other","amount_in_cents":5000,
        "currency":"GTQ","checkout":{"id":"ch_other","metadata":{}},"customer":{"id":"us_other","email":"x@y.example"}}"#;
    assert_eq!(shop.deliver(&vector, "msg_foreign", now, foreign).await, 200);
    shop.wait_processed(3).await;
    let outcomes: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT svix_id, event_type, outcome FROM billing_events ORDER BY svix_id")
            .fetch_all(shop.pool())
            .await
            .unwrap();
    assert_eq!(
        outcomes,
        vec![
            (VECTOR_ID.to_owned(), None, "malformed".to_owned()),
            (
                "msg_foreign".to_owned(),
                Some("payment_intent.succeeded".to_owned()),
                "ignored".to_owned()
            ),
            (
                "msg_unified".to_owned(),
                Some("intent.succeeded".to_owned()),
                "ignored".to_owned()
            ),
        ]
    );
    assert_eq!(nothing_written(shop.pool()).await, (3, 3));
    assert_eq!(count(shop.pool(), "SELECT count(*) FROM payments").await, 0);
    assert_eq!(count(shop.pool(), "SELECT count(*) FROM customers").await, 0);

    // No secret configured: every delivery is refused, nothing is written.
    let closed = self::shop(false, |b: &mut BillingSettings| b.webhook_secrets = None).await;
    let secret = closed.secret.clone();
    assert_eq!(closed.deliver(&secret, "msg_valid", now, event).await, 503);
    assert_eq!(nothing_written(closed.pool()).await, (0, 0));
}

fn subscription_event(event_type: &str, site_id: Uuid, at: chrono::DateTime<Utc>) -> String {
    json!({
        "api_version": "2024-04-24",
        "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "customer_email": "duena@laespiga.example",
        "customer_id": "us_outoforder",
        "customer_name": "Ana López",
        "event_type": event_type,
        "id": "su_outoforder",
        "payment": {"id": "pa_outoforder", "paymentable": {"type": "Subscription", "id": "su_outoforder"}},
        "product": {
            "id": "prod_plan",
            "prices": [{"amount_in_cents": 79900, "currency": "GTQ", "charge_type": "recurring"}],
            "metadata": {"prospector_site_id": site_id.to_string(), "prospector_step": "monthly"},
        },
    })
    .to_string()
}

#[tokio::test]
async fn a_cancel_delivered_before_its_create_keeps_the_subscription_cancelled_and_the_site_lapses() {
    let shop = shop(false, |_| {}).await;
    let secret = shop.secret.clone();
    let created_at = Utc::now() - chrono::Duration::seconds(1);
    let cancelled_at = created_at + chrono::Duration::milliseconds(500);
    let now = Utc::now().timestamp();

    // The cancel arrives first: a cancelled subscription, nothing live yet.
    let cancel = subscription_event("subscription.cancel", shop.site_id, cancelled_at);
    assert_eq!(shop.deliver(&secret, "msg_cancel", now, &cancel).await, 200);
    shop.wait_processed(1).await;
    let status: String = sqlx::query_scalar("SELECT status FROM subscriptions")
        .fetch_one(shop.pool())
        .await
        .unwrap();
    assert_eq!(status, "cancelled");
    assert_eq!(shop.site_status().await, "draft");

    // Then the older create: the cancel still wins; the site was paid for,
    // so it goes live, and lapses after the grace period.
    let create = subscription_event("subscription.create", shop.site_id, created_at);
    assert_eq!(shop.deliver(&secret, "msg_create", now, &create).await, 200);
    shop.wait_processed(2).await;
    let rows = ledger(shop.pool()).await;
    assert_eq!(rows["subscriptions"], 1);
    assert_eq!(rows["customers"], 1);
    assert_eq!(rows["subscription_status"], "cancelled", "{rows}");
    assert_eq!(rows["purchased"], 1);
    shop.wait_status("paused", Duration::from_secs(20)).await;
    assert_eq!(shop.live_page().await.status(), 503);
}

async fn versions(pool: &PgPool, site_id: Uuid) -> Value {
    sqlx::query_scalar(
        r#"
        SELECT jsonb_build_object(
            'current', (SELECT v.version FROM site_versions v JOIN generated_sites s ON s.current_version_id = v.id WHERE s.id = $1),
            'live', (SELECT v.version FROM site_versions v JOIN generated_sites s ON s.live_version_id = v.id WHERE s.id = $1),
            'pending', (SELECT jsonb_agg(version) FROM site_versions WHERE site_id = $1 AND approval_status = 'pending'),
            'tickets', (SELECT jsonb_agg(status) FROM support_tickets WHERE site_id = $1))
        "#,
    )
    .bind(site_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_change_request_from_the_live_site_makes_a_version_that_goes_live_only_after_approval() {
    let shop = shop(false, |_| {}).await;
    let pool = shop.pool();
    let secret = shop.secret.clone();
    let create = subscription_event("subscription.create", shop.site_id, Utc::now());
    assert_eq!(
        shop.deliver(&secret, "msg_create", Utc::now().timestamp(), &create)
            .await,
        200
    );
    shop.wait_status("live", Duration::from_secs(20)).await;
    let host = format!("{}.sites.localhost", shop.subdomain);
    let support = |body: Option<String>| {
        let request = match &body {
            Some(_) => shop.http.post(format!("{}/support", shop.app.address)),
            None => shop.http.get(format!("{}/support", shop.app.address)),
        };
        let request = request
            .header(header::HOST, &host)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        async move {
            match body {
                Some(body) => request.body(body).send().await.unwrap(),
                None => request.send().await.unwrap(),
            }
        }
    };

    // The form on the live host; only the customer's e-mail opens a ticket.
    let form = support(None).await;
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("Ask for a change"));
    let stranger = support(Some(
        "email=someone%40else.example&request=Change+the+phone".into(),
    ))
    .await;
    assert_eq!(stranger.status(), 422);
    let empty = support(Some("email=duena%40laespiga.example&request=+".into())).await;
    assert_eq!(empty.status(), 422);
    assert_eq!(count(pool, "SELECT count(*) FROM support_tickets").await, 0);
    let opened = support(Some(
        "email=Duena%40LaEspiga.example&request=Please+add+our+new+phone+number".into(),
    ))
    .await;
    assert_eq!(opened.status(), 200);
    let ticket: Uuid = sqlx::query_scalar("SELECT id FROM support_tickets")
        .fetch_one(pool)
        .await
        .unwrap();

    // Its build: a new version, pending approval; the live one is unchanged.
    let build = assert_enqueued::<BuildSite>(pool, |j| j.change_request == Some(ticket)).await;
    build
        .handle(&shop.app.job_context(), &build_deps(&shop.app))
        .await
        .unwrap();
    assert_eq!(
        versions(pool, shop.site_id).await,
        json!({"current": 1, "live": 1, "pending": [2], "tickets": ["open"]})
    );
    assert_eq!(shop.live_page().await.status(), 200);

    // The operator approves it: it is current and live, the ticket done.
    let pending: Uuid = sqlx::query_scalar("SELECT id FROM site_versions WHERE version = 2")
        .fetch_one(pool)
        .await
        .unwrap();
    let path = format!("/api/site-versions/{pending}/approve");
    let anonymous = shop
        .http
        .post(format!("{}{path}", shop.app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        versions(pool, shop.site_id).await["live"],
        1,
        "not live without an operator"
    );
    let approved = shop
        .http
        .post(format!("{}{path}", shop.app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    assert_eq!(
        versions(pool, shop.site_id).await,
        json!({"current": 2, "live": 2, "pending": null, "tickets": ["completed"]})
    );
    let again = shop.app.post(&path).await;
    assert_eq!(again.status(), 409);
    assert_eq!(shop.live_page().await.status(), 200);
}

#[tokio::test]
async fn the_demo_customer_claims_pays_both_checkouts_and_its_site_goes_live() {
    use prospector_devkit::demo::billing;

    let shop = shop(true, |_| {}).await;
    let site = billing::claimable_site(shop.pool()).await.unwrap().unwrap();
    assert_eq!(site.id, shop.site_id);
    let web = shop.app.address.trim_start_matches("http://").parse().unwrap();

    let live = billing::claim_and_pay(shop.pool(), &shop.app.app.settings.web, web, shop.server(), &site)
        .await
        .unwrap();

    assert_eq!(live, shop.app.app.settings.web.live(&shop.subdomain));
    assert_eq!(shop.site_status().await, "live");
    assert_eq!(shop.live_page().await.status(), 200);
    assert_eq!(shop.server().checkout_ids().len(), 2);
    assert!(billing::claimable_site(shop.pool()).await.unwrap().is_none());
}

/// POST the live site's support form as the customer.
async fn ask_for_change(shop: &Shop, request: &str) -> reqwest::Response {
    let body = format!(
        "email=duena%40laespiga.example&request={}",
        url::form_urlencoded::byte_serialize(request.as_bytes()).collect::<String>()
    );
    shop.http
        .post(format!("{}/support", shop.app.address))
        .header(header::HOST, format!("{}.sites.localhost", shop.subdomain))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_ticket_asking_for_a_new_phone_and_hours_changes_the_live_page_after_approval_and_a_rebuild_keeps_them()
 {
    // Arrange: a live site that shows Monday 07:00–18:00 and no phone.
    let shop = shop(false, |_| {}).await;
    let pool = shop.pool();
    let create = subscription_event("subscription.create", shop.site_id, Utc::now());
    assert_eq!(
        shop.deliver(&shop.secret, "msg_create", Utc::now().timestamp(), &create)
            .await,
        200
    );
    shop.wait_status("live", Duration::from_secs(20)).await;
    let before = shop.live_page().await.text().await.unwrap();
    assert!(before.contains("07:00–18:00") && !before.contains("tel:+50255551234"));

    // Act: the customer asks, in one sentence, plus something no rule knows.
    let request = "Please change our phone number to +502 5555 1234 and our hours to Mon-Fri 8:00-17:00. \
                   Also, could you make the logo bigger?";
    assert_eq!(ask_for_change(&shop, request).await.status(), 200);
    let build = assert_enqueued::<BuildSite>(pool, |j| j.change_request.is_some()).await;
    build
        .handle(&shop.app.job_context(), &build_deps(&shop.app))
        .await
        .unwrap();

    // Assert: the ticket says what was applied and what needs a human.
    let tickets: Value = shop.app.get("/api/support-tickets").await.json().await.unwrap();
    let ticket = &tickets[0];
    assert_eq!(tickets.as_array().unwrap().len(), 1);
    assert_eq!(ticket["interpreted_by"], "rules");
    let weekdays: Vec<Value> = ["monday", "tuesday", "wednesday", "thursday", "friday"]
        .iter()
        .map(|d| json!({"day": d, "ranges": [["08:00", "17:00"]]}))
        .collect();
    assert_eq!(
        ticket["applied_edits"],
        json!([
            {"kind": "set_phone", "phone": "+50255551234"},
            {"kind": "set_hours", "days": weekdays},
        ])
    );
    let needs_human = ticket["needs_human"].as_array().unwrap();
    assert_eq!(needs_human.len(), 1, "{needs_human:?}");
    assert!(needs_human[0]["text"].as_str().unwrap().contains("logo bigger"));
    assert_eq!(ticket["versions"][0]["approval_status"], "pending");
    let one: Value = shop
        .app
        .get(&format!(
            "/api/support-tickets/{}",
            ticket["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["needs_human"], ticket["needs_human"]);

    // The pending version has the change; the live page does not yet.
    let pending = ticket["versions"][0]["id"].as_str().unwrap().to_owned();
    let version: Value = shop
        .app
        .get(&format!("/api/site-versions/{pending}"))
        .await
        .json()
        .await
        .unwrap();
    let html = version["html"].as_str().unwrap();
    assert!(
        html.contains("tel:+50255551234") && html.contains("+502 5555 1234"),
        "{html}"
    );
    assert!(html.contains("08:00–17:00") && !html.contains("07:00–18:00"));
    assert_eq!(version["ticket"]["needs_human"], ticket["needs_human"]);
    assert_eq!(version["live"], false);
    let live = shop.live_page().await.text().await.unwrap();
    assert!(live.contains("07:00–18:00") && !live.contains("tel:+50255551234"));

    // Approved: the web role serves it.
    let approved = shop
        .app
        .post(&format!("/api/site-versions/{pending}/approve"))
        .await;
    assert_eq!(approved.status(), 200);
    let live = shop.live_page().await.text().await.unwrap();
    assert!(
        live.contains("tel:+50255551234") && live.contains("08:00–17:00"),
        "{live}"
    );

    // A later rebuild on new facts (a rating now) keeps the change; the
    // prospect's own record is not rewritten.
    let prospect: i64 =
        sqlx::query_scalar("UPDATE prospects SET rating = 4.7, review_count = 31 RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();
    BuildSite {
        then: vec![],
        ..BuildSite::new(prospect, None)
    }
    .handle(&shop.app.job_context(), &build_deps(&shop.app))
    .await
    .unwrap();
    let (number, rebuilt): (i32, String) = sqlx::query_as(
        "SELECT v.version, v.live_html FROM site_versions v \
         JOIN generated_sites s ON s.current_version_id = v.id WHERE s.id = $1",
    )
    .bind(shop.site_id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(number, 3, "a new version");
    assert!(
        rebuilt.contains("4,7") || rebuilt.contains("4.7"),
        "the new fact is there"
    );
    assert!(rebuilt.contains("tel:+50255551234") && rebuilt.contains("08:00–17:00"));
    let phone: Option<String> = sqlx::query_scalar("SELECT phone FROM prospects")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(phone, None);
}

/// One run of the billing reconciliation poller, by its real handler.
async fn reconcile(shop: &Shop) {
    let settings = &shop.app.app.settings;
    let platform = settings.platform();
    let deps = BillingTask::build_deps(
        settings.of::<BillingTask>(),
        &prospector_jobs::Setup {
            stages: &settings.pipeline,
            platform: &platform,
            worker: settings.worker("billing"),
        },
    )
    .unwrap();
    BillingTask::Reconcile
        .handle(&shop.app.job_context(), &deps)
        .await
        .unwrap();
}

#[tokio::test]
async fn payments_whose_webhooks_never_arrive_are_reconciled_once_and_the_late_webhooks_change_nothing() {
    // Arrange: the webhook endpoint is "down" for longer than Svix retries.
    let shop = shop(true, |b: &mut BillingSettings| b.reconcile_after = Duration::ZERO).await;
    let server = shop.server();
    let pool = shop.pool();
    server.hold_webhooks(true);
    let payer = Payer {
        email: "duena@laespiga.example".into(),
        full_name: "Ana López".into(),
    };
    assert_eq!(shop.claim(&payer.email).await.status(), 303);
    let setup_id = server.checkout_ids()[0].clone();
    reconcile(&shop).await;
    assert_eq!(
        count(pool, "SELECT count(*) FROM billing_events").await,
        0,
        "an unpaid checkout teaches nothing"
    );

    // Act: both checkouts are paid; no webhook arrives; the poller runs.
    let paid = server
        .pay(&setup_id, &payer, &DeliveryOptions::default())
        .await
        .unwrap();
    assert!(paid.deliveries.is_empty(), "held back");
    reconcile(&shop).await;
    shop.wait_processed(1).await;
    let created = server.requests();
    let setup = created.iter().find(|r| r.method == "POST").unwrap();
    let success = setup.body.as_ref().unwrap()["success_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let chained = shop.get(&success[success.find("/sites/").unwrap()..]).await;
    assert_eq!(chained.status(), 303, "the reconciled setup fee chains the plan");
    let monthly_id = server.checkout_ids()[1].clone();
    let subscribed = server
        .pay(&monthly_id, &payer, &DeliveryOptions::default())
        .await
        .unwrap();
    assert!(subscribed.deliveries.is_empty());
    reconcile(&shop).await;
    shop.wait_status("live", Duration::from_secs(20)).await;
    shop.wait_processed(2).await;

    // Assert: one customer, one subscription, one payment per checkout.
    let rows = ledger(pool).await;
    assert_eq!(
        rows,
        json!({
            "customers": 1, "subscriptions": 1, "subscription_status": "active",
            "payments": 2, "amounts": [79900, 390000], "lifetime_value": 469900,
            "events": 2, "jobs": 2, "contact_status": "purchased",
            "interactions": 1, "purchased": 1,
        })
    );
    let ids: Vec<String> = sqlx::query_scalar("SELECT svix_id FROM billing_events ORDER BY svix_id")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut expected = vec![
        format!("reconcile:{}:succeeded", paid.payment_id),
        format!("reconcile:{}:succeeded", subscribed.payment_id),
    ];
    expected.sort();
    assert_eq!(ids, expected);
    let customer: (Option<String>, String) =
        sqlx::query_as("SELECT recurrente_user_id, email FROM customers")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(
        customer.0.is_some_and(|id| id.starts_with("us_")),
        "adopted by the subscriber"
    );
    assert_eq!(customer.1, payer.email);

    // Reconciling again learns nothing new.
    reconcile(&shop).await;
    assert_eq!(ledger(pool).await, rows);

    // The real webhooks arrive late: stored and applied, nothing counted twice.
    server.hold_webhooks(false);
    let late = server.deliver_held(&DeliveryOptions::default()).await;
    assert_eq!(late.len(), 3, "two payments and subscription.create");
    all_answered_ok(&late);
    shop.wait_processed(5).await;
    let mut after = rows.clone();
    after["events"] = json!(5);
    after["jobs"] = json!(5);
    assert_eq!(ledger(pool).await, after);
    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT outcome FROM billing_events WHERE svix_id NOT LIKE 'reconcile:%'")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(outcomes, vec!["applied"; 3]);
    reconcile(&shop).await;
    assert_eq!(ledger(pool).await, after);
    assert_eq!(shop.site_status().await, "live");
}

#[tokio::test]
async fn a_past_due_subscription_cancelled_without_a_webhook_is_reconciled_and_its_late_cancel_changes_nothing()
 {
    // Arrange: a live site whose renewal failed (that webhook arrived).
    let shop = shop(true, |b: &mut BillingSettings| b.reconcile_after = Duration::ZERO).await;
    let server = shop.server();
    let pool = shop.pool();
    let site = prospector_devkit::demo::billing::claimable_site(pool)
        .await
        .unwrap()
        .unwrap();
    let web = shop.app.address.trim_start_matches("http://").parse().unwrap();
    prospector_devkit::demo::billing::claim_and_pay(pool, &shop.app.app.settings.web, web, server, &site)
        .await
        .unwrap();
    let subscription: String = sqlx::query_scalar("SELECT recurrente_subscription_id FROM subscriptions")
        .fetch_one(pool)
        .await
        .unwrap();
    let events = count(pool, "SELECT count(*) FROM billing_events").await;
    let past_due = server
        .change_subscription(
            &subscription,
            SubscriptionChange::PastDue,
            &DeliveryOptions::default(),
        )
        .await
        .unwrap();
    all_answered_ok(&past_due);
    shop.wait_processed(events + 1).await;
    reconcile(&shop).await;
    assert_eq!(
        count(pool, "SELECT count(*) FROM billing_events").await,
        events + 1,
        "still past due at Recurrente: nothing to record"
    );

    // Act: Recurrente gives up and cancels; the webhook is lost for now.
    server.hold_webhooks(true);
    let cancelled = server
        .change_subscription(
            &subscription,
            SubscriptionChange::Cancel,
            &DeliveryOptions::default(),
        )
        .await
        .unwrap();
    assert!(cancelled.is_empty(), "held back");
    reconcile(&shop).await;
    shop.wait_processed(events + 2).await;

    // Assert: cancelled once, its lapse scheduled; the late webhook and a
    // second run change nothing.
    let state = || async {
        sqlx::query_scalar::<_, Value>(
            "SELECT jsonb_build_object('status', (SELECT string_agg(status, ',') FROM subscriptions), \
                 'subscriptions', (SELECT count(*) FROM subscriptions), \
                 'customers', (SELECT count(*) FROM customers), \
                 'payments', (SELECT count(*) FROM payments), \
                 'lapses', (SELECT count(*) FROM apalis.jobs WHERE job_type = 'billing' \
                            AND convert_from(job, 'UTF8')::jsonb ->> 'kind' = 'lapse'))",
        )
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let reconciled = state().await;
    assert_eq!(
        reconciled,
        json!({"status": "cancelled", "subscriptions": 1, "customers": 1, "payments": 2, "lapses": 1})
    );
    let id: String =
        sqlx::query_scalar("SELECT svix_id FROM billing_events WHERE svix_id LIKE 'reconcile:%'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(
        id.starts_with(&format!("reconcile:{subscription}:cancelled:")),
        "{id}"
    );
    reconcile(&shop).await;
    server.hold_webhooks(false);
    all_answered_ok(&server.deliver_held(&DeliveryOptions::default()).await);
    shop.wait_processed(events + 3).await;
    assert_eq!(state().await, reconciled);
}

#[tokio::test]
async fn the_demo_customer_asks_for_a_new_phone_and_the_approved_version_shows_it() {
    use prospector_devkit::demo::billing;

    // Arrange: the demo's live site, with a build_site worker for tickets.
    let shop = shop(true, |_| {}).await;
    shop.app.start_workers(&[Stage::BuildSite]);
    let site = billing::claimable_site(shop.pool()).await.unwrap().unwrap();
    let web = shop.app.address.trim_start_matches("http://").parse().unwrap();
    billing::claim_and_pay(shop.pool(), &shop.app.app.settings.web, web, shop.server(), &site)
        .await
        .unwrap();

    // Act
    billing::ask_for_change(shop.pool(), &shop.app.app.settings.web, web, &site, TOKEN)
        .await
        .unwrap();

    // Assert
    let live = shop.live_page().await.text().await.unwrap();
    assert!(live.contains(billing::DEMO_NEW_PHONE), "{live}");
    assert_eq!(
        versions(shop.pool(), shop.site_id).await,
        json!({"current": 2, "live": 2, "pending": null, "tickets": ["completed"]})
    );
}

#[tokio::test]
async fn a_change_request_read_by_the_llm_is_applied_its_call_recorded_and_over_budget_the_rules_read_it() {
    use prospector_jobs::llm::{
        LlmClient, LlmProvider, LlmSettings,
        local_server::{LocalLlmServer, Reply},
    };

    // Arrange: a live site; the build asks a local LLM, which answers in
    // the edits' JSON.
    let shop = shop(false, |_| {}).await;
    let pool = shop.pool();
    let create = subscription_event("subscription.create", shop.site_id, Utc::now());
    assert_eq!(
        shop.deliver(&shop.secret, "msg_create", Utc::now().timestamp(), &create)
            .await,
        200
    );
    shop.wait_status("live", Duration::from_secs(20)).await;
    let llm = LocalLlmServer::start("sk-local").await.unwrap();
    llm.push(Reply::text(
        json!({
            "edits": [
                {"kind": "set_phone", "phone": "+50255551234"},
                {"kind": "set_tagline", "text": "Pan de masa madre, horneado cada mañana"},
            ],
            "not_understood": [{"text": "un logo más grande", "reason": "the logo is not an edit"}],
        })
        .to_string(),
    ));
    let settings = LlmSettings {
        enabled: true,
        provider: LlmProvider::Openai,
        base_url: Some(llm.base_url()),
        model: "local".into(),
        input_price_cents_per_mtok: 100.0,
        output_price_cents_per_mtok: 500.0,
        daily_budget_cents: 5.0,
        ..LlmSettings::default()
    };
    let mut deps = build_deps(&shop.app);
    deps.settings.llm = settings.clone();
    deps.llm = Some(LlmClient::new(&settings, SecretString::from("sk-local")).unwrap());
    let request = "Nuestro número es ahora el +502 5555 1234; pongan de lema que es pan de masa madre \
                   horneado cada mañana, y un logo más grande";
    assert_eq!(ask_for_change(&shop, request).await.status(), 200);
    let build = assert_enqueued::<BuildSite>(pool, |j| j.change_request.is_some()).await;

    // Act: the build runs, then runs again (asks nothing, stores nothing).
    build
        .clone()
        .handle(&shop.app.job_context(), &deps)
        .await
        .unwrap();
    let ticket: Value = shop
        .app
        .get("/api/support-tickets?status=open")
        .await
        .json()
        .await
        .unwrap();
    build.handle(&shop.app.job_context(), &deps).await.unwrap();
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM site_versions WHERE approval_status = 'pending'"
        )
        .await,
        1
    );

    // Assert
    let ticket = &ticket[0];
    assert_eq!(ticket["interpreted_by"], "llm");
    assert_eq!(ticket["applied_edits"].as_array().unwrap().len(), 2, "{ticket}");
    assert_eq!(ticket["needs_human"][0]["text"], "un logo más grande");
    let html: String = sqlx::query_scalar(
        "SELECT live_html FROM site_versions WHERE approval_status = 'pending' ORDER BY version LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(html.contains("tel:+50255551234"));
    assert!(html.contains("Pan de masa madre, horneado cada mañana"), "{html}");
    assert_eq!(llm.request_count(), 1, "the retry reused the reading");
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM api_usage WHERE provider = 'openai' AND operation = 'read_change_request' \
             AND outcome = 'ok' AND cost_cents > 0"
        )
        .await,
        1
    );

    // Once today's budget cannot pay for another call, the rules read.
    deps.settings.llm.daily_budget_cents = 0.01;
    assert_eq!(
        ask_for_change(&shop, "Change our phone to +502 7777 0000")
            .await
            .status(),
        200
    );
    let second = assert_enqueued::<BuildSite>(pool, |j| {
        j.change_request
            .is_some_and(|t| t.to_string() != ticket["id"].as_str().unwrap())
    })
    .await;
    let second_ticket = second.change_request.unwrap();
    second.handle(&shop.app.job_context(), &deps).await.unwrap();
    let by: String = sqlx::query_scalar("SELECT interpreted_by FROM support_tickets WHERE id = $1")
        .bind(second_ticket)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(by, "rules");
    assert_eq!(llm.request_count(), 1, "no call over the budget");
}
