//! `prospector bench scan`: domains per second through the whole tech_scan
//! stage (queue, DNS, HTTPS with politeness, parsing, fingerprinting,
//! contacts, the database transaction) against a local fleet of simulated
//! sites with realistic response times.
//!
//! Uses a scratch database (`<database>_bench_scan`, recreated), inserts
//! `--domains` prospects (every 20th domain does not resolve), enqueues one
//! batch and runs the stage's workers in this process with the configured
//! settings (politeness delay included) until the batch is finished. The
//! rate is domains / (last job done − first job started).

use std::time::{Duration, Instant};

use anyhow::bail;
use prospector_jobs::{
    ScanTech, Stage,
    scan_jobs::{self, BatchItem, BatchKind},
    tech_scan::fetch::ResolveOverride,
};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use super::{
    fleet::{self, Latency},
    queue::{bench_url, recreate_database},
};
use prospector::{application::Application, config::Settings, db};

use crate::cli::BenchScanArgs;

/// Run the benchmark and print its figures.
pub async fn run(mut settings: Settings, args: BenchScanArgs) -> anyhow::Result<()> {
    if args.domains == 0 {
        bail!("--domains must be at least 1");
    }
    // Scratch database.
    let options = db::connect_options(&settings.database)?;
    let name = format!("{}_bench_scan", options.get_database().unwrap_or("prospector"));
    let url = bench_url(settings.database.url.expose_secret(), &name)?;
    recreate_database(&settings.database, &name).await?;
    settings.database.url = SecretString::from(url);
    settings.database.max_connections = settings.database.max_connections.max(30);
    let pool = db::connect(&settings.database).await?;
    db::migrate(&pool).await?;

    // The fleet.
    let latency = Latency {
        median: Duration::from_millis(args.latency_ms),
        sigma: 0.6,
        max: Duration::from_secs(4),
    };
    let dns_latency = Latency {
        median: Duration::from_millis(15),
        sigma: 0.5,
        max: Duration::from_millis(300),
    };
    let fleet = fleet::start(latency, dns_latency, args.page_kib * 1024).await?;
    let ca_dir = std::env::temp_dir().join(format!("prospector-bench-{}", std::process::id()));
    std::fs::create_dir_all(&ca_dir)?;
    let ca_file = ca_dir.join("fleet-ca.pem");
    std::fs::write(&ca_file, &fleet.ca_pem)?;

    // The stage, pointed at the fleet (loopback allowed for it only).
    let t = settings.of_mut::<ScanTech>();
    t.resolve = vec![ResolveOverride {
        host: "*.fleet.test".into(),
        addr: fleet.https,
    }];
    t.allow_networks = vec!["127.0.0.0/8".parse()?];
    t.dns_servers = vec![fleet.dns];
    t.dns_records = !args.no_dns_records;
    t.extra_root_certificates = Some(ca_file.clone());
    if let Some(delay) = args.per_host_delay {
        t.per_host_delay = delay.into();
    }
    let per_host_delay = t.per_host_delay;
    let memory_budget = t.memory_budget;
    let stage = settings.worker_mut(Stage::TechScan.queue());
    if let Some(c) = args.concurrency {
        stage.concurrency = c;
        stage.batch_size = c.min(500);
    }
    if let Some(w) = args.workers {
        stage.workers = w;
    }
    let (workers, concurrency, delay) = (stage.workers, stage.concurrency, per_host_delay);
    println!(
        "bench scan: {} domains, fleet median latency {} ms, {} worker(s) x concurrency {}, per-host delay {:?}, DNS records {}, on {} CPU cores (database {name})",
        args.domains,
        args.latency_ms,
        workers,
        concurrency,
        delay,
        if args.no_dns_records { "off" } else { "on" },
        std::thread::available_parallelism().map_or(0, usize::from),
    );

    // Prospects and their jobs.
    let ids: Vec<i64> = sqlx::query_scalar(
        r#"
        INSERT INTO prospects (domain_name, channel, country)
        SELECT d, 'digital', 'LU' FROM UNNEST($1::text[]) AS t(d)
        RETURNING id
        "#,
    )
    .bind((0..args.domains).map(fleet::host).collect::<Vec<_>>())
    .fetch_all(&pool)
    .await?;
    let batch = scan_jobs::create_batch(
        &pool,
        BatchKind::Scan,
        &["tech_scan"],
        i32::try_from(ids.len())?,
        Some("bench scan"),
        &serde_json::Value::Null,
    )
    .await?;
    let app = Application::with_pool(settings, pool.clone());
    let jobs: Vec<ScanTech> = ids
        .iter()
        .map(|&id| {
            ScanTech::new(
                id,
                Some(BatchItem {
                    scan_job_id: batch,
                    item_key: id.to_string(),
                    prospect_id: Some(id),
                }),
                Vec::new(),
            )
        })
        .collect();
    let mut conn = pool.acquire().await?;
    for chunk in jobs.chunks(5000) {
        app.enqueuer.enqueue_many(&mut conn, chunk).await?;
    }
    drop(conn);

    // Run.
    let cpu_before = cpu_seconds();
    let wall = Instant::now();
    let worker_pool = app.worker_pool(&[Stage::TechScan])?;
    let running = tokio::spawn(worker_pool.run());
    let finished = wait_batch(&pool, batch, ids.len(), Duration::from_secs(args.max_seconds)).await;
    let wall = wall.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    app.shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(30), running).await;
    let _ = std::fs::remove_dir_all(&ca_dir);
    finished?;

    report(&pool, batch, args.domains, wall, cpu, fleet.request_count()).await?;
    println!(
        "  memory:    tech_scan.memory_budget {memory_budget}; fleet pages padded by {} KiB",
        args.page_kib
    );
    pool.close().await;
    Ok(())
}

