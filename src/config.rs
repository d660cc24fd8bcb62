//! Settings: layered, typed, checked once at start-up.
//!
//! `config/default.toml` (built into the binary) → `config/$PROSPECTOR_ENV.toml`
//! → `--config FILE` → `PROSPECTOR__SECTION__KEY` variables → `DATABASE_URL`.
//!
//! The platform's own sections (`[database]`, `[admin]`, `[queue]`, …) are
//! read here. Every stage's section is read into the stage's own settings
//! type ([`StageJob::Settings`], declared in its module) by walking the
//! stage registry, and `[stages.<queue>]` into each queue's
//! [`WorkerSettings`]. Durations are written like `"5s"` (humantime), sizes
//! like `"3MiB"`. Any bad value stops start-up with its key in the message.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use chrono_tz::Tz;
use prospector_jobs::{
    Branch, CheckContext, InvalidSetting, PipelineSettings, Platform, QueuePolicy, Stage, StageConfig,
    StageJob, StageVisitor, WorkerSettings,
    discover::{AutopilotConfig, DiscoverSettings},
    domain::{CountryCode, EmailAddress},
    poll_inbox::PollInboxDeps,
    public_urls::PublicUrls,
    queue::WorkerOverrides,
    send_email::{SendEmail, SendEmailSettings},
    snapshot_analytics::AnalyticsSettings,
};
use secrecy::SecretString;
use serde::{Deserialize, de::IgnoredAny};

#[cfg(test)]
mod tests;

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Environment variables read by the platform besides `PROSPECTOR__…`.
const PLATFORM_VARS: [&str; 1] = ["DATABASE_URL"];

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

impl From<InvalidSetting> for ConfigError {
    fn from(e: InvalidSetting) -> Self {
        invalid(e.key, e.message)
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
    /// `prospector import` defaults.
    pub import: ImportSettings,
    /// The web role's public addresses (previews, live sites, media, links).
    pub web: PublicUrls,
    /// Every stage's own settings (its section), by stage.
    pub pipeline: PipelineSettings,
    /// Worker settings per queue (`[stages.<queue>]`): every stage, plus
    /// queues registered by tools that run their own jobs.
    pub workers: BTreeMap<String, WorkerSettings>,
    /// Schedules.
    pub schedules: Vec<ScheduleSpec>,
}

/// Database connection settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Connection URL (may carry a password: never logged). `DATABASE_URL`
    /// overrides it.
    pub url: SecretString,
    /// Size of the pool the stages' handlers, the web role and the
    /// scheduler use.
    pub max_connections: u32,
    /// Size of the worker processes' second pool, for the queue machinery
    /// only (apalis's fetches, heartbeats and acknowledgements, and the
    /// wake-up listener), so that busy handlers cannot starve it.
    #[serde(default = "default_queue_connections")]
    pub queue_connections: u32,
    /// Connections kept open.
    pub min_connections: u32,
    /// Wait for a free connection at most this long.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// Connect only over TLS with a certificate that verifies for the host
    /// (`sslmode=verify-full`), whatever the URL says. On in production.
    #[serde(default)]
    pub require_tls: bool,
    /// CA certificates (PEM) to verify the server with, instead of the
    /// system's roots.
    #[serde(default)]
    pub ssl_root_cert: Option<PathBuf>,
}

fn default_queue_connections() -> u32 {
    8
}

/// Admin HTTP settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Listen address.
    pub bind: SocketAddr,
    /// Bearer token for protected routes; none means they refuse everyone.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// `/metrics` reads the queues' state from the database at most this
    /// often (scrapes in between get the last read).
    #[serde(with = "humantime_serde", default = "default_metrics_cache")]
    pub metrics_cache: Duration,
    /// Failed token attempts allowed per client address and minute before
    /// the protected routes answer 429 (0: no limit).
    #[serde(default = "default_auth_failures_per_minute")]
    pub auth_failures_per_minute: u32,
    /// A console session unused this long ends.
    #[serde(with = "humantime_serde", default = "default_session_idle")]
    pub session_idle: Duration,
    /// A console session ends this long after sign-in, however busy.
    #[serde(with = "humantime_serde", default = "default_session_lifetime")]
    pub session_lifetime: Duration,
}

fn default_session_idle() -> Duration {
    Duration::from_secs(2 * 3600)
}

fn default_session_lifetime() -> Duration {
    Duration::from_secs(12 * 3600)
}

fn default_auth_failures_per_minute() -> u32 {
    10
}

fn default_metrics_cache() -> Duration {
    Duration::from_secs(5)
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directives (RUST_LOG wins).
    pub filter: String,
}

