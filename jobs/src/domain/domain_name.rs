use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// A website's host name, normalised: lower-case ASCII (IDN as punycode), no
/// scheme, path, port, trailing dot or leading `www.`.
///
/// `https://WWW.Café.lu/menu?x=1` and `café.lu` are the same `Domain`:
/// `xn--caf-dma.lu`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

/// Why a string is not a domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Nothing given.
    #[error("domain is empty")]
    Empty,
    /// Looks like an e-mail address.
    #[error("`{0}` looks like an e-mail address, not a domain")]
    EmailAddress(String),
    /// An IP address instead of a name.
    #[error("`{0}` is an IP address, not a domain")]
    IpAddress(String),
    /// Not parseable as a host.
    #[error("`{0}` is not a valid domain: {1}")]
    Invalid(String, &'static str),
}

impl Domain {
    /// Parse and normalise a domain, a URL, or a host.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(DomainError::Empty);
        }
        let shown = || truncate(trimmed, 80);
        if trimmed.chars().any(char::is_whitespace) {
            return Err(DomainError::Invalid(shown(), "it contains spaces"));
        }
        let has_scheme = trimmed.contains("://");
        if !has_scheme && trimmed.contains('@') {
            return Err(DomainError::EmailAddress(shown()));
        }
        let candidate = if has_scheme {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        let url = Url::parse(&candidate).map_err(|e| DomainError::Invalid(shown(), url_error(e)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DomainError::Invalid(
                shown(),
                "only http and https URLs name a website",
            ));
        }
        let host = match url.host() {
            Some(Host::Domain(host)) => host.to_owned(),
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => return Err(DomainError::IpAddress(shown())),
            None => return Err(DomainError::Invalid(shown(), "it has no host")),
        };
        let mut host = host.trim_end_matches('.').to_ascii_lowercase();
        // Every leading `www.`, so that parsing the result gives it back.
        while let Some(rest) = host.strip_prefix("www.").filter(|rest| rest.contains('.')) {
            host = rest.to_owned();
        }
        validate_host(&host).map_err(|why| DomainError::Invalid(shown(), why))?;
        Ok(Self(host))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The top-level domain (`lu` for `example.lu`).
    pub fn tld(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or(&self.0)
    }
}

fn url_error(e: url::ParseError) -> &'static str {
    match e {
        url::ParseError::IdnaError => "it is not a valid internationalised name",
        url::ParseError::InvalidPort => "its port is invalid",
        url::ParseError::EmptyHost => "it has no host",
        _ => "it cannot be parsed as a host name",
    }
}

fn validate_host(host: &str) -> Result<(), &'static str> {
    if host.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Err("it needs a top-level domain (like .lu or .com)");
    }
    for label in &labels {
        if label.is_empty() {
            return Err("it has an empty label");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("it contains characters not allowed in a host name");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with a hyphen");
        }
    }
    let tld = labels[labels.len() - 1];
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err("its top-level domain is numeric");
    }
    if !tld.starts_with("xn--") && !tld.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err("its top-level domain is not alphabetic");
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

impl AsRef<str> for Domain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Domain {
    type Error = DomainError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Domain> for String {
    fn from(value: Domain) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn normalises_urls_and_hosts_to_the_same_domain() {
        let cases = [
            ("example.lu", "example.lu"),
            ("EXAMPLE.LU", "example.lu"),
            ("www.example.lu", "example.lu"),
            ("https://www.example.lu/contact?x=1#top", "example.lu"),
            ("http://example.lu:8080/", "example.lu"),
            ("example.lu.", "example.lu"),
            ("  shop.example.co.uk  ", "shop.example.co.uk"),
            ("café.lu", "xn--caf-dma.lu"),
            ("https://Bäckerei-Müller.de/", "xn--bckerei-mller-bfb28a.de"),
            ("www.com", "www.com"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Domain::parse(input).map(String::from),
                Ok(expected.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_website_domain() {
        let cases = [
            "",
            "   ",
            "localhost",
            "not a domain.lu",
            "info@example.lu",
            "192.168.1.1",
            "http://[::1]/",
            "ftp://example.lu",
            "-bad-.lu",
            "example.123",
            "exa_mple.lu",
            "example..lu",
        ];
        for input in cases {
            assert!(Domain::parse(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn errors_name_the_input_and_the_reason() {
        let err = Domain::parse("info@example.lu").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`info@example.lu` looks like an e-mail address, not a domain"
        );
        let err = Domain::parse("localhost").unwrap_err();
        assert!(err.to_string().contains("top-level domain"), "{err}");
    }

    #[test]
    fn deserialising_revalidates() {
        let ok: Domain = serde_json::from_str("\"WWW.Example.lu\"").unwrap();
        assert_eq!(ok.as_str(), "example.lu");
        assert!(serde_json::from_str::<Domain>("\"not valid\"").is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_is_idempotent(input in "\\PC{0,80}") {
            if let Ok(domain) = Domain::parse(&input) {
                let again = Domain::parse(domain.as_str()).expect("a parsed domain parses again");
                prop_assert_eq!(again, domain);
            }
        }

        #[test]
        fn generated_hosts_are_accepted(labels in proptest::collection::vec("[a-z0-9]{1,20}", 1..4), tld in "[a-z]{2,6}") {
            let host = format!("{}.{}", labels.join("."), tld);
            let parsed = Domain::parse(&host).expect("valid host");
            prop_assert!(host.ends_with(parsed.as_str()));
        }
    }
}
