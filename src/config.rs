//! Settings: layered, typed, checked once at start-up.
//!
//! `config/default.toml` (built into the binary) → `config/$PROSPECTOR_ENV.toml`
//! → `--config FILE` → `PROSPECTOR__SECTION__KEY` variables → `DATABASE_URL`.
//! The raw layers deserialize into `Raw*` structs, which are parsed once into
//! [`Settings`]; any bad value stops start-up with its key in the message.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use chrono_tz::Tz;
use prospector_jobs::{QueuePolicy, Stage, TechScanSettings, discover::AutopilotConfig, domain::CountryCode};
use secrecy::SecretString;
use serde::Deserialize;

use self::audit::RawAudit;

mod audit;
mod score;

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The queue name of the benchmark job, configured like a stage.
pub const BENCH_QUEUE: &str = prospector_jobs::bench::BENCH_QUEUE;

pub use self::audit::PAGESPEED_API_KEY_VAR;

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or does not deserialize (the message names the key).
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value is present but invalid.
    #[error("configuration key `{key}`: {message}")]
    Invalid {
        /// Dotted key, e.g. `queue.poll_interval`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// Everything the process needs, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Database connection.
    pub database: DatabaseSettings,
    /// Admin HTTP server.
    pub admin: AdminSettings,
    /// Logging.
    pub log: LogSettings,
    /// Queue behaviour shared by every worker.
    pub queue: QueueSettings,
    /// How long finished rows are kept.
    pub retention: RetentionSettings,
    /// Scheduler behaviour.
    pub scheduler: SchedulerSettings,
    /// Daily snapshot settings.
    pub analytics: AnalyticsSettings,
    /// `prospector import` defaults.
    pub import: ImportSettings,
    /// The audit stage (`[audit]`).
    pub audit: prospector_jobs::audit::AuditSettings,
    /// Scoring weights and tiers (`[score]`).
    pub score: prospector_jobs::score::ScoreConfig,
    /// The discover stage: provider, prices, qualification.
    pub discover: DiscoverSettings,
    /// The discovery autopilot's switch and daily target.
    pub autopilot: AutopilotSettings,
    /// Worker settings per queue (every stage, plus `bench`).
    pub stages: BTreeMap<String, StageSettings>,
    /// Schedules.
    pub schedules: Vec<ScheduleSpec>,
    /// The tech_scan stage's fetching, politeness and definitions.
    pub tech_scan: TechScanSettings,
}

/// Database connection settings.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Connection URL (may carry a password: never logged).
    pub url: SecretString,
    /// Pool size.
    pub max_connections: u32,
    /// Connections kept open.
    pub min_connections: u32,
    /// Wait for a free connection at most this long.
    pub acquire_timeout: Duration,
}

/// Admin HTTP settings.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Listen address.
    pub bind: SocketAddr,
    /// Bearer token for protected routes; none means they refuse everyone.
    pub token: Option<SecretString>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directives (RUST_LOG wins).
    pub filter: String,
}

/// Queue settings every process must share.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Interval poll, besides LISTEN/NOTIFY.
    pub poll_interval: Duration,
    /// Worker heartbeat.
    pub heartbeat_interval: Duration,
    /// Heartbeats missed before a worker's jobs are re-queued.
    pub missed_heartbeats: usize,
    /// Exit non-zero when workers have not recovered for this long.
    pub worker_give_up_after: Duration,
    /// Time given to running jobs on SIGTERM.
    pub shutdown_grace: Duration,
}

/// Retention of finished rows.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    /// Succeeded jobs.
    pub done: Duration,
    /// Dead jobs.
    pub dead: Duration,
    /// Worker rows not seen for this long.
    pub workers: Duration,
    /// Fired schedule slots.
    pub schedule_ticks: Duration,
    /// How often pruning runs.
    pub prune_interval: Duration,
}

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// A slot missed by less than this at start-up still fires.
    pub misfire_grace: Duration,
}

/// Daily snapshot settings.
#[derive(Debug, Clone)]
pub struct AnalyticsSettings {
    /// Day boundaries.
    pub time_zone: Tz,
    /// Qualification threshold.
    pub qualified_min_score: i32,
}

/// Import defaults.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// Country of rows that name none.
    pub default_country: CountryCode,
    /// Rows per transaction.
    pub chunk_size: usize,
}

pub use crate::discovery::{AutopilotSettings, DiscoverSettings, OutscraperSettings, PlacesSettings};

