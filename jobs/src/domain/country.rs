use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 3166-1 alpha-2 country code, upper-case (`LU`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

/// Not a two-letter country code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a two-letter country code (like LU or US)")]
pub struct InvalidCountry(String);

impl CountryCode {
    /// Parse `lu`, ` LU ` and the like.
    pub fn parse(input: &str) -> Result<Self, InvalidCountry> {
        let trimmed = input.trim();
        let bytes = trimmed.as_bytes();
        if bytes.len() == 2 && bytes.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([
                bytes[0].to_ascii_uppercase(),
                bytes[1].to_ascii_uppercase(),
            ]))
        } else {
            Err(InvalidCountry(trimmed.chars().take(20).collect()))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        // Invariant: both bytes are ASCII letters (checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = InvalidCountry;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_upper_cases() {
        assert_eq!(CountryCode::parse(" lu ").unwrap().as_str(), "LU");
        assert!(CountryCode::parse("LUX").is_err());
        assert!(CountryCode::parse("1A").is_err());
        assert!(CountryCode::parse("").is_err());
    }
}
