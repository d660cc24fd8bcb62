//! The digital branch end to end: local sites → tech_scan → audit → score,
//! with real Lighthouse, re-scans, a killed worker and a crashing browser.

use std::{os::unix::fs::PermissionsExt, process::Stdio, time::Duration};

use nix::sys::signal::Signal;
use prospector::{
    batches::{self, ProspectFilter},
    import::{self, ImportFormat, RowDefaults},
};
use prospector_devkit::demo::Demo;
use prospector_jobs::{
    AuditPage, Stage,
    domain::CountryCode,
    scan_jobs::{self, BatchKind},
};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, TestDb, command, count, signal, wait_for};

const SAMPLE: &str = include_str!("../../demo/sample-leads.csv");

fn start_workers(app: &TestApp, stages: &[Stage]) {
    app.start_workers(stages);
}

async fn import_sample(pool: &PgPool) -> Vec<i64> {
    let defaults = RowDefaults {
        channel: None,
        source: "test".into(),
        tags: vec![],
        country: CountryCode::parse("LU").unwrap(),
    };
    let report = import::import_text(
        pool,
        "sample",
        SAMPLE,
        ImportFormat::Csv,
        &defaults,
        100,
        &import::Silent,
    )
    .await
    .unwrap();
    import::imported_prospects(pool, report.scan_job_id)
        .await
        .unwrap()
}

async fn wait_for_batch(pool: &PgPool, batch: i64, limit: Duration) {
    wait_for(limit, &format!("batch {batch} to complete"), || async {
        let b = scan_jobs::get_batch(pool, batch).await.unwrap().unwrap();
        b.status == "completed"
    })
    .await;
}

async fn score_of(pool: &PgPool, domain: &str) -> (i32, String, Vec<Value>) {
    let (score, tier, flags): (i32, String, Value) = sqlx::query_as(
        "SELECT s.score, s.lead_tier, s.reason_flags FROM prospect_scores s
         JOIN prospects p ON p.id = s.prospect_id WHERE p.domain_name = $1",
    )
    .bind(domain)
    .fetch_one(pool)
    .await
    .unwrap();
    (score, tier, flags.as_array().cloned().unwrap_or_default())
}

fn codes(flags: &[Value]) -> Vec<&str> {
    flags.iter().filter_map(|f| f["code"].as_str()).collect()
}

