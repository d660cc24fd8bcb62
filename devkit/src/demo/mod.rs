//! The local demo (`prospector-demo`, run by `scripts/demo`): sample sites on
//! loopback, the sample leads imported, the pipeline run on them, and a
//! ranked table.
//!
//! The sample leads' domains end in `.example` (reserved, never real). The
//! demo maps each to its local site with `tech_scan.resolve` (loopback
//! allowed; the audit hands the same pins to Chromium), so the
//! real stages run unchanged. `menuiserie-klein.example` maps to a closed
//! port: a lead whose website does not answer.
//!
//! The leads with a preview get an outreach e-mail in a local outbox
//! ([`outreach`]), and payments go to a local Recurrente-compatible server
//! ([`billing`]): a demo business claims its preview, pays both checkouts,
//! and goes live.

pub mod billing;
pub mod outreach;
pub mod sites;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use prospector::commands::roles::RunHook;
use prospector_jobs::{
    Branch, ScanTech, Stage,
    public_urls::PublicUrls,
    scan_jobs::{self, BatchKind},
    screenshot::{CaptureScreenshot, MediaStoreConfig},
    tech_scan::fetch::ResolveOverride,
};
use secrecy::SecretString;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use sites::DemoSite;

use prospector::{
    application::Application,
    batches::{self, ProspectFilter},
    config::Settings,
    import::{self, ImportFormat, RowDefaults},
};

const SAMPLE: &str = include_str!("../../../demo/sample-leads.csv");

/// The sample lead without a working website.
const UNREACHABLE: &str = "menuiserie-klein.example";

/// The running demo sites.
#[derive(Debug, Clone)]
pub struct Demo {
    sites: Vec<DemoSite>,
    closed: SocketAddr,
    recurrente: Arc<prospector_jobs::billing::local_server::RunningLocalRecurrente>,
    webhook_secret: prospector_jobs::billing::SigningSecret,
}

impl Demo {
    /// Serve the sample sites on loopback.
    pub async fn start(stop: CancellationToken) -> anyhow::Result<Self> {
        let sites = sites::serve(stop).await?;
        // A port that was free a moment ago: connections are refused.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await?.local_addr()?;
        let webhook_secret = billing::new_secret()?;
        let recurrente = Arc::new(billing::start_recurrente(webhook_secret.clone()).await?);
        Ok(Self {
            sites,
            closed,
            recurrente,
            webhook_secret,
        })
    }

    /// The sites and where they listen.
    pub fn sites(&self) -> &[DemoSite] {
        &self.sites
    }

    /// Point the stages at the local sites: fixed addresses for the tech
    /// scan and the audit's Chromium (loopback allowed, no DNS record lookups
    /// for `.example`); and an admin token for this run when none is configured
    /// (returned, to print).
    pub fn configure(&self, settings: &mut Settings) -> Option<String> {
        let tech = settings.of_mut::<ScanTech>();
        for site in &self.sites {
            // The domain and its subdomains (`www.`: leads keep the URL
            // they were imported with).
            for host in [site.domain.clone(), format!("*.{}", site.domain)] {
                tech.resolve.push(ResolveOverride {
                    host,
                    addr: site.address,
                });
            }
        }
        tech.resolve.push(ResolveOverride {
            host: UNREACHABLE.to_owned(),
            addr: self.closed,
        });
        if let Ok(loopback) = "127.0.0.0/8".parse() {
            tech.allow_networks.push(loopback);
        }
        tech.dns_records = false;
        // Screenshots of the demo's sites stay in the checkout's scratch space.
        settings.of_mut::<CaptureScreenshot>().store = MediaStoreConfig::Local {
            dir: ".local/demo-media".into(),
        };
        let tech = settings.of_mut::<ScanTech>();
        tech.per_host_delay = Duration::from_millis(200);

        billing::configure(settings, &self.recurrente, self.webhook_secret.to_whsec());
        let web = settings.admin.bind;
        if let Err(e) = outreach::configure(settings, web) {
            tracing::warn!(error = %e, "the demo's outreach could not be configured");
        }

        if settings.admin.token.is_some() {
            return None;
        }
        let token = format!("demo-{}", ulid::Ulid::new().to_string().to_lowercase());
        settings.admin.token = Some(SecretString::from(token.clone()));
        Some(token)
    }

