//! Audits stay on the public internet. Before Chromium is sent to a page,
//! its host must resolve only to addresses the tech_scan address guard
//! passes (public, or in `tech_scan.allow_networks`), with the tech scan's
//! resolver (and its `tech_scan.resolve` overrides); after the run, the page
//! Lighthouse ended on (after redirects) is checked the same way, and a
//! report of a page on a refused address is dropped, never stored.
//!
//! PageSpeed Insights runs on Google's machines, which cannot reach this
//! network, so its audits are not checked.

use url::Url;

use crate::tech_scan::fetch::{GuardedResolver, ResolveError};

/// Why a page may not be audited here.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not audited: {0}")]
pub struct ReachError(#[from] pub ResolveError);

impl ReachError {
    /// A refused address or a name that does not exist is final; a DNS
    /// failure may pass later.
    pub fn is_permanent(&self) -> bool {
        !matches!(self.0, ResolveError::Failed { .. })
    }
}

/// Ok when every address of `url`'s host passes the resolver's guard.
pub async fn check(resolver: &GuardedResolver, url: &Url) -> Result<(), ReachError> {
    match url.host_str() {
        Some(host) => resolver.resolve_host(host).await.map(|_| ()).map_err(ReachError),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tech_scan::fetch::{AddressGuard, DnsSettings, ResolveOverride};

    fn resolver(allow: &[&str]) -> GuardedResolver {
        let dns = DnsSettings {
            servers: Vec::new(),
            timeout: Duration::from_secs(1),
            records: false,
        };
        let overrides = vec![ResolveOverride {
            host: "intranet.test".into(),
            addr: "10.1.2.3:0".parse().unwrap(),
        }];
        let allow = allow.iter().map(|n| n.parse().unwrap()).collect();
        GuardedResolver::new(&dns, overrides, AddressGuard::new(allow)).unwrap()
    }

    #[tokio::test]
    async fn private_and_loopback_pages_are_refused_unless_allowed() {
        let closed = resolver(&[]);
        for url in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://10.0.0.7/admin",
            "http://169.254.169.254/latest/meta-data/",
            "https://intranet.test/",
        ] {
            let url = Url::parse(url).unwrap();
            let error = check(&closed, &url).await.unwrap_err();
            assert!(error.is_permanent(), "{url}: {error}");
            assert!(error.to_string().contains("allow_networks"), "{error}");
        }
        let private = resolver(&["10.0.0.0/8"]);
        check(&private, &Url::parse("https://intranet.test/").unwrap())
            .await
            .unwrap();
        check(&private, &Url::parse("http://127.0.0.1/").unwrap())
            .await
            .unwrap_err();
    }

    #[tokio::test]
    async fn a_public_address_passes() {
        check(&resolver(&[]), &Url::parse("https://93.184.215.14/").unwrap())
            .await
            .unwrap();
    }
}
