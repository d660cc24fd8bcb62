//! What an inbound message is: a reply, a bounce, a complaint, an
//! auto-reply, an unsubscribe request by mail, or something else, and which
//! send it points back to.
//!
//! Checked in this order (the first match wins):
//! 1. ARF complaint (RFC 5965 `multipart/report; report-type=feedback-report`),
//!    parsed with `mail-auth`. Any complaint means a permanent suppression.
//! 2. DSN (RFC 3464 `message/delivery-status`, also `global-delivery-status`):
//!    one recipient block with `Action: failed` or `delayed` makes a
//!    [`Bounce`]; a report of successful delivery only is [`Inbound::Other`].
//!    Classes (NOTES-round2 §2.4): `delayed` or `4.x.x` is soft, `5.7.x`
//!    (policy, reputation, DMARC) is a block that says nothing about the
//!    mailbox, other `5.x.x` is hard. A generic status (`5.0.0`, as Exim
//!    writes) is refined by the enhanced code in `Diagnostic-Code`.
//! 3. A mail to our `unsub+<token>@` address (RFC 8058's `mailto:`).
//! 4. A bounce without a DSN (qmail, old Exim): from `MAILER-DAEMON` or
//!    `postmaster`, or with `X-Failed-Recipients`; the status comes from the
//!    text.
//! 5. Auto-reply (RFC 3834): `Auto-Submitted` other than `no`,
//!    `X-Autoreply`, `X-Autorespond`, `Precedence: auto_reply|bulk|junk`,
//!    or an out-of-office subject in en/fr/de.
//! 6. Reply: `In-Reply-To`/`References`, or a mail to our VERP address.
//!
//! Every result carries a [`Correlation`]: the verified token of our
//! address it came to (the VERP `b+…`, `unsub+…`, or an ARF's
//! `Original-Mail-From`) and the bare Message-IDs it cites (references, the
//! returned original's `Message-ID`). Nothing here panics on any input;
//! bytes that do not parse as a message are [`Inbound::Other`].

use std::sync::LazyLock;

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::tracking::{Token, Tracker};

/// An RFC 3463 enhanced status code (`5.1.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatusCode {
    /// 2 (success), 4 (persistent transient) or 5 (permanent).
    pub class: u8,
    /// The subject (1 addressing, 2 mailbox, 4 network, 7 security/policy…).
    pub subject: u16,
    /// The detail.
    pub detail: u16,
}

impl StatusCode {
    /// Parse `5.1.1` (surrounding text and a trailing comment are ignored).
    pub fn parse(text: &str) -> Option<Self> {
        let token = text.split_whitespace().next()?;
        let mut parts = token.split('.');
        let class: u8 = parts.next()?.parse().ok()?;
        let subject: u16 = parts.next()?.parse().ok()?;
        let detail: u16 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !matches!(class, 2 | 4 | 5) || subject > 999 || detail > 999 {
            return None;
        }
        Some(Self {
            class,
            subject,
            detail,
        })
    }

    /// The first enhanced code found anywhere in `text`.
    pub fn find(text: &str) -> Option<Self> {
        static CODE: LazyLock<Option<Regex>> =
            LazyLock::new(|| Regex::new(r"(?:^|[^\d.])([245]\.\d{1,3}\.\d{1,3})(?:[^\d.]|$)").ok());
        let code = CODE.as_ref()?;
        code.captures_iter(text)
            .filter_map(|c| c.get(1))
            .find_map(|m| Self::parse(m.as_str()))
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A DSN's `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DsnAction {
    /// Not delivered, given up.
    Failed,
    /// Not delivered yet, still trying.
    Delayed,
    /// Delivered (a positive DSN).
    Delivered,
    /// Relayed to a system that sends no DSNs.
    Relayed,
    /// Delivered to a list that expanded it.
    Expanded,
}

impl DsnAction {
    fn parse(value: &str) -> Option<Self> {
        match value.split_whitespace().next()?.to_ascii_lowercase().as_str() {
            "failed" => Some(DsnAction::Failed),
            "delayed" => Some(DsnAction::Delayed),
            "delivered" => Some(DsnAction::Delivered),
            "relayed" => Some(DsnAction::Relayed),
            "expanded" => Some(DsnAction::Expanded),
            _ => None,
        }
    }
}

/// What a bounce says about the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceClass {
    /// The address does not work: suppress it.
    Hard,
    /// Temporary (full, timed out, delayed): count, retry later.
    Soft,
    /// Refused for policy or reputation (5.7.x): the address may be fine;
    /// pause the sending mailbox instead.
    Block,
}

