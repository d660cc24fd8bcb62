//! The stage's HTTP fetcher: SSRF-guarded, polite and bounded.
//!
//! - Names are resolved by [`GuardedResolver`]; IP literals are checked by
//!   the same guard; the client connects only to checked addresses.
//! - Redirects are followed by hand, each hop checked again, at most
//!   `max_redirects`, loops refused.
//! - Bodies are read up to `max_body_bytes` on the wire, decompressed up to
//!   `max_decompressed_bytes`, and decoded to text by charset.
//! - Each request waits for its host's turn ([`HostGate`]).
//! - Every body and its decoded text count against the process's
//!   [`MemoryBudget`] while they are alive ([`budget`]).

pub mod budget;
pub mod decode;
pub mod dns;
pub mod guard;
pub mod politeness;
pub mod resolver;
pub mod robots;
pub mod tls;

use std::{collections::HashSet, sync::Arc, time::Duration};

use reqwest::{StatusCode, header};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use url::Url;

pub use budget::{BudgetExhausted, Held, MemoryBudget, Reservation};
pub use guard::{AddressGuard, Refused};
pub use politeness::HostGate;
pub use resolver::{DnsSettings, GuardedResolver, ResolveError, ResolveOverride};
pub use tls::CertificateFacts;

/// Limits and identity of the fetcher.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// The full `User-Agent` header (with a contact URL).
    pub user_agent: String,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole request, headers and body, per hop.
    pub request_timeout: Duration,
    /// Redirect hops followed at most.
    pub max_redirects: usize,
    /// Bytes read from the wire at most.
    pub max_body_bytes: usize,
    /// Bytes after decompression at most.
    pub max_decompressed_bytes: usize,
    /// Extra trusted root certificates (PEM), besides the system's.
    pub extra_roots_pem: Vec<u8>,
    /// Response bytes held in memory at once, by every fetch of the process.
    pub budget: MemoryBudget,
}

/// One redirect hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The URL requested.
    pub url: String,
    /// Its 3xx status.
    pub status: u16,
}

/// A fetched page.
#[derive(Debug, Clone)]
pub struct Page {
    /// The final URL, after redirects.
    pub url: Url,
    /// Final status.
    pub status: u16,
    /// Response headers, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded body.
    pub body: String,
    /// The charset used to decode it.
    pub charset: &'static str,
    /// The redirects that led here.
    pub redirects: Vec<Hop>,
    /// Request sent → response headers, of the final hop.
    pub time_to_first_byte: Duration,
    /// Every hop, bodies included (politeness pauses excluded).
    pub total_time: Duration,
    /// The certificate the final hop presented (https only).
    pub certificate: Option<CertificateFacts>,
    /// Bytes read from the wire for the final hop.
    pub wire_bytes: usize,
    /// The body's share of the memory budget, released with the page.
    pub memory: Held,
}

impl Page {
    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body is an HTML (or untyped) document.
    pub fn is_html(&self) -> bool {
        match self.header("content-type") {
            None => true,
            Some(ct) => {
                let ct = ct.to_ascii_lowercase();
                ct.contains("html") || ct.starts_with("text/plain") && self.body.trim_start().starts_with('<')
            }
        }
    }
}

/// Where a fetch ended.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// A response that is not a redirect.
    Page(Box<Page>),
    /// A redirect to a host `stop_at` refused to follow (a social network).
    StoppedAt {
        /// The refused target.
        url: Url,
        /// Hops up to it.
        redirects: Vec<Hop>,
    },
}

