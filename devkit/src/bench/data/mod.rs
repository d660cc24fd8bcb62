//! `prospector bench data`: the admin API and the queue on a large lead
//! database.
//!
//! 1. **Seed** a scratch database (`<database>_bench_data`) with
//!    `--prospects` prospects, each digital one with a tech and a Lighthouse
//!    profile, every one scored with three flags; a running batch over all
//!    of them half-way through `tech_scan` (per-stage progress rows); and
//!    `--done-jobs` finished jobs spread over the last 30 days. With
//!    `--reuse`, an already seeded database keeps its prospects and only the
//!    job table is seeded again.
//! 2. **Measure** p50/p95 over `--samples` requests of `GET /api/status`, of
//!    the prospect list with the filters and sorts the admin page uses (real
//!    HTTP on loopback to the real router, bearer auth included), and of one
//!    queue fetch (`apalis.get_jobs` of a `tech_scan` batch, in a transaction
//!    that is rolled back so every sample sees the same queue) — first with
//!    no pending job, then with `--pending` jobs waiting.
//! 3. **Prune** with the configured retention and report what it deleted,
//!    how long it took and the job table's rows before and after.

mod seed;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Instant};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{
    ms, percentile,
    queue::{bench_url, recreate_database},
};
use prospector::{admin, config::Settings, db, maintenance};

use crate::cli::BenchDataArgs;

/// The list requests measured: what the admin page asks for.
const LIST_QUERIES: &[&str] = &[
    "",
    "?tier=hot",
    "?tier=warm&offset=5000",
    "?city=Esch-sur-Alzette",
    "?cms=WordPress&min_score=60",
    "?status=active&sort=created",
    "?tag=priority",
    "?sort=name",
    "?min_score=40&max_score=60&city=Luxembourg&sort=created",
];

/// Latency of one request kind.
#[derive(Debug, Clone)]
pub struct Latency {
    /// What was measured.
    pub name: String,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
}

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct DataFigures {
    /// With no pending job.
    pub idle: Vec<Latency>,
    /// With `--pending` jobs waiting.
    pub loaded: Vec<Latency>,
    /// Finished jobs deleted by one pruning pass.
    pub pruned_jobs: u64,
    /// Seconds that pass took.
    pub prune_seconds: f64,
}

/// Run the benchmark and print its figures.
pub async fn run(settings: Settings, args: BenchDataArgs) -> anyhow::Result<DataFigures> {
    if args.prospects == 0 || args.samples == 0 {
        bail!("--prospects and --samples must be at least 1");
    }
    let mut db_settings = settings.database.clone();
    let options = db::connect_options(&db_settings)?;
    let name = format!("{}_bench_data", options.get_database().unwrap_or("prospector"));
    db_settings.url = SecretString::from(bench_url(db_settings.url.expose_secret(), &name)?);
    db_settings.max_connections = db_settings.max_connections.max(4);
    if !args.reuse || !seed::database_exists(&db_settings, &name).await? {
        recreate_database(&db_settings, &name).await?;
    }
    // Seeding statements run for many seconds by design: not worth a warning.
    let options = sqlx::ConnectOptions::log_slow_statements(
        db::connect_options(&db_settings)?,
        tracing::log::LevelFilter::Off,
        std::time::Duration::from_secs(5),
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(db_settings.max_connections)
        .connect_with(options)
        .await?;
    db::migrate(&pool).await?;
    println!(
        "bench data: {} prospects, {} finished jobs, then {} pending; {} samples per figure (database {name})",
        args.prospects, args.done_jobs, args.pending, args.samples
    );

    let seeded = seed::seed(&pool, &args).await?;
    println!("  seeded in {:.1}s: {seeded}", seeded.seconds);

    let token = ulid::Ulid::new().to_string();
    let mut settings = settings;
    settings.database = db_settings;
    settings.admin.token = Some(SecretString::from(token.clone()));
    let stop = CancellationToken::new();
    let (addr, server) = serve(pool.clone(), Arc::new(settings.clone()), stop.clone()).await?;
    let client = Client::new(addr, &token)?;
    let batch = i32::try_from(settings.worker("tech_scan").batch_size).unwrap_or(i32::MAX);
    seed::register_worker(&pool).await?;

    let result = async {
        let idle = measure_all(&client, &pool, batch, args.samples).await?;
        seed::pending_jobs(&pool, args.pending, "tech_scan").await?;
        let loaded = measure_all(&client, &pool, batch, args.samples).await?;
        print_table(&idle, &loaded, args.pending);
        // The same fetch from a small queue, with the big one still there.
        seed::pending_jobs(&pool, 1_000, "score").await?;
        let small = latency("fetch", args.samples, || fetch_rolled_back(&pool, "score", batch)).await?;
        println!(
            "  fetch of a {batch}-job batch from a queue of 1000 (beside the {} one): p50 {:.2} ms, p95 {:.2} ms",
            args.pending, small.p50_ms, small.p95_ms
        );
        let (pruned_jobs, prune_seconds) = prune(&pool, &settings).await?;
        anyhow::Ok(DataFigures {
            idle,
            loaded,
            pruned_jobs,
            prune_seconds,
        })
    }
    .await;
    stop.cancel();
    let _ = server.await;
    pool.close().await;
    result
}

async fn serve(
    pool: PgPool,
    settings: Arc<Settings>,
    stop: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = admin::router(admin::AdminState::new(pool, settings));
    Ok((addr, tokio::spawn(admin::serve(listener, router, stop))))
}

/// An authenticated client of the admin API under test.
struct Client {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Client {
    fn new(addr: SocketAddr, token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().no_proxy().build()?,
            base: format!("http://{addr}"),
            auth: format!("Bearer {token}"),
        })
    }

    /// GET `path`; the body is read in full, a non-200 answer is an error.
    async fn get(&self, path: &str) -> anyhow::Result<()> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .send()
            .await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }
}

