//! The forward proxy every byte a browser sends goes through: the audit's
//! Chromium (both Lighthouse runners) and the screenshot stage's.
//!
//! Chromium is started with `--proxy-server=http://127.0.0.1:<port>` and
//! `--proxy-bypass-list=<-loopback>` (see [`chromium_flags`]), so it never
//! resolves a page's host itself and never connects anywhere but here, not
//! even to loopback. For each request the proxy resolves the host with the
//! tech scan's [`GuardedResolver`] (its `tech_scan.resolve` pins and the
//! `tech_scan.allow_networks` guard apply), connects to one of the
//! addresses that passed (never resolving again, so a name that changes its
//! answer gains nothing), and refuses the rest with `403` and a sentence
//! naming the host and why. What it serves:
//!
//! - `CONNECT host:port`: a byte tunnel (HTTPS, and WebSockets `ws:`/`wss:`,
//!   which Chromium always tunnels through an HTTP proxy), see [`tunnel`];
//! - absolute-form plain-HTTP requests (`GET http://host/path`), forwarded
//!   on a fresh connection per request, see [`forward`].
//!
//! Anything else (origin-form requests, other schemes) is refused. Every
//! refusal is logged (host, port, reason: no path, no query) and kept in a
//! short in-memory log ([`BrowserProxy::denials`]) that the stages and tests
//! read.
//!
//! Bounded: a client must send its request head within
//! [`ProxyLimits::header_timeout`], an upstream connection must open within
//! `connect_timeout` and answer within `response_timeout`; a tunnel or a
//! forwarded exchange lives at most `lifetime`; at most `max_connections`
//! browser connections and `max_tunnels` tunnels are open at once (beyond
//! that a connection is closed, a tunnel refused with `503`). Malformed
//! input is answered `400` or the connection is closed; nothing panics.
//!
//! One proxy per stage's dependencies in a worker process (`AuditDeps`,
//! `ScreenshotDeps`): it binds when they are built, serves from the first
//! browser launch, and stops (listener and every open tunnel) when the last
//! clone of the [`BrowserProxy`] is dropped with them. Its port is fixed for
//! its life, so a long-lived browser (a resident Lighthouse driver) keeps
//! working.
//!
//! Not covered: UDP. `--disable-quic` keeps HTTP/3 off and WebRTC is
//! limited to proxied UDP (`disable_non_proxied_udp`, that is none).

mod admission;
mod forward;
mod tunnel;

use std::{
    collections::VecDeque,
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1, service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;

use self::admission::Admission;
pub use self::admission::{Denial, DenialKind, LocalAdmission};
use crate::tech_scan::fetch::GuardedResolver;

/// How many denials [`BrowserProxy::denials`] keeps (the newest).
pub const DENIALS_KEPT: usize = 256;

/// The proxy's time and size limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyLimits {
    /// A browser connection must send a request head within this (also how
    /// long an idle kept-alive connection stays open).
    pub header_timeout: Duration,
    /// Opening the upstream connection.
    pub connect_timeout: Duration,
    /// The upstream server's response head to a forwarded request.
    pub response_timeout: Duration,
    /// The longest a tunnel or a forwarded exchange lives.
    pub lifetime: Duration,
    /// Browser connections open at once.
    pub max_connections: usize,
    /// Tunnels open at once.
    pub max_tunnels: usize,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            lifetime: Duration::from_secs(600),
            max_connections: 512,
            max_tunnels: 256,
        }
    }
}

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No port on 127.0.0.1.
    #[error("could not open the browser proxy's socket on 127.0.0.1: {0}")]
    Bind(#[source] io::Error),
    /// It was first used outside a Tokio runtime.
    #[error("the browser proxy can only start inside a Tokio runtime")]
    NoRuntime,
    /// The socket could not be handed to the runtime.
    #[error("could not serve the browser proxy's socket: {0}")]
    Serve(#[source] io::Error),
}

/// The Chromium flags that send all of a browser's traffic to the proxy at
/// `address`: no bypass (loopback included), no QUIC, no unproxied WebRTC.
pub fn chromium_flags(address: SocketAddr) -> Vec<String> {
    vec![
        format!("--proxy-server=http://{address}"),
        "--proxy-bypass-list=<-loopback>".to_owned(),
        "--disable-quic".to_owned(),
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp".to_owned(),
        "--webrtc-ip-handling-policy=disable_non_proxied_udp".to_owned(),
    ]
}

/// A running (or ready to run) guarding proxy on `127.0.0.1`. Clones share
/// it; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct BrowserProxy {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BrowserProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserProxy")
            .field("address", &self.inner.address)
            .finish_non_exhaustive()
    }
}

struct Inner {
    address: SocketAddr,
    state: Arc<State>,
    /// The bound socket until the first browser launch starts serving it.
    pending: Mutex<Option<std::net::TcpListener>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.state.stop.cancel();
    }
}