/// Why a fetch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The SSRF guard refused an address.
    #[error("refused to connect to {url}: {source}")]
    Refused {
        /// The URL.
        url: String,
        /// What was refused.
        #[source]
        source: Refused,
    },
    /// The name does not exist.
    #[error("{url}: {detail}")]
    NoSuchHost {
        /// The URL.
        url: String,
        /// NXDOMAIN or no records.
        detail: String,
    },
    /// DNS failed in a way worth retrying.
    #[error("{url}: {detail}")]
    Dns {
        /// The URL.
        url: String,
        /// Resolver message.
        detail: String,
    },
    /// Nothing answered (refused, reset, unreachable, connect timeout).
    #[error("could not connect to {url}: {detail}")]
    Connect {
        /// The URL.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The certificate was refused.
    #[error("{url}: {reason}")]
    Certificate {
        /// The URL.
        url: String,
        /// Why, in words.
        reason: String,
    },
    /// The TLS handshake failed for another reason (not TLS, old protocol…).
    #[error("TLS handshake with {url} failed: {detail}")]
    Handshake {
        /// The URL.
        url: String,
        /// rustls message.
        detail: String,
    },
    /// The request took longer than `request_timeout`.
    #[error("{url} did not finish within {seconds}s ({received} bytes received)")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        seconds: u64,
        /// Body bytes received before the limit.
        received: usize,
    },
    /// The body is larger than `max_body_bytes`.
    #[error("{url} sends a body larger than the {limit}-byte limit")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Decompression failed or would exceed its limit.
    #[error("{url}: {source}")]
    Decode {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: decode::DecodeError,
    },
    /// More hops than `max_redirects`.
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects {
        /// Where it started.
        url: String,
        /// The limit.
        max: usize,
    },
    /// A redirect came back to a URL already visited.
    #[error("redirect loop: {chain}")]
    RedirectLoop {
        /// The hops, `a -> b -> a`.
        chain: String,
    },
    /// A redirect to something that is not an http(s) URL.
    #[error("{url} redirects to an invalid or non-web location `{location}`")]
    BadRedirect {
        /// The URL.
        url: String,
        /// The Location header.
        location: String,
    },
    /// This machine could not make the request (out of file descriptors or
    /// memory, no route out, no local address): our fault, not the site's.
    /// Never recorded as "unreachable"; the job is retried.
    #[error("could not request {url} from this machine: {detail}")]
    Local {
        /// The URL.
        url: String,
        /// The operating system's error.
        detail: String,
    },
    /// Anything else on the wire (reset mid-body, protocol error).
    #[error("{url}: {detail}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        detail: String,
    },
}

impl FetchError {
    /// Whether retrying later cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            FetchError::Refused { .. }
                | FetchError::TooLarge { .. }
                | FetchError::Decode { .. }
                | FetchError::TooManyRedirects { .. }
                | FetchError::RedirectLoop { .. }
                | FetchError::BadRedirect { .. }
        )
    }
}

/// Options of one fetch.
#[derive(Clone, Copy)]
pub struct FetchOptions<'a> {
    /// Accept invalid certificates (after a certificate failure, to see
    /// what visitors who click through see).
    pub insecure: bool,
    /// Stop (without requesting) at a redirect to a host this returns true for.
    pub stop_at: Option<&'a (dyn Fn(&Url) -> bool + Sync)>,
    /// Wire-size cap for this fetch (≤ the configured one).
    pub max_body_bytes: Option<usize>,
    /// Extra pause before each request to the host (robots Crawl-delay).
    pub crawl_delay: Duration,
    /// Follow redirects at most this many times (≤ the configured one).
    pub max_redirects: Option<usize>,
}

impl std::fmt::Debug for FetchOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchOptions")
            .field("insecure", &self.insecure)
            .field("stop_at", &self.stop_at.is_some())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("crawl_delay", &self.crawl_delay)
            .field("max_redirects", &self.max_redirects)
            .finish()
    }
}

impl Default for FetchOptions<'_> {
    fn default() -> Self {
        Self {
            insecure: false,
            stop_at: None,
            max_body_bytes: None,
            crawl_delay: Duration::ZERO,
            max_redirects: None,
        }
    }
}

/// The fetcher; one per worker process, shared by every job.
#[derive(Clone)]
pub struct Fetcher {
    secure: reqwest::Client,
    insecure: reqwest::Client,
    resolver: GuardedResolver,
    gate: Arc<HostGate>,
    settings: Arc<FetchSettings>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Build the HTTP clients. Needs rustls's process-wide crypto provider.
    pub fn new(
        settings: FetchSettings,
        resolver: GuardedResolver,
        gate: Arc<HostGate>,
    ) -> Result<Self, String> {
        let roots = if settings.extra_roots_pem.is_empty() {
            Vec::new()
        } else {
            reqwest::Certificate::from_pem_bundle(&settings.extra_roots_pem)
                .map_err(|e| format!("extra root certificates are not valid PEM: {e}"))?
        };
        let build = |insecure: bool| {
            let mut builder = reqwest::Client::builder()
                .user_agent(settings.user_agent.clone())
                .dns_resolver(resolver.clone())
                // A proxy would resolve names itself, past the guard.
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .no_gzip()
                .no_brotli()
                .no_deflate()
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.request_timeout)
                .pool_max_idle_per_host(1)
                .pool_idle_timeout(Duration::from_secs(15))
                .tls_info(true)
                .tls_certs_merge(roots.clone());
            if insecure {
                builder = builder.tls_danger_accept_invalid_certs(true);
            }
            builder
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        Ok(Self {
            secure: build(false)?,
            insecure: build(true)?,
            resolver,
            gate,
            settings: Arc::new(settings),
        })
    }