    /// Import the sample leads, run them through the pipeline, print the
    /// ranked prospects and where to look next.
    pub async fn run(
        &self,
        app: &Application,
        address: SocketAddr,
        token: Option<&str>,
    ) -> anyhow::Result<()> {
        println!("\nDemo sites on loopback:");
        for site in &self.sites {
            println!("  http://{}/  →  {}", site.domain, site.address);
        }
        println!("  http://{UNREACHABLE}/  →  nothing (does not answer)");

        let defaults = RowDefaults {
            channel: None,
            source: "demo".into(),
            tags: vec!["demo".into()],
            country: app.settings.import.default_country,
        };
        let report = import::import_text(
            &app.pool,
            "demo/sample-leads.csv",
            SAMPLE,
            ImportFormat::Csv,
            &defaults,
            app.settings.import.chunk_size,
            &import::Silent,
        )
        .await?;
        println!(
            "\nImported the sample leads (batch {}): {} new, {} updated, {} rejected.",
            report.scan_job_id,
            report.inserted,
            report.updated,
            report.rejected.len()
        );
        let ids = import::imported_prospects(&app.pool, report.scan_job_id).await?;
        let filter = ProspectFilter {
            ids: Some(ids.clone()),
            ..ProspectFilter::default()
        };
        let digital = batches::start_batch(
            &app.pool,
            &app.enqueuer,
            BatchKind::Scan,
            &filter,
            &Branch::Digital.stages(),
            "demo: the sample leads with a domain",
        )
        .await?;
        let mut batches = vec![digital.scan_job_id];
        println!(
            "Batch {}: {} leads → tech_scan → audit → score",
            digital.scan_job_id, digital.prospects
        );
        match batches::start_batch(
            &app.pool,
            &app.enqueuer,
            BatchKind::Scan,
            &ProspectFilter {
                ids: Some(offline_ids(&app.pool, &ids).await?),
                ..ProspectFilter::default()
            },
            &[Stage::Score],
            "demo: the sample leads met in person",
        )
        .await
        {
            Ok(offline) => {
                println!(
                    "Batch {}: {} leads → score",
                    offline.scan_job_id, offline.prospects
                );
                batches.push(offline.scan_job_id);
            }
            Err(batches::ScanError::NothingToScan) => {}
            Err(e) => return Err(e.into()),
        }

        println!("\nRunning the pipeline (Lighthouse takes a few seconds per site)…");
        wait_for_batches(&app.pool, &batches, app.shutdown.stop.clone()).await?;

        // The leads without a working website get a preview site: built,
        // gated by Lighthouse, captured.
        let without_site = no_site_ids(&app.pool, &ids).await?;
        let sites = batches::start_build_batch(
            &app.pool,
            &app.enqueuer,
            &ProspectFilter {
                ids: Some(without_site),
                ..ProspectFilter::default()
            },
            None,
            "demo: preview sites for the leads without a working website",
        )
        .await?;
        println!(
            "\nBatch {}: {} leads without a working website → build_site → audit (quality gate) → screenshot",
            sites.scan_job_id, sites.prospects
        );
        wait_for_batches(&app.pool, &[sites.scan_job_id], app.shutdown.stop.clone()).await?;
        println!("\n{}", sites_table(&app.pool, &app.settings.web).await?);

        // Outreach: the leads with a preview get its first e-mail (outbox).
        outreach::run(app, &ids, app.shutdown.stop.clone()).await?;

        match billing::claimable_site(&app.pool).await? {
            Some(site) => {
                billing::claim_and_pay(&app.pool, &app.settings.web, address, &self.recurrente, &site)
                    .await?;
                match app.settings.admin.token.as_ref() {
                    Some(token) => {
                        use secrecy::ExposeSecret as _;
                        // A step that does not complete is reported, and the
                        // demo goes on.
                        if let Err(e) = billing::ask_for_change(
                            &app.pool,
                            &app.settings.web,
                            address,
                            &site,
                            token.expose_secret(),
                        )
                        .await
                        {
                            println!("  the change request did not complete: {e:#}");
                        }
                    }
                    None => println!("\nNo admin token: the change-request step is skipped."),
                }
            }
            None => println!("\nNo preview site to claim."),
        }

        let today = chrono::Utc::now()
            .with_timezone(&app.settings.analytics().time_zone)
            .date_naive();
        let mut conn = app.pool.acquire().await?;
        app.enqueuer
            .enqueue(&mut conn, &prospector_jobs::SnapshotAnalytics { date: today })
            .await?;
        drop(conn);

        println!("\n{}", ranked_table(&app.pool).await?);
        let (login, password) = console_login(&app.pool).await?;
        println!("Prospector is running. Look around:");
        println!("  http://{address}/console/           the console: sign in as {login}");
        println!("                                      with the one-off password {password}");
        println!(
            "  http://{address}/api/prospects      ranked prospects (Authorization: Bearer <admin token>)"
        );
        println!(
            "  http://{address}/api/prospects/ID   one prospect: tech, audit, score, reasons with evidence"
        );
        println!("  http://{address}/api/status         queues, workers, batches");
        println!("  http://{address}/metrics            Prometheus (no token)");
        if let Some(token) = token {
            println!("\nDemo admin token (this run only): {token}");
            println!("  curl -H 'Authorization: Bearer {token}' http://{address}/api/prospects");
        }
        println!("\nPress Ctrl-C to stop.\n");
        Ok(())
    }
}

