//! `poll_inbox`: read one outreach mailbox over IMAP and record what each
//! new message means (the inbound half of outreach e-mail).
//!
//! - **Input**: [`PollInbox`] — one mailbox of `[[send_email.mailboxes]]`
//!   (by its address) that has `imap` settings. The scheduler's
//!   `poll_inbox` schedule enqueues one job per such mailbox and slot.
//! - **Reads**: the mailbox's folder over IMAP (`send_email::imap`: log
//!   in, `UID SEARCH`, `BODY.PEEK[]`), its cursor in `mailbox_cursors`,
//!   `campaigns` and `customers` to match a message.
//! - **Writes**, in **one transaction per message** ([`apply`]): its
//!   `inbound_messages` row (the claim), what it means — `email_events`,
//!   `prospect_interactions`, `suppressions`, `campaigns.status`,
//!   `prospects.contact_status` through `send_email::inbox::record`, or a
//!   `support_tickets` row for a customer's e-mail — and the cursor moved
//!   past its UID. After each page of messages is committed, they are
//!   marked seen or moved to `imap.processed_folder` on the server.
//! - **Idempotency**: the claim is `INSERT … ON CONFLICT DO NOTHING` on
//!   (mailbox, folder, UIDVALIDITY, UID) and on (mailbox, Message-ID): a
//!   message read again after a crash, or after the server renumbered the
//!   folder (a new UIDVALIDITY restarts the cursor at 0), does nothing a
//!   second time. Messages committed but not yet marked on the server
//!   (`finished_at IS NULL`) are marked at the start of the next poll.
//! - **Next stage**: none (a ticket waits for an operator).
//! - **Errors**: a refused login, an unknown mailbox, a mailbox without
//!   IMAP and a missing secret are permanent (the job fails once with the
//!   reason; the next slot's job tries again); lost connections, timeouts
//!   and transient database errors are retried. A message that does not
//!   parse is recorded as `other`; one whose recording the database refuses
//!   is kept as `failed` with the reason: neither fails the job nor blocks
//!   the mailbox.
//! - **External calls**: the IMAP server, with `imap.timeout` per command.
//!   At most `[poll_inbox] max_messages_per_run` messages per job, fetched
//!   `batch_size` at a time; the rest wait for the next slot.
//! - **Logs** name the mailbox by its place in the configuration
//!   (`send_email.mailboxes[0]`), never by an address.

pub mod apply;
pub mod queries;

use std::{fmt, sync::Arc};

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use self::{
    apply::{Outcome, Parsed, Rules},
    queries::Folder,
};
use crate::{
    domain::EmailAddress,
    pipeline::ProspectLink,
    queue::Job,
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    send_email::{
        SendEmail, SendEmailSettings, Tracker,
        imap::{ImapConfig, ImapError, ImapReader},
    },
    stage::{Branch, CheckContext, InvalidSetting, Setup, SetupError, Stage, StageConfig, StageJob},
};

/// Messages marked on the server at the start of a poll, at most (left
/// over by earlier polls that failed after their commit).
const UNFINISHED_LIMIT: i64 = 1000;

/// Read one mailbox's new messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollInbox {
    /// The mailbox (`send_email.mailboxes[].address`).
    pub mailbox: EmailAddress,
}

impl Job for PollInbox {
    const QUEUE: &'static str = Stage::PollInbox.name();
}

impl StageJob for PollInbox {
    const STAGE: Stage = Stage::PollInbox;
    const BRANCH: Branch = Branch::Outreach;
    type Settings = PollInboxSettings;

    fn build_deps(settings: &PollInboxSettings, setup: &Setup<'_>) -> Result<PollInboxDeps, SetupError> {
        Ok(PollInboxDeps::new(
            settings.clone(),
            setup.settings::<SendEmail>().clone(),
        ))
    }

    fn for_prospect(_: ProspectLink) -> Option<Self> {
        None
    }

    fn default_concurrency() -> usize {
        2
    }
}

/// `[poll_inbox]`: how much one poll reads. The mailboxes and their IMAP
/// servers are `[[send_email.mailboxes]]`' `imap` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollInboxSettings {
    /// Messages fetched per IMAP round trip (and committed before they are
    /// marked on the server).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Messages read per job at most; the rest wait for the next slot.
    #[serde(default = "default_max_messages_per_run")]
    pub max_messages_per_run: usize,
}

fn default_batch_size() -> usize {
    25
}

fn default_max_messages_per_run() -> usize {
    500
}

impl Default for PollInboxSettings {
    fn default() -> Self {
        Self {
            batch_size: default_batch_size(),
            max_messages_per_run: default_max_messages_per_run(),
        }
    }
}

impl StageConfig for PollInboxSettings {
    fn check(&mut self, _: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        if !(1..=500).contains(&self.batch_size) {
            return Err(InvalidSetting::new("batch_size", "must be between 1 and 500"));
        }
        if !(1..=100_000).contains(&self.max_messages_per_run) {
            return Err(InvalidSetting::new(
                "max_messages_per_run",
                "must be between 1 and 100000",
            ));
        }
        Ok(())
    }
}