    /// The resolver.
    pub fn resolver(&self) -> &GuardedResolver {
        &self.resolver
    }

    /// The settings.
    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// GET `url`, following redirects by hand.
    pub async fn fetch(&self, start: &Url, options: FetchOptions<'_>) -> Result<Fetched, FetchError> {
        let max_redirects = options.max_redirects.map_or(self.settings.max_redirects, |m| {
            m.min(self.settings.max_redirects)
        });
        let mut url = start.clone();
        let mut redirects: Vec<Hop> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut total = Duration::ZERO;
        loop {
            if !seen.insert(url.as_str().to_owned()) {
                let mut chain: Vec<&str> = redirects.iter().map(|h| h.url.as_str()).collect();
                chain.push(url.as_str());
                return Err(FetchError::RedirectLoop {
                    chain: chain.join(" -> "),
                });
            }
            if !redirects.is_empty()
                && let Some(stop) = options.stop_at
                && stop(&url)
            {
                return Ok(Fetched::StoppedAt { url, redirects });
            }
            let response = self.send(&url, &options).await?;
            total += response.elapsed;
            let status = response.status;
            if status.is_redirection()
                && let Some(location) = response.location.clone()
            {
                redirects.push(Hop {
                    url: url.to_string(),
                    status: status.as_u16(),
                });
                let next = url
                    .join(location.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .ok_or_else(|| FetchError::BadRedirect {
                        url: url.to_string(),
                        location: location.chars().take(200).collect(),
                    })?;
                if redirects.len() > max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        url: start.to_string(),
                        max: max_redirects,
                    });
                }
                url = next;
                continue;
            }
            let limit = self.settings.max_decompressed_bytes;
            let encoding = response.header("content-encoding").map(str::to_owned);
            let content_type = response.header("content-type").map(str::to_owned);
            let wire = response.body;
            let wire_bytes = wire.len();
            let mut reservation = response.reservation;
            // Room for the decompressed bytes and the text decoded from them
            // (an estimate: the exact size is held once they exist). An
            // uncompressed body is only copied into the text.
            let extra = if encoding.is_some() {
                2 * wire_bytes.saturating_mul(DECOMPRESSION_ESTIMATE).min(limit)
            } else {
                wire_bytes
            };
            reservation
                .grow_to((wire_bytes + extra) as u64)
                .await
                .map_err(|e| budget_error(&url, &e))?;
            let decoded = tokio::task::spawn_blocking(move || {
                decode::decompress(encoding.as_deref(), wire, limit)
                    .map(|bytes| decode::decode_text(&bytes, content_type.as_deref()))
            })
            .await
            .map_err(|e| FetchError::Transport {
                url: url.to_string(),
                detail: format!("decoding task failed: {e}"),
            })?;
            let (body, charset) = decoded.map_err(|source| FetchError::Decode {
                url: url.to_string(),
                source,
            })?;
            reservation
                .resize(body.len() as u64)
                .await
                .map_err(|e| budget_error(&url, &e))?;
            return Ok(Fetched::Page(Box::new(Page {
                url,
                status: status.as_u16(),
                headers: response.headers,
                body,
                charset,
                redirects,
                time_to_first_byte: response.time_to_first_byte,
                total_time: total,
                certificate: response.certificate,
                wire_bytes,
                memory: Held::new(reservation),
            })));
        }
    }

    /// One request, after waiting for the host's turn.
    async fn send(&self, url: &Url, options: &FetchOptions<'_>) -> Result<RawResponse, FetchError> {
        let host = url.host_str().unwrap_or_default().to_owned();
        let shown = url.to_string();
        // IP literals never reach the resolver: check them here.
        if url.domain().is_none() {
            self.resolver
                .resolve_host(&host)
                .await
                .map_err(|e| resolve_error(&shown, e))?;
        }
        let max_body = options.max_body_bytes.map_or(self.settings.max_body_bytes, |m| {
            m.min(self.settings.max_body_bytes)
        });
        let _permit = self.gate.acquire(&host, options.crawl_delay).await;
        let client = if options.insecure {
            &self.insecure
        } else {
            &self.secure
        };
        let started = Instant::now();
        let mut response = client
            .get(url.clone())
            .header(
                header::ACCEPT,
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )
            .header(header::ACCEPT_LANGUAGE, "*")
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
            .send()
            .await
            .map_err(|e| self.request_error(&shown, &e, 0))?;
        let time_to_first_byte = started.elapsed();
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let certificate = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .and_then(tls::parse_certificate);
        let location = status
            .is_redirection()
            .then(|| response.headers().get(header::LOCATION))
            .flatten()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut body = Vec::new();
        let mut reservation = self.settings.budget.reservation();
        if location.is_none() {
            if response.content_length().is_some_and(|len| len > max_body as u64) {
                return Err(FetchError::TooLarge {
                    url: shown,
                    limit: max_body,
                });
            }
            if let Some(len) = response.content_length() {
                reservation
                    .grow_to(len)
                    .await
                    .map_err(|e| budget_error(url, &e))?;
            }
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        if body.len() + chunk.len() > max_body {
                            return Err(FetchError::TooLarge {
                                url: shown,
                                limit: max_body,
                            });
                        }
                        reservation
                            .grow_to((body.len() + chunk.len()) as u64)
                            .await
                            .map_err(|e| budget_error(url, &e))?;
                        body.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => return Err(self.request_error(&shown, &e, body.len())),
                }
            }
        }
        Ok(RawResponse {
            status,
            headers,
            location,
            body,
            time_to_first_byte,
            elapsed: started.elapsed(),
            certificate,
            reservation,
        })
    }

    fn request_error(&self, url: &str, error: &reqwest::Error, received: usize) -> FetchError {
        let url = url.to_owned();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = source {
            if let Some(resolve) = e.downcast_ref::<ResolveError>() {
                return resolve_error(&url, resolve.clone());
            }
            source = e.source();
        }
        if let Some(tls) = tls::find_tls_error(error) {
            return match tls::describe_tls_error(tls) {
                Some(reason) => FetchError::Certificate { url, reason },
                None => FetchError::Handshake {
                    url,
                    detail: tls.to_string(),
                },
            };
        }
        if error.is_timeout() && !error.is_connect() {
            return FetchError::Timeout {
                url,
                seconds: self.settings.request_timeout.as_secs(),
                received,
            };
        }
        if let Some(detail) = local_fault(error) {
            return FetchError::Local { url, detail };
        }
        let detail = innermost(error);
        if error.is_connect() {
            return FetchError::Connect { url, detail };
        }
        FetchError::Transport { url, detail }
    }
}

