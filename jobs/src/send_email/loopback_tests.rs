//! End-to-end tests against the real servers of [`testing`](super::testing):
//! a message rendered, composed, signed and sent over SMTP (plain,
//! STARTTLS, SMTPS) to aiosmtpd and read back from its Maildir; SMTP
//! replies classified; messages appended to Dovecot read by the IMAP
//! reader (plain, STARTTLS, IMAPS) and classified.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
    time::{Duration, SystemTime},
};

use mail_parser::MessageParser;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::{
    dkim::{DkimSigner, keygen, verify},
    imap::{ImapError, ImapReader},
    inbound::{BounceClass, Inbound, classify},
    issues::issues_text,
    language::Language,
    message::{Compose, FeedbackId, SenderIdentity, TrackingOptions, compose},
    outbox::Outbox,
    smtp::{Security, SmtpConfig, SmtpSender},
    template::{Placeholder, Template, Values},
    testing::{Dovecot, SinkTls, SmtpSink},
    tracking::{KeyRing, SendId, Token, TokenKind, Tracker},
    transport::{OutgoingEmail, SendErrorKind, Transport},
};
use crate::{
    domain::EmailAddress,
    score::{FlagKind, ReasonFlag, Rule, algorithm::Evidence},
};

fn rsa_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| keygen::rsa_pem(2048).unwrap())
}

fn tracker() -> Tracker {
    Tracker::new(
        Url::parse("https://t.agency.example/").unwrap(),
        "bounce.agency.example",
        KeyRing::new(vec![vec![0x42; 32]]).unwrap(),
    )
    .unwrap()
}

fn flag(rule: Rule, title: &str, data: serde_json::Value) -> ReasonFlag {
    ReasonFlag {
        code: rule.code().into(),
        component: rule.component(),
        kind: FlagKind::Problem,
        points: rule.default_points(),
        title: title.into(),
        evidence: Evidence {
            source: "audit".into(),
            observed: "seen".into(),
            data,
        },
    }
}

/// A template rendered with real `{issues}`, composed with tracking, and
/// signed: what the send job will do.
fn signed_message(send: SendId, to: &str, signer: &DkimSigner) -> (OutgoingEmail, Vec<Url>) {
    let tracker = tracker();
    let template = Template::parse(
        "A new website for {business_name}",
        "Hello {business_name},\n\nwe looked at {domain}:\n{issues}\n\nYour preview: {preview_url}\n\n{sender_name}\n",
        Some(
            "<html><body><p>Hello {business_name},</p><p>we looked at {domain}:</p><p>{issues}</p>\
             <p><a href=\"{preview_url}\">Your preview</a></p><p>{sender_name}</p></body></html>",
        ),
    )
    .unwrap();
    let flags = vec![
        flag(
            Rule::PerformancePoor,
            "Your website is slow on a phone",
            json!({ "score": 28, "lcp_ms": 7100, "form_factor": "mobile" }),
        ),
        flag(Rule::NoHttps, "Your website is not secure (no HTTPS)", json!({})),
    ];
    let values = Values::new()
        .with(Placeholder::BusinessName, "Café Müller")
        .with(Placeholder::Domain, "cafe-mueller.lu")
        .with(Placeholder::Issues, issues_text(&flags, Language::En, 3))
        .with(
            Placeholder::PreviewUrl,
            "https://preview.agency.example/cafe-mueller?v=1&src=mail",
        )
        .with(Placeholder::SenderName, "Jane Doe")
        .with(
            Placeholder::UnsubscribeUrl,
            tracker.unsubscribe_url(send).to_string(),
        );
    let rendered = template.render(&values).unwrap();
    let from = EmailAddress::parse("jane@agency.example").unwrap();
    let to = EmailAddress::parse(to).unwrap();
    let composed = compose(&Compose {
        send,
        from: &from,
        from_name: "Jane Doe",
        reply_to: None,
        to: &to,
        to_name: Some("Anna Müller"),
        rendered: &rendered,
        language: Language::En,
        identity: &SenderIdentity {
            name: "Jane Doe".into(),
            company: "Doe Web Studio SARL".into(),
            postal_address: "12 rue de la Gare\nL-1611 Luxembourg".into(),
        },
        tracker: &tracker,
        tracking: TrackingOptions {
            open_pixel: true,
            click_links: true,
        },
        feedback_id: &FeedbackId::new("tpl1", "step0", "outreach", "prospector").unwrap(),
        message_id_domain: "agency.example",
        in_reply_to: None,
        date: SystemTime::now(),
    })
    .unwrap();
    let links = composed.links.0.clone();
    (OutgoingEmail::new(composed, Some(signer)), links)
}

