//! `send_email`, the mail core: everything of outbound and inbound e-mail
//! that needs no job queue or database. The job handler, the SQL (claims,
//! suppression, caps counted in PostgreSQL) and the HTTP endpoints build on
//! it.
//!
//! **Outbound**, in the order a send runs:
//! 1. [`compliance`]: may this lead get a cold e-mail in its country
//!    (send / route to phone / refuse)?
//! 2. [`window`]: when (recipient's local hours, gap + seeded jitter since
//!    the mailbox's last send, warm-up cap, follow-up dates)?
//! 3. [`template`] + [`issues`]: the text, with `{placeholders}` from a
//!    closed set and `{issues}` from the score's evidence (en, fr, de).
//!    Unknown placeholders fail when a template is saved, missing values
//!    when it is rendered.
//! 4. [`message`]: MIME with `Message-ID` (derived from the send: stable
//!    across retries), RFC 8058 one-click unsubscribe, `Feedback-ID`, the
//!    VERP envelope sender, identity and postal address in both parts, and
//!    optional open pixel and click links ([`tracking`]).
//! 5. [`dkim`]: RSA or Ed25519 signature over those headers.
//! 6. [`transport`]: [`smtp`] (STARTTLS, SMTPS, plain on loopback only) or
//!    the demo's [`outbox`]; failures say permanent (5xx), transient (4xx,
//!    connection) or "pause the mailbox" (auth, TLS), with the reply text.
//!
//! **Tracking** ([`tracking`]): HMAC-signed tokens that carry a send id, a
//! kind and a link index, never a URL (no open redirect), with key
//! rotation; hits are classed machine or human.
//!
//! **Inbound**: [`imap`] fetches messages above a stored UID (peeking, so a
//! crash re-reads them); [`inbound`] classifies each as reply, bounce
//! (hard / soft / block, from RFC 3464), complaint (RFC 5965), auto-reply,
//! mailto unsubscribe or other, and says which send it points to (VERP
//! token, Message-IDs); [`inbox`] records what it means. The
//! [`crate::poll_inbox`] stage runs them for each mailbox with IMAP
//! settings, on the scheduler's `poll-inboxes` slots.
//!
//! **The stage** ([`SendEmail`], the `send_email` queue): the claim in one
//! transaction (suppressions, compliance, caps with the mailboxes' rows
//! locked, the row inserted `sending` under its unique key), SMTP after
//! the commit, `sent`/`failed` after it; [`queries`] holds its SQL and
//! that of the tracking endpoints and campaign enqueueing.
//!
//! [`settings`] is the `[send_email]` section; [`bench`] measures the send
//! path; `testing` (with `cfg(test)` or the `testing` feature) starts real
//! aiosmtpd and Dovecot servers on loopback.
//!
//! Guarantees: nothing here panics on hostile input (templates, tokens,
//! inbound bytes are fuzzed); secrets come from the environment and never
//! appear in `Debug` output or errors; every error is typed.

pub mod bench;
pub mod campaign;
pub mod compliance;
pub mod dkim;
pub mod imap;
pub mod inbound;
pub mod inbox;
pub mod issues;
pub mod language;
pub mod message;
pub mod outbox;
pub mod queries;
pub mod settings;
pub mod smtp;
mod stage;
pub mod template;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod tls;
pub mod tracking;
pub mod transport;
pub mod window;

#[cfg(test)]
mod loopback_tests;

pub use compliance::{ComplianceProfiles, Consent, Decision};
pub use dkim::DkimSigner;
pub use inbound::{Classified, Inbound, classify};
pub use language::Language;
pub use message::{Compose, Composed, compose};
pub use settings::{SendEmailSettings, SettingsError};
pub use stage::{Notice, NoticeError, NoticeSent, SendEmail, SendEmailDeps, SendEmailError, country_zone};
pub use template::{Placeholder, Rendered, Template, Values};
pub use tracking::{KeyRing, SendId, Token, TokenKind, Tracker};
pub use transport::{Accepted, OutgoingEmail, SendError, SendErrorKind, Transport};
