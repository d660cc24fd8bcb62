//! Real worker processes under faults: a database that goes away, SIGTERM
//! during an audit and during start-up. (The SIGKILL and SIGTERM hand-back
//! tests run the synthetic bench job: `devkit/tests/faults.rs`.)

use std::{process::Stdio, time::Duration};

use nix::sys::signal::Signal;
use prospector_jobs::Enqueuer;
use sqlx::PgPool;

use crate::helpers::{TestDb, command, count, settings, signal, wait_for};

#[tokio::test]
async fn workers_exit_non_zero_when_the_database_stays_unreachable() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut worker = command(&db.url)
        .args(["work", "--stages", "snapshot_analytics"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), "the worker to register", || async {
        count(&pool, "SELECT count(*) FROM apalis.workers").await > 0
    })
    .await;

    // The database refuses every connection from now on.
    let admin = PgPool::connect(&format!("{}/postgres", crate::helpers::server_url()))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS false",
        db.name
    )))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&db.name)
        .execute(&admin)
        .await
        .unwrap();

    // Give-up is 4 s in test settings; restarts back off meanwhile.
    let status = tokio::time::timeout(Duration::from_secs(45), worker.wait())
        .await
        .expect("the worker exits instead of idling with dead workers")
        .unwrap();
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    worker
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(!status.success(), "exit status {status}");
    assert!(
        stderr.contains("failing for over"),
        "the reason is logged: {stderr}"
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        db.name
    )))
    .execute(&admin)
    .await
    .unwrap();
}

fn processes_mentioning(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test]
async fn sigterm_stops_a_running_audit_and_leaves_no_browser_behind() {
    // A page that never answers keeps Lighthouse and Chromium busy.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let router = axum::Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(600)).await;
            "late"
        });
        axum::serve(listener, router).await
    });
    let db = TestDb::new().await;
    let pool = db.pool().await;
    sqlx::query("INSERT INTO prospects (domain_name, website_url, has_website) VALUES ('hang.lu', $1, true)")
        .bind(format!("http://{address}/"))
        .execute(&pool)
        .await
        .unwrap();
    let enqueuer = Enqueuer::new(settings("postgres://unused/x").queue_policies());
    let mut conn = pool.acquire().await.unwrap();
    let prospect: i64 = sqlx::query_scalar("SELECT id FROM prospects")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    enqueuer
        .enqueue(
            &mut conn,
            &prospector_jobs::AuditPage::new(prospect, None, vec![]),
        )
        .await
        .unwrap();
    drop(conn);
    let work_dir = tempfile::tempdir().unwrap();
    let marker = work_dir.path().display().to_string();
    // The page is on loopback, which audits refuse unless allowed.
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("loopback.toml");
    std::fs::write(&config, "[tech_scan]\nallow_networks = [\"127.0.0.0/8\"]\n").unwrap();
    let mut worker = command(&db.url)
        .arg("--config")
        .arg(&config)
        .args(["work", "--stages", "audit"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PROSPECTOR__AUDIT__LIGHTHOUSE__WORK_DIR", &marker)
        .env("PROSPECTOR__QUEUE__SHUTDOWN_GRACE", "2s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        Duration::from_secs(60),
        "Chromium to be auditing the page",
        || async {
            processes_mentioning(&marker).iter().any(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("chrom"))
                    .unwrap_or(false)
            })
        },
    )
    .await;

    signal(&worker, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    // No Chromium or Lighthouse of this worker survives it.
    wait_for(
        Duration::from_secs(10),
        "the browser processes to be gone",
        || async { processes_mentioning(&marker).is_empty() },
    )
    .await;
    // The interrupted audit is back on the queue, not failed.
    let state: String = sqlx::query_scalar("SELECT status FROM apalis.jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "Pending");
}

#[tokio::test]
async fn sigterm_while_connecting_at_start_up_is_a_clean_exit() {
    // Arrange: a "database" that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("postgres://postgres@{}/prospector", silent.local_addr().unwrap());
    let mut worker = command(&url)
        .args(["work", "--stages", "snapshot_analytics"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_held, _) = tokio::time::timeout(Duration::from_secs(20), silent.accept())
        .await
        .expect("the worker connects at start-up")
        .unwrap();

    // Act: SIGTERM while it waits for the database.
    signal(&worker, Signal::SIGTERM);

    // Assert: it stops at once and says it stopped cleanly.
    let status = tokio::time::timeout(Duration::from_secs(5), worker.wait())
        .await
        .expect("the worker exits without waiting for the database")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn workers_refuse_to_start_when_their_pools_do_not_fit_the_server() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let output = command(&db.url)
        .args(["work", "--stages", "snapshot_analytics"])
        .env("PROSPECTOR__DATABASE__MAX_CONNECTIONS", "100000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("the worker exits at start-up")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(
        stderr.contains("database.max_connections 100000") && stderr.contains("free"),
        "the reason names the setting: {stderr}"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM apalis.workers").await,
        0,
        "no worker registered"
    );
}