/// A console owner for this run: created, or given a new password when an
/// earlier run made it (the old password and sessions stop working).
async fn console_login(pool: &PgPool) -> anyhow::Result<(&'static str, String)> {
    use prospector::console::{Role, UserError, generated_password, users};
    const LOGIN: &str = "demo@prospector.localhost";
    let password = generated_password();
    match users::create(pool, LOGIN, Some("Demo owner"), Role::Owner, password.clone()).await {
        Ok(_) => {}
        Err(UserError::Exists(_)) => {
            users::set_password(pool, LOGIN, password.clone()).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok((LOGIN, password))
}

async fn offline_ids(pool: &PgPool, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM prospects WHERE id = ANY($1) AND domain_name IS NULL ORDER BY id",
        ids
    )
    .fetch_all(pool)
    .await
}

async fn no_site_ids(pool: &PgPool, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM prospects WHERE id = ANY($1) AND has_website IS NOT TRUE ORDER BY id",
        ids
    )
    .fetch_all(pool)
    .await
}

async fn sites_table(pool: &PgPool, urls: &PublicUrls) -> Result<String, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT p.business_name, s.preview_token AS "token!", s.status, s.screenshot_desktop_url,
               s.screenshot_mobile_url, v.gate_status AS "gate?", v.gate_reason,
               v.performance_score, v.accessibility_score, v.best_practices_score, v.seo_score
        FROM generated_sites s
        JOIN prospects p ON p.public_id = s.business_id
        LEFT JOIN site_versions v ON v.id = s.current_version_id
        WHERE p.tags ? 'demo'
        ORDER BY p.id
        "#
    )
    .fetch_all(pool)
    .await?;
    let mut out =
        String::from("Preview sites (Lighthouse gate: performance / accessibility / best practices / SEO)\n");
    for r in rows {
        let score = |s: Option<i32>| s.map_or_else(|| "-".to_owned(), |v| v.to_string());
        out.push_str(&format!(
            "\n  {}  [{} {}, gate {}/{}/{}/{}]\n    preview:  {}\n",
            r.business_name.unwrap_or_default(),
            r.status,
            r.gate.as_deref().unwrap_or("-"),
            score(r.performance_score),
            score(r.accessibility_score),
            score(r.best_practices_score),
            score(r.seo_score),
            urls.preview(&r.token),
        ));
        if let Some(reason) = r.gate_reason {
            out.push_str(&format!("    not ready: {reason}\n"));
        }
        if let (Some(desktop), Some(mobile)) = (r.screenshot_desktop_url, r.screenshot_mobile_url) {
            out.push_str(&format!("    desktop:  {desktop}\n    mobile:   {mobile}\n"));
        }
    }
    Ok(out)
}

