//! What keeps the queue and the status page cheap on a large database: the
//! fetch function, the capped status counts, the per-stage counters and
//! per-queue pruning — checked for their results here (their speed is
//! measured by `prospector bench data`).

use std::time::Duration;

use prospector::{
    config::RetentionSettings,
    maintenance,
    status_report::{COUNT_CAP, StatusReport},
};
use prospector_jobs::scan_jobs::{self, BatchItem, BatchKind, StageOutcome};
use sqlx::PgPool;

use crate::helpers::{TestDb, count, settings};

/// Insert jobs straight into the queue table: (id, queue, status, attempts,
/// max_attempts, run_at offset in seconds, priority).
async fn insert_jobs(pool: &PgPool, jobs: &[(&str, &str, &str, i32, i32, i64, i32)]) {
    for (id, queue, status, attempts, max_attempts, offset, priority) in jobs {
        sqlx::query(
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, done_at) \
             VALUES ($1, $2, '\\x7b7d', $3, $4, $5, now() + make_interval(secs => $6), $7, \
                     CASE WHEN $3 IN ('Done', 'Killed', 'Failed') THEN now() END)",
        )
        .bind(id)
        .bind(queue)
        .bind(status)
        .bind(attempts)
        .bind(max_attempts)
        .bind(*offset as f64)
        .bind(priority)
        .execute(pool)
        .await
        .unwrap();
    }
}

async fn register_worker(pool: &PgPool, name: &str) {
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen) \
         VALUES ($1, 'tech_scan', 'PostgresStorage', '', now())",
    )
    .bind(name)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_fetch_takes_ready_jobs_by_priority_then_age_and_skips_locked_ones() {
    // Arrange: ready jobs of two priorities and ages, a retryable failure, a
    // delayed job, a dead failure, another queue's job.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    register_worker(&pool, "w1").await;
    register_worker(&pool, "w2").await;
    insert_jobs(
        &pool,
        &[
            ("old-low", "tech_scan", "Pending", 0, 3, -300, 0),
            ("new-low", "tech_scan", "Pending", 0, 3, -10, 0),
            ("new-high", "tech_scan", "Pending", 0, 3, -5, 5),
            ("retry", "tech_scan", "Failed", 1, 3, -60, 0),
            ("later", "tech_scan", "Pending", 0, 3, 600, 9),
            ("dead", "tech_scan", "Failed", 3, 3, -900, 9),
            ("other", "audit", "Pending", 0, 3, -900, 9),
        ],
    )
    .await;

    // Act: w1 fetches two inside an open transaction; w2 fetches ten meanwhile.
    let mut first = pool.begin().await.unwrap();
    let taken: Vec<String> = sqlx::query_scalar("SELECT id FROM apalis.get_jobs('w1', 'tech_scan', 2)")
        .fetch_all(&mut *first)
        .await
        .unwrap();
    let mut second = pool.begin().await.unwrap();
    let mut rest: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, lock_by FROM apalis.get_jobs('w2', 'tech_scan', 10)")
            .fetch_all(&mut *second)
            .await
            .unwrap();
    second.commit().await.unwrap();
    first.commit().await.unwrap();

    // Assert: priority first, then the oldest (the batch is picked in that
    // order; its rows come back in any order); the locked ones skipped;
    // never a delayed, dead or other queue's job; fetched rows are Queued
    // for their worker.
    let mut taken = taken;
    taken.sort();
    assert_eq!(taken, ["new-high", "old-low"]);
    rest.sort();
    assert_eq!(
        rest,
        [
            ("new-low".to_owned(), "Queued".to_owned(), Some("w2".to_owned())),
            ("retry".to_owned(), "Queued".to_owned(), Some("w2".to_owned())),
        ]
    );
    let w1: i64 =
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE lock_by = 'w1' AND status = 'Queued'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(w1, 2);
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE id IN ('later', 'dead', 'other') AND lock_by IS NULL"
        )
        .await,
        3
    );
    pool.close().await;
}

