//! `prospector bench audit`: audits per minute through the audit stage, and
//! the same URLs through a plain sequential `lighthouse` CLI loop.
//!
//! 1. Serves the sample pages (`/lean/`, `/medium/`, `/heavy/`, see
//!    [`audit_site`](super::audit_site)) on loopback and makes `--urls`
//!    prospects pointing at them, in turn, in a scratch database
//!    (`<database>_bench_audit`, recreated).
//! 2. **Stage**: enqueues one `audit` job per prospect and runs the audit
//!    stage's workers in this process (`--runner`, `--concurrency`), from a
//!    cold start (drivers and Chromium included) until every profile is
//!    stored.
//! 3. **CLI loop**: `lighthouse URL --output=json --quiet --chrome-flags=…`
//!    for the same URLs, one after the other, each starting its own
//!    Chromium — what one would script without the stage.
//! 4. Prints both rates, the speed-up, and per page the mean category scores
//!    of both runs with their differences.

use std::{
    collections::BTreeMap,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use prospector_jobs::{
    AuditPage, ScanTech, Stage,
    audit::{
        FormFactor, RunnerKind,
        lighthouse::{chrome_flags_arg, cli_entry_point},
        report::{LighthouseReport, LighthouseScores},
    },
};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tokio::process::Command;

use super::{
    audit_site::AuditSite,
    queue::{bench_url, recreate_database},
};
use prospector::{application::Application, config::Settings, db};

use crate::cli::BenchAuditArgs;

/// The pages audited, in turn.
const PAGES: [&str; 3] = ["lean", "medium", "heavy"];

/// One side's result.
#[derive(Debug, Clone)]
pub struct RunFigures {
    /// Audits finished with a profile.
    pub audits: usize,
    /// Wall time from the first enqueue (or launch) to the last result.
    pub elapsed: Duration,
    /// Category scores per page.
    pub scores: BTreeMap<&'static str, Vec<LighthouseScores>>,
}

impl RunFigures {
    /// Audits per minute.
    pub fn per_minute(&self) -> f64 {
        self.audits as f64 * 60.0 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Both runs.
#[derive(Debug, Clone)]
pub struct AuditFigures {
    /// Through the stage.
    pub stage: RunFigures,
    /// Through the plain CLI loop (unless skipped).
    pub cli_loop: Option<RunFigures>,
}

/// Run the benchmark and print its figures.
pub async fn run(mut settings: Settings, args: BenchAuditArgs) -> anyhow::Result<AuditFigures> {
    if args.urls == 0 {
        bail!("--urls must be at least 1");
    }
    if let Some(runner) = args.runner {
        settings.of_mut::<AuditPage>().lighthouse.runner = runner;
    }
    // The sample pages are served on loopback.
    settings
        .of_mut::<ScanTech>()
        .allow_networks
        .push("127.0.0.0/8".parse()?);
    let concurrency = {
        let stage = settings.worker_mut(Stage::Audit.queue());
        if let Some(concurrency) = args.concurrency {
            stage.concurrency = concurrency.max(1);
            stage.batch_size = stage.concurrency;
        }
        stage.concurrency
    };
    let site = AuditSite::start().await?;
    let urls: Vec<(&'static str, url::Url)> = (0..args.urls)
        .map(|i| {
            let page = PAGES[i % PAGES.len()];
            (page, site.url(&format!("/{page}/")))
        })
        .collect();
    let runner = match settings.of::<AuditPage>().lighthouse.runner {
        RunnerKind::Resident => "resident",
        RunnerKind::Cli => "cli",
    };
    println!(
        "bench audit: {} audits of local sample pages ({}), {}, on {} CPU cores",
        args.urls,
        PAGES.join(", "),
        settings.of::<AuditPage>().form_factor,
        std::thread::available_parallelism().map_or(0, usize::from),
    );

    let stage = run_stage(settings.clone(), &urls).await?;
    print_run(
        &format!("stage ({runner} runner, concurrency {concurrency})"),
        &stage,
        args.urls,
    );
    let cli_loop = if args.no_baseline {
        None
    } else {
        let figures = run_cli_loop(&settings, &urls).await?;
        print_run("plain lighthouse CLI loop (sequential)", &figures, args.urls);
        println!(
            "speed-up: {:.2}x the CLI loop's audits per minute",
            stage.per_minute() / figures.per_minute().max(f64::EPSILON)
        );
        print_scores(&stage, &figures);
        Some(figures)
    };
    Ok(AuditFigures { stage, cli_loop })
}

async fn run_stage(mut settings: Settings, urls: &[(&'static str, url::Url)]) -> anyhow::Result<RunFigures> {
    let options = db::connect_options(&settings.database)?;
    let name = format!("{}_bench_audit", options.get_database().unwrap_or("prospector"));
    let url = bench_url(settings.database.url.expose_secret(), &name)?;
    settings.database.url = SecretString::from(url);
    recreate_database(&settings.database, &name).await?;
    let pool = db::connect(&settings.database).await?;
    db::migrate(&pool).await?;

    let mut ids = Vec::with_capacity(urls.len());
    for (i, (_, url)) in urls.iter().enumerate() {
        let id = sqlx::query_scalar!(
            "INSERT INTO prospects (channel, domain_name, website_url, source) VALUES ('digital', $1, $2, 'bench') RETURNING id",
            format!("bench-{i}.example"),
            url.as_str(),
        )
        .fetch_one(&pool)
        .await?;
        ids.push(id);
    }

    let app = Application::with_pool(settings, pool.clone());
    let workers = app.worker_pool(&[Stage::Audit])?;
    let jobs: Vec<AuditPage> = ids.iter().map(|id| AuditPage::new(*id, None, vec![])).collect();
    let started = Instant::now();
    let running = tokio::spawn(workers.run());
    let mut conn = pool.acquire().await?;
    app.enqueuer.enqueue_many(&mut conn, &jobs).await?;
    drop(conn);

    let limit =
        Duration::from_secs(300) + Duration::from_secs(60) * u32::try_from(urls.len()).unwrap_or(u32::MAX);
    let (done, dead) = loop {
        let (done, dead) = progress(&pool).await?;
        if done + dead >= urls.len() as i64 {
            break (done, dead);
        }
        if started.elapsed() > limit {
            bail!("the stage did not finish {} audits within {limit:?}", urls.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let elapsed = started.elapsed();
    if dead > 0 {
        println!("warning: {dead} audits failed through the stage (see `prospector jobs dead`)");
    }
    app.shutdown.trigger();
    app.shutdown.abort.cancel();
    if let Err(e) = running.await? {
        tracing::warn!(error = %e, "bench worker pool stopped with an error");
    }

    let mut scores: BTreeMap<&'static str, Vec<LighthouseScores>> = BTreeMap::new();
    for ((page, _), id) in urls.iter().zip(&ids) {
        if let Some(s) = stored_scores(&pool, *id).await? {
            scores.entry(page).or_default().push(s);
        }
    }
    pool.close().await;
    Ok(RunFigures {
        audits: usize::try_from(done).unwrap_or(0),
        elapsed,
        scores,
    })
}

async fn progress(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    let done = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM prospect_performance_profiles"#)
        .fetch_one(pool)
        .await?;
    let dead = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM apalis.jobs
           WHERE job_type = 'audit' AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))"#,
    )
    .fetch_one(pool)
    .await?;
    Ok((done, dead))
}

async fn stored_scores(pool: &PgPool, id: i64) -> anyhow::Result<Option<LighthouseScores>> {
    let row = sqlx::query!(
        "SELECT performance_score, accessibility_score, best_practices_score, seo_score
         FROM prospect_performance_profiles WHERE prospect_id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    let score = |v: Option<i32>| v.and_then(|v| prospector_jobs::domain::Score::new(i64::from(v)).ok());
    Ok(row.map(|r| LighthouseScores {
        performance: score(r.performance_score),
        accessibility: score(r.accessibility_score),
        best_practices: score(r.best_practices_score),
        seo: score(r.seo_score),
    }))
}

async fn run_cli_loop(settings: &Settings, urls: &[(&'static str, url::Url)]) -> anyhow::Result<RunFigures> {
    let lighthouse = &settings.of::<AuditPage>().lighthouse;
    let entry = std::path::absolute(cli_entry_point(lighthouse))?;
    let dir = tempfile::Builder::new()
        .prefix("prospector-bench-audit-")
        .tempdir_in(&lighthouse.work_dir)?;
    let flags = chrome_flags_arg(&lighthouse.chrome_flags);
    let mut scores: BTreeMap<&'static str, Vec<LighthouseScores>> = BTreeMap::new();
    let mut audits = 0;
    let started = Instant::now();
    for (i, (page, url)) in urls.iter().enumerate() {
        let output = dir.path().join(format!("report-{i}.json"));
        let mut command = Command::new(&lighthouse.node);
        command
            .arg(&entry)
            .arg(url.as_str())
            .arg("--output=json")
            .arg(format!("--output-path={}", output.display()))
            .arg("--quiet")
            .arg("--no-enable-error-reporting")
            .arg(format!("--chrome-flags={flags}"))
            .env("CHROME_PATH", &lighthouse.chrome_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if settings.of::<AuditPage>().form_factor == FormFactor::Desktop {
            command.arg("--preset=desktop");
        }
        let status = command
            .status()
            .await
            .context("could not run the lighthouse CLI")?;
        let report = std::fs::read(&output)
            .with_context(|| format!("lighthouse ({status}) wrote no report for {url}"))?;
        match LighthouseReport::parse(&report)?.outcome {
            Ok(m) => {
                audits += 1;
                scores.entry(page).or_default().push(m.scores);
            }
            Err(e) => println!(
                "warning: the CLI could not audit {url}: {} ({})",
                e.message, e.code
            ),
        }
    }
    Ok(RunFigures {
        audits,
        elapsed: started.elapsed(),
        scores,
    })
}

fn print_run(label: &str, figures: &RunFigures, asked: usize) {
    println!(
        "{label}: {}/{asked} audits in {:.1} s -> {:.1} audits/min ({:.1} s per audit)",
        figures.audits,
        figures.elapsed.as_secs_f64(),
        figures.per_minute(),
        figures.elapsed.as_secs_f64() / figures.audits.max(1) as f64,
    );
}

type Pick = fn(&LighthouseScores) -> Option<prospector_jobs::domain::Score>;

fn print_scores(stage: &RunFigures, cli_loop: &RunFigures) {
    let categories: [(&str, Pick); 4] = [
        ("performance", |s| s.performance),
        ("accessibility", |s| s.accessibility),
        ("best-practices", |s| s.best_practices),
        ("seo", |s| s.seo),
    ];
    let mean = |scores: Option<&Vec<LighthouseScores>>, pick: Pick| -> Option<f64> {
        let values: Vec<f64> = scores?
            .iter()
            .filter_map(|s| pick(s).map(|v| f64::from(v.get())))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    println!("mean scores per page, stage / CLI loop (difference):");
    print!("{:<8}", "page");
    for (name, _) in &categories {
        print!(" {name:>22}");
    }
    println!();
    let mut largest: f64 = 0.0;
    for page in PAGES {
        print!("{page:<8}");
        for (_, pick) in &categories {
            let cell = match (
                mean(stage.scores.get(page), *pick),
                mean(cli_loop.scores.get(page), *pick),
            ) {
                (Some(a), Some(b)) => {
                    largest = largest.max((a - b).abs());
                    format!("{a:.0} / {b:.0} ({:+.0})", a - b)
                }
                _ => "-".to_owned(),
            };
            print!(" {cell:>22}");
        }
        println!();
    }
    println!("largest difference of a mean score: {largest:.0} points");
}
