use std::fmt;

use serde::{Deserialize, Serialize};

/// An e-mail address with a plausible local part and a valid domain
/// (lower-cased; the local part keeps its case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// Longest address accepted.
const MAX_LEN: usize = 254;

/// Why a string is not an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid e-mail address: {reason}")]
pub struct EmailError {
    input: String,
    reason: &'static str,
}

impl EmailAddress {
    /// Parse an address like `Info@Example.lu` (also accepts a `mailto:` link).
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        let err = |reason| EmailError {
            input: trimmed.chars().take(80).collect(),
            reason,
        };
        let raw = trimmed
            .strip_prefix("mailto:")
            .or_else(|| trimmed.strip_prefix("MAILTO:"))
            .unwrap_or(trimmed);
        let raw = raw.split('?').next().unwrap_or(raw);
        let (local, domain) = raw.rsplit_once('@').ok_or_else(|| err("it has no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(err("its local part is empty or longer than 64 characters"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(err("its local part has misplaced dots"));
        }
        if !local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        {
            return Err(err("its local part has characters that are not allowed"));
        }
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() || domain.len() > 253 || !domain.contains('.') {
            return Err(err("its domain is not a full host name"));
        }
        // RFC 5321's limit on a path, which also keeps `prospects.email`
        // (VARCHAR(255)) from refusing it.
        if local.len() + 1 + domain.len() > MAX_LEN {
            return Err(err("it is longer than 254 characters"));
        }
        for label in domain.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(err("its domain has an invalid label"));
            }
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for (input, expected) in [
            ("info@example.lu", "info@example.lu"),
            ("  Jean.Dupont@Example.LU ", "Jean.Dupont@example.lu"),
            (
                "mailto:contact@shop.example.com?subject=hi",
                "contact@shop.example.com",
            ),
            ("a+tag@x.io", "a+tag@x.io"),
        ] {
            assert_eq!(
                EmailAddress::parse(input).map(String::from),
                Ok(expected.to_owned())
            );
        }
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for input in [
            "",
            "example.lu",
            "@example.lu",
            "info@",
            "info@localhost",
            "a b@x.lu",
            "x..y@x.lu",
            "info@-x.lu",
        ] {
            assert!(EmailAddress::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn splits_local_part_and_domain() {
        let email = EmailAddress::parse("Info@Example.lu").unwrap();
        assert_eq!(email.local_part(), "Info");
        assert_eq!(email.domain(), "example.lu");
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_is_idempotent(input in "\\PC{0,60}") {
            if let Ok(email) = EmailAddress::parse(&input) {
                prop_assert_eq!(EmailAddress::parse(email.as_str()).unwrap(), email);
            }
        }
    }
}