/// Where a bounce's details came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceSource {
    /// An RFC 3464 delivery-status part.
    Dsn,
    /// The text of a non-standard bounce.
    Text,
}

/// A failed or delayed delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounce {
    /// The address that failed (`Final-Recipient`, lower-cased).
    pub recipient: Option<String>,
    /// The effective status code.
    pub status: Option<StatusCode>,
    /// The DSN action (inferred from the class for text bounces).
    pub action: DsnAction,
    /// Hard, soft or block.
    pub class: BounceClass,
    /// The remote server's words (`Diagnostic-Code`), at most 1000
    /// characters.
    pub diagnostic: Option<String>,
    /// The MTA that reported it.
    pub reporting_mta: Option<String>,
    /// DSN or text.
    pub source: BounceSource,
}

/// A spam complaint (feedback loop report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    /// `abuse`, `fraud`, `virus`, `other`, `not-spam` or `auth-failure`.
    pub feedback_type: String,
    /// `Original-Rcpt-To`: who complained (lower-cased).
    pub recipient: Option<String>,
    /// The reporter's `User-Agent`.
    pub user_agent: Option<String>,
    /// `Reported-Domain` values.
    pub reported_domains: Vec<String>,
}

/// Why a message counts as an auto-reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoReplySignal {
    /// `Auto-Submitted` with this value (RFC 3834).
    AutoSubmitted(String),
    /// `X-Autoreply` or `X-Autorespond` present.
    XAutoreply,
    /// `Precedence` with this value.
    Precedence(String),
    /// An out-of-office subject.
    Subject,
}

/// A reply: the references it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Bare `In-Reply-To` id.
    pub in_reply_to: Option<String>,
    /// Bare `References` ids, oldest first.
    pub references: Vec<String>,
    /// Our VERP token, when the reply went to the envelope sender.
    pub token: Option<Token>,
}

/// What an inbound message is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inbound {
    /// A person answered.
    Reply(Reply),
    /// A delivery failed or is delayed.
    Bounce(Bounce),
    /// The recipient reported the message as spam.
    Complaint(Complaint),
    /// An out-of-office or other automatic answer: log it, do not stop the
    /// sequence (unless configured).
    AutoReply {
        /// What gave it away.
        signal: AutoReplySignal,
    },
    /// A mail to the `mailto:` of `List-Unsubscribe`.
    Unsubscribe,
    /// Anything else, including bytes that are no message.
    Other,
}

/// What points back at a send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correlation {
    /// The verified token of our address the message came to or names.
    pub token: Option<Token>,
    /// Bare Message-IDs cited (`In-Reply-To`, `References`, the returned
    /// original's), without duplicates, in that order.
    pub message_ids: Vec<String>,
}

impl Correlation {
    /// The cited ids under `domain` (ours), for matching `campaigns.message_id`.
    pub fn message_ids_under<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.message_ids.iter().map(String::as_str).filter(move |id| {
            id.rsplit_once('@')
                .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
        })
    }

    fn add_id(&mut self, id: &str) {
        let id = bare_id(id);
        if !id.is_empty() && id.len() <= 255 && !self.message_ids.iter().any(|m| m == id) {
            self.message_ids.push(id.to_owned());
        }
    }
}

/// A classified inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    /// What it is.
    pub kind: Inbound,
    /// What send it points to.
    pub correlation: Correlation,
    /// The `From` address (lower-cased), for matching by recipient.
    pub from: Option<String>,
    /// The subject, at most 200 characters.
    pub subject: Option<String>,
}

fn bare_id(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim()
}

fn cut(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(max).collect()
}

fn header_texts(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    }
}

/// Addresses a message was delivered to: To, Cc and the envelope headers
/// delivery agents add.
fn recipient_addresses(message: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for address in message.all_to().chain(message.all_cc()) {
        out.extend(address.iter().filter_map(|a| a.address()).map(str::to_owned));
    }
    for (name, value) in message.headers_raw() {
        if ["delivered-to", "x-original-to", "envelope-to", "x-envelope-to"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            out.extend(value.split(',').map(|v| v.trim().to_owned()));
        }
    }
    out
}

