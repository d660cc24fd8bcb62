//! Reading one mailbox over IMAP (`async-imap` on tokio): log in, select
//! the folder, fetch the messages with a UID above the last one processed
//! (raw bytes and UID), then mark them seen or move them to a "processed"
//! folder. Messages are fetched with `BODY.PEEK[]`, so a crash between
//! fetching and storing the results leaves them unseen and they are read
//! again (the caller's processing must be idempotent, keyed by UID).
//!
//! The caller stores the highest UID processed together with the folder's
//! `UIDVALIDITY`: when that changes, the server renumbered the folder and
//! stored UIDs mean nothing (start again from 0).

use std::{
    io,
    path::PathBuf,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use async_imap::{Client, Session};
use futures::TryStreamExt;
use rustls::pki_types::ServerName;
use secrecy::{ExposeSecret, SecretString};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::client::TlsStream;

use super::smtp::{Security, is_loopback_host};

/// One IMAP mailbox and how to reach it.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// Host name (also the TLS server name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// `tls` (993), `starttls` (143) or `plain` (loopback only).
    pub security: Security,
    /// Login name.
    pub username: String,
    /// Password.
    pub password: SecretString,
    /// The folder read (`INBOX`).
    pub folder: String,
    /// Where processed messages go; `None` marks them seen instead.
    pub processed_folder: Option<String>,
    /// Per-operation timeout.
    pub timeout: Duration,
    /// Extra trusted root certificates (PEM file).
    pub extra_root_certificates: Option<PathBuf>,
}

/// Why reading the mailbox failed.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// Plain IMAP to a host that is not on loopback.
    #[error("plain (unencrypted) IMAP is only allowed to a loopback server, not `{0}`")]
    PlainNotLoopback(String),
    /// Connecting failed.
    #[error("cannot connect to the IMAP server {host}:{port}: {source}")]
    Connect {
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// TLS could not be set up.
    #[error("TLS with the IMAP server failed: {0}")]
    Tls(String),
    /// The server refused the login (the password is never in the message).
    #[error("the IMAP server refused the login of `{user}`: {reason}")]
    Login {
        /// The user.
        user: String,
        /// The server's words.
        reason: String,
    },
    /// A command failed.
    #[error("IMAP {operation} failed: {source}")]
    Command {
        /// What we were doing.
        operation: &'static str,
        /// Cause.
        #[source]
        source: async_imap::error::Error,
    },
    /// The server took longer than the timeout.
    #[error("IMAP {0} timed out")]
    Timeout(&'static str),
}

impl ImapError {
    /// The credentials or the setup are wrong: retrying will not help until
    /// someone fixes the settings.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            ImapError::Login { .. } | ImapError::PlainNotLoopback(_) | ImapError::Tls(_)
        )
    }
}

/// A plain or TLS connection, so one session type serves both.
#[derive(Debug)]
enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One fetched message.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// Its UID in the folder.
    pub uid: u32,
    /// The whole message as the server has it.
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for FetchedMessage {
    // No content in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedMessage")
            .field("uid", &self.uid)
            .field("bytes", &self.raw.len())
            .finish()
    }
}

async fn timed<T>(
    operation: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(ImapError::Command { operation, source }),
        Err(_) => Err(ImapError::Timeout(operation)),
    }
}

async fn wrap_tls(config: &ImapConfig, tcp: TcpStream) -> Result<ImapStream, ImapError> {
    let connector =
        super::tls::connector(config.extra_root_certificates.as_deref()).map_err(ImapError::Tls)?;
    let name = ServerName::try_from(config.host.clone()).map_err(|e| ImapError::Tls(e.to_string()))?;
    let tls = tokio::time::timeout(config.timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| ImapError::Timeout("TLS handshake"))?
        .map_err(|e| ImapError::Tls(e.to_string()))?;
    Ok(ImapStream::Tls(Box::new(tls)))
}

async fn greeting(client: &mut Client<ImapStream>, limit: Duration) -> Result<(), ImapError> {
    match tokio::time::timeout(limit, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(ImapError::Command {
            operation: "greeting",
            source: async_imap::error::Error::ConnectionLost,
        }),
        Ok(Err(e)) => Err(ImapError::Command {
            operation: "greeting",
            source: e.into(),
        }),
        Err(_) => Err(ImapError::Timeout("greeting")),
    }
}

/// A logged-in session on one folder.
pub struct ImapReader {
    session: Session<ImapStream>,
    timeout: Duration,
    uid_validity: Option<u32>,
    processed_folder: Option<String>,
    can_move: bool,
}

impl std::fmt::Debug for ImapReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapReader")
            .field("uid_validity", &self.uid_validity)
            .finish_non_exhaustive()
    }
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

