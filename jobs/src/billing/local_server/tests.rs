//! The client against the local server, and the verifier against the
//! webhooks it signs: real sockets, real HTTP, on loopback.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post};
use chrono::Utc;
use secrecy::SecretString;
use url::Url;
use uuid::Uuid;

use super::*;
use crate::{
    billing::{
        checkout::{CheckoutItem, CheckoutRequest, Metadata, Price},
        events::WebhookEvent,
        ids::{CheckoutId, SubscriptionId},
        link::{CheckoutStep, SiteLink},
        plans::{BillingSettings, SiteCheckout, UrlTemplate, checkout_chain},
        recurrente::{
            CheckoutStatus, RecurrenteClient, RecurrenteConfig, RecurrenteError, SubscriptionStatus,
        },
        svix::{VerifyError, WebhookVerifier},
    },
    discover::providers::RetryPolicy,
};

const PUBLIC_KEY: &str = "pk_test_local";
const SECRET_KEY: &str = "sk_test_local";

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Every delivery a receiver got: headers and raw body.
type Log = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A webhook endpoint that records every delivery.
struct Receiver {
    url: Url,
    received: Log,
}

impl Receiver {
    async fn start() -> Self {
        let received: Log = Arc::default();
        let app = axum::Router::new()
            .route(
                "/webhooks/recurrente",
                post(
                    |State(log): State<Log>, headers: HeaderMap, body: Bytes| async move {
                        log.lock().unwrap().push((headers, body));
                        "ok"
                    },
                ),
            )
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: Url::parse(&format!("http://{addr}/webhooks/recurrente")).unwrap(),
            received,
        }
    }

    fn deliveries(&self) -> Vec<(HeaderMap, Bytes)> {
        self.received.lock().unwrap().clone()
    }
}

struct Harness {
    server: RunningLocalRecurrente,
    receiver: Receiver,
    verifier: WebhookVerifier,
}

async fn harness() -> Harness {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secret = SigningSecret::from_bytes((0u8..24).collect()).unwrap();
    let receiver = Receiver::start().await;
    let mut config = LocalRecurrenteConfig::new(PUBLIC_KEY, SECRET_KEY, secret.clone());
    config.webhook_url = Some(receiver.url.clone());
    config.account_name = "Agencia Demo".into();
    let server = LocalRecurrente::new(config)
        .unwrap()
        .spawn(any_port())
        .await
        .unwrap();
    let verifier = WebhookVerifier::new(vec![secret.to_whsec()]).unwrap();
    Harness {
        server,
        receiver,
        verifier,
    }
}

fn fast_retry(retries: u32) -> RetryPolicy {
    RetryPolicy {
        retries,
        base_delay: Duration::from_millis(10),
        max_wait: Duration::from_secs(5),
    }
}

fn client(base_url: &Url, keys: (&str, &str), timeout: Duration, retries: u32) -> RecurrenteClient {
    RecurrenteClient::new(&RecurrenteConfig {
        base_url: base_url.clone(),
        public_key: SecretString::from(keys.0),
        secret_key: SecretString::from(keys.1),
        request_timeout: timeout,
        retry: fast_retry(retries),
    })
    .unwrap()
}

impl Harness {
    fn client(&self, retries: u32) -> RecurrenteClient {
        client(
            self.server.base_url(),
            (PUBLIC_KEY, SECRET_KEY),
            Duration::from_secs(5),
            retries,
        )
    }

    fn settings(&self) -> BillingSettings {
        let toml = format!(
            r#"
base_url = "{}"
currency = "GTQ"
grace_period = "7d"
success_url = "https://agency.example/sites/{{site_id}}/paid?step={{step}}"
cancel_url = "https://agency.example/sites/{{site_id}}"
setup_fee = {{ name = "Sitio web <Setup>", amount_cents = 390000 }}
monthly_plan = {{ name = "Mantenimiento", amount_cents = 79900 }}
"#,
            self.server.base_url()
        );
        let settings: BillingSettings = toml::from_str(&toml).unwrap();
        settings.validate().unwrap();
        settings
    }

