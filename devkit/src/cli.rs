//! `prospector-bench`: benchmarks that print figures, and `prospector-demo`'s
//! command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use prospector_jobs::audit::RunnerKind;

/// Benchmarks of Prospector's stages and queue that print figures.
///
/// Every benchmark uses a scratch database named after the configured one
/// (recreated), and the same settings layers as `prospector`.
#[derive(Debug, Parser)]
#[command(name = "prospector-bench", version)]
pub struct BenchCli {
    /// An extra configuration file, layered over the defaults.
    #[arg(long, global = true, env = "PROSPECTOR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: BenchCommand,
}

/// `prospector-bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Queue throughput and latency with no-op jobs.
    ///
    /// Uses a scratch database (<database>_bench, recreated). Enqueues
    /// --jobs no-op jobs in bulk, starts --processes worker processes, and
    /// prints enqueue jobs/s, process jobs/s and enqueue→start latency
    /// p50/p99 (measured separately, with jobs enqueued one at a time).
    Queue(BenchQueueArgs),
    /// A worker process for `bench queue` (started by it).
    #[command(hide = true)]
    Work,
    /// Audits per minute through the audit stage vs a plain `lighthouse` loop.
    ///
    /// Serves sample pages on loopback (lean, medium, heavy), audits --urls
    /// of them through the audit stage's workers in this process (scratch
    /// database <database>_bench_audit, recreated), then the same URLs with
    /// the `lighthouse` CLI one after the other, and prints both rates and
    /// the mean scores of each page from both runs.
    Audit(BenchAuditArgs),
    /// The discover stage's records per second against a local
    /// Places-compatible server.
    ///
    /// Uses a scratch database (<database>_bench_discover, recreated).
    /// Discovers --territories territories of --per-territory synthetic
    /// places (inserts and routing), then the same again (dedup and
    /// updates), and times classification and qualification alone.
    Discover(BenchDiscoverArgs),
    /// The admin API and the queue on a large lead database.
    ///
    /// Seeds a scratch database (<database>_bench_data, recreated unless
    /// --reuse) with --prospects prospects with profiles and scores, a
    /// running batch over them and --done-jobs finished jobs; prints p50/p95
    /// of GET /api/status, of the prospect list with common filters and
    /// sorts, and of one queue fetch, first with no pending job and then
    /// with --pending jobs waiting; then prunes with the configured
    /// retention and prints what it deleted.
    Data(BenchDataArgs),
    /// Time to match saved pages against the loaded technology definitions.
    ///
    /// Reads every *.html file in DIR (with an optional <name>.headers file of
    /// `Name: value` lines), parses each once, matches it --repeat times and
    /// prints the median and p99 match time per page.
    Fingerprint(BenchFingerprintArgs),
    /// Sites per second of the deterministic site generator (DNA, copy,
    /// render, static checks) and the size of its pages.
    Build {
        /// Sites generated.
        #[arg(long, default_value_t = 3_000)]
        sites: usize,
        /// Threads of the second run.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Domains per second through the whole tech_scan stage against a local
    /// fleet of simulated sites (HTTPS, DNS, realistic latencies).
    ///
    /// Uses a scratch database (<database>_bench_scan, recreated) and the
    /// configured [tech_scan] and [stages.tech_scan] settings unless
    /// overridden here.
    Scan(BenchScanArgs),
    /// Outreach e-mails per second: render, compose, DKIM-sign and send
    /// to a local SMTP server (aiosmtpd on loopback), caps and pacing off.
    ///
    /// Needs aiosmtpd: `PROSPECTOR_TEST_AIOSMTPD_PYTHON`, or the virtualenv
    /// `scripts/test` installs in .local/mail/venv. Runs once with an RSA
    /// and once with an Ed25519 key and checks that the server stored every
    /// message.
    Email(BenchEmailArgs),
}

/// `prospector-bench email` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchEmailArgs {
    /// Messages per run.
    #[arg(long, default_value_t = 2_000)]
    pub messages: usize,
    /// SMTP connections used at once.
    #[arg(long, default_value_t = 4)]
    pub connections: u32,
    /// Leave out the open pixel and click links.
    #[arg(long)]
    pub no_tracking: bool,
}

