//! `prospector bench queue`: no-op job throughput and latency.
//!
//! 1. **Enqueue**: `--jobs` jobs pushed with multi-row inserts of `--chunk`.
//! 2. **Process**: `--processes` worker processes (`prospector bench work`)
//!    drain the backlog; the rate is jobs / (last done − first fetch),
//!    read from the queue rows themselves.
//! 3. **Latency**: with the workers idle, `--latency-jobs` jobs are inserted
//!    one per transaction at `--latency-rate` per second; enqueue→start is
//!    the time from a job's insert to its fetch by a worker.

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use prospector_jobs::{Enqueuer, Job};

use super::BenchJob;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tokio::process::{Child, Command};

use prospector::{config::Settings, db};

use crate::cli::BenchQueueArgs;

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct QueueFigures {
    /// Jobs in the throughput runs.
    pub jobs: usize,
    /// Worker processes.
    pub processes: usize,
    /// Enqueue rate.
    pub enqueue_per_second: f64,
    /// Processing rate.
    pub process_per_second: f64,
    /// Enqueue→start latency, median.
    pub latency_p50_ms: f64,
    /// Enqueue→start latency, 99th percentile.
    pub latency_p99_ms: f64,
}

/// Run the benchmark once per `--processes` entry and print its figures.
pub async fn run(settings: Settings, args: BenchQueueArgs) -> anyhow::Result<Vec<QueueFigures>> {
    if args.jobs == 0 || args.processes.is_empty() || args.processes.contains(&0) || args.chunk == 0 {
        bail!("--jobs, --processes and --chunk must be at least 1");
    }
    let mut figures = Vec::new();
    for &processes in &args.processes {
        figures.push(run_one(&settings, &args, processes).await?);
    }
    if figures.len() > 1 {
        println!("summary ({} no-op jobs):", args.jobs);
        println!("  processes  process jobs/s  enqueue→start p50 / p99 ms");
        for f in &figures {
            println!(
                "  {:>9}  {:>14.0}  {:>8.1} / {:.1}",
                f.processes, f.process_per_second, f.latency_p50_ms, f.latency_p99_ms
            );
        }
    }
    Ok(figures)
}

async fn run_one(
    settings: &Settings,
    args: &BenchQueueArgs,
    processes: usize,
) -> anyhow::Result<QueueFigures> {
    let mut db_settings = settings.database.clone();
    let options = db::connect_options(&db_settings)?;
    let name = format!("{}_bench", options.get_database().unwrap_or("prospector"));
    let url = bench_url(db_settings.url.expose_secret(), &name)?;
    db_settings.url = SecretString::from(url.clone());
    recreate_database(&db_settings, &name).await?;
    let pool = db::connect(&db_settings).await?;
    db::migrate(&pool).await?;
    let enqueuer = Enqueuer::new(settings.queue_policies());
    let bench = settings.worker(BenchJob::QUEUE);
    let workers = args.workers.unwrap_or(bench.workers);
    let batch = args.batch.unwrap_or(bench.batch_size);
    println!(
        "bench queue: {} no-op jobs, {} worker process(es) x {} consumers, batch {}, on {} CPU cores (database {name})",
        args.jobs,
        processes,
        workers,
        batch,
        std::thread::available_parallelism().map_or(0, usize::from),
    );

    // 1. Enqueue.
    let jobs: Vec<BenchJob> = (0..args.jobs as u64)
        .map(|seq| BenchJob {
            seq,
            work_ms: 0,
            batch: None,
            abort: false,
        })
        .collect();
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    for chunk in jobs.chunks(args.chunk) {
        enqueuer.enqueue_many(&mut conn, chunk).await?;
    }
    drop(conn);
    let enqueue_seconds = started.elapsed().as_secs_f64();
    let enqueue_per_second = args.jobs as f64 / enqueue_seconds;
    println!(
        "  enqueue: {:>10.0} jobs/s  ({} jobs in {enqueue_seconds:.2}s)",
        enqueue_per_second, args.jobs
    );

    // 2. Process.
    let mut children = Vec::new();
    for _ in 0..processes {
        children.push(spawn_worker(&url, workers, batch, bench.concurrency.max(batch))?);
    }
    let result = measure(&pool, &enqueuer, args, &mut children).await;
    for child in &mut children {
        stop(child).await;
    }
    let (process_per_second, process_seconds, latency) = result?;
    println!(
        "  process: {:>10.0} jobs/s  ({} jobs in {process_seconds:.2}s, first fetch to last ack)",
        process_per_second, args.jobs
    );
    println!(
        "  latency: p50 {:.1} ms, p99 {:.1} ms enqueue→start ({} jobs at {}/s, workers idle)",
        latency.0, latency.1, args.latency_jobs, args.latency_rate
    );
    pool.close().await;
    Ok(QueueFigures {
        jobs: args.jobs,
        processes,
        enqueue_per_second,
        process_per_second,
        latency_p50_ms: latency.0,
        latency_p99_ms: latency.1,
    })
}

