//! SMTP submission: STARTTLS, implicit TLS (SMTPS) or plain (refused unless
//! the server is on loopback), optional AUTH, timeouts, and the VERP
//! envelope sender. Failures are classified by the server's reply
//! ([`SendErrorKind`]), with the reply text kept.
//!
//! lettre speaks SMTP ([`AsyncSmtpConnection`]); the connections are ours,
//! with `TCP_NODELAY`. lettre 0.11.23 leaves Nagle's algorithm on, and it
//! writes a message's body and its final `.` separately, so every message
//! waits for the server's delayed ACK (40 ms on Linux: about 20 messages a
//! second per connection). lettre fixed that upstream (PR #1159) after its
//! last release; until a release has it, [`SmtpSender`] opens the TCP
//! connection itself and keeps a small pool like lettre's (a connection is
//! checked with `NOOP` before reuse, dropped after a failure, and at most
//! `pool_size` are open).

use std::{
    io,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::{FutureExt, future::BoxFuture};
use lettre::transport::smtp::{
    authentication::{Credentials, Mechanism},
    client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters},
    extension::ClientId,
};
use rustls::pki_types::ServerName;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Semaphore,
};
use tokio_rustls::{TlsConnector, client::TlsStream};

use super::transport::{Accepted, OutgoingEmail, SendError, SendErrorKind, Transport};

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465; IMAPS, port 993).
    Tls,
    /// No encryption: only allowed to a loopback server (tests, a local
    /// relay).
    Plain,
}

impl Security {
    /// The usual SMTP submission port for it.
    pub fn default_smtp_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::Plain => 25,
        }
    }
}

/// Whether `host` is this machine (the only place plain connections may go).
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One SMTP server and how to talk to it.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Host name (also the TLS server name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub security: Security,
    /// `AUTH` user and password, if the server wants them.
    pub credentials: Option<(String, SecretString)>,
    /// Limit for connecting (TCP, EHLO, STARTTLS, AUTH), and for each
    /// message's transaction (MAIL FROM to the final reply).
    pub timeout: Duration,
    /// Connections kept open and used concurrently.
    pub pool_size: u32,
    /// The name sent in EHLO (default: this host's name).
    pub hello_name: Option<String>,
    /// Extra trusted root certificates, PEM (a private CA, tests).
    pub extra_root_certificates: Option<PathBuf>,
}