#[tokio::test]
async fn a_batch_of_local_sites_is_scanned_audited_and_scored_with_evidence() {
    // Arrange: the demo's sample sites, and the real stages.
    let demo = Demo::start(CancellationToken::new()).await.unwrap();
    let app = TestApp::spawn_with(|s| {
        demo.configure(s);
    })
    .await;
    start_workers(&app, &[Stage::TechScan, Stage::Audit, Stage::Score]);
    let ids = import_sample(app.pool()).await;

    // Act
    let started = batches::start_batch(
        app.pool(),
        &app.app.enqueuer,
        BatchKind::Scan,
        &ProspectFilter {
            ids: Some(ids.clone()),
            ..ProspectFilter::default()
        },
        &[Stage::TechScan, Stage::Audit, Stage::Score],
        "test",
    )
    .await
    .unwrap();
    wait_for_batch(app.pool(), started.scan_job_id, Duration::from_secs(600)).await;

    // Assert: every digital lead scored once, none failed.
    let batch = scan_jobs::get_batch(app.pool(), started.scan_job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (batch.total_items, batch.processed_items, batch.failed_items),
        (6, 6, 0)
    );
    let progress = scan_jobs::stage_progress(app.pool(), started.scan_job_id)
        .await
        .unwrap();
    let stage = |name: &str| progress.iter().find(|p| p.stage == name).cloned().unwrap();
    assert_eq!(
        (
            stage("tech_scan").done,
            stage("audit").done,
            stage("audit").skipped,
            stage("score").done
        ),
        (6, 4, 2, 6)
    );

    // The neglected WordPress site is a hot lead, for reasons with evidence.
    let (_, tier, flags) = score_of(app.pool(), "boulangerie-muller.example").await;
    assert_eq!(tier, "hot");
    for expected in [
        "no_https",
        "not_mobile_friendly",
        "outdated_cms",
        "outdated_platform",
        "outdated_library",
        "no_analytics",
    ] {
        assert!(
            codes(&flags).contains(&expected),
            "{expected} missing from {:?}",
            codes(&flags)
        );
    }
    let cms = flags.iter().find(|f| f["code"] == "outdated_cms").unwrap();
    assert!(
        cms["evidence"]["observed"]
            .as_str()
            .unwrap()
            .contains("WordPress 4.9.8"),
        "{cms}"
    );
    let mobile = flags.iter().find(|f| f["code"] == "not_mobile_friendly").unwrap();
    assert_eq!(mobile["evidence"]["source"], "audit");

    // The small modern site is not; the parked and dead domains are sites to build.
    assert_eq!(score_of(app.pool(), "cafe-du-parc.example").await.1, "cold");
    assert!(codes(&score_of(app.pool(), "fleurs-schmit.example").await.2).contains(&"parked_domain"));
    assert!(codes(&score_of(app.pool(), "menuiserie-klein.example").await.2).contains(&"site_unreachable"));
    let (boulangerie, _, _) = score_of(app.pool(), "boulangerie-muller.example").await;
    let (cafe, _, _) = score_of(app.pool(), "cafe-du-parc.example").await;
    assert!(boulangerie > cafe + 20, "{boulangerie} vs {cafe}");

    // No flag without evidence, anywhere.
    let empty = count(
        app.pool(),
        "SELECT count(*) FROM prospect_scores s, jsonb_array_elements(s.reason_flags) f
         WHERE coalesce(f -> 'evidence' ->> 'observed', '') = ''",
    )
    .await;
    assert_eq!(empty, 0);

    // A re-scan updates the same rows instead of adding new ones.
    let contacts_before = count(app.pool(), "SELECT count(*) FROM prospect_contacts").await;
    let rescan = batches::start_batch(
        app.pool(),
        &app.app.enqueuer,
        BatchKind::Rescan,
        &ProspectFilter {
            ids: Some(ids),
            ..ProspectFilter::default()
        },
        &[Stage::TechScan],
        "rescan",
    )
    .await
    .unwrap();
    wait_for_batch(app.pool(), rescan.scan_job_id, Duration::from_secs(120)).await;
    assert_eq!(
        count(app.pool(), "SELECT count(*) FROM prospect_tech_profiles").await,
        6
    );
    assert_eq!(count(app.pool(), "SELECT count(*) FROM prospect_scores").await, 6);
    assert_eq!(
        count(app.pool(), "SELECT count(*) FROM prospect_contacts").await,
        contacts_before
    );
    assert_eq!(
        count(app.pool(), "SELECT count(*) FROM prospects p JOIN prospect_scores s ON s.prospect_id = p.id WHERE s.scored_at > p.last_tech_scan_at").await,
        6,
        "every prospect was re-scored after its new scan"
    );
}