fn token_in(addresses: &[String], tracker: &Tracker) -> Option<Token> {
    addresses.iter().find_map(|a| tracker.token_of_address(a))
}

/// The text of a part, whatever mail-parser made of it.
fn part_text(raw: &[u8], part: &mail_parser::MessagePart<'_>) -> String {
    match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.to_string(),
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).into_owned(),
        PartType::Message(_) | PartType::Multipart(_) => raw
            .get(part.offset_body as usize..part.offset_end as usize)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
    }
}

/// `Name: value` blocks separated by blank lines, with folded lines joined.
/// Names are lower-cased.
fn field_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        if blocks.len() > 1000 {
            break;
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// `rfc822; jane@shop.gt` → `jane@shop.gt`; `dns; mx.example` → `mx.example`.
fn typed_value(value: &str) -> String {
    let v = value.split_once(';').map_or(value, |(_, v)| v);
    v.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_owned()
}

/// Prefer a specific enhanced code from the diagnostic over a generic
/// status of the same class (`5.0.0` + "550 5.1.1 …" is 5.1.1).
fn effective_status(status: Option<StatusCode>, diagnostic: Option<&str>) -> Option<StatusCode> {
    let from_diagnostic = diagnostic.and_then(StatusCode::find);
    match (status, from_diagnostic) {
        (Some(s), Some(d)) if s.subject == 0 && s.detail == 0 && d.class == s.class => Some(d),
        (Some(s), _) => Some(s),
        (None, d) => d,
    }
}

fn basic_reply_class(diagnostic: Option<&str>) -> Option<u8> {
    static BASIC: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\b([245])\d\d[\s-]").ok());
    let basic = BASIC.as_ref()?;
    basic
        .captures(diagnostic?)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
}

/// The class of a failed or delayed recipient (NOTES-round2 §2.4).
pub fn bounce_class(action: DsnAction, status: Option<StatusCode>, diagnostic: Option<&str>) -> BounceClass {
    if action == DsnAction::Delayed {
        return BounceClass::Soft;
    }
    match status {
        Some(s) if s.class == 5 && s.subject == 7 => BounceClass::Block,
        Some(s) if s.class == 5 => BounceClass::Hard,
        Some(_) => BounceClass::Soft,
        // No enhanced code: the basic reply code, else soft (no proof the
        // address is bad).
        None => match basic_reply_class(diagnostic) {
            Some(5) => BounceClass::Hard,
            _ => BounceClass::Soft,
        },
    }
}

fn dsn(raw: &[u8], message: &Message<'_>) -> Option<Option<Bounce>> {
    let part = message.parts.iter().find(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("delivery-status")
                        || s.eq_ignore_ascii_case("global-delivery-status")
                })
        })
    })?;
    let text = part_text(raw, part);
    let blocks = field_blocks(&text);
    let reporting_mta = blocks
        .first()
        .and_then(|b| field(b, "reporting-mta"))
        .map(typed_value);
    let mut recipients: Vec<(DsnAction, &[(String, String)])> = blocks
        .iter()
        .filter_map(|b| Some((DsnAction::parse(field(b, "action")?)?, b.as_slice())))
        .filter(|(a, _)| matches!(a, DsnAction::Failed | DsnAction::Delayed))
        .collect();
    // A failure outranks a delay.
    recipients.sort_by_key(|(a, _)| *a != DsnAction::Failed);
    let Some((action, block)) = recipients.first() else {
        return Some(None);
    };
    let diagnostic = field(block, "diagnostic-code").map(|d| cut(&typed_value(d), 1000));
    let status = effective_status(
        field(block, "status").and_then(StatusCode::parse),
        diagnostic.as_deref(),
    );
    Some(Some(Bounce {
        recipient: field(block, "final-recipient")
            .or_else(|| field(block, "original-recipient"))
            .map(|r| typed_value(r).to_ascii_lowercase())
            .filter(|r| !r.is_empty()),
        status,
        action: *action,
        class: bounce_class(*action, status, diagnostic.as_deref()),
        diagnostic,
        reporting_mta,
        source: BounceSource::Dsn,
    }))
}

