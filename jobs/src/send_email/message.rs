//! One outreach message as MIME: headers for deliverability and compliance,
//! a text and an HTML part with the sender's identity, and the tracking.
//!
//! - `Message-ID` is `<send-uuid@message-id-domain>`: derived from the
//!   send, so a retried send carries the same id (receivers and our reply
//!   matching both see one message). It is returned bare (`uuid@domain`,
//!   no angle brackets), the form [`inbound`](super::inbound) reports
//!   `In-Reply-To`/`References` in.
//! - `List-Unsubscribe: <https://…/u/token>, <mailto:unsub+token@…>` and
//!   `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058; the
//!   DKIM signature must cover both, see [`dkim`](super::dkim)).
//! - `Feedback-ID: campaign:customer:mail-type:sender` for Gmail's
//!   Postmaster Tools.
//! - The envelope sender is the VERP address `b+token@bounce-domain`: a
//!   bounce names the send whatever the DSN contains. (A `Return-Path`
//!   header is written by the receiving server from the envelope; a sender
//!   must not set one.)
//! - Both parts end with a footer: the sender's name, company and postal
//!   address, and the unsubscribe link (CAN-SPAM).
//! - Optional tracking: a 1×1 open pixel, and `http(s)` links of the HTML
//!   part rewritten to click URLs. The original URLs are returned in index
//!   order ([`TrackedLinks`]) for the send's row; the text part keeps the
//!   real URLs.
//!
//! When the template has no HTML body, the HTML part is made from the text
//! (paragraphs, line breaks, links).

use std::{cell::RefCell, time::SystemTime};

use lettre::{
    Address, Message,
    address::Envelope,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
};
use lol_html::{RewriteStrSettings, element, html_content::ContentType, rewrite_str};
use url::Url;

use super::{
    language::Language,
    template::{Rendered, escape_html, escape_html_into},
    tracking::{SendId, TrackedLinks, Tracker},
};
use crate::domain::EmailAddress;

/// Who sends, as the law wants it shown in every message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SenderIdentity {
    /// The person signing (`Jane Doe`).
    pub name: String,
    /// The company (`Doe Web Studio SARL`).
    pub company: String,
    /// The postal address, lines separated by `\n`.
    pub postal_address: String,
}

/// The four fields of a `Feedback-ID` header (Gmail: `a:b:c:SenderId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackId(String);

/// A field that cannot go into a `Feedback-ID`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Feedback-ID {field} `{value}` must be 1-40 characters of letters, digits, `-`, `_` or `.` (the sender id 5-15)"
)]
pub struct InvalidFeedbackId {
    /// Which field.
    pub field: &'static str,
    /// Its value (cut to 40 characters).
    pub value: String,
}

