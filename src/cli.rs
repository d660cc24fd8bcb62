//! The command line: one binary, one subcommand per role or task.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};
use prospector_jobs::Stage;

use crate::import::{Channel, ImportFormat};

/// Prospector: find local businesses that need a (better) website, on autopilot.
///
/// Every pipeline stage is a typed job on PostgreSQL. Run `web`, `work` and
/// `schedule` as separate processes (see Procfile), or `run` for all three in
/// one. Settings: config/default.toml, config/$PROSPECTOR_ENV.toml, --config
/// FILE, then PROSPECTOR__SECTION__KEY environment variables; DATABASE_URL
/// names the database.
#[derive(Debug, Parser)]
#[command(name = "prospector", version, propagate_version = true)]
pub struct Cli {
    /// An extra configuration file, layered over the defaults and
    /// config/$PROSPECTOR_ENV.toml (environment variables still win).
    #[arg(long, global = true, env = "PROSPECTOR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply database migrations (the job queue's, then Prospector's) and exit.
    ///
    /// Creates the database if it does not exist. Safe to run from several
    /// processes at once (the Procfile's release phase).
    Migrate,

    /// Serve the admin HTTP API: /healthz, /readyz, /metrics and the
    /// token-protected /api/... routes (status, dead jobs, batches).
    Web {
        /// Listen address (default: admin.bind).
        #[arg(long)]
        bind: Option<SocketAddr>,
    },

    /// Run stage workers until SIGTERM.
    ///
    /// Runs every built stage unless --stages names a subset. Each stage's
    /// workers, concurrency and batch size come from [stages.<name>] in the
    /// configuration. Exits non-zero if workers keep failing (database gone)
    /// for longer than queue.worker_give_up_after.
    Work {
        /// Stages to run, comma-separated (default: every stage).
        #[arg(long, value_delimiter = ',', value_parser = parse_stage)]
        stages: Vec<Stage>,
        /// Serve /metrics and /healthz for this process on this address.
        #[arg(long)]
        metrics_bind: Option<SocketAddr>,
    },

    /// Run the cron scheduler (and retention pruning) until SIGTERM.
    ///
    /// Each schedule slot enqueues exactly one job however many schedulers
    /// run.
    Schedule {
        /// Serve /metrics and /healthz for this process on this address.
        #[arg(long)]
        metrics_bind: Option<SocketAddr>,
    },

    /// Migrate, then run web, workers and scheduler in one process (the
    /// single-machine default).
    Run {
        /// Admin listen address (default: admin.bind).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Stages to run, comma-separated (default: every stage).
        #[arg(long, value_delimiter = ',', value_parser = parse_stage)]
        stages: Vec<Stage>,
    },

    /// Import leads from a domain list, CSV or JSON-lines file.
    ///
    /// Creates a batch (see `status`), shows a progress bar on a terminal,
    /// reports each bad row with its line number and reason, and imports
    /// every good row. Domains are normalised (scheme, www., path, case,
    /// IDN) and deduplicated. Exits 0 when every row was imported, 65 when
    /// some rows were rejected (the good ones are imported).
    Import(ImportArgs),

    /// Start a batch through the digital branch (tech_scan → audit → score).
    ///
    /// Picks prospects by --file (imports it first), --tag, --status and/or
    /// --stale (not tech-scanned for that long), and enqueues the first of
    /// --stages for each, as one batch you can follow with `status`. A batch
    /// that runs tech_scan or audit also re-scores.
    Scan(ScanArgs),

    /// Build preview sites (then gate them with Lighthouse and capture them).
    ///
    /// Picks prospects by --prospect, --tag and/or --awaiting (qualified
    /// leads without a website whose site is not built yet) and starts one
    /// batch of build_site → audit (the quality gate) → screenshot; follow it
    /// with `status`. --variant forces a new site or a redesign of the
    /// current one (default: new when the business has no working website).
    Build(BuildArgs),

