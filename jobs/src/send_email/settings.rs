//! The stage's settings (`[send_email]` in the configuration): read with
//! serde (unknown keys refused, durations as `90s`/`3m`), then
//! [`SendEmailSettings::validate`]d once at startup, with the key of a bad
//! value in the message. Secrets are never in the file: a password or the
//! tracking keys are named by the environment variable that holds them
//! (`password_env`, `key_env`) and read by the `*_config` methods.

use std::{collections::HashSet, path::PathBuf, time::Duration};

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use url::Url;

use super::{
    compliance::{ComplianceProfiles, default_profiles},
    dkim::DkimSigner,
    imap::ImapConfig,
    message::{FeedbackId, SenderIdentity},
    smtp::{Security, SmtpConfig, is_loopback_host},
    tracking::{KeyRing, Tracker},
    window::{Pacing, SendWindow, WarmUp},
};
use crate::domain::{Domain, EmailAddress};

/// A bad setting: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("send_email.{key}: {message}")]
pub struct SettingsError {
    /// The key, dotted (`mailboxes[0].smtp.port`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> SettingsError {
    SettingsError {
        key: key.into(),
        message: message.into(),
    }
}

fn deserialize_tz<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.trim().parse::<Tz>().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{name}` is not an IANA time zone (like Europe/Luxembourg)"
        ))
    })
}

fn deserialize_time<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
    let text = String::deserialize(d)?;
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text.trim(), "%H:%M:%S"))
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a time of day like 09:00")))
}

fn utc() -> Tz {
    Tz::UTC
}

/// The whole `[send_email]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEmailSettings {
    /// The mailboxes that send (each with its own caps and pacing).
    #[serde(default)]
    pub mailboxes: Vec<MailboxSettings>,
    /// DKIM signing; without it messages go unsigned (only acceptable for
    /// the demo: RFC 8058 one-click needs a signature).
    #[serde(default)]
    pub dkim: Option<DkimSettings>,
    /// Tracking URLs and keys.
    pub tracking: TrackingSettings,
    /// The domain of the VERP (`b+…@`) and `mailto:` unsubscribe
    /// addresses; its mail must reach an IMAP mailbox we read.
    pub bounce_domain: String,
    /// The domain in our `Message-ID`s (default: the first mailbox's).
    #[serde(default)]
    pub message_id_domain: Option<String>,
    /// Who signs and the postal address in every footer.
    pub sender: SenderIdentity,
    /// The SenderId field of `Feedback-ID` (5-15 characters).
    #[serde(default = "default_feedback_sender")]
    pub feedback_sender_id: String,
    /// Rules per recipient country (default: [`default_profiles`]).
    #[serde(default = "default_profiles")]
    pub compliance: ComplianceProfiles,
    /// Stop a sequence when a (human) click is recorded.
    #[serde(default)]
    pub stop_on_click: bool,
    /// Stop a sequence on an auto-reply too (default: only log it).
    #[serde(default)]
    pub stop_on_auto_reply: bool,
    /// Follow-ups after the first message, in order.
    #[serde(default)]
    pub follow_ups: Vec<FollowUpStep>,
    /// Lines in `{issues}`.
    #[serde(default = "default_issues_max")]
    pub issues_max: usize,
    /// SMTP or the local outbox.
    #[serde(default)]
    pub transport: TransportSettings,
    /// The values of the environment variables these settings name
    /// (`password_env`, `key_env`), captured when the configuration is
    /// checked; never read from the file.
    #[serde(skip)]
    pub secrets: Secrets,
}

/// Environment variables captured for the settings (values never shown).
#[derive(Clone, Default)]
pub struct Secrets(std::collections::HashMap<String, String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_set().entries(names).finish()
    }
}

