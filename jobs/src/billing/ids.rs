//! Recurrente object ids (`ch_…`, `su_…`, `pa_…`).
//!
//! An id that arrives in a webhook is hostile until checked: it goes into a
//! request path and into `VARCHAR(50)` columns. [`RecurrenteId::parse`]
//! allows only the object's prefix, then ASCII letters, digits, `_` and
//! `-`, at most [`MAX_ID_LEN`] characters in all.

use std::{fmt, marker::PhantomData};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id stored (`recurrente_*_id VARCHAR(50)` in the billing
/// schema).
pub const MAX_ID_LEN: usize = 50;

/// Which Recurrente object an id names; fixes its prefix.
pub trait IdKind {
    /// The prefix every id of this kind starts with, e.g. `ch_`.
    const PREFIX: &'static str;
}

/// Checkout ids (`ch_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Checkout {}
impl IdKind for Checkout {
    const PREFIX: &'static str = "ch_";
}

/// Subscription ids (`su_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subscription {}
impl IdKind for Subscription {
    const PREFIX: &'static str = "su_";
}

/// Payment intent ids (`pa_…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentIntent {}
impl IdKind for PaymentIntent {
    const PREFIX: &'static str = "pa_";
}

/// A checked id of one kind of object.
pub struct RecurrenteId<K: IdKind> {
    id: String,
    kind: PhantomData<K>,
}

/// A checkout id.
pub type CheckoutId = RecurrenteId<Checkout>;
/// A subscription id.
pub type SubscriptionId = RecurrenteId<Subscription>;
/// A payment intent id.
pub type PaymentIntentId = RecurrenteId<PaymentIntent>;

/// Why a string is not an id of the expected kind (the value is not
/// repeated: it came from outside).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// Wrong or no prefix.
    #[error("a Recurrente id here starts with `{expected}`")]
    Prefix {
        /// The prefix expected.
        expected: &'static str,
    },
    /// Longer than [`MAX_ID_LEN`].
    #[error("a Recurrente id has at most {MAX_ID_LEN} characters, this one {len}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Nothing after the prefix, or a character outside `[A-Za-z0-9_-]`.
    #[error("a Recurrente id is its prefix followed by letters, digits, `_` or `-`")]
    Characters,
}

impl<K: IdKind> RecurrenteId<K> {
    /// Check `id` (surrounding whitespace is not trimmed: it is an error).
    pub fn parse(id: &str) -> Result<Self, InvalidId> {
        if id.len() > MAX_ID_LEN {
            return Err(InvalidId::TooLong { len: id.len() });
        }
        let rest = id
            .strip_prefix(K::PREFIX)
            .ok_or(InvalidId::Prefix { expected: K::PREFIX })?;
        if rest.is_empty()
            || !rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(InvalidId::Characters);
        }
        Ok(Self {
            id: id.to_owned(),
            kind: PhantomData,
        })
    }

    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.id
    }
}

impl<K: IdKind> PartialEq for RecurrenteId<K> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<K: IdKind> Eq for RecurrenteId<K> {}

impl<K: IdKind> std::hash::Hash for RecurrenteId<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<K: IdKind> Serialize for RecurrenteId<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id)
    }
}

impl<'de, K: IdKind> Deserialize<'de> for RecurrenteId<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        Self::parse(&id).map_err(serde::de::Error::custom)
    }
}

impl<K: IdKind> Clone for RecurrenteId<K> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: IdKind> fmt::Debug for RecurrenteId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.id)
    }
}

impl<K: IdKind> fmt::Display for RecurrenteId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl<K: IdKind> AsRef<str> for RecurrenteId<K> {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

impl<K: IdKind> TryFrom<String> for RecurrenteId<K> {
    type Error = InvalidId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl<K: IdKind> From<RecurrenteId<K>> for String {
    fn from(id: RecurrenteId<K>) -> Self {
        id.id
    }
}

impl<K: IdKind> std::str::FromStr for RecurrenteId<K> {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_by_kind() {
        assert_eq!(
            CheckoutId::parse("ch_eegw9j5zgqoae3ms").unwrap().as_str(),
            "ch_eegw9j5zgqoae3ms"
        );
        assert!(SubscriptionId::parse("su_abc-DEF_1").is_ok());
        assert_eq!(
            SubscriptionId::parse("ch_eegw9j5zgqoae3ms"),
            Err(InvalidId::Prefix { expected: "su_" })
        );
        assert_eq!(CheckoutId::parse("ch_"), Err(InvalidId::Characters));
        for hostile in ["ch_../../api/test", "ch_a?b", "ch_a b", "ch_a/b", "ch_é"] {
            assert_eq!(
                CheckoutId::parse(hostile),
                Err(InvalidId::Characters),
                "{hostile}"
            );
        }
        let long = format!("ch_{}", "a".repeat(48));
        assert_eq!(CheckoutId::parse(&long), Err(InvalidId::TooLong { len: 51 }));
        assert!(CheckoutId::parse(&long[..50]).is_ok());
    }

    #[test]
    fn ids_decode_from_json_and_refuse_bad_ones() {
        let id: PaymentIntentId = serde_json::from_str("\"pa_123\"").unwrap();
        assert_eq!(id.to_string(), "pa_123");
        assert!(serde_json::from_str::<PaymentIntentId>("\"su_123\"").is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"pa_123\"");
    }
}
