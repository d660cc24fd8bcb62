//! A local server that speaks Recurrente's documented wire format, for
//! tests and the demo.
//!
//! It is a real HTTP server (axum), not a mock: the client under test makes
//! real requests, and the webhooks it sends are real, Svix-signed HTTP
//! deliveries to the configured endpoint.
//!
//! | route | what it does |
//! |---|---|
//! | `POST /api/checkouts` | checks the body against the documented limits (422 with `{"error"}` otherwise); 201 `{id: "ch_…", checkout_url}` pointing at this server |
//! | `GET /api/checkouts/{id}` | the documented shape; `total_in_cents` is a string, as Recurrente sends it |
//! | `GET /api/subscriptions/{id}` | the documented shape |
//! | `DELETE /api/subscriptions/{id}` | cancels; `{"message":"Suscripción cancelada"}`; delivers `subscription.cancel` |
//! | `GET /api/test` | `{"message":"Hello <account> 🌎"}` |
//! | `GET /checkout-session/{id}` | a checkout page with a "Pay" button |
//! | `POST /checkout-session/{id}/pay` | pays (as [`LocalRecurrente::pay`]), then redirects to the success URL |
//!
//! Every `/api/` request needs the configured `X-PUBLIC-KEY` and
//! `X-SECRET-KEY` (401 otherwise). Tests can queue failures
//! ([`LocalRecurrente::inject`]: a 429 with `Retry-After`, a 500, a delay)
//! and read back every request ([`LocalRecurrente::requests`]).
//!
//! Paying marks the checkout paid and delivers `payment_intent.succeeded`
//! (with the checkout's metadata) and, for a recurring checkout,
//! `subscription.create`, signed with the configured secret.
//! [`DeliveryOptions`] repeats, parallelises, reorders or mis-signs them, so
//! the webhook handler's deduplication and verification can be tested.
//! Without a webhook URL nothing is delivered, as with Recurrente's test
//! keys; [`LocalRecurrente::hold_webhooks`] holds deliveries back (an
//! endpoint down for longer than Svix retries) until
//! [`LocalRecurrente::deliver_held`] sends them late.
//!
//! Where the documentation is silent the server makes a choice and says so:
//! catalogue items (`product_id`) are refused; a checkout mixing one-time
//! and recurring items is created but cannot be paid (422, as WebMagic
//! observed); the recurring item's metadata is echoed as the subscription
//! event's `product.metadata`; the fee is 0; cancelling a cancelled
//! subscription is a 422.

mod api;
mod page;
mod webhooks;

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use chrono::{DateTime, Months, Utc};
use secrecy::SecretString;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    checkout::{BillingInterval, Currency},
    svix::SigningSecret,
};

pub use webhooks::{DeliveryOptions, DeliveryOutcome, DeliveryReport};

/// How the local server is set up.
#[derive(Debug, Clone)]
pub struct LocalRecurrenteConfig {
    /// The `X-PUBLIC-KEY` it accepts.
    pub public_key: SecretString,
    /// The `X-SECRET-KEY` it accepts.
    pub secret_key: SecretString,
    /// The secret it signs webhooks with (give its
    /// [`to_whsec`](SigningSecret::to_whsec) form to the receiver).
    pub webhook_secret: SigningSecret,
    /// Where webhooks go (`POST`); none: not delivered.
    pub webhook_url: Option<Url>,
    /// The server's own URL, for `checkout_url`; when unset,
    /// [`LocalRecurrente::spawn`] uses the bound address, and a router
    /// mounted elsewhere uses the request's `Host`.
    pub public_url: Option<Url>,
    /// The account name `GET /api/test` greets.
    pub account_name: String,
}

impl LocalRecurrenteConfig {
    /// A configuration with the given keys and secret, no webhook URL.
    pub fn new(
        public_key: impl Into<String>,
        secret_key: impl Into<String>,
        webhook_secret: SigningSecret,
    ) -> Self {
        Self {
            public_key: SecretString::from(public_key.into()),
            secret_key: SecretString::from(secret_key.into()),
            webhook_secret,
            webhook_url: None,
            public_url: None,
            account_name: "Prospector (local)".into(),
        }
    }
}

