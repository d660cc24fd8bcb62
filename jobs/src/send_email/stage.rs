//! The `send_email` job: one step of an outreach campaign to one lead.
//!
//! - **Input**: [`SendEmail`] — a prospect, an `outreach_campaigns` row and
//!   a step of it.
//! - **Order of a send**, in one transaction (the *claim*): a send already
//!   recorded for (prospect, campaign, step) ends the job (one still
//!   `sending` is a crash mid-send: it becomes `unknown` for an operator and
//!   is never sent again); the sequence stops on reply, bounce, complaint,
//!   unsubscribe, purchase (and, by setting, click); the suppression list
//!   (address and domain) and the compliance profile of the lead's country
//!   decide whether it is e-mailed (a lead that needs consent it has not
//!   given is routed to the phone: a `campaigns` row of that channel); the
//!   sending mailboxes' rows are locked and their caps, warm-up, gap and the
//!   recipient's window decide which one sends now (none: the job waits,
//!   without counting an attempt); the message is rendered, composed and
//!   signed; the row is inserted `sending` with its Message-ID under the
//!   unique key (prospect, campaign, step), and the mailbox's day count and
//!   last send move. Commit. Then SMTP (or the outbox). Then, in a second
//!   transaction, `sent` with the server's reply, an `email_sent`
//!   interaction, the lead's contact status and the next step's job (at its
//!   business-day date in the recipient's window); or `failed` with the
//!   reason (a 5xx), or, when the server said the message was not taken
//!   (4xx, auth, TLS, no connection), the claim is released for the retry;
//!   a connection lost mid-session is `unknown` (never re-sent).
//! - **Errors**: missing rows, no address, unknown placeholders and
//!   missing values are permanent (a missing value is recorded on the send
//!   as `failed`); a closed window or a spent cap waits; lost connections
//!   and 4xx are retried.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    compliance::{Consent, Decision, LawfulBasis},
    dkim::DkimSigner,
    issues::issues_text,
    language::Language,
    message::{Compose, FeedbackId, TrackingOptions, compose},
    outbox::Outbox,
    queries::{self, Lead, MailboxRow},
    settings::{MailboxSettings, SendEmailSettings, SettingsError, TransportKind},
    smtp::SmtpSender,
    template::{Placeholder, Template, Values},
    tracking::{SendId, Tracker},
    transport::{OutgoingEmail, SendError, SendErrorKind, Transport},
    window::{self, SendWindow},
};
use crate::{
    domain::{CountryCode, EmailAddress},
    pipeline::ProspectLink,
    public_urls::PublicUrls,
    queue::{EnqueueError, EnqueueOptions, Job},
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    score::ReasonFlag,
    stage::{Branch, CheckContext, InvalidSetting, Setup, SetupError, Stage, StageConfig, StageJob},
};

/// The default environment variable of the tracking keys.
pub const TRACKING_KEYS_ENV: &str = "PROSPECTOR_TRACKING_KEYS";

/// Send step `step` of outreach campaign `campaign_id` to a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendEmail {
    /// The lead (`prospects.id`).
    pub prospect_id: i64,
    /// The campaign (`outreach_campaigns.id`).
    pub campaign_id: i64,
    /// The step (1 = the first e-mail).
    pub step: i16,
}

impl Job for SendEmail {
    const QUEUE: &'static str = Stage::SendEmail.name();

    fn idempotency_key(&self) -> Option<String> {
        Some(format!(
            "send_email:{}:{}:{}",
            self.campaign_id, self.prospect_id, self.step
        ))
    }
}

impl StageConfig for SendEmailSettings {
    fn check(&mut self, ctx: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        self.validate()
            .map_err(|SettingsError { key, message }| InvalidSetting::new(key, message))?;
        // The names are configurable (`key_env`, `password_env`), so the
        // variables the configuration did not pass through are read from
        // the process (the defaults are in SECRET_VARS).
        let env = |name: &str| ctx.env.get(name).cloned().or_else(|| std::env::var(name).ok());
        self.secrets = super::settings::Secrets::capture(self, &env);
        Ok(())
    }
}

