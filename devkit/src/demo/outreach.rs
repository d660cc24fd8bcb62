//! The demo's outreach: the leads with a preview site get the first e-mail
//! of a campaign, through the real `send_email` stage, into a local outbox
//! (`.eml` files; no mail server). Luxembourg's compliance profile needs
//! prior consent for cold e-mail, so only the lead who asked for a quote
//! (consent recorded) is e-mailed; the others are routed to the phone.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use base64::Engine;
use chrono::{NaiveTime, Weekday};
use prospector::{application::Application, config::Settings};
use prospector_jobs::send_email::{
    SendEmail,
    campaign::{self, CampaignSpec, LeadFilter, StepSpec},
    settings::TransportKind,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Where the demo's messages are written.
pub const OUTBOX: &str = ".local/demo-outbox";
const TEMPLATE: &str = "demo-first-touch";
/// The lead met in person who asked for a quote: consent is recorded.
const CONSENTING: &str = "Épicerie Fine Thill";

/// Outbox transport, a fresh tracking key, tracking on the web role at
/// `web`, and a mailbox window that is always open (the demo runs at any
/// hour).
pub fn configure(settings: &mut Settings, web: std::net::SocketAddr) -> anyhow::Result<()> {
    let key: [u8; 32] = rand::random();
    let e = settings.of_mut::<SendEmail>();
    e.transport.kind = TransportKind::Outbox;
    e.transport.outbox_dir = Some(PathBuf::from(OUTBOX));
    let name = e.tracking.key_env.clone();
    e.secrets
        .set(name, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key));
    e.tracking.base_url = url::Url::parse(&format!("http://{web}/t/")).context("tracking URL")?;
    for mailbox in &mut e.mailboxes {
        mailbox.daily_cap = 1_000;
        mailbox.min_gap = Duration::ZERO;
        mailbox.max_jitter = Duration::ZERO;
        mailbox.window.start = NaiveTime::MIN;
        mailbox.window.end = NaiveTime::from_hms_opt(23, 59, 0).context("time")?;
        mailbox.window.days = vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
    }
    Ok(())
}

/// Start the campaign over `ids` (leads with a ready preview), wait for
/// its sends and print what happened and one rendered e-mail.
pub async fn run(app: &Application, ids: &[i64], stop: CancellationToken) -> anyhow::Result<()> {
    let pool = &app.pool;
    sqlx::query(
        "INSERT INTO campaign_templates (name, language, subject_template, body_template)
         VALUES ($1, 'en', 'A new website for {business_name}',
                 'Hello {business_name},\n\nWe built a website for you: {preview_url}\nHere is how it looks: {screenshot_url}\n\nIf you like it, it can be yours this week.\n\n{sender_name}, {sender_company}\n{sender_address}\n\nNo more e-mails from us: {unsubscribe_url}\n')
         ON CONFLICT (name, language) DO NOTHING",
    )
    .bind(TEMPLATE)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO prospect_consents (prospect_id, channel, source)
         SELECT id, 'email', 'asked for a quote at the Wiltz market (demo)' FROM prospects
         WHERE business_name = $1 AND id = ANY($2)
           AND NOT EXISTS (SELECT 1 FROM prospect_consents c WHERE c.prospect_id = prospects.id)",
    )
    .bind(CONSENTING)
    .bind(ids)
    .execute(pool)
    .await?;
    let spec = CampaignSpec {
        name: "demo: preview sites".into(),
        steps: vec![StepSpec {
            template: TEMPLATE.into(),
            after_business_days: 0,
        }],
        filter: LeadFilter {
            has_site: true,
            prospects: Some(ids.to_vec()),
            ..LeadFilter::default()
        },
    };
    let started = campaign::start(pool, &app.enqueuer, &spec).await?;
    println!(
        "\nOutreach campaign {}: {} leads with a preview site → send_email",
        started.campaign_id, started.leads
    );
    if started.leads == 0 {
        return Ok(());
    }
    wait_for_sends(pool, started.campaign_id, started.leads, stop).await?;
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT p.business_name, c.channel, c.status, c.lawful_basis FROM campaigns c
         JOIN prospects p ON p.id = c.prospect_id
         WHERE c.outreach_campaign_id = $1 ORDER BY p.id",
    )
    .bind(started.campaign_id)
    .fetch_all(pool)
    .await?;
    for (name, channel, status, basis) in rows {
        let basis = basis.map(|b| format!(", lawful basis: {b}")).unwrap_or_default();
        println!("  {name}: {channel} {status}{basis}");
    }
    match newest_message(std::path::Path::new(OUTBOX))? {
        Some((path, text)) => {
            println!("\nThe e-mail, as written to {}:\n", path.display());
            let shown: String = text.lines().take(60).collect::<Vec<_>>().join("\n");
            println!("{shown}\n");
        }
        None => println!("  (no message in {OUTBOX})"),
    }
    Ok(())
}

async fn wait_for_sends(
    pool: &PgPool,
    campaign_id: i64,
    expected: usize,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM campaigns WHERE outreach_campaign_id = $1
             AND status NOT IN ('sending', 'scheduled')",
        )
        .bind(campaign_id)
        .fetch_one(pool)
        .await?;
        if usize::try_from(done).unwrap_or(0) >= expected {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the outreach sends did not finish within 2 minutes ({done} of {expected})");
        }
        tokio::select! {
            () = stop.cancelled() => anyhow::bail!("stopped"),
            () = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
    }
}

/// The most recent `.eml` in `dir`, decoded as text.
fn newest_message(dir: &std::path::Path) -> anyhow::Result<Option<(PathBuf, String)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let newest = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max();
    match newest {
        Some((_, path)) => {
            let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
            Ok(Some((path, text)))
        }
        None => Ok(None),
    }
}
