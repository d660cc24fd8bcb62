//! Checkout requests, checked against Recurrente's documented limits before
//! they are sent.
//!
//! Limits (Recurrente API docs): `amount_in_cents` ≥ 500 in GTQ and ≥ 100
//! in USD; `quantity` 1–9; `currency` GTQ or USD; `billing_interval` week,
//! month or year; metadata at most 50 keys, keys ≤ 40 characters, values ≤
//! 500 characters. One checkout holds either one-time items or recurring
//! ones, never both (paying a mixed checkout fails with 422).

use std::{collections::BTreeMap, fmt, str::FromStr};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// Metadata keys allowed per checkout or item.
pub const MAX_METADATA_KEYS: usize = 50;
/// Characters allowed in a metadata key.
pub const MAX_METADATA_KEY_CHARS: usize = 40;
/// Characters allowed in a metadata value.
pub const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Quantities allowed per item.
pub const QUANTITY_RANGE: std::ops::RangeInclusive<u8> = 1..=9;

/// The currencies Recurrente charges in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    /// Guatemalan quetzal.
    #[serde(rename = "GTQ")]
    Gtq,
    /// US dollar.
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    /// The ISO code, as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Currency::Gtq => "GTQ",
            Currency::Usd => "USD",
        }
    }

    /// The smallest inline amount Recurrente accepts (Q5, $1).
    pub fn minimum_cents(self) -> u32 {
        match self {
            Currency::Gtq => 500,
            Currency::Usd => 100,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = CheckoutError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "GTQ" => Ok(Currency::Gtq),
            "USD" => Ok(Currency::Usd),
            _ => Err(CheckoutError::Currency),
        }
    }
}

/// How often a recurring item charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingInterval {
    /// Weekly.
    Week,
    /// Monthly.
    Month,
    /// Yearly.
    Year,
}

impl BillingInterval {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingInterval::Week => "week",
            BillingInterval::Month => "month",
            BillingInterval::Year => "year",
        }
    }
}

/// Why a checkout cannot be sent as built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    /// Not GTQ or USD.
    #[error("Recurrente charges in GTQ or USD only")]
    Currency,
    /// Below Recurrente's minimum for the currency.
    #[error("{amount_cents} cents is below Recurrente's minimum of {minimum_cents} cents in {currency}")]
    BelowMinimum {
        /// The amount asked for.
        amount_cents: u32,
        /// The minimum.
        minimum_cents: u32,
        /// Its currency.
        currency: Currency,
    },
    /// Quantity outside 1–9.
    #[error("quantity {0} is outside Recurrente's 1–9")]
    Quantity(u8),
    /// A blank item name.
    #[error("an item needs a name")]
    BlankName,
    /// A recurring item charging every 0 intervals.
    #[error("a recurring item charges every 1 or more intervals")]
    IntervalCount,
    /// Too many metadata keys.
    #[error("metadata holds at most {MAX_METADATA_KEYS} keys")]
    TooManyKeys,
    /// A metadata key is blank or longer than 40 characters.
    #[error("metadata key `{key}` is blank or longer than {MAX_METADATA_KEY_CHARS} characters")]
    Key {
        /// The key (ours, not customer data).
        key: String,
    },
    /// A metadata value is longer than 500 characters.
    #[error("the value of metadata key `{key}` is longer than {MAX_METADATA_VALUE_CHARS} characters")]
    Value {
        /// Its key.
        key: String,
    },
    /// No items.
    #[error("a checkout needs at least one item")]
    NoItems,
    /// One-time and recurring items together.
    #[error("Recurrente cannot charge one-time and recurring items in one checkout")]
    MixedCharges,
    /// Items in different currencies.
    #[error("all items of a checkout must be in one currency")]
    MixedCurrencies,
    /// A URL that is not http(s).
    #[error("the {which} URL must be http or https")]
    Url {
        /// `success` or `cancel`.
        which: &'static str,
    },
}

/// An amount in one currency, at or above Recurrente's minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Price {
    currency: Currency,
    amount_cents: u32,
}

impl Price {
    /// A price; refused below the currency's minimum.
    pub fn new(currency: Currency, amount_cents: u32) -> Result<Self, CheckoutError> {
        let minimum_cents = currency.minimum_cents();
        if amount_cents < minimum_cents {
            return Err(CheckoutError::BelowMinimum {
                amount_cents,
                minimum_cents,
                currency,
            });
        }
        Ok(Self {
            currency,
            amount_cents,
        })
    }

    /// Its currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Its amount, in cents.
    pub fn amount_cents(self) -> u32 {
        self.amount_cents
    }
}