async fn wait_batch(pool: &PgPool, batch: i64, total: usize, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let mut last_print = Instant::now();
    loop {
        let (processed, failed): (i32, i32) =
            sqlx::query_as("SELECT processed_items, failed_items FROM prospect_scan_jobs WHERE id = $1")
                .bind(batch)
                .fetch_one(pool)
                .await?;
        let done = (processed + failed) as usize;
        if done >= total {
            return Ok(());
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            println!("  … {done}/{total} domains");
            last_print = Instant::now();
        }
        if Instant::now() > deadline {
            bail!(
                "only {done} of {total} domains finished after {}s",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn report(
    pool: &PgPool,
    batch: i64,
    domains: usize,
    wall: Duration,
    cpu: f64,
    requests: u64,
) -> anyhow::Result<()> {
    let span: f64 = sqlx::query_scalar(
        "SELECT coalesce(extract(epoch FROM max(done_at) - min(lock_at)), 0)::float8 FROM apalis.jobs WHERE job_type = 'tech_scan'",
    )
    .fetch_one(pool)
    .await?;
    let (p50, p99): (f64, f64) = sqlx::query_as(
        r#"
        SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - lock_at)), 0)::float8,
               coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - lock_at)), 0)::float8
        FROM apalis.jobs WHERE job_type = 'tech_scan' AND status = 'Done'
        "#,
    )
    .fetch_one(pool)
    .await?;
    let (processed, failed): (i32, i32) =
        sqlx::query_as("SELECT processed_items, failed_items FROM prospect_scan_jobs WHERE id = $1")
            .bind(batch)
            .fetch_one(pool)
            .await?;
    let outcomes: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM prospects GROUP BY status ORDER BY status")
            .fetch_all(pool)
            .await?;
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM prospect_contacts")
        .fetch_one(pool)
        .await?;
    let rate = domains as f64 / span.max(1e-6);
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    println!(
        "  rate:      {rate:>8.1} domains/s ({domains} domains in {span:.1}s, first start to last done; {:.1}s wall)",
        wall.as_secs_f64()
    );
    println!(
        "  70,000 domains would take {:.1} min at this rate (target: under 15 min, 78 domains/s)",
        70_000.0 / rate / 60.0
    );
    println!(
        "  per domain: p50 {p50:.2}s, p99 {p99:.2}s from job start to done (politeness pauses included)"
    );
    println!(
        "  batch:     {processed} processed, {failed} failed; prospects by status: {}",
        outcomes
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  fleet:     {requests} HTTP requests served; {contacts} contacts stored");
    println!(
        "  process:   {cpu:.1} CPU-seconds ({:.0}% of {cores} cores, fleet included), peak RSS {} MiB",
        cpu / wall.as_secs_f64() / cores * 100.0,
        peak_rss_mib()
    );
    Ok(())
}

/// User + system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