impl StageJob for SendEmail {
    const STAGE: Stage = Stage::SendEmail;
    const BRANCH: Branch = Branch::Outreach;
    const SECRET_VARS: &'static [&'static str] = &[TRACKING_KEYS_ENV];
    type Settings = SendEmailSettings;

    fn build_deps(settings: &SendEmailSettings, setup: &Setup<'_>) -> Result<SendEmailDeps, SetupError> {
        Ok(SendEmailDeps::new(settings.clone(), setup.platform.web.clone()))
    }

    fn for_prospect(_: ProspectLink) -> Option<Self> {
        None
    }

    fn default_concurrency() -> usize {
        4
    }
}

/// A sending mailbox with its transport.
struct Mailbox {
    settings: MailboxSettings,
    window: SendWindow,
    transport: Arc<dyn Transport>,
}

/// What a send needs once the configuration's secrets and files are read.
struct Ready {
    tracker: Tracker,
    signer: Option<DkimSigner>,
    mailboxes: Vec<Mailbox>,
}

/// What every send shares: the settings, the tracker, the DKIM key and one
/// transport per mailbox (SMTP connections are pooled per mailbox).
pub struct SendEmailDeps {
    settings: Arc<SendEmailSettings>,
    urls: PublicUrls,
    ready: Result<Ready, String>,
}

impl std::fmt::Debug for SendEmailDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendEmailDeps")
            .field("settings", &self.settings)
            .field("ready", &self.ready.as_ref().map(|_| ()))
            .finish_non_exhaustive()
    }
}

impl SendEmailDeps {
    /// Deps from settings. What cannot be built (a missing secret, an
    /// unreadable key) does not stop the process: every send waits, with
    /// the reason, until the configuration is fixed.
    pub fn new(settings: SendEmailSettings, urls: PublicUrls) -> Self {
        let ready = Self::ready(&settings).map_err(|e| {
            tracing::warn!(error = %e, "send_email cannot send: jobs wait until this is fixed");
            e
        });
        Self {
            settings: Arc::new(settings),
            urls,
            ready,
        }
    }

    /// Deps with one transport for every mailbox (tests: a transport that
    /// hangs, or records).
    pub fn with_transport(
        settings: SendEmailSettings,
        urls: PublicUrls,
        transport: Arc<dyn Transport>,
    ) -> Self {
        let mut deps = Self::new(settings, urls);
        if let Ok(ready) = &mut deps.ready {
            for mailbox in &mut ready.mailboxes {
                mailbox.transport = Arc::clone(&transport);
            }
        }
        deps
    }

    fn ready(settings: &SendEmailSettings) -> Result<Ready, String> {
        let env = |name: &str| settings.secrets.get(name);
        let tracker = settings.tracker(&env).map_err(|e| e.to_string())?;
        let signer = settings.dkim_signer().map_err(|e| e.to_string())?;
        let outbox: Option<Arc<dyn Transport>> = match settings.transport.kind {
            TransportKind::Outbox => {
                let dir = settings
                    .transport
                    .outbox_dir
                    .clone()
                    .ok_or("send_email.transport.outbox_dir is not set")?;
                Some(Arc::new(
                    Outbox::new(&dir).map_err(|e| format!("outbox {}: {e}", dir.display()))?,
                ))
            }
            TransportKind::Smtp => None,
        };
        let mut mailboxes = Vec::new();
        for (i, m) in settings.mailboxes.iter().enumerate() {
            let window = m
                .send_window()
                .map_err(|e| format!("send_email.mailboxes[{i}].window: {e}"))?;
            let transport: Arc<dyn Transport> = match &outbox {
                Some(outbox) => Arc::clone(outbox),
                None => {
                    let config = m.smtp_config(&env).map_err(|e| format!("mailboxes[{i}]: {e}"))?;
                    Arc::new(SmtpSender::new(&config).map_err(|e| format!("mailboxes[{i}]: {e}"))?)
                }
            };
            mailboxes.push(Mailbox {
                settings: m.clone(),
                window,
                transport,
            });
        }
        if mailboxes.is_empty() {
            return Err("send_email has no mailbox to send from".into());
        }
        Ok(Ready {
            tracker,
            signer,
            mailboxes,
        })
    }