    /// Print queues, workers and batches (what /api/status returns) as tables.
    Status {
        /// Read from a running admin server instead of the database
        /// (uses PROSPECTOR__ADMIN__TOKEN).
        #[arg(long)]
        url: Option<url::Url>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },

    /// Dead jobs: list them, retry or cancel jobs, prune finished ones.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },

    /// The coverage grid (territories of city × industry) that the
    /// discovery autopilot works through: import it from CSV, list it.
    Grid {
        #[command(subcommand)]
        command: GridCommand,
    },

    /// Install the tools the audit stage runs (the pinned Lighthouse and its
    /// driver, with npm) in the data directory, so this binary finds them
    /// wherever it runs.
    ///
    /// Default directory: $XDG_DATA_HOME/prospector/lighthouse, else
    /// ~/.local/share/prospector/lighthouse. A relative
    /// audit.lighthouse.install_dir is looked for under the working
    /// directory, then there. Needs Node.js >= 18.20 and npm; does nothing
    /// when the directory already holds this version's install.
    Setup {
        /// Install here instead (then set audit.lighthouse.install_dir to it).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The npm executable.
        #[arg(long, default_value = "npm")]
        npm: PathBuf,
    },
    /// Outreach e-mail campaigns (the send_email stage).
    Outreach {
        #[command(subcommand)]
        command: OutreachCommand,
    },

    /// Console accounts: create them, set passwords, disable them.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// `prospector admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a console account. The password is read from standard input
    /// (one line), or made up and printed once with --generate-password.
    CreateUser {
        /// Sign-in e-mail.
        #[arg(long)]
        email: String,
        /// viewer (looks), operator (acts) or owner (also manages accounts).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Make up a password and print it (instead of reading one).
        #[arg(long)]
        generate_password: bool,
    },
    /// Set an account's password (from standard input, or made up with
    /// --generate-password) and enable it; its sessions and API tokens end.
    SetPassword {
        /// Sign-in e-mail.
        #[arg(long)]
        email: String,
        /// Make up a password and print it (instead of reading one).
        #[arg(long)]
        generate_password: bool,
    },
    /// Disable an account: it cannot sign in, and its sessions and API
    /// tokens stop working at once.
    Disable {
        /// Sign-in e-mail.
        #[arg(long)]
        email: String,
    },
    /// List the accounts.
    ListUsers,
}

/// `prospector outreach …`
#[derive(Debug, Subcommand)]
pub enum OutreachCommand {
    /// Store a campaign (its steps and lead filter) and enqueue its first
    /// e-mail for every lead the filter picks (leads with an address).
    /// Running it again updates the definition and enqueues only leads that
    /// have no job yet. Sends wait for their mailbox's window and caps; a
    /// lead whose country needs consent it has not given is routed to the
    /// phone instead.
    Start(OutreachStartArgs),
}

/// `prospector outreach start` arguments.
#[derive(Debug, Args)]
pub struct OutreachStartArgs {
    /// The campaign's unique name.
    #[arg(long)]
    pub name: String,
    /// The first e-mail's template (`campaign_templates.name`).
    #[arg(long)]
    pub template: String,
    /// A follow-up, `TEMPLATE:BUSINESS_DAYS` after the step before
    /// (repeatable, in order).
    #[arg(long = "follow-up", value_parser = parse_follow_up)]
    pub follow_ups: Vec<(String, u32)>,
    /// Leads of this tier (hot, warm, cold).
    #[arg(long)]
    pub tier: Option<String>,
    /// Leads with at least this score.
    #[arg(long)]
    pub min_score: Option<i32>,
    /// Leads with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Leads in this city.
    #[arg(long)]
    pub city: Option<String>,
    /// Only leads with a ready generated site that has a screenshot.
    #[arg(long)]
    pub has_site: bool,
    /// Only this prospect (repeatable).
    #[arg(long = "prospect")]
    pub prospects: Vec<i64>,
    /// At most this many leads (best score first).
    #[arg(long)]
    pub limit: Option<i64>,
}

