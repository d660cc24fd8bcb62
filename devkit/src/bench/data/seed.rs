//! Seeding and reading back the `bench data` database. The bulk inserts are
//! single `INSERT … SELECT … generate_series` statements (in `sql/`): the
//! server builds the rows, nothing crosses the wire row by row.

use std::{fmt, time::Duration, time::Instant};

use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

use prospector::{config::DatabaseSettings, db};

use crate::cli::BenchDataArgs;

/// The worker name the measured fetches lock jobs for.
const WORKER: &str = "bench-data-fetch";

/// What the seed step did.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Prospects inserted now (0 when an earlier run's were reused).
    pub prospects: u64,
    /// Tech profiles inserted now.
    pub tech_profiles: u64,
    /// Lighthouse profiles inserted now.
    pub performance_profiles: u64,
    /// Scores inserted now.
    pub scores: u64,
    /// Per-stage progress rows of the running batch.
    pub stage_items: u64,
    /// Finished jobs.
    pub done_jobs: u64,
    /// Wall time.
    pub seconds: f64,
}

impl fmt::Display for Seeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prospects == 0 {
            write!(f, "prospects reused; ")?;
        } else {
            write!(
                f,
                "{} prospects, {} tech profiles, {} Lighthouse profiles, {} scores, {} batch progress rows; ",
                self.prospects, self.tech_profiles, self.performance_profiles, self.scores, self.stage_items
            )?;
        }
        write!(f, "{} finished jobs", self.done_jobs)
    }
}

/// Whether the scratch database exists already.
pub async fn database_exists(settings: &DatabaseSettings, name: &str) -> anyhow::Result<bool> {
    let options = db::connect_options(settings)?.database("postgres");
    let mut admin = PgConnection::connect_with(&options).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await?;
    admin.close().await?;
    Ok(exists)
}

/// Seed what is missing: the lead base unless it is already there with
/// `--prospects` rows, and the job table from scratch every time.
pub async fn seed(pool: &PgPool, args: &BenchDataArgs) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let mut seeded = Seeded::default();
    let count = i64::try_from(args.prospects)?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM prospects WHERE source = 'bench'")
        .fetch_one(pool)
        .await?;
    if existing != count {
        sqlx::raw_sql("TRUNCATE prospects, prospect_scan_jobs RESTART IDENTITY CASCADE")
            .execute(pool)
            .await?;
        seeded.prospects = step(pool, "prospects", include_str!("sql/seed_prospects.sql"), count).await?;
        seeded.tech_profiles = step(
            pool,
            "tech profiles",
            include_str!("sql/seed_tech_profiles.sql"),
            0,
        )
        .await?;
        seeded.performance_profiles = step(
            pool,
            "Lighthouse profiles",
            include_str!("sql/seed_performance_profiles.sql"),
            0,
        )
        .await?;
        seeded.scores = step(pool, "scores", include_str!("sql/seed_scores.sql"), 0).await?;
        // One counter row would take 500,000 trigger updates; it is
        // filled once from the items instead.
        sqlx::raw_sql("ALTER TABLE scan_job_stage_items DISABLE TRIGGER scan_job_stage_items_count")
            .execute(pool)
            .await?;
        seeded.stage_items = step(
            pool,
            "batch progress",
            include_str!("sql/seed_scan_job.sql"),
            count,
        )
        .await?;
        step(
            pool,
            "batch counters",
            include_str!("sql/seed_stage_counts.sql"),
            0,
        )
        .await?;
        sqlx::raw_sql("ALTER TABLE scan_job_stage_items ENABLE TRIGGER scan_job_stage_items_count")
            .execute(pool)
            .await?;
    }
    sqlx::raw_sql("TRUNCATE apalis.jobs").execute(pool).await?;
    let done = i64::try_from(args.done_jobs)?;
    seeded.done_jobs = step(
        pool,
        "finished jobs",
        include_str!("sql/seed_done_jobs.sql"),
        done,
    )
    .await?;
    analyze(pool).await?;
    seeded.seconds = started.elapsed().as_secs_f64();
    Ok(seeded)
}

/// Add `count` pending jobs to `queue`.
pub async fn pending_jobs(pool: &PgPool, count: u64, queue: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let n = sqlx::query(include_str!("sql/seed_pending_jobs.sql"))
        .bind(i64::try_from(count)?)
        .bind(queue)
        .execute(pool)
        .await?
        .rows_affected();
    analyze(pool).await?;
    println!(
        "  + {n} pending {queue} jobs in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One seeding statement; `$1` is `count` when the statement takes it.
async fn step(pool: &PgPool, what: &str, sql: &'static str, count: i64) -> anyhow::Result<u64> {
    let started = Instant::now();
    let query = sqlx::query(sql);
    let query = if sql.contains("$1") {
        query.bind(count)
    } else {
        query
    };
    let rows = query
        .execute(pool)
        .await
        .map_err(|e| anyhow::anyhow!("seeding {what}: {e}"))?
        .rows_affected();
    tracing::info!(what, rows, seconds = started.elapsed().as_secs_f64(), "seeded");
    Ok(rows)
}

/// Fresh planner statistics, as autovacuum would have them after a while.
async fn analyze(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "VACUUM ANALYZE apalis.jobs, prospects, prospect_scores, prospect_tech_profiles, \
         prospect_performance_profiles, scan_job_stage_items, prospect_scan_jobs",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The worker row that `apalis.jobs.lock_by` refers to.
pub async fn register_worker(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen) \
         VALUES ($1, 'tech_scan', 'PostgresStorage', '', now()) \
         ON CONFLICT (id) DO UPDATE SET last_seen = now()",
    )
    .bind(WORKER)
    .execute(pool)
    .await?;
    Ok(())
}

/// The fetch a worker of `queue` makes (the queue's own function).
pub async fn fetch(tx: &mut Transaction<'_, Postgres>, queue: &str, batch: i32) -> anyhow::Result<i64> {
    let fetched: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.get_jobs($1, $2, $3)")
        .bind(WORKER)
        .bind(queue)
        .bind(batch)
        .fetch_one(&mut **tx)
        .await?;
    Ok(fetched)
}

/// Rows of the job table.
#[derive(Debug, Clone, Copy)]
pub struct JobRows {
    /// All of them.
    pub total: i64,
    /// Finished ones.
    pub done: i64,
}

impl fmt::Display for JobRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rows ({} done)", self.total, self.done)
    }
}

/// Count the job table's rows.
pub async fn job_rows(pool: &PgPool) -> anyhow::Result<JobRows> {
    let (total, done): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE status = 'Done') FROM apalis.jobs")
            .fetch_one(pool)
            .await?;
    Ok(JobRows { total, done })
}

/// Age of the oldest finished job.
pub async fn oldest_done_job(pool: &PgPool) -> anyhow::Result<Duration> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - min(done_at))::float8 FROM apalis.jobs WHERE status = 'Done'",
    )
    .fetch_one(pool)
    .await?;
    Ok(Duration::from_secs(seconds.unwrap_or(0.0).max(0.0) as u64))
}