/// A mailbox named in logs and errors by its place in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxLabel(pub usize);

impl fmt::Display for MailboxLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "send_email.mailboxes[{}]", self.0)
    }
}

/// What every poll shares: the settings and the tracker that verifies the
/// tokens of our addresses.
pub struct PollInboxDeps {
    poll: PollInboxSettings,
    email: Arc<SendEmailSettings>,
    tracker: Result<Arc<Tracker>, String>,
}

impl fmt::Debug for PollInboxDeps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollInboxDeps")
            .field("poll", &self.poll)
            .field("tracker", &self.tracker.as_ref().map(|_| ()))
            .finish_non_exhaustive()
    }
}

/// One mailbox, ready to be read.
#[derive(Debug)]
struct Mailbox {
    label: MailboxLabel,
    /// The address, lower case (the cursor's key).
    key: String,
    imap: ImapConfig,
}

impl PollInboxDeps {
    /// Deps from the stage's and `send_email`'s settings (whose captured
    /// secrets hold the tracking keys and the IMAP passwords). What cannot
    /// be built fails each job with the reason, not the process.
    pub fn new(poll: PollInboxSettings, email: SendEmailSettings) -> Self {
        let tracker = email
            .tracker(&|name| email.secrets.get(name))
            .map(Arc::new)
            .map_err(|e| e.to_string());
        Self {
            poll,
            email: Arc::new(email),
            tracker,
        }
    }

    /// The addresses of the mailboxes that have IMAP settings (what the
    /// scheduler polls).
    pub fn polled_mailboxes(email: &SendEmailSettings) -> Vec<EmailAddress> {
        email
            .mailboxes
            .iter()
            .filter(|m| m.imap.is_some())
            .map(|m| m.address.clone())
            .collect()
    }

    fn mailbox(&self, address: &EmailAddress) -> Result<Mailbox, PollInboxError> {
        let (index, settings) = self
            .email
            .mailboxes
            .iter()
            .enumerate()
            .find(|(_, m)| m.address.as_str().eq_ignore_ascii_case(address.as_str()))
            .ok_or(PollInboxError::UnknownMailbox)?;
        let label = MailboxLabel(index);
        let imap = settings
            .imap_config(&|name| self.email.secrets.get(name))
            .map_err(|e| PollInboxError::NotConfigured {
                mailbox: label,
                reason: e.to_string(),
            })?
            .ok_or(PollInboxError::NoImap { mailbox: label })?;
        Ok(Mailbox {
            label,
            key: settings.address.as_str().to_ascii_lowercase(),
            imap,
        })
    }

    fn tracker(&self, mailbox: MailboxLabel) -> Result<Arc<Tracker>, PollInboxError> {
        self.tracker
            .clone()
            .map_err(|reason| PollInboxError::NotConfigured { mailbox, reason })
    }

    fn rules(&self) -> Rules {
        Rules {
            message_id_domain: self.email.message_id_domain(),
            stop_on_auto_reply: self.email.stop_on_auto_reply,
        }
    }
}

/// Why a poll did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PollInboxError {
    /// The job names a mailbox the configuration does not list (the
    /// address is in the payload, not repeated here).
    #[error("the job's mailbox is not one of send_email.mailboxes")]
    UnknownMailbox,
    /// The mailbox has no `imap` settings.
    #[error("{mailbox} has no imap settings: nothing to poll")]
    NoImap {
        /// Which one.
        mailbox: MailboxLabel,
    },
    /// A secret or setting it needs is missing (the IMAP password, the
    /// tracking keys).
    #[error("{mailbox} cannot be polled as configured: {reason}")]
    NotConfigured {
        /// Which one.
        mailbox: MailboxLabel,
        /// What is missing.
        reason: String,
    },
    /// The IMAP server refused the login: the username or password is
    /// wrong (neither is in the message).
    #[error("the IMAP server refused the login of {mailbox}: {reason}")]
    Login {
        /// Which one.
        mailbox: MailboxLabel,
        /// The server's words.
        reason: String,
    },
    /// Talking to the IMAP server failed.
    #[error("IMAP of {mailbox} failed")]
    Imap {
        /// Which one.
        mailbox: MailboxLabel,
        /// Cause.
        #[source]
        source: ImapError,
    },
    /// The database.
    #[error("database error while polling an inbox")]
    Database(#[from] sqlx::Error),
}

impl PollInboxError {
    fn imap(mailbox: MailboxLabel, source: ImapError) -> Self {
        match source {
            // The reader's message names the user; ours names the mailbox.
            ImapError::Login { reason, .. } => PollInboxError::Login { mailbox, reason },
            source => PollInboxError::Imap { mailbox, source },
        }
    }
}