/// How one queue's workers run.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSettings {
    /// Consumers per process.
    pub workers: usize,
    /// Jobs run at once per consumer.
    pub concurrency: usize,
    /// Jobs fetched per round trip.
    pub batch_size: usize,
    /// Runs before a failing job is dead.
    pub max_attempts: u32,
    /// Priority of pushed jobs.
    pub priority: i32,
    /// A run taking longer fails (transient).
    pub timeout: Duration,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl StageSettings {
    /// The queue policy applied when pushing to this queue.
    pub fn policy(&self) -> QueuePolicy {
        QueuePolicy {
            max_attempts: self.max_attempts,
            priority: self.priority,
        }
    }
}

/// What a schedule enqueues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduledJob {
    /// Snapshot the previous or current local day.
    SnapshotAnalytics {
        /// Which day, relative to the slot.
        day: DayRef,
    },
    /// Run the discovery autopilot: claim the next territories, enqueue a
    /// `discover` job for each.
    DiscoverAutopilot(AutopilotConfig),
    /// Start a batch over digital prospects whose tech scan is older than
    /// `older_than` (or missing), through `stages`.
    Rescan {
        /// Age from which a profile is stale.
        older_than: Duration,
        /// Stages of the batch (score is appended after tech_scan/audit).
        stages: Vec<Stage>,
        /// At most this many prospects per slot, stalest first.
        limit: Option<i64>,
    },
}

impl ScheduledJob {
    /// The stage it feeds.
    pub fn stage(&self) -> Stage {
        match self {
            ScheduledJob::SnapshotAnalytics { .. } => Stage::SnapshotAnalytics,
            ScheduledJob::DiscoverAutopilot(_) => Stage::Discover,
            ScheduledJob::Rescan { stages, .. } => stages.first().copied().unwrap_or(Stage::TechScan),
        }
    }
}

/// A day relative to a schedule slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRef {
    /// The slot's local day.
    Current,
    /// The day before it.
    Previous,
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    /// Unique name (also the key of its fired slots).
    pub name: String,
    /// What it enqueues.
    pub job: ScheduledJob,
    /// When.
    pub cron: cron::Schedule,
    /// In which zone the cron expression is read.
    pub tz: Tz,
}

