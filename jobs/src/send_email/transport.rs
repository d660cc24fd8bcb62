//! Where signed messages go: SMTP ([`SmtpSender`](super::smtp::SmtpSender))
//! or, for the demo, a directory of `.eml` files
//! ([`Outbox`](super::outbox::Outbox)), behind one trait so the job handler
//! does not care which.

use std::fmt;

use futures::future::BoxFuture;
use lettre::{Message, address::Envelope};

use super::{dkim::DkimSigner, message::Composed};

/// A message ready to hand over: envelope and the exact signed bytes.
#[derive(Clone)]
pub struct OutgoingEmail {
    /// VERP sender and recipients.
    pub envelope: Envelope,
    /// The message as it goes on the wire (CRLF line ends).
    pub raw: Vec<u8>,
    /// Its bare `Message-ID`.
    pub message_id: String,
}

impl fmt::Debug for OutgoingEmail {
    // No addresses or content in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("message_id", &self.message_id)
            .field("bytes", &self.raw.len())
            .finish_non_exhaustive()
    }
}

impl OutgoingEmail {
    /// Sign (when a signer is given) and serialize a composed message.
    pub fn new(composed: Composed, signer: Option<&DkimSigner>) -> Self {
        let Composed {
            mut message,
            message_id,
            envelope,
            ..
        } = composed;
        if let Some(signer) = signer {
            signer.sign(&mut message);
        }
        Self::from_message(&message, envelope, message_id)
    }

    /// From an already signed message.
    pub fn from_message(message: &Message, envelope: Envelope, message_id: String) -> Self {
        Self {
            envelope,
            raw: message.formatted(),
            message_id,
        }
    }
}

/// The receiving side took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// What it said: the SMTP reply (`250 2.0.0 Ok: queued as 4Xz…`) or the
    /// outbox file written.
    pub reply: String,
}

/// How a send failed, which decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendErrorKind {
    /// A 5xx reply to the message or a recipient: never retry this send.
    Rejected,
    /// A 4xx reply: retry later.
    Deferred,
    /// The mailbox's credentials were refused (530/534/535/538): pause the
    /// mailbox, retry the send later with it fixed or with another one.
    Auth,
    /// TLS could not be set up (certificate, protocol): a configuration
    /// problem, retried later.
    Tls,
    /// Connecting failed, the connection dropped, or the server took too
    /// long.
    Connection,
    /// The message itself is unusable (our side): never retry.
    InvalidMessage,
    /// Writing locally failed (outbox: disk full, permissions).
    Local,
}

/// A failed send, with the server's reply when there was one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}{}: {message}", code.map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct SendError {
    /// What kind of failure.
    pub kind: SendErrorKind,
    /// The SMTP reply code, if the server answered.
    pub code: Option<u16>,
    /// The server's reply text, or what went wrong.
    pub message: String,
}

impl SendError {
    /// Whether retrying the same send can never succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self.kind, SendErrorKind::Rejected | SendErrorKind::InvalidMessage)
    }

    /// Whether the mailbox, not the recipient, is at fault: stop using it
    /// until someone looks.
    pub fn pauses_mailbox(&self) -> bool {
        matches!(self.kind, SendErrorKind::Auth | SendErrorKind::Tls)
    }
}

/// Hands a message to its next hop. Implementations are cheap to share
/// (`Arc<dyn Transport>`) and safe to call concurrently.
pub trait Transport: Send + Sync {
    /// Deliver one message.
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<Accepted, SendError>>;

    /// A short name for `campaigns.email_provider` (`smtp`, `outbox`).
    fn name(&self) -> &'static str;
}
