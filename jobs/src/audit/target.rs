//! Which URL to audit.
//!
//! `prospects.website_url` is the final URL the tech scan reached (after
//! redirects); a prospect not scanned yet is audited at `https://{domain_name}`.
//! Only http(s) URLs are audited.

use url::Url;

/// A URL that cannot be audited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Neither a website URL nor a domain.
    #[error("the prospect has neither a website_url nor a domain_name to audit")]
    Nothing,
    /// Not a URL.
    #[error("website_url `{0}` is not a URL")]
    NotAUrl(String),
    /// Not http or https.
    #[error("website_url `{0}` is not an http(s) URL")]
    NotHttp(String),
}

/// The URL to audit, from the prospect's `website_url` and `domain_name`.
pub fn audit_url(website_url: Option<&str>, domain_name: Option<&str>) -> Result<Url, TargetError> {
    let website_url = website_url.map(str::trim).filter(|u| !u.is_empty());
    let domain_name = domain_name.map(str::trim).filter(|d| !d.is_empty());
    let candidate = match (website_url, domain_name) {
        (Some(url), _) => url.to_owned(),
        (None, Some(domain)) => format!("https://{domain}/"),
        (None, None) => return Err(TargetError::Nothing),
    };
    let url = Url::parse(&candidate).map_err(|_| TargetError::NotAUrl(candidate.clone()))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(TargetError::NotHttp(candidate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scanned_url_wins_over_the_domain() {
        let cases = [
            (
                "final URL",
                Some("https://www.bakery.lu/fr/"),
                Some("bakery.lu"),
                Ok("https://www.bakery.lu/fr/"),
            ),
            (
                "http kept",
                Some("http://bakery.lu/"),
                Some("bakery.lu"),
                Ok("http://bakery.lu/"),
            ),
            (
                "not scanned yet",
                None,
                Some("bakery.lu"),
                Ok("https://bakery.lu/"),
            ),
            (
                "blank url",
                Some("  "),
                Some("bakery.lu"),
                Ok("https://bakery.lu/"),
            ),
            ("nothing", None, None, Err(TargetError::Nothing)),
            (
                "ftp",
                Some("ftp://bakery.lu/"),
                None,
                Err(TargetError::NotHttp("ftp://bakery.lu/".into())),
            ),
            (
                "garbage",
                Some("not a url"),
                None,
                Err(TargetError::NotAUrl("not a url".into())),
            ),
        ];
        for (name, website, domain, expected) in cases {
            let got = audit_url(website, domain).map(String::from);
            assert_eq!(got, expected.map(str::to_owned), "{name}");
        }
    }
}