/// A failure a test queues for the next `/api/` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// Answer with this status and `{"error": …}` instead of handling the
    /// request (with `Retry-After` when given).
    Status {
        /// The status (429, 500, 503, 422…).
        status: u16,
        /// The `Retry-After` header value.
        retry_after: Option<String>,
    },
    /// Wait this long, then handle the request normally (timeouts).
    Delay(Duration),
}

/// One `/api/` request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, `DELETE`…
    pub method: String,
    /// The path, e.g. `/api/checkouts`.
    pub path: String,
    /// Whether both keys matched.
    pub authorized: bool,
    /// The status of the injected failure it got, if any.
    pub injected: Option<u16>,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

/// Who pays at the checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    /// E-mail address.
    pub email: String,
    /// Full name.
    pub full_name: String,
}

impl Default for Payer {
    fn default() -> Self {
        Self {
            email: "cliente@example.com".into(),
            full_name: "Cliente de Prueba".into(),
        }
    }
}

/// What a simulated payment produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOutcome {
    /// The payment intent (`pa_…`).
    pub payment_id: String,
    /// The subscription it started (`su_…`), for a recurring checkout.
    pub subscription_id: Option<String>,
    /// Each webhook delivery attempt.
    pub deliveries: Vec<DeliveryReport>,
}

/// A lifecycle change Recurrente makes on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionChange {
    /// A renewal failed (`subscription.past_due`).
    PastDue,
    /// Paused (`subscription.paused`).
    Paused,
    /// Ended after the last failed retry (`subscription.cancel`).
    Cancel,
}

/// Why a simulated action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalServerError {
    /// No such checkout.
    #[error("no checkout `{0}`")]
    UnknownCheckout(String),
    /// Paid already.
    #[error("checkout `{0}` is already paid")]
    AlreadyPaid(String),
    /// Past its `expires_at`.
    #[error("checkout `{0}` has expired")]
    Expired(String),
    /// One-time and recurring items together (Recurrente answers 422).
    #[error("checkout `{0}` mixes one-time and recurring items and cannot be paid")]
    MixedItems(String),
    /// No such subscription.
    #[error("no subscription `{0}`")]
    UnknownSubscription(String),
    /// Cancelled already.
    #[error("subscription `{0}` is already cancelled")]
    AlreadyCancelled(String),
}

#[derive(Debug, Clone)]
struct StoredItem {
    name: String,
    description: Option<String>,
    currency: Currency,
    amount_in_cents: i64,
    quantity: i64,
    recurring: Option<(BillingInterval, u32)>,
    metadata: Map<String, Value>,
    product_id: String,
}

#[derive(Debug, Clone)]
struct StoredPayment {
    id: String,
    paymentable_type: &'static str,
    paymentable_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckoutState {
    Unpaid,
    Paid,
}

#[derive(Debug, Clone)]
struct StoredCheckout {
    id: String,
    items: Vec<StoredItem>,
    success_url: Option<String>,
    cancel_url: Option<String>,
    metadata: Map<String, Value>,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    state: CheckoutState,
    payment: Option<StoredPayment>,
}

impl StoredCheckout {
    fn total_cents(&self) -> i64 {
        self.items
            .iter()
            .map(|i| i.amount_in_cents.saturating_mul(i.quantity))
            .fold(0i64, i64::saturating_add)
    }

    fn currency(&self) -> Currency {
        self.items.first().map_or(Currency::Gtq, |i| i.currency)
    }

    fn is_mixed(&self) -> bool {
        let recurring = self.items.iter().filter(|i| i.recurring.is_some()).count();
        recurring != 0 && recurring != self.items.len()
    }