impl Secrets {
    /// Set one variable (tests, the demo).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    /// Capture the variables `settings` names from `env`.
    pub fn capture(settings: &SendEmailSettings, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut names = vec![settings.tracking.key_env.clone()];
        for mailbox in &settings.mailboxes {
            for server in std::iter::once(&mailbox.smtp).chain(mailbox.imap.as_ref()) {
                if let Some(var) = &server.password_env {
                    names.push(var.clone());
                }
            }
        }
        Self(
            names
                .into_iter()
                .filter_map(|name| env(&name).map(|value| (name, value)))
                .collect(),
        )
    }
}

fn default_feedback_sender() -> String {
    "prospector".to_owned()
}

fn default_issues_max() -> usize {
    3
}

/// Where messages go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportSettings {
    /// `smtp` (each mailbox's server) or `outbox` (files, for the demo).
    #[serde(default)]
    pub kind: TransportKind,
    /// The directory of the outbox.
    #[serde(default)]
    pub outbox_dir: Option<PathBuf>,
}

/// The transport kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// Each mailbox's SMTP server.
    #[default]
    Smtp,
    /// `.eml` files in `outbox_dir`.
    Outbox,
}

/// One sending mailbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSettings {
    /// The `From` address.
    pub address: EmailAddress,
    /// The `From` name.
    pub display_name: String,
    /// Where replies go, when not `address`.
    #[serde(default)]
    pub reply_to: Option<EmailAddress>,
    /// Its SMTP server.
    pub smtp: ServerSettings,
    /// Its IMAP server (replies, bounces), if read.
    #[serde(default)]
    pub imap: Option<ServerSettings>,
    /// The most messages a day once warmed up.
    #[serde(default = "default_daily_cap")]
    pub daily_cap: u32,
    /// The least time between two sends.
    #[serde(default = "default_min_gap", with = "humantime_serde")]
    pub min_gap: Duration,
    /// Up to this much more, at random (seeded per send).
    #[serde(default = "default_max_jitter", with = "humantime_serde")]
    pub max_jitter: Duration,
    /// The warm-up ramp of a new mailbox.
    #[serde(default)]
    pub warmup: Option<WarmUpSettings>,
    /// Sending hours in the recipient's zone.
    #[serde(default)]
    pub window: WindowSettings,
    /// The zone used when the recipient's is unknown.
    #[serde(default = "utc", deserialize_with = "deserialize_tz")]
    pub time_zone: Tz,
}

fn default_daily_cap() -> u32 {
    40
}

fn default_min_gap() -> Duration {
    Duration::from_secs(180)
}

fn default_max_jitter() -> Duration {
    Duration::from_secs(90)
}

/// A warm-up ramp.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmUpSettings {
    /// Messages on day 0.
    pub start: u32,
    /// Growth per day (1.0–3.0).
    pub growth: f64,
}

/// Sending hours.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSettings {
    /// Opening, `HH:MM`.
    #[serde(deserialize_with = "deserialize_time")]
    pub start: NaiveTime,
    /// Closing, `HH:MM`.
    #[serde(deserialize_with = "deserialize_time")]
    pub end: NaiveTime,
    /// Allowed days (`mon` … `sun`).
    pub days: Vec<Weekday>,
}

impl Default for WindowSettings {
    fn default() -> Self {
        let window = SendWindow::default();
        Self {
            start: window.start(),
            end: window.end(),
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
        }
    }
}

