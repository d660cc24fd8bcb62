//! Throughput of the send path: render a template, compose the MIME
//! message, DKIM-sign it and hand it to an SMTP server over a few pooled
//! connections, with caps and pacing off. `prospector-bench email` runs it
//! against a local aiosmtpd and prints the figures.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use url::Url;
use uuid::Uuid;

use super::{
    dkim::{DkimAlgorithm, DkimError, DkimSigner, keygen},
    language::Language,
    message::{Compose, ComposeError, FeedbackId, SenderIdentity, TrackingOptions, compose},
    smtp::{Security, SmtpConfig, SmtpSender, SmtpSetupError},
    template::{Placeholder, RenderError, Template, TemplateError, Values},
    tracking::{KeyRing, SendId, Tracker},
    transport::{OutgoingEmail, SendError, Transport},
};
use crate::domain::EmailAddress;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    /// Messages sent.
    pub messages: usize,
    /// The SMTP server (plain, loopback).
    pub smtp_addr: SocketAddr,
    /// Connections used at once.
    pub connections: u32,
    /// Key type.
    pub algorithm: DkimAlgorithm,
    /// Open pixel and click links on (more HTML work).
    pub tracking: bool,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct BenchFigures {
    /// Messages sent and accepted.
    pub messages: usize,
    /// SMTP connections used.
    pub connections: u32,
    /// DKIM key type.
    pub algorithm: DkimAlgorithm,
    /// Wall time of the whole run (render + compose + sign + send).
    pub elapsed: Duration,
    /// Messages per second over the run.
    pub per_second: f64,
    /// Render + compose + sign only, on one thread, messages per second.
    pub build_per_second: f64,
    /// Average signed message size.
    pub bytes_per_message: usize,
}