/// Checkout or item metadata within Recurrente's limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add or replace one entry, refusing what Recurrente would refuse.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<(), CheckoutError> {
        let key = key.into();
        let value = value.into();
        check_metadata_entry(&key, &value)?;
        if !self.0.contains_key(&key) && self.0.len() >= MAX_METADATA_KEYS {
            return Err(CheckoutError::TooManyKeys);
        }
        self.0.insert(key, value);
        Ok(())
    }

    /// One value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The metadata rules for one entry (shared with the local server, which
/// enforces them on what it receives).
pub fn check_metadata_entry(key: &str, value: &str) -> Result<(), CheckoutError> {
    if key.trim().is_empty() || key.chars().count() > MAX_METADATA_KEY_CHARS {
        return Err(CheckoutError::Key {
            key: key.chars().take(MAX_METADATA_KEY_CHARS + 1).collect(),
        });
    }
    if value.chars().count() > MAX_METADATA_VALUE_CHARS {
        return Err(CheckoutError::Value { key: key.to_owned() });
    }
    Ok(())
}

/// Whether an item charges once or on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Once.
    OneTime,
    /// Every `every` intervals until cancelled.
    Recurring {
        /// The interval.
        interval: BillingInterval,
        /// How many intervals between charges (≥ 1).
        every: u16,
    },
}

/// One inline item (no catalogue product needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutItem {
    name: String,
    description: Option<String>,
    price: Price,
    quantity: u8,
    image_url: Option<Url>,
    charge: Charge,
    metadata: Metadata,
}

impl CheckoutItem {
    /// A one-time item.
    pub fn one_time(name: impl Into<String>, price: Price) -> Result<Self, CheckoutError> {
        Self::new(name.into(), price, Charge::OneTime)
    }

    /// A recurring item, charged every `every` `interval`s.
    pub fn recurring(
        name: impl Into<String>,
        price: Price,
        interval: BillingInterval,
        every: u16,
    ) -> Result<Self, CheckoutError> {
        if every == 0 {
            return Err(CheckoutError::IntervalCount);
        }
        Self::new(name.into(), price, Charge::Recurring { interval, every })
    }

    fn new(name: String, price: Price, charge: Charge) -> Result<Self, CheckoutError> {
        let name = name.trim().to_owned();
        if name.is_empty() {
            return Err(CheckoutError::BlankName);
        }
        Ok(Self {
            name,
            description: None,
            price,
            quantity: 1,
            image_url: None,
            charge,
            metadata: Metadata::new(),
        })
    }

    /// Shown under the name on the checkout page.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        let description = description.into();
        self.description = (!description.trim().is_empty()).then_some(description);
        self
    }

    /// Shown next to the item (a screenshot of the site, say).
    pub fn with_image_url(mut self, image_url: Url) -> Self {
        self.image_url = Some(image_url);
        self
    }

    /// 1–9 units.
    pub fn with_quantity(mut self, quantity: u8) -> Result<Self, CheckoutError> {
        if !QUANTITY_RANGE.contains(&quantity) {
            return Err(CheckoutError::Quantity(quantity));
        }
        self.quantity = quantity;
        Ok(self)
    }

    /// The item's own metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Its price.
    pub fn price(&self) -> Price {
        self.price
    }

    /// Its charge kind.
    pub fn charge(&self) -> Charge {
        self.charge
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Units.
    pub fn quantity(&self) -> u8 {
        self.quantity
    }
}

/// A checkout to create: one or more items of one charge kind, where to
/// send the customer afterwards, and our metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    items: Vec<CheckoutItem>,
    success_url: Url,
    cancel_url: Url,
    metadata: Metadata,
    user_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

