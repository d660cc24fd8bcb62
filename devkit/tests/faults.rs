//! A real `prospector-bench work` process under faults: SIGKILL mid-job,
//! SIGTERM with and without enough grace. The synthetic job lets each test
//! choose how long every job works.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{process::Stdio, time::Duration};

use nix::sys::signal::Signal;
use prospector_devkit::{
    bench::BenchJob,
    testkit::{TestDb, command_of, count, settings, signal, wait_for},
};
use prospector_jobs::{
    Enqueuer,
    scan_jobs::{self, BatchItem, BatchKind},
};
use serde_json::Value;
use sqlx::PgPool;

/// A `prospector-bench work` process with one queue consumer that runs `concurrency`
/// jobs at once, fetches `batch_size` at a time and has `grace` to finish at
/// SIGTERM.
fn bench_worker(db: &TestDb, concurrency: &str, batch_size: &str, grace: &str) -> tokio::process::Child {
    command_of(env!("CARGO_BIN_EXE_prospector-bench").into(), &db.url)
        .arg("work")
        .env("PROSPECTOR__STAGES__BENCH__WORKERS", "1")
        .env("PROSPECTOR__STAGES__BENCH__CONCURRENCY", concurrency)
        .env("PROSPECTOR__STAGES__BENCH__BATCH_SIZE", batch_size)
        .env("PROSPECTOR__QUEUE__SHUTDOWN_GRACE", grace)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a bench worker")
}

async fn enqueue_batch(pool: &PgPool, items: u64, work_ms: u32) -> i64 {
    enqueue_jobs(pool, &vec![work_ms; items as usize]).await
}

/// A batch with one bench job per entry of `work_ms`, in that order.
async fn enqueue_jobs(pool: &PgPool, work_ms: &[u32]) -> i64 {
    let batch = scan_jobs::create_batch(
        pool,
        BatchKind::Scan,
        &["bench"],
        work_ms.len() as i32,
        None,
        &Value::Null,
    )
    .await
    .unwrap();
    let jobs: Vec<BenchJob> = (0..)
        .zip(work_ms)
        .map(|(seq, &work_ms)| BenchJob {
            seq,
            work_ms,
            batch: Some(BatchItem {
                scan_job_id: batch,
                item_key: format!("item-{seq}"),
                prospect_id: None,
            }),
            abort: false,
        })
        .collect();
    let enqueuer = Enqueuer::new(settings("postgres://unused/x").queue_policies());
    let mut conn = pool.acquire().await.unwrap();
    enqueuer.enqueue_many(&mut conn, &jobs).await.unwrap();
    batch
}

/// Jobs a worker of the process with this pid holds that have at least
/// `margin` of work left (counting from their fetch, so at least that).
async fn held_with_work_left(pool: &PgPool, pid: u32, margin: Duration) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT id FROM apalis.jobs WHERE status IN ('Queued', 'Running') \
         AND lock_by LIKE '%-' || $1 || '-%' \
         AND lock_at + make_interval(secs => (convert_from(job, 'UTF8')::jsonb ->> 'work_ms')::float8 / 1000) \
             > now() + make_interval(secs => $2)",
    )
    .bind(pid.to_string())
    .bind(margin.as_secs_f64())
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Jobs locked by workers of the process with this pid.
async fn locked_by_process(pool: &PgPool, pid: u32) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT id FROM apalis.jobs WHERE status IN ('Queued', 'Running') AND lock_by LIKE '%-' || $1 || '-%'",
    )
    .bind(pid.to_string())
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_worker_killed_mid_job_loses_nothing_and_counts_each_item_once() {
    // Arrange: one worker process; 3 short items, then 9 of 4 s each.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut work_ms = vec![100; 3];
    work_ms.extend([4_000; 9]);
    let items = work_ms.len() as i32;
    let batch = enqueue_jobs(&pool, &work_ms).await;
    let mut first = bench_worker(&db, "3", "3", "10s");
    let first_pid = first.id().unwrap();

    // Act: kill it after it finished a few, while it holds jobs with over
    // 1.5 s of work left (so they cannot end before the kill).
    let held = std::cell::RefCell::new(Vec::new());
    wait_for(
        Duration::from_secs(30),
        "the first worker to be mid-job",
        || async {
            let done = scan_jobs::get_batch(&pool, batch)
                .await
                .unwrap()
                .unwrap()
                .processed_items;
            if done < 3 {
                return false;
            }
            let recent = held_with_work_left(&pool, first_pid, Duration::from_millis(1_500)).await;
            let holds = !recent.is_empty();
            *held.borrow_mut() = recent;
            holds
        },
    )
    .await;
    signal(&first, Signal::SIGKILL);
    let status = first.wait().await.unwrap();
    assert!(!status.success());
    let orphaned = held.into_inner();
    let still_locked = locked_by_process(&pool, first_pid).await;
    assert!(
        orphaned.iter().all(|id| still_locked.contains(id)),
        "the killed worker still held {orphaned:?}, the database says {still_locked:?}"
    );

    let mut second = bench_worker(&db, "3", "3", "10s");

    // Assert: every item finished exactly once, nothing lost or left running.
    wait_for(Duration::from_secs(60), "the batch to complete", || async {
        scan_jobs::get_batch(&pool, batch).await.unwrap().unwrap().status == "completed"
    })
    .await;
    let summary = scan_jobs::get_batch(&pool, batch).await.unwrap().unwrap();
    assert_eq!(
        (summary.processed_items, summary.failed_items, summary.total_items),
        (items, 0, items)
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM scan_job_items").await,
        i64::from(items)
    );
    wait_for(
        Duration::from_secs(10),
        "every job to be acknowledged",
        || async {
            count(
                &pool,
                "SELECT count(*) FROM apalis.jobs WHERE job_type = 'bench' AND status = 'Done'",
            )
            .await
                == i64::from(items)
        },
    )
    .await;
    for id in &orphaned {
        let (lock_by, attempts): (String, i32) =
            sqlx::query_as("SELECT lock_by, attempts FROM apalis.jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(
            !lock_by.contains(&format!("-{first_pid}-")),
            "job {id} was finished by the second worker"
        );
        assert!(attempts >= 2, "job {id} ran again after the kill");
    }

    signal(&second, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), second.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM is a clean exit: {status}");
}