fn plain_config(sink: &SmtpSink) -> SmtpConfig {
    SmtpConfig {
        host: sink.addr().ip().to_string(),
        port: sink.addr().port(),
        security: Security::Plain,
        credentials: None,
        timeout: Duration::from_secs(10),
        pool_size: 2,
        hello_name: Some("agency.example".into()),
        extra_root_certificates: None,
    }
}

fn header<'a>(message: &'a mail_parser::Message<'a>, name: &str) -> String {
    message
        .header_raw(name)
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_rendered_message_arrives_over_smtp_with_its_headers_and_a_valid_signature() {
    // Arrange
    let sink = SmtpSink::start().await.unwrap();
    let signer = DkimSigner::from_pem("s2026", "agency.example", rsa_pem()).unwrap();
    let send = SendId(Uuid::new_v4());
    let (email, links) = signed_message(send, "owner@cafe-mueller.lu", &signer);
    let sender = SmtpSender::new(&plain_config(&sink)).unwrap();

    // Act
    let accepted = sender.send(&email).await.unwrap();

    // Assert: the server's reply, then the stored message.
    assert!(accepted.reply.starts_with("250"), "{}", accepted.reply);
    let stored = sink.wait_for(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(stored.len(), 1);
    let raw = &stored[0];
    let parsed = MessageParser::new().parse(raw).unwrap();
    let tracker = tracker();
    assert_eq!(parsed.message_id(), Some(email.message_id.as_str()));
    assert_eq!(parsed.subject(), Some("A new website for Café Müller"));
    assert_eq!(
        header(&parsed, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(header(&parsed, "Feedback-ID"), "tpl1:step0:outreach:prospector");
    assert!(header(&parsed, "List-Unsubscribe").contains(tracker.unsubscribe_url(send).as_str()));
    // The envelope, as aiosmtpd recorded it: the VERP sender.
    let mail_from = header(&parsed, "X-MailFrom");
    assert_eq!(
        tracker.token_of_address(&mail_from),
        Some(Token::new(send, TokenKind::Bounce))
    );
    assert_eq!(header(&parsed, "X-RcptTo"), "owner@cafe-mueller.lu");
    // Body: issues, footer, tracked link.
    let text = parsed.body_text(0).unwrap();
    assert!(
        text.contains("- Your website is slow on a phone (performance score 28/100"),
        "{text}"
    );
    assert!(text.contains("L-1611 Luxembourg"));
    let html = parsed.body_html(0).unwrap();
    assert_eq!(
        links[0].as_str(),
        "https://preview.agency.example/cafe-mueller?v=1&src=mail"
    );
    assert!(html.contains(tracker.click_url(send, 0).as_str()), "{html}");
    assert!(html.contains(tracker.open_url(send).as_str()));
    // DKIM still verifies after the trip through a real server.
    let outcome = verify::verify(raw, &signer.dns_name(), &signer.dns_record()).await;
    assert_eq!(outcome, verify::Outcome::Pass("agency.example".into()));
}

#[tokio::test]
async fn several_messages_go_out_over_pooled_connections() {
    let sink = SmtpSink::start().await.unwrap();
    let signer = DkimSigner::from_pem("s1", "agency.example", &keygen::ed25519_pem().unwrap()).unwrap();
    let sender = SmtpSender::new(&plain_config(&sink)).unwrap();
    let emails: Vec<OutgoingEmail> = (0..6)
        .map(|i| {
            signed_message(
                SendId(Uuid::from_u128(i)),
                &format!("owner{i}@shop.example"),
                &signer,
            )
            .0
        })
        .collect();
    let results = futures::future::join_all(emails.iter().map(|e| sender.send(e))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let stored = sink.wait_for(6, Duration::from_secs(10)).await.unwrap();
    let mut ids: Vec<String> = stored
        .iter()
        .map(|raw| {
            MessageParser::new()
                .parse(raw)
                .unwrap()
                .message_id()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = emails.iter().map(|e| e.message_id.clone()).collect();
    expected.sort();
    assert_eq!(ids, expected);
    // aiosmtpd records the client's address and port: at most `pool_size`
    // (2) connections carried the six messages.
    let mut peers: Vec<String> = stored
        .iter()
        .map(|raw| header(&MessageParser::new().parse(raw).unwrap(), "X-Peer"))
        .collect();
    peers.sort();
    peers.dedup();
    assert!((1..=2).contains(&peers.len()), "{peers:?}");
    // Sent one after the other, messages reuse a parked connection.
    for i in 10..13 {
        let (email, _) = signed_message(SendId(Uuid::from_u128(i)), "later@shop.example", &signer);
        sender.send(&email).await.unwrap();
    }
    let stored = sink.wait_for(9, Duration::from_secs(10)).await.unwrap();
    let later: Vec<String> = stored[6..]
        .iter()
        .map(|raw| header(&MessageParser::new().parse(raw).unwrap(), "X-Peer"))
        .collect();
    assert!(
        later.iter().all(|p| peers.contains(p)),
        "{later:?} reuses {peers:?}"
    );
    for raw in &stored {
        let outcome = verify::verify(raw, &signer.dns_name(), &signer.dns_record()).await;
        assert!(matches!(outcome, verify::Outcome::Pass(_)), "{outcome:?}");
    }
}

#[tokio::test]
async fn smtp_replies_are_classified_permanent_or_transient_with_their_text() {
    let sink = SmtpSink::start_rejecting().await.unwrap();
    let signer = DkimSigner::from_pem("s1", "agency.example", &keygen::ed25519_pem().unwrap()).unwrap();
    let sender = SmtpSender::new(&plain_config(&sink)).unwrap();

    let (rejected, _) = signed_message(SendId(Uuid::from_u128(1)), "reject@shop.example", &signer);
    let err = sender.send(&rejected).await.unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Rejected, "{err}");
    assert_eq!(err.code, Some(550));
    assert!(err.message.contains("User unknown"), "{err}");
    assert!(err.is_permanent());

    let (deferred, _) = signed_message(SendId(Uuid::from_u128(2)), "defer@shop.example", &signer);
    let err = sender.send(&deferred).await.unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Deferred, "{err}");
    assert_eq!(err.code, Some(451));
    assert!(err.message.contains("try again later"), "{err}");
    assert!(!err.is_permanent());

    // The connection still works for a good recipient.
    let (fine, _) = signed_message(SendId(Uuid::from_u128(3)), "owner@shop.example", &signer);
    sender.send(&fine).await.unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.unwrap().len(), 1);

    // Nothing listening: a transient connection error.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let nobody = SmtpSender::new(&SmtpConfig {
        port: closed,
        ..plain_config(&sink)
    })
    .unwrap();
    let err = nobody.send(&fine).await.unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Connection, "{err}");
    assert!(!err.is_permanent());
}