/// Message-IDs of the returned original (a `message/rfc822` part, or
/// `text/rfc822-headers`), plus Gmail's `X-Original-Message-ID`.
fn returned_original_ids(
    raw: &[u8],
    message: &Message<'_>,
    correlation: &mut Correlation,
    tracker: &Tracker,
) {
    for part in &message.parts {
        match &part.body {
            PartType::Message(original) => {
                if let Some(id) = original.message_id() {
                    correlation.add_id(id);
                }
                if correlation.token.is_none() {
                    correlation.token = original
                        .return_address()
                        .and_then(|a| tracker.token_of_address(a));
                }
            }
            _ if part.is_content_type("text", "rfc822-headers") => {
                let text = part_text(raw, part);
                if let Some(headers) = MessageParser::new().parse_headers(text.as_bytes()) {
                    if let Some(id) = headers.message_id() {
                        correlation.add_id(id);
                    }
                    if correlation.token.is_none() {
                        correlation.token =
                            headers.return_address().and_then(|a| tracker.token_of_address(a));
                    }
                }
            }
            _ if part.is_content_type("message", "delivery-status") => {
                for block in field_blocks(&part_text(raw, part)).iter().take(1) {
                    if let Some(id) = field(block, "x-original-message-id") {
                        correlation.add_id(id);
                    }
                }
            }
            _ => {}
        }
    }
}

fn complaint(raw: &[u8], correlation: &mut Correlation, tracker: &Tracker) -> Option<Complaint> {
    let feedback = mail_auth::report::Feedback::parse_rfc5322(raw).ok()?;
    let feedback_type = match feedback.feedback_type() {
        mail_auth::report::FeedbackType::Abuse => "abuse",
        mail_auth::report::FeedbackType::AuthFailure => "auth-failure",
        mail_auth::report::FeedbackType::Fraud => "fraud",
        mail_auth::report::FeedbackType::NotSpam => "not-spam",
        mail_auth::report::FeedbackType::Other => "other",
        mail_auth::report::FeedbackType::Virus => "virus",
    };
    if let Some(from) = feedback.original_mail_from() {
        correlation.token = tracker.token_of_address(from).or(correlation.token);
    }
    for included in [feedback.message(), feedback.headers()].into_iter().flatten() {
        if let Some(headers) = MessageParser::new().parse_headers(included.as_bytes()) {
            if let Some(id) = headers.message_id() {
                correlation.add_id(id);
            }
            if correlation.token.is_none() {
                correlation.token = headers.return_address().and_then(|a| tracker.token_of_address(a));
            }
        }
    }
    Some(Complaint {
        feedback_type: feedback_type.to_owned(),
        recipient: feedback
            .original_rcpt_to()
            .map(|r| typed_value(r).to_ascii_lowercase())
            .filter(|r| !r.is_empty()),
        user_agent: feedback.user_agent().map(|u| cut(u, 200)),
        reported_domains: feedback
            .reported_domain()
            .iter()
            .map(|d| cut(d, 253).to_ascii_lowercase())
            .collect(),
    })
}

fn is_report(message: &Message<'_>, report_type: &str) -> bool {
    message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case(report_type))
    }) || message.parts.iter().any(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case(report_type))
        })
    })
}

fn from_address(message: &Message<'_>) -> Option<String> {
    message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .map(str::to_ascii_lowercase)
}

fn is_mailer_daemon(from: Option<&str>) -> bool {
    from.and_then(|f| f.split('@').next())
        .is_some_and(|local| ["mailer-daemon", "postmaster", "mail-daemon"].contains(&local))
}

fn text_bounce(message: &Message<'_>, from: Option<&str>) -> Option<Bounce> {
    let failed = message
        .header_raw("X-Failed-Recipients")
        .map(|v| v.split(',').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty());
    if failed.is_none() && !is_mailer_daemon(from) {
        return None;
    }
    let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    static RECIPIENT: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?m)^\s*<([^<>\s@]+@[^<>\s]+)>:").ok());
    let recipient = failed.or_else(|| {
        RECIPIENT
            .as_ref()?
            .captures(&text)?
            .get(1)
            .map(|m| m.as_str().to_ascii_lowercase())
    });
    let status = StatusCode::find(&text);
    let action = match status {
        Some(s) if s.class == 4 => DsnAction::Delayed,
        _ => DsnAction::Failed,
    };
    let diagnostic = status.and_then(|s| {
        text.lines()
            .find(|l| l.contains(&s.to_string()))
            .map(|l| cut(l, 1000))
    });
    Some(Bounce {
        recipient,
        status,
        action,
        class: bounce_class(action, status, diagnostic.as_deref()),
        diagnostic,
        reporting_mta: from.and_then(|f| f.split_once('@')).map(|(_, d)| d.to_owned()),
        source: BounceSource::Text,
    })
}