/// `prospector-bench audit` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchAuditArgs {
    /// Audits per run (the sample pages in turn).
    #[arg(long, default_value_t = 12)]
    pub urls: usize,
    /// Audits at once in the stage (default: stages.audit.concurrency, which follows the machine).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// The stage's runner: resident or cli (default: audit.lighthouse.runner).
    #[arg(long, value_parser = parse_runner)]
    pub runner: Option<RunnerKind>,
    /// Skip the plain CLI loop.
    #[arg(long)]
    pub no_baseline: bool,
}

/// `prospector-bench discover` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchDiscoverArgs {
    /// Territories discovered.
    #[arg(long, default_value_t = 20)]
    pub territories: usize,
    /// Places per territory.
    #[arg(long, default_value_t = 60)]
    pub per_territory: usize,
    /// Places per page (1–20).
    #[arg(long, default_value_t = 20)]
    pub page_size: u32,
}

/// `prospector-bench fingerprint` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchFingerprintArgs {
    /// Directory of saved pages (*.html).
    pub dir: PathBuf,
    /// Match runs per page.
    #[arg(long, default_value_t = 200)]
    pub repeat: usize,
    /// Also run with the definitions replicated to this many technologies.
    #[arg(long)]
    pub synthesize: Option<usize>,
}

/// `prospector-bench scan` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchScanArgs {
    /// Domains to scan.
    #[arg(long, default_value_t = 5_000)]
    pub domains: usize,
    /// Median response time of the simulated sites, in milliseconds.
    #[arg(long, default_value_t = 150)]
    pub latency_ms: u64,
    /// Jobs per worker (default: stages.tech_scan.concurrency).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Queue consumers (default: stages.tech_scan.workers).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Pause between requests to one host (default: tech_scan.per_host_delay).
    #[arg(long)]
    pub per_host_delay: Option<humantime::Duration>,
    /// Skip the NS/MX/TXT/CNAME lookups.
    #[arg(long)]
    pub no_dns_records: bool,
    /// KiB of padding added to every HTML page of the fleet (heavy pages,
    /// to see the memory budget at work; pages weigh 40–120 KB without).
    #[arg(long, default_value_t = 0)]
    pub page_kib: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    pub max_seconds: u64,
}

/// `prospector-bench data` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchDataArgs {
    /// Prospects in the lead base.
    #[arg(long, default_value_t = 1_000_000)]
    pub prospects: u64,
    /// Finished jobs, spread over the last 30 days.
    #[arg(long, default_value_t = 1_000_000)]
    pub done_jobs: u64,
    /// Pending jobs added for the second round of measurements.
    #[arg(long, default_value_t = 1_000_000)]
    pub pending: u64,
    /// Requests per figure.
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    /// Keep the lead base of an earlier run when it has --prospects rows.
    #[arg(long)]
    pub reuse: bool,
}

/// `prospector-bench queue` arguments.
#[derive(Debug, Clone, Args)]
pub struct BenchQueueArgs {
    /// No-op jobs for the throughput runs.
    #[arg(long, default_value_t = 50_000)]
    pub jobs: usize,
    /// Worker processes; a list (`1,2,4`) runs the benchmark once per entry
    /// and prints a summary.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub processes: Vec<usize>,
    /// Queue consumers per process (default: stages.bench.workers).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Jobs fetched per round trip (default: stages.bench.batch_size).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Jobs per enqueue statement.
    #[arg(long, default_value_t = 5_000)]
    pub chunk: usize,
    /// Jobs for the latency run, enqueued one at a time.
    #[arg(long, default_value_t = 500)]
    pub latency_jobs: usize,
    /// Rate of the latency run, jobs per second.
    #[arg(long, default_value_t = 100)]
    pub latency_rate: u32,
}

fn parse_runner(s: &str) -> Result<RunnerKind, String> {
    s.parse()
}

/// Prospector on a local demo: sample sites on loopback, the sample leads
/// imported and run through the pipeline, then web, workers and scheduler
/// keep running until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "prospector-demo", version)]
pub struct DemoCli {
    /// An extra configuration file, layered over the defaults.
    #[arg(long, env = "PROSPECTOR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Admin listen address (default: admin.bind).
    #[arg(long)]
    pub bind: Option<std::net::SocketAddr>,
}
