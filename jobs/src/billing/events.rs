//! Recurrente's webhook events, typed.
//!
//! The discriminator is `event_type`. The payload's `id` is the **object's**
//! id (`pa_…` for payment intents, `su_…` for subscriptions), shared by
//! several events about the same object: deduplicate deliveries on the
//! `svix-id` header ([`VerifiedMessage::id`](super::svix::VerifiedMessage)),
//! never on [`WebhookEvent::object_id`].
//!
//! Decoding is lenient: every field is optional, unknown fields are
//! ignored, amounts may be strings, and an event type this module does not
//! model is kept as [`WebhookEvent::Unknown`] (the ledger stores it; nothing
//! is lost). Only a body that is not a JSON object with an `event_type`, or
//! a known event whose fields have impossible types, is an [`EventError`].
//!
//! Only the `payment_intent.*` and `bank_transfer_intent.*` families carry
//! the checkout's metadata, and with it the [`SiteLink`]. Subscription
//! events are linked through their `su_…` id (the `paymentable` of the
//! payment that started them, or `GET /api/subscriptions/{id}` →
//! `checkout.id`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    link::SiteLink,
    wire::{self, Customer, IdRef, PaymentMethod, PaymentRef},
};
use crate::discover::providers::redacted;

/// A decoded webhook.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookEvent {
    /// `payment_intent.succeeded`: a card payment went through.
    PaymentIntentSucceeded(PaymentIntentEvent),
    /// `payment_intent.failed`: a card payment was declined.
    PaymentIntentFailed(PaymentIntentEvent),
    /// `bank_transfer_intent.pending`: a transfer was announced.
    BankTransferPending(PaymentIntentEvent),
    /// `bank_transfer_intent.succeeded`: a transfer arrived.
    BankTransferSucceeded(PaymentIntentEvent),
    /// `bank_transfer_intent.failed`: a transfer did not arrive.
    BankTransferFailed(PaymentIntentEvent),
    /// `subscription.create`: a subscription started (first charge paid).
    SubscriptionCreate(SubscriptionEvent),
    /// `subscription.past_due`: a renewal failed; Recurrente retries.
    SubscriptionPastDue(SubscriptionEvent),
    /// `subscription.paused`.
    SubscriptionPaused(SubscriptionEvent),
    /// `subscription.cancel`: ended, by request or after the last failed
    /// retry.
    SubscriptionCancel(SubscriptionEvent),
    /// `setup_intent.succeeded`: a free trial started or a card was saved.
    SetupIntentSucceeded(SetupIntentEvent),
    /// `setup_intent.cancelled`.
    SetupIntentCancelled(SetupIntentEvent),
    /// Any other event type (unified `intent.*`, balance events, future
    /// ones): kept, not interpreted.
    Unknown {
        /// Its `event_type`.
        event_type: String,
        /// Its `id`, if it had a string one.
        object_id: Option<String>,
    },
}

/// Why a body is not a webhook event. Messages never quote the payload (it
/// holds customer data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or not an object.
    #[error("the webhook body is not a JSON object: {0}")]
    NotJson(String),
    /// No string `event_type`.
    #[error("the webhook body has no `event_type`")]
    NoEventType,
    /// A known event with a field of an impossible type (an amount that is
    /// not a whole number, say).
    #[error("the `{event_type}` webhook is malformed: {message}")]
    Malformed {
        /// The event type.
        event_type: String,
        /// What is wrong (without values).
        message: String,
    },
}