/// Subject starts that mark an out-of-office answer.
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "automatic reply",
    "auto-reply",
    "autoreply",
    "auto reply",
    "out of office",
    "out of the office",
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "automatische antwort",
    "abwesenheitsnotiz",
    "abwesend",
];

fn auto_reply(message: &Message<'_>) -> Option<AutoReplySignal> {
    if let Some(value) = message.header_raw("Auto-Submitted") {
        let value = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !value.is_empty() && value != "no" {
            return Some(AutoReplySignal::AutoSubmitted(cut(&value, 40)));
        }
    }
    if message.header_raw("X-Autoreply").is_some() || message.header_raw("X-Autorespond").is_some() {
        return Some(AutoReplySignal::XAutoreply);
    }
    if let Some(value) = message.header_raw("Precedence") {
        let value = value.trim().to_ascii_lowercase();
        if ["auto_reply", "bulk", "junk"].contains(&value.as_str()) {
            return Some(AutoReplySignal::Precedence(value));
        }
    }
    let subject = message.subject().unwrap_or("").trim().to_lowercase();
    if AUTO_REPLY_SUBJECTS.iter().any(|s| subject.starts_with(s)) {
        return Some(AutoReplySignal::Subject);
    }
    None
}

/// Classify one raw message. `tracker` verifies the tokens of our
/// addresses (a token that does not verify is ignored).
pub fn classify(raw: &[u8], tracker: &Tracker) -> Classified {
    let Some(message) = MessageParser::new().parse(raw) else {
        return Classified {
            kind: Inbound::Other,
            correlation: Correlation::default(),
            from: None,
            subject: None,
        };
    };
    let from = from_address(&message);
    let subject = message.subject().map(|s| cut(s, 200));
    let recipients = recipient_addresses(&message);
    let mut correlation = Correlation {
        token: token_in(&recipients, tracker),
        message_ids: Vec::new(),
    };
    let in_reply_to = header_texts(message.in_reply_to()).into_iter().next();
    let references = header_texts(message.references());
    if let Some(id) = &in_reply_to {
        correlation.add_id(id);
    }
    for id in &references {
        correlation.add_id(id);
    }
    let done = |kind, correlation| Classified {
        kind,
        correlation,
        from: from.clone(),
        subject: subject.clone(),
    };

    if is_report(&message, "feedback-report")
        && let Some(c) = complaint(raw, &mut correlation, tracker)
    {
        return done(Inbound::Complaint(c), correlation);
    }
    if let Some(report) = dsn(raw, &message) {
        returned_original_ids(raw, &message, &mut correlation, tracker);
        return match report {
            Some(bounce) => done(Inbound::Bounce(bounce), correlation),
            None => done(Inbound::Other, correlation),
        };
    }
    if correlation
        .token
        .is_some_and(|t| t.kind == super::tracking::TokenKind::Unsubscribe)
    {
        return done(Inbound::Unsubscribe, correlation);
    }
    if let Some(bounce) = text_bounce(&message, from.as_deref()) {
        returned_original_ids(raw, &message, &mut correlation, tracker);
        if correlation.message_ids.is_empty() {
            // qmail quotes the original after a marker line, unparsed.
            if let Some(text) = message.body_text(0) {
                for line in text.lines() {
                    if let Some(id) = line
                        .strip_prefix("Message-ID:")
                        .or_else(|| line.strip_prefix("Message-Id:"))
                    {
                        correlation.add_id(id);
                    }
                }
            }
        }
        return done(Inbound::Bounce(bounce), correlation);
    }
    if let Some(signal) = auto_reply(&message) {
        return done(Inbound::AutoReply { signal }, correlation);
    }
    if in_reply_to.is_some() || !references.is_empty() || correlation.token.is_some() {
        let reply = Reply {
            in_reply_to: in_reply_to.map(|id| bare_id(&id).to_owned()),
            references: references.iter().map(|id| bare_id(id).to_owned()).collect(),
            token: correlation.token,
        };
        return done(Inbound::Reply(reply), correlation);
    }
    done(Inbound::Other, correlation)
}