/// Why an [`SmtpSender`] could not be built (configuration errors).
#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    /// Plain SMTP to a server that is not on loopback.
    #[error("plain (unencrypted) SMTP is only allowed to a loopback server, not `{0}`")]
    PlainNotLoopback(String),
    /// The extra root certificate file.
    #[error("cannot use the root certificates in {path}: {reason}")]
    RootCertificates {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// lettre refused the TLS parameters.
    #[error("TLS setup for `{host}` failed: {source}")]
    Tls {
        /// The host.
        host: String,
        /// Cause.
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

/// Idle connections older than this are closed instead of reused.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// How TLS is set up, prepared once.
enum TlsMode {
    None,
    Starttls(TlsParameters),
    Implicit(TlsConnector),
}

/// A TLS stream lettre can drive (implicit TLS over our own TCP socket).
#[derive(Debug)]
struct ImplicitTls(TlsStream<TcpStream>);

impl AsyncRead for ImplicitTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

struct Inner {
    host: String,
    port: u16,
    tls: TlsMode,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    /// Open connections waiting for the next message, with when they were
    /// parked.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// One permit per connection in use: at most `pool_size` at once.
    permits: Semaphore,
}

/// Sends over SMTP; share one per mailbox (it holds the connections).
#[derive(Clone)]
pub struct SmtpSender {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .finish_non_exhaustive()
    }
}

fn connection_error(message: String) -> SendError {
    SendError {
        kind: SendErrorKind::Connection,
        code: None,
        message,
    }
}

fn tls_error(message: String) -> SendError {
    SendError {
        kind: SendErrorKind::Tls,
        code: None,
        message,
    }
}

impl SmtpSender {
    /// Prepare the sender (no connection is made until the first send).
    pub fn new(config: &SmtpConfig) -> Result<Self, SmtpSetupError> {
        let tls = match config.security {
            Security::Plain => {
                if !is_loopback_host(&config.host) {
                    return Err(SmtpSetupError::PlainNotLoopback(config.host.clone()));
                }
                TlsMode::None
            }
            Security::Starttls => TlsMode::Starttls(tls_parameters(config)?),
            Security::Tls => TlsMode::Implicit(
                super::tls::connector(config.extra_root_certificates.as_deref()).map_err(|reason| {
                    SmtpSetupError::RootCertificates {
                        path: config
                            .extra_root_certificates
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        reason,
                    }
                })?,
            ),
        };
        let hello = match &config.hello_name {
            Some(name) => ClientId::Domain(name.clone()),
            None => ClientId::default(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                host: config.host.clone(),
                port: config.port,
                tls,
                credentials: config.credentials.as_ref().map(|(user, password)| {
                    Credentials::new(user.clone(), password.expose_secret().to_owned())
                }),
                timeout: config.timeout,
                hello,
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(config.pool_size.max(1) as usize),
            }),
        })
    }

    /// Open a connection (EHLO, STARTTLS, AUTH) and keep it for the next
    /// send: a startup check that the settings work.
    pub async fn check(&self) -> Result<(), SendError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|e| connection_error(e.to_string()))?;
        let connection = self.connect().await?;
        self.park(connection);
        Ok(())
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let inner = &self.inner;
        let work = async {
            let tcp = TcpStream::connect((inner.host.as_str(), inner.port))
                .await
                .map_err(|e| {
                    connection_error(format!("cannot connect to {}:{}: {e}", inner.host, inner.port))
                })?;
            tcp.set_nodelay(true)
                .map_err(|e| connection_error(format!("cannot set TCP_NODELAY: {e}")))?;
            let mut connection = match &inner.tls {
                TlsMode::None => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &inner.hello)
                    .await
                    .map_err(|e| classify(&e))?,
                TlsMode::Starttls(parameters) => {
                    let mut connection =
                        AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &inner.hello)
                            .await
                            .map_err(|e| classify(&e))?;
                    if !connection.can_starttls() {
                        return Err(tls_error(format!("{} does not offer STARTTLS", inner.host)));
                    }
                    connection
                        .starttls(parameters.clone(), &inner.hello)
                        .await
                        .map_err(|e| classify(&e))?;
                    connection
                }
                TlsMode::Implicit(connector) => {
                    let name =
                        ServerName::try_from(inner.host.clone()).map_err(|e| tls_error(e.to_string()))?;
                    let tls = connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| tls_error(format!("TLS with {} failed: {e}", inner.host)))?;
                    AsyncSmtpConnection::connect_with_transport(Box::new(ImplicitTls(tls)), &inner.hello)
                        .await
                        .map_err(|e| classify(&e))?
                }
            };
            if let Some(credentials) = &inner.credentials {
                connection
                    .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(|e| {
                        let mut error = classify(&e);
                        if error.code.is_some_and(|c| (500..600).contains(&c))
                            || error.kind == SendErrorKind::InvalidMessage
                        {
                            error.kind = SendErrorKind::Auth;
                        }
                        error
                    })?;
            }
            Ok(connection)
        };
        tokio::time::timeout(inner.timeout, work)
            .await
            .map_err(|_| connection_error(format!("connecting to {}:{} timed out", inner.host, inner.port)))?
    }

    /// A parked connection that still answers `NOOP`, else a new one.
    async fn take(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let parked = self
                .inner
                .idle
                .lock()
                .map_err(|_| connection_error("the connection pool is poisoned".into()))?
                .pop();
            let Some((mut connection, since)) = parked else {
                return self.connect().await;
            };
            if since.elapsed() < IDLE_LIMIT && !connection.has_broken() && connection.test_connected().await {
                return Ok(connection);
            }
            connection.abort().await;
        }
    }

    fn park(&self, connection: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.push((connection, Instant::now()));
        }
    }

    /// Say QUIT on the idle connections (the ones in use close after their
    /// send).
    pub async fn close(&self) {
        let idle: Vec<_> = match self.inner.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => return,
        };
        for (mut connection, _) in idle {
            connection.abort().await;
        }
    }

    async fn send_one(&self, email: &OutgoingEmail) -> Result<Accepted, SendError> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|e| connection_error(e.to_string()))?;
        let mut connection = self.take().await?;
        let sent =
            tokio::time::timeout(self.inner.timeout, connection.send(&email.envelope, &email.raw)).await;
        match sent {
            Ok(Ok(response)) => {
                self.park(connection);
                let lines: Vec<&str> = response.message().collect();
                Ok(Accepted {
                    reply: format!("{} {}", response.code(), lines.join(" ")),
                })
            }
            Ok(Err(e)) => {
                // Mid-transaction after a refusal: start the next message
                // on a fresh connection.
                connection.abort().await;
                Err(classify(&e))
            }
            Err(_) => {
                connection.abort().await;
                Err(connection_error(format!(
                    "sending to {}:{} timed out after {:?}",
                    self.inner.host, self.inner.port, self.inner.timeout
                )))
            }
        }
    }
}

fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, SmtpSetupError> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.extra_root_certificates {
        let root_error = |reason: String| SmtpSetupError::RootCertificates {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| root_error(e.to_string()))?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| root_error(e.to_string()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|source| SmtpSetupError::Tls {
        host: config.host.clone(),
        source,
    })
}

/// Whether a rustls error (a certificate the server showed, a handshake
/// failure) is behind `error`: lettre reports those as connection errors.
fn rustls_in_chain(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // `io::Error::source` skips the error it wraps: look at it too.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Classify a lettre error by what the server said.
pub(crate) fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let code = error.status().and_then(|c| c.to_string().parse::<u16>().ok());
    let message = error.to_string();
    let auth_code = matches!(code, Some(530 | 534 | 535 | 538));
    let kind = if error.is_permanent() {
        if auth_code {
            SendErrorKind::Auth
        } else {
            SendErrorKind::Rejected
        }
    } else if error.is_transient() {
        // 454 "temporary authentication failure" is the mailbox's problem
        // too; other 454s (TLS not available) are plain deferrals.
        if code == Some(454) && message.to_ascii_lowercase().contains("auth") {
            SendErrorKind::Auth
        } else {
            SendErrorKind::Deferred
        }
    } else if error.is_tls() || rustls_in_chain(error) {
        SendErrorKind::Tls
    } else if error.is_client() {
        SendErrorKind::InvalidMessage
    } else {
        SendErrorKind::Connection
    };
    SendError { kind, code, message }
}

impl Transport for SmtpSender {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<Accepted, SendError>> {
        self.send_one(email).boxed()
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_only_goes_to_loopback() {
        for (host, ok) in [
            ("127.0.0.1", true),
            ("::1", true),
            ("[::1]", true),
            ("localhost", true),
            ("smtp.example.com", false),
            ("10.0.0.1", false),
        ] {
            let config = SmtpConfig {
                host: host.into(),
                port: 25,
                security: Security::Plain,
                credentials: None,
                timeout: Duration::from_secs(5),
                pool_size: 1,
                hello_name: None,
                extra_root_certificates: None,
            };
            assert_eq!(SmtpSender::new(&config).is_ok(), ok, "{host}");
        }
    }
}