async fn measure_all(
    client: &Client,
    pool: &PgPool,
    batch: i32,
    samples: usize,
) -> anyhow::Result<Vec<Latency>> {
    let mut figures = Vec::new();
    figures.push(latency("GET /api/status", samples, || client.get("/api/status")).await?);
    figures.push(latency("GET /metrics", samples, || client.get("/metrics")).await?);
    for query in LIST_QUERIES {
        let path = format!("/api/prospects{query}");
        figures.push(latency(&format!("GET {path}"), samples, || client.get(&path)).await?);
    }
    figures.push(
        latency(&format!("fetch tech_scan (batch {batch})"), samples, || {
            fetch_rolled_back(pool, "tech_scan", batch)
        })
        .await?,
    );
    Ok(figures)
}

/// Time `samples` calls after five warm-up calls.
async fn latency<F, Fut>(name: &str, samples: usize, mut call: F) -> anyhow::Result<Latency>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..5 {
        call().await.with_context(|| name.to_owned())?;
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        call().await.with_context(|| name.to_owned())?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(Latency {
        name: name.to_owned(),
        p50_ms: ms(percentile(&times, 0.5)),
        p95_ms: ms(percentile(&times, 0.95)),
    })
}

/// One fetch as a worker makes it, rolled back so the queue stays as it was.
async fn fetch_rolled_back(pool: &PgPool, queue: &str, batch: i32) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let fetched = seed::fetch(&mut tx, queue, batch).await?;
    tx.rollback().await?;
    if fetched > i64::from(batch) {
        bail!("a fetch of {batch} returned {fetched} jobs");
    }
    Ok(())
}

const TARGET_MS: f64 = 100.0;

fn print_table(idle: &[Latency], loaded: &[Latency], pending: u64) {
    println!(
        "  {:<62} {:>17}   {:>17}",
        "",
        "0 pending",
        format!("{pending} pending")
    );
    println!(
        "  {:<62} {:>8} {:>8}   {:>8} {:>8}",
        "request", "p50 ms", "p95 ms", "p50 ms", "p95 ms"
    );
    for (a, b) in idle.iter().zip(loaded) {
        let over = a.p95_ms > TARGET_MS || b.p95_ms > TARGET_MS;
        println!(
            "  {:<62} {:>8.2} {:>8.2}   {:>8.2} {:>8.2}{}",
            a.name,
            a.p50_ms,
            a.p95_ms,
            b.p50_ms,
            b.p95_ms,
            if over { "  (over the 100 ms target)" } else { "" }
        );
    }
}

async fn prune(pool: &PgPool, settings: &Settings) -> anyhow::Result<(u64, f64)> {
    let before = seed::job_rows(pool).await?;
    let started = Instant::now();
    let pruned = maintenance::prune_once(pool, &settings.retention)
        .await?
        .context("another process holds the pruning lock")?;
    let seconds = started.elapsed().as_secs_f64();
    let after = seed::job_rows(pool).await?;
    println!(
        "  prune (done jobs kept {}): deleted {} in {seconds:.1}s; apalis.jobs {before} → {after}; oldest done job left: {}",
        humantime::format_duration(settings.retention.done),
        pruned.done_jobs,
        humantime::format_duration(seed::oldest_done_job(pool).await?),
    );
    Ok((pruned.done_jobs, seconds))
}
