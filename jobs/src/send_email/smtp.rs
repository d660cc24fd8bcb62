//! SMTP submission with lettre's pooled async transport: STARTTLS, implicit
//! TLS (SMTPS) or plain (refused unless the server is on loopback), optional
//! AUTH, timeouts, and the VERP envelope sender. Failures are classified by
//! the server's reply ([`SendErrorKind`]), with the reply text kept.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use futures::{FutureExt, future::BoxFuture};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    transport::smtp::{
        PoolConfig,
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
        extension::ClientId,
    },
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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
    /// Per-command timeout (connect, each reply).
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
    /// Built outside a Tokio runtime (its connection pool needs one).
    #[error("the SMTP sender must be built inside a Tokio runtime")]
    NoRuntime,
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

/// Sends over SMTP; share one per mailbox (it holds the connection pool).
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpSender")
    }
}

impl SmtpSender {
    /// Build the transport (no connection is made until the first send).
    /// Call it inside a Tokio runtime: the connection pool runs a task.
    pub fn new(config: &SmtpConfig) -> Result<Self, SmtpSetupError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SmtpSetupError::NoRuntime);
        }
        let tls = match config.security {
            Security::Plain => {
                if !is_loopback_host(&config.host) {
                    return Err(SmtpSetupError::PlainNotLoopback(config.host.clone()));
                }
                Tls::None
            }
            Security::Starttls => Tls::Required(tls_parameters(config)?),
            Security::Tls => Tls::Wrapper(tls_parameters(config)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout))
            .pool_config(PoolConfig::new().max_size(config.pool_size.max(1)));
        if let Some(name) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
        })
    }

    /// Open a connection and say EHLO (and STARTTLS, AUTH): a startup
    /// check that the settings work.
    pub async fn check(&self) -> Result<(), SendError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError {
                kind: SendErrorKind::Connection,
                code: None,
                message: "the server did not accept the connection test".into(),
            }),
            Err(e) => Err(classify(&e)),
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
        async move {
            let response = self
                .transport
                .send_raw(&email.envelope, &email.raw)
                .await
                .map_err(|e| classify(&e))?;
            let lines: Vec<&str> = response.message().collect();
            Ok(Accepted {
                reply: format!("{} {}", response.code(), lines.join(" ")),
            })
        }
        .boxed()
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_outside_a_runtime_is_an_error_not_a_panic() {
        let config = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 25,
            security: Security::Plain,
            credentials: None,
            timeout: Duration::from_secs(5),
            pool_size: 1,
            hello_name: None,
            extra_root_certificates: None,
        };
        assert!(matches!(SmtpSender::new(&config), Err(SmtpSetupError::NoRuntime)));
    }

    #[tokio::test]
    async fn plain_smtp_only_goes_to_loopback() {
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