    /// Every delivery so far, verified and decoded.
    fn verified_events(&self) -> Vec<(String, WebhookEvent)> {
        self.receiver
            .deliveries()
            .iter()
            .map(|(headers, body)| {
                let message = self.verifier.verify(headers, body, Utc::now()).unwrap();
                (message.id, WebhookEvent::parse(body).unwrap())
            })
            .collect()
    }
}

fn one_time_request(success: &str) -> CheckoutRequest {
    let item = CheckoutItem::one_time("Setup", Price::new(Currency::Gtq, 50_000).unwrap()).unwrap();
    CheckoutRequest::new(
        vec![item],
        Url::parse(success).unwrap(),
        Url::parse("https://agency.example/cancel").unwrap(),
        Metadata::new(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_client_creates_both_checkouts_of_the_chain() {
    // Arrange
    let h = harness().await;
    let client = h.client(0);
    let site = SiteCheckout {
        site_id: Uuid::new_v4(),
        image_url: None,
        user_id: None,
    };
    let [setup, monthly] = checkout_chain(&h.settings(), &site, Utc::now()).unwrap();

    // Act
    let created_setup = client.create_checkout(&setup).await.unwrap();
    let created_monthly = client.create_checkout(&monthly).await.unwrap();

    // Assert: ids, URLs on the local server, the documented bodies.
    assert_ne!(created_setup.id, created_monthly.id);
    assert!(created_setup.id.as_str().starts_with("ch_"));
    assert_eq!(
        created_setup.checkout_url.as_str(),
        format!("{}checkout-session/{}", h.server.base_url(), created_setup.id)
    );
    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.authorized && r.path == "/api/checkouts")
    );
    assert_eq!(requests[0].body.as_ref(), Some(&setup.to_wire()));
    assert_eq!(requests[1].body.as_ref(), Some(&monthly.to_wire()));

    let fetched = client.get_checkout(&created_monthly.id).await.unwrap();
    assert_eq!(fetched.status, CheckoutStatus::Unpaid);
    assert_eq!(fetched.total_in_cents, Some(79_900), "string total decoded");
    assert_eq!(
        SiteLink::from_metadata(&fetched.metadata),
        Some(SiteLink {
            site_id: site.site_id,
            step: Some(CheckoutStep::Monthly)
        })
    );
    assert!(fetched.expires_at.unwrap() > Utc::now() + chrono::Duration::days(6));
}

#[tokio::test]
async fn paying_the_chain_delivers_signed_webhooks_that_verify_and_link_to_the_site() {
    // Arrange
    let h = harness().await;
    let client = h.client(0);
    let site_id = Uuid::new_v4();
    let site = SiteCheckout {
        site_id,
        image_url: None,
        user_id: None,
    };
    let [setup, monthly] = checkout_chain(&h.settings(), &site, Utc::now()).unwrap();
    let setup = client.create_checkout(&setup).await.unwrap();
    let monthly = client.create_checkout(&monthly).await.unwrap();
    let payer = Payer {
        email: "ana@example.com".into(),
        full_name: "Ana López".into(),
    };

    // Act
    let paid_setup = h
        .server
        .pay(setup.id.as_str(), &payer, &DeliveryOptions::default())
        .await
        .unwrap();
    let paid_monthly = h
        .server
        .pay(monthly.id.as_str(), &payer, &DeliveryOptions::default())
        .await
        .unwrap();

    // Assert: every delivery answered 200 and verifies with the secret.
    assert_eq!(paid_setup.subscription_id, None);
    let subscription_id = paid_monthly.subscription_id.clone().unwrap();
    for report in paid_setup.deliveries.iter().chain(&paid_monthly.deliveries) {
        assert_eq!(report.outcome, DeliveryOutcome::Answered(200), "{report:?}");
    }
    let events = h.verified_events();
    let types: Vec<&str> = events.iter().map(|(_, e)| e.event_type()).collect();
    assert_eq!(
        types,
        [
            "payment_intent.succeeded",
            "payment_intent.succeeded",
            "subscription.create"
        ]
    );
    let (svix_ids, events): (Vec<_>, Vec<_>) = events.into_iter().unzip();
    assert_eq!(svix_ids.iter().collect::<std::collections::HashSet<_>>().len(), 3);
    assert_eq!(
        events[0].site_link(),
        Some(SiteLink {
            site_id,
            step: Some(CheckoutStep::Setup)
        })
    );
    assert_eq!(events[0].object_id(), Some(paid_setup.payment_id.as_str()));
    assert_eq!(events[1].site_link().unwrap().step, Some(CheckoutStep::Monthly));
    assert_eq!(events[1].subscription_id(), Some(subscription_id.as_str()));
    assert_eq!(events[2].object_id(), Some(subscription_id.as_str()));
    let WebhookEvent::PaymentIntentSucceeded(payment) = &events[0] else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(payment.amount_in_cents, Some(390_000));
    assert_eq!(
        payment.customer.as_ref().unwrap().email.as_deref(),
        Some("ana@example.com")
    );

    // The API agrees with the webhooks.
    let checkout = client.get_checkout(&monthly.id).await.unwrap();
    assert_eq!(checkout.status, CheckoutStatus::Paid);
    assert_eq!(
        checkout.payment.unwrap().paymentable.unwrap().subscription_id(),
        Some(subscription_id.as_str())
    );
    let subscription = client
        .get_subscription(&SubscriptionId::parse(&subscription_id).unwrap())
        .await
        .unwrap();
    assert_eq!(subscription.status, SubscriptionStatus::Active);
    assert_eq!(
        subscription.checkout.unwrap().id.as_deref(),
        Some(monthly.id.as_str())
    );
    assert!(subscription.current_period_end > subscription.current_period_start);

    // A paid checkout cannot be paid again.
    assert_eq!(
        h.server
            .pay(setup.id.as_str(), &payer, &DeliveryOptions::default())
            .await,
        Err(LocalServerError::AlreadyPaid(setup.id.to_string()))
    );
}

#[tokio::test]
async fn deliveries_can_repeat_run_concurrently_and_come_out_of_order() {
    // Arrange
    let h = harness().await;
    let client = h.client(0);
    let site = SiteCheckout {
        site_id: Uuid::new_v4(),
        image_url: None,
        user_id: None,
    };
    let [_, monthly] = checkout_chain(&h.settings(), &site, Utc::now()).unwrap();
    let monthly = client.create_checkout(&monthly).await.unwrap();
    let options = DeliveryOptions {
        copies: 3,
        concurrent: true,
        reverse_order: true,
        bad_signature: false,
    };

    // Act
    let outcome = h
        .server
        .pay(monthly.id.as_str(), &Payer::default(), &options)
        .await
        .unwrap();

    // Assert: 2 events × 3 copies, the same svix-id per event, the
    // subscription first.
    assert_eq!(outcome.deliveries.len(), 6);
    assert_eq!(outcome.deliveries[0].event_type, "subscription.create");
    assert_eq!(outcome.deliveries[3].event_type, "payment_intent.succeeded");
    let events = h.verified_events();
    assert_eq!(events.len(), 6);
    let mut per_id = std::collections::HashMap::<String, Vec<String>>::new();
    for (svix_id, event) in events {
        per_id
            .entry(svix_id)
            .or_default()
            .push(event.event_type().to_owned());
    }
    assert_eq!(per_id.len(), 2);
    for types in per_id.values() {
        assert_eq!(types.len(), 3);
        assert!(types.iter().all(|t| t == &types[0]));
    }
}

#[tokio::test]
async fn a_badly_signed_delivery_is_refused_by_the_verifier() {
    let h = harness().await;
    let client = h.client(0);
    let created = client
        .create_checkout(&one_time_request("https://agency.example/ok"))
        .await
        .unwrap();
    let options = DeliveryOptions {
        bad_signature: true,
        ..DeliveryOptions::default()
    };
    h.server
        .pay(created.id.as_str(), &Payer::default(), &options)
        .await
        .unwrap();
    let deliveries = h.receiver.deliveries();
    assert_eq!(deliveries.len(), 1);
    let (headers, body) = &deliveries[0];
    assert_eq!(
        h.verifier.verify(headers, body, Utc::now()),
        Err(VerifyError::NoMatchingSignature)
    );
    // The same body, replayed ten minutes later with its real headers, is
    // too old.
    let good = DeliveryOptions::default();
    let other = client
        .create_checkout(&one_time_request("https://agency.example/ok"))
        .await
        .unwrap();
    h.server
        .pay(other.id.as_str(), &Payer::default(), &good)
        .await
        .unwrap();
    let (headers, body) = h.receiver.deliveries().pop().unwrap();
    assert!(matches!(
        h.verifier
            .verify(&headers, &body, Utc::now() + chrono::Duration::minutes(10)),
        Err(VerifyError::TooOld { .. })
    ));
}

#[tokio::test]
async fn the_client_retries_a_429_after_its_retry_after() {
    // Arrange
    let h = harness().await;
    h.server.inject(Injection::Status {
        status: 429,
        retry_after: Some("1".into()),
    });
    let client = h.client(2);

    // Act
    let started = Instant::now();
    let greeting = client.test().await.unwrap();

    // Assert
    assert_eq!(greeting, "Hello Agencia Demo 🌎");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the Retry-After"
    );
    let requests = h.server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].injected, Some(429));
    assert_eq!(requests[1].injected, None);
}