/// A compressed body is assumed to grow this many times when decompressed
/// (HTML compresses 4–8×), up to `max_decompressed_bytes`.
const DECOMPRESSION_ESTIMATE: usize = 8;

/// A full memory budget is this process's limit, not the site's fault.
fn budget_error(url: &Url, error: &BudgetExhausted) -> FetchError {
    FetchError::Local {
        url: url.to_string(),
        detail: error.to_string(),
    }
}

fn resolve_error(url: &str, error: ResolveError) -> FetchError {
    let url = url.to_owned();
    match error {
        ResolveError::Refused(source) => FetchError::Refused { url, source },
        ResolveError::NotFound { detail, .. } => FetchError::NoSuchHost { url, detail },
        ResolveError::Failed { detail, .. } => FetchError::Dns { url, detail },
    }
}

/// Operating-system errors that say this machine, not the site, failed.
const LOCAL_ERRNOS: &[nix::errno::Errno] = &[
    nix::errno::Errno::EMFILE,
    nix::errno::Errno::ENFILE,
    nix::errno::Errno::ENOBUFS,
    nix::errno::Errno::ENOMEM,
    nix::errno::Errno::ENETDOWN,
    nix::errno::Errno::ENETUNREACH,
    nix::errno::Errno::EADDRNOTAVAIL,
    nix::errno::Errno::EADDRINUSE,
];

/// The local fault in an error chain, if the chain holds one.
fn local_fault(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(code) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            && LOCAL_ERRNOS.iter().any(|n| *n as i32 == code)
        {
            return Some(e.to_string());
        }
        source = e.source();
    }
    None
}

/// The most specific message in an error chain.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        last = e.to_string();
        source = e.source();
    }
    last.chars().take(300).collect()
}