impl std::fmt::Display for BenchFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} messages ({:?} DKIM, {} connections) in {:.2} s: {:.0} sent/s; build only {:.0}/s on one thread; {} bytes each",
            self.messages,
            self.algorithm,
            self.connections,
            self.elapsed.as_secs_f64(),
            self.per_second,
            self.build_per_second,
            self.bytes_per_message
        )
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Key generation.
    #[error(transparent)]
    Dkim(#[from] DkimError),
    /// The template.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Rendering.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Composing.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The SMTP client.
    #[error(transparent)]
    Setup(#[from] SmtpSetupError),
    /// A send failed.
    #[error(transparent)]
    Send(#[from] SendError),
    /// A worker task died.
    #[error("a sender task failed: {0}")]
    Task(String),
}

struct Fixture {
    template: Template,
    tracker: Tracker,
    signer: DkimSigner,
    from: EmailAddress,
    identity: SenderIdentity,
    feedback: FeedbackId,
    tracking: TrackingOptions,
}

impl Fixture {
    fn new(algorithm: DkimAlgorithm, tracking: bool) -> Result<Self, BenchError> {
        let pem = match algorithm {
            DkimAlgorithm::Rsa => keygen::rsa_pem(2048)?,
            DkimAlgorithm::Ed25519 => keygen::ed25519_pem()?,
        };
        let key: [u8; 32] = rand::random();
        Ok(Self {
            template: Template::parse(
                "A new website for {business_name}",
                "Hello {business_name},\n\nwe looked at {domain} and found:\n{issues}\n\nHere is a preview of a new site: {preview_url}\n\n{sender_name}\n",
                Some(
                    "<!DOCTYPE html><html><body><p>Hello {business_name},</p><p>we looked at {domain} and found:</p><p>{issues}</p>\
                     <p><a href=\"{preview_url}\">See your new site</a></p><p>{sender_name}</p></body></html>",
                ),
            )?,
            tracker: Tracker::new(
                Url::parse("https://t.agency.example/").map_err(|e| BenchError::Task(e.to_string()))?,
                "bounce.agency.example",
                KeyRing::new(vec![key.to_vec()]).map_err(|e| BenchError::Task(e.to_string()))?,
            )
            .map_err(|e| BenchError::Task(e.to_string()))?,
            signer: DkimSigner::from_pem("bench", "agency.example", &pem)?,
            from: EmailAddress::parse("jane@agency.example").map_err(|e| BenchError::Task(e.to_string()))?,
            identity: SenderIdentity {
                name: "Jane Doe".into(),
                company: "Doe Web Studio".into(),
                postal_address: "12 rue de la Gare\nL-1611 Luxembourg".into(),
            },
            feedback: FeedbackId::new("bench", "step1", "outreach", "prospector")
                .map_err(|e| BenchError::Task(e.to_string()))?,
            tracking: TrackingOptions {
                open_pixel: tracking,
                click_links: tracking,
            },
        })
    }

    fn build(&self, i: usize) -> Result<OutgoingEmail, BenchError> {
        let send = SendId(Uuid::from_u128(
            0xbe4c_0000_0000_0000_0000_0000_0000_0000 | i as u128,
        ));
        let to = EmailAddress::parse(&format!("owner{i}@shop{}.example", i % 97))
            .map_err(|e| BenchError::Task(e.to_string()))?;
        let values = Values::new()
            .with(Placeholder::BusinessName, format!("Café Müller & Söhne {i}"))
            .with(Placeholder::Domain, format!("shop{i}.example"))
            .with(
                Placeholder::Issues,
                "- Your website is slow on a phone (performance score 31/100)\n- Your website is not secure (no HTTPS)",
            )
            .with(Placeholder::PreviewUrl, format!("https://preview.agency.example/s/{i}?ref=mail&v=2"))
            .with(Placeholder::SenderName, "Jane Doe");
        let rendered = self.template.render(&values)?;
        let composed = compose(&Compose {
            send,
            from: &self.from,
            from_name: "Jane Doe",
            reply_to: None,
            to: &to,
            to_name: None,
            rendered: &rendered,
            language: Language::En,
            identity: &self.identity,
            tracker: &self.tracker,
            tracking: self.tracking,
            feedback_id: &self.feedback,
            message_id_domain: "agency.example",
            in_reply_to: None,
            date: SystemTime::now(),
        })?;
        Ok(OutgoingEmail::new(composed, Some(&self.signer)))
    }
}

/// [`bench_send_with`] with 4 connections, RSA-2048 and tracking on.
pub async fn bench_send(n: usize, smtp_addr: SocketAddr) -> Result<BenchFigures, BenchError> {
    bench_send_with(BenchOptions {
        messages: n,
        smtp_addr,
        connections: 4,
        algorithm: DkimAlgorithm::Rsa,
        tracking: true,
    })
    .await
}

/// Build and send `messages` messages; key generation and the SMTP
/// client's setup are not timed.
pub async fn bench_send_with(options: BenchOptions) -> Result<BenchFigures, BenchError> {
    let fixture = Arc::new(Fixture::new(options.algorithm, options.tracking)?);

    // The CPU part alone, on this thread.
    let sample = options.messages.clamp(1, 500);
    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..sample {
        bytes += fixture.build(i)?.raw.len();
    }
    let build_per_second = sample as f64 / started.elapsed().as_secs_f64().max(1e-9);

    let sender = Arc::new(SmtpSender::new(&SmtpConfig {
        host: options.smtp_addr.ip().to_string(),
        port: options.smtp_addr.port(),
        security: Security::Plain,
        credentials: None,
        timeout: Duration::from_secs(30),
        pool_size: options.connections.max(1),
        hello_name: Some("bench.agency.example".into()),
        extra_root_certificates: None,
    })?);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.connections.max(1) {
        let (fixture, sender, next) = (fixture.clone(), sender.clone(), next.clone());
        let total = options.messages;
        workers.push(tokio::spawn(async move {
            let mut sent = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<usize, BenchError>(sent);
                }
                let email = fixture.build(i)?;
                sender.send(&email).await?;
                sent += 1;
            }
        }));
    }
    let mut messages = 0;
    for worker in workers {
        messages += worker.await.map_err(|e| BenchError::Task(e.to_string()))??;
    }
    let elapsed = started.elapsed();
    Ok(BenchFigures {
        messages,
        connections: options.connections.max(1),
        algorithm: options.algorithm,
        elapsed,
        per_second: messages as f64 / elapsed.as_secs_f64().max(1e-9),
        build_per_second,
        bytes_per_message: bytes / sample,
    })
}
