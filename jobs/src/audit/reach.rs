//! Audits stay on the public internet. Before Chromium is sent to a page,
//! its host must resolve only to addresses the tech_scan address guard
//! passes (public, or in `tech_scan.allow_networks`), with the tech scan's
//! resolver (and its `tech_scan.resolve` overrides); after the run, the page
//! Lighthouse ended on (after redirects) is checked the same way, and a
//! report of a page on a refused address is dropped, never stored.
//!
//! PageSpeed Insights runs on Google's machines, which cannot reach this
//! network, so its audits are not checked.

use std::{net::SocketAddr, time::Duration};

use tokio::net::TcpStream;
use url::Url;

use super::report::PageError;
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

/// Whether Chromium ended on its own error page (a failed navigation)
/// rather than on a page of the site.
pub fn is_browser_error_page(url: &Url) -> bool {
    url.scheme() == "chrome-error"
}

/// The error of a report that measured Chromium's error page although
/// Lighthouse named no runtime error.
pub fn browser_error_page() -> PageError {
    PageError {
        code: "FAILED_DOCUMENT_REQUEST".to_owned(),
        message: "the browser showed its own error page: the page did not load".to_owned(),
    }
}

/// Lighthouse codes of a navigation that failed below HTTP (no status).
const NAVIGATION_CODES: &[&str] = &[
    "CHROME_INTERSTITIAL_ERROR",
    "FAILED_DOCUMENT_REQUEST",
    "ERRORED_DOCUMENT_REQUEST",
    "NO_DOCUMENT_REQUEST",
];

/// How long [`name_navigation_error`] waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Lighthouse says only that Chromium "prevented page load" when the
/// connection itself failed. For such an error, connect to the page's
/// server the way Chromium was pointed at it (the resolver, its pins and
/// guard) and put what the connection said first: "connecting to
/// 127.0.0.1:8080: Connection refused". An error with an HTTP status, or a
/// server that accepts the connection, keeps Lighthouse's words.
pub async fn name_navigation_error(resolver: &GuardedResolver, url: &Url, error: PageError) -> PageError {
    if !NAVIGATION_CODES.contains(&error.code.as_str()) || error.http_status().is_some() {
        return error;
    }
    match connection_failure(resolver, url).await {
        Some(reason) => PageError {
            message: format!("{reason} (Lighthouse: {})", error.message),
            code: error.code,
        },
        None => error,
    }
}

async fn connection_failure(resolver: &GuardedResolver, url: &Url) -> Option<String> {
    let (host, port) = (url.host_str()?, url.port_or_known_default()?);
    let addrs = match resolver.resolve_host(host).await {
        Ok(addrs) => addrs,
        Err(e) => return Some(e.to_string()),
    };
    let mut failure = None;
    for addr in addrs {
        let addr = if addr.port() == 0 {
            SocketAddr::new(addr.ip(), port)
        } else {
            addr
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return None,
            Ok(Err(e)) => failure = Some(format!("connecting to {addr}: {e}")),
            Err(_) => {
                failure = Some(format!(
                    "connecting to {addr}: no answer within {CONNECT_TIMEOUT:?}"
                ))
            }
        }
    }
    failure
}

#[cfg(test)]
mod tests {
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

    fn interstitial() -> PageError {
        PageError {
            code: "CHROME_INTERSTITIAL_ERROR".into(),
            message: "Chrome prevented page load with an interstitial.".into(),
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_named_and_an_answering_server_keeps_lighthouses_words() {
        let loopback = resolver(&["127.0.0.0/8"]);
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_addr = closed.local_addr().unwrap();
        drop(closed);
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();

        let refused = Url::parse(&format!("http://{closed_addr}/")).unwrap();
        let named = name_navigation_error(&loopback, &refused, interstitial()).await;
        assert_eq!(named.code, "CHROME_INTERSTITIAL_ERROR");
        assert!(
            named
                .message
                .starts_with(&format!("connecting to {closed_addr}: Connection refused")),
            "{}",
            named.message
        );
        assert!(
            named
                .message
                .ends_with("(Lighthouse: Chrome prevented page load with an interstitial.)")
        );

        let answering = Url::parse(&format!("http://{}/", open.local_addr().unwrap())).unwrap();
        assert_eq!(
            name_navigation_error(&loopback, &answering, interstitial()).await,
            interstitial()
        );

        let with_status = PageError {
            code: "ERRORED_DOCUMENT_REQUEST".into(),
            message: "Lighthouse was unable to reliably load the page (Status code: 404)".into(),
        };
        assert_eq!(
            name_navigation_error(&loopback, &refused, with_status.clone()).await,
            with_status
        );
    }
}