/// What the connection tasks share.
struct State {
    admission: Admission,
    limits: ProxyLimits,
    tunnels: Arc<Semaphore>,
    denials: Mutex<DenialLog>,
    stop: CancellationToken,
}

#[derive(Default)]
struct DenialLog {
    recent: VecDeque<Denial>,
    total: u64,
}

impl BrowserProxy {
    /// Bind `127.0.0.1` on an ephemeral port; requests are admitted by
    /// `resolver`. Serving starts with [`BrowserProxy::chromium_flags`]
    /// (inside a runtime), so this may be called outside one.
    pub fn bind(resolver: GuardedResolver, limits: ProxyLimits) -> Result<Self, ProxyError> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(ProxyError::Bind)?;
        let address = listener.local_addr().map_err(ProxyError::Bind)?;
        let state = Arc::new(State {
            admission: Admission::new(resolver),
            tunnels: Arc::new(Semaphore::new(limits.max_tunnels.max(1))),
            limits,
            denials: Mutex::default(),
            stop: CancellationToken::new(),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                address,
                state,
                pending: Mutex::new(Some(listener)),
            }),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.inner.address
    }

    /// The flags a browser needs to use this proxy ([`chromium_flags`]);
    /// starts serving on the current runtime if it does not yet.
    pub fn chromium_flags(&self) -> Result<Vec<String>, ProxyError> {
        self.serve()?;
        Ok(chromium_flags(self.inner.address))
    }

    /// Start the accept loop (once).
    pub fn serve(&self) -> Result<(), ProxyError> {
        let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.is_none() {
            return Ok(());
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ProxyError::NoRuntime)?;
        let Some(listener) = pending.take() else {
            return Ok(());
        };
        listener.set_nonblocking(true).map_err(ProxyError::Serve)?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener).map_err(ProxyError::Serve)?
        };
        runtime.spawn(accept_loop(listener, Arc::clone(&self.inner.state)));
        tracing::debug!(proxy.address = %self.inner.address, "browser proxy serving");
        Ok(())
    }

    /// Let the browser reach exactly `address` (a loopback page this
    /// process serves, such as a generated site version) until the
    /// returned value is dropped, whatever `allow_networks` says.
    pub fn admit_local(&self, address: SocketAddr) -> LocalAdmission {
        self.inner.state.admission.admit_local(address)
    }

    /// The newest requests the proxy did not carry (at most
    /// [`DENIALS_KEPT`]), oldest first.
    pub fn denials(&self) -> Vec<Denial> {
        self.inner.state.lock_denials().recent.iter().cloned().collect()
    }

    /// How many requests were not carried since the proxy started.
    pub fn denied_total(&self) -> u64 {
        self.inner.state.lock_denials().total
    }
}

impl State {
    fn lock_denials(&self) -> std::sync::MutexGuard<'_, DenialLog> {
        self.denials.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Log and keep a denial.
    fn note(&self, denial: &Denial) {
        match denial.kind {
            DenialKind::Refused => tracing::warn!(
                proxy.host = %denial.host,
                proxy.port = denial.port,
                reason = %denial.reason,
                "browser request refused by the address guard"
            ),
            _ => tracing::debug!(
                proxy.host = %denial.host,
                proxy.port = denial.port,
                kind = ?denial.kind,
                reason = %denial.reason,
                "browser request not carried"
            ),
        }
        let mut log = self.lock_denials();
        log.total += 1;
        if log.recent.len() >= DENIALS_KEPT {
            log.recent.pop_front();
        }
        log.recent.push_back(denial.clone());
    }

    /// Note `denial` and answer it with its status and reason.
    fn refuse(&self, denial: Denial) -> Response<ProxyBody> {
        self.note(&denial);
        text_response(
            denial.kind.status(),
            &format!("prospector proxy: {}\n", denial.reason),
        )
    }
}

/// The body of every response the proxy sends.
type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Close the browser's connection without answering (the way a failed
/// direct connection looks to it).
#[derive(Debug, thiserror::Error)]
#[error("closing the browser connection: {0}")]
struct Hangup(String);

fn empty_body() -> ProxyBody {
    Full::new(Bytes::new()).map_err(|never| match never {}).boxed()
}

fn text_response(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(text.to_owned()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let connections = Arc::new(Semaphore::new(state.limits.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            () = state.stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors and the like: wait instead of spinning.
                tracing::debug!(error = %e, "browser proxy accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tracing::debug!("browser proxy at its connection limit; closing a new connection");
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _permit = permit;
            serve_connection(stream, state).await;
        });
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let stop = state.stop.clone();
    let header_timeout = state.limits.header_timeout;
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { handle(state, request).await }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        () = stop.cancelled() => {}
        served = connection => {
            if let Err(e) = served {
                tracing::debug!(error = %e, "browser proxy connection ended");
            }
        }
    }
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<ProxyBody>, Hangup> {
    if request.method() == Method::CONNECT {
        tunnel::open(&state, request).await
    } else {
        forward::send(&state, request).await
    }
}

#[cfg(test)]
mod tests;