/// An SMTP or IMAP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Host name.
    pub host: String,
    /// Port (default: by protocol and security).
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls`, `tls` or `plain` (loopback only). Default: `starttls`
    /// for SMTP, `tls` for IMAP.
    #[serde(default)]
    pub security: Option<Security>,
    /// Login name.
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Per-operation timeout.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// SMTP connections used at once.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// Extra trusted root certificates (PEM file).
    #[serde(default)]
    pub extra_root_certificates: Option<PathBuf>,
    /// IMAP only: the folder read.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// IMAP only: where processed messages are moved (else only marked
    /// seen).
    #[serde(default)]
    pub processed_folder: Option<String>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_pool_size() -> u32 {
    2
}

fn default_folder() -> String {
    "INBOX".to_owned()
}

/// DKIM key and names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The selector (`s=`).
    pub selector: String,
    /// The signing domain (`d=`); default: the first mailbox's domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// The PEM private key.
    pub key_path: PathBuf,
}

/// Tracking.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingSettings {
    /// The tracking (sub)domain's base URL, `https://`.
    pub base_url: Url,
    /// The environment variable with the keys (base64url, comma
    /// separated, the signing one first).
    pub key_env: String,
    /// The open pixel (off: opens are weak evidence and hurt cold
    /// e-mail deliverability).
    #[serde(default)]
    pub open_pixel: bool,
    /// Click tracking.
    #[serde(default = "yes")]
    pub click_links: bool,
    /// Hits sooner than this after delivery are a machine's.
    #[serde(default = "default_human_delay", with = "humantime_serde")]
    pub min_human_delay: Duration,
}

fn yes() -> bool {
    true
}

fn default_human_delay() -> Duration {
    Duration::from_secs(10)
}

/// One follow-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpStep {
    /// The template's name (`campaign_templates.name`).
    pub template: String,
    /// Business days after the previous message.
    pub after_business_days: u32,
}

fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

