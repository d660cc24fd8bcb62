//! Which URLs a capture may load: the page itself, and every request it
//! makes (checked in the browser through `Fetch.requestPaused`).
//!
//! [`RequestGuard`] is a small trait so that the check can be swapped (a
//! forward proxy for all browser traffic may replace it). The default,
//! [`ResolverGuard`], is the tech scan's [`GuardedResolver`]: a host whose
//! name resolves to a loopback, private, link-local, metadata or reserved
//! address (or that is such a literal) is refused unless
//! `screenshot.network.allow_networks` contains it.
//!
//! The stage's browsers also send all of their traffic through the
//! [`BrowserProxy`](crate::browser_proxy::BrowserProxy) (see
//! [`BrowserSlot::with_proxy`](super::BrowserSlot::with_proxy)), which
//! closes what this check alone cannot: Chromium never resolves a page's
//! host itself (the proxy does, with the same resolver, and connects only
//! to the addresses it checked), so DNS rebinding between two lookups gains
//! nothing; WebSockets, preconnects and anything else `Fetch` does not
//! pause are refused there; QUIC is off and WebRTC may only use proxied UDP
//! (none). This check stays as a second net and for its early, precise
//! refusal of the page itself. A [`BrowserSlot`](super::BrowserSlot) built
//! without a proxy (benchmarks, engine tests) has this check only.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use url::Url;

use super::settings::NetworkSettings;
use crate::tech_scan::fetch::{AddressGuard, DnsSettings, GuardedResolver, ResolveError};

/// Why a URL may not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct GuardRefusal {
    /// A sentence naming the host and the reason.
    pub reason: String,
    /// False when the refusal may not hold later (a DNS timeout).
    pub permanent: bool,
}

/// The future a guard returns.
pub type GuardFuture<'a> = Pin<Box<dyn Future<Output = Result<(), GuardRefusal>> + Send + 'a>>;

/// Decides whether the browser may load a URL.
pub trait RequestGuard: Send + Sync + std::fmt::Debug {
    /// Ok when `url` may be loaded.
    fn check<'a>(&'a self, url: &'a Url) -> GuardFuture<'a>;
}

/// Schemes that never reach the network, so need no check.
fn is_local_scheme(scheme: &str) -> bool {
    matches!(scheme, "data" | "blob" | "about")
}

/// The tech scan's resolver and address guard.
#[derive(Debug, Clone)]
pub struct ResolverGuard {
    resolver: GuardedResolver,
}

impl ResolverGuard {
    /// A guard on `resolver` (its allow-list and overrides apply).
    pub fn new(resolver: GuardedResolver) -> Self {
        Self { resolver }
    }

    /// The system's DNS and `network.allow_networks`.
    pub fn from_settings(network: &NetworkSettings) -> Result<Self, String> {
        let dns = DnsSettings {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            records: false,
        };
        let guard = AddressGuard::new(network.allow_networks.clone());
        GuardedResolver::new(&dns, Vec::new(), guard).map(Self::new)
    }
}

impl RequestGuard for ResolverGuard {
    fn check<'a>(&'a self, url: &'a Url) -> GuardFuture<'a> {
        Box::pin(async move {
            let scheme = url.scheme();
            if is_local_scheme(scheme) {
                return Ok(());
            }
            if scheme != "http" && scheme != "https" {
                return Err(GuardRefusal {
                    reason: format!("the {scheme}: scheme is not allowed"),
                    permanent: true,
                });
            }
            let Some(host) = url.host_str() else {
                return Err(GuardRefusal {
                    reason: "the URL has no host".to_owned(),
                    permanent: true,
                });
            };
            match self.resolver.resolve_host(host).await {
                Ok(_) => Ok(()),
                Err(e) => Err(GuardRefusal {
                    permanent: !matches!(e, ResolveError::Failed { .. }),
                    reason: e
                        .to_string()
                        .replace("tech_scan.allow_networks", "screenshot.network.allow_networks"),
                }),
            }
        })
    }
}

/// Lets everything through (`network.allow_private = true`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl RequestGuard for AllowAll {
    fn check<'a>(&'a self, _url: &'a Url) -> GuardFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// The guard the settings ask for.
pub fn guard_from_settings(network: &NetworkSettings) -> Result<Arc<dyn RequestGuard>, String> {
    if network.allow_private {
        Ok(Arc::new(AllowAll))
    } else {
        Ok(Arc::new(ResolverGuard::from_settings(network)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allow: &[&str]) -> ResolverGuard {
        ResolverGuard::from_settings(&NetworkSettings {
            allow_private: false,
            allow_networks: allow.iter().map(|n| n.parse().unwrap()).collect(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn literal_private_addresses_are_refused_unless_allowed() {
        let closed = guard(&[]);
        for url in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://10.0.0.7/admin",
            "http://169.254.169.254/latest/meta-data/",
            "https://192.168.1.1/x.png",
        ] {
            let url = Url::parse(url).unwrap();
            let refusal = closed.check(&url).await.unwrap_err();
            assert!(refusal.permanent, "{url}");
            assert!(
                refusal.reason.contains("screenshot.network.allow_networks"),
                "{}",
                refusal.reason
            );
        }
        let open = guard(&["127.0.0.0/8"]);
        open.check(&Url::parse("http://127.0.0.1:8080/").unwrap())
            .await
            .unwrap();
        open.check(&Url::parse("http://10.0.0.7/").unwrap())
            .await
            .unwrap_err();
    }

    #[tokio::test]
    async fn local_schemes_pass_and_other_schemes_are_refused() {
        let closed = guard(&[]);
        for ok in ["data:text/html,hi", "about:blank", "blob:http://a.test/1"] {
            closed.check(&Url::parse(ok).unwrap()).await.unwrap();
        }
        for bad in ["file:///etc/passwd", "chrome://crash", "ftp://a.test/x"] {
            let refusal = closed.check(&Url::parse(bad).unwrap()).await.unwrap_err();
            assert!(refusal.reason.contains("scheme"), "{bad}: {refusal}");
        }
        AllowAll
            .check(&Url::parse("http://10.0.0.1/").unwrap())
            .await
            .unwrap();
    }
}