/// Queue settings every process must share.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Interval poll, besides LISTEN/NOTIFY.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Worker heartbeat.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Heartbeats missed before a worker's jobs are re-queued.
    pub missed_heartbeats: usize,
    /// Exit non-zero when workers have not recovered for this long.
    #[serde(with = "humantime_serde")]
    pub worker_give_up_after: Duration,
    /// Time given to running jobs on SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

/// Retention of finished rows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Succeeded jobs.
    #[serde(with = "humantime_serde")]
    pub done: Duration,
    /// Dead jobs.
    #[serde(with = "humantime_serde")]
    pub dead: Duration,
    /// Worker rows not seen for this long.
    #[serde(with = "humantime_serde")]
    pub workers: Duration,
    /// Fired schedule slots.
    #[serde(with = "humantime_serde")]
    pub schedule_ticks: Duration,
    /// How often pruning runs.
    #[serde(with = "humantime_serde")]
    pub prune_interval: Duration,
}

/// Scheduler settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    /// A slot missed by less than this at start-up still fires.
    #[serde(with = "humantime_serde")]
    pub misfire_grace: Duration,
}

/// Import defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSettings {
    /// Country of rows that name none.
    #[serde(deserialize_with = "country")]
    pub default_country: CountryCode,
    /// Rows per transaction.
    pub chunk_size: usize,
}

fn country<'de, D: serde::Deserializer<'de>>(d: D) -> Result<CountryCode, D::Error> {
    let code = String::deserialize(d)?;
    CountryCode::parse(&code).map_err(|e| serde::de::Error::custom(e.to_string()))
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
    /// Start a build batch over the qualified leads without a website whose
    /// site is not built yet (routed before the stage ran, say), best first.
    BuildAwaiting {
        /// At most this many per slot.
        limit: i64,
    },
    /// Start a batch over digital prospects whose tech scan is older than
    /// `older_than` (or missing), through `stages`.
    Rescan {
        /// Age from which a profile is stale.
        older_than: Duration,
        /// Stages of the batch (the digital branch's last stage is appended).
        stages: Vec<Stage>,
        /// At most this many prospects per slot, stalest first.
        limit: Option<i64>,
    },
    /// Enqueue one `poll_inbox` job per mailbox that has IMAP settings
    /// (none: the slot enqueues nothing).
    PollInboxes {
        /// The mailboxes' addresses, in configuration order.
        mailboxes: Vec<EmailAddress>,
    },
    /// Enqueue the billing reconciliation poller: checkouts and
    /// subscriptions still not settled `billing.reconcile_after` after we
    /// last heard of them are asked about (a missed webhook).
    ReconcileBilling,
}

