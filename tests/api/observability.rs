//! /metrics scraped by a real Prometheus server, and checked by promtool.

use std::{process::Stdio, time::Duration};

use prospector_jobs::{SnapshotAnalytics, Stage};
use serde_json::Value;

use crate::helpers::{TestApp, wait_for};

#[tokio::test]
async fn promtool_accepts_the_exposition_and_labels_come_from_closed_sets() {
    let app = TestApp::spawn().await;
    let _ = app.get("/api/status").await;
    let text = app.metrics_text().await;

    let mut promtool = tokio::process::Command::new("/usr/bin/promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test installs Debian's prometheus package)");
    use tokio::io::AsyncWriteExt;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .await
        .unwrap();
    let output = promtool.wait_with_output().await.unwrap();
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "promtool: {complaints}\n{text}"
    );

    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(name.starts_with("prospector_"), "{name}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} must end in _total");
            }
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        for forbidden in ["prospect_id=", "url=", "domain=", "email=", "job_id="] {
            assert!(!line.contains(forbidden), "unbounded label in `{line}`");
        }
    }
}

#[tokio::test]
async fn a_real_prometheus_scrapes_queue_depth_and_job_series() {
    // Arrange: an app with the snapshot stage running, and a job through it.
    let app = TestApp::spawn().await;
    app.start_workers(&[Stage::SnapshotAnalytics]);
    let mut conn = app.pool().acquire().await.unwrap();
    app.app
        .enqueuer
        .enqueue(
            &mut conn,
            &SnapshotAnalytics {
                date: chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            },
        )
        .await
        .unwrap();
    drop(conn);
    wait_for(Duration::from_secs(15), "the snapshot job to run", || async {
        crate::helpers::count(
            app.pool(),
            "SELECT count(*) FROM apalis.jobs WHERE status = 'Done'",
        )
        .await
            == 1
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let target = app.address.trim_start_matches("http://").to_owned();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n  - job_name: prospector\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _prometheus = tokio::process::Command::new("/usr/bin/prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus is installed (scripts/test installs Debian's prometheus package)");

    // Act / Assert: Prometheus's HTTP API finds the series.
    let query = |expr: &'static str| {
        let client = app.http.clone();
        let mut url = url::Url::parse(&format!("http://127.0.0.1:{port}/api/v1/query")).unwrap();
        url.query_pairs_mut().append_pair("query", expr);
        async move {
            let Ok(response) = client.get(url).send().await else {
                return Vec::new();
            };
            let body: Value = response.json().await.unwrap_or_default();
            body["data"]["result"].as_array().cloned().unwrap_or_default()
        }
    };
    for (expr, what) in [
        (
            r#"prospector_queue_jobs{queue="snapshot_analytics",state="pending"}"#,
            "queue depth",
        ),
        (
            r#"prospector_queue_lag_seconds{queue="snapshot_analytics"}"#,
            "queue lag",
        ),
        (
            r#"prospector_jobs_total{queue="snapshot_analytics",outcome="succeeded"}"#,
            "job outcomes",
        ),
        (
            r#"prospector_job_duration_seconds_count{queue="snapshot_analytics"}"#,
            "job durations",
        ),
        (r#"prospector_database_up"#, "database up"),
    ] {
        wait_for(
            Duration::from_secs(30),
            &format!("Prometheus to have {what}"),
            || async { !query(expr).await.is_empty() },
        )
        .await;
    }
    // A single slow scrape marks the series stale for a moment: read the
    // latest sample until it is there.
    let sample = |result: Vec<Value>| {
        result
            .first()
            .and_then(|series| series["value"][1].as_str())
            .and_then(|value| value.parse::<f64>().ok())
    };
    wait_for(
        Duration::from_secs(30),
        "Prometheus to count a succeeded snapshot job",
        || async {
            sample(query(r#"prospector_jobs_total{queue="snapshot_analytics",outcome="succeeded"}"#).await)
                .is_some_and(|value| value >= 1.0)
        },
    )
    .await;
    wait_for(
        Duration::from_secs(30),
        "Prometheus to see the target up",
        || async { sample(query(r#"up{job="prospector"}"#).await) == Some(1.0) },
    )
    .await;
}

/// `prospector_queue_jobs{queue,state}` in a scrape.
fn queue_gauge(text: &str, queue: &str, state: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with("prospector_queue_jobs{"))
        .find(|l| l.contains(&format!("queue=\"{queue}\"")) && l.contains(&format!("state=\"{state}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn enqueue_snapshot(app: &TestApp, day: u32) {
    let mut conn = app.pool().acquire().await.unwrap();
    app.app
        .enqueuer
        .enqueue(
            &mut conn,
            &SnapshotAnalytics {
                date: chrono::NaiveDate::from_ymd_opt(2026, 1, day).unwrap(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn scrapes_within_the_cache_window_read_the_database_once() {
    // Arrange: a long cache window; one scrape reads the queues.
    let app = TestApp::spawn_with(|s| s.admin.metrics_cache = Duration::from_secs(3600)).await;
    let first = app.metrics_text().await;
    assert_eq!(
        queue_gauge(&first, "snapshot_analytics", "pending"),
        Some(0.0),
        "{first}"
    );

    // Act: the queue changes, then many scrapes come at once.
    enqueue_snapshot(&app, 2).await;
    let scrapes = futures::future::join_all((0..20).map(|_| app.metrics_text())).await;

    // Assert: every one shows the first read (no scrape ran the read model).
    for text in &scrapes {
        assert_eq!(queue_gauge(text, "snapshot_analytics", "pending"), Some(0.0));
    }
}

#[tokio::test]
async fn a_scrape_after_the_cache_window_reads_the_queues_again() {
    // Arrange
    let app = TestApp::spawn_with(|s| s.admin.metrics_cache = Duration::from_millis(300)).await;
    let first = app.metrics_text().await;
    assert_eq!(queue_gauge(&first, "snapshot_analytics", "pending"), Some(0.0));
    // Act
    enqueue_snapshot(&app, 3).await;
    // Assert: the new job shows once the window is over.
    wait_for(Duration::from_secs(10), "the pending job in /metrics", || async {
        queue_gauge(&app.metrics_text().await, "snapshot_analytics", "pending") == Some(1.0)
    })
    .await;
}