impl FeedbackId {
    /// Build and check one (no colons, ASCII; the sender id is 5-15
    /// characters, as Gmail asks).
    pub fn new(
        campaign: &str,
        customer: &str,
        mail_type: &str,
        sender: &str,
    ) -> Result<Self, InvalidFeedbackId> {
        let check = |field: &'static str, value: &str, min: usize, max: usize| {
            let ok = (min..=max).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if ok {
                Ok(())
            } else {
                Err(InvalidFeedbackId {
                    field,
                    value: value.chars().take(40).collect(),
                })
            }
        };
        check("campaign", campaign, 1, 40)?;
        check("customer", customer, 1, 40)?;
        check("mail type", mail_type, 1, 40)?;
        check("sender id", sender, 5, 15)?;
        Ok(Self(format!("{campaign}:{customer}:{mail_type}:{sender}")))
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What to track in one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackingOptions {
    /// Add the open pixel (off by default for cold e-mail: NOTES-round2 §2.5).
    pub open_pixel: bool,
    /// Rewrite the HTML part's links to click URLs.
    pub click_links: bool,
}

/// Everything one message is made of.
#[derive(Debug, Clone)]
pub struct Compose<'a> {
    /// The send (a `campaigns.id`): names every token.
    pub send: SendId,
    /// The mailbox sending.
    pub from: &'a EmailAddress,
    /// Its display name.
    pub from_name: &'a str,
    /// Where replies go, when not `from`.
    pub reply_to: Option<&'a EmailAddress>,
    /// The recipient.
    pub to: &'a EmailAddress,
    /// The recipient's name, if known.
    pub to_name: Option<&'a str>,
    /// The filled-in template (its `{unsubscribe_url}` should be
    /// [`Tracker::unsubscribe_url`] of this send).
    pub rendered: &'a Rendered,
    /// For the footer's wording.
    pub language: Language,
    /// The footer's identity.
    pub identity: &'a SenderIdentity,
    /// Tokens, URLs and the bounce domain.
    pub tracker: &'a Tracker,
    /// Pixel and links.
    pub tracking: TrackingOptions,
    /// The `Feedback-ID` header.
    pub feedback_id: &'a FeedbackId,
    /// The domain of the `Message-ID` (ours, e.g. the sending domain).
    pub message_id_domain: &'a str,
    /// For a follow-up: the bare `Message-ID` of the message it follows,
    /// so it threads under it.
    pub in_reply_to: Option<&'a str>,
    /// The `Date` header.
    pub date: SystemTime,
}

/// A built, unsigned message.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The message (sign it with [`DkimSigner::sign`](super::dkim::DkimSigner::sign)).
    pub message: Message,
    /// Its bare `Message-ID` (`uuid@domain`), for `campaigns.message_id`.
    pub message_id: String,
    /// VERP sender and the recipient.
    pub envelope: Envelope,
    /// The original URLs behind the click links, by index.
    pub links: TrackedLinks,
}

/// Why a message could not be built. All are permanent for the send: the
/// same input fails the same way.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// An address lettre refuses (it is stricter than [`EmailAddress`] in
    /// places, e.g. non-ASCII).
    #[error("`{address}` cannot be used as an e-mail address: {source}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: lettre::address::AddressError,
    },
    /// The HTML part could not be rewritten.
    #[error("the HTML body could not be rewritten: {0}")]
    Html(String),
    /// lettre refused the message.
    #[error("the message could not be built: {0}")]
    Build(#[from] lettre::error::Error),
}

fn address(a: &str) -> Result<Address, ComposeError> {
    a.parse::<Address>().map_err(|source| ComposeError::Address {
        address: a.chars().take(80).collect(),
        source,
    })
}

fn display_name(name: &str) -> Option<String> {
    let name: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

fn unsubscribe_label(language: Language) -> &'static str {
    match language {
        Language::En => "Don't want these e-mails? Unsubscribe",
        Language::Fr => "Vous ne souhaitez plus recevoir ces e-mails ? Se désinscrire",
        Language::De => "Keine weiteren E-Mails? Abmelden",
    }
}

fn identity_line(identity: &SenderIdentity) -> String {
    [identity.name.trim(), identity.company.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn text_footer(identity: &SenderIdentity, unsubscribe: &Url, language: Language) -> String {
    format!(
        "\n\n-- \n{}\n{}\n{}: {unsubscribe}\n",
        identity_line(identity),
        identity.postal_address.trim(),
        unsubscribe_label(language)
    )
}

fn html_footer(identity: &SenderIdentity, unsubscribe: &Url, language: Language) -> String {
    format!(
        "<p style=\"margin-top:24px;font-size:12px;line-height:1.4;color:#666666\">{}<br>\n{}<br>\n<a href=\"{}\" style=\"color:#666666\">{}</a></p>\n",
        escape_html(&identity_line(identity)),
        escape_html(identity.postal_address.trim()),
        escape_html(unsubscribe.as_str()),
        escape_html(unsubscribe_label(language)),
    )
}

fn pixel(url: &Url) -> String {
    format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" style=\"display:none;max-height:0;max-width:0;opacity:0\" alt=\"\">",
        escape_html(url.as_str())
    )
}

/// Split text into runs of plain text and `http(s)://` URLs (trailing
/// punctuation stays text).
fn linkify(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let (before, from) = rest.split_at(start);
        escape_html_into(before, out);
        let end = from
            .find(|c: char| c.is_whitespace() || "<>\"".contains(c))
            .unwrap_or(from.len());
        let mut url = &from[..end];
        while let Some(trimmed) = url.strip_suffix(['.', ',', ';', ':', '!', '?', ')', '\'']) {
            url = trimmed;
        }
        let escaped = escape_html(url);
        out.push_str(&format!("<a href=\"{escaped}\">{escaped}</a>"));
        rest = &from[url.len()..];
    }
    escape_html_into(rest, out);
}