impl ScheduledJob {
    /// The stage it feeds.
    pub fn stage(&self) -> Stage {
        match self {
            ScheduledJob::BuildAwaiting { .. } => Stage::BuildSite,
            ScheduledJob::SnapshotAnalytics { .. } => Stage::SnapshotAnalytics,
            ScheduledJob::DiscoverAutopilot(_) => Stage::Discover,
            ScheduledJob::Rescan { stages, .. } => stages.first().copied().unwrap_or(Stage::TechScan),
            ScheduledJob::PollInboxes { .. } => Stage::PollInbox,
            ScheduledJob::ReconcileBilling => Stage::Billing,
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

// ----- the document as written ------------------------------------------

/// The platform's sections; every other top-level section must be a stage's.
#[derive(Debug, Deserialize)]
struct RawSettings {
    database: DatabaseSettings,
    admin: AdminSettings,
    log: LogSettings,
    queue: QueueSettings,
    retention: RetentionSettings,
    scheduler: SchedulerSettings,
    import: ImportSettings,
    web: PublicUrls,
    #[serde(default)]
    stages: HashMap<String, WorkerOverrides>,
    #[serde(default)]
    schedule: Vec<RawSchedule>,
    /// The stages' sections, read by the registry.
    #[serde(flatten)]
    sections: HashMap<String, IgnoredAny>,
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
    /// Environment variables (`PROSPECTOR__…`, `DATABASE_URL`, and the
    /// variables stages read themselves, such as provider API keys).
    pub env: HashMap<String, String>,
    /// A tool's own queues (a benchmark's), configured like stages.
    pub tool: Option<ToolQueues>,
}

/// Queues a tool runs besides the stages, with its defaults: a TOML
/// document layered right after `config/default.toml` that may set
/// `[stages.<queue>]` for each of `queues`.
#[derive(Debug, Clone, Copy)]
pub struct ToolQueues {
    /// The tool's defaults.
    pub defaults: &'static str,
    /// The queue names it adds.
    pub queues: &'static [&'static str],
}

/// Every variable a stage reads itself ([`StageJob::SECRET_VARS`]): provider
/// keys, and `PROSPECTOR__…` secrets kept out of the layers.
fn stage_vars() -> HashSet<&'static str> {
    Stage::ALL.iter().flat_map(|s| s.secret_vars()).copied().collect()
}

impl Sources {
    /// The process's environment and `PROSPECTOR_ENV`/`PROSPECTOR_CONFIG_DIR`.
    pub fn from_process(extra_file: Option<PathBuf>) -> Self {
        let stage_vars = stage_vars();
        Self {
            config_dir: std::env::var_os("PROSPECTOR_CONFIG_DIR").map(PathBuf::from),
            environment: std::env::var("PROSPECTOR_ENV").ok().filter(|e| !e.is_empty()),
            extra_file,
            tool: None,
            env: std::env::vars()
                .filter(|(k, _)| {
                    k.starts_with("PROSPECTOR__")
                        || PLATFORM_VARS.contains(&k.as_str())
                        || stage_vars.contains(k.as_str())
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
        if let Some(tool) = &sources.tool {
            builder = builder.add_source(config::File::from_str(tool.defaults, config::FileFormat::Toml));
        }
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
        let stage_vars = stage_vars();
        let layered: HashMap<String, String> = sources
            .env
            .iter()
            .filter(|(k, _)| k.starts_with("PROSPECTOR__") && !stage_vars.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("PROSPECTOR")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(layered)),
        );
        let document = builder.build()?;
        let raw: RawSettings = document.clone().try_deserialize()?;
        Self::parse(
            raw,
            &document,
            &sources.env,
            sources.tool.map_or(&[], |t| t.queues),
        )
    }

    fn parse(
        raw: RawSettings,
        document: &config::Config,
        env: &HashMap<String, String>,
        tool_queues: &[&str],
    ) -> Result<Self, ConfigError> {
        let mut database = raw.database;
        if let Some(url) = env.get("DATABASE_URL") {
            database.url = SecretString::from(url.clone());
        }
        check_platform(&database, &raw.queue, &raw.retention, &raw.import)?;
        raw.web.check().map_err(|e| ConfigError::from(e.within("web")))?;
        let admin = AdminSettings {
            token: normalised_token(raw.admin.token)?,
            ..raw.admin
        };

        let sections: HashSet<&str> = Stage::ALL.iter().map(|s| s.section()).collect();
        if let Some(unknown) = raw.sections.keys().find(|k| !sections.contains(k.as_str())) {
            return Err(invalid(
                unknown.clone(),
                format!(
                    "not a section of the configuration (stage sections: {})",
                    Stage::ALL
                        .iter()
                        .map(|s| s.section())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }

        let mut stage_overrides = raw.stages;
        let mut workers = BTreeMap::new();
        for stage in Stage::ALL {
            let overrides = stage_overrides.remove(stage.name()).unwrap_or_default();
            let worker = WorkerSettings::from_overrides(overrides, stage.default_concurrency())
                .map_err(|e| ConfigError::from(e.within(&format!("stages.{}", stage.name()))))?;
            workers.insert(stage.name().to_owned(), worker);
        }
        for queue in tool_queues {
            let overrides = stage_overrides.remove(*queue).unwrap_or_default();
            let worker = WorkerSettings::from_overrides(overrides, 1)
                .map_err(|e| ConfigError::from(e.within(&format!("stages.{queue}"))))?;
            workers.insert((*queue).to_owned(), worker);
        }
        if let Some(name) = stage_overrides.keys().next() {
            return Err(invalid(
                format!("stages.{name}"),
                format!("`{name}` is not a stage (stages: {})", Stage::names()),
            ));
        }

        let mut pipeline = PipelineSettings::default();
        for stage in Stage::ALL {
            stage.visit(LoadStage {
                document,
                env,
                worker: &workers[stage.name()],
                into: &mut pipeline,
            })?;
        }

        let time_zone = pipeline.get::<prospector_jobs::SnapshotAnalytics>().time_zone;
        let discover = pipeline.get::<prospector_jobs::DiscoverBusinesses>();
        let email = pipeline.get::<SendEmail>();
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
            let job = scheduled_job(&key, stage, &schedule.args, discover, email, time_zone)?;
            let cron = cron::Schedule::from_str(&schedule.cron).map_err(|e| {
                invalid(
                    format!("{key}.cron"),
                    format!(
                        "`{}` is not a cron expression (sec min hour day month weekday): {e}",
                        schedule.cron
                    ),
                )
            })?;
            let tz = time_zone_named(&format!("{key}.tz"), &schedule.tz)?;
            schedules.push(ScheduleSpec {
                name: schedule.name,
                job,
                cron,
                tz,
            });
        }

        Ok(Settings {
            database,
            admin,
            log: raw.log,
            queue: raw.queue,
            retention: raw.retention,
            scheduler: raw.scheduler,
            import: raw.import,
            web: raw.web,
            pipeline,
            workers,
            schedules,
        })
    }

    /// The worker settings of `queue`.
    ///
    /// # Panics
    /// When `queue` has none: [`load`](Self::load) inserts every stage's,
    /// and tools that run other queues add theirs with
    /// [`add_queue`](Self::add_queue) before starting workers.
    #[allow(clippy::expect_used)]
    pub fn worker(&self, queue: &str) -> &WorkerSettings {
        self.workers
            .get(queue)
            .expect("every queue with workers has worker settings")
    }

    /// The worker settings of `queue`, to change them (tests, benchmarks).
    ///
    /// # Panics
    /// As [`worker`](Self::worker).
    #[allow(clippy::expect_used)]
    pub fn worker_mut(&mut self, queue: &str) -> &mut WorkerSettings {
        self.workers
            .get_mut(queue)
            .expect("every queue with workers has worker settings")
    }

    /// Register a queue that is not a stage (a benchmark's), with its
    /// worker settings.
    pub fn add_queue(&mut self, queue: &str, worker: WorkerSettings) {
        self.workers.insert(queue.to_owned(), worker);
    }

    /// `J`'s settings (its configuration section).
    pub fn of<J: StageJob>(&self) -> &J::Settings {
        self.pipeline.get::<J>()
    }

    /// `J`'s settings, to change them (tests, benchmarks, the demo).
    pub fn of_mut<J: StageJob>(&mut self) -> &mut J::Settings {
        self.pipeline.get_mut::<J>()
    }

    /// The analytics settings (the agency's time zone lives there).
    pub fn analytics(&self) -> &AnalyticsSettings {
        self.of::<prospector_jobs::SnapshotAnalytics>()
    }

    /// Platform settings that stages read.
    pub fn platform(&self) -> Platform {
        Platform {
            time_zone: self.analytics().time_zone,
            default_country: self.import.default_country,
            web: self.web.clone(),
        }
    }

    /// The queue policy of every queue, for the enqueuer.
    pub fn queue_policies(&self) -> HashMap<String, QueuePolicy> {
        self.workers
            .iter()
            .map(|(queue, worker)| (queue.clone(), worker.policy()))
            .collect()
    }
}

/// Reads one stage's section into its settings type and checks it.
struct LoadStage<'a> {
    document: &'a config::Config,
    env: &'a HashMap<String, String>,
    worker: &'a WorkerSettings,
    into: &'a mut PipelineSettings,
}

impl StageVisitor for LoadStage<'_> {
    type Output = Result<(), ConfigError>;

    fn visit<J: StageJob>(self) -> Result<(), ConfigError> {
        let value: config::Value = self.document.get(J::SECTION)?;
        let mut settings =
            J::Settings::deserialize(value).map_err(|e| ConfigError::Load(within_section(e, J::SECTION)))?;
        let ctx = CheckContext {
            env: self.env,
            worker: self.worker,
        };
        settings
            .check(&ctx)
            .map_err(|e| ConfigError::from(e.within(J::SECTION)))?;
        self.into.insert::<J>(settings);
        Ok(())
    }
}

/// A deserialization error of a section's value names its key relative to
/// the section: put the section in front.
fn within_section(error: config::ConfigError, section: &str) -> config::ConfigError {
    let full = |key: Option<String>| match key {
        Some(key) if !key.is_empty() => Some(format!("{section}.{key}")),
        _ => Some(section.to_owned()),
    };
    match error {
        config::ConfigError::Type {
            origin,
            unexpected,
            expected,
            key,
        } => config::ConfigError::Type {
            origin,
            unexpected,
            expected,
            key: full(key),
        },
        config::ConfigError::At { error, origin, key } => config::ConfigError::At {
            error,
            origin,
            key: full(key),
        },
        config::ConfigError::NotFound(key) => config::ConfigError::NotFound(format!("{section}.{key}")),
        other => config::ConfigError::At {
            error: Box::new(other),
            origin: None,
            key: Some(section.to_owned()),
        },
    }
}

fn check_platform(
    database: &DatabaseSettings,
    queue: &QueueSettings,
    retention: &RetentionSettings,
    import: &ImportSettings,
) -> Result<(), ConfigError> {
    use secrecy::ExposeSecret;
    let url = database.url.expose_secret();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "database.url",
            "must be a postgres:// URL (DATABASE_URL overrides it)",
        ));
    }
    if database.queue_connections == 0 {
        return Err(invalid("database.queue_connections", "must be at least 1"));
    }
    if database.max_connections == 0 {
        return Err(invalid("database.max_connections", "must be at least 1"));
    }
    if database.min_connections > database.max_connections {
        return Err(invalid(
            "database.min_connections",
            "must not exceed database.max_connections",
        ));
    }
    if queue.missed_heartbeats < 2 {
        return Err(invalid("queue.missed_heartbeats", "must be at least 2"));
    }
    for (key, value) in [
        ("queue.poll_interval", queue.poll_interval),
        ("queue.heartbeat_interval", queue.heartbeat_interval),
        ("queue.worker_give_up_after", queue.worker_give_up_after),
        ("retention.done", retention.done),
        ("retention.dead", retention.dead),
        ("retention.workers", retention.workers),
        ("retention.schedule_ticks", retention.schedule_ticks),
        ("retention.prune_interval", retention.prune_interval),
    ] {
        if value.is_zero() {
            return Err(invalid(key, "must be longer than zero"));
        }
    }
    if import.chunk_size == 0 || import.chunk_size > 10_000 {
        return Err(invalid("import.chunk_size", "must be between 1 and 10000"));
    }
    Ok(())
}

