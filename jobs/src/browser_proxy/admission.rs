//! Which `host:port` the proxy connects to, and where: the guarded
//! resolver's checked addresses, or a loopback page this process serves.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use hyper::StatusCode;
use tokio::net::TcpStream;

use crate::tech_scan::fetch::{GuardedResolver, ResolveError};

/// Why a request was not carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// The address guard refused the host (`403`).
    Refused,
    /// The request was malformed or of a kind the proxy does not serve
    /// (`400`).
    Malformed,
    /// The host has no address, or DNS failed (`502`, or a closed
    /// connection for plain HTTP).
    Unresolvable,
    /// No checked address accepted a connection (`502`, or a closed
    /// connection for plain HTTP).
    Unreachable,
    /// Too many tunnels are open (`503`).
    Busy,
}

impl DenialKind {
    /// The status the browser is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            DenialKind::Refused => StatusCode::FORBIDDEN,
            DenialKind::Malformed => StatusCode::BAD_REQUEST,
            DenialKind::Unresolvable | DenialKind::Unreachable => StatusCode::BAD_GATEWAY,
            DenialKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A request the proxy did not carry: where it was going and why (no path
/// or query: they may hold personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The host asked for (a name or an address literal).
    pub host: String,
    /// The port asked for.
    pub port: u16,
    /// What kind of denial.
    pub kind: DenialKind,
    /// A sentence naming the host and the reason.
    pub reason: String,
}

impl Denial {
    pub(super) fn new(host: &str, port: u16, kind: DenialKind, reason: impl Into<String>) -> Self {
        Self {
            host: host.to_owned(),
            port,
            kind,
            reason: reason.into(),
        }
    }
}

type LocalPages = Arc<Mutex<HashMap<SocketAddr, usize>>>;

/// The resolver and the loopback pages admitted by address.
pub(super) struct Admission {
    resolver: GuardedResolver,
    local: LocalPages,
}

/// A loopback page the browser may reach; the admission ends on drop.
#[derive(Debug)]
pub struct LocalAdmission {
    address: SocketAddr,
    local: LocalPages,
}

impl Drop for LocalAdmission {
    fn drop(&mut self) {
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = local.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                local.remove(&self.address);
            }
        }
    }
}

impl Admission {
    pub(super) fn new(resolver: GuardedResolver) -> Self {
        Self {
            resolver,
            local: LocalPages::default(),
        }
    }

    pub(super) fn admit_local(&self, address: SocketAddr) -> LocalAdmission {
        *self
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(address)
            .or_insert(0) += 1;
        LocalAdmission {
            address,
            local: Arc::clone(&self.local),
        }
    }

    /// The addresses `host:port` may be reached at, each checked: a pin's
    /// port replaces `port` (as in the tech scan).
    pub(super) async fn admit(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Denial> {
        if host.is_empty() || port == 0 {
            return Err(Denial::new(
                host,
                port,
                DenialKind::Malformed,
                "the request names no host or port",
            ));
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            let address = SocketAddr::new(ip, port);
            let ours = self
                .local
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&address);
            if ours {
                return Ok(vec![address]);
            }
        }
        match self.resolver.resolve_host(host).await {
            Ok(addrs) => Ok(addrs
                .into_iter()
                .map(|a| {
                    if a.port() == 0 {
                        SocketAddr::new(a.ip(), port)
                    } else {
                        a
                    }
                })
                .collect()),
            Err(ResolveError::Refused(refused)) => {
                Err(Denial::new(host, port, DenialKind::Refused, refused.to_string()))
            }
            Err(e) => Err(Denial::new(host, port, DenialKind::Unresolvable, e.to_string())),
        }
    }
}

/// Connect to the first of `addrs` that answers, each within `timeout`.
pub(super) async fn connect(
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, Denial> {
    let mut failure = format!("{host} has no address to connect to");
    for address in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => failure = format!("connecting to {host} at {address}: {e}"),
            Err(_) => failure = format!("connecting to {host} at {address}: no answer within {timeout:?}"),
        }
    }
    Err(Denial::new(host, port, DenialKind::Unreachable, failure))
}