#[tokio::test]
async fn the_client_retries_5xx_and_reports_them_when_retries_run_out() {
    let h = harness().await;
    let client = h.client(2);
    h.server.inject(Injection::Status {
        status: 500,
        retry_after: None,
    });
    let created = client
        .create_checkout(&one_time_request("https://agency.example/ok"))
        .await
        .unwrap();
    assert_eq!(h.server.requests().len(), 2);
    assert_eq!(h.server.checkout_ids(), [created.id.to_string()]);

    for _ in 0..3 {
        h.server.inject(Injection::Status {
            status: 503,
            retry_after: None,
        });
    }
    let error = client.get_checkout(&created.id).await.unwrap_err();
    assert!(
        matches!(error, RecurrenteError::Unavailable { status: 503, .. }),
        "{error:?}"
    );
    assert!(!error.is_permanent());
    assert_eq!(h.server.requests().len(), 2 + 3, "one try and two retries");
}

#[tokio::test]
async fn the_client_never_retries_a_422_or_a_404() {
    let h = harness().await;
    let client = h.client(3);
    h.server.inject(Injection::Status {
        status: 422,
        retry_after: None,
    });
    let error = client
        .create_checkout(&one_time_request("https://agency.example/ok"))
        .await
        .unwrap_err();
    match &error {
        RecurrenteError::Rejected { status, message } => {
            assert_eq!(*status, 422);
            assert_eq!(message, "Injected 422", "the API's `error` message");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_permanent());
    assert_eq!(h.server.requests().len(), 1);
    assert!(h.server.checkout_ids().is_empty());

    let missing = CheckoutId::parse("ch_doesnotexist").unwrap();
    let error = client.get_checkout(&missing).await.unwrap_err();
    assert!(matches!(error, RecurrenteError::NotFound { .. }), "{error:?}");
    assert_eq!(h.server.requests().len(), 2);
}

#[tokio::test]
async fn wrong_or_missing_keys_get_a_401_and_no_retry() {
    let h = harness().await;
    let wrong = client(
        h.server.base_url(),
        (PUBLIC_KEY, "sk_test_wrong"),
        Duration::from_secs(5),
        3,
    );
    let error = wrong.test().await.unwrap_err();
    match &error {
        RecurrenteError::Unauthorized { status, message } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "Invalid API keys");
        }
        other => panic!("{other:?}"),
    }
    let requests = h.server.requests();
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].authorized);

    // No key headers at all.
    let response = reqwest::get(h.server.base_url().join("api/test").unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Invalid API keys");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let h = harness().await;
    let client = client(
        h.server.base_url(),
        (PUBLIC_KEY, SECRET_KEY),
        Duration::from_millis(200),
        1,
    );
    h.server.inject(Injection::Delay(Duration::from_secs(3)));
    h.server.inject(Injection::Delay(Duration::from_secs(3)));
    let error = client.test().await.unwrap_err();
    assert!(matches!(error, RecurrenteError::Timeout(_)), "{error:?}");
    assert_eq!(h.server.requests().len(), 2, "one try and one retry");

    // One slow answer, then a normal one: the retry succeeds.
    h.server.inject(Injection::Delay(Duration::from_secs(3)));
    assert!(client.test().await.is_ok());
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_transport_error() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = std::net::TcpListener::bind(any_port()).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let error = client(&base, (PUBLIC_KEY, SECRET_KEY), Duration::from_secs(2), 1)
        .test()
        .await
        .unwrap_err();
    assert!(matches!(error, RecurrenteError::Transport(_)), "{error:?}");
    assert!(!error.is_permanent());
}