    fn recurring_item(&self) -> Option<&StoredItem> {
        self.items.iter().find(|i| i.recurring.is_some())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubscriptionState {
    Active,
    PastDue,
    Paused,
    Cancelled,
}

impl SubscriptionState {
    fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Active => "active",
            SubscriptionState::PastDue => "past_due",
            SubscriptionState::Paused => "paused",
            SubscriptionState::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
struct Customer {
    id: String,
    payer: Payer,
}

#[derive(Debug, Clone)]
struct StoredSubscription {
    id: String,
    checkout_id: String,
    item: StoredItem,
    state: SubscriptionState,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    customer: Customer,
    last_payment_id: String,
}

#[derive(Debug, Default)]
struct State {
    checkouts: HashMap<String, StoredCheckout>,
    subscriptions: HashMap<String, StoredSubscription>,
    customers: HashMap<String, Customer>,
    injections: VecDeque<Injection>,
    requests: Vec<RecordedRequest>,
    checkout_order: Vec<String>,
    /// Webhooks held back while [`LocalRecurrente::hold_webhooks`] is on.
    held: Vec<(String, Value)>,
    /// Whether webhooks are held back (the endpoint is "down").
    holding: bool,
}

#[derive(Debug)]
struct Inner {
    config: LocalRecurrenteConfig,
    webhook_url: Mutex<Option<Url>>,
    public_url: Mutex<Option<Url>>,
    state: Mutex<State>,
    http: reqwest::Client,
}

/// The server's state and behaviour; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct LocalRecurrente {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new().to_string().to_ascii_lowercase())
}

fn add_interval(at: DateTime<Utc>, interval: BillingInterval, count: u32) -> DateTime<Utc> {
    let later = match interval {
        BillingInterval::Week => at.checked_add_signed(chrono::Duration::weeks(i64::from(count))),
        BillingInterval::Month => at.checked_add_months(Months::new(count)),
        BillingInterval::Year => at.checked_add_months(Months::new(count.saturating_mul(12))),
    };
    later.unwrap_or(at)
}

impl LocalRecurrente {
    /// A server with `config` (not yet listening: see [`spawn`](Self::spawn)
    /// or [`router`](Self::router)).
    pub fn new(config: LocalRecurrenteConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent("Svix-Webhooks/1.0 (prospector local-recurrente)")
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                webhook_url: Mutex::new(config.webhook_url.clone()),
                public_url: Mutex::new(config.public_url.clone()),
                config,
                state: Mutex::new(State::default()),
                http,
            }),
        })
    }

    /// Bind `addr` (port 0 for any) and serve until the returned handle is
    /// stopped or dropped.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<RunningLocalRecurrente> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let base_url =
            Url::parse(&format!("http://{local}/")).map_err(|e| std::io::Error::other(e.to_string()))?;
        {
            let mut public = lock(&self.inner.public_url);
            if public.is_none() {
                *public = Some(base_url.clone());
            }
        }
        let shutdown = CancellationToken::new();
        let router = self.router();
        let stop = shutdown.clone().cancelled_owned();
        let task =
            tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(stop).await });
        Ok(RunningLocalRecurrente {
            server: self,
            base_url,
            shutdown,
            task: Some(task),
        })
    }

    /// The routes, to mount in another app (the demo).
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// Send webhooks to `url` from now on (none: stop delivering).
    pub fn set_webhook_url(&self, url: Option<Url>) {
        *lock(&self.inner.webhook_url) = url;
    }

    /// Hold webhooks back from now on, as if the endpoint were down for
    /// longer than Svix retries (`true`), or send them again (`false`; what
    /// was held waits for [`deliver_held`](Self::deliver_held)). The API
    /// still reports every change.
    pub fn hold_webhooks(&self, hold: bool) {
        lock(&self.inner.state).holding = hold;
    }

    /// Deliver the webhooks held back so far, in order (a late Svix
    /// delivery), to the webhook URL.
    pub async fn deliver_held(&self, options: &DeliveryOptions) -> Vec<DeliveryReport> {
        let events = std::mem::take(&mut lock(&self.inner.state).held);
        self.send(events, options).await
    }

    /// Queue a failure for the next `/api/` request (first in, first out).
    pub fn inject(&self, injection: Injection) {
        lock(&self.inner.state).injections.push_back(injection);
    }

    /// Every `/api/` request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.state).requests.clone()
    }

    /// Ids of the checkouts created so far, in order.
    pub fn checkout_ids(&self) -> Vec<String> {
        lock(&self.inner.state).checkout_order.clone()
    }

    /// Pay a checkout as `payer` would on its page: mark it paid, start the
    /// subscription of a recurring checkout, and deliver the webhooks.
    pub async fn pay(
        &self,
        checkout_id: &str,
        payer: &Payer,
        delivery: &DeliveryOptions,
    ) -> Result<PaymentOutcome, LocalServerError> {
        let now = Utc::now();
        let (events, payment_id, subscription_id) = {
            let mut state = lock(&self.inner.state);
            let customer = customer_for(&mut state, payer);
            let checkout = payable(&mut state, checkout_id, now)?;
            let payment_id = new_id("pa_");
            let subscription = checkout.recurring_item().map(|item| {
                let (interval, count) = item.recurring.unwrap_or((BillingInterval::Month, 1));
                StoredSubscription {
                    id: new_id("su_"),
                    checkout_id: checkout.id.clone(),
                    item: item.clone(),
                    state: SubscriptionState::Active,
                    period_start: now,
                    period_end: add_interval(now, interval, count),
                    customer: customer.clone(),
                    last_payment_id: payment_id.clone(),
                }
            });
            checkout.state = CheckoutState::Paid;
            checkout.payment = Some(match &subscription {
                Some(sub) => StoredPayment {
                    id: payment_id.clone(),
                    paymentable_type: "Subscription",
                    paymentable_id: sub.id.clone(),
                },
                None => StoredPayment {
                    id: payment_id.clone(),
                    paymentable_type: "OneTimePayment",
                    paymentable_id: new_id("on_"),
                },
            });
            let checkout = checkout.clone();
            let mut events = vec![webhooks::payment_intent(
                "payment_intent.succeeded",
                &checkout,
                &customer,
                None,
                now,
            )];
            let subscription_id = subscription.as_ref().map(|s| s.id.clone());
            if let Some(sub) = subscription {
                events.push(webhooks::subscription_event("subscription.create", &sub, now));
                state.subscriptions.insert(sub.id.clone(), sub);
            }
            (events, payment_id, subscription_id)
        };
        let deliveries = self.deliver(events, delivery).await;
        Ok(PaymentOutcome {
            payment_id,
            subscription_id,
            deliveries,
        })
    }

    /// Decline a payment at a checkout: it stays unpaid, and
    /// `payment_intent.failed` is delivered with `reason`.
    pub async fn fail_payment(
        &self,
        checkout_id: &str,
        payer: &Payer,
        reason: &str,
        delivery: &DeliveryOptions,
    ) -> Result<PaymentOutcome, LocalServerError> {
        let now = Utc::now();
        let (event, payment_id) = {
            let mut state = lock(&self.inner.state);
            let customer = customer_for(&mut state, payer);
            let checkout = payable(&mut state, checkout_id, now)?;
            let payment_id = new_id("pa_");
            let mut attempted = checkout.clone();
            attempted.payment = Some(StoredPayment {
                id: payment_id.clone(),
                paymentable_type: if attempted.recurring_item().is_some() {
                    "Subscription"
                } else {
                    "OneTimePayment"
                },
                paymentable_id: String::new(),
            });
            let event =
                webhooks::payment_intent("payment_intent.failed", &attempted, &customer, Some(reason), now);
            (event, payment_id)
        };
        let deliveries = self.deliver(vec![event], delivery).await;
        Ok(PaymentOutcome {
            payment_id,
            subscription_id: None,
            deliveries,
        })
    }

    /// Renew a subscription for one more period: a new payment, and
    /// `payment_intent.succeeded` carrying the original checkout (how
    /// Recurrente reports renewals is not documented; this is the
    /// documented payment shape).
    pub async fn renew_subscription(
        &self,
        subscription_id: &str,
        delivery: &DeliveryOptions,
    ) -> Result<PaymentOutcome, LocalServerError> {
        let now = Utc::now();
        let (event, payment_id) = {
            let mut state = lock(&self.inner.state);
            let sub = state
                .subscriptions
                .get_mut(subscription_id)
                .ok_or_else(|| LocalServerError::UnknownSubscription(subscription_id.into()))?;
            if sub.state == SubscriptionState::Cancelled {
                return Err(LocalServerError::AlreadyCancelled(subscription_id.into()));
            }
            let (interval, count) = sub.item.recurring.unwrap_or((BillingInterval::Month, 1));
            let payment_id = new_id("pa_");
            sub.state = SubscriptionState::Active;
            sub.period_start = sub.period_end;
            sub.period_end = add_interval(sub.period_end, interval, count);
            sub.last_payment_id = payment_id.clone();
            let sub = sub.clone();
            let mut checkout = state
                .checkouts
                .get(&sub.checkout_id)
                .cloned()
                .ok_or_else(|| LocalServerError::UnknownCheckout(sub.checkout_id.clone()))?;
            checkout.payment = Some(StoredPayment {
                id: payment_id.clone(),
                paymentable_type: "Subscription",
                paymentable_id: sub.id.clone(),
            });
            checkout.items = vec![sub.item.clone()];
            let event =
                webhooks::payment_intent("payment_intent.succeeded", &checkout, &sub.customer, None, now);
            (event, payment_id)
        };
        let deliveries = self.deliver(vec![event], delivery).await;
        Ok(PaymentOutcome {
            payment_id,
            subscription_id: Some(subscription_id.to_owned()),
            deliveries,
        })
    }

    /// A change Recurrente makes on its own (a failed renewal, a pause, the
    /// cancellation after the last retry), with its webhook.
    pub async fn change_subscription(
        &self,
        subscription_id: &str,
        change: SubscriptionChange,
        delivery: &DeliveryOptions,
    ) -> Result<Vec<DeliveryReport>, LocalServerError> {
        let (new_state, event_type) = match change {
            SubscriptionChange::PastDue => (SubscriptionState::PastDue, "subscription.past_due"),
            SubscriptionChange::Paused => (SubscriptionState::Paused, "subscription.paused"),
            SubscriptionChange::Cancel => (SubscriptionState::Cancelled, "subscription.cancel"),
        };
        let event = self.set_subscription_state(subscription_id, new_state, event_type)?;
        Ok(self.deliver(vec![event], delivery).await)
    }

    fn set_subscription_state(
        &self,
        subscription_id: &str,
        new_state: SubscriptionState,
        event_type: &str,
    ) -> Result<(String, Value), LocalServerError> {
        let mut state = lock(&self.inner.state);
        let sub = state
            .subscriptions
            .get_mut(subscription_id)
            .ok_or_else(|| LocalServerError::UnknownSubscription(subscription_id.into()))?;
        if sub.state == SubscriptionState::Cancelled {
            return Err(LocalServerError::AlreadyCancelled(subscription_id.into()));
        }
        sub.state = new_state;
        Ok(webhooks::subscription_event(event_type, sub, Utc::now()))
    }

    fn public_url(&self, host: Option<&str>) -> String {
        if let Some(url) = lock(&self.inner.public_url).as_ref() {
            return url.as_str().trim_end_matches('/').to_owned();
        }
        format!("http://{}", host.unwrap_or("127.0.0.1"))
    }
}