#[cfg(test)]
mod tests {
    use url::Url;
    use uuid::Uuid;

    use super::*;
    use crate::send_email::tracking::{KeyRing, SendId, TokenKind};

    /// The key and send the fixtures' addresses were signed with.
    pub(crate) fn fixture_tracker() -> Tracker {
        Tracker::new(
            Url::parse("https://t.agency.example/").unwrap(),
            "bounce.agency.example",
            KeyRing::new(vec![vec![0x5a; 32]]).unwrap(),
        )
        .unwrap()
    }

    pub(crate) fn fixture_send() -> SendId {
        SendId(Uuid::parse_str("7f3c2a10-5b8e-4c1d-9a6f-2e4b8c0d1f35").unwrap())
    }

    const OUR_ID: &str = "7f3c2a105b8e4c1d9a6f2e4b8c0d1f35@agency.example";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/src/send_email/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn classify_fixture(name: &str) -> Classified {
        classify(&fixture(name), &fixture_tracker())
    }

    fn bounce_of(c: &Classified) -> &Bounce {
        match &c.kind {
            Inbound::Bounce(b) => b,
            other => panic!("not a bounce: {other:?}"),
        }
    }

    fn verp() -> Option<Token> {
        Some(Token::new(fixture_send(), TokenKind::Bounce))
    }

    #[test]
    fn dsns_are_bounces_with_their_class() {
        struct Case {
            file: &'static str,
            recipient: &'static str,
            status: &'static str,
            action: DsnAction,
            class: BounceClass,
            diagnostic_has: &'static str,
            mta: &'static str,
        }
        let cases = [
            Case {
                file: "postfix_user_unknown.eml",
                recipient: "jane@shop.gt",
                status: "5.1.1",
                action: DsnAction::Failed,
                class: BounceClass::Hard,
                diagnostic_has: "User unknown in virtual mailbox table",
                mta: "mail.agency.example",
            },
            Case {
                // Exim writes Status 5.0.0; the diagnostic says 5.1.1.
                file: "exim_user_unknown.eml",
                recipient: "info@garage-weber.de",
                status: "5.1.1",
                action: DsnAction::Failed,
                class: BounceClass::Hard,
                diagnostic_has: "User unknown",
                mta: "mx1.relay.example",
            },
            Case {
                file: "gmail_policy_block.eml",
                recipient: "owner.cafe@gmail.com",
                status: "5.7.26",
                action: DsnAction::Failed,
                class: BounceClass::Block,
                diagnostic_has: "DMARC policy",
                mta: "googlemail.com",
            },
            Case {
                file: "postfix_delayed.eml",
                recipient: "contact@bakery.lu",
                status: "4.4.1",
                action: DsnAction::Delayed,
                class: BounceClass::Soft,
                diagnostic_has: "Connection timed out",
                mta: "mail.agency.example",
            },
        ];
        for case in cases {
            // Act
            let classified = classify_fixture(case.file);

            // Assert
            let bounce = bounce_of(&classified);
            assert_eq!(bounce.recipient.as_deref(), Some(case.recipient), "{}", case.file);
            assert_eq!(
                bounce.status.map(|s| s.to_string()).as_deref(),
                Some(case.status),
                "{}",
                case.file
            );
            assert_eq!(bounce.action, case.action, "{}", case.file);
            assert_eq!(bounce.class, case.class, "{}", case.file);
            assert_eq!(bounce.source, BounceSource::Dsn, "{}", case.file);
            assert!(
                bounce
                    .diagnostic
                    .as_deref()
                    .unwrap_or("")
                    .contains(case.diagnostic_has),
                "{}: {:?}",
                case.file,
                bounce.diagnostic
            );
            assert_eq!(bounce.reporting_mta.as_deref(), Some(case.mta), "{}", case.file);
            assert_eq!(classified.correlation.token, verp(), "{}", case.file);
            assert_eq!(
                classified
                    .correlation
                    .message_ids_under("agency.example")
                    .collect::<Vec<_>>(),
                [OUR_ID],
                "{}",
                case.file
            );
        }
    }