impl ImapReader {
    /// Connect, log in and select the folder (creating the processed
    /// folder if it is configured and missing).
    pub async fn connect(config: &ImapConfig) -> Result<Self, ImapError> {
        if config.security == Security::Plain && !is_loopback_host(&config.host) {
            return Err(ImapError::PlainNotLoopback(config.host.clone()));
        }
        let connect_error = |source| ImapError::Connect {
            host: config.host.clone(),
            port: config.port,
            source,
        };
        let tcp = tokio::time::timeout(
            config.timeout,
            TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await
        .map_err(|_| ImapError::Timeout("connect"))?
        .map_err(connect_error)?;
        let client = match config.security {
            Security::Tls => {
                let mut client = Client::new(wrap_tls(config, tcp).await?);
                greeting(&mut client, config.timeout).await?;
                client
            }
            Security::Plain => {
                let mut client = Client::new(ImapStream::Plain(tcp));
                greeting(&mut client, config.timeout).await?;
                client
            }
            Security::Starttls => {
                let mut plain = Client::new(ImapStream::Plain(tcp));
                greeting(&mut plain, config.timeout).await?;
                timed(
                    "STARTTLS",
                    config.timeout,
                    plain.run_command_and_check_ok("STARTTLS", None),
                )
                .await?;
                let ImapStream::Plain(tcp) = plain.into_inner() else {
                    return Err(ImapError::Tls("unexpected stream state".into()));
                };
                // No second greeting after STARTTLS (RFC 3501 §6.2.1).
                Client::new(wrap_tls(config, tcp).await?)
            }
        };
        // LOGIN never goes out in the clear to a remote host: `Plain` is
        // loopback only (checked above).
        let login = tokio::time::timeout(
            config.timeout,
            client.login(&config.username, config.password.expose_secret()),
        )
        .await
        .map_err(|_| ImapError::Timeout("LOGIN"))?;
        let mut session = login.map_err(|(e, _)| ImapError::Login {
            user: config.username.clone(),
            reason: e.to_string(),
        })?;
        let capabilities = timed("CAPABILITY", config.timeout, session.capabilities()).await?;
        let can_move = capabilities.has_str("MOVE");
        if let Some(folder) = &config.processed_folder {
            let exists = {
                let listed = timed("LIST", config.timeout, session.list(None, Some(folder))).await?;
                let names: Vec<_> = timed("LIST", config.timeout, listed.try_collect::<Vec<_>>()).await?;
                !names.is_empty()
            };
            if !exists {
                timed("CREATE", config.timeout, session.create(folder)).await?;
            }
        }
        let mailbox = timed("SELECT", config.timeout, session.select(&config.folder)).await?;
        Ok(Self {
            session,
            timeout: config.timeout,
            uid_validity: mailbox.uid_validity,
            processed_folder: config.processed_folder.clone(),
            can_move,
        })
    }

    /// The folder's `UIDVALIDITY` (store it with the last UID).
    pub fn uid_validity(&self) -> Option<u32> {
        self.uid_validity
    }

    /// Up to `limit` messages with a UID above `after_uid`, lowest first.
    pub async fn fetch_after(
        &mut self,
        after_uid: u32,
        limit: usize,
    ) -> Result<Vec<FetchedMessage>, ImapError> {
        if limit == 0 || after_uid == u32::MAX {
            return Ok(Vec::new());
        }
        let query = format!("UID {}:*", after_uid + 1);
        let found = timed("UID SEARCH", self.timeout, self.session.uid_search(&query)).await?;
        // `n:*` always includes the highest UID, even below n: filter.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after_uid).collect();
        uids.sort_unstable();
        uids.truncate(limit);
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let fetches = {
            let stream = timed(
                "UID FETCH",
                self.timeout,
                self.session.uid_fetch(uid_set(&uids), "(UID BODY.PEEK[])"),
            )
            .await?;
            timed("UID FETCH", self.timeout, stream.try_collect::<Vec<_>>()).await?
        };
        let mut messages: Vec<FetchedMessage> = fetches
            .iter()
            .filter_map(|f| {
                Some(FetchedMessage {
                    uid: f.uid?,
                    raw: f.body()?.to_vec(),
                })
            })
            .filter(|m| uids.contains(&m.uid))
            .collect();
        messages.sort_by_key(|m| m.uid);
        Ok(messages)
    }

    /// Set `\Seen` on these messages.
    pub async fn mark_seen(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let stream = timed(
            "UID STORE",
            self.timeout,
            self.session.uid_store(uid_set(uids), "+FLAGS.SILENT (\\Seen)"),
        )
        .await?;
        timed("UID STORE", self.timeout, stream.try_collect::<Vec<_>>()).await?;
        Ok(())
    }

    /// Done with these: moved to the processed folder when one is
    /// configured (MOVE, or COPY + delete), else marked seen.
    pub async fn finish(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let Some(folder) = self.processed_folder.clone() else {
            return self.mark_seen(uids).await;
        };
        self.mark_seen(uids).await?;
        let set = uid_set(uids);
        if self.can_move {
            timed("UID MOVE", self.timeout, self.session.uid_mv(&set, &folder)).await?;
            return Ok(());
        }
        timed("UID COPY", self.timeout, self.session.uid_copy(&set, &folder)).await?;
        let stream = timed(
            "UID STORE",
            self.timeout,
            self.session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
        )
        .await?;
        timed("UID STORE", self.timeout, stream.try_collect::<Vec<_>>()).await?;
        let expunged = timed("UID EXPUNGE", self.timeout, self.session.uid_expunge(&set)).await?;
        timed("UID EXPUNGE", self.timeout, expunged.try_collect::<Vec<_>>()).await?;
        Ok(())
    }

    /// Log out (best effort: the connection closes either way).
    pub async fn logout(mut self) -> Result<(), ImapError> {
        timed("LOGOUT", self.timeout, self.session.logout()).await
    }
}