fn customer_for(state: &mut State, payer: &Payer) -> Customer {
    state
        .customers
        .entry(payer.email.to_ascii_lowercase())
        .or_insert_with(|| Customer {
            id: new_id("us_"),
            payer: payer.clone(),
        })
        .clone()
}

fn payable<'a>(
    state: &'a mut State,
    checkout_id: &str,
    now: DateTime<Utc>,
) -> Result<&'a mut StoredCheckout, LocalServerError> {
    let checkout = state
        .checkouts
        .get_mut(checkout_id)
        .ok_or_else(|| LocalServerError::UnknownCheckout(checkout_id.into()))?;
    if checkout.state == CheckoutState::Paid {
        return Err(LocalServerError::AlreadyPaid(checkout_id.into()));
    }
    if checkout.expires_at.is_some_and(|at| at <= now) {
        return Err(LocalServerError::Expired(checkout_id.into()));
    }
    if checkout.is_mixed() {
        return Err(LocalServerError::MixedItems(checkout_id.into()));
    }
    Ok(checkout)
}

/// A running local server; stops when [`stop`](Self::stop)ped or dropped.
#[derive(Debug)]
pub struct RunningLocalRecurrente {
    server: LocalRecurrente,
    base_url: Url,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningLocalRecurrente {
    /// `http://127.0.0.1:<port>/`: the `base_url` for the client.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The server's state and controls.
    pub fn server(&self) -> &LocalRecurrente {
        &self.server
    }

    /// Stop serving and wait for the server task.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.cancel();
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl std::ops::Deref for RunningLocalRecurrente {
    type Target = LocalRecurrente;

    fn deref(&self) -> &Self::Target {
        &self.server
    }
}

impl Drop for RunningLocalRecurrente {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[cfg(test)]
mod tests;