#[tokio::test]
async fn sigterm_lets_a_running_job_finish_then_exits_cleanly() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let batch = enqueue_batch(&pool, 1, 2_000).await;
    let mut worker = bench_worker(&db, "1", "1", "10s");
    let pid = worker.id().unwrap();
    wait_for(Duration::from_secs(20), "the job to start", || async {
        !locked_by_process(&pool, pid).await.is_empty()
    })
    .await;
    signal(&worker, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let summary = scan_jobs::get_batch(&pool, batch).await.unwrap().unwrap();
    assert_eq!(summary.processed_items, 1, "the running job finished before exit");
}

#[tokio::test]
async fn sigterm_hands_back_a_job_that_outlives_the_grace_period() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let batch = enqueue_batch(&pool, 1, 60_000).await;
    let mut worker = bench_worker(&db, "1", "1", "1s");
    let pid = worker.id().unwrap();
    wait_for(Duration::from_secs(20), "the job to start", || async {
        !locked_by_process(&pool, pid).await.is_empty()
    })
    .await;
    let job: String = sqlx::query_scalar("SELECT id FROM apalis.jobs WHERE job_type = 'bench'")
        .fetch_one(&pool)
        .await
        .unwrap();
    signal(&worker, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    // The job is back on the queue at once (not waiting for a heartbeat timeout)…
    let (state, ready): (String, bool) =
        sqlx::query_as("SELECT status, run_at <= now() FROM apalis.jobs WHERE id = $1")
            .bind(&job)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(state, "Pending");
    assert!(ready, "it can run again right away");
    // …and not counted as failed.
    let summary = scan_jobs::get_batch(&pool, batch).await.unwrap().unwrap();
    assert_eq!((summary.processed_items, summary.failed_items), (0, 0));
}

#[tokio::test]
async fn sigterm_hands_back_fetched_jobs_that_had_not_started() {
    // One job runs at a time but five are fetched at once; each runs for
    // 8 s, so SIGTERM reaches the first while it runs.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let batch = enqueue_batch(&pool, 5, 8_000).await;
    let mut worker = bench_worker(&db, "1", "5", "30s");
    let pid = worker.id().unwrap();
    wait_for(
        Duration::from_secs(20),
        "the worker to hold the five jobs",
        || async {
            held_with_work_left(&pool, pid, Duration::from_secs(3))
                .await
                .len()
                == 5
        },
    )
    .await;

    signal(&worker, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(40), worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    // The running one finished; the four waiting in the worker went back.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM apalis.jobs WHERE status = 'Done'").await,
        1
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM apalis.jobs WHERE status = 'Pending'").await,
        4
    );
    assert!(locked_by_process(&pool, pid).await.is_empty());
    let summary = scan_jobs::get_batch(&pool, batch).await.unwrap().unwrap();
    assert_eq!((summary.processed_items, summary.failed_items), (1, 0));
}

#[tokio::test]
async fn a_job_that_crashes_its_worker_is_killed_after_its_attempts() {
    // Arrange: a poison job with two attempts.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let enqueuer = Enqueuer::new(settings("postgres://unused/x").queue_policies());
    let poison = BenchJob {
        seq: 1,
        work_ms: 0,
        batch: None,
        abort: true,
    };
    let id = enqueuer
        .enqueue(&mut pool.acquire().await.unwrap(), &poison)
        .await
        .unwrap()
        .job_id()
        .unwrap()
        .to_owned();
    sqlx::query("UPDATE apalis.jobs SET max_attempts = 2 WHERE id = $1")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let status = || async {
        sqlx::query_as::<_, (String, Option<Value>)>(
            "SELECT status, last_result FROM apalis.jobs WHERE id = $1",
        )
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };

    // Act: start worker processes one after another, each after the last
    // one died, until the job is dead (at most four).
    let mut crashed = 0;
    let mut survivor = None;
    for _ in 0..4 {
        let mut worker = bench_worker(&db, "1", "1", "5s");
        let outcome = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(exit) = worker.try_wait().unwrap() {
                    return Some(exit);
                }
                if status().await.0 == "Killed" {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the worker crashes or the job dies within 30 s");
        match outcome {
            Some(exit) => {
                assert!(!exit.success(), "the poison job aborts its worker: {exit}");
                crashed += 1;
            }
            None => {
                survivor = Some(worker);
                break;
            }
        }
    }

    // Assert: two crashes, then the job is killed with the reason and the
    // third worker lives on.
    assert_eq!(crashed, 2, "the job ran once per attempt");
    let mut survivor = survivor.expect("the job was killed instead of crashing a third worker");
    let (state, result) = status().await;
    assert_eq!(state, "Killed");
    let result = result.map(|r| r.to_string()).unwrap_or_default();
    assert!(
        result.contains("crashed its worker 2 times"),
        "last_result: {result}"
    );
    assert!(
        survivor.try_wait().unwrap().is_none(),
        "the worker that killed it is still running"
    );
    signal(&survivor, Signal::SIGTERM);
    let _ = tokio::time::timeout(Duration::from_secs(20), survivor.wait()).await;
}
