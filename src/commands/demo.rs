//! `prospector run --demo`: sample leads, a first snapshot, and where to look.

use std::{net::SocketAddr, time::Duration};

use chrono::Utc;
use secrecy::SecretString;

use crate::{
    application::Application,
    config::Settings,
    import::{self, ImportFormat, RowDefaults},
    status::StatusReport,
};

const SAMPLE: &str = include_str!("../../demo/sample-leads.csv");

/// Give the demo an admin token when none is configured (printed once, for
/// the local demo only; configure PROSPECTOR__ADMIN__TOKEN in real use).
pub fn ensure_token(settings: &mut Settings) -> Option<String> {
    if settings.admin.token.is_some() {
        return None;
    }
    let token = format!("demo-{}", ulid::Ulid::new().to_string().to_lowercase());
    settings.admin.token = Some(SecretString::from(token.clone()));
    Some(token)
}

/// Import the sample leads, snapshot today's metrics and print the status.
pub async fn show(app: &Application, address: SocketAddr, token: Option<&str>) -> anyhow::Result<()> {
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

    let today = Utc::now()
        .with_timezone(&app.settings.analytics.time_zone)
        .date_naive();
    let mut conn = app.pool.acquire().await?;
    let job = prospector_jobs::SnapshotAnalytics { date: today };
    app.enqueuer.enqueue(&mut conn, &job).await?;
    drop(conn);
    // Give the worker a moment so the first status shows the job done.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        let stored: Option<i32> = sqlx::query_scalar!(
            "SELECT leads_scraped FROM analytics_snapshots WHERE snapshot_date = $1",
            today
        )
        .fetch_optional(&app.pool)
        .await?;
        if let Some(leads) = stored {
            println!("Analytics snapshot for {today}: {leads} leads today.");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let status = StatusReport::load(&app.pool, &app.settings.queue).await?;
    println!("\n{}", super::status::render(&status));
    println!("Prospector is running. Status:");
    println!("  http://{address}/api/status   (Authorization: Bearer <admin token>)");
    println!("  http://{address}/metrics      (Prometheus, no token)");
    println!("  http://{address}/readyz");
    if let Some(token) = token {
        println!("\nDemo admin token (this run only): {token}");
        println!("  curl -H 'Authorization: Bearer {token}' http://{address}/api/status");
    }
    println!("\nPress Ctrl-C to stop.\n");
    Ok(())
}
