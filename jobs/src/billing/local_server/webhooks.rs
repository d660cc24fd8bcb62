//! The webhooks the local server sends: payloads written from Recurrente's
//! documented field lists, Svix-signed, delivered over HTTP.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Customer, LocalRecurrente, StoredCheckout, StoredSubscription, lock, new_id};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};

use crate::billing::svix;

/// The `api_version` the server writes (the newest one seen in the docs).
pub const API_VERSION: &str = "2024-04-24";

/// How webhooks are delivered (for the receiver's tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Send each webhook this many times, with the same `svix-id` (as Svix
    /// retries do). At least 1.
    pub copies: u32,
    /// Send every delivery at once instead of one after another.
    pub concurrent: bool,
    /// Send the events in reverse order (`subscription.create` before
    /// `payment_intent.succeeded`).
    pub reverse_order: bool,
    /// Sign with a different secret, so verification must fail.
    pub bad_signature: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            copies: 1,
            concurrent: false,
            reverse_order: false,
            bad_signature: false,
        }
    }
}

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The endpoint answered with this status.
    Answered(u16),
    /// No answer (refused, timed out).
    Failed(String),
}

/// One delivery of one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Its `svix-id`.
    pub svix_id: String,
    /// Its `event_type`.
    pub event_type: String,
    /// Which copy (0-based).
    pub copy: u32,
    /// The endpoint's answer.
    pub outcome: DeliveryOutcome,
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A `payment_intent.*` payload for `checkout` (its `payment` is the one
/// being reported).
pub(super) fn payment_intent(
    event_type: &str,
    checkout: &StoredCheckout,
    customer: &Customer,
    failure_reason: Option<&str>,
    now: DateTime<Utc>,
) -> (String, Value) {
    let payment_id = checkout
        .payment
        .as_ref()
        .map_or_else(|| new_id("pa_"), |p| p.id.clone());
    let paymentable = checkout.payment.as_ref().map(|p| {
        json!({
            "type": p.paymentable_type,
            "id": if p.paymentable_id.is_empty() { Value::Null } else { json!(p.paymentable_id) },
            "tax_name": null, "tax_id": "CF", "address": null, "phone_number": null,
        })
    });
    let succeeded = failure_reason.is_none();
    let payment = json!({"id": payment_id, "paymentable": paymentable});
    let currency = checkout.currency().as_str();
    let body = json!({
        "id": payment_id,
        "event_type": event_type,
        "api_version": API_VERSION,
        "checkout": {
            "id": checkout.id,
            "status": if succeeded { "paid" } else { "unpaid" },
            "payment": payment,
            "payment_method": {
                "id": "pay_m_local4242",
                "type": "card",
                "card": {"last4": "4242", "network": "visa"},
            },
            "transfer_setups": [],
            "metadata": checkout.metadata,
        },
        "created_at": timestamp(now),
        "failure_reason": failure_reason,
        "amount_in_cents": checkout.total_cents(),
        "currency": currency,
        "fee": 0,
        "vat_withheld": 0,
        "vat_withheld_currency": currency,
        "customer": {
            "email": customer.payer.email,
            "full_name": customer.payer.full_name,
            "id": customer.id,
        },
        "payment": payment,
        "product": {"id": checkout.items.first().map(|i| i.product_id.clone())},
        "invoice": {"id": null, "tax_invoice_url": null},
    });
    (event_type.to_owned(), body)
}

/// A `subscription.*` payload.
pub(super) fn subscription_event(
    event_type: &str,
    sub: &StoredSubscription,
    now: DateTime<Utc>,
) -> (String, Value) {
    let (interval, count) = sub.item.recurring.map_or(("month", 1), |(i, c)| (i.as_str(), c));
    let body = json!({
        "api_version": API_VERSION,
        "created_at": timestamp(now),
        "customer_email": sub.customer.payer.email,
        "customer_id": sub.customer.id,
        "customer_name": sub.customer.payer.full_name,
        "event_type": event_type,
        "id": sub.id,
        "payment": {
            "id": sub.last_payment_id,
            "paymentable": {"type": "Subscription", "id": sub.id},
        },
        "product": {
            "id": sub.item.product_id,
            "prices": [{
                "id": sub.item.product_id.replacen("prod_", "price_", 1),
                "amount_in_cents": sub.item.amount_in_cents,
                "currency": sub.item.currency.as_str(),
                "charge_type": "recurring",
                "billing_interval": interval,
                "billing_interval_count": count,
            }],
            "metadata": sub.item.metadata,
        },
    });
    (event_type.to_owned(), body)
}

impl LocalRecurrente {
    /// Sign and send `events` to the webhook URL per `options`; one report
    /// per delivery. No URL: nothing is sent. While webhooks are held they
    /// are kept for [`LocalRecurrente::deliver_held`] instead.
    pub(super) async fn deliver(
        &self,
        events: Vec<(String, Value)>,
        options: &DeliveryOptions,
    ) -> Vec<DeliveryReport> {
        {
            let mut state = lock(&self.inner.state);
            if state.holding {
                state.held.extend(events);
                return Vec::new();
            }
        }
        self.send(events, options).await
    }

    /// Sign and send `events` now (see [`Self::deliver`]).
    pub(super) async fn send(
        &self,
        mut events: Vec<(String, Value)>,
        options: &DeliveryOptions,
    ) -> Vec<DeliveryReport> {
        let Some(url) = lock(&self.inner.webhook_url).clone() else {
            return Vec::new();
        };
        if options.reverse_order {
            events.reverse();
        }
        let secret = self.inner.config.webhook_secret.clone();
        let bad_signature = options.bad_signature;
        let mut sends = Vec::new();
        for (event_type, body) in events {
            let svix_id = new_id("msg_");
            let bytes = body.to_string().into_bytes();
            for copy in 0..options.copies.max(1) {
                sends.push((svix_id.clone(), event_type.clone(), copy, bytes.clone()));
            }
        }
        let send = |(svix_id, event_type, copy, bytes): (String, String, u32, Vec<u8>)| {
            let url = url.clone();
            let secret = secret.clone();
            async move {
                // Signed at send time, as each Svix attempt is.
                let mut signed = svix::sign(
                    std::slice::from_ref(&secret),
                    &svix_id,
                    Utc::now().timestamp(),
                    &bytes,
                );
                if bad_signature {
                    // Well-formed, but no key made it.
                    signed.signature = format!("v1,{}", BASE64.encode([0u8; 32]));
                }
                let outcome = match self
                    .inner
                    .http
                    .post(url)
                    .headers(signed.to_header_map())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes)
                    .send()
                    .await
                {
                    Ok(response) => DeliveryOutcome::Answered(response.status().as_u16()),
                    Err(e) => DeliveryOutcome::Failed(e.without_url().to_string()),
                };
                DeliveryReport {
                    svix_id,
                    event_type,
                    copy,
                    outcome,
                }
            }
        };
        if options.concurrent {
            futures::future::join_all(sends.into_iter().map(send)).await
        } else {
            let mut reports = Vec::with_capacity(sends.len());
            for item in sends {
                reports.push(send(item).await);
            }
            reports
        }
    }
}