struct RawResponse {
    status: StatusCode,
    headers: Vec<(String, String)>,
    location: Option<String>,
    body: Vec<u8>,
    time_to_first_byte: Duration,
    elapsed: Duration,
    certificate: Option<CertificateFacts>,
    reservation: Reservation,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that wraps another, as hyper and reqwest wrap the socket's.
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Wrapped(#[source] std::io::Error);

    #[test]
    fn local_socket_errors_are_our_fault_and_retried() {
        // A real failing syscall: binding an address this machine does not have.
        let error = std::net::TcpListener::bind("192.0.2.1:0").unwrap_err();
        assert_eq!(
            error.raw_os_error(),
            Some(nix::errno::Errno::EADDRNOTAVAIL as i32)
        );
        let detail = local_fault(&Wrapped(error)).expect("a local fault");
        let fetch = FetchError::Local {
            url: "https://example.lu/".into(),
            detail,
        };
        assert!(!fetch.is_permanent());
        let out_of_files = std::io::Error::from_raw_os_error(nix::errno::Errno::EMFILE as i32);
        assert!(local_fault(&Wrapped(out_of_files)).is_some());
    }

    /// An HTTP/1.1 server on loopback that answers every request with a
    /// `len`-byte HTML body, sent in four parts.
    async fn body_server(len: usize) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let body = vec![b'a'; len];
                    for part in body.chunks(len.div_ceil(4)) {
                        let _ = socket.write_all(part).await;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                });
            }
        });
        addr
    }

    fn fetcher(budget: MemoryBudget) -> Fetcher {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dns = DnsSettings {
            servers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout: Duration::from_millis(200),
            records: false,
        };
        let guard = AddressGuard::new(vec!["127.0.0.0/8".parse().unwrap()]);
        let resolver = GuardedResolver::new(&dns, Vec::new(), guard).unwrap();
        Fetcher::new(
            FetchSettings {
                user_agent: "ProspectorBot/0.1 (+https://prospector.invalid/crawler)".into(),
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(5),
                max_redirects: 3,
                max_body_bytes: 1 << 20,
                max_decompressed_bytes: 4 << 20,
                extra_roots_pem: Vec::new(),
                budget,
            },
            resolver,
            Arc::new(HostGate::new(Duration::ZERO)),
        )
        .unwrap()
    }

    async fn page_of(fetcher: &Fetcher, url: &Url) -> Result<Page, FetchError> {
        match fetcher.fetch(url, FetchOptions::default()).await? {
            Fetched::Page(page) => Ok(*page),
            Fetched::StoppedAt { url, .. } => panic!("stopped at {url}"),
        }
    }

    #[tokio::test]
    async fn pages_hold_their_bodies_against_the_budget_and_a_full_budget_is_a_local_failure() {
        const BODY: usize = 100 * 1024;
        let addr = body_server(BODY).await;
        let url = Url::parse(&format!("http://{addr}/")).unwrap();
        // A fetch holds body + text (200 KiB) while decoding, then the text.
        let budget = MemoryBudget::new(320 * 1024, Duration::from_millis(300));
        let fetcher = fetcher(budget.clone());

        let first = page_of(&fetcher, &url).await.unwrap();
        let second = page_of(&fetcher, &url).await.unwrap();
        assert_eq!(first.body.len(), BODY);
        assert_eq!(
            first.memory.bytes(),
            BODY as u64,
            "the page holds its text's size"
        );
        assert_eq!(budget.available_bytes(), 120 * 1024);

        // Two pages are alive: a third does not fit, waits, and fails as
        // this machine's fault (retried, never "the site is unreachable").
        let third = page_of(&fetcher, &url).await.unwrap_err();
        assert!(matches!(third, FetchError::Local { .. }), "{third}");
        assert!(third.to_string().contains("memory budget"), "{third}");
        assert!(!third.is_permanent());
        assert_eq!(
            budget.available_bytes(),
            120 * 1024,
            "the failed fetch gave back its share"
        );

        // A third fetch in flight gets its room as soon as a page is dropped.
        let waiting = {
            let fetcher = fetcher.clone();
            let url = url.clone();
            tokio::spawn(async move { page_of(&fetcher, &url).await.map(|p| p.body.len()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first);
        assert_eq!(waiting.await.unwrap().unwrap(), BODY);
        drop(second);
        assert_eq!(
            budget.available_bytes(),
            320 * 1024,
            "every page gave its share back"
        );
    }

    #[test]
    fn the_site_refusing_is_not_a_local_fault() {
        let refused = std::io::Error::from_raw_os_error(nix::errno::Errno::ECONNREFUSED as i32);
        assert_eq!(local_fault(&Wrapped(refused)), None);
        let no_route = std::io::Error::from_raw_os_error(nix::errno::Errno::EHOSTUNREACH as i32);
        assert_eq!(local_fault(&Wrapped(no_route)), None);
    }
}