fn secret(key: &str, var: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<SecretString, SettingsError> {
    match env(var) {
        Some(value) if !value.is_empty() => Ok(SecretString::from(value)),
        _ => Err(bad(key, format!("the environment variable {var} is not set"))),
    }
}

impl ServerSettings {
    fn security_or(&self, default: Security) -> Security {
        self.security.unwrap_or(default)
    }

    fn validate(&self, key: &str, default: Security) -> Result<(), SettingsError> {
        if self.host.trim().is_empty() {
            return Err(bad(format!("{key}.host"), "is empty"));
        }
        if self.security_or(default) == Security::Plain && !is_loopback_host(&self.host) {
            return Err(bad(
                format!("{key}.security"),
                format!("`plain` is only allowed to a loopback host, not `{}`", self.host),
            ));
        }
        if self.port == Some(0) {
            return Err(bad(format!("{key}.port"), "must be 1-65535"));
        }
        if self.timeout < Duration::from_secs(1) || self.timeout > Duration::from_secs(600) {
            return Err(bad(format!("{key}.timeout"), "must be between 1s and 10m"));
        }
        if !(1..=32).contains(&self.pool_size) {
            return Err(bad(format!("{key}.pool_size"), "must be 1-32"));
        }
        match (&self.username, &self.password_env) {
            (None, Some(_)) => return Err(bad(format!("{key}.username"), "is needed with password_env")),
            (Some(_), None) => return Err(bad(format!("{key}.password_env"), "is needed with username")),
            (_, Some(var)) if !valid_env_name(var) => {
                return Err(bad(
                    format!("{key}.password_env"),
                    format!("`{var}` is not an environment variable name (A-Z, 0-9, _)"),
                ));
            }
            _ => {}
        }
        if self.folder.trim().is_empty() {
            return Err(bad(format!("{key}.folder"), "is empty"));
        }
        Ok(())
    }

    fn credentials(
        &self,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<(String, SecretString)>, SettingsError> {
        match (&self.username, &self.password_env) {
            (Some(user), Some(var)) => Ok(Some((
                user.clone(),
                secret(&format!("{key}.password_env"), var, env)?,
            ))),
            _ => Ok(None),
        }
    }
}

impl MailboxSettings {
    fn validate(&self, key: &str) -> Result<(), SettingsError> {
        if self.display_name.trim().is_empty() {
            return Err(bad(format!("{key}.display_name"), "is empty"));
        }
        self.smtp.validate(&format!("{key}.smtp"), Security::Starttls)?;
        if let Some(imap) = &self.imap {
            imap.validate(&format!("{key}.imap"), Security::Tls)?;
        }
        if self.daily_cap == 0 || self.daily_cap > 10_000 {
            return Err(bad(format!("{key}.daily_cap"), "must be 1-10000"));
        }
        if self.min_gap > Duration::from_secs(6 * 3600) {
            return Err(bad(format!("{key}.min_gap"), "must be at most 6h"));
        }
        if self.max_jitter > Duration::from_secs(3600) {
            return Err(bad(format!("{key}.max_jitter"), "must be at most 1h"));
        }
        if let Some(w) = &self.warmup {
            if w.start == 0 {
                return Err(bad(format!("{key}.warmup.start"), "must be at least 1"));
            }
            if !(1.0..=3.0).contains(&w.growth) {
                return Err(bad(format!("{key}.warmup.growth"), "must be between 1.0 and 3.0"));
            }
        }
        self.send_window()
            .map_err(|e| bad(format!("{key}.window"), e.to_string()))?;
        Ok(())
    }

    /// The sending hours.
    pub fn send_window(&self) -> Result<SendWindow, super::window::WindowError> {
        SendWindow::new(self.window.start, self.window.end, &self.window.days)
    }

    /// Gap and jitter.
    pub fn pacing(&self) -> Pacing {
        Pacing {
            min_gap: self.min_gap,
            max_jitter: self.max_jitter,
        }
    }

    /// The warm-up ramp.
    pub fn warm_up(&self) -> Option<WarmUp> {
        self.warmup.map(|w| WarmUp {
            start: w.start,
            growth: w.growth,
        })
    }

    /// The SMTP connection, with the password from `env` (the key in an
    /// error is relative to this mailbox: `smtp.password_env`).
    pub fn smtp_config(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<SmtpConfig, SettingsError> {
        let security = self.smtp.security_or(Security::Starttls);
        Ok(SmtpConfig {
            host: self.smtp.host.clone(),
            port: self.smtp.port.unwrap_or(security.default_smtp_port()),
            security,
            credentials: self.smtp.credentials("smtp", env)?,
            timeout: self.smtp.timeout,
            pool_size: self.smtp.pool_size,
            hello_name: Some(self.address.domain().to_owned()),
            extra_root_certificates: self.smtp.extra_root_certificates.clone(),
        })
    }

    /// The IMAP connection, if one is configured.
    pub fn imap_config(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<ImapConfig>, SettingsError> {
        let Some(imap) = &self.imap else {
            return Ok(None);
        };
        let security = imap.security_or(Security::Tls);
        let Some((username, password)) = imap.credentials("imap", env)? else {
            return Err(bad("imap.username", "IMAP needs a username and password_env"));
        };
        Ok(Some(ImapConfig {
            host: imap.host.clone(),
            port: imap
                .port
                .unwrap_or(if security == Security::Tls { 993 } else { 143 }),
            security,
            username,
            password,
            folder: imap.folder.clone(),
            processed_folder: imap.processed_folder.clone(),
            timeout: imap.timeout,
            extra_root_certificates: imap.extra_root_certificates.clone(),
        }))
    }
}

impl SendEmailSettings {
    /// Check every value; the first bad one is reported with its key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut seen = HashSet::new();
        for (i, mailbox) in self.mailboxes.iter().enumerate() {
            let key = format!("mailboxes[{i}]");
            if !seen.insert(mailbox.address.as_str().to_ascii_lowercase()) {
                return Err(bad(format!("{key}.address"), "is listed twice"));
            }
            mailbox.validate(&key)?;
        }
        if self.transport.kind == TransportKind::Smtp && self.mailboxes.is_empty() {
            return Err(bad(
                "mailboxes",
                "at least one mailbox is needed to send over SMTP",
            ));
        }
        if self.transport.kind == TransportKind::Outbox && self.transport.outbox_dir.is_none() {
            return Err(bad("transport.outbox_dir", "is needed with kind = \"outbox\""));
        }
        Domain::parse(&self.bounce_domain).map_err(|e| bad("bounce_domain", e.to_string()))?;
        if let Some(domain) = &self.message_id_domain {
            Domain::parse(domain).map_err(|e| bad("message_id_domain", e.to_string()))?;
        }
        if let Some(dkim) = &self.dkim {
            if dkim.selector.trim().is_empty() {
                return Err(bad("dkim.selector", "is empty"));
            }
            if self.dkim_domain().is_none() {
                return Err(bad("dkim.domain", "is needed when no mailbox is configured"));
            }
        }
        let t = &self.tracking;
        let loopback = t.base_url.host_str().is_some_and(is_loopback_host);
        if !(t.base_url.scheme() == "https" || (t.base_url.scheme() == "http" && loopback))
            || t.base_url.query().is_some()
        {
            return Err(bad(
                "tracking.base_url",
                "must be an https:// URL without a query (http:// only on loopback)",
            ));
        }
        if !valid_env_name(&t.key_env) {
            return Err(bad(
                "tracking.key_env",
                format!(
                    "`{}` is not an environment variable name (A-Z, 0-9, _)",
                    t.key_env
                ),
            ));
        }
        if t.min_human_delay > Duration::from_secs(600) {
            return Err(bad("tracking.min_human_delay", "must be at most 10m"));
        }
        for (field, value) in [
            ("sender.name", &self.sender.name),
            ("sender.company", &self.sender.company),
            ("sender.postal_address", &self.sender.postal_address),
        ] {
            if value.trim().is_empty() {
                return Err(bad(field, "is empty (every message must identify its sender)"));
            }
        }
        FeedbackId::new("c", "s", "t", &self.feedback_sender_id)
            .map_err(|e| bad("feedback_sender_id", e.to_string()))?;
        if !(1..=10).contains(&self.issues_max) {
            return Err(bad("issues_max", "must be 1-10"));
        }
        for (i, step) in self.follow_ups.iter().enumerate() {
            if step.template.trim().is_empty() {
                return Err(bad(format!("follow_ups[{i}].template"), "is empty"));
            }
            if !(1..=60).contains(&step.after_business_days) {
                return Err(bad(
                    format!("follow_ups[{i}].after_business_days"),
                    "must be 1-60",
                ));
            }
        }
        Ok(())
    }

    fn first_mailbox_domain(&self) -> Option<String> {
        self.mailboxes.first().map(|m| m.address.domain().to_owned())
    }

    fn dkim_domain(&self) -> Option<String> {
        self.dkim
            .as_ref()
            .and_then(|d| d.domain.clone())
            .or_else(|| self.first_mailbox_domain())
    }

    /// The `Message-ID` domain.
    pub fn message_id_domain(&self) -> String {
        self.message_id_domain
            .clone()
            .or_else(|| self.first_mailbox_domain())
            .unwrap_or_else(|| self.bounce_domain.clone())
    }

    /// The tracker, with the keys from `env`.
    pub fn tracker(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Tracker, SettingsError> {
        let keys = env(&self.tracking.key_env).ok_or_else(|| {
            bad(
                "tracking.key_env",
                format!("the environment variable {} is not set", self.tracking.key_env),
            )
        })?;
        let ring = KeyRing::from_config(&keys)
            .map_err(|e| bad("tracking.key_env", format!("{}: {e}", self.tracking.key_env)))?;
        Tracker::new(self.tracking.base_url.clone(), self.bounce_domain.clone(), ring)
            .map_err(|e| bad("tracking.base_url", e.to_string()))
    }

    /// The DKIM signer, if configured (reads the key file).
    pub fn dkim_signer(&self) -> Result<Option<DkimSigner>, SettingsError> {
        let Some(dkim) = &self.dkim else {
            return Ok(None);
        };
        let domain = self
            .dkim_domain()
            .ok_or_else(|| bad("dkim.domain", "is needed when no mailbox is configured"))?;
        DkimSigner::from_file(&dkim.selector, &domain, &dkim.key_path)
            .map(Some)
            .map_err(|e| bad("dkim.key_path", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        bounce_domain = "bounce.agency.example"
        #TOP#
        [tracking]
        base_url = "https://t.agency.example/"
        key_env = "PROSPECTOR_TRACKING_KEYS"
        [sender]
        name = "Jane Doe"
        company = "Doe Web Studio"
        postal_address = "1 Main St\nSpringfield"
        [[mailboxes]]
        address = "jane@agency.example"
        display_name = "Jane Doe"
        #MAILBOX#
        [mailboxes.smtp]
        host = "smtp.agency.example"
        username = "jane"
        password_env = "PROSPECTOR_SMTP_PASSWORD"
    "#;

    /// MINIMAL with top-level and mailbox keys added where they belong.
    fn with(top: &str, mailbox: &str) -> String {
        MINIMAL.replace("#TOP#", top).replace("#MAILBOX#", mailbox)
    }

    fn parse(text: &str) -> SendEmailSettings {
        toml::from_str(text).unwrap()
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "PROSPECTOR_SMTP_PASSWORD" => Some("hunter2".into()),
            "PROSPECTOR_TRACKING_KEYS" => Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
            _ => None,
        }
    }

    #[test]
    fn minimal_settings_get_sensible_defaults() {
        let s = parse(&with("", ""));
        s.validate().unwrap();
        let m = &s.mailboxes[0];
        assert_eq!(m.daily_cap, 40);
        assert_eq!(m.min_gap, Duration::from_secs(180));
        assert_eq!(m.time_zone, Tz::UTC);
        assert_eq!(m.send_window().unwrap(), SendWindow::default());
        assert!(!s.tracking.open_pixel && s.tracking.click_links);
        assert_eq!(s.issues_max, 3);
        assert_eq!(s.message_id_domain(), "agency.example");
        assert_eq!(s.transport.kind, TransportKind::Smtp);
        let smtp = m.smtp_config(&env).unwrap();
        assert_eq!((smtp.port, smtp.security), (587, Security::Starttls));
        assert!(smtp.credentials.is_some());
        assert!(s.tracker(&env).is_ok());
        assert!(matches!(
            s.compliance.decide(
                crate::domain::CountryCode::parse("LU").ok(),
                super::super::compliance::Consent::None
            ),
            super::super::compliance::Decision::Route(..)
        ));
    }

    #[test]
    fn full_settings_parse() {
        let s = parse(&with(
            "stop_on_click = true\nfollow_ups = [{ template = \"bump\", after_business_days = 3 }]",
            r#"
            daily_cap = 120
            min_gap = "90s"
            max_jitter = "2m"
            time_zone = "Europe/Luxembourg"
            warmup = { start = 5, growth = 1.3 }
            window = { start = "08:30", end = "16:00", days = ["mon", "tue", "wed"] }
            imap = { host = "imap.agency.example", username = "jane", password_env = "PROSPECTOR_SMTP_PASSWORD", processed_folder = "Processed" }
            "#,
        ));
        s.validate().unwrap();
        assert!(s.stop_on_click);
        assert_eq!(s.follow_ups[0].after_business_days, 3);
        let m = &s.mailboxes[0];
        assert_eq!(m.max_jitter, Duration::from_secs(120));
        assert_eq!(m.time_zone, chrono_tz::Europe::Luxembourg);
        assert!(m.send_window().unwrap().allows(Weekday::Wed));
        assert!(!m.send_window().unwrap().allows(Weekday::Thu));
        let imap = m.imap_config(&env).unwrap().unwrap();
        assert_eq!((imap.port, imap.security), (993, Security::Tls));
        assert_eq!(imap.processed_folder.as_deref(), Some("Processed"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("zero cap", "daily_cap = 0", "mailboxes[0].daily_cap"),
            (
                "growth",
                "warmup = { start = 5, growth = 9.0 }",
                "mailboxes[0].warmup.growth",
            ),
            (
                "window",
                "window = { start = \"17:00\", end = \"09:00\", days = [\"mon\"] }",
                "mailboxes[0].window",
            ),
            (
                "no days",
                "window = { start = \"09:00\", end = \"17:00\", days = [] }",
                "mailboxes[0].window",
            ),
        ];
        for (name, extra, key) in cases {
            let s = parse(&with("", extra));
            let err = s.validate().unwrap_err();
            assert_eq!(err.key, *key, "{name}: {err}");
        }
        let replace_cases: &[(&str, &str, &str, &str)] = &[
            (
                "plain to a remote host",
                "username = \"jane\"",
                "security = \"plain\"\nusername = \"jane\"",
                "mailboxes[0].smtp.security",
            ),
            (
                "bad env name",
                "password_env = \"PROSPECTOR_SMTP_PASSWORD\"",
                "password_env = \"lower-case\"",
                "mailboxes[0].smtp.password_env",
            ),
            (
                "http tracking",
                "https://t.agency.example/",
                "http://t.agency.example/",
                "tracking.base_url",
            ),
            (
                "bad bounce domain",
                "bounce.agency.example",
                "not a domain",
                "bounce_domain",
            ),
            (
                "empty address",
                "postal_address = \"1 Main St\\nSpringfield\"",
                "postal_address = \" \"",
                "sender.postal_address",
            ),
        ];
        for (name, from, to, key) in replace_cases {
            let text = with("", "").replace(from, to);
            assert_ne!(text, with("", ""), "{name}");
            let err = parse(&text).validate().unwrap_err();
            assert_eq!(err.key, *key, "{name}: {err}");
            assert!(
                err.to_string().starts_with(&format!("send_email.{key}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_types_are_refused_when_read() {
        for (name, text) in [
            ("unknown top-level key", with("send_rate = 5", "")),
            (
                "unknown mailbox key",
                with("", "").replace("display_name", "dispaly_name"),
            ),
            ("bad zone", with("", "time_zone = \"Mars/Olympus\"")),
            ("bad duration", with("", "min_gap = \"soon\"")),
            (
                "bad time",
                with(
                    "",
                    "window = { start = \"9am\", end = \"17:00\", days = [\"mon\"] }",
                ),
            ),
            (
                "bad day",
                with(
                    "",
                    "window = { start = \"09:00\", end = \"17:00\", days = [\"someday\"] }",
                ),
            ),
        ] {
            assert!(toml::from_str::<SendEmailSettings>(&with("", "")).is_ok());
            assert!(toml::from_str::<SendEmailSettings>(&text).is_err(), "{name}");
        }
    }

    #[test]
    fn secrets_come_from_the_environment() {
        let s = parse(&with("", ""));
        let none = |_: &str| None;
        let err = s.mailboxes[0].smtp_config(&none).unwrap_err();
        assert_eq!(
            err.to_string(),
            "send_email.smtp.password_env: the environment variable PROSPECTOR_SMTP_PASSWORD is not set"
        );
        let err = s.tracker(&none).unwrap_err();
        assert_eq!(err.key, "tracking.key_env");
        let short = |_: &str| Some("c2hvcnQ".to_owned());
        assert!(
            s.tracker(&short)
                .unwrap_err()
                .message
                .contains("at least 32 bytes")
        );
        // Debug output never shows a password.
        let config = s.mailboxes[0].smtp_config(&env).unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn the_outbox_needs_a_directory() {
        let s = parse(&with("transport = { kind = \"outbox\" }", ""));
        assert_eq!(s.validate().unwrap_err().key, "transport.outbox_dir");
        let s = parse(&with(
            "transport = { kind = \"outbox\", outbox_dir = \"/tmp/outbox\" }",
            "",
        ));
        s.validate().unwrap();
    }
}