#[tokio::test]
async fn smtp_auth_is_used_and_a_refused_login_pauses_the_mailbox() {
    let sink = SmtpSink::start_with_auth("jane", "s3cret").await.unwrap();
    let signer = DkimSigner::from_pem("s1", "agency.example", &keygen::ed25519_pem().unwrap()).unwrap();
    let (email, _) = signed_message(SendId(Uuid::new_v4()), "owner@shop.example", &signer);
    let with = |user: Option<(&str, &str)>| {
        SmtpSender::new(&SmtpConfig {
            credentials: user.map(|(u, p)| (u.to_owned(), p.to_owned().into())),
            ..plain_config(&sink)
        })
        .unwrap()
    };

    with(Some(("jane", "s3cret"))).send(&email).await.unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.unwrap().len(), 1);

    let err = with(Some(("jane", "wrong"))).send(&email).await.unwrap_err();
    assert_eq!((err.kind, err.code), (SendErrorKind::Auth, Some(535)), "{err}");
    assert!(err.pauses_mailbox() && !err.is_permanent());
    let err = with(None).send(&email).await.unwrap_err();
    assert_eq!((err.kind, err.code), (SendErrorKind::Auth, Some(530)), "{err}");
}

/// A CA and a certificate for `localhost` / 127.0.0.1 signed by it, as PEM
/// files.
struct TestPki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn pki() -> TestPki {
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Prospector test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    TestPki {
        ca: write("ca.pem", ca.pem()),
        cert: write("cert.pem", leaf.pem()),
        key: write("key.pem", leaf_key.serialize_pem()),
        _dir: dir,
    }
}

async fn send_over_tls(tls: SinkTls, security: Security, ca: Option<&Path>) -> Result<usize, SendErrorKind> {
    let sink = SmtpSink::start_with(tls).await.unwrap();
    let signer = DkimSigner::from_pem("s1", "agency.example", &keygen::ed25519_pem().unwrap()).unwrap();
    let sender = SmtpSender::new(&SmtpConfig {
        host: "localhost".into(),
        security,
        extra_root_certificates: ca.map(Path::to_path_buf),
        ..plain_config(&sink)
    })
    .unwrap();
    let (email, _) = signed_message(SendId(Uuid::new_v4()), "owner@shop.example", &signer);
    sender.send(&email).await.map_err(|e| e.kind)?;
    Ok(sink.wait_for(1, Duration::from_secs(10)).await.unwrap().len())
}