/// The `payment_intent.*` and `bank_transfer_intent.*` payload.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PaymentIntentEvent {
    /// `pa_…` (or `ba_…` for bank transfers).
    pub id: Option<String>,
    /// `2024-04-24`, `2024-03-13`, `2023-08-29`, …
    pub api_version: Option<String>,
    /// The checkout paid, with our metadata.
    pub checkout: Option<EventCheckout>,
    /// When it happened.
    #[serde(deserialize_with = "wire::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    /// Why it failed (`payment_intent.failed`).
    pub failure_reason: Option<String>,
    /// Amount charged, in cents.
    #[serde(deserialize_with = "wire::cents")]
    pub amount_in_cents: Option<i64>,
    /// `GTQ` or `USD`.
    pub currency: Option<String>,
    /// Recurrente's fee, in cents.
    #[serde(deserialize_with = "wire::cents")]
    pub fee: Option<i64>,
    /// VAT withheld, in cents.
    #[serde(deserialize_with = "wire::cents")]
    pub vat_withheld: Option<i64>,
    /// Its currency.
    pub vat_withheld_currency: Option<String>,
    /// Who paid.
    pub customer: Option<Customer>,
    /// The payment and what it paid for.
    pub payment: Option<PaymentRef>,
    /// The product.
    pub product: Option<IdRef>,
    /// The invoice (`tax_invoice_url`: the Guatemalan FEL e-invoice).
    pub invoice: Option<Invoice>,
    /// Sent for connected accounts.
    pub connected: Option<bool>,
    /// The connected account (`ac_…`).
    pub account_id: Option<String>,
}

impl PaymentIntentEvent {
    /// Our site, from the checkout's metadata.
    pub fn site_link(&self) -> Option<SiteLink> {
        SiteLink::from_metadata(&self.checkout.as_ref()?.metadata)
    }

    /// The subscription this payment started or renewed (`su_…`), from
    /// `payment.paymentable` (top-level or the checkout's).
    pub fn subscription_id(&self) -> Option<&str> {
        fn from(p: Option<&PaymentRef>) -> Option<&str> {
            p?.paymentable.as_ref()?.subscription_id()
        }
        from(self.payment.as_ref()).or_else(|| from(self.checkout.as_ref().and_then(|c| c.payment.as_ref())))
    }
}

/// The checkout inside a payment event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EventCheckout {
    /// `ch_…`.
    pub id: Option<String>,
    /// `paid`, `unpaid`, `payment_in_progress`.
    pub status: Option<String>,
    /// The payment.
    pub payment: Option<PaymentRef>,
    /// How it was paid.
    pub payment_method: Option<PaymentMethod>,
    /// Our metadata, echoed.
    #[serde(deserialize_with = "wire::object_or_empty")]
    pub metadata: Map<String, Value>,
}

/// An invoice reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Invoice {
    /// Its id.
    pub id: Option<String>,
    /// The e-invoice link, once set.
    pub tax_invoice_url: Option<String>,
}

/// The `subscription.*` payload.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SubscriptionEvent {
    /// `su_…`.
    pub id: Option<String>,
    /// API version.
    pub api_version: Option<String>,
    /// When it happened.
    #[serde(deserialize_with = "wire::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    /// Subscriber's e-mail (personal data: not in `Debug`).
    pub customer_email: Option<String>,
    /// Subscriber (`us_…`).
    pub customer_id: Option<String>,
    /// Subscriber's name (personal data: not in `Debug`).
    pub customer_name: Option<String>,
    /// The payment behind the event.
    pub payment: Option<PaymentRef>,
    /// The product, its prices and metadata.
    pub product: Option<EventProduct>,
}

impl std::fmt::Debug for SubscriptionEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionEvent")
            .field("id", &self.id)
            .field("api_version", &self.api_version)
            .field("created_at", &self.created_at)
            .field("customer_id", &self.customer_id)
            .field("payment", &self.payment)
            .field("product", &self.product)
            .finish_non_exhaustive()
    }
}

impl SubscriptionEvent {
    /// Our site, when the product's metadata carries it. Whether Recurrente
    /// copies an inline item's metadata to the product is not documented:
    /// treat `None` as "link through the subscription id".
    pub fn site_link(&self) -> Option<SiteLink> {
        SiteLink::from_metadata(&self.product.as_ref()?.metadata)
    }
}

/// The product inside a subscription event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct EventProduct {
    /// `prod_…`.
    pub id: Option<String>,
    /// Its prices, as sent.
    pub prices: Vec<Value>,
    /// Its metadata.
    #[serde(deserialize_with = "wire::object_or_empty")]
    pub metadata: Map<String, Value>,
}