// ----- raw layers ---------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    database: RawDatabase,
    admin: RawAdmin,
    log: RawLog,
    queue: RawQueue,
    retention: RawRetention,
    scheduler: RawScheduler,
    analytics: RawAnalytics,
    import: RawImport,
    audit: RawAudit,
    #[serde(default)]
    score: score::RawScore,
    discover: crate::discovery::RawDiscover,
    autopilot: crate::discovery::RawAutopilot,
    #[serde(default)]
    stages: HashMap<String, RawStage>,
    #[serde(default)]
    schedule: Vec<RawSchedule>,
    tech_scan: RawTechScan,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    max_connections: u32,
    min_connections: u32,
    acquire_timeout: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    bind: String,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    filter: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    poll_interval: String,
    heartbeat_interval: String,
    missed_heartbeats: usize,
    worker_give_up_after: String,
    shutdown_grace: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    done: String,
    dead: String,
    workers: String,
    schedule_ticks: String,
    prune_interval: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScheduler {
    misfire_grace: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalytics {
    time_zone: String,
    qualified_min_score: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImport {
    default_country: String,
    chunk_size: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    workers: Option<usize>,
    concurrency: Option<usize>,
    batch_size: Option<usize>,
    max_attempts: Option<u32>,
    priority: Option<i32>,
    timeout: Option<String>,
    backoff_base: Option<String>,
    backoff_max: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    name: String,
    stage: String,
    cron: String,
    tz: String,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    args: HashMap<String, String>,
}

fn yes() -> bool {
    true
}

// ----- loading ------------------------------------------------------------

/// Where settings come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Directory holding `$PROSPECTOR_ENV.toml` (default `config`).
    pub config_dir: Option<PathBuf>,
    /// `PROSPECTOR_ENV`.
    pub environment: Option<String>,
    /// `--config FILE`.
    pub extra_file: Option<PathBuf>,
    /// `PROSPECTOR__…` variables and `DATABASE_URL` (name → value).
    pub env: HashMap<String, String>,
}

impl Sources {
    /// The sources the process was started with.
    pub fn from_process(extra_file: Option<PathBuf>) -> Self {
        Self {
            config_dir: std::env::var_os("PROSPECTOR_CONFIG_DIR").map(PathBuf::from),
            environment: std::env::var("PROSPECTOR_ENV").ok().filter(|e| !e.is_empty()),
            extra_file,
            env: std::env::vars()
                .filter(|(k, _)| {
                    k.starts_with("PROSPECTOR__")
                        || k == "DATABASE_URL"
                        || crate::discovery::API_KEY_VARS.contains(&k.as_str())
                })
                .collect(),
        }
    }
}

impl Settings {
    /// Load and check every layer.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
        if let Some(env) = &sources.environment {
            let dir = sources
                .config_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("config"));
            let path = dir.join(format!("{env}.toml"));
            if !path.is_file() {
                return Err(invalid(
                    "PROSPECTOR_ENV",
                    format!("no configuration file {} for environment `{env}`", path.display()),
                ));
            }
            builder = builder.add_source(config::File::from(path));
        }
        if let Some(file) = &sources.extra_file {
            builder = builder.add_source(config::File::from(Path::new(file)).required(true));
        }
        let env_vars: HashMap<String, String> = sources
            .env
            .iter()
            // The PageSpeed Insights key is read from the environment only, below.
            .filter(|(k, _)| k.starts_with("PROSPECTOR__") && k.as_str() != PAGESPEED_API_KEY_VAR)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("PROSPECTOR")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env_vars)),
        );
        let raw: RawSettings = builder.build()?.try_deserialize()?;
        let database_url = sources.env.get("DATABASE_URL").cloned();
        let mut settings = Self::parse(raw, database_url, &sources.env)?;
        settings.audit.pagespeed.api_key = audit::pagespeed_api_key(&sources.env)?;
        Ok(settings)
    }

    fn parse(
        raw: RawSettings,
        database_url: Option<String>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let database = DatabaseSettings {
            url: {
                let url = database_url.unwrap_or(raw.database.url);
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(invalid(
                        "database.url",
                        "must be a postgres:// URL (DATABASE_URL overrides it)",
                    ));
                }
                SecretString::from(url)
            },
            max_connections: positive_u32("database.max_connections", raw.database.max_connections)?,
            min_connections: raw.database.min_connections,
            acquire_timeout: duration("database.acquire_timeout", &raw.database.acquire_timeout)?,
        };
        if database.min_connections > database.max_connections {
            return Err(invalid(
                "database.min_connections",
                "must not exceed database.max_connections",
            ));
        }

        let admin = AdminSettings {
            bind: raw.admin.bind.parse().map_err(|e| {
                invalid(
                    "admin.bind",
                    format!("`{}` is not host:port ({e})", raw.admin.bind),
                )
            })?,
            token: match raw.admin.token.map(|t| t.trim().to_owned()) {
                None => None,
                Some(t) if t.is_empty() => None,
                Some(t) if t.len() < 16 => {
                    return Err(invalid("admin.token", "must be at least 16 characters"));
                }
                Some(t) => Some(SecretString::from(t)),
            },
        };

        let log = LogSettings {
            format: match raw.log.format.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(invalid(
                        "log.format",
                        format!("`{other}` is neither \"text\" nor \"json\""),
                    ));
                }
            },
            filter: raw.log.filter,
        };

        let queue = QueueSettings {
            poll_interval: positive_duration("queue.poll_interval", &raw.queue.poll_interval)?,
            heartbeat_interval: positive_duration("queue.heartbeat_interval", &raw.queue.heartbeat_interval)?,
            missed_heartbeats: {
                if raw.queue.missed_heartbeats < 2 {
                    return Err(invalid("queue.missed_heartbeats", "must be at least 2"));
                }
                raw.queue.missed_heartbeats
            },
            worker_give_up_after: positive_duration(
                "queue.worker_give_up_after",
                &raw.queue.worker_give_up_after,
            )?,
            shutdown_grace: duration("queue.shutdown_grace", &raw.queue.shutdown_grace)?,
        };

        let retention = RetentionSettings {
            done: positive_duration("retention.done", &raw.retention.done)?,
            dead: positive_duration("retention.dead", &raw.retention.dead)?,
            workers: positive_duration("retention.workers", &raw.retention.workers)?,
            schedule_ticks: positive_duration("retention.schedule_ticks", &raw.retention.schedule_ticks)?,
            prune_interval: positive_duration("retention.prune_interval", &raw.retention.prune_interval)?,
        };

        let scheduler = SchedulerSettings {
            misfire_grace: duration("scheduler.misfire_grace", &raw.scheduler.misfire_grace)?,
        };

        let analytics = AnalyticsSettings {
            time_zone: time_zone("analytics.time_zone", &raw.analytics.time_zone)?,
            qualified_min_score: {
                let v = raw.analytics.qualified_min_score;
                if !(0..=100).contains(&v) {
                    return Err(invalid(
                        "analytics.qualified_min_score",
                        "must be between 0 and 100",
                    ));
                }
                v
            },
        };

        let import = ImportSettings {
            default_country: CountryCode::parse(&raw.import.default_country)
                .map_err(|e| invalid("import.default_country", e.to_string()))?,
            chunk_size: {
                if raw.import.chunk_size == 0 || raw.import.chunk_size > 10_000 {
                    return Err(invalid("import.chunk_size", "must be between 1 and 10000"));
                }
                raw.import.chunk_size
            },
        };

        let discover = crate::discovery::parse_discover(raw.discover, env)?;
        let autopilot = crate::discovery::parse_autopilot(raw.autopilot)?;

        let mut stages = BTreeMap::new();
        for (name, mut stage) in raw.stages {
            let key = format!("stages.{name}");
            if name != BENCH_QUEUE && Stage::from_str(&name).is_err() {
                return Err(invalid(key, format!("`{name}` is not a stage")));
            }
            if name == Stage::Audit.queue() && stage.concurrency.is_none() {
                // One Lighthouse run per core, as memory allows (audit::capacity).
                stage.concurrency = Some(prospector_jobs::audit::capacity::default_concurrency());
            }
            stages.insert(name, parse_stage(&key, stage)?);
        }
        for queue in Stage::ALL.map(Stage::queue).into_iter().chain([BENCH_QUEUE]) {
            if !stages.contains_key(queue) {
                stages.insert(
                    queue.to_owned(),
                    parse_stage(&format!("stages.{queue}"), RawStage::empty())?,
                );
            }
        }

        let mut schedules: Vec<ScheduleSpec> = Vec::new();
        for (index, schedule) in raw.schedule.into_iter().enumerate() {
            let key = format!("schedule[{index}]");
            if !schedule.enabled {
                continue;
            }
            if schedule.name.trim().is_empty() || schedule.name.len() > 100 {
                return Err(invalid(format!("{key}.name"), "must be 1 to 100 characters"));
            }
            if schedules.iter().any(|s| s.name == schedule.name) {
                return Err(invalid(
                    format!("{key}.name"),
                    format!("`{}` is used twice", schedule.name),
                ));
            }
            let stage = Stage::from_str(&schedule.stage)
                .map_err(|e| invalid(format!("{key}.stage"), e.to_string()))?;
            let job = scheduled_job(&key, stage, &schedule.args, &discover, &autopilot, &analytics)?;
            let cron = cron::Schedule::from_str(&schedule.cron).map_err(|e| {
                invalid(
                    format!("{key}.cron"),
                    format!(
                        "`{}` is not a cron expression (sec min hour day month weekday): {e}",
                        schedule.cron
                    ),
                )
            })?;
            let tz = time_zone(&format!("{key}.tz"), &schedule.tz)?;
            schedules.push(ScheduleSpec {
                name: schedule.name,
                job,
                cron,
                tz,
            });
        }

        let audit = audit::parse(raw.audit)?;
        let score = score::parse(raw.score)?;
        if let Some(stage) = stages.get(Stage::Audit.queue()) {
            audit::check_timeouts(&audit, stage)?;
        }
        let tech_scan = parse_tech_scan(raw.tech_scan)?;

        Ok(Settings {
            database,
            admin,
            log,
            queue,
            retention,
            scheduler,
            analytics,
            import,
            audit,
            score,
            discover,
            autopilot,
            stages,
            schedules,
            tech_scan,
        })
    }

    /// Settings of one queue (every stage and `bench` are always present).
    pub fn stage(&self, queue: &str) -> &StageSettings {
        // Invariant: `parse` inserts an entry for every stage and for bench.
        self.stages
            .get(queue)
            .unwrap_or_else(|| panic!("no settings for queue {queue}"))
    }

    /// The push policy of every queue.
    pub fn queue_policies(&self) -> HashMap<String, QueuePolicy> {
        self.stages
            .iter()
            .map(|(queue, stage)| (queue.clone(), stage.policy()))
            .collect()
    }
}