#[tokio::test]
async fn starttls_and_implicit_tls_work_with_a_trusted_ca_and_fail_without() {
    let pki = pki();
    let starttls = || SinkTls::Starttls {
        cert: pki.cert.clone(),
        key: pki.key.clone(),
    };
    let implicit = || SinkTls::Implicit {
        cert: pki.cert.clone(),
        key: pki.key.clone(),
    };
    assert_eq!(
        send_over_tls(starttls(), Security::Starttls, Some(&pki.ca)).await,
        Ok(1)
    );
    assert_eq!(
        send_over_tls(implicit(), Security::Tls, Some(&pki.ca)).await,
        Ok(1)
    );
    // Unknown CA: a TLS error that pauses the mailbox, not a rejection.
    let err = send_over_tls(starttls(), Security::Starttls, None)
        .await
        .unwrap_err();
    assert_eq!(err, SendErrorKind::Tls);
    let err = send_over_tls(implicit(), Security::Tls, None).await.unwrap_err();
    assert_eq!(err, SendErrorKind::Tls);
}

#[tokio::test]
async fn the_outbox_keeps_a_verifiable_message() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).unwrap();
    let signer = DkimSigner::from_pem("s1", "agency.example", rsa_pem()).unwrap();
    let send = SendId(Uuid::new_v4());
    let (email, _) = signed_message(send, "owner@cafe-mueller.lu", &signer);
    outbox.send(&email).await.unwrap();
    let raw = std::fs::read(dir.path().join(format!("{}.eml", email.message_id))).unwrap();
    let parsed = MessageParser::new().parse(&raw).unwrap();
    assert_eq!(
        tracker().token_of_address(parsed.return_address().unwrap()),
        Some(Token::new(send, TokenKind::Bounce))
    );
    let outcome = verify::verify(&raw, &signer.dns_name(), &signer.dns_record()).await;
    assert_eq!(outcome, verify::Outcome::Pass("agency.example".into()));
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/src/send_email/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The tracker the fixtures' VERP addresses were signed with.
fn fixture_tracker() -> Tracker {
    Tracker::new(
        Url::parse("https://t.agency.example/").unwrap(),
        "bounce.agency.example",
        KeyRing::new(vec![vec![0x5a; 32]]).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn messages_in_dovecot_are_fetched_by_uid_classified_and_moved() {
    // Arrange: a reply, a DSN, an ARF report and garbage in the INBOX.
    let dovecot = Dovecot::start().await.unwrap();
    for name in ["reply.eml", "postfix_user_unknown.eml", "arf_complaint.eml"] {
        dovecot.append("INBOX", &fixture(name)).await.unwrap();
    }
    dovecot
        .append("INBOX", b"\x00\x01 not a message at all \xff\xfe\r\n")
        .await
        .unwrap();
    let mut config = dovecot.config();
    config.processed_folder = Some("Processed".into());

    // Act: read everything after UID 0, in two pages.
    let mut reader = ImapReader::connect(&config).await.unwrap();
    assert!(reader.uid_validity().is_some());
    let first = reader.fetch_after(0, 3).await.unwrap();
    let rest = reader.fetch_after(first.last().unwrap().uid, 10).await.unwrap();
    let nothing = reader.fetch_after(rest.last().unwrap().uid, 10).await.unwrap();

    // Assert: UIDs in order, the raw bytes as appended, and the classes.
    let uids: Vec<u32> = first.iter().chain(&rest).map(|m| m.uid).collect();
    assert_eq!(uids, [1, 2, 3, 4]);
    assert!(
        nothing.is_empty(),
        "UID n:* must not return the last message again"
    );
    let kinds: Vec<Inbound> = first
        .iter()
        .chain(&rest)
        .map(|m| classify(&m.raw, &fixture_tracker()).kind)
        .collect();
    assert!(matches!(kinds[0], Inbound::Reply(_)), "{:?}", kinds[0]);
    assert!(
        matches!(&kinds[1], Inbound::Bounce(b) if b.class == BounceClass::Hard && b.recipient.as_deref() == Some("jane@shop.gt")),
        "{:?}",
        kinds[1]
    );
    assert!(
        matches!(&kinds[2], Inbound::Complaint(c) if c.feedback_type == "abuse"),
        "{:?}",
        kinds[2]
    );
    assert_eq!(kinds[3], Inbound::Other);
    let bounce = classify(&first[1].raw, &fixture_tracker());
    assert_eq!(
        bounce.correlation.token,
        Some(Token::new(
            SendId(Uuid::parse_str("7f3c2a10-5b8e-4c1d-9a6f-2e4b8c0d1f35").unwrap()),
            TokenKind::Bounce
        ))
    );

    // Act: done with the first three.
    reader.finish(&uids[..3]).await.unwrap();
    reader.logout().await.unwrap();

    // Assert: moved out of the INBOX; a new session sees only the fourth.
    assert_eq!(dovecot.maildir_files("Processed").len(), 3);
    let mut again = ImapReader::connect(&dovecot.config()).await.unwrap();
    let left = again.fetch_after(0, 10).await.unwrap();
    assert_eq!(left.iter().map(|m| m.uid).collect::<Vec<_>>(), [4]);
    again.logout().await.unwrap();
}

#[tokio::test]
async fn without_a_processed_folder_messages_are_marked_seen() {
    let dovecot = Dovecot::start().await.unwrap();
    dovecot
        .append("INBOX", &fixture("out_of_office.eml"))
        .await
        .unwrap();
    let mut reader = ImapReader::connect(&dovecot.config()).await.unwrap();
    let fetched = reader.fetch_after(0, 10).await.unwrap();
    assert!(matches!(
        classify(&fetched[0].raw, &fixture_tracker()).kind,
        Inbound::AutoReply { .. }
    ));
    // Fetching uses BODY.PEEK: not seen yet.
    assert!(
        dovecot.maildir_files("INBOX").iter().all(|f| !f.contains(":2,S")),
        "{:?}",
        dovecot.maildir_files("INBOX")
    );
    reader.finish(&[fetched[0].uid]).await.unwrap();
    reader.logout().await.unwrap();
    let files = dovecot.maildir_files("INBOX");
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with(":2,S"), "{files:?}");
}

#[tokio::test]
async fn a_wrong_password_is_a_login_error_that_needs_attention() {
    let dovecot = Dovecot::start().await.unwrap();
    let mut config = dovecot.config();
    config.password = "wrong".to_owned().into();
    let err = ImapReader::connect(&config).await.unwrap_err();
    assert!(matches!(err, ImapError::Login { .. }), "{err}");
    assert!(err.needs_attention());
    assert!(!err.to_string().contains("wrong"), "no password in errors: {err}");
}

#[tokio::test]
async fn imap_over_starttls_and_imaps() {
    let pki = pki();
    let dovecot = Dovecot::start_with(Some((&pki.cert, &pki.key))).await.unwrap();
    dovecot.append("INBOX", &fixture("reply.eml")).await.unwrap();
    for (security, port) in [
        (Security::Starttls, dovecot.imap_port()),
        (Security::Tls, dovecot.imaps_port().unwrap()),
    ] {
        let mut config = dovecot.config();
        config.host = "localhost".into();
        config.port = port;
        config.security = security;
        config.extra_root_certificates = Some(pki.ca.clone());
        let mut reader = ImapReader::connect(&config).await.unwrap();
        let fetched = reader.fetch_after(0, 10).await.unwrap();
        assert_eq!(fetched.len(), 1, "{security:?}");
        assert!(matches!(
            classify(&fetched[0].raw, &fixture_tracker()).kind,
            Inbound::Reply(_)
        ));
        reader.logout().await.unwrap();
        // Without the CA the handshake fails.
        config.extra_root_certificates = None;
        let err = ImapReader::connect(&config).await.unwrap_err();
        assert!(matches!(err, ImapError::Tls(_)), "{security:?}: {err}");
    }
}

#[tokio::test]
async fn the_benchmark_sends_what_it_says() {
    let sink = SmtpSink::start().await.unwrap();
    let figures = super::bench::bench_send_with(super::bench::BenchOptions {
        messages: 12,
        smtp_addr: sink.addr(),
        connections: 3,
        algorithm: super::dkim::DkimAlgorithm::Ed25519,
        tracking: true,
    })
    .await
    .unwrap();
    assert_eq!(figures.messages, 12);
    assert_eq!(
        sink.wait_for(12, Duration::from_secs(10)).await.unwrap().len(),
        12
    );
    assert!(figures.per_second > 0.0 && figures.build_per_second > 0.0);
    assert!(figures.bytes_per_message > 1000, "{figures}");
}
