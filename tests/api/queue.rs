//! The job platform on real PostgreSQL: persisted backoff for transient
//! errors, one run for permanent ones, dead jobs, retry and cancel.

use std::time::Duration;

use prospector_jobs::{
    EnqueueOptions, Enqueued, Handler, Job, JobContext, StageError,
    scan_jobs::{self, BatchItem, BatchKind},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{TestApp, count, test_queue, wait_for};

/// Fails the way it is told to, recording every run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Scripted {
    name: String,
    /// Transient failures before it succeeds.
    #[serde(default)]
    transient: u32,
    #[serde(default)]
    permanent: bool,
    /// Ask to run again later (once, or `waits` times) without failing.
    #[serde(default)]
    wait_ms: u64,
    #[serde(default)]
    waits: u32,
    #[serde(default)]
    panic: bool,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    batch: Option<BatchItem>,
}

impl Scripted {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            transient: 0,
            permanent: false,
            wait_ms: 0,
            waits: 0,
            panic: false,
            sleep_ms: 0,
            batch: None,
        }
    }
}

const QUEUE: &str = "test_scripted";

impl Job for Scripted {
    const QUEUE: &'static str = QUEUE;

    fn batch_item(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }
}

#[derive(Debug, thiserror::Error)]
enum ScriptedError {
    #[error("remote answered 503")]
    Transient,
    #[error("the input is invalid")]
    Permanent,
    #[error("daily budget spent")]
    Wait(Duration),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl StageError for ScriptedError {
    fn is_permanent(&self) -> bool {
        matches!(self, ScriptedError::Permanent)
    }
    fn wait(&self) -> Option<Duration> {
        match self {
            ScriptedError::Wait(d) => Some(*d),
            _ => None,
        }
    }
}

impl Handler for Scripted {
    type Deps = ();
    type Error = ScriptedError;

    async fn handle(self, ctx: &JobContext, _: &()) -> Result<(), ScriptedError> {
        sqlx::query("INSERT INTO test_runs (job, attempt) VALUES ($1, $2)")
            .bind(&self.name)
            .bind(ctx.attempt as i32)
            .execute(&ctx.pool)
            .await?;
        let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM test_runs WHERE job = $1")
            .bind(&self.name)
            .fetch_one(&ctx.pool)
            .await?;
        if self.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        }
        if self.panic {
            panic!("scripted panic");
        }
        if self.permanent {
            return Err(ScriptedError::Permanent);
        }
        let waits = if self.wait_ms > 0 {
            i64::from(self.waits.max(1))
        } else {
            0
        };
        if runs <= waits {
            return Err(ScriptedError::Wait(Duration::from_millis(self.wait_ms)));
        }
        if runs - waits <= i64::from(self.transient) {
            return Err(ScriptedError::Transient);
        }
        if let Some(item) = &self.batch {
            scan_jobs::record_item(&ctx.pool, item, QUEUE, &scan_jobs::ItemOutcome::Processed).await?;
        }
        Ok(())
    }
}

async fn app_with_queue(max_attempts: u32, backoff: Duration) -> TestApp {
    let app = TestApp::spawn_with(|s| {
        let mut queue = test_queue(max_attempts, backoff);
        queue.timeout = Duration::from_secs(2);
        s.add_queue(QUEUE, queue);
    })
    .await;
    sqlx::raw_sql(
        "CREATE TABLE test_runs (job text NOT NULL, attempt int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())",
    )
    .execute(app.pool())
    .await
    .unwrap();
    app
}

fn start_workers(app: &TestApp) {
    app.start_queue::<Scripted>(());
}

async fn enqueue(app: &TestApp, job: &Scripted) -> String {
    let mut conn = app.pool().acquire().await.unwrap();
    match app.app.enqueuer.enqueue(&mut conn, job).await.unwrap() {
        Enqueued::New(id) => id,
        Enqueued::AlreadyQueued => panic!("unexpected duplicate"),
    }
}