impl RawStage {
    fn empty() -> Self {
        Self {
            workers: None,
            concurrency: None,
            batch_size: None,
            max_attempts: None,
            priority: None,
            timeout: None,
            backoff_base: None,
            backoff_max: None,
        }
    }
}

fn parse_stage(key: &str, raw: RawStage) -> Result<StageSettings, ConfigError> {
    let workers = raw.workers.unwrap_or(1);
    if workers == 0 || workers > 64 {
        return Err(invalid(format!("{key}.workers"), "must be between 1 and 64"));
    }
    let concurrency = raw.concurrency.unwrap_or(1);
    if concurrency == 0 || concurrency > 10_000 {
        return Err(invalid(
            format!("{key}.concurrency"),
            "must be between 1 and 10000",
        ));
    }
    let batch_size = raw.batch_size.unwrap_or(concurrency);
    if batch_size == 0 || batch_size > 10_000 {
        return Err(invalid(
            format!("{key}.batch_size"),
            "must be between 1 and 10000",
        ));
    }
    let max_attempts = raw.max_attempts.unwrap_or(5);
    if max_attempts == 0 || max_attempts > 100 {
        return Err(invalid(
            format!("{key}.max_attempts"),
            "must be between 1 and 100",
        ));
    }
    let timeout = match raw.timeout {
        Some(t) => positive_duration(&format!("{key}.timeout"), &t)?,
        None => Duration::from_secs(60),
    };
    let backoff_base = match raw.backoff_base {
        Some(t) => positive_duration(&format!("{key}.backoff_base"), &t)?,
        None => Duration::from_secs(10),
    };
    let backoff_max = match raw.backoff_max {
        Some(t) => positive_duration(&format!("{key}.backoff_max"), &t)?,
        None => Duration::from_secs(600),
    };
    if backoff_max < backoff_base {
        return Err(invalid(
            format!("{key}.backoff_max"),
            "must not be shorter than backoff_base",
        ));
    }
    Ok(StageSettings {
        workers,
        concurrency,
        batch_size,
        max_attempts,
        priority: raw.priority.unwrap_or(0),
        timeout,
        backoff_base,
        backoff_max,
    })
}

