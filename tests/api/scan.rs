//! Scan batches: filters, stage plans, one job per prospect in one batch.

use std::process::Stdio;

use prospector::batches::{self, ProspectFilter};
use prospector_jobs::{Stage, scan_jobs::BatchKind};
use serde_json::Value;

use crate::helpers::{TestApp, TestDb, command, count};

async fn seed(pool: &sqlx::PgPool) {
    sqlx::raw_sql(
        r#"
        INSERT INTO prospects (id, domain_name, status, tags, last_tech_scan_at) OVERRIDING SYSTEM VALUE VALUES
            (1, 'a.lu', 'pending', '["fair"]', NULL),
            (2, 'b.lu', 'active', '["fair"]', now() - interval '40 days'),
            (3, 'c.lu', 'active', '[]', now() - interval '2 days');
        INSERT INTO prospects (id, channel, business_name, tags) OVERRIDING SYSTEM VALUE VALUES
            (4, 'offline', 'Salon', '["fair"]');
        "#,
    )
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_scan_batch_enqueues_the_first_stage_for_each_matching_prospect() {
    let app = TestApp::spawn().await;
    seed(app.pool()).await;

    let started = batches::start_batch(
        app.pool(),
        &app.app.enqueuer,
        BatchKind::Scan,
        &ProspectFilter {
            tag: Some("fair".into()),
            ..ProspectFilter::default()
        },
        &[Stage::TechScan, Stage::Audit],
        "fair leads",
    )
    .await
    .unwrap();

    // The offline lead has no site to scan; score is appended.
    assert_eq!(started.prospects, 2);
    assert_eq!(started.stages, vec![Stage::TechScan, Stage::Audit, Stage::Score]);
    let jobs: Vec<Value> = sqlx::query_scalar(
        "SELECT convert_from(job, 'UTF8')::jsonb FROM apalis.jobs WHERE job_type = 'tech_scan' ORDER BY 1",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0]["then"], serde_json::json!(["audit", "score"]));
    assert_eq!(jobs[0]["batch"]["scan_job_id"], started.scan_job_id);
    let batch = prospector_jobs::scan_jobs::get_batch(app.pool(), started.scan_job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((batch.total_items, batch.status.as_str()), (2, "pending"));
    assert_eq!(batch.stages, vec!["tech_scan", "audit", "score"]);

    // Scoring alone may take the offline lead too.
    let score_only = batches::start_batch(
        app.pool(),
        &app.app.enqueuer,
        BatchKind::Scan,
        &ProspectFilter {
            tag: Some("fair".into()),
            ..ProspectFilter::default()
        },
        &[Stage::Score],
        "rescore",
    )
    .await
    .unwrap();
    assert_eq!(score_only.prospects, 3);

    // Nothing matching is an error, not an empty batch.
    let none = batches::start_batch(
        app.pool(),
        &app.app.enqueuer,
        BatchKind::Scan,
        &ProspectFilter {
            tag: Some("nobody".into()),
            ..ProspectFilter::default()
        },
        &[Stage::TechScan],
        "x",
    )
    .await;
    assert!(matches!(none, Err(batches::ScanError::NothingToScan)));
}

#[tokio::test]
async fn stale_profiles_are_picked_stalest_first() {
    let app = TestApp::spawn().await;
    seed(app.pool()).await;
    let started = batches::start_batch(
        app.pool(),
        &app.app.enqueuer,
        BatchKind::Rescan,
        &batches::stale_filter(std::time::Duration::from_secs(30 * 86_400), Some(10)),
        &[Stage::TechScan],
        "rescan",
    )
    .await
    .unwrap();
    assert_eq!(
        started.prospects, 2,
        "never scanned (a.lu) and 40 days old (b.lu)"
    );
}

#[tokio::test]
async fn the_scan_command_imports_a_file_and_starts_its_batch() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("domains.txt");
    std::fs::write(&file, "example.lu\nshop.example.lu\nnot a domain\n").unwrap();
    let output = command(&db.url)
        .args(["scan", "--file"])
        .arg(&file)
        .args(["--stages", "tech_scan"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("rejected line 3"), "{stderr}");
    assert!(stdout.contains("2 prospects → tech_scan → score"), "{stdout}");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'tech_scan'"
        )
        .await,
        2
    );

    let bad = command(&db.url)
        .args(["scan", "--tag", "x", "--stages", "score,tech_scan"])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("in that order"));
}