impl CheckoutRequest {
    /// A checkout; refused when empty, mixed (one-time with recurring, or
    /// two currencies), or with non-http(s) URLs.
    pub fn new(
        items: Vec<CheckoutItem>,
        success_url: Url,
        cancel_url: Url,
        metadata: Metadata,
    ) -> Result<Self, CheckoutError> {
        let first = items.first().ok_or(CheckoutError::NoItems)?;
        let recurring = matches!(first.charge, Charge::Recurring { .. });
        let currency = first.price.currency;
        for item in &items {
            if matches!(item.charge, Charge::Recurring { .. }) != recurring {
                return Err(CheckoutError::MixedCharges);
            }
            if item.price.currency != currency {
                return Err(CheckoutError::MixedCurrencies);
            }
        }
        for (which, url) in [("success", &success_url), ("cancel", &cancel_url)] {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(CheckoutError::Url { which });
            }
        }
        Ok(Self {
            items,
            success_url,
            cancel_url,
            metadata,
            user_id: None,
            expires_at: None,
        })
    }

    /// Attach the checkout to a Recurrente user (`us_…`).
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// After this the checkout cannot be paid.
    pub fn with_expires_at(mut self, expires_at: DateTime<Utc>) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Whether its items are recurring (a subscription checkout).
    pub fn is_recurring(&self) -> bool {
        self.items
            .iter()
            .any(|item| matches!(item.charge, Charge::Recurring { .. }))
    }

    /// Its items.
    pub fn items(&self) -> &[CheckoutItem] {
        &self.items
    }

    /// Its metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Where the customer lands after paying.
    pub fn success_url(&self) -> &Url {
        &self.success_url
    }

    /// Where the customer lands after cancelling.
    pub fn cancel_url(&self) -> &Url {
        &self.cancel_url
    }

    /// The sum of amount × quantity, in cents.
    pub fn total_cents(&self) -> u64 {
        self.items
            .iter()
            .map(|item| u64::from(item.price.amount_cents) * u64::from(item.quantity))
            .sum()
    }

    /// The documented `POST /api/checkouts` body.
    pub fn to_wire(&self) -> serde_json::Value {
        let items: Vec<WireItem<'_>> = self.items.iter().map(WireItem::from).collect();
        let body = WireCheckout {
            items,
            success_url: self.success_url.as_str(),
            cancel_url: self.cancel_url.as_str(),
            metadata: &self.metadata,
            user_id: self.user_id.as_deref(),
            expires_at: self
                .expires_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        };
        // Plain strings, integers and maps of strings always serialise.
        serde_json::to_value(body).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct WireCheckout<'a> {
    items: Vec<WireItem<'a>>,
    success_url: &'a str,
    cancel_url: &'a str,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct WireItem<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    currency: Currency,
    amount_in_cents: u32,
    quantity: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_dynamic_pricing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    charge_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_interval: Option<BillingInterval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_interval_count: Option<u16>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    metadata: &'a Metadata,
}