#[tokio::test]
async fn cancelling_a_subscription_answers_the_documented_message_and_delivers_its_webhook() {
    // Arrange
    let h = harness().await;
    let client = h.client(0);
    let site = SiteCheckout {
        site_id: Uuid::new_v4(),
        image_url: None,
        user_id: None,
    };
    let [_, monthly] = checkout_chain(&h.settings(), &site, Utc::now()).unwrap();
    let monthly = client.create_checkout(&monthly).await.unwrap();
    let paid = h
        .server
        .pay(
            monthly.id.as_str(),
            &Payer::default(),
            &DeliveryOptions::default(),
        )
        .await
        .unwrap();
    let id = SubscriptionId::parse(&paid.subscription_id.unwrap()).unwrap();

    // Act
    let message = client.cancel_subscription(&id).await.unwrap();

    // Assert
    assert_eq!(message, "Suscripción cancelada");
    let request = h.server.requests().pop().unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("DELETE", format!("/api/subscriptions/{id}").as_str())
    );
    let (_, last) = h.verified_events().pop().unwrap();
    assert!(matches!(last, WebhookEvent::SubscriptionCancel(_)), "{last:?}");
    assert_eq!(last.subscription_id(), Some(id.as_str()));
    assert_eq!(
        client.get_subscription(&id).await.unwrap().status,
        SubscriptionStatus::Cancelled
    );
    let again = client.cancel_subscription(&id).await.unwrap_err();
    assert!(
        matches!(again, RecurrenteError::Rejected { status: 422, .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn lifecycle_changes_and_renewals_deliver_their_events() {
    let h = harness().await;
    let client = h.client(0);
    let site = SiteCheckout {
        site_id: Uuid::new_v4(),
        image_url: None,
        user_id: None,
    };
    let [_, monthly] = checkout_chain(&h.settings(), &site, Utc::now()).unwrap();
    let monthly = client.create_checkout(&monthly).await.unwrap();
    let paid = h
        .server
        .pay(
            monthly.id.as_str(),
            &Payer::default(),
            &DeliveryOptions::default(),
        )
        .await
        .unwrap();
    let sub = paid.subscription_id.unwrap();
    let sub_id = SubscriptionId::parse(&sub).unwrap();
    let before = client.get_subscription(&sub_id).await.unwrap();

    let options = DeliveryOptions::default();
    h.server
        .change_subscription(&sub, SubscriptionChange::PastDue, &options)
        .await
        .unwrap();
    assert_eq!(
        client.get_subscription(&sub_id).await.unwrap().status,
        SubscriptionStatus::PastDue
    );
    let renewal = h.server.renew_subscription(&sub, &options).await.unwrap();
    let after = client.get_subscription(&sub_id).await.unwrap();
    assert_eq!(after.status, SubscriptionStatus::Active);
    assert_eq!(after.current_period_start, before.current_period_end);
    h.server
        .change_subscription(&sub, SubscriptionChange::Cancel, &options)
        .await
        .unwrap();

    let events: Vec<WebhookEvent> = h.verified_events().into_iter().map(|(_, e)| e).collect();
    let types: Vec<&str> = events.iter().map(WebhookEvent::event_type).collect();
    assert_eq!(
        types,
        [
            "payment_intent.succeeded",
            "subscription.create",
            "subscription.past_due",
            "payment_intent.succeeded",
            "subscription.cancel",
        ]
    );
    assert_eq!(events[3].object_id(), Some(renewal.payment_id.as_str()));
    assert_eq!(events[3].subscription_id(), Some(sub.as_str()));
    assert_eq!(events[3].site_link().unwrap().site_id, site.site_id);
    assert!(
        events[2..]
            .iter()
            .all(|e| e.subscription_id() == Some(sub.as_str()))
    );
    assert_eq!(
        h.server
            .change_subscription(&sub, SubscriptionChange::Paused, &options)
            .await,
        Err(LocalServerError::AlreadyCancelled(sub.clone()))
    );
}

#[tokio::test]
async fn a_declined_payment_leaves_the_checkout_unpaid() {
    let h = harness().await;
    let client = h.client(0);
    let created = client
        .create_checkout(&one_time_request("https://agency.example/ok"))
        .await
        .unwrap();
    h.server
        .fail_payment(
            created.id.as_str(),
            &Payer::default(),
            "Fondos insuficientes",
            &DeliveryOptions::default(),
        )
        .await
        .unwrap();
    let (_, event) = h.verified_events().pop().unwrap();
    let WebhookEvent::PaymentIntentFailed(failed) = event else {
        panic!("{event:?}");
    };
    assert_eq!(failed.failure_reason.as_deref(), Some("Fondos insuficientes"));
    assert_eq!(
        client.get_checkout(&created.id).await.unwrap().status,
        CheckoutStatus::Unpaid
    );
}

#[tokio::test]
async fn without_a_webhook_url_nothing_is_delivered() {
    let h = harness().await;
    h.server.set_webhook_url(None);
    let created = h
        .client(0)
        .create_checkout(&one_time_request("https://agency.example/ok"))
        .await
        .unwrap();
    let outcome = h
        .server
        .pay(
            created.id.as_str(),
            &Payer::default(),
            &DeliveryOptions::default(),
        )
        .await
        .unwrap();
    assert!(outcome.deliveries.is_empty());
    assert!(h.receiver.deliveries().is_empty());
}

#[tokio::test]
async fn the_checkout_page_pays_and_redirects_to_the_success_url() {
    // Arrange
    let h = harness().await;
    let client = h.client(0);
    let site = SiteCheckout {
        site_id: Uuid::new_v4(),
        image_url: None,
        user_id: None,
    };
    let [setup, _] = checkout_chain(&h.settings(), &site, Utc::now()).unwrap();
    let created = client.create_checkout(&setup).await.unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Act
    let page = browser.get(created.checkout_url.clone()).send().await.unwrap();
    let page_status = page.status();
    let html = page.text().await.unwrap();
    let paid = browser
        .post(format!("{}/pay", created.checkout_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=luis%40example.com&full_name=Luis")
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(page_status, 200);
    assert!(html.contains("Sitio web &lt;Setup&gt;"), "escaped name");
    assert!(html.contains("Pay Q3900.00"), "{html}");
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"].to_str().unwrap(),
        format!("https://agency.example/sites/{}/paid?step=setup", site.site_id)
    );
    assert_eq!(
        client.get_checkout(&created.id).await.unwrap().status,
        CheckoutStatus::Paid
    );
    let (_, event) = h.verified_events().pop().unwrap();
    let WebhookEvent::PaymentIntentSucceeded(payment) = event else {
        panic!("{event:?}");
    };
    assert_eq!(
        payment.customer.unwrap().email.as_deref(),
        Some("luis@example.com")
    );
    // Paying twice from the page is refused.
    let again = browser
        .post(format!("{}/pay", created.checkout_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=luis%40example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 422);
}

#[tokio::test]
async fn the_server_enforces_the_documented_checkout_rules() {
    let h = harness().await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        http.post(h.server.base_url().join("api/checkouts").unwrap())
            .header("X-PUBLIC-KEY", PUBLIC_KEY)
            .header("X-SECRET-KEY", SECRET_KEY)
            .json(&body)
            .send()
    };
    let item = |extra: serde_json::Value| {
        let mut item = serde_json::json!({"name":"Setup","currency":"GTQ","amount_in_cents":500});
        item.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        item
    };
    let too_many: serde_json::Map<String, serde_json::Value> = (0..51)
        .map(|i| (format!("k{i}"), serde_json::json!("v")))
        .collect();
    let cases = [
        ("no items", serde_json::json!({"items": []})),
        (
            "below the GTQ minimum",
            serde_json::json!({"items": [item(serde_json::json!({"amount_in_cents": 499}))]}),
        ),
        (
            "quantity 10",
            serde_json::json!({"items": [item(serde_json::json!({"quantity": 10}))]}),
        ),
        (
            "EUR",
            serde_json::json!({"items": [item(serde_json::json!({"currency": "EUR"}))]}),
        ),
        (
            "daily interval",
            serde_json::json!({"items": [item(serde_json::json!({"charge_type": "recurring", "billing_interval": "day"}))]}),
        ),
        (
            "51 metadata keys",
            serde_json::json!({"items": [item(serde_json::json!({}))], "metadata": too_many}),
        ),
        (
            "a 41-character key",
            serde_json::json!({"items": [item(serde_json::json!({}))], "metadata": {"k".repeat(41): "v"}}),
        ),
        (
            "a catalogue item",
            serde_json::json!({"items": [{"product_id": "prod_1"}]}),
        ),
    ];
    for (name, body) in cases {
        let response = post(body).await.unwrap();
        assert_eq!(response.status(), 422, "{name}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"].is_string(), "{name}: {error}");
    }
    assert!(h.server.checkout_ids().is_empty());

    // A mixed checkout is created, but cannot be paid.
    let mixed = serde_json::json!({"items": [
        item(serde_json::json!({})),
        item(serde_json::json!({"charge_type": "recurring", "billing_interval": "month"})),
    ]});
    let response = post(mixed).await.unwrap();
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        h.server
            .pay(id, &Payer::default(), &DeliveryOptions::default())
            .await,
        Err(LocalServerError::MixedItems(id.to_owned()))
    );
}

#[tokio::test]
async fn an_expired_checkout_cannot_be_paid() {
    let h = harness().await;
    let request = one_time_request("https://agency.example/ok")
        .with_expires_at(Utc::now() - chrono::Duration::minutes(1));
    let created = h.client(0).create_checkout(&request).await.unwrap();
    assert_eq!(
        h.server
            .pay(
                created.id.as_str(),
                &Payer::default(),
                &DeliveryOptions::default()
            )
            .await,
        Err(LocalServerError::Expired(created.id.to_string()))
    );
}

#[tokio::test]
async fn the_server_stops_when_asked() {
    let h = harness().await;
    let base = h.server.base_url().clone();
    let Harness { server, .. } = h;
    server.stop().await.unwrap();
    let error = client(&base, (PUBLIC_KEY, SECRET_KEY), Duration::from_secs(1), 0)
        .test()
        .await
        .unwrap_err();
    assert!(matches!(error, RecurrenteError::Transport(_)), "{error:?}");
}

#[test]
fn the_template_placeholders_are_the_documented_ones() {
    let template = UrlTemplate::new("https://a.example/{site_id}/{step}");
    let url = template.render(Uuid::nil(), CheckoutStep::Monthly).unwrap();
    assert_eq!(
        url.as_str(),
        "https://a.example/00000000-0000-0000-0000-000000000000/monthly"
    );
}
