//! Pieces of Recurrente's JSON shared by API responses and webhooks, and
//! the lenient decoders its quirks need.
//!
//! Recurrente's documented examples are not always consistent: amounts
//! arrive as numbers or as strings (`total_in_cents: "79900"`), optional
//! objects arrive as `null`, and `paymentable` changes shape with its
//! `type`. Every field here is optional or defaulted; an amount that is
//! neither a whole number nor a string of one is an error (a payment must
//! not be stored with a guessed amount), while an unreadable timestamp is
//! dropped (`None`): timestamps are informational, we keep our own.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, de};
use serde_json::{Map, Value};

/// A `{ "id": … }` reference to another object (`product`, `checkout`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IdRef {
    /// The referenced object's id.
    pub id: Option<String>,
}

/// A `payment` object: the charge, and what it paid for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PaymentRef {
    /// `pa_…`.
    pub id: Option<String>,
    /// What was paid: a subscription (`su_…`) or a one-time payment
    /// (`on_…`).
    #[serde(deserialize_with = "paymentable")]
    pub paymentable: Option<Paymentable>,
}

/// What a payment paid for. Only the type and id are kept: the rest of the
/// documented object (tax id, address, phone number) is personal data we
/// have no use for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paymentable {
    /// `Subscription` or `OneTimePayment` (as sent).
    pub kind: Option<String>,
    /// `su_…` or `on_…`.
    pub id: Option<String>,
}

impl Paymentable {
    /// The subscription this payment started or renewed, if it is one.
    pub fn subscription_id(&self) -> Option<&str> {
        match (self.kind.as_deref(), self.id.as_deref()) {
            (Some("Subscription"), id) => id,
            (None, Some(id)) if id.starts_with("su_") => Some(id),
            _ => None,
        }
    }
}

fn paymentable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Paymentable>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    Ok(value.as_ref().and_then(Value::as_object).map(|object| {
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        Paymentable {
            kind: text("type"),
            id: text("id"),
        }
    }))
}

/// How the customer paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PaymentMethod {
    /// `pay_m_…`.
    pub id: Option<String>,
    /// `card`, `bank_transfer_receiver`, …
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// For cards.
    pub card: Option<Card>,
}

/// The card's public part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Card {
    /// Last four digits.
    pub last4: Option<String>,
    /// `visa`, `mastercard`, …
    pub network: Option<String>,
}

/// The paying customer. Personal data: its `Debug` shows only the id.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Customer {
    /// `us_…`.
    pub id: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("id", &self.id)
            .field("email", &self.email.as_ref().map(|_| "[redacted]"))
            .field("full_name", &self.full_name.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A JSON object, `{}` when absent or `null` (metadata).
pub(crate) fn object_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

/// An amount in cents: a JSON integer, an integral float (`79900.0`), or a
/// string of either (`"79900"`); `null` or absent is `None`.
pub(crate) fn cents<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => cents_from_value(&value)
            .map(Some)
            .ok_or_else(|| de::Error::custom("an amount in cents must be a whole number")),
    }
}

/// [`cents`] for a value already decoded.
pub(crate) fn cents_from_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(integral)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(integral))
        }
        _ => None,
    }
}

fn integral(f: f64) -> Option<i64> {
    // Beyond 2^53 a float no longer holds every integer exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (f.is_finite() && f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
}

/// A timestamp in RFC 3339 (`2024-04-24T14:10:03.123-06:00`) or Rails'
/// default text form (`2024-04-24 14:10:03 -0600`, `… UTC`); anything
/// else, `null` or absent is `None`.
pub(crate) fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?
        .as_ref()
        .and_then(Value::as_str)
        .and_then(parse_timestamp))
}

pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f %z") {
        return Some(t.with_timezone(&Utc));
    }
    let naive = text.strip_suffix(" UTC")?;
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Amounts {
        #[serde(default, deserialize_with = "cents")]
        amount: Option<i64>,
        #[serde(default, deserialize_with = "timestamp")]
        at: Option<DateTime<Utc>>,
    }

    fn amount(json: &str) -> Result<Option<i64>, serde_json::Error> {
        serde_json::from_str::<Amounts>(json).map(|a| a.amount)
    }

    #[test]
    fn amounts_are_numbers_or_strings_of_whole_cents() {
        let cases = [
            ("integer", r#"{"amount":79900}"#, Some(79900)),
            ("string", r#"{"amount":"79900"}"#, Some(79900)),
            ("padded string", r#"{"amount":" 500 "}"#, Some(500)),
            ("integral float", r#"{"amount":79900.0}"#, Some(79900)),
            ("float string", r#"{"amount":"390000.0"}"#, Some(390000)),
            ("null", r#"{"amount":null}"#, None),
            ("absent", r#"{}"#, None),
        ];
        for (name, json, expected) in cases {
            assert_eq!(amount(json).unwrap(), expected, "{name}");
        }
        for (name, json) in [
            ("fraction of a cent", r#"{"amount":799.5}"#),
            ("words", r#"{"amount":"a lot"}"#),
            ("object", r#"{"amount":{"value":1}}"#),
            ("huge float", r#"{"amount":1e300}"#),
        ] {
            assert!(amount(json).is_err(), "{name}");
        }
    }

    #[test]
    fn timestamps_are_read_in_the_forms_rails_sends_or_dropped() {
        let at = |json: &str| serde_json::from_str::<Amounts>(json).unwrap().at;
        let expected = DateTime::parse_from_rfc3339("2024-04-24T20:10:03Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(at(r#"{"at":"2024-04-24T14:10:03-06:00"}"#), Some(expected));
        assert_eq!(at(r#"{"at":"2024-04-24 14:10:03 -0600"}"#), Some(expected));
        assert_eq!(at(r#"{"at":"2024-04-24 20:10:03 UTC"}"#), Some(expected));
        assert_eq!(at(r#"{"at":"yesterday"}"#), None);
        assert_eq!(at(r#"{"at":12}"#), None);
        assert_eq!(at(r#"{"at":null}"#), None);
    }

    #[test]
    fn paymentable_keeps_type_and_id_only() {
        let payment: PaymentRef = serde_json::from_str(
            r#"{"id":"pa_1","paymentable":{"type":"Subscription","id":"su_1","tax_id":"123","address":"Zona 10","phone_number":"+502"}}"#,
        )
        .unwrap();
        let paymentable = payment.paymentable.unwrap();
        assert_eq!(paymentable.subscription_id(), Some("su_1"));
        assert!(!format!("{paymentable:?}").contains("Zona"), "no address kept");
        let one_time: PaymentRef =
            serde_json::from_str(r#"{"paymentable":{"type":"OneTimePayment","id":"on_1"}}"#).unwrap();
        assert_eq!(one_time.paymentable.unwrap().subscription_id(), None);
        let odd: PaymentRef = serde_json::from_str(r#"{"paymentable":"su_1"}"#).unwrap();
        assert_eq!(odd.paymentable, None);
    }

    #[test]
    fn customers_do_not_show_personal_data_in_debug() {
        let customer: Customer =
            serde_json::from_str(r#"{"id":"us_1","email":"ana@example.com","full_name":"Ana López"}"#)
                .unwrap();
        let text = format!("{customer:?}");
        assert!(text.contains("us_1"));
        assert!(!text.contains("ana@") && !text.contains("López"), "{text}");
    }
}