fn scheduled_job(
    key: &str,
    stage: Stage,
    args: &HashMap<String, String>,
    discover: &DiscoverSettings,
    autopilot: &AutopilotSettings,
    analytics: &AnalyticsSettings,
) -> Result<ScheduledJob, ConfigError> {
    let allow_only = |allowed: &[&str]| -> Result<(), ConfigError> {
        match args.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unknown) => Err(invalid(
                format!("{key}.args.{unknown}"),
                format!(
                    "not an argument of the {stage} schedule (allowed: {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    };
    match stage {
        Stage::SnapshotAnalytics => {
            allow_only(&["day"])?;
            let day = match args.get("day").map(String::as_str) {
                None | Some("previous") => DayRef::Previous,
                Some("current") => DayRef::Current,
                Some(other) => {
                    return Err(invalid(
                        format!("{key}.args.day"),
                        format!("`{other}` is neither \"previous\" nor \"current\""),
                    ));
                }
            };
            Ok(ScheduledJob::SnapshotAnalytics { day })
        }
        Stage::Discover => {
            allow_only(&["targets"])?;
            let targets_per_run = match args.get("targets") {
                None => 5,
                Some(raw) => match raw.trim().parse::<u32>() {
                    Ok(n) if (1..=1000).contains(&n) => n,
                    _ => {
                        return Err(invalid(
                            format!("{key}.args.targets"),
                            format!("`{raw}` is not a number of territories between 1 and 1000"),
                        ));
                    }
                },
            };
            Ok(ScheduledJob::DiscoverAutopilot(
                crate::discovery::autopilot_config(discover, autopilot, analytics.time_zone, targets_per_run),
            ))
        }
        Stage::TechScan => {
            allow_only(&["older_than", "stages", "limit"])?;
            let older_than = duration(
                &format!("{key}.args.older_than"),
                args.get("older_than").map_or("30d", String::as_str),
            )?;
            let stages = match args.get("stages") {
                None => vec![Stage::TechScan, Stage::Audit, Stage::Score],
                Some(list) => list
                    .split(',')
                    .map(|s| Stage::from_str(s.trim()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| invalid(format!("{key}.args.stages"), e.to_string()))?,
            };
            if stages.first() != Some(&Stage::TechScan) {
                return Err(invalid(
                    format!("{key}.args.stages"),
                    "a re-scan starts with tech_scan (e.g. \"tech_scan,audit,score\")",
                ));
            }
            crate::scan::plan_stages(&stages)
                .map_err(|e| invalid(format!("{key}.args.stages"), e.to_string()))?;
            let limit = match args.get("limit") {
                None => None,
                Some(raw) => match raw.trim().parse::<i64>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        return Err(invalid(
                            format!("{key}.args.limit"),
                            format!("`{raw}` is not a positive number"),
                        ));
                    }
                },
            };
            Ok(ScheduledJob::Rescan {
                older_than,
                stages,
                limit,
            })
        }
        Stage::Audit | Stage::Score | Stage::BuildSite | Stage::Screenshot | Stage::SendEmail => {
            Err(invalid(
                format!("{key}.stage"),
                format!("the {stage} stage cannot be scheduled yet"),
            ))
        }
    }
}

fn duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        invalid(
            key,
            format!("`{value}` is not a duration like \"5s\" or \"10m\" ({e})"),
        )
    })
}