async fn wait_for_batches(pool: &PgPool, batches: &[i64], stop: CancellationToken) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
    let mut last = String::new();
    loop {
        let mut done = true;
        let mut lines = Vec::new();
        for id in batches {
            let batch = scan_jobs::get_batch(pool, *id)
                .await?
                .context("a demo batch vanished")?;
            let stages = scan_jobs::stage_progress(pool, *id).await?;
            let progress: Vec<String> = stages
                .iter()
                .map(|s| {
                    format!(
                        "{} {}/{}",
                        s.stage,
                        s.done + s.skipped + s.failed,
                        batch.total_items
                    )
                })
                .collect();
            lines.push(format!(
                "  batch {}: {}/{} done, {} failed  [{}]",
                batch.id,
                batch.processed_items,
                batch.total_items,
                batch.failed_items,
                progress.join(", ")
            ));
            done &= batch.status != "pending" && batch.status != "running";
        }
        let text = lines.join("\n");
        if text != last {
            println!("{text}");
            last = text;
        }
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the demo batches did not finish within 15 minutes (see `prospector status`)");
        }
        tokio::select! {
            () = stop.cancelled() => anyhow::bail!("stopped before the demo batches finished"),
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

async fn ranked_table(pool: &PgPool) -> Result<String, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT coalesce(p.business_name, p.domain_name, '?') AS "name!", p.domain_name,
               s.score AS "score?", s.lead_tier AS "lead_tier?",
               (SELECT string_agg(f ->> 'title', '; ' ORDER BY (f ->> 'points')::int DESC)
                  FROM (SELECT f FROM jsonb_array_elements(s.reason_flags) AS f
                        WHERE f ->> 'kind' = 'problem' ORDER BY (f ->> 'points')::int DESC LIMIT 3) AS top(f)) AS reasons
        FROM prospects p
        LEFT JOIN prospect_scores s ON s.prospect_id = p.id
        WHERE p.tags ? 'demo'
        ORDER BY s.score DESC NULLS LAST, p.id
        "#
    )
    .fetch_all(pool)
    .await?;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "#",
        "prospect",
        "domain",
        "score",
        "tier",
        "top reasons",
    ]);
    for (rank, row) in rows.iter().enumerate() {
        table.add_row(vec![
            (rank + 1).to_string(),
            row.name.clone(),
            row.domain_name.clone().unwrap_or_else(|| "(none)".into()),
            row.score.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            row.lead_tier.clone().unwrap_or_else(|| "-".into()),
            row.reasons.clone().unwrap_or_default(),
        ]);
    }
    Ok(format!("Ranked prospects\n{table}"))
}

/// The demo's walk-through, run once web, workers and scheduler are up.
pub struct DemoRun {
    /// The running sites.
    pub demo: Demo,
    /// The admin token made for this run, if any (printed).
    pub token: Option<String>,
}

impl RunHook for DemoRun {
    async fn started(self, app: &Application, admin: SocketAddr) -> anyhow::Result<()> {
        self.demo.run(app, admin, self.token.as_deref()).await
    }
}