async fn measure(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    args: &BenchQueueArgs,
    children: &mut [Child],
) -> anyhow::Result<(f64, f64, (f64, f64))> {
    wait_done(pool, args.jobs as i64, children, Duration::from_secs(600)).await?;
    let span: f64 = sqlx::query_scalar!(
        r#"
        SELECT extract(epoch FROM max(done_at) - min(lock_at))::float8 AS "span!"
        FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'
        "#,
        BenchJob::QUEUE
    )
    .fetch_one(pool)
    .await?;
    let process_per_second = args.jobs as f64 / span.max(1e-6);

    // 3. Latency, one insert per transaction at a steady rate.
    let marker = chrono::Utc::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(args.latency_rate.max(1)));
    let mut ticker = tokio::time::interval(interval);
    let mut conn = pool.acquire().await?;
    for seq in 0..args.latency_jobs as u64 {
        ticker.tick().await;
        let job = BenchJob {
            seq: u64::MAX - seq,
            work_ms: 0,
            batch: None,
            abort: false,
        };
        enqueuer.enqueue(&mut conn, &job).await?;
    }
    drop(conn);
    wait_done(
        pool,
        (args.jobs + args.latency_jobs) as i64,
        children,
        Duration::from_secs(120),
    )
    .await?;
    let latency = sqlx::query!(
        r#"
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM lock_at - run_at) * 1000)::float8 AS "p50!",
               percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM lock_at - run_at) * 1000)::float8 AS "p99!"
        FROM apalis.jobs
        WHERE job_type = $1 AND status = 'Done' AND run_at >= $2
        "#,
        BenchJob::QUEUE,
        marker,
    )
    .fetch_one(pool)
    .await?;
    Ok((process_per_second, span, (latency.p50, latency.p99)))
}

async fn wait_done(
    pool: &PgPool,
    expected: i64,
    children: &mut [Child],
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let done: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'"#,
            BenchJob::QUEUE
        )
        .fetch_one(pool)
        .await?;
        if done >= expected {
            return Ok(());
        }
        for child in children.iter_mut() {
            if let Some(status) = child.try_wait()? {
                bail!("a bench worker process exited early ({status})");
            }
        }
        if Instant::now() > deadline {
            bail!("only {done} of {expected} jobs done after {}s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spawn_worker(url: &str, workers: usize, batch: usize, concurrency: usize) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot find the prospector executable")?;
    Command::new(exe)
        .args(["work"])
        .env("DATABASE_URL", url)
        .env("PROSPECTOR__STAGES__BENCH__WORKERS", workers.to_string())
        .env("PROSPECTOR__STAGES__BENCH__BATCH_SIZE", batch.to_string())
        .env("PROSPECTOR__STAGES__BENCH__CONCURRENCY", concurrency.to_string())
        .env("PROSPECTOR__LOG__FILTER", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start a bench worker process")
}

async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

pub(crate) fn bench_url(url: &str, name: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("database.url is not a URL")?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

pub(crate) async fn recreate_database(
    settings: &prospector::config::DatabaseSettings,
    name: &str,
) -> anyhow::Result<()> {
    use sqlx::Connection;
    let options = db::connect_options(settings)?.database("postgres");
    let mut admin = sqlx::PgConnection::connect_with(&options).await?;
    let quoted = name.replace('"', "\"\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{quoted}\"")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}
