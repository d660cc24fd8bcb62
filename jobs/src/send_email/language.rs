//! The languages outreach is written in (`campaign_templates.language`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A language we have wording for: the generated `{issues}` lines and the
/// compliance footer exist in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// English.
    En,
    /// French.
    Fr,
    /// German.
    De,
}

/// A language code we have no wording for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a supported language (en, fr, de)")]
pub struct UnknownLanguage(pub String);

impl Language {
    /// The stored code (`en`).
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
            Language::De => "de",
        }
    }
}

impl FromStr for Language {
    type Err = UnknownLanguage;

    /// Accepts `en`, `EN`, and region tags such as `fr-LU` or `de_DE`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let primary = s
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Ok(Language::En),
            "fr" => Ok(Language::Fr),
            "de" => Ok(Language::De),
            _ => Err(UnknownLanguage(s.chars().take(20).collect())),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_region_tags() {
        for (input, expected) in [
            ("en", Language::En),
            ("FR", Language::Fr),
            ("fr-LU", Language::Fr),
            ("de_DE", Language::De),
        ] {
            assert_eq!(input.parse::<Language>(), Ok(expected), "{input}");
        }
        assert!("lb".parse::<Language>().is_err());
        assert!("".parse::<Language>().is_err());
    }
}
