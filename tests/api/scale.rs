//! Prospector run the way operators run it: three worker processes and two
//! schedulers on one database, workers killed and restarted at random, the
//! database stopped and started once — and every item still finished
//! exactly once.

use std::{collections::BTreeMap, process::Stdio, time::Duration};

use nix::sys::signal::Signal;
use prospector::batches::{self, ProspectFilter};
use prospector_jobs::{
    Enqueuer, Stage,
    scan_jobs::{self, BatchKind},
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::{PgPool, postgres::PgPoolOptions};
use tokio::process::Child;

use crate::{
    cluster::PrivateCluster,
    helpers::{command, settings, signal},
};

const ITEMS: i64 = 2_000;

/// Every `*.fleet.test` host: a small page served after `delay`.
async fn fleet(delay: Duration) -> std::net::SocketAddr {
    use axum::{Router, http::StatusCode, routing::get};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new()
        .route(
            "/",
            get(move || async move {
                tokio::time::sleep(delay).await;
                (
                    [("content-type", "text/html"), ("server", "nginx")],
                    "<html><head><meta name=\"generator\" content=\"WordPress 5.8\"><title>Shop</title></head>\
                     <body><p>Call +352 26 11 22 33</p></body></html>",
                )
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") });
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

struct Fleet {
    workers: Vec<Child>,
    schedulers: Vec<Child>,
    web: Child,
    killed: usize,
    came_back: usize,
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap()
}

async fn ready(client: &reqwest::Client, web: &str) -> Option<u16> {
    client
        .get(format!("{web}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn many_processes_survive_kills_and_a_database_restart_counting_each_item_once() {
    // Arrange: a private cluster we may restart, local sites, a batch.
    prospector::tls::init();
    let cluster = PrivateCluster::start().await;
    let url = cluster.create_database("prospector").await;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap();
    prospector::db::migrate(&pool).await.unwrap();
    let site = fleet(Duration::from_millis(300)).await;
    let web_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scale.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[queue]
worker_give_up_after = "60s"

[tech_scan]
allow_networks = ["127.0.0.0/8"]
dns_records = false
per_host_delay = "10ms"
request_timeout = "5s"
contact_pages = 0

[tech_scan.resolve]
"*.fleet.test" = "{site}"

# Random SIGKILLs crash whatever runs on the victim; a job that happened to
# run under three of them would die as a poison job at the default 3
# attempts. This test is about surviving kills, so the cap is far away.
[stages.tech_scan]
concurrency = 12
batch_size = 12
max_attempts = 30

[stages.score]
concurrency = 12
batch_size = 12
max_attempts = 30

[[schedule]]
name = "snapshot-every-2s"
stage = "snapshot_analytics"
cron = "*/2 * * * * *"
tz = "UTC"
args = {{ day = "current" }}
"#
        ),
    )
    .unwrap();
    sqlx::query("INSERT INTO prospects (domain_name) SELECT 'site' || g || '.fleet.test' FROM generate_series(1, $1) g")
        .bind(ITEMS)
        .execute(&pool)
        .await
        .unwrap();
    let enqueuer = Enqueuer::new(settings(&url).queue_policies());
    let batch = batches::start_batch(
        &pool,
        &enqueuer,
        BatchKind::Scan,
        &ProspectFilter::default(),
        &[Stage::TechScan],
        "scale",
    )
    .await
    .unwrap()
    .scan_job_id;
    // The same cap for the first jobs, pushed here with the test defaults.
    sqlx::query("UPDATE apalis.jobs SET max_attempts = 30 WHERE job_type = 'tech_scan'")
        .execute(&pool)
        .await
        .unwrap();

    let spawn = |args: &[&str]| {
        command(&url)
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let worker_args = ["work", "--stages", "tech_scan,score,snapshot_analytics"];
    let web = format!("http://127.0.0.1:{web_port}");
    let mut fleet = Fleet {
        workers: (0..3).map(|_| spawn(&worker_args)).collect(),
        schedulers: (0..2).map(|_| spawn(&["schedule"])).collect(),
        web: spawn(&["web", "--bind", &format!("127.0.0.1:{web_port}")]),
        killed: 0,
        came_back: 0,
    };
    let client = reqwest::Client::new();

    // Act: chaos until the batch is done.
    let mut rng = StdRng::seed_from_u64(7);
    let started = tokio::time::Instant::now();
    let mut restarted_db = false;
    let mut readiness: Vec<u16> = Vec::new();
    loop {
        let done = scan_jobs::get_batch(&pool, batch)
            .await
            .ok()
            .flatten()
            .is_some_and(|b| b.status == "completed");
        if done && restarted_db {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the batch did not finish within 5 minutes"
        );

        // A process that exited by itself (non-zero) comes back, as under a supervisor.
        for child in fleet.workers.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(!status.success(), "a worker exited 0 on its own");
                *child = spawn(&worker_args);
                fleet.came_back += 1;
            }
        }
        for child in fleet.schedulers.iter_mut() {
            if let Ok(Some(_)) = child.try_wait() {
                *child = spawn(&["schedule"]);
                fleet.came_back += 1;
            }
        }

        if !restarted_db && started.elapsed() > Duration::from_secs(8) {
            // The database goes away: the web role says so, then recovers.
            cluster.stop().await;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            while tokio::time::Instant::now() < deadline {
                if let Some(code) = ready(&client, &web).await {
                    readiness.push(code);
                    if code == 503 {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            cluster.start_again().await;
            restarted_db = true;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while tokio::time::Instant::now() < deadline {
                let code = ready(&client, &web).await;
                if let Some(code) = code {
                    readiness.push(code);
                    if code == 200 {
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        } else if !done {
            // Kill a random worker mid-flight and start a new one.
            let victim = rng.random_range(0..fleet.workers.len());
            signal(&fleet.workers[victim], Signal::SIGKILL);
            let _ = fleet.workers[victim].wait().await;
            fleet.workers[victim] = spawn(&worker_args);
            fleet.killed += 1;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(1_500..3_500))).await;
    }

    // The schedulers stop first, so no new job arrives; then the queue
    // settles: every job of every queue acknowledged, nothing left running
    // (a killed worker's jobs come back after its heartbeats stop).
    for child in &fleet.schedulers {
        signal(child, Signal::SIGTERM);
    }
    for child in fleet.schedulers.iter_mut() {
        let status = tokio::time::timeout(Duration::from_secs(40), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "SIGTERM ends a scheduler cleanly: {status}");
    }
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap();
    let settle = tokio::time::Instant::now();
    while count(
        &pool,
        "SELECT count(*) FROM apalis.jobs WHERE status IN ('Queued', 'Running')
            OR (job_type IN ('tech_scan', 'score') AND status <> 'Done')",
    )
    .await
        > 0
    {
        assert!(
            settle.elapsed() < Duration::from_secs(60),
            "jobs were left unfinished"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for child in &fleet.workers {
        signal(child, Signal::SIGTERM);
    }
    signal(&fleet.web, Signal::SIGTERM);
    for child in fleet.workers.iter_mut() {
        let status = tokio::time::timeout(Duration::from_secs(40), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "SIGTERM ends every worker cleanly: {status}");
    }
    let _ = fleet.web.wait().await;

    // Assert
    let summary = scan_jobs::get_batch(&pool, batch).await.unwrap().unwrap();
    let mut counts = BTreeMap::new();
    counts.insert("batch total", i64::from(summary.total_items));
    counts.insert("batch processed", i64::from(summary.processed_items));
    counts.insert("batch failed", i64::from(summary.failed_items));
    counts.insert(
        "batch items",
        count(&pool, "SELECT count(*) FROM scan_job_items").await,
    );
    counts.insert(
        "tech profiles",
        count(&pool, "SELECT count(*) FROM prospect_tech_profiles").await,
    );
    counts.insert(
        "scores",
        count(&pool, "SELECT count(*) FROM prospect_scores").await,
    );
    counts.insert(
        "phone contacts",
        count(
            &pool,
            "SELECT count(*) FROM prospect_contacts WHERE contact_type = 'phone'",
        )
        .await,
    );
    counts.insert(
        "tech_scan jobs",
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'tech_scan'",
        )
        .await,
    );
    counts.insert(
        "score jobs",
        count(&pool, "SELECT count(*) FROM apalis.jobs WHERE job_type = 'score'").await,
    );
    counts.insert(
        "jobs run more than once",
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type IN ('tech_scan', 'score') AND attempts > 1",
        )
        .await,
    );
    counts.insert(
        "jobs left running",
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE status IN ('Queued', 'Running')",
        )
        .await,
    );
    counts.insert(
        "snapshot slots",
        count(
            &pool,
            "SELECT count(*) FROM schedule_ticks WHERE schedule_name = 'snapshot-every-2s'",
        )
        .await,
    );
    counts.insert(
        "snapshot jobs",
        count(&pool, "SELECT count(*) FROM apalis.jobs WHERE job_type = 'snapshot_analytics' AND idempotency_key LIKE 'schedule:snapshot-every-2s:%'").await,
    );
    counts.insert("workers killed", fleet.killed as i64);
    counts.insert("processes that exited and came back", fleet.came_back as i64);
    println!("scale test counts: {counts:#?}");
    println!("readiness during the database restart: {readiness:?}");

    assert_eq!(counts["batch total"], ITEMS);
    assert_eq!(counts["batch processed"], ITEMS, "every item finished");
    assert_eq!(counts["batch failed"], 0);
    assert_eq!(counts["batch items"], ITEMS, "each item counted once");
    assert_eq!(counts["tech profiles"], ITEMS, "no duplicated results");
    assert_eq!(counts["scores"], ITEMS);
    assert_eq!(counts["phone contacts"], ITEMS, "no duplicated contacts");
    assert_eq!(counts["tech_scan jobs"], ITEMS, "one job per item and stage");
    assert_eq!(counts["score jobs"], ITEMS);
    assert_eq!(counts["jobs left running"], 0);
    assert!(counts["snapshot slots"] >= 3);
    assert_eq!(
        counts["snapshot jobs"], counts["snapshot slots"],
        "one job per schedule slot"
    );
    assert!(counts["workers killed"] >= 3, "the chaos killed workers");
    assert!(
        readiness.contains(&503),
        "/readyz reported the lost database: {readiness:?}"
    );
    assert_eq!(readiness.last(), Some(&200), "/readyz recovered: {readiness:?}");
}