impl<'a> From<&'a CheckoutItem> for WireItem<'a> {
    fn from(item: &'a CheckoutItem) -> Self {
        let (has_dynamic_pricing, charge_type, billing_interval, billing_interval_count) = match item.charge {
            Charge::OneTime => (Some(false), None, None, None),
            Charge::Recurring { interval, every } => (None, Some("recurring"), Some(interval), Some(every)),
        };
        Self {
            name: &item.name,
            description: item.description.as_deref(),
            currency: item.price.currency,
            amount_in_cents: item.price.amount_cents,
            quantity: item.quantity,
            image_url: item.image_url.as_ref().map(Url::as_str),
            has_dynamic_pricing,
            charge_type,
            billing_interval,
            billing_interval_count,
            metadata: &item.metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn minimums_are_per_currency() {
        assert!(Price::new(Currency::Gtq, 500).is_ok());
        assert_eq!(
            Price::new(Currency::Gtq, 499),
            Err(CheckoutError::BelowMinimum {
                amount_cents: 499,
                minimum_cents: 500,
                currency: Currency::Gtq
            })
        );
        assert!(Price::new(Currency::Usd, 100).is_ok());
        assert!(Price::new(Currency::Usd, 99).is_err());
        assert_eq!("EUR".parse::<Currency>(), Err(CheckoutError::Currency));
    }

    #[test]
    fn metadata_limits_are_enforced() {
        let mut metadata = Metadata::new();
        assert!(metadata.insert("k".repeat(40), "v".repeat(500)).is_ok());
        assert!(matches!(
            metadata.insert("k".repeat(41), "v"),
            Err(CheckoutError::Key { .. })
        ));
        assert!(matches!(
            metadata.insert(" ", "v"),
            Err(CheckoutError::Key { .. })
        ));
        assert!(matches!(
            metadata.insert("long", "é".repeat(501)),
            Err(CheckoutError::Value { .. })
        ));
        // Characters, not bytes: 500 two-byte characters fit.
        assert!(metadata.insert("accents", "é".repeat(500)).is_ok());
        for i in metadata.len()..MAX_METADATA_KEYS {
            metadata.insert(format!("key{i}"), "v").unwrap();
        }
        assert_eq!(metadata.len(), 50);
        assert_eq!(metadata.insert("one_more", "v"), Err(CheckoutError::TooManyKeys));
        // Replacing an existing key is not a new key.
        assert!(metadata.insert("key10", "w").is_ok());
        assert_eq!(metadata.get("key10"), Some("w"));
    }

    #[test]
    fn quantity_and_names_are_checked() {
        let price = Price::new(Currency::Gtq, 1000).unwrap();
        let item = CheckoutItem::one_time("Setup", price).unwrap();
        assert_eq!(item.clone().with_quantity(9).unwrap().quantity(), 9);
        assert_eq!(item.clone().with_quantity(0), Err(CheckoutError::Quantity(0)));
        assert_eq!(item.with_quantity(10), Err(CheckoutError::Quantity(10)));
        assert_eq!(CheckoutItem::one_time("  ", price), Err(CheckoutError::BlankName));
        assert_eq!(
            CheckoutItem::recurring("Plan", price, BillingInterval::Month, 0),
            Err(CheckoutError::IntervalCount)
        );
    }

    #[test]
    fn one_checkout_never_mixes_charges_or_currencies() {
        let gtq = Price::new(Currency::Gtq, 1000).unwrap();
        let usd = Price::new(Currency::Usd, 1000).unwrap();
        let once = CheckoutItem::one_time("Setup", gtq).unwrap();
        let monthly = CheckoutItem::recurring("Plan", gtq, BillingInterval::Month, 1).unwrap();
        let ok = url("https://example.com/ok");
        let mixed = CheckoutRequest::new(
            vec![once.clone(), monthly],
            ok.clone(),
            ok.clone(),
            Metadata::new(),
        );
        assert_eq!(mixed, Err(CheckoutError::MixedCharges));
        let two_currencies = CheckoutRequest::new(
            vec![once.clone(), CheckoutItem::one_time("Extra", usd).unwrap()],
            ok.clone(),
            ok.clone(),
            Metadata::new(),
        );
        assert_eq!(two_currencies, Err(CheckoutError::MixedCurrencies));
        assert_eq!(
            CheckoutRequest::new(Vec::new(), ok.clone(), ok.clone(), Metadata::new()),
            Err(CheckoutError::NoItems)
        );
        assert_eq!(
            CheckoutRequest::new(vec![once], ok, url("mailto:a@b.c"), Metadata::new()),
            Err(CheckoutError::Url { which: "cancel" })
        );
    }

    #[test]
    fn the_wire_body_is_the_documented_shape() {
        // Arrange
        let price = Price::new(Currency::Gtq, 79900).unwrap();
        let mut item_meta = Metadata::new();
        item_meta.insert("plan", "basic").unwrap();
        let monthly = CheckoutItem::recurring("Mantenimiento", price, BillingInterval::Month, 1)
            .unwrap()
            .with_description("Hosting y soporte")
            .with_metadata(item_meta);
        let setup = CheckoutItem::one_time("Setup", Price::new(Currency::Gtq, 390000).unwrap())
            .unwrap()
            .with_image_url(url("https://example.com/shot.png"));
        let mut metadata = Metadata::new();
        metadata.insert("site_id", "s1").unwrap();
        let expires = DateTime::parse_from_rfc3339("2050-05-15T13:45:30Z")
            .unwrap()
            .with_timezone(&Utc);

        // Act
        let recurring = CheckoutRequest::new(
            vec![monthly],
            url("https://example.com/paid"),
            url("https://example.com/cancel"),
            metadata.clone(),
        )
        .unwrap()
        .to_wire();
        let once = CheckoutRequest::new(
            vec![setup],
            url("https://example.com/paid"),
            url("https://example.com/cancel"),
            metadata,
        )
        .unwrap()
        .with_user_id("us_123456")
        .with_expires_at(expires)
        .to_wire();

        // Assert
        assert_eq!(
            recurring,
            json!({"items":[{"name":"Mantenimiento","description":"Hosting y soporte",
                "currency":"GTQ","amount_in_cents":79900,"quantity":1,
                "charge_type":"recurring","billing_interval":"month","billing_interval_count":1,
                "metadata":{"plan":"basic"}}],
              "success_url":"https://example.com/paid","cancel_url":"https://example.com/cancel",
              "metadata":{"site_id":"s1"}})
        );
        assert_eq!(
            once,
            json!({"items":[{"name":"Setup","currency":"GTQ","amount_in_cents":390000,"quantity":1,
                "image_url":"https://example.com/shot.png","has_dynamic_pricing":false}],
              "success_url":"https://example.com/paid","cancel_url":"https://example.com/cancel",
              "metadata":{"site_id":"s1"},"user_id":"us_123456","expires_at":"2050-05-15T13:45:30Z"})
        );
    }
}