    #[test]
    fn an_arf_report_is_a_complaint_naming_the_send() {
        let classified = classify_fixture("arf_complaint.eml");
        assert_eq!(
            classified.kind,
            Inbound::Complaint(Complaint {
                feedback_type: "abuse".into(),
                recipient: Some("studio.lena@yahoo.com".into()),
                user_agent: Some("Yahoo!-Mail-Feedback/2.0".into()),
                reported_domains: vec!["agency.example".into()],
            })
        );
        // To: fbl@… carries no token; Original-Mail-From does.
        assert_eq!(classified.correlation.token, verp());
        assert_eq!(classified.correlation.message_ids, [OUR_ID]);
    }

    #[test]
    fn an_out_of_office_is_an_auto_reply_not_a_reply() {
        let classified = classify_fixture("out_of_office.eml");
        assert_eq!(
            classified.kind,
            Inbound::AutoReply {
                signal: AutoReplySignal::AutoSubmitted("auto-generated".into())
            }
        );
        assert_eq!(classified.correlation.message_ids, [OUR_ID]);
        assert_eq!(classified.from.as_deref(), Some("marc@boulangerie-schmit.lu"));
    }

    #[test]
    fn a_reply_carries_its_references() {
        let classified = classify_fixture("reply.eml");
        assert_eq!(
            classified.kind,
            Inbound::Reply(Reply {
                in_reply_to: Some(OUR_ID.into()),
                references: vec!["0a1b2c3d4e5f@agency.example".into(), OUR_ID.into()],
                token: None,
            })
        );
        assert_eq!(classified.from.as_deref(), Some("owner@cafe-mueller.lu"));
        assert_eq!(
            classified.subject.as_deref(),
            Some("Re: A new website for Café Müller")
        );
    }

    #[test]
    fn a_mail_to_the_unsubscribe_address_is_an_unsubscribe() {
        let classified = classify_fixture("mailto_unsubscribe.eml");
        assert_eq!(classified.kind, Inbound::Unsubscribe);
        assert_eq!(
            classified.correlation.token,
            Some(Token::new(fixture_send(), TokenKind::Unsubscribe))
        );
    }

    #[test]
    fn a_plain_text_bounce_is_read_from_its_text() {
        let classified = classify_fixture("qmail_plain_bounce.eml");
        let bounce = bounce_of(&classified);
        assert_eq!(bounce.recipient.as_deref(), Some("office@printshop.example"));
        assert_eq!(bounce.status, StatusCode::parse("5.1.1"));
        assert_eq!(bounce.class, BounceClass::Hard);
        assert_eq!(bounce.source, BounceSource::Text);
        assert_eq!(classified.correlation.token, verp());
        assert_eq!(classified.correlation.message_ids, [OUR_ID]);
    }

    #[test]
    fn a_forged_verp_token_is_ignored() {
        let raw = String::from_utf8(fixture("postfix_user_unknown.eml"))
            .unwrap()
            .replace("b+p46cuec3rzgb3gtpfzfyydi7gu", "b+p46cuec3rzgb3gtpfzfyydi7ga");
        let classified = classify(raw.as_bytes(), &fixture_tracker());
        assert_eq!(classified.correlation.token, None);
        // The returned original's Message-ID still names the send.
        assert_eq!(classified.correlation.message_ids, [OUR_ID]);
    }

    #[test]
    fn a_success_only_dsn_and_a_plain_mail_are_other() {
        let raw = String::from_utf8(fixture("postfix_delayed.eml"))
            .unwrap()
            .replace("Action: delayed", "Action: delivered");
        assert_eq!(classify(raw.as_bytes(), &fixture_tracker()).kind, Inbound::Other);
        let plain = b"From: someone@example.com\r\nTo: jane@agency.example\r\nSubject: Hello\r\n\r\nNew business.\r\n";
        let classified = classify(plain, &fixture_tracker());
        assert_eq!(classified.kind, Inbound::Other);
        assert_eq!(classified.correlation, Correlation::default());
    }

