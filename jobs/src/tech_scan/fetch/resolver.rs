//! Name resolution done by the stage itself, so that the SSRF guard sees
//! every address before a connection is made and the HTTP client connects
//! only to addresses that passed it.
//!
//! Resolution order: the configured overrides (`tech_scan.resolve`, like
//! curl's `--resolve`; used by tests, the demo and benchmarks), then DNS
//! through hickory (the configured servers, or the system's).

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts},
    net::{DnsError, NetError, runtime::TokioRuntimeProvider},
    proto::op::ResponseCode,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::guard::{AddressGuard, Refused};

/// A host name mapped to a fixed address (`*.suffix` matches subdomains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOverride {
    /// `shop.test` or `*.bench.test`.
    pub host: String,
    /// Where it goes; a port other than 0 replaces the scheme's port.
    pub addr: SocketAddr,
}

impl ResolveOverride {
    fn matches(&self, host: &str) -> bool {
        match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => self.host == host,
        }
    }
}

/// DNS settings.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Name servers (`ip:port`); empty means the system's (`/etc/resolv.conf`).
    pub servers: Vec<SocketAddr>,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Also look up NS, MX, TXT and CNAME records to name providers.
    pub records: bool,
}

/// Why a name did not give a usable address.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// An address is not public (the whole name is refused).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The name does not exist or has no address records.
    #[error("{host} has no address records ({detail})")]
    NotFound {
        /// The name.
        host: String,
        /// NXDOMAIN or no A/AAAA records.
        detail: String,
    },
    /// DNS did not answer usefully (timeout, SERVFAIL): worth a retry.
    #[error("could not resolve {host}: {detail}")]
    Failed {
        /// The name.
        host: String,
        /// What went wrong.
        detail: String,
    },
}

/// The stage's resolver; also a `reqwest` DNS resolver.
#[derive(Clone)]
pub struct GuardedResolver {
    dns: TokioResolver,
    overrides: Arc<Vec<ResolveOverride>>,
    guard: AddressGuard,
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("overrides", &self.overrides.len())
            .finish_non_exhaustive()
    }
}

impl GuardedResolver {
    /// Build the resolver.
    pub fn new(
        dns: &DnsSettings,
        overrides: Vec<ResolveOverride>,
        guard: AddressGuard,
    ) -> Result<Self, String> {
        let mut options = ResolverOpts::default();
        options.timeout = dns.timeout;
        options.attempts = 2;
        options.cache_size = 1024;
        let builder = if dns.servers.is_empty() {
            TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?
        } else {
            let servers = dns
                .servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    server.connections = vec![udp, tcp];
                    server
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let dns = builder
            .with_options(options)
            .build()
            .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        Ok(Self {
            dns,
            overrides: Arc::new(overrides),
            guard,
        })
    }

    /// The hickory resolver (for record lookups).
    pub fn dns(&self) -> &TokioResolver {
        &self.dns
    }

    /// The guard.
    pub fn guard(&self) -> &AddressGuard {
        &self.guard
    }

    /// Resolve `host` to addresses that all passed the guard.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            self.guard.check(&host, ip)?;
            return Ok(vec![SocketAddr::new(ip, 0)]);
        }
        if let Some(o) = self.overrides.iter().find(|o| o.matches(&host)) {
            self.guard.check(&host, o.addr.ip())?;
            return Ok(vec![o.addr]);
        }
        let fqdn = format!("{host}.");
        let lookup = self
            .dns
            .lookup_ip(fqdn.as_str())
            .await
            .map_err(|e| classify(&host, &e))?;
        let addrs: Vec<IpAddr> = lookup.iter().collect();
        if addrs.is_empty() {
            return Err(ResolveError::NotFound {
                host,
                detail: "no A or AAAA records".into(),
            });
        }
        // One refused address refuses the name: a client that falls back to
        // the next address must not reach a private one.
        for ip in &addrs {
            self.guard.check(&host, *ip)?;
        }
        Ok(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect())
    }
}

fn classify(host: &str, error: &NetError) -> ResolveError {
    if let NetError::Dns(DnsError::NoRecordsFound(no)) = error {
        let detail = if no.response_code == ResponseCode::NXDomain {
            "the domain does not exist (NXDOMAIN)".to_owned()
        } else {
            "no A or AAAA records".to_owned()
        };
        return ResolveError::NotFound {
            host: host.to_owned(),
            detail,
        };
    }
    ResolveError::Failed {
        host: host.to_owned(),
        detail: error.to_string(),
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = this.resolve_host(&host).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(allow: &[&str]) -> GuardedResolver {
        let settings = DnsSettings {
            // Nothing listens there: only overrides and literals resolve.
            servers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout: Duration::from_millis(200),
            records: false,
        };
        let overrides = vec![
            ResolveOverride {
                host: "shop.test".into(),
                addr: "127.0.0.1:8080".parse().unwrap(),
            },
            ResolveOverride {
                host: "*.fleet.test".into(),
                addr: "127.0.0.2:0".parse().unwrap(),
            },
            ResolveOverride {
                host: "meta.test".into(),
                addr: "169.254.169.254:80".parse().unwrap(),
            },
        ];
        let guard = AddressGuard::new(allow.iter().map(|n| n.parse().unwrap()).collect());
        GuardedResolver::new(&settings, overrides, guard).unwrap()
    }

    #[tokio::test]
    async fn overrides_and_literals_pass_the_guard_only_when_allowed() {
        let open = resolver(&["127.0.0.0/8"]);
        assert_eq!(
            open.resolve_host("SHOP.test.").await.unwrap(),
            vec!["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(
            open.resolve_host("a.fleet.test").await.unwrap(),
            vec!["127.0.0.2:0".parse().unwrap()]
        );
        assert!(matches!(
            open.resolve_host("meta.test").await,
            Err(ResolveError::Refused(_))
        ));
        assert!(matches!(
            open.resolve_host("169.254.169.254").await,
            Err(ResolveError::Refused(_))
        ));

        let closed = resolver(&[]);
        for host in ["shop.test", "127.0.0.1", "[::1]", "x.fleet.test"] {
            assert!(
                matches!(closed.resolve_host(host).await, Err(ResolveError::Refused(_))),
                "{host}"
            );
        }
    }

    #[test]
    fn a_wildcard_matches_subdomains_only() {
        let o = ResolveOverride {
            host: "*.fleet.test".into(),
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        assert!(o.matches("a.fleet.test"));
        assert!(o.matches("www.a.fleet.test"));
        assert!(!o.matches("fleet.test"));
        assert!(!o.matches("evilfleet.test"));
    }
}