#[tokio::test]
async fn status_counts_every_state_of_every_queue_and_stops_at_the_cap() {
    // Arrange: one job or more in each state, on a stage queue and on a
    // queue no stage names; then more pending jobs than the cap.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    register_worker(&pool, "w1").await;
    insert_jobs(
        &pool,
        &[
            ("p1", "tech_scan", "Pending", 0, 3, -30, 0),
            ("p2", "tech_scan", "Pending", 0, 3, -20, 0),
            ("d1", "tech_scan", "Pending", 0, 3, 3600, 0),
            ("r1", "tech_scan", "Running", 1, 3, -40, 0),
            ("q1", "tech_scan", "Queued", 0, 3, -40, 0),
            ("f1", "tech_scan", "Failed", 1, 3, -90, 0),
            ("x1", "tech_scan", "Failed", 3, 3, -90, 0),
            ("k1", "tech_scan", "Killed", 1, 3, -90, 0),
            ("done1", "tech_scan", "Done", 1, 3, -90, 0),
            ("legacy", "legacy_import", "Pending", 0, 3, -10, 0),
            ("legacy-dead", "legacy_export", "Killed", 1, 3, -10, 0),
        ],
    )
    .await;
    sqlx::query("UPDATE apalis.jobs SET metadata = hstore('cancelled_at', now()::text) WHERE id = 'k1'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE apalis.jobs SET done_at = now() - interval '2 hours' WHERE id = 'x1'")
        .execute(&pool)
        .await
        .unwrap();
    let queue_settings = settings(&db.url).queue;

    // Act
    let report = StatusReport::load(&pool, &queue_settings).await.unwrap();

    // Assert: exact figures below the cap; the oldest ready job is the
    // retryable failure (90 s); unknown queues are listed too.
    let q = report.queues.iter().find(|q| q.queue == "tech_scan").unwrap();
    assert_eq!(
        (
            q.pending,
            q.delayed,
            q.running,
            q.retrying,
            q.dead,
            q.done_last_hour
        ),
        (2, 1, 2, 1, 1, 1)
    );
    let lag = q.oldest_ready_age_seconds.unwrap();
    assert!((89.0..120.0).contains(&lag), "{lag}");
    let legacy = report.queues.iter().find(|q| q.queue == "legacy_import").unwrap();
    assert_eq!(legacy.pending, 1);
    let export = report.queues.iter().find(|q| q.queue == "legacy_export").unwrap();
    assert_eq!(export.dead, 1);
    assert_eq!(report.count_cap, COUNT_CAP);

    // Past the cap: the figure stops there and reads "at least".
    sqlx::query(
        "INSERT INTO apalis.jobs (id, job_type, job, status, run_at) \
         SELECT 'bulk-' || g, 'audit', '\\x7b7d', 'Pending', now() - interval '1 minute' \
         FROM generate_series(1, $1::bigint + 5) AS g",
    )
    .bind(COUNT_CAP)
    .execute(&pool)
    .await
    .unwrap();
    let report = StatusReport::load(&pool, &queue_settings).await.unwrap();
    let audit = report.queues.iter().find(|q| q.queue == "audit").unwrap();
    assert_eq!(audit.pending, COUNT_CAP);
    let table = prospector::commands::status::render(&report);
    assert!(table.contains(&format!("≥{COUNT_CAP}")), "{table}");
    pool.close().await;
}

#[tokio::test]
async fn stage_counters_follow_items_whatever_order_their_outcomes_change_in() {
    // Arrange: a batch of three stages.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let batch = scan_jobs::create_batch(
        &pool,
        BatchKind::Scan,
        &["tech_scan", "audit", "score"],
        50,
        None,
        &serde_json::json!({}),
    )
    .await
    .unwrap();

    // Act: outcomes recorded, repeated (a re-run job) and changed (a failed
    // item retried by an operator, then done).
    for n in 0..50 {
        let item = BatchItem {
            scan_job_id: batch,
            item_key: format!("p{n}"),
            prospect_id: None,
        };
        let first = match n % 5 {
            0 => StageOutcome::Failed("timeout".into()),
            1 => StageOutcome::Skipped("no website".into()),
            _ => StageOutcome::Done,
        };
        scan_jobs::record_stage(&pool, &item, "tech_scan", &first)
            .await
            .unwrap();
        scan_jobs::record_stage(&pool, &item, "tech_scan", &first)
            .await
            .unwrap();
        if n % 10 == 0 {
            scan_jobs::record_stage(&pool, &item, "tech_scan", &StageOutcome::Done)
                .await
                .unwrap();
        }
        if n % 3 == 0 {
            scan_jobs::record_stage(&pool, &item, "audit", &StageOutcome::Done)
                .await
                .unwrap();
        }
    }

    // Assert: the counters equal a count of the items themselves.
    let counted: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT stage, count(*) FILTER (WHERE outcome = 'done'), count(*) FILTER (WHERE outcome = 'skipped'), \
                count(*) FILTER (WHERE outcome = 'failed') \
         FROM scan_job_stage_items WHERE scan_job_id = $1 GROUP BY stage ORDER BY stage",
    )
    .bind(batch)
    .fetch_all(&pool)
    .await
    .unwrap();
    let progress: Vec<(String, i64, i64, i64)> = scan_jobs::stage_progress(&pool, batch)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.stage, p.done, p.skipped, p.failed))
        .collect();
    assert_eq!(progress, counted);
    assert_eq!(
        progress,
        [
            ("audit".to_owned(), 17, 0, 0),
            ("tech_scan".to_owned(), 35, 10, 5),
        ]
    );
    pool.close().await;
}

#[tokio::test]
async fn pruning_deletes_old_finished_jobs_of_every_queue_and_keeps_the_rest() {
    // Arrange: old and recent finished jobs on three queues, more old ones
    // than one delete batch, and live jobs.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    sqlx::query(
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, run_at, done_at) \
         SELECT 'old-' || g, CASE WHEN g <= 11000 THEN 'tech_scan' WHEN g % 2 = 0 THEN 'audit' ELSE 'score' END, \
                '\\x7b7d', 'Done', 1, \
                now() - interval '9 days', now() - interval '8 days' \
         FROM generate_series(1, 12000) AS g",
    )
    .execute(&pool)
    .await
    .unwrap();
    insert_jobs(
        &pool,
        &[
            ("recent", "audit", "Done", 1, 3, -60, 0),
            ("waiting", "audit", "Pending", 0, 3, -60, 0),
            ("dead-recent", "score", "Killed", 1, 3, -60, 0),
        ],
    )
    .await;
    let retention = RetentionSettings {
        done: Duration::from_secs(7 * 86_400),
        dead: Duration::from_secs(30 * 86_400),
        workers: Duration::from_secs(86_400),
        schedule_ticks: Duration::from_secs(30 * 86_400),
        prune_interval: Duration::from_secs(600),
    };

    // Act
    let pruned = maintenance::prune_once(&pool, &retention).await.unwrap().unwrap();

    // Assert
    assert_eq!(pruned.done_jobs, 12_000);
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM apalis.jobs ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, ["dead-recent", "recent", "waiting"]);
    pool.close().await;
}