fn normalised_token(token: Option<SecretString>) -> Result<Option<SecretString>, ConfigError> {
    use secrecy::ExposeSecret;
    let Some(token) = token else {
        return Ok(None);
    };
    let trimmed = token.expose_secret().trim();
    match trimmed.len() {
        0 => Ok(None),
        1..16 => Err(invalid("admin.token", "must be at least 16 characters")),
        _ => Ok(Some(SecretString::from(trimmed.to_owned()))),
    }
}

fn scheduled_job(
    key: &str,
    stage: Stage,
    args: &HashMap<String, String>,
    discover: &DiscoverSettings,
    email: &SendEmailSettings,
    time_zone: Tz,
) -> Result<ScheduledJob, ConfigError> {
    let allow_only = |allowed: &[&str]| -> Result<(), ConfigError> {
        match args.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unknown) => Err(invalid(
                format!("{key}.args.{unknown}"),
                if allowed.is_empty() {
                    format!("not an argument of the {stage} schedule (it takes none)")
                } else {
                    format!(
                        "not an argument of the {stage} schedule (allowed: {})",
                        allowed.join(", ")
                    )
                },
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
                discover.autopilot_config(time_zone, targets_per_run),
            ))
        }
        Stage::TechScan => {
            allow_only(&["older_than", "stages", "limit"])?;
            let older_than = match args.get("older_than") {
                None => Duration::from_secs(30 * 86_400),
                Some(raw) => humantime::parse_duration(raw.trim()).map_err(|e| {
                    invalid(
                        format!("{key}.args.older_than"),
                        format!("`{raw}` is not a duration like \"30d\" ({e})"),
                    )
                })?,
            };
            let stages = match args.get("stages") {
                None => Branch::Digital.stages(),
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
            crate::batches::plan_stages(&stages)
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
        Stage::BuildSite => {
            allow_only(&["limit"])?;
            let limit = match args.get("limit") {
                None => 500,
                Some(raw) => match raw.trim().parse::<i64>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(invalid(
                            format!("{key}.args.limit"),
                            format!("`{raw}` is not a positive number"),
                        ));
                    }
                },
            };
            Ok(ScheduledJob::BuildAwaiting { limit })
        }
        Stage::PollInbox => {
            allow_only(&[])?;
            Ok(ScheduledJob::PollInboxes {
                mailboxes: PollInboxDeps::polled_mailboxes(email),
            })
        }
        Stage::Audit | Stage::Score | Stage::Screenshot => Err(invalid(
            format!("{key}.stage"),
            format!("the {stage} stage has no schedule (its jobs follow another stage in a chain)"),
        )),
        Stage::SendEmail => Err(invalid(
            format!("{key}.stage"),
            "the send_email stage has no schedule (a campaign enqueues its sends: `prospector outreach start`)",
        )),
        Stage::Billing => {
            allow_only(&[])?;
            Ok(ScheduledJob::ReconcileBilling)
        }
    }
}

fn time_zone_named(key: &str, value: &str) -> Result<Tz, ConfigError> {
    value.trim().parse::<Tz>().map_err(|_| {
        invalid(
            key,
            format!("`{value}` is not an IANA time zone like \"Europe/Luxembourg\""),
        )
    })
}