fn positive_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    let d = duration(key, value)?;
    if d.is_zero() {
        return Err(invalid(key, "must be longer than zero"));
    }
    Ok(d)
}

fn positive_u32(key: &str, value: u32) -> Result<u32, ConfigError> {
    if value == 0 {
        return Err(invalid(key, "must be at least 1"));
    }
    Ok(value)
}

fn time_zone(key: &str, value: &str) -> Result<Tz, ConfigError> {
    value.trim().parse::<Tz>().map_err(|_| {
        invalid(
            key,
            format!("`{value}` is not an IANA time zone like \"Europe/Luxembourg\""),
        )
    })
}

// ----- [tech_scan] ----------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTechScan {
    user_agent: String,
    contact_url: String,
    connect_timeout: String,
    request_timeout: String,
    max_redirects: usize,
    max_body_bytes: String,
    max_decompressed_bytes: String,
    max_html_depth: usize,
    per_host_delay: String,
    #[serde(default)]
    allow_networks: Vec<String>,
    #[serde(default)]
    definitions: String,
    contact_pages: usize,
    #[serde(default)]
    dns_servers: Vec<String>,
    dns_timeout: String,
    dns_records: bool,
    #[serde(default)]
    resolve: HashMap<String, String>,
    #[serde(default)]
    extra_root_certificates: String,
}