/// The `setup_intent.*` payload.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SetupIntentEvent {
    /// Its id.
    pub id: Option<String>,
    /// API version.
    pub api_version: Option<String>,
    /// When it happened.
    #[serde(deserialize_with = "wire::timestamp")]
    pub created_at: Option<DateTime<Utc>>,
    /// The subscription (the docs spell the key `suscription`; both are
    /// read, `subscription` first).
    #[serde(alias = "suscription")]
    pub subscription: Option<IdRef>,
    /// The saved payment method.
    pub payment_method: Option<PaymentMethod>,
    /// The checkout, when sent.
    pub checkout: Option<EventCheckout>,
    /// Who.
    pub customer: Option<Customer>,
}

impl SetupIntentEvent {
    /// Our site, when the checkout is included.
    pub fn site_link(&self) -> Option<SiteLink> {
        SiteLink::from_metadata(&self.checkout.as_ref()?.metadata)
    }
}

impl WebhookEvent {
    /// Decode a verified webhook body.
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson(redacted(&e)))?;
        let Value::Object(mut object) = value else {
            return Err(EventError::NotJson("not an object".into()));
        };
        let event_type = object
            .get("event_type")
            .and_then(Value::as_str)
            .ok_or(EventError::NoEventType)?
            .to_owned();
        // Both spellings are documented for setup intents; if both came,
        // `subscription` wins (serde would refuse a duplicate alias).
        if object.contains_key("subscription") {
            object.remove("suscription");
        }
        let value = Value::Object(object);
        fn decode<T: serde::de::DeserializeOwned>(event_type: &str, value: Value) -> Result<T, EventError> {
            serde_json::from_value(value).map_err(|e| EventError::Malformed {
                event_type: event_type.to_owned(),
                message: redacted(&e),
            })
        }
        let t = event_type.as_str();
        Ok(match t {
            "payment_intent.succeeded" => Self::PaymentIntentSucceeded(decode(t, value)?),
            "payment_intent.failed" => Self::PaymentIntentFailed(decode(t, value)?),
            "bank_transfer_intent.pending" => Self::BankTransferPending(decode(t, value)?),
            "bank_transfer_intent.succeeded" => Self::BankTransferSucceeded(decode(t, value)?),
            "bank_transfer_intent.failed" => Self::BankTransferFailed(decode(t, value)?),
            "subscription.create" => Self::SubscriptionCreate(decode(t, value)?),
            "subscription.past_due" => Self::SubscriptionPastDue(decode(t, value)?),
            "subscription.paused" => Self::SubscriptionPaused(decode(t, value)?),
            "subscription.cancel" => Self::SubscriptionCancel(decode(t, value)?),
            "setup_intent.succeeded" => Self::SetupIntentSucceeded(decode(t, value)?),
            "setup_intent.cancelled" => Self::SetupIntentCancelled(decode(t, value)?),
            _ => Self::Unknown {
                object_id: value.get("id").and_then(Value::as_str).map(str::to_owned),
                event_type,
            },
        })
    }

    /// The `event_type`, as sent.
    pub fn event_type(&self) -> &str {
        match self {
            Self::PaymentIntentSucceeded(_) => "payment_intent.succeeded",
            Self::PaymentIntentFailed(_) => "payment_intent.failed",
            Self::BankTransferPending(_) => "bank_transfer_intent.pending",
            Self::BankTransferSucceeded(_) => "bank_transfer_intent.succeeded",
            Self::BankTransferFailed(_) => "bank_transfer_intent.failed",
            Self::SubscriptionCreate(_) => "subscription.create",
            Self::SubscriptionPastDue(_) => "subscription.past_due",
            Self::SubscriptionPaused(_) => "subscription.paused",
            Self::SubscriptionCancel(_) => "subscription.cancel",
            Self::SetupIntentSucceeded(_) => "setup_intent.succeeded",
            Self::SetupIntentCancelled(_) => "setup_intent.cancelled",
            Self::Unknown { event_type, .. } => event_type,
        }
    }

    /// The payload's `id`: the object the event is about (for the ledger's
    /// `object_id`; not unique per event).
    pub fn object_id(&self) -> Option<&str> {
        match self {
            Self::PaymentIntentSucceeded(e)
            | Self::PaymentIntentFailed(e)
            | Self::BankTransferPending(e)
            | Self::BankTransferSucceeded(e)
            | Self::BankTransferFailed(e) => e.id.as_deref(),
            Self::SubscriptionCreate(e)
            | Self::SubscriptionPastDue(e)
            | Self::SubscriptionPaused(e)
            | Self::SubscriptionCancel(e) => e.id.as_deref(),
            Self::SetupIntentSucceeded(e) | Self::SetupIntentCancelled(e) => e.id.as_deref(),
            Self::Unknown { object_id, .. } => object_id.as_deref(),
        }
    }

    /// Our site, where the event carries the checkout's (or product's)
    /// metadata.
    pub fn site_link(&self) -> Option<SiteLink> {
        match self {
            Self::PaymentIntentSucceeded(e)
            | Self::PaymentIntentFailed(e)
            | Self::BankTransferPending(e)
            | Self::BankTransferSucceeded(e)
            | Self::BankTransferFailed(e) => e.site_link(),
            Self::SubscriptionCreate(e)
            | Self::SubscriptionPastDue(e)
            | Self::SubscriptionPaused(e)
            | Self::SubscriptionCancel(e) => e.site_link(),
            Self::SetupIntentSucceeded(e) | Self::SetupIntentCancelled(e) => e.site_link(),
            Self::Unknown { .. } => None,
        }
    }

    /// The subscription (`su_…`) the event concerns, if any.
    pub fn subscription_id(&self) -> Option<&str> {
        match self {
            Self::PaymentIntentSucceeded(e)
            | Self::PaymentIntentFailed(e)
            | Self::BankTransferPending(e)
            | Self::BankTransferSucceeded(e)
            | Self::BankTransferFailed(e) => e.subscription_id(),
            Self::SubscriptionCreate(e)
            | Self::SubscriptionPastDue(e)
            | Self::SubscriptionPaused(e)
            | Self::SubscriptionCancel(e) => e.id.as_deref(),
            Self::SetupIntentSucceeded(e) | Self::SetupIntentCancelled(e) => {
                e.subscription.as_ref()?.id.as_deref()
            }
            Self::Unknown { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::billing::link::{CheckoutStep, SITE_ID_KEY, STEP_KEY};

    fn site() -> Uuid {
        Uuid::parse_str("6f1c1d6e-8d2a-4c47-9d8e-2b1f3c4a5d6e").unwrap()
    }

    /// Written from the documented field list of `payment_intent.succeeded`
    /// (api_version 2024-04-24), with the quirks: a string fee, nulls.
    fn payment_succeeded() -> String {
        format!(
            r#"{{
  "id": "pa_id8f3kgl", "event_type": "payment_intent.succeeded", "api_version": "2024-04-24",
  "checkout": {{
    "id": "ch_eegw9j5zgqoae3ms", "status": "paid",
    "payment": {{"id": "pa_id8f3kgl", "paymentable": {{"type": "Subscription", "id": "su_0yhdjq6e",
                 "tax_name": null, "tax_id": "CF", "address": "Ciudad", "phone_number": null}}}},
    "payment_method": {{"id": "pay_m_qk1", "type": "card", "card": {{"last4": "4242", "network": "visa"}}}},
    "transfer_setups": [],
    "metadata": {{"{SITE_ID_KEY}": "{}", "{STEP_KEY}": "monthly"}}
  }},
  "created_at": "2026-11-20T10:00:00.000-06:00", "failure_reason": null,
  "amount_in_cents": 79900, "currency": "GTQ", "fee": "2796", "vat_withheld": 0,
  "vat_withheld_currency": "GTQ",
  "customer": {{"email": "ana@example.com", "full_name": "Ana López", "id": "us_7c2"}},
  "payment": {{"id": "pa_id8f3kgl", "paymentable": {{"type": "Subscription", "id": "su_0yhdjq6e"}}}},
  "product": {{"id": "prod_9"}},
  "invoice": {{"id": "in_1", "tax_invoice_url": null}},
  "something_new": {{"nested": true}}
}}"#,
            site()
        )
    }

    #[test]
    fn a_succeeded_payment_decodes_with_its_site_and_subscription() {
        // Act
        let event = WebhookEvent::parse(payment_succeeded().as_bytes()).unwrap();

        // Assert
        assert_eq!(event.event_type(), "payment_intent.succeeded");
        assert_eq!(event.object_id(), Some("pa_id8f3kgl"));
        assert_eq!(
            event.site_link(),
            Some(SiteLink {
                site_id: site(),
                step: Some(CheckoutStep::Monthly)
            })
        );
        assert_eq!(event.subscription_id(), Some("su_0yhdjq6e"));
        let WebhookEvent::PaymentIntentSucceeded(payment) = event else {
            panic!("wrong variant");
        };
        assert_eq!(payment.amount_in_cents, Some(79900));
        assert_eq!(payment.fee, Some(2796));
        assert_eq!(payment.vat_withheld, Some(0));
        assert_eq!(payment.currency.as_deref(), Some("GTQ"));
        let checkout = payment.checkout.as_ref().unwrap();
        assert_eq!(checkout.id.as_deref(), Some("ch_eegw9j5zgqoae3ms"));
        assert_eq!(
            checkout
                .payment_method
                .as_ref()
                .and_then(|m| m.card.as_ref())
                .and_then(|c| c.network.as_deref()),
            Some("visa")
        );
        assert_eq!(
            payment.customer.as_ref().unwrap().email.as_deref(),
            Some("ana@example.com")
        );
        assert!(!format!("{payment:?}").contains("ana@example.com"));
    }

    #[test]
    fn a_failed_one_time_payment_with_missing_fields_still_decodes() {
        let body =
            br#"{"id":"pa_x","event_type":"payment_intent.failed","failure_reason":"Fondos insuficientes",
            "amount_in_cents":"390000","checkout":{"id":"ch_1","metadata":null},"customer":null}"#;
        let event = WebhookEvent::parse(body).unwrap();
        let WebhookEvent::PaymentIntentFailed(payment) = &event else {
            panic!("{event:?}");
        };
        assert_eq!(payment.failure_reason.as_deref(), Some("Fondos insuficientes"));
        assert_eq!(payment.amount_in_cents, Some(390000));
        assert_eq!(event.site_link(), None);
        assert_eq!(event.subscription_id(), None);
    }

    #[test]
    fn subscription_events_decode_and_link_by_their_id() {
        for (event_type, expected) in [
            ("subscription.create", "SubscriptionCreate"),
            ("subscription.past_due", "SubscriptionPastDue"),
            ("subscription.paused", "SubscriptionPaused"),
            ("subscription.cancel", "SubscriptionCancel"),
        ] {
            let body = format!(
                r#"{{"api_version":"2024-04-24","created_at":"2026-11-20T10:00:00Z",
                    "customer_email":"ana@example.com","customer_id":"us_7c2","customer_name":"Ana",
                    "event_type":"{event_type}","id":"su_0yhdjq6e",
                    "payment":{{"id":"pa_1","paymentable":{{"type":"Subscription","id":"su_0yhdjq6e"}}}},
                    "product":{{"id":"prod_9","prices":[{{"id":"price_1","amount_in_cents":"79900"}}],"metadata":{{}}}}}}"#
            );
            let event = WebhookEvent::parse(body.as_bytes()).unwrap();
            assert!(format!("{event:?}").starts_with(expected), "{event_type}");
            assert!(!format!("{event:?}").contains("ana@"), "{event_type}");
            assert_eq!(event.event_type(), event_type);
            assert_eq!(event.object_id(), Some("su_0yhdjq6e"));
            assert_eq!(event.subscription_id(), Some("su_0yhdjq6e"));
            assert_eq!(event.site_link(), None, "no checkout metadata");
        }
    }

    #[test]
    fn a_subscription_event_links_to_the_site_when_the_product_carries_it() {
        let body = format!(
            r#"{{"event_type":"subscription.create","id":"su_1",
                "product":{{"id":"prod_1","metadata":{{"{SITE_ID_KEY}":"{}"}}}}}}"#,
            site()
        );
        let event = WebhookEvent::parse(body.as_bytes()).unwrap();
        assert_eq!(event.site_link().unwrap().site_id, site());
    }

    #[test]
    fn setup_intents_read_both_spellings_of_subscription() {
        for key in ["suscription", "subscription"] {
            let body = format!(
                r#"{{"event_type":"setup_intent.succeeded","id":"se_1","{key}":{{"id":"su_trial"}}}}"#
            );
            let event = WebhookEvent::parse(body.as_bytes()).unwrap();
            assert!(matches!(event, WebhookEvent::SetupIntentSucceeded(_)), "{key}");
            assert_eq!(event.subscription_id(), Some("su_trial"), "{key}");
        }
        let both = br#"{"event_type":"setup_intent.cancelled","id":"se_1",
            "subscription":{"id":"su_right"},"suscription":{"id":"su_typo"}}"#;
        assert_eq!(
            WebhookEvent::parse(both).unwrap().subscription_id(),
            Some("su_right")
        );
    }

    #[test]
    fn bank_transfers_share_the_payment_shape() {
        let body = format!(
            r#"{{"event_type":"bank_transfer_intent.pending","id":"ba_1","amount_in_cents":390000,
                "checkout":{{"id":"ch_1","status":"payment_in_progress",
                  "payment_method":{{"type":"bank_transfer_receiver"}},
                  "metadata":{{"{SITE_ID_KEY}":"{}","{STEP_KEY}":"setup"}}}}}}"#,
            site()
        );
        let event = WebhookEvent::parse(body.as_bytes()).unwrap();
        assert!(matches!(event, WebhookEvent::BankTransferPending(_)));
        assert_eq!(event.object_id(), Some("ba_1"));
        assert_eq!(event.site_link().unwrap().step, Some(CheckoutStep::Setup));
    }

    #[test]
    fn other_event_types_are_kept_as_unknown() {
        let body = br#"{"type":"payment","event_type":"intent.succeeded","id":"in_1","status":"succeeded","amount_in_cents":100}"#;
        assert_eq!(
            WebhookEvent::parse(body).unwrap(),
            WebhookEvent::Unknown {
                event_type: "intent.succeeded".into(),
                object_id: Some("in_1".into())
            }
        );
        let no_id = br#"{"event_type":"balance_intent.paid","id":7}"#;
        assert_eq!(WebhookEvent::parse(no_id).unwrap().object_id(), None);
    }

    #[test]
    fn bodies_that_are_not_events_are_typed_errors_that_quote_nothing() {
        let cases: [(&str, &[u8]); 6] = [
            ("empty", b""),
            ("not json", b"event_type=payment_intent.succeeded"),
            ("array", b"[1,2]"),
            ("no type", br#"{"id":"pa_1"}"#),
            ("numeric type", br#"{"event_type":5}"#),
            (
                "impossible amount",
                br#"{"event_type":"payment_intent.succeeded","amount_in_cents":"ana@example.com"}"#,
            ),
        ];
        for (name, body) in cases {
            let error = WebhookEvent::parse(body).unwrap_err();
            match name {
                "no type" | "numeric type" => assert_eq!(error, EventError::NoEventType, "{name}"),
                "impossible amount" => {
                    assert!(matches!(error, EventError::Malformed { .. }), "{name}");
                    assert!(!error.to_string().contains("ana@"), "{error}");
                }
                _ => assert!(matches!(error, EventError::NotJson(_)), "{name}: {error:?}"),
            }
        }
        // The WebMagic-style body from the docs (`{{`, `,,`) is refused,
        // not half-read.
        assert!(WebhookEvent::parse(br#"{{"event_type":"payment_intent.failed",,}"#).is_err());
    }
}