async fn job_row(pool: &PgPool, id: &str) -> (String, i32, i32) {
    sqlx::query_as("SELECT status, attempts, max_attempts FROM apalis.jobs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn wait_status(pool: &PgPool, id: &str, status: &'static str, limit: Duration) {
    wait_for(limit, &format!("job {id} to be {status}"), || async {
        let (current, attempts, max) = job_row(pool, id).await;
        match status {
            "dead" => current == "Killed" || (current == "Failed" && attempts >= max),
            _ => current == status,
        }
    })
    .await;
}

async fn run_times(pool: &PgPool, name: &str) -> Vec<f64> {
    sqlx::query_scalar("SELECT extract(epoch FROM at)::float8 FROM test_runs WHERE job = $1 ORDER BY at")
        .bind(name)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_transient_error_is_retried_with_growing_persisted_backoff() {
    // Arrange: backoff 3s, 6s (±20%), wide enough that a loaded machine's
    // pickup delays cannot reorder the gaps
    let app = app_with_queue(5, Duration::from_secs(3)).await;
    start_workers(&app);
    let mut job = Scripted::new("flaky");
    job.transient = 2;

    // Act
    let id = enqueue(&app, &job).await;

    // Assert: the row is delayed in the database between runs…
    wait_for(Duration::from_secs(10), "the first failure", || async {
        run_times(app.pool(), "flaky").await.len() == 1 && job_row(app.pool(), &id).await.0 == "Failed"
    })
    .await;
    let delayed: bool =
        sqlx::query_scalar("SELECT run_at > now() + interval '1 second' FROM apalis.jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert!(delayed, "a failed job's next run must be in the future");

    // …and it succeeds on the third run, after the backoff.
    wait_status(app.pool(), &id, "Done", Duration::from_secs(40)).await;
    let times = run_times(app.pool(), "flaky").await;
    assert_eq!(times.len(), 3, "two failures and one success");
    let (first_gap, second_gap) = (times[1] - times[0], times[2] - times[1]);
    assert!(first_gap >= 2.35, "first retry after ~3s, was {first_gap:.2}s");
    assert!(second_gap >= 4.75, "second retry after ~6s, was {second_gap:.2}s");
    assert!(second_gap > first_gap, "backoff grows");
    let (_, attempts, max) = job_row(app.pool(), &id).await;
    assert_eq!((attempts, max), (3, 5));
}

#[tokio::test]
async fn a_permanent_error_fails_once_with_its_reason_and_can_be_retried() {
    // Arrange
    let app = app_with_queue(5, Duration::from_millis(200)).await;
    start_workers(&app);
    let batch = scan_jobs::create_batch(app.pool(), BatchKind::Scan, &[QUEUE], 1, None, &Value::Null)
        .await
        .unwrap();
    let mut job = Scripted::new("bad-input");
    job.permanent = true;
    job.batch = Some(BatchItem {
        scan_job_id: batch,
        item_key: "p1".into(),
        prospect_id: None,
    });

    // Act
    let id = enqueue(&app, &job).await;
    wait_status(app.pool(), &id, "Killed", Duration::from_secs(10)).await;
    // Give a wrongful retry time to happen.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Assert: one run, dead, with the reason, and the batch item failed.
    assert_eq!(run_times(app.pool(), "bad-input").await.len(), 1);
    let dead: Vec<Value> = app.get("/api/jobs/dead").await.json().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["id"], id.as_str());
    assert_eq!(dead[0]["queue"], QUEUE);
    assert_eq!(dead[0]["reason"], "the input is invalid");
    let summary = scan_jobs::get_batch(app.pool(), batch).await.unwrap().unwrap();
    assert_eq!(
        (
            summary.failed_items,
            summary.processed_items,
            summary.status.as_str()
        ),
        (1, 0, "completed")
    );
    let failures = scan_jobs::list_failures(app.pool(), batch, 10).await.unwrap();
    assert_eq!(failures[0].reason.as_deref(), Some("the input is invalid"));

    // An operator retries it: it runs once more (and fails the same way).
    let response = app.post(&format!("/api/jobs/{id}/retry")).await;
    assert_eq!(response.status(), 200);
    wait_for(Duration::from_secs(10), "the retried run", || async {
        run_times(app.pool(), "bad-input").await.len() == 2
    })
    .await;
    wait_status(app.pool(), &id, "Killed", Duration::from_secs(10)).await;
    // Still one failed item: counted once.
    let summary = scan_jobs::get_batch(app.pool(), batch).await.unwrap().unwrap();
    assert_eq!((summary.failed_items, summary.processed_items), (1, 0));
}

#[tokio::test]
async fn a_job_that_keeps_failing_dies_after_max_attempts_and_its_item_counts_as_failed() {
    let app = app_with_queue(2, Duration::from_millis(200)).await;
    start_workers(&app);
    let batch = scan_jobs::create_batch(app.pool(), BatchKind::Scan, &[QUEUE], 2, None, &Value::Null)
        .await
        .unwrap();
    let mut doomed = Scripted::new("doomed");
    doomed.transient = 100;
    doomed.batch = Some(BatchItem {
        scan_job_id: batch,
        item_key: "a".into(),
        prospect_id: None,
    });
    let mut fine = Scripted::new("fine");
    fine.batch = Some(BatchItem {
        scan_job_id: batch,
        item_key: "b".into(),
        prospect_id: None,
    });

    let doomed_id = enqueue(&app, &doomed).await;
    enqueue(&app, &fine).await;

    wait_status(app.pool(), &doomed_id, "dead", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(run_times(app.pool(), "doomed").await.len(), 2, "max_attempts = 2");
    let (status, attempts, max) = job_row(app.pool(), &doomed_id).await;
    assert_eq!((status.as_str(), attempts, max), ("Failed", 2, 2));

    wait_for(Duration::from_secs(10), "the batch to complete", || async {
        scan_jobs::get_batch(app.pool(), batch)
            .await
            .unwrap()
            .unwrap()
            .status
            == "completed"
    })
    .await;
    let summary = scan_jobs::get_batch(app.pool(), batch).await.unwrap().unwrap();
    assert_eq!((summary.processed_items, summary.failed_items), (1, 1));
    let failures = scan_jobs::list_failures(app.pool(), batch, 10).await.unwrap();
    let reason = failures[0].reason.clone().unwrap();
    assert!(
        reason.starts_with("gave up after 2 attempts: remote answered 503"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_waiting_job_runs_again_later_without_failing() {
    let app = app_with_queue(1, Duration::from_millis(200)).await;
    start_workers(&app);
    let mut job = Scripted::new("budget");
    job.wait_ms = 1200;
    let id = enqueue(&app, &job).await;
    wait_status(app.pool(), &id, "Done", Duration::from_secs(10)).await;
    let times = run_times(app.pool(), "budget").await;
    assert_eq!(times.len(), 2);
    assert!(times[1] - times[0] >= 1.1, "waited {:.2}s", times[1] - times[0]);
}

#[tokio::test]
async fn undecodable_payloads_and_panics_kill_the_job_not_the_worker() {
    let app = app_with_queue(3, Duration::from_millis(200)).await;
    start_workers(&app);
    sqlx::query(
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority)
         VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', $1, convert_to('{\"nonsense\": 1}', 'UTF8'), 'Pending', 0, 3, now(), 0)",
    )
    .bind(QUEUE)
    .execute(app.pool())
    .await
    .unwrap();
    let mut panicking = Scripted::new("panics");
    panicking.panic = true;
    let panic_id = enqueue(&app, &panicking).await;
    let good_id = enqueue(&app, &Scripted::new("good")).await;

    wait_status(
        app.pool(),
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "Killed",
        Duration::from_secs(10),
    )
    .await;
    wait_status(app.pool(), &panic_id, "Killed", Duration::from_secs(10)).await;
    wait_status(app.pool(), &good_id, "Done", Duration::from_secs(10)).await;

    let dead: Vec<Value> = app
        .get(&format!("/api/jobs/dead?queue={QUEUE}"))
        .await
        .json()
        .await
        .unwrap();
    let reason_of = |id: &str| {
        dead.iter()
            .find(|d| d["id"] == id)
            .and_then(|d| d["reason"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(reason_of("01ARZ3NDEKTSV4RRFFQ69G5FAV").contains("payload is not a valid test_scripted job"));
    assert!(reason_of(&panic_id).contains("handler panicked: scripted panic"));
}

#[tokio::test]
async fn a_run_over_its_timeout_is_a_transient_failure() {
    let app = app_with_queue(1, Duration::from_millis(200)).await;
    start_workers(&app);
    let mut slow = Scripted::new("slow");
    slow.sleep_ms = 5_000; // the queue's timeout is 2s
    let id = enqueue(&app, &slow).await;
    wait_status(app.pool(), &id, "dead", Duration::from_secs(10)).await;
    let dead: Vec<Value> = app.get("/api/jobs/dead").await.json().await.unwrap();
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("timed out after 2s"),
        "{dead:?}"
    );
}

#[tokio::test]
async fn pushes_carry_the_queue_policy_and_honour_idempotency_keys() {
    let app = app_with_queue(7, Duration::from_millis(200)).await;
    let mut conn = app.pool().acquire().await.unwrap();
    let options = || EnqueueOptions {
        idempotency_key: Some("scripted:once:2026-11".into()),
        ..EnqueueOptions::default()
    };
    let first = app
        .app
        .enqueuer
        .enqueue_with(&mut conn, &Scripted::new("x"), options())
        .await
        .unwrap();
    let second = app
        .app
        .enqueuer
        .enqueue_with(&mut conn, &Scripted::new("x"), options())
        .await
        .unwrap();
    let id = first.job_id().expect("a new job").to_owned();
    assert_eq!(second, Enqueued::AlreadyQueued);
    assert_eq!(count(app.pool(), "SELECT count(*) FROM apalis.jobs").await, 1);
    assert_eq!(
        job_row(app.pool(), &id).await.2,
        7,
        "max_attempts comes from [stages.test_scripted]"
    );

    // A duplicate inside a transaction does not abort it.
    let mut tx = app.pool().begin().await.unwrap();
    app.app
        .enqueuer
        .enqueue_with(&mut tx, &Scripted::new("x"), options())
        .await
        .unwrap();
    sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    // Bulk pushes skip duplicates by key as well.
    let many: Vec<Scripted> = (0..50).map(|i| Scripted::new(&format!("bulk-{i}"))).collect();
    let new = app.app.enqueuer.enqueue_many(&mut conn, &many).await.unwrap();
    assert_eq!(new, 50);
    assert_eq!(
        count(
            app.pool(),
            "SELECT count(*) FROM apalis.jobs WHERE max_attempts = 7"
        )
        .await,
        51
    );
}

#[tokio::test]
async fn operators_cancel_waiting_jobs_and_retry_cancelled_ones() {
    let app = app_with_queue(3, Duration::from_millis(200)).await;
    let batch = scan_jobs::create_batch(app.pool(), BatchKind::Scan, &[QUEUE], 1, None, &Value::Null)
        .await
        .unwrap();
    let mut job = Scripted::new("later");
    job.batch = Some(BatchItem {
        scan_job_id: batch,
        item_key: "x".into(),
        prospect_id: None,
    });
    let mut conn = app.pool().acquire().await.unwrap();
    let id = app
        .app
        .enqueuer
        .enqueue_with(
            &mut conn,
            &job,
            EnqueueOptions {
                run_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
                ..EnqueueOptions::default()
            },
        )
        .await
        .unwrap()
        .job_id()
        .unwrap()
        .to_owned();

    // Cancel: killed, not listed as dead, its item failed with the reason.
    assert_eq!(app.post(&format!("/api/jobs/{id}/cancel")).await.status(), 200);
    assert_eq!(job_row(app.pool(), &id).await.0, "Killed");
    let dead: Vec<Value> = app.get("/api/jobs/dead").await.json().await.unwrap();
    assert!(dead.is_empty(), "cancelled jobs are not dead: {dead:?}");
    let failures = scan_jobs::list_failures(app.pool(), batch, 10).await.unwrap();
    assert_eq!(failures[0].reason.as_deref(), Some("cancelled by operator"));

    // A second cancel conflicts; an unknown id is 404.
    assert_eq!(app.post(&format!("/api/jobs/{id}/cancel")).await.status(), 409);
    assert_eq!(
        app.post("/api/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/retry")
            .await
            .status(),
        404
    );

    // Retrying it puts it back; a worker then completes it and the item flips to processed.
    assert_eq!(app.post(&format!("/api/jobs/{id}/retry")).await.status(), 200);
    start_workers(&app);
    wait_status(app.pool(), &id, "Done", Duration::from_secs(10)).await;
    let summary = scan_jobs::get_batch(app.pool(), batch).await.unwrap().unwrap();
    assert_eq!((summary.processed_items, summary.failed_items), (1, 0));
}

#[tokio::test]
async fn deferrals_do_not_use_up_attempts() {
    // Arrange: two attempts; a job that waits three times (a spent budget),
    // then fails once, then succeeds.
    let app = app_with_queue(2, Duration::from_millis(100)).await;
    start_workers(&app);
    let mut job = Scripted::new("patient");
    job.wait_ms = 50;
    job.waits = 3;
    job.transient = 1;

    // Act
    let id = enqueue(&app, &job).await;

    // Assert: it still had both attempts when it really ran.
    wait_status(app.pool(), &id, "Done", Duration::from_secs(20)).await;
    let attempts: Vec<i32> =
        sqlx::query_scalar("SELECT attempt FROM test_runs WHERE job = 'patient' ORDER BY at")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(attempts, [1, 1, 1, 1, 2], "three deferrals, a failure, a success");
    let (_, charged, _) = job_row(app.pool(), &id).await;
    assert_eq!(charged, 2, "only the two real runs were charged");
}