    #[test]
    fn auto_reply_signals_table() {
        let cases: &[(&str, &str, Option<AutoReplySignal>)] = &[
            (
                "auto-submitted",
                "Auto-Submitted: auto-replied\r\n",
                Some(AutoReplySignal::AutoSubmitted("auto-replied".into())),
            ),
            ("auto-submitted no", "Auto-Submitted: no\r\n", None),
            (
                "x-autoreply",
                "X-Autoreply: yes\r\n",
                Some(AutoReplySignal::XAutoreply),
            ),
            (
                "x-autorespond",
                "X-Autorespond: vacation\r\n",
                Some(AutoReplySignal::XAutoreply),
            ),
            (
                "precedence bulk",
                "Precedence: bulk\r\n",
                Some(AutoReplySignal::Precedence("bulk".into())),
            ),
            ("precedence list", "Precedence: list\r\n", None),
            (
                "german subject",
                "Subject: Abwesenheitsnotiz: Ihre Anfrage\r\n",
                Some(AutoReplySignal::Subject),
            ),
        ];
        for (name, headers, expected) in cases {
            let raw = format!(
                "From: a@b.example\r\nTo: replies@agency.example\r\nIn-Reply-To: <{OUR_ID}>\r\n{headers}\r\nbody\r\n"
            );
            let kind = classify(raw.as_bytes(), &fixture_tracker()).kind;
            match expected {
                Some(signal) => assert_eq!(
                    kind,
                    Inbound::AutoReply {
                        signal: signal.clone()
                    },
                    "{name}"
                ),
                None => assert!(matches!(kind, Inbound::Reply(_)), "{name}: {kind:?}"),
            }
        }
    }

    #[test]
    fn bounce_class_rules() {
        let s = |t| StatusCode::parse(t);
        let cases = [
            (
                "failed 5.1.1",
                DsnAction::Failed,
                s("5.1.1"),
                None,
                BounceClass::Hard,
            ),
            (
                "failed 5.2.2 mailbox full",
                DsnAction::Failed,
                s("5.2.2"),
                None,
                BounceClass::Hard,
            ),
            (
                "failed 5.7.1 policy",
                DsnAction::Failed,
                s("5.7.1"),
                None,
                BounceClass::Block,
            ),
            (
                "failed 4.4.7 expired",
                DsnAction::Failed,
                s("4.4.7"),
                None,
                BounceClass::Soft,
            ),
            (
                "delayed 5.x",
                DsnAction::Delayed,
                s("5.1.1"),
                None,
                BounceClass::Soft,
            ),
            (
                "failed, basic 550 only",
                DsnAction::Failed,
                None,
                Some("550 no such user"),
                BounceClass::Hard,
            ),
            (
                "failed, basic 421 only",
                DsnAction::Failed,
                None,
                Some("421 try later"),
                BounceClass::Soft,
            ),
            (
                "failed, nothing",
                DsnAction::Failed,
                None,
                None,
                BounceClass::Soft,
            ),
        ];
        for (name, action, status, diagnostic, expected) in cases {
            assert_eq!(bounce_class(action, status, diagnostic), expected, "{name}");
        }
        assert_eq!(
            effective_status(s("5.0.0"), Some("550 5.7.1 blocked")),
            s("5.7.1")
        );
        assert_eq!(
            effective_status(s("5.1.1"), Some("550 5.7.1 blocked")),
            s("5.1.1")
        );
        assert_eq!(effective_status(s("4.0.0"), Some("550 5.1.1 x")), s("4.0.0"));
    }

    #[test]
    fn status_codes_parse_strictly() {
        assert_eq!(
            StatusCode::parse("5.1.1 (user unknown)"),
            Some(StatusCode {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        for bad in ["", "5.1", "3.1.1", "5.1.1.1", "a.b.c", "5.1000.1"] {
            assert_eq!(StatusCode::parse(bad), None, "{bad}");
        }
        assert_eq!(
            StatusCode::find("said: 550-5.7.26 Unauthenticated"),
            StatusCode::parse("5.7.26")
        );
        assert_eq!(StatusCode::find("version 12.5.1.3 and 192.0.2.1"), None);
    }

    proptest::proptest! {
        #[test]
        fn classify_never_panics_on_garbage(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let _ = classify(&bytes, &fixture_tracker());
        }

        #[test]
        fn classify_never_panics_on_broken_reports(
            report_type in proptest::sample::select(vec!["feedback-report", "delivery-status"]),
            body in "(?s).{0,600}",
        ) {
            let raw = format!(
                "From: MAILER-DAEMON@x.example\r\nTo: b+zz@bounce.agency.example\r\nContent-Type: multipart/report; report-type={report_type}; boundary=b\r\n\r\n--b\r\nContent-Type: message/{report_type}\r\n\r\n{body}\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n{body}\r\n--b--\r\n"
            );
            let _ = classify(raw.as_bytes(), &fixture_tracker());
        }
    }
}
