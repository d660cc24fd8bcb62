//! The public addresses Prospector puts in pages and e-mails: previews,
//! claim pages, live sites, media and tracking links. One place builds them,
//! so the web role serves exactly what the stages link to.

use serde::Deserialize;
use url::Url;

use crate::stage::InvalidSetting;

/// `[web]`: where the web role is reachable from outside.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicUrls {
    /// The web role's public root (`https://app.agency.example`): previews,
    /// claim pages, media, tracking and unsubscribe links hang off it.
    pub public_url: Url,
    /// Live sites are served at `{slug}.{sites_domain}`.
    pub sites_domain: String,
    /// `https` in production; `http` for a local demo.
    pub sites_scheme: String,
    /// The port of live sites' URLs when it is not the scheme's (a local demo).
    #[serde(default)]
    pub sites_port: Option<u16>,
}

impl PublicUrls {
    /// Check the values; keys are relative to `[web]`.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        if !matches!(self.public_url.scheme(), "http" | "https") || self.public_url.host_str().is_none() {
            return Err(InvalidSetting::new(
                "public_url",
                "must be an http(s) URL with a host",
            ));
        }
        if self.public_url.query().is_some() || self.public_url.fragment().is_some() {
            return Err(InvalidSetting::new(
                "public_url",
                "must not have a query or fragment",
            ));
        }
        let domain = self.sites_domain.trim();
        if domain.is_empty()
            || domain.starts_with('.')
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(InvalidSetting::new(
                "sites_domain",
                "must be a host name like sites.agency.example",
            ));
        }
        if !matches!(self.sites_scheme.as_str(), "http" | "https") {
            return Err(InvalidSetting::new(
                "sites_scheme",
                "must be \"https\" or \"http\"",
            ));
        }
        Ok(())
    }

    fn under(&self, path: &str) -> String {
        format!("{}/{path}", self.public_url.as_str().trim_end_matches('/'))
    }

    /// The preview of a site (`/preview/{token}/`).
    pub fn preview(&self, token: &str) -> String {
        self.under(&format!("preview/{token}/"))
    }

    /// The claim page of a preview.
    pub fn claim(&self, token: &str) -> String {
        self.under(&format!("claim/{token}"))
    }

    /// A stored file of the media store (screenshots).
    pub fn media(&self, key: &str) -> String {
        self.under(&format!("media/{key}"))
    }

    /// Any other path of the web role (`t/…` tracking, `u/…` unsubscribe).
    pub fn path(&self, path: &str) -> String {
        self.under(path.trim_start_matches('/'))
    }

    /// A live site's host name.
    pub fn live_host(&self, slug: &str) -> String {
        format!("{slug}.{}", self.sites_domain.trim().to_ascii_lowercase())
    }

    /// A live site's home page.
    pub fn live(&self, slug: &str) -> String {
        match self.sites_port {
            Some(port) => format!("{}://{}:{port}/", self.sites_scheme, self.live_host(slug)),
            None => format!("{}://{}/", self.sites_scheme, self.live_host(slug)),
        }
    }

    /// The slug of a live site's host, when `host` (a `Host` header, port
    /// allowed) is one of ours.
    pub fn slug_of_host<'h>(&self, host: &'h str) -> Option<&'h str> {
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        });
        let suffix = self.sites_domain.trim();
        let slug = host.strip_suffix(suffix)?.strip_suffix('.')?;
        (!slug.is_empty() && !slug.contains('.')).then_some(slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> PublicUrls {
        PublicUrls {
            public_url: Url::parse("https://app.agency.example/").unwrap(),
            sites_domain: "sites.agency.example".into(),
            sites_scheme: "https".into(),
            sites_port: None,
        }
    }

    #[test]
    fn addresses_hang_off_the_public_root() {
        let u = urls();
        assert_eq!(u.preview("tok"), "https://app.agency.example/preview/tok/");
        assert_eq!(u.claim("tok"), "https://app.agency.example/claim/tok");
        assert_eq!(
            u.media("ab/cd/x.png"),
            "https://app.agency.example/media/ab/cd/x.png"
        );
        assert_eq!(
            u.live("boulangerie-muller"),
            "https://boulangerie-muller.sites.agency.example/"
        );
    }

    #[test]
    fn only_one_label_under_the_sites_domain_is_a_slug() {
        let u = urls();
        assert_eq!(u.slug_of_host("muller.sites.agency.example"), Some("muller"));
        assert_eq!(u.slug_of_host("muller.sites.agency.example:8080"), Some("muller"));
        assert_eq!(u.slug_of_host("a.b.sites.agency.example"), None);
        assert_eq!(u.slug_of_host("sites.agency.example"), None);
        assert_eq!(u.slug_of_host("evil-sites.agency.example"), None);
        assert_eq!(u.slug_of_host("app.agency.example"), None);
    }
}