fn parse_tech_scan(raw: RawTechScan) -> Result<TechScanSettings, ConfigError> {
    use prospector_jobs::tech_scan::{fetch::ResolveOverride, fingerprint::DefinitionsSource};
    let key = |k: &str| format!("tech_scan.{k}");
    let token = raw.user_agent.split('/').next().unwrap_or("").trim().to_owned();
    if token.is_empty()
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            key("user_agent"),
            "must start with a product token like \"ProspectorBot/1.0\" (letters, digits, - and _)",
        ));
    }
    let contact = url::Url::parse(raw.contact_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            invalid(
                key("contact_url"),
                "must be an http(s) URL where site owners can read about the crawler",
            )
        })?;
    let max_redirects = raw.max_redirects;
    if max_redirects > 30 {
        return Err(invalid(key("max_redirects"), "must be at most 30"));
    }
    let max_body_bytes = byte_size(&key("max_body_bytes"), &raw.max_body_bytes)?;
    let max_decompressed_bytes = byte_size(&key("max_decompressed_bytes"), &raw.max_decompressed_bytes)?;
    if max_decompressed_bytes < max_body_bytes {
        return Err(invalid(
            key("max_decompressed_bytes"),
            "must not be smaller than max_body_bytes",
        ));
    }
    if !(16..=10_000).contains(&raw.max_html_depth) {
        return Err(invalid(key("max_html_depth"), "must be between 16 and 10000"));
    }
    if raw.contact_pages > 20 {
        return Err(invalid(key("contact_pages"), "must be at most 20"));
    }
    let allow_networks = raw
        .allow_networks
        .iter()
        .map(|n| {
            let n = n.trim();
            n.parse::<ipnet::IpNet>()
                .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(
                        key("allow_networks"),
                        format!("`{n}` is not a network like 127.0.0.0/8"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dns_servers = raw
        .dns_servers
        .iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    invalid(
                        key("dns_servers"),
                        format!("`{s}` is not an address like 9.9.9.9 or 127.0.0.1:5353"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut resolve: Vec<ResolveOverride> = Vec::new();
    let mut hosts: Vec<_> = raw.resolve.into_iter().collect();
    hosts.sort();
    for (host, addr) in hosts {
        let addr = addr.trim().parse::<SocketAddr>().map_err(|_| {
            invalid(
                format!("tech_scan.resolve.{host}"),
                format!("`{addr}` is not an ip:port address"),
            )
        })?;
        resolve.push(ResolveOverride {
            host: host.trim().trim_end_matches('.').to_ascii_lowercase(),
            addr,
        });
    }
    let definitions = match raw.definitions.trim() {
        "" | "builtin" => DefinitionsSource::Builtin,
        path => {
            let path = PathBuf::from(path);
            if !path.exists() {
                return Err(invalid(
                    key("definitions"),
                    format!(
                        "{} does not exist (a definitions file or directory)",
                        path.display()
                    ),
                ));
            }
            DefinitionsSource::Path(path)
        }
    };
    let extra_root_certificates = match raw.extra_root_certificates.trim() {
        "" => None,
        path => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(invalid(
                    key("extra_root_certificates"),
                    format!("{} is not a file", path.display()),
                ));
            }
            Some(path)
        }
    };
    Ok(TechScanSettings {
        user_agent: format!("{} (+{contact})", raw.user_agent.trim()),
        robots_token: token,
        connect_timeout: positive_duration(&key("connect_timeout"), &raw.connect_timeout)?,
        request_timeout: positive_duration(&key("request_timeout"), &raw.request_timeout)?,
        max_redirects,
        max_body_bytes,
        max_decompressed_bytes,
        max_html_depth: raw.max_html_depth,
        per_host_delay: duration(&key("per_host_delay"), &raw.per_host_delay)?,
        allow_networks,
        definitions,
        contact_pages: raw.contact_pages,
        dns: prospector_jobs::tech_scan::fetch::DnsSettings {
            servers: dns_servers,
            timeout: positive_duration(&key("dns_timeout"), &raw.dns_timeout)?,
            records: raw.dns_records,
        },
        resolve,
        extra_root_certificates,
    })
}

/// `3MiB`, `500KiB`, `2MB`, `1024` (bytes).
fn byte_size(key: &str, value: &str) -> Result<usize, ConfigError> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        _ => u64::MAX,
    };
    let bytes = number
        .parse::<u64>()
        .ok()
        .filter(|_| multiplier != u64::MAX)
        .and_then(|n| n.checked_mul(multiplier))
        .filter(|n| (1024..=(1u64 << 30)).contains(n))
        .ok_or_else(|| {
            invalid(
                key,
                format!("`{value}` is not a size between 1KiB and 1GiB like \"3MiB\""),
            )
        })?;
    usize::try_from(bytes).map_err(|_| invalid(key, "too large for this machine"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load(&Sources {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Sources::default()
        })
    }

    #[test]
    fn defaults_load_and_cover_every_stage() {
        let settings = load_with(&[]).expect("defaults are valid");
        for stage in Stage::ALL {
            assert!(settings.stages.contains_key(stage.queue()), "{stage}");
        }
        assert_eq!(settings.stage("tech_scan").max_attempts, 3);
        assert_eq!(settings.schedules.len(), 4);
        assert!(settings.admin.token.is_none());
    }

    #[test]
    fn environment_variables_override_files() {
        let settings = load_with(&[
            ("PROSPECTOR__QUEUE__POLL_INTERVAL", "250ms"),
            ("PROSPECTOR__STAGES__AUDIT__CONCURRENCY", "3"),
            ("PROSPECTOR__ADMIN__TOKEN", "0123456789abcdef0123"),
            ("DATABASE_URL", "postgres://u@db:5432/x"),
        ])
        .unwrap();
        assert_eq!(settings.queue.poll_interval, Duration::from_millis(250));
        assert_eq!(settings.stage("audit").concurrency, 3);
        assert_eq!(settings.stage("audit").batch_size, 3);
        assert!(settings.admin.token.is_some());
        use secrecy::ExposeSecret;
        assert_eq!(settings.database.url.expose_secret(), "postgres://u@db:5432/x");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("PROSPECTOR__QUEUE__POLL_INTERVAL", "soon", "queue.poll_interval"),
            (
                "PROSPECTOR__QUEUE__MISSED_HEARTBEATS",
                "1",
                "queue.missed_heartbeats",
            ),
            (
                "PROSPECTOR__ANALYTICS__TIME_ZONE",
                "Mars/Olympus",
                "analytics.time_zone",
            ),
            ("PROSPECTOR__ADMIN__BIND", "nowhere", "admin.bind"),
            ("PROSPECTOR__ADMIN__TOKEN", "short", "admin.token"),
            ("PROSPECTOR__STAGES__AUDIT__WORKERS", "0", "stages.audit.workers"),
            ("PROSPECTOR__STAGES__SCRAPE__WORKERS", "1", "stages.scrape"),
            (
                "PROSPECTOR__IMPORT__DEFAULT_COUNTRY",
                "LUX",
                "import.default_country",
            ),
            ("DATABASE_URL", "mysql://x", "database.url"),
        ];
        for (var, value, key) in cases {
            let err = load_with(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
        }
    }

    #[test]
    fn bad_schedules_name_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("cron = \"every day\"", "schedule[0].cron"),
            ("cron = \"0 0 * * * *\"\ntz = \"Nowhere/City\"", "schedule[0].tz"),
        ];
        for (body, key) in cases {
            let file = dir.path().join("bad.toml");
            let mut text = String::from("[[schedule]]\nname = \"x\"\nstage = \"snapshot_analytics\"\n");
            text.push_str(body);
            if !body.contains("tz") {
                text.push_str("\ntz = \"UTC\"");
            }
            std::fs::write(&file, format!("{text}\n")).unwrap();
            let err = Settings::load(&Sources {
                extra_file: Some(file),
                ..Sources::default()
            })
            .expect_err(body)
            .to_string();
            assert!(err.contains(key), "`{err}` should name {key}");
        }
    }

    #[test]
    fn tech_scan_settings_are_parsed_and_bad_values_name_their_key() {
        let settings = load_with(&[]).unwrap();
        let t = &settings.tech_scan;
        assert!(t.user_agent.starts_with("ProspectorBot/"));
        assert!(t.user_agent.contains("(+http"), "{}", t.user_agent);
        assert_eq!(t.robots_token, "ProspectorBot");
        assert_eq!(t.max_body_bytes, 3 << 20);
        assert!(
            t.allow_networks.is_empty(),
            "production allows no private network"
        );
        let cases = [
            (
                "PROSPECTOR__TECH_SCAN__MAX_BODY_BYTES",
                "lots",
                "tech_scan.max_body_bytes",
            ),
            (
                "PROSPECTOR__TECH_SCAN__MAX_DECOMPRESSED_BYTES",
                "1KiB",
                "tech_scan.max_decompressed_bytes",
            ),
            (
                "PROSPECTOR__TECH_SCAN__CONTACT_URL",
                "nowhere",
                "tech_scan.contact_url",
            ),
            (
                "PROSPECTOR__TECH_SCAN__USER_AGENT",
                "Mozilla 5 /x",
                "tech_scan.user_agent",
            ),
            (
                "PROSPECTOR__TECH_SCAN__REQUEST_TIMEOUT",
                "0s",
                "tech_scan.request_timeout",
            ),
            (
                "PROSPECTOR__TECH_SCAN__MAX_REDIRECTS",
                "99",
                "tech_scan.max_redirects",
            ),
            (
                "PROSPECTOR__TECH_SCAN__DEFINITIONS",
                "/no/such/file.json",
                "tech_scan.definitions",
            ),
        ];
        for (var, value, key) in cases {
            let err = load_with(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "[tech_scan]\nallow_networks = [\"127.0.0.0/8\", \"::1\"]\ndns_servers = [\"127.0.0.1:5353\"]\n[tech_scan.resolve]\n\"shop.test\" = \"127.0.0.1:8080\"\n",
        )
        .unwrap();
        let settings = Settings::load(&Sources {
            extra_file: Some(file.clone()),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(settings.tech_scan.allow_networks.len(), 2);
        assert_eq!(settings.tech_scan.resolve[0].host, "shop.test");
        std::fs::write(&file, "[tech_scan]\nallow_networks = [\"localnet\"]\n").unwrap();
        let err = Settings::load(&Sources {
            extra_file: Some(file),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("tech_scan.allow_networks"), "{err}");
    }

    #[test]
    fn score_weights_are_checked() {
        let ok = load_with(&[
            ("PROSPECTOR__SCORE__POINTS__NO_HTTPS", "20"),
            ("PROSPECTOR__SCORE__HOT", "70"),
        ])
        .unwrap();
        assert_eq!(ok.score.points[&prospector_jobs::score::Rule::NoHttps], 20);
        assert_eq!(ok.score.tiers.hot, 70);
        for (var, value, key) in [
            (
                "PROSPECTOR__SCORE__POINTS__NO_HTTPS",
                "-5",
                "score.points.no_https",
            ),
            (
                "PROSPECTOR__SCORE__POINTS__MODERN_SITE",
                "10",
                "score.points.modern_site",
            ),
            (
                "PROSPECTOR__SCORE__POINTS__FAST_FOOD",
                "1",
                "score.points.fast_food",
            ),
            (
                "PROSPECTOR__SCORE__COMPONENTS__MODERNITY",
                "30",
                "score.components",
            ),
            ("PROSPECTOR__SCORE__WARM", "90", "score.hot"),
        ] {
            let err = load_with(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = load_with(&[("PROSPECTOR__QUEUE__POLL_INTERVALL", "1s")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("poll_intervall"), "{err}");
    }
}