    /// Send a transactional message to a customer (welcome, payment
    /// reminder) from the first mailbox, signed like outreach but outside
    /// campaigns: no caps, windows or compliance profile (the customer has
    /// a contract with the agency), no open pixel or click tracking. The
    /// caller records the claim before and the outcome after.
    pub async fn send_notice(&self, notice: &Notice<'_>) -> Result<NoticeSent, NoticeError> {
        let ready = self
            .ready
            .as_ref()
            .map_err(|e| NoticeError::NotConfigured(e.clone()))?;
        let mailbox = ready
            .mailboxes
            .first()
            .ok_or_else(|| NoticeError::NotConfigured("send_email has no mailbox to send from".into()))?;
        let from = &mailbox.settings.address;
        let feedback = FeedbackId::new(
            "customer",
            notice.kind,
            "notice",
            &self.settings.feedback_sender_id,
        )
        .map_err(|e| NoticeError::Message(e.to_string()))?;
        let rendered = super::template::Rendered {
            subject: notice.subject.to_owned(),
            text: notice.text.to_owned(),
            html: None,
        };
        let message_id_domain = self.settings.message_id_domain();
        let composed = compose(&Compose {
            send: SendId(notice.id),
            from,
            from_name: &mailbox.settings.display_name,
            reply_to: mailbox.settings.reply_to.as_ref(),
            to: notice.to,
            to_name: notice.to_name,
            rendered: &rendered,
            language: notice.language,
            identity: &self.settings.sender,
            tracker: &ready.tracker,
            tracking: TrackingOptions {
                open_pixel: false,
                click_links: false,
            },
            feedback_id: &feedback,
            message_id_domain: &message_id_domain,
            in_reply_to: None,
            date: std::time::SystemTime::now(),
        })
        .map_err(|e| NoticeError::Message(e.to_string()))?;
        let email = OutgoingEmail::new(composed, ready.signer.as_ref());
        let accepted = mailbox.transport.send(&email).await.map_err(NoticeError::Send)?;
        Ok(NoticeSent {
            message_id: email.message_id.clone(),
            mailbox: from.as_str().to_owned(),
            reply: accepted.reply,
        })
    }

    /// The tracker, when the keys are configured.
    pub fn tracker(&self) -> Option<&Tracker> {
        self.ready.as_ref().ok().map(|r| &r.tracker)
    }

    /// The settings.
    pub fn settings(&self) -> &SendEmailSettings {
        &self.settings
    }
}

/// A transactional message to a customer ([`SendEmailDeps::send_notice`]).
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// Its row (`customer_notices.id`): names its Message-ID.
    pub id: Uuid,
    /// `welcome`, `past_due` (the `Feedback-ID`'s second field).
    pub kind: &'a str,
    /// The customer.
    pub to: &'a EmailAddress,
    /// The customer's name.
    pub to_name: Option<&'a str>,
    /// For the footer.
    pub language: Language,
    /// One line.
    pub subject: &'a str,
    /// The plain-text body.
    pub text: &'a str,
}

/// A notice the server took.
#[derive(Debug, Clone)]
pub struct NoticeSent {
    /// Its bare Message-ID.
    pub message_id: String,
    /// The mailbox it left from.
    pub mailbox: String,
    /// The server's reply (or the outbox file).
    pub reply: String,
}

/// Why a notice was not sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NoticeError {
    /// send_email cannot send as configured.
    #[error("send_email is not configured: {0}")]
    NotConfigured(String),
    /// The message could not be built.
    #[error("the message could not be written: {0}")]
    Message(String),
    /// The transport failed.
    #[error("the server did not take the message: {0}")]
    Send(SendError),
}