/// A simple HTML document from a text body: blank lines separate
/// paragraphs, line breaks stay, URLs become links.
pub fn text_to_html(text: &str) -> String {
    let mut body = String::new();
    let normalized = text.replace("\r\n", "\n");
    for paragraph in normalized.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        body.push_str("<p>");
        linkify(paragraph, &mut body);
        body.push_str("</p>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#222222\">\n{body}</body></html>\n"
    )
}

/// Undo the entity escaping of an attribute value (the forms
/// [`escape_html`] writes, plus numeric references).
fn unescape_attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|end| *end <= 10).and_then(|end| {
            let entity = &after[..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Rewrite links (when `click_links`), and add the footer and pixel at the
/// end of `<body>` (or of the document, for a fragment).
fn finish_html(
    html: &str,
    send: SendId,
    c: &Compose<'_>,
    tail: &str,
) -> Result<(String, TrackedLinks), ComposeError> {
    let links: RefCell<Vec<Url>> = RefCell::new(Vec::new());
    let body_seen = RefCell::new(false);
    let tracker = c.tracker;
    let click_links = c.tracking.click_links;
    let rewritten = rewrite_str(
        html,
        RewriteStrSettings::new()
            .append_element_content_handler(element!("a[href]", |el| {
                if !click_links {
                    return Ok(());
                }
                let Some(raw) = el.get_attribute("href") else {
                    return Ok(());
                };
                let href = unescape_attribute(raw.trim());
                let lower = href.to_ascii_lowercase();
                if !(lower.starts_with("https://") || lower.starts_with("http://"))
                    || tracker.is_own_url(&href)
                {
                    return Ok(());
                }
                let Ok(target) = Url::parse(&href) else {
                    return Ok(());
                };
                let mut links = links.borrow_mut();
                let index = match links.iter().position(|l| *l == target) {
                    Some(i) => i,
                    None => {
                        links.push(target);
                        links.len() - 1
                    }
                };
                // More links than an index holds stay as they are.
                if let Ok(index) = u16::try_from(index) {
                    el.set_attribute("href", tracker.click_url(send, index).as_str())?;
                }
                Ok(())
            }))
            .append_element_content_handler(element!("body", |el| {
                *body_seen.borrow_mut() = true;
                el.append(tail, ContentType::Html);
                Ok(())
            })),
    )
    .map_err(|e| ComposeError::Html(e.to_string()))?;
    let mut out = rewritten;
    if !*body_seen.borrow() {
        out.push_str(tail);
    }
    let links = TrackedLinks(
        links
            .into_inner()
            .into_iter()
            .take(usize::from(u16::MAX))
            .collect(),
    );
    Ok((out, links))
}

/// Build the message.
pub fn compose(c: &Compose<'_>) -> Result<Composed, ComposeError> {
    let tracker = c.tracker;
    let unsubscribe_url = tracker.unsubscribe_url(c.send);
    let unsubscribe_mailto = tracker.unsubscribe_address(c.send);
    let verp = tracker.bounce_address(c.send);
    let message_id = format!(
        "{}@{}",
        c.send.0.simple(),
        c.message_id_domain.trim().to_ascii_lowercase()
    );

    let text = format!(
        "{}{}",
        c.rendered.text.trim_end(),
        text_footer(c.identity, &unsubscribe_url, c.language)
    );
    let html_source = match &c.rendered.html {
        Some(html) => html.clone(),
        None => text_to_html(&c.rendered.text),
    };
    let mut tail = html_footer(c.identity, &unsubscribe_url, c.language);
    if c.tracking.open_pixel {
        tail.push_str(&pixel(&tracker.open_url(c.send)));
    }
    let (html, links) = finish_html(&html_source, c.send, c, &tail)?;

    let from = Mailbox::new(display_name(c.from_name), address(c.from.as_str())?);
    let to = Mailbox::new(c.to_name.and_then(display_name), address(c.to.as_str())?);
    let verp_address = address(&verp)?;
    let envelope = Envelope::new(Some(verp_address), vec![to.email.clone()])?;

    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(c.rendered.subject.clone())
        .date(c.date)
        .message_id(Some(format!("<{message_id}>")))
        .envelope(envelope.clone());
    if let Some(reply_to) = c.reply_to {
        builder = builder.reply_to(Mailbox::new(None, address(reply_to.as_str())?));
    }
    if let Some(parent) = c.in_reply_to {
        let parent = parent.trim().trim_start_matches('<').trim_end_matches('>');
        if !parent.is_empty() {
            builder = builder
                .in_reply_to(format!("<{parent}>"))
                .references(format!("<{parent}>"));
        }
    }
    let raw =
        |name: &'static str, value: String| HeaderValue::new(HeaderName::new_from_ascii_str(name), value);
    builder = builder
        .raw_header(raw(
            "List-Unsubscribe",
            format!("<{unsubscribe_url}>, <mailto:{unsubscribe_mailto}?subject=unsubscribe>"),
        ))
        .raw_header(raw(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        ))
        .raw_header(raw("Feedback-ID", c.feedback_id.as_str().to_owned()));
    let message = builder.multipart(MultiPart::alternative_plain_html(text, html))?;
    Ok(Composed {
        message,
        message_id,
        envelope,
        links,
    })
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders};
    use uuid::Uuid;

    use super::*;
    use crate::send_email::tracking::{KeyRing, Token, TokenKind};

    pub(crate) fn tracker() -> Tracker {
        Tracker::new(
            Url::parse("https://t.agency.example/").unwrap(),
            "bounce.agency.example",
            KeyRing::new(vec![vec![3u8; 32]]).unwrap(),
        )
        .unwrap()
    }

    fn identity() -> SenderIdentity {
        SenderIdentity {
            name: "Jane Doe".into(),
            company: "Doe Web Studio SARL".into(),
            postal_address: "12 rue de la Gare\nL-1611 Luxembourg".into(),
        }
    }

    fn send() -> SendId {
        SendId(Uuid::from_u128(42))
    }

    fn compose_with(rendered: &Rendered, tracking: TrackingOptions, in_reply_to: Option<&str>) -> Composed {
        let from = EmailAddress::parse("jane@agency.example").unwrap();
        let to = EmailAddress::parse("owner@cafe-mueller.lu").unwrap();
        let reply_to = EmailAddress::parse("replies@agency.example").unwrap();
        let tracker = tracker();
        let identity = identity();
        let feedback = FeedbackId::new("tpl7", "step1", "outreach", "prospector").unwrap();
        compose(&Compose {
            send: send(),
            from: &from,
            from_name: "Jane from Doe\r\nWeb",
            reply_to: Some(&reply_to),
            to: &to,
            to_name: Some("Café Müller"),
            rendered,
            language: Language::En,
            identity: &identity,
            tracker: &tracker,
            tracking,
            feedback_id: &feedback,
            message_id_domain: "Agency.Example",
            in_reply_to,
            date: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000),
        })
        .unwrap()
    }

    fn rendered() -> Rendered {
        Rendered {
            subject: "A new website for Café Müller".into(),
            text: "Hello,\n\nsee https://preview.example/cafe?a=1&b=2.\n".into(),
            html: Some(
                "<html><body><p>Hello,</p><p>see <a href=\"https://preview.example/cafe?a=1&amp;b=2\">the preview</a>, \
                 <a href='https://preview.example/cafe?a=1&amp;b=2'>again</a>, <a href=\"mailto:x@y.example\">mail</a>, \
                 <a href=\"https://t.agency.example/u/abc\">unsubscribe</a> and <a href=\"http://shot.example/1.png\">a shot</a></p></body></html>"
                    .into(),
            ),
        }
    }

    #[test]
    fn has_the_compliance_headers_and_a_verp_envelope() {
        // Act
        let composed = compose_with(&rendered(), TrackingOptions::default(), None);
        let raw = composed.message.formatted();
        let parsed = MessageParser::new().parse(&raw).unwrap();

        // Assert
        assert_eq!(
            composed.message_id,
            format!("{}@agency.example", send().0.simple())
        );
        assert_eq!(parsed.message_id(), Some(composed.message_id.as_str()));
        assert_eq!(parsed.subject(), Some("A new website for Café Müller"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.address(), Some("jane@agency.example"));
        assert_eq!(from.name(), Some("Jane from Doe Web"));
        assert_eq!(parsed.to().unwrap().first().unwrap().name(), Some("Café Müller"));
        assert_eq!(
            parsed.reply_to().unwrap().first().unwrap().address(),
            Some("replies@agency.example")
        );
        let header = |name: &str| parsed.header_raw(name).map(str::trim).map(str::to_owned);
        assert_eq!(
            header("List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        assert_eq!(
            header("Feedback-ID").as_deref(),
            Some("tpl7:step1:outreach:prospector")
        );
        let list_unsubscribe = header("List-Unsubscribe").unwrap().replace(['\r', '\n'], "");
        let tracker = tracker();
        assert_eq!(
            list_unsubscribe.split_whitespace().collect::<String>(),
            format!(
                "<{}>,<mailto:{}?subject=unsubscribe>",
                tracker.unsubscribe_url(send()),
                tracker.unsubscribe_address(send())
            )
        );
        let verp = composed.envelope.from().unwrap().to_string();
        assert_eq!(
            tracker.token_of_address(&verp),
            Some(Token::new(send(), TokenKind::Bounce))
        );
        assert_eq!(
            composed
                .envelope
                .to()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["owner@cafe-mueller.lu"]
        );
        assert!(parsed.header_raw("Return-Path").is_none());
        assert!(parsed.content_type().unwrap().subtype() == Some("alternative"));
    }

    #[test]
    fn both_parts_end_with_identity_address_and_unsubscribe() {
        let composed = compose_with(&rendered(), TrackingOptions::default(), None);
        let raw = composed.message.formatted();
        let parsed = MessageParser::new().parse(&raw).unwrap();
        let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
        let html = parsed.body_html(0).unwrap().replace("\r\n", "\n");
        let unsubscribe = tracker().unsubscribe_url(send()).to_string();
        assert!(
            text.contains("see https://preview.example/cafe?a=1&b=2."),
            "{text}"
        );
        assert!(
            text.trim_end().ends_with(&format!(
                "-- \nJane Doe, Doe Web Studio SARL\n12 rue de la Gare\nL-1611 Luxembourg\nDon't want these e-mails? Unsubscribe: {unsubscribe}"
            )),
            "{text}"
        );
        assert!(
            html.contains("Jane Doe, Doe Web Studio SARL<br>\n12 rue de la Gare<br>\nL-1611 Luxembourg"),
            "{html}"
        );
        assert!(html.contains(&format!("<a href=\"{unsubscribe}\"")), "{html}");
        // Footer inside <body>, links untouched without click tracking.
        assert!(html.trim_end().ends_with("</body></html>"), "{html}");
        assert!(
            html.contains("href=\"https://preview.example/cafe?a=1&amp;b=2\""),
            "{html}"
        );
        assert!(composed.links.0.is_empty());
        assert!(!html.contains("<img"));
    }

    #[test]
    fn tracking_rewrites_http_links_once_each_and_adds_the_pixel() {
        let composed = compose_with(
            &rendered(),
            TrackingOptions {
                open_pixel: true,
                click_links: true,
            },
            None,
        );
        let raw = composed.message.formatted();
        let parsed = MessageParser::new().parse(&raw).unwrap();
        let html = parsed.body_html(0).unwrap();
        let tracker = tracker();
        assert_eq!(
            composed.links.0.iter().map(Url::as_str).collect::<Vec<_>>(),
            [
                "https://preview.example/cafe?a=1&b=2",
                "http://shot.example/1.png"
            ]
        );
        let first = tracker.click_url(send(), 0).to_string();
        assert_eq!(html.matches(&first).count(), 2, "{html}");
        assert!(html.contains(&tracker.click_url(send(), 1).to_string()), "{html}");
        assert!(html.contains("href=\"mailto:x@y.example\""));
        assert!(
            html.contains("href=\"https://t.agency.example/u/abc\""),
            "own links stay: {html}"
        );
        assert!(!html.contains("preview.example"), "{html}");
        let pixel_at = html.find(tracker.open_url(send()).as_str()).unwrap();
        assert!(pixel_at < html.find("</body>").unwrap());
        // The text part keeps the real URL.
        assert!(
            parsed
                .body_text(0)
                .unwrap()
                .contains("https://preview.example/cafe?a=1&b=2")
        );
    }

    #[test]
    fn without_an_html_template_the_html_part_comes_from_the_text() {
        let mut r = rendered();
        r.html = None;
        let composed = compose_with(
            &r,
            TrackingOptions {
                open_pixel: false,
                click_links: true,
            },
            None,
        );
        let raw = composed.message.formatted();
        let parsed = MessageParser::new().parse(&raw).unwrap();
        let html = parsed.body_html(0).unwrap();
        assert!(html.contains("<p>Hello,</p>"), "{html}");
        assert_eq!(
            composed.links.0[0].as_str(),
            "https://preview.example/cafe?a=1&b=2"
        );
        assert!(
            html.contains(&format!("<a href=\"{}\">", tracker().click_url(send(), 0))),
            "{html}"
        );
        assert!(html.contains("b=2</a>.</p>"), "trailing dot stays text: {html}");
    }

    #[test]
    fn a_follow_up_threads_under_its_parent() {
        let composed = compose_with(
            &rendered(),
            TrackingOptions::default(),
            Some("<parent@agency.example>"),
        );
        let raw = composed.message.formatted();
        let parsed = MessageParser::new().parse(&raw).unwrap();
        assert_eq!(parsed.in_reply_to().as_text(), Some("parent@agency.example"));
        assert_eq!(parsed.references().as_text(), Some("parent@agency.example"));
    }

    #[test]
    fn feedback_ids_are_checked() {
        assert!(FeedbackId::new("a", "b", "c", "sender").is_ok());
        for (campaign, sender) in [
            ("a:b", "sender"),
            ("", "sender"),
            ("a", "abc"),
            ("a", "waytoolongsenderid"),
            ("é", "sender"),
        ] {
            assert!(
                FeedbackId::new(campaign, "b", "c", sender).is_err(),
                "{campaign} {sender}"
            );
        }
    }

    #[test]
    fn attribute_entities_are_decoded() {
        for (input, expected) in [
            ("a&amp;b", "a&b"),
            ("&lt;&gt;&quot;&#39;&#x41;", "<>\"'A"),
            ("a&b", "a&b"),
            ("&unknown;", "&unknown;"),
            ("&#xD800;", "&#xD800;"),
            ("tail&", "tail&"),
        ] {
            assert_eq!(unescape_attribute(input), expected, "{input}");
        }
    }
}