/// A local site whose home page takes a while, so a worker can be killed mid-scan.
async fn slow_site() -> std::net::SocketAddr {
    use axum::{Router, routing::get};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route(
        "/",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(8)).await;
            (
                [("content-type", "text/html")],
                "<html><head><title>Slow</title></head><body>Slow but here</body></html>",
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

#[tokio::test]
async fn a_worker_killed_mid_scan_loses_nothing_and_counts_each_prospect_once() {
    // Arrange: two demo sites and a slow one; worker processes from the real binary.
    let demo = Demo::start(CancellationToken::new()).await.unwrap();
    let slow = slow_site().await;
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut resolve = String::from(
        "[tech_scan]\nallow_networks = [\"127.0.0.0/8\"]\ndns_records = false\nper_host_delay = \"100ms\"\n[tech_scan.resolve]\n",
    );
    for site in demo.sites().iter().take(2) {
        resolve.push_str(&format!("\"{}\" = \"{}\"\n", site.domain, site.address));
    }
    resolve.push_str(&format!("\"slow.example\" = \"{slow}\"\n"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("local.toml");
    std::fs::write(&config, resolve).unwrap();
    let domains: Vec<String> = demo
        .sites()
        .iter()
        .take(2)
        .map(|s| s.domain.clone())
        .chain(["slow.example".to_owned()])
        .collect();
    for domain in &domains {
        sqlx::query("INSERT INTO prospects (domain_name) VALUES ($1)")
            .bind(domain)
            .execute(&pool)
            .await
            .unwrap();
    }
    let settings = crate::helpers::settings(&db.url);
    let enqueuer = prospector_jobs::Enqueuer::new(settings.queue_policies());
    let started = batches::start_batch(
        &pool,
        &enqueuer,
        BatchKind::Scan,
        &ProspectFilter::default(),
        &[Stage::TechScan],
        "kill test",
    )
    .await
    .unwrap();
    let worker = |config: &std::path::Path| {
        command(&db.url)
            .arg("--config")
            .arg(config)
            .args(["work", "--stages", "tech_scan,score"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // Act: kill the first worker while it scans the slow site (fetched under
    // 4 s ago, so its 8 s page cannot have finished before the kill).
    let mut first = worker(&config);
    let pid = first.id().unwrap();
    wait_for(Duration::from_secs(60), "the slow scan to be in flight", || async {
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs j WHERE j.job_type = 'tech_scan' AND j.status = 'Running'
               AND j.lock_at > now() - interval '4 seconds'
               AND convert_from(j.job, 'UTF8')::jsonb ->> 'prospect_id' = (SELECT id::text FROM prospects WHERE domain_name = 'slow.example')",
        )
        .await
            == 1
    })
    .await;
    signal(&first, Signal::SIGKILL);
    first.wait().await.unwrap();
    let mut second = worker(&config);

    // Assert: the batch completes with each prospect counted once, nothing doubled.
    wait_for_batch(&pool, started.scan_job_id, Duration::from_secs(120)).await;
    let batch = scan_jobs::get_batch(&pool, started.scan_job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (batch.total_items, batch.processed_items, batch.failed_items),
        (3, 3, 0)
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prospect_tech_profiles").await,
        3
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM prospect_scores").await, 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM scan_job_items").await, 3);
    // The queue acknowledges a run after the handler's transaction (which
    // moved the batch counters): wait for it before reading attempts.
    wait_for(Duration::from_secs(20), "the slow scan to be acknowledged", || async {
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'tech_scan' AND status = 'Done'
               AND convert_from(job, 'UTF8')::jsonb ->> 'prospect_id' = (SELECT id::text FROM prospects WHERE domain_name = 'slow.example')",
        )
        .await
            == 1
    })
    .await;
    let attempts: i32 = sqlx::query_scalar(
        "SELECT attempts FROM apalis.jobs WHERE job_type = 'tech_scan'
           AND convert_from(job, 'UTF8')::jsonb ->> 'prospect_id' = (SELECT id::text FROM prospects WHERE domain_name = 'slow.example')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        attempts >= 2,
        "the interrupted scan ran again ({attempts} attempts, killed worker pid {pid})"
    );
    signal(&second, Signal::SIGTERM);
    second.wait().await.unwrap();
}

#[tokio::test]
async fn a_crashing_browser_is_retried_and_counted_once() {
    // Arrange: a Chromium that crashes the first time it starts.
    let demo = Demo::start(CancellationToken::new()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("crashed-once");
    let wrapper = dir.path().join("chromium-crashing-once");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ ! -e '{marker}' ]; then touch '{marker}'; echo 'simulated crash' >&2; exit 3; fi\nexec /usr/bin/chromium \"$@\"\n",
            marker = marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let app = TestApp::spawn_with(|s| {
        demo.configure(s);
        s.of_mut::<AuditPage>().lighthouse.chrome_path = wrapper.clone();
        let audit = s.worker_mut("audit");
        audit.backoff_base = Duration::from_secs(1);
        audit.backoff_max = Duration::from_secs(2);
    })
    .await;
    start_workers(&app, &[Stage::Audit, Stage::Score]);
    sqlx::query(
        "INSERT INTO prospects (domain_name, website_url, has_website) VALUES ('boulangerie-muller.example', 'http://boulangerie-muller.example/', true)",
    )
    .execute(app.pool())
    .await
    .unwrap();

    // Act
    let started = batches::start_batch(
        app.pool(),
        &app.app.enqueuer,
        BatchKind::Scan,
        &ProspectFilter::default(),
        &[Stage::Audit],
        "crash test",
    )
    .await
    .unwrap();
    wait_for_batch(app.pool(), started.scan_job_id, Duration::from_secs(300)).await;

    // Assert
    assert!(marker.exists(), "the browser did crash once");
    let batch = scan_jobs::get_batch(app.pool(), started.scan_job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((batch.processed_items, batch.failed_items), (1, 0));
    // The queue acknowledges a run after its transaction: wait for it.
    wait_for(
        Duration::from_secs(20),
        "the audit job to be acknowledged",
        || async {
            count(
                app.pool(),
                "SELECT count(*) FROM apalis.jobs WHERE job_type = 'audit' AND status = 'Done'",
            )
            .await
                == 1
        },
    )
    .await;
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM apalis.jobs WHERE job_type = 'audit'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 2, "one crash, one success");
    assert_eq!(
        count(app.pool(), "SELECT count(*) FROM prospect_performance_profiles").await,
        1
    );
    assert_eq!(count(app.pool(), "SELECT count(*) FROM prospect_scores").await, 1);
}