/// Why a send job did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SendEmailError {
    /// The stage cannot send as configured (the job waits).
    #[error("send_email is not configured: {0}")]
    NotConfigured(String),
    /// A row the job names is gone.
    #[error("{0} does not exist")]
    Missing(String),
    /// The lead has no usable address.
    #[error("prospect {prospect_id} has no usable e-mail address ({reason})")]
    NoAddress {
        /// The lead.
        prospect_id: i64,
        /// Why.
        reason: String,
    },
    /// The template is unusable or a value is missing (recorded on the send).
    #[error("the message could not be written: {0}")]
    Render(String),
    /// Nothing may be sent now: a closed window, a spent cap, a gap.
    #[error("waiting until {until}: {reason}")]
    Waiting {
        /// When a send may be possible.
        until: DateTime<Utc>,
        /// Why now is not.
        reason: String,
    },
    /// The send may or may not have left (recorded `unknown`).
    #[error("{0}")]
    OutcomeUnknown(String),
    /// The server refused or failed.
    #[error("sending failed: {0}")]
    Send(#[from] SendError),
    /// The database.
    #[error("database error while sending")]
    Database(#[from] sqlx::Error),
    /// Enqueueing the next step.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
}

impl StageError for SendEmailError {
    fn is_permanent(&self) -> bool {
        match self {
            SendEmailError::Missing(_)
            | SendEmailError::NoAddress { .. }
            | SendEmailError::Render(_)
            | SendEmailError::OutcomeUnknown(_) => true,
            SendEmailError::NotConfigured(_) | SendEmailError::Waiting { .. } => false,
            SendEmailError::Send(e) => e.is_permanent(),
            SendEmailError::Database(e) => !is_transient_db_error(e),
            SendEmailError::Enqueue(e) => e.is_permanent(),
        }
    }

    fn wait(&self) -> Option<Duration> {
        match self {
            SendEmailError::NotConfigured(_) => Some(Duration::from_secs(600)),
            SendEmailError::Waiting { until, .. } => Some(
                (*until - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(1)),
            ),
            _ => None,
        }
    }
}

/// The lead's time zone, from its country, when we know one.
pub fn country_zone(country: &str) -> Option<Tz> {
    let name = match country {
        "LU" => "Europe/Luxembourg",
        "DE" => "Europe/Berlin",
        "FR" => "Europe/Paris",
        "BE" => "Europe/Brussels",
        "NL" => "Europe/Amsterdam",
        "CH" => "Europe/Zurich",
        "AT" => "Europe/Vienna",
        "GB" => "Europe/London",
        "IE" => "Europe/Dublin",
        "ES" => "Europe/Madrid",
        "IT" => "Europe/Rome",
        "PT" => "Europe/Lisbon",
        "US" => "America/New_York",
        "CA" => "America/Toronto",
        _ => return None,
    };
    name.parse().ok()
}

/// The template language tried first for a lead of `country`.
fn country_language(country: Option<&str>) -> Language {
    match country.unwrap_or("") {
        "FR" | "LU" | "BE" => Language::Fr,
        "DE" | "AT" => Language::De,
        _ => Language::En,
    }
}

/// Which mailbox sends now, or until when none can.
enum Pick {
    Now(usize),
    Wait(DateTime<Utc>, String),
}

fn pick_mailbox(
    mailboxes: &[Mailbox],
    rows: &HashMap<String, MailboxRow>,
    now: DateTime<Utc>,
    recipient_tz: Option<Tz>,
    seed: u64,
) -> Pick {
    let mut best: Option<(usize, Option<DateTime<Utc>>)> = None;
    let mut earliest: Option<(DateTime<Utc>, String)> = None;
    for (i, mailbox) in mailboxes.iter().enumerate() {
        let m = &mailbox.settings;
        let key = m.address.as_str().to_ascii_lowercase();
        let row = rows.get(&key);
        if let Some(row) = row.filter(|r| r.paused_at.is_some()) {
            let reason = row.paused_reason.clone().unwrap_or_default();
            let until = now + chrono::Duration::hours(1);
            if earliest.as_ref().is_none_or(|(t, _)| until < *t) {
                earliest = Some((until, format!("mailbox {key} is paused: {reason}")));
            }
            continue;
        }
        let tz = recipient_tz.unwrap_or(m.time_zone);
        let today = now.with_timezone(&m.time_zone).date_naive();
        let sent_today = row.map_or(0, |r| r.sent_on(today));
        let day = row
            .and_then(|r| r.first_send_on)
            .map_or(0, |first| window::warmup_day(first, today));
        let cap = window::daily_cap(m.daily_cap, m.warm_up(), day);
        let candidate = if sent_today >= i64::from(cap) {
            let tomorrow = today.succ_opt().unwrap_or(today);
            let reopening = mailbox.window.opening_on(tomorrow, m.time_zone).max(now);
            (
                mailbox.window.next_open(reopening, tz),
                format!("mailbox {key} sent its {cap} of the day"),
            )
        } else {
            let gap = m.min_gap + window::jitter(seed, m.max_jitter);
            let after_gap = row
                .and_then(|r| r.last_send_at)
                .and_then(|last| last.checked_add_signed(chrono::Duration::from_std(gap).ok()?))
                .map_or(now, |t| t.max(now));
            (
                mailbox.window.next_open(after_gap, tz),
                format!("mailbox {key}: gap since its last send, or outside the recipient's window"),
            )
        };
        if candidate.0 <= now {
            let last = row.and_then(|r| r.last_send_at);
            let better = match &best {
                None => true,
                Some((_, best_last)) => last < *best_last,
            };
            if better {
                best = Some((i, last));
            }
        } else if earliest.as_ref().is_none_or(|(t, _)| candidate.0 < *t) {
            earliest = Some(candidate);
        }
    }
    match (best, earliest) {
        (Some((i, _)), _) => Pick::Now(i),
        (None, Some((until, reason))) => Pick::Wait(until, reason),
        (None, None) => Pick::Wait(now + chrono::Duration::hours(1), "no mailbox".into()),
    }
}

fn flags_of(lead: &Lead) -> Vec<ReasonFlag> {
    lead.reason_flags
        .as_ref()
        .and_then(|v| serde_json::from_value::<Vec<ReasonFlag>>(v.clone()).ok())
        .unwrap_or_default()
}

fn values_for(
    lead: &Lead,
    settings: &SendEmailSettings,
    mailbox: &MailboxSettings,
    urls: &PublicUrls,
    tracker: &Tracker,
    send: SendId,
    language: Language,
) -> Values {
    let mut v = Values::new();
    let mut set = |p: Placeholder, value: Option<String>| {
        if let Some(value) = value.filter(|s| !s.trim().is_empty()) {
            v.set(p, value);
        }
    };
    set(Placeholder::BusinessName, lead.business_name.clone());
    set(Placeholder::Domain, lead.domain_name.clone());
    set(Placeholder::City, lead.city.clone());
    set(Placeholder::Score, lead.score.map(|s| s.to_string()));
    let flags = flags_of(lead);
    let issues = issues_text(&flags, language, settings.issues_max);
    set(Placeholder::Issues, Some(issues));
    set(
        Placeholder::PreviewUrl,
        lead.preview_token.as_deref().map(|t| urls.preview(t)),
    );
    set(Placeholder::ScreenshotUrl, lead.screenshot_url.clone());
    set(
        Placeholder::UnsubscribeUrl,
        Some(tracker.unsubscribe_url(send).to_string()),
    );
    set(Placeholder::SenderName, Some(settings.sender.name.clone()));
    set(Placeholder::SenderCompany, Some(settings.sender.company.clone()));
    set(
        Placeholder::SenderAddress,
        Some(settings.sender.postal_address.clone()),
    );
    set(
        Placeholder::SenderEmail,
        Some(mailbox.address.as_str().to_owned()),
    );
    v
}

impl Handler for SendEmail {
    type Deps = SendEmailDeps;
    type Error = SendEmailError;

    #[tracing::instrument(skip_all, fields(prospect.id = self.prospect_id, campaign.id = self.campaign_id, step = self.step))]
    async fn handle(self, ctx: &JobContext, deps: &SendEmailDeps) -> Result<(), SendEmailError> {
        let ready = deps
            .ready
            .as_ref()
            .map_err(|e| SendEmailError::NotConfigured(e.clone()))?;
        let settings = &*deps.settings;
        let mut tx = ctx.pool.begin().await?;

        // A send recorded for this key ends the job: never twice.
        if let Some((id, status)) = queries::existing_send(&mut tx, &self).await? {
            if status == "sending" {
                queries::mark_unknown(&mut tx, id, self.prospect_id, &ctx.job_id).await?;
                tx.commit().await?;
                tracing::warn!(send.id = %id, "a retry found the send in flight: marked unknown for an operator, not sent again");
            } else {
                tx.commit().await?;
                tracing::info!(send.id = %id, status, "already recorded; nothing to do");
            }
            return Ok(());
        }

        let step = queries::campaign_step(&mut tx, self.campaign_id, self.step)
            .await?
            .ok_or_else(|| {
                SendEmailError::Missing(format!("step {} of campaign {}", self.step, self.campaign_id))
            })?;
        match step.campaign_status.as_str() {
            "active" => {}
            "paused" => {
                return Err(SendEmailError::Waiting {
                    until: Utc::now() + chrono::Duration::minutes(15),
                    reason: format!("campaign {} is paused", self.campaign_id),
                });
            }
            _ => return Ok(()),
        }
        let lead = queries::lead(&mut tx, self.prospect_id)
            .await?
            .ok_or_else(|| SendEmailError::Missing(format!("prospect {}", self.prospect_id)))?;

        let address = lead
            .email
            .as_deref()
            .ok_or_else(|| "none recorded".to_owned())
            .and_then(|e| EmailAddress::parse(e).map_err(|err| err.to_string()))
            .map_err(|reason| SendEmailError::NoAddress {
                prospect_id: self.prospect_id,
                reason,
            })?;

        if let Some(reason) = queries::suppressed(&mut tx, &address).await? {
            queries::record_outcome(&mut tx, &self, "email", "refused", &reason, None).await?;
            tx.commit().await?;
            tracing::info!(reason, "suppressed: not sent");
            return Ok(());
        }

        // The sequence stops when the lead answered, bounced, complained,
        // unsubscribed or bought (or clicked, by setting).
        if let Some(reason) = queries::sequence_stop(&mut tx, &self, settings.stop_on_click).await? {
            queries::record_outcome(&mut tx, &self, "email", "cancelled", &reason, None).await?;
            tx.commit().await?;
            tracing::info!(reason, "sequence stopped");
            return Ok(());
        }

        let consent = if queries::has_consent(&mut tx, self.prospect_id).await? {
            Consent::Recorded
        } else {
            Consent::None
        };
        let country = lead.country.as_deref().and_then(|c| CountryCode::parse(c).ok());
        let lawful_basis: LawfulBasis = match settings.compliance.decide(country, consent) {
            Decision::Send { lawful_basis } => lawful_basis,
            Decision::Route(channel, why) => {
                let reason = format!("routed to {}: {why}", channel.as_str());
                queries::record_outcome(&mut tx, &self, channel.as_str(), "pending", &reason, None).await?;
                tx.commit().await?;
                tracing::info!(reason, "not e-mailed");
                return Ok(());
            }
            Decision::Refuse(why) => {
                let reason = why.to_string();
                queries::record_outcome(&mut tx, &self, "email", "refused", &reason, None).await?;
                tx.commit().await?;
                tracing::info!(reason, "not e-mailed");
                return Ok(());
            }
        };

        let language = country_language(lead.country.as_deref());
        let template_row = queries::template(&mut tx, &step.template_name, language.code())
            .await?
            .ok_or_else(|| SendEmailError::Missing(format!("active template `{}`", step.template_name)))?;
        let language = template_row.language.parse::<Language>().unwrap_or(Language::En);
        let template = match Template::parse(
            &template_row.subject,
            &template_row.body,
            template_row.body_html.as_deref(),
        ) {
            Ok(t) => t,
            Err(e) => {
                let reason = format!("template `{}`: {e}", template_row.name);
                queries::record_outcome(&mut tx, &self, "email", "failed", &reason, Some(template_row.id))
                    .await?;
                tx.commit().await?;
                return Err(SendEmailError::Render(reason));
            }
        };

        // Lock the mailboxes (caps and gaps hold across processes) and pick
        // the one that may send now.
        let addresses: Vec<String> = ready
            .mailboxes
            .iter()
            .map(|m| m.settings.address.as_str().to_ascii_lowercase())
            .collect();
        let now = Utc::now();
        let rows = queries::lock_mailboxes(&mut tx, &addresses, now).await?;
        let recipient_tz = lead.country.as_deref().and_then(country_zone);
        let seed = (self.prospect_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (self.step as u64);
        let index = match pick_mailbox(&ready.mailboxes, &rows, now, recipient_tz, seed) {
            Pick::Now(i) => i,
            Pick::Wait(until, reason) => {
                tx.rollback().await?;
                return Err(SendEmailError::Waiting { until, reason });
            }
        };
        let mailbox = &ready.mailboxes[index];
        let from = &mailbox.settings.address;

        let send = SendId(Uuid::new_v4());
        let values = values_for(
            &lead,
            settings,
            &mailbox.settings,
            &deps.urls,
            &ready.tracker,
            send,
            language,
        );
        let rendered = match template.render(&values) {
            Ok(r) => r,
            Err(e) => {
                let reason = format!("template `{}`: {e}", template_row.name);
                queries::record_outcome(&mut tx, &self, "email", "failed", &reason, Some(template_row.id))
                    .await?;
                tx.commit().await?;
                return Err(SendEmailError::Render(reason));
            }
        };
        let in_reply_to = if self.step > 1 {
            queries::previous_message_id(&mut tx, &self).await?
        } else {
            None
        };
        let feedback = FeedbackId::new(
            &format!("c{}", self.campaign_id),
            &format!("s{}", self.step),
            "outreach",
            &settings.feedback_sender_id,
        )
        .map_err(|e| SendEmailError::Render(e.to_string()))?;
        let message_id_domain = settings.message_id_domain();
        let composed = compose(&Compose {
            send,
            from,
            from_name: &mailbox.settings.display_name,
            reply_to: mailbox.settings.reply_to.as_ref(),
            to: &address,
            to_name: None,
            rendered: &rendered,
            language,
            identity: &settings.sender,
            tracker: &ready.tracker,
            tracking: TrackingOptions {
                open_pixel: settings.tracking.open_pixel,
                click_links: settings.tracking.click_links,
            },
            feedback_id: &feedback,
            message_id_domain: &message_id_domain,
            in_reply_to: in_reply_to.as_deref(),
            date: std::time::SystemTime::now(),
        })
        .map_err(|e| SendEmailError::Render(e.to_string()))?;
        let links = composed.links.clone();
        let email = OutgoingEmail::new(composed, ready.signer.as_ref());

        let claim = queries::Claim {
            id: send.0,
            job: &self,
            template_id: template_row.id,
            site_id: lead.site_id,
            subject: &rendered.subject,
            body: &rendered.text,
            recipient: address.as_str(),
            message_id: &email.message_id,
            mailbox: &addresses[index],
            lawful_basis: lawful_basis.as_str(),
            job_id: &ctx.job_id,
            links: serde_json::to_value(&links).unwrap_or_else(|_| serde_json::json!([])),
            provider: mailbox.transport.name(),
            in_reply_to: in_reply_to.as_deref(),
        };
        if !queries::claim(&mut tx, &claim).await? {
            tx.rollback().await?;
            tracing::info!(
                "another job claimed this send first (or the template was sent to this lead already)"
            );
            return Ok(());
        }
        let today = now.with_timezone(&mailbox.settings.time_zone).date_naive();
        queries::count_send(&mut tx, &addresses[index], today, now).await?;
        tx.commit().await?;

        // The claim is committed: from here a crash leaves it `sending`.
        match mailbox.transport.send(&email).await {
            Ok(accepted) => {
                let mut tx = ctx.pool.begin().await?;
                let sent_at = queries::mark_sent(
                    &mut tx,
                    send.0,
                    self.prospect_id,
                    &accepted.reply,
                    &rendered.subject,
                    self.step,
                )
                .await?;
                if let Some(next) = queries::campaign_step(&mut tx, self.campaign_id, self.step + 1).await? {
                    let tz = recipient_tz.unwrap_or(mailbox.settings.time_zone);
                    let at = window::follow_up_at(
                        sent_at,
                        tz,
                        u32::try_from(next.after_business_days).unwrap_or(1),
                        &mailbox.window,
                    );
                    let job = SendEmail {
                        step: self.step + 1,
                        ..self.clone()
                    };
                    ctx.enqueuer
                        .enqueue_with(
                            &mut tx,
                            &job,
                            EnqueueOptions {
                                run_at: Some(at),
                                ..EnqueueOptions::default()
                            },
                        )
                        .await?;
                }
                tx.commit().await?;
                tracing::info!(send.id = %send, message_id = %email.message_id, mailbox = %addresses[index], "sent");
                Ok(())
            }
            Err(error) => {
                let mut tx = ctx.pool.begin().await?;
                if error.pauses_mailbox() {
                    queries::pause_mailbox(&mut tx, &addresses[index], &error.to_string()).await?;
                }
                // A connection lost mid-session may have lost the server's
                // answer to a message it took: not re-sent.
                let unsent = error.kind != SendErrorKind::Connection
                    || error.message.starts_with("cannot connect to")
                    || error.message.starts_with("connecting to");
                if error.is_permanent() {
                    queries::mark_failed(&mut tx, send.0, &error.to_string()).await?;
                } else if unsent {
                    // The server said it did not take the message: the
                    // retry may claim again.
                    queries::release_claim(&mut tx, send.0, &addresses[index], today).await?;
                } else {
                    let reason = format!(
                        "outcome unknown: the connection failed during the send ({error}); not sent again, an operator must check the mailbox"
                    );
                    queries::mark_unknown_with(&mut tx, send.0, self.prospect_id, &reason).await?;
                    tx.commit().await?;
                    return Err(SendEmailError::OutcomeUnknown(reason));
                }
                tx.commit().await?;
                Err(SendEmailError::Send(error))
            }
        }
    }
}