impl StageError for PollInboxError {
    fn is_permanent(&self) -> bool {
        match self {
            PollInboxError::UnknownMailbox
            | PollInboxError::NoImap { .. }
            | PollInboxError::NotConfigured { .. }
            | PollInboxError::Login { .. } => true,
            PollInboxError::Imap { source, .. } => source.needs_attention(),
            PollInboxError::Database(e) => !is_transient_db_error(e),
        }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    /// Messages fetched.
    pub fetched: usize,
    /// Recorded against a send of ours.
    pub recorded: usize,
    /// Matching no send of ours.
    pub unmatched: usize,
    /// Customers' e-mails filed as tickets.
    pub tickets: usize,
    /// Customers' e-mails without a site to file them under.
    pub no_site: usize,
    /// Refused by the database, kept as failed.
    pub failed: usize,
    /// Handled before.
    pub duplicates: usize,
}

impl Polled {
    fn count(&mut self, outcome: Outcome) {
        self.fetched += 1;
        match outcome {
            Outcome::Recorded => self.recorded += 1,
            Outcome::Unmatched => self.unmatched += 1,
            Outcome::Ticket => self.tickets += 1,
            Outcome::NoSite => self.no_site += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Duplicate => self.duplicates += 1,
        }
        metrics::counter!(INBOUND_MESSAGES_TOTAL, "outcome" => outcome_label(outcome)).increment(1);
    }
}

/// Inbound messages handled, by outcome.
pub const INBOUND_MESSAGES_TOTAL: &str = "prospector_inbound_messages_total";

fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Duplicate => "duplicate",
        other => other.as_str(),
    }
}

/// Read a message off the runtime's threads (a large message is real
/// parsing work). A parser that panics makes it unreadable, not the job.
async fn read(raw: Vec<u8>, tracker: Arc<Tracker>) -> Parsed {
    let digest = apply::digest_key(&raw);
    tokio::task::spawn_blocking(move || Parsed::read(&raw, &tracker))
        .await
        .unwrap_or_else(|_| Parsed::unreadable(digest))
}

async fn poll(pool: &PgPool, mailbox: &Mailbox, deps: &PollInboxDeps) -> Result<Polled, PollInboxError> {
    let label = mailbox.label;
    let tracker = deps.tracker(label)?;
    let rules = deps.rules();
    let imap = |e| PollInboxError::imap(label, e);
    let mut reader = ImapReader::connect(&mailbox.imap).await.map_err(imap)?;
    let folder = Folder {
        mailbox: mailbox.key.clone(),
        folder: mailbox.imap.folder.clone(),
        uidvalidity: reader.uid_validity().unwrap_or(0),
    };
    let start = queries::open_cursor(pool, &folder).await?;
    if start.renumbered {
        tracing::warn!(
            imap.uidvalidity = folder.uidvalidity,
            "the server renumbered the folder: reading it again from the start (messages already handled are known by their Message-ID)"
        );
    }
    let unfinished = queries::unfinished_uids(pool, &folder, UNFINISHED_LIMIT).await?;
    if !unfinished.is_empty() {
        reader.finish(&unfinished).await.map_err(imap)?;
        queries::mark_finished(pool, &folder, &unfinished).await?;
    }

    let mut polled = Polled::default();
    let mut after = start.last_uid;
    while polled.fetched < deps.poll.max_messages_per_run {
        let limit = deps
            .poll
            .batch_size
            .min(deps.poll.max_messages_per_run - polled.fetched);
        let page = reader.fetch_after(after, limit).await.map_err(imap)?;
        if page.is_empty() {
            break;
        }
        let mut uids = Vec::with_capacity(page.len());
        for message in page {
            let parsed = read(message.raw, Arc::clone(&tracker)).await;
            let done = apply::apply(pool, &folder, message.uid, &parsed, &rules).await?;
            tracing::debug!(imap.uid = message.uid, kind = parsed.kind(), outcome = ?done.outcome, "inbound message");
            polled.count(done.outcome);
            uids.push(message.uid);
            after = message.uid;
        }
        reader.finish(&uids).await.map_err(imap)?;
        queries::mark_finished(pool, &folder, &uids).await?;
    }
    queries::mark_polled(pool, &folder).await?;
    if let Err(e) = reader.logout().await {
        tracing::debug!(error = %e, "IMAP logout failed (the connection closes anyway)");
    }
    Ok(polled)
}

impl Handler for PollInbox {
    type Deps = PollInboxDeps;
    type Error = PollInboxError;

    #[tracing::instrument(skip_all, fields(mailbox = tracing::field::Empty))]
    async fn handle(self, ctx: &JobContext, deps: &PollInboxDeps) -> Result<(), Self::Error> {
        let mailbox = deps.mailbox(&self.mailbox)?;
        tracing::Span::current().record("mailbox", tracing::field::display(mailbox.label));
        let polled = poll(&ctx.pool, &mailbox, deps).await?;
        tracing::info!(
            fetched = polled.fetched,
            recorded = polled.recorded,
            unmatched = polled.unmatched,
            tickets = polled.tickets,
            no_site = polled.no_site,
            failed = polled.failed,
            duplicates = polled.duplicates,
            "inbox polled"
        );
        Ok(())
    }
}