fn parse_follow_up(s: &str) -> Result<(String, u32), String> {
    let (template, days) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("`{s}` is not TEMPLATE:BUSINESS_DAYS"))?;
    let days = days
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("`{days}` is not a number of business days"))?;
    Ok((template.trim().to_owned(), days))
}

/// `prospector build` arguments.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// This prospect (repeatable).
    #[arg(long = "prospect")]
    pub prospects: Vec<i64>,
    /// Prospects with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Qualified leads without a website whose site is not built yet.
    #[arg(long)]
    pub awaiting: bool,
    /// `new` or `rebuild` (default: from whether the business has a website).
    #[arg(long, value_parser = parse_variant)]
    pub variant: Option<prospector_jobs::build_site::Variant>,
    /// At most this many prospects.
    #[arg(long)]
    pub limit: Option<i64>,
}

fn parse_variant(s: &str) -> Result<prospector_jobs::build_site::Variant, String> {
    use prospector_jobs::build_site::Variant;
    match s.trim() {
        "new" => Ok(Variant::New),
        "rebuild" => Ok(Variant::Rebuild),
        other => Err(format!("`{other}` is neither \"new\" nor \"rebuild\"")),
    }
}

/// `prospector import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import.
    pub file: PathBuf,
    /// Its format (default: from the extension: .csv, .jsonl/.ndjson, else a domain list).
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// Channel of rows that name none (default: digital with a domain, offline without).
    #[arg(long, value_enum)]
    pub channel: Option<Channel>,
    /// `source` of rows that name none.
    #[arg(long, default_value = "import")]
    pub source: String,
    /// A tag to add to every row (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Country of rows that name none (default: import.default_country).
    #[arg(long)]
    pub country: Option<String>,
}

/// `prospector scan` arguments.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Import this file (domain list, CSV or JSON lines) and scan its prospects.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Prospects with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Prospects with this status (pending, active, inactive, parked, error,
    /// contacted, converted).
    #[arg(long)]
    pub status: Option<prospector_jobs::domain::ProspectStatus>,
    /// Prospects not tech-scanned for this long (e.g. 30d), or never.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub stale: Option<std::time::Duration>,
    /// Stages, comma-separated, in pipeline order.
    #[arg(long, value_delimiter = ',', value_parser = parse_stage, default_value = "tech_scan,audit,score")]
    pub stages: Vec<Stage>,
    /// At most this many prospects (stalest first).
    #[arg(long)]
    pub limit: Option<i64>,
}

/// `prospector jobs …`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List dead jobs (failed for good), newest first.
    Dead {
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put dead or cancelled jobs back on their queue with fresh attempts.
    Retry {
        /// Job ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Cancel waiting jobs (pending, delayed or awaiting a retry).
    Cancel {
        /// Job ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Delete finished jobs older than the retention settings now.
    Prune,
}

/// `prospector grid …`
#[derive(Debug, Subcommand)]
pub enum GridCommand {
    /// Add or update territories from a CSV file with a header row:
    /// `country`, `state`, `city`, `industry` (required but country),
    /// `industry_category`, `priority`, `population`.
    ///
    /// A territory is keyed by (country, state, city, industry): importing it
    /// again updates its priority and population and keeps its status and
    /// counters. Every bad row is reported with its line number; every good
    /// row is imported. Exits 0 when every row was imported, 65 when some
    /// were rejected.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Country of rows that name none (default: import.default_country).
        #[arg(long)]
        country: Option<String>,
    },
    /// List territories: pending ones first, in the autopilot's order.
    List {
        /// Only this status (pending, in_progress, completed, cooldown, paused).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_stage(s: &str) -> Result<Stage, String> {
    s.parse::<Stage>().map_err(|e| e.to_string())
}
