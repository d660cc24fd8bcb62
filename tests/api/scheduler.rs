//! Schedules fire each slot exactly once, with several schedulers running.

use std::{process::Stdio, time::Duration};

use chrono::{TimeZone, Utc};
use nix::sys::signal::Signal;
use prospector::{
    config::{DayRef, ScheduleSpec, ScheduledJob},
    scheduler::{Fired, Scheduler},
};

use crate::helpers::{TestApp, TestDb, command, count, signal, wait_for};

const EVERY_SECOND: &str = r#"
[[schedule]]
name = "every-second"
stage = "snapshot_analytics"
cron = "* * * * * *"
tz = "UTC"
args = { day = "current" }
"#;

#[tokio::test]
async fn three_scheduler_processes_enqueue_each_slot_exactly_once() {
    // Arrange
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("every-second.toml");
    std::fs::write(&config, EVERY_SECOND).unwrap();

    // Act: three schedulers for a few seconds.
    let mut schedulers: Vec<_> = (0..3)
        .map(|_| {
            command(&db.url)
                .arg("--config")
                .arg(&config)
                .arg("schedule")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // Until the schedulers have fired a few slots between them.
    wait_for(Duration::from_secs(30), "four one-second slots", || async {
        count(
            &pool,
            "SELECT count(*) FROM schedule_ticks WHERE schedule_name = 'every-second'",
        )
        .await
            >= 4
    })
    .await;
    for child in &schedulers {
        signal(child, Signal::SIGTERM);
    }
    for child in &mut schedulers {
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{status}");
    }

    // Assert
    let slots = count(
        &pool,
        "SELECT count(*) FROM schedule_ticks WHERE schedule_name = 'every-second'",
    )
    .await;
    let jobs = count(
        &pool,
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'snapshot_analytics'",
    )
    .await;
    let keys = count(
        &pool,
        "SELECT count(DISTINCT idempotency_key) FROM apalis.jobs WHERE job_type = 'snapshot_analytics'",
    )
    .await;
    assert!(slots >= 3, "expected at least 3 one-second slots, got {slots}");
    assert_eq!(jobs, slots, "one job per slot");
    assert_eq!(keys, slots);
    let linked = count(
        &pool,
        "SELECT count(*) FROM schedule_ticks t JOIN apalis.jobs j ON j.id = t.job_id WHERE t.schedule_name = 'every-second'",
    )
    .await;
    assert_eq!(linked, slots, "every slot names the job it enqueued");
    let span = count(
        &pool,
        "SELECT (extract(epoch FROM max(tick_at) - min(tick_at)))::bigint + 1 FROM schedule_ticks WHERE schedule_name = 'every-second'",
    )
    .await;
    assert_eq!(span, slots, "no slot between the first and last was skipped");
    // Other schedules in the defaults did not fire (they are hourly/daily).
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM schedule_ticks WHERE schedule_name <> 'every-second'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn firing_the_same_slot_twice_enqueues_once() {
    let app = TestApp::spawn().await;
    let spec = ScheduleSpec {
        name: "daily".into(),
        job: ScheduledJob::SnapshotAnalytics {
            day: DayRef::Previous,
        },
        cron: "0 10 0 * * *".parse().unwrap(),
        tz: "Europe/Luxembourg".parse().unwrap(),
    };
    let scheduler = |name: &str| {
        Scheduler::new(
            app.pool().clone(),
            app.app.enqueuer.clone(),
            vec![spec.clone()],
            Duration::ZERO,
            name.into(),
        )
    };
    let slot = Utc.with_ymd_and_hms(2026, 11, 22, 23, 10, 0).unwrap();
    assert_eq!(scheduler("a").fire(&spec, slot).await.unwrap(), Fired::Claimed);
    assert_eq!(
        scheduler("b").fire(&spec, slot).await.unwrap(),
        Fired::AlreadyClaimed
    );
    assert_eq!(count(app.pool(), "SELECT count(*) FROM apalis.jobs").await, 1);
    let payload: serde_json::Value =
        sqlx::query_scalar("SELECT convert_from(job, 'UTF8')::jsonb FROM apalis.jobs")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(
        payload["date"], "2026-11-22",
        "00:10 on the 23rd snapshots the 22nd"
    );
}

#[tokio::test]
async fn the_rescan_schedule_starts_a_batch_over_stale_profiles() {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(
        "INSERT INTO prospects (domain_name, last_tech_scan_at) VALUES
            ('never.lu', NULL), ('old.lu', now() - interval '40 days'), ('fresh.lu', now() - interval '1 day');
         INSERT INTO prospects (channel, business_name) VALUES ('offline', 'No site');",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let spec = app
        .app
        .settings
        .schedules
        .iter()
        .find(|s| s.name == "rescan-stale-profiles")
        .cloned()
        .expect("the default re-scan schedule");
    let scheduler = Scheduler::new(
        app.pool().clone(),
        app.app.enqueuer.clone(),
        vec![spec.clone()],
        Duration::ZERO,
        "t".into(),
    );
    let slot = Utc.with_ymd_and_hms(2026, 11, 22, 2, 0, 0).unwrap();

    assert_eq!(scheduler.fire(&spec, slot).await.unwrap(), Fired::Claimed);
    assert_eq!(scheduler.fire(&spec, slot).await.unwrap(), Fired::AlreadyClaimed);

    let batch = prospector_jobs::scan_jobs::list_recent(app.pool(), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(batch.job_type, "rescan");
    assert_eq!(
        batch.total_items, 2,
        "the never-scanned and the 40-day-old profile"
    );
    assert_eq!(batch.stages, vec!["tech_scan", "audit", "score"]);
    assert_eq!(
        count(
            app.pool(),
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'tech_scan'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn the_reconcile_billing_schedule_enqueues_one_poller_run_per_slot() {
    let app = TestApp::spawn().await;
    let spec = app
        .app
        .settings
        .schedules
        .iter()
        .find(|s| s.name == "reconcile-billing")
        .cloned()
        .expect("the default reconcile-billing schedule");
    assert_eq!(spec.job, ScheduledJob::ReconcileBilling);
    let scheduler = Scheduler::new(
        app.pool().clone(),
        app.app.enqueuer.clone(),
        vec![spec.clone()],
        Duration::ZERO,
        "a".into(),
    );
    let slot = Utc.with_ymd_and_hms(2026, 12, 6, 20, 5, 30).unwrap();
    let next = Utc.with_ymd_and_hms(2026, 12, 6, 20, 10, 30).unwrap();
    assert_eq!(scheduler.fire(&spec, slot).await.unwrap(), Fired::Claimed);
    assert_eq!(scheduler.fire(&spec, slot).await.unwrap(), Fired::AlreadyClaimed);
    assert_eq!(scheduler.fire(&spec, next).await.unwrap(), Fired::Claimed);
    let jobs: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT job_type, convert_from(job, 'UTF8')::jsonb FROM apalis.jobs ORDER BY run_at")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(
        jobs,
        vec![
            ("billing".to_owned(), serde_json::json!({"kind": "reconcile"})),
            ("billing".to_owned(), serde_json::json!({"kind": "reconcile"})),
        ]
    );
}
