//! The stage registry: every pipeline stage, its payload and what it needs.
//!
//! A stage is one variant of [`Stage`] and one module that implements
//! [`StageJob`] on its payload type. The trait is where the module declares
//! everything the rest of the platform derives from it:
//!
//! - its queue (the stage's [`Stage::name`]) and payload ([`Stage::visit`]
//!   is the one place that maps a stage to its payload type);
//! - its branch of the pipeline ([`Branch`]), which orders batches and
//!   chains;
//! - its settings: the `[<section>]` of the configuration, deserialized
//!   into [`StageJob::Settings`] and checked by [`StageConfig::check`];
//! - how its handler's dependencies are built from those settings
//!   ([`StageJob::build_deps`]), once per worker process;
//! - whether it takes a prospect moving along a chain
//!   ([`StageJob::for_prospect`]).
//!
//! Everything else (the worker pool, configuration loading, batches, the
//! status page, the CLI) walks [`Stage::ALL`] and calls [`Stage::visit`],
//! so a new stage is a variant here, an arm in `visit` (the compiler asks
//! for it) and its folder.

use std::{any::Any, collections::HashMap, fmt, str::FromStr, sync::Arc};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    audit::AuditPage, billing::BillingTask, build_site::BuildSite, discover::DiscoverBusinesses,
    domain::CountryCode, pipeline::ProspectLink, poll_inbox::PollInbox, queue::WorkerSettings,
    runtime::Handler, score::ScoreProspect, screenshot::CaptureScreenshot, send_email::SendEmail,
    snapshot_analytics::SnapshotAnalytics, tech_scan::ScanTech,
};

/// A pipeline stage. Each stage owns exactly one queue, named like the stage.
///
/// Variants are declared in pipeline order: [`Stage::ALL`] and the order of
/// a [`Branch`] follow it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Find businesses from places providers, driven by the coverage grid.
    Discover,
    /// Fetch a prospect's website: reachability, technologies, contacts.
    TechScan,
    /// Lighthouse audit of a prospect's website.
    Audit,
    /// Opportunity score, reason flags and lead tier.
    Score,
    /// A preview website for a business (none, or an outdated one).
    BuildSite,
    /// Desktop and mobile screenshots of a generated site or a prospect's site.
    Screenshot,
    /// One outreach e-mail (a campaign step) to one lead.
    SendEmail,
    /// One outreach mailbox read over IMAP: replies, bounces, complaints,
    /// customers' e-mails (support tickets).
    PollInbox,
    /// Recurrente webhooks applied: customers, payments, live and paused sites.
    Billing,
    /// Daily metrics snapshot.
    SnapshotAnalytics,
}

/// Calls a function generic over a stage's payload type: the way code that
/// needs the type (to spawn workers, load settings, enqueue) gets it from a
/// [`Stage`] value.
pub trait StageVisitor {
    /// What the visit returns.
    type Output;
    /// Called with the payload type of the visited stage.
    fn visit<J: StageJob>(self) -> Self::Output;
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: &'static [Stage] = <Stage as strum::VariantArray>::VARIANTS;

    /// The stable name used for its queue (apalis `job_type`), in config,
    /// CLI flags and the admin API. Never change one once jobs exist.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Discover => "discover",
            Stage::TechScan => "tech_scan",
            Stage::Audit => "audit",
            Stage::Score => "score",
            Stage::BuildSite => "build_site",
            Stage::Screenshot => "screenshot",
            Stage::Billing => "billing",
            Stage::SendEmail => "send_email",
            Stage::PollInbox => "poll_inbox",
            Stage::SnapshotAnalytics => "snapshot_analytics",
        }
    }

    /// The queue this stage's jobs live on (its name).
    pub const fn queue(self) -> &'static str {
        self.name()
    }

    /// The stable name (same as [`name`](Self::name)).
    pub fn as_str(self) -> &'static str {
        self.name()
    }

    /// Call `visitor` with this stage's payload type.
    pub fn visit<V: StageVisitor>(self, visitor: V) -> V::Output {
        match self {
            Stage::Discover => visitor.visit::<DiscoverBusinesses>(),
            Stage::TechScan => visitor.visit::<ScanTech>(),
            Stage::Audit => visitor.visit::<AuditPage>(),
            Stage::Score => visitor.visit::<ScoreProspect>(),
            Stage::BuildSite => visitor.visit::<BuildSite>(),
            Stage::Screenshot => visitor.visit::<CaptureScreenshot>(),
            Stage::Billing => visitor.visit::<BillingTask>(),
            Stage::SendEmail => visitor.visit::<SendEmail>(),
            Stage::PollInbox => visitor.visit::<PollInbox>(),
            Stage::SnapshotAnalytics => visitor.visit::<SnapshotAnalytics>(),
        }
    }

    /// The branch of the pipeline this stage belongs to.
    pub fn branch(self) -> Branch {
        struct BranchOf;
        impl StageVisitor for BranchOf {
            type Output = Branch;
            fn visit<J: StageJob>(self) -> Branch {
                J::BRANCH
            }
        }
        self.visit(BranchOf)
    }

    /// The configuration section holding this stage's settings.
    pub fn section(self) -> &'static str {
        struct SectionOf;
        impl StageVisitor for SectionOf {
            type Output = &'static str;
            fn visit<J: StageJob>(self) -> &'static str {
                J::SECTION
            }
        }
        self.visit(SectionOf)
    }

    /// Jobs run at once per worker when `[stages.<name>]` sets no
    /// `concurrency`.
    pub fn default_concurrency(self) -> usize {
        struct ConcurrencyOf;
        impl StageVisitor for ConcurrencyOf {
            type Output = usize;
            fn visit<J: StageJob>(self) -> usize {
                J::default_concurrency()
            }
        }
        self.visit(ConcurrencyOf)
    }

    /// Whether the stage takes a prospect moving along a chain (its jobs
    /// can be enqueued by [`crate::pipeline::advance`] and by batches).
    pub fn takes_prospect(self) -> bool {
        struct TakesProspect;
        impl StageVisitor for TakesProspect {
            type Output = bool;
            fn visit<J: StageJob>(self) -> bool {
                J::for_prospect(ProspectLink::probe()).is_some()
            }
        }
        self.visit(TakesProspect)
    }

    /// The environment variables the stage reads itself ([`StageJob::SECRET_VARS`]).
    pub fn secret_vars(self) -> &'static [&'static str] {
        struct SecretVarsOf;
        impl StageVisitor for SecretVarsOf {
            type Output = &'static [&'static str];
            fn visit<J: StageJob>(self) -> Self::Output {
                J::SECRET_VARS
            }
        }
        self.visit(SecretVarsOf)
    }

    /// The names of every stage, comma-separated (for messages).
    pub fn names() -> String {
        Stage::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stage name that is not one of [`Stage::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stage `{name}` (expected one of: {expected})", expected = Stage::names())]
pub struct UnknownStage {
    /// The name given.
    pub name: String,
}

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .iter()
            .copied()
            .find(|stage| stage.name() == s.trim())
            .ok_or_else(|| UnknownStage { name: s.to_owned() })
    }
}

/// A branch of the pipeline: stages that hand work to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Branch {
    /// Finding businesses (the coverage grid's territories).
    Discovery,
    /// A prospect's website: scanned, audited, scored. A batch over this
    /// branch runs a subsequence of it and always ends with its last stage,
    /// so a changed profile is re-scored.
    Digital,
    /// A generated preview site: built, gated, captured.
    Preview,
    /// E-mail to leads (campaign steps) and what comes back (the inbox).
    Outreach,
    /// Scheduled reporting over the whole database.
    Reporting,
    /// Customers: payments and the life of a sold site.
    Customers,
}

impl Branch {
    /// The stages of this branch, in pipeline order.
    pub fn stages(self) -> Vec<Stage> {
        Stage::ALL
            .iter()
            .copied()
            .filter(|s| s.branch() == self)
            .collect()
    }

    /// The stages of this branch after `stage`, in order.
    pub fn after(self, stage: Stage) -> Vec<Stage> {
        self.stages().into_iter().filter(|s| *s > stage).collect()
    }

    /// The branch's last stage.
    pub fn last(self) -> Option<Stage> {
        self.stages().last().copied()
    }
}

/// A stage's settings: its section of the configuration.
///
/// Deserialized with serde (durations with `humantime-serde`, sizes with
/// `bytesize`), then checked once at start-up. A bad value stops the
/// process with the key in the message.
pub trait StageConfig: DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static {
    /// Check what the types cannot (ranges, relations between keys) and read
    /// secrets from the environment. Keys in errors are relative to the
    /// section (`max_redirects`, `google_places.base_url`).
    fn check(&mut self, ctx: &CheckContext<'_>) -> Result<(), InvalidSetting>;
}

/// What [`StageConfig::check`] may look at besides its own section.
#[derive(Debug)]
pub struct CheckContext<'a> {
    /// The process environment as the configuration saw it (secrets such as
    /// API keys are read from here, never from files).
    pub env: &'a HashMap<String, String>,
    /// The stage's worker settings (`[stages.<name>]`).
    pub worker: &'a WorkerSettings,
}

/// A value in a stage's section that is present but invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct InvalidSetting {
    /// The key, relative to the section, or an environment variable's name.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
    variable: bool,
}

impl InvalidSetting {
    /// An error for `key` (relative to the section).
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            variable: false,
        }
    }

    /// An error for the environment variable `name` (secrets come only from
    /// the environment).
    pub fn variable(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: true,
            ..Self::new(name, message)
        }
    }

    /// The same error with its key inside `prefix` (`discover` + `cooldown`);
    /// a variable's name is kept as it is.
    pub fn within(self, prefix: &str) -> Self {
        if self.variable {
            return self;
        }
        Self {
            key: format!("{prefix}.{}", self.key),
            ..self
        }
    }
}

/// Settings that belong to the platform but that stages read.
#[derive(Debug, Clone)]
pub struct Platform {
    /// The agency's time zone: day boundaries of budgets, targets and
    /// snapshots.
    pub time_zone: Tz,
    /// The country of leads and territories that name none.
    pub default_country: CountryCode,
    /// Where the web role is reachable from outside (`[web]`).
    pub web: crate::public_urls::PublicUrls,
}

/// Every stage's settings, loaded from the configuration.
///
/// Keyed by stage; each value is the stage's own [`StageJob::Settings`].
#[derive(Clone, Default)]
pub struct PipelineSettings {
    by_stage: HashMap<Stage, Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for PipelineSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Entry<'a>(&'a PipelineSettings, Stage);
        impl fmt::Debug for Entry<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                struct DebugOf<'a, 'b>(&'a PipelineSettings, &'a mut fmt::Formatter<'b>);
                impl StageVisitor for DebugOf<'_, '_> {
                    type Output = fmt::Result;
                    fn visit<J: StageJob>(self) -> fmt::Result {
                        match self.0.try_get::<J>() {
                            Some(s) => fmt::Debug::fmt(s, self.1),
                            None => self.1.write_str("(not loaded)"),
                        }
                    }
                }
                self.1.visit(DebugOf(self.0, f))
            }
        }
        let mut map = f.debug_map();
        for stage in Stage::ALL {
            map.entry(&stage.name(), &Entry(self, *stage));
        }
        map.finish()
    }
}

impl PipelineSettings {
    /// Store `J`'s settings.
    pub fn insert<J: StageJob>(&mut self, settings: J::Settings) {
        self.by_stage.insert(J::STAGE, Arc::new(settings));
    }

    /// `J`'s settings, if loaded.
    pub fn try_get<J: StageJob>(&self) -> Option<&J::Settings> {
        self.by_stage.get(&J::STAGE)?.downcast_ref::<J::Settings>()
    }

    /// `J`'s settings.
    ///
    /// # Panics
    /// When they were never inserted: the configuration loader inserts every
    /// stage's settings before anything else can read them, so this is a
    /// broken invariant, not a runtime condition.
    #[allow(clippy::expect_used)]
    pub fn get<J: StageJob>(&self) -> &J::Settings {
        self.try_get::<J>()
            .expect("every stage's settings are loaded with the configuration")
    }

    /// `J`'s settings, to change them (tests, benchmarks, the demo).
    ///
    /// # Panics
    /// As [`get`](Self::get).
    #[allow(clippy::expect_used)]
    pub fn get_mut<J: StageJob>(&mut self) -> &mut J::Settings {
        let entry = self
            .by_stage
            .get_mut(&J::STAGE)
            .expect("every stage's settings are loaded with the configuration");
        if Arc::get_mut(entry).is_none() {
            let copy = entry
                .downcast_ref::<J::Settings>()
                .expect("a stage's entry holds its settings type")
                .clone();
            *entry = Arc::new(copy);
        }
        Arc::get_mut(entry)
            .and_then(|any| any.downcast_mut::<J::Settings>())
            .expect("the entry was just made unique and holds the stage's settings type")
    }
}

/// What [`StageJob::build_deps`] can read.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// Every stage's settings (a stage may depend on another's, as the
    /// audit reuses the tech scan's address guard).
    pub stages: &'a PipelineSettings,
    /// Platform settings.
    pub platform: &'a Platform,
    /// The stage's worker settings (`[stages.<name>]`): a stage that keeps a
    /// resource per concurrent job (a browser) sizes it from `concurrency`.
    pub worker: &'a crate::queue::WorkerSettings,
}

impl Setup<'_> {
    /// `J`'s settings.
    pub fn settings<J: StageJob>(&self) -> &J::Settings {
        self.stages.get::<J>()
    }
}

/// Why a stage's dependencies could not be built (a tool is missing, a file
/// cannot be read): the stage cannot start on this machine as configured.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// A pipeline stage's payload: what its module declares to the platform.
pub trait StageJob: Handler {
    /// The stage.
    const STAGE: Stage;
    /// The branch of the pipeline it belongs to.
    const BRANCH: Branch;
    /// The configuration section of its settings.
    const SECTION: &'static str = Self::STAGE.name();
    /// Environment variables the stage reads itself in [`StageConfig::check`]
    /// (secrets such as API keys). `PROSPECTOR__…` ones among them are kept
    /// out of the configuration's layers, so a file cannot set them.
    const SECRET_VARS: &'static [&'static str] = &[];

    /// The stage's settings (its configuration section).
    type Settings: StageConfig;

    /// Build the handler's dependencies (clients, compiled definitions,
    /// browsers) once per worker process.
    fn build_deps(settings: &Self::Settings, setup: &Setup<'_>) -> Result<Self::Deps, SetupError>;

    /// This stage's job for a prospect moving along a chain, or `None` when
    /// the stage does not take a prospect. Every stage decides: there is no
    /// default.
    fn for_prospect(link: ProspectLink) -> Option<Self>;

    /// Jobs run at once per worker when `[stages.<name>]` sets no
    /// `concurrency`.
    fn default_concurrency() -> usize {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::Job;

    #[test]
    fn every_stage_round_trips_through_its_name() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(*stage));
        }
    }

    #[test]
    fn each_payload_lives_on_its_stages_queue() {
        struct QueueOf;
        impl StageVisitor for QueueOf {
            type Output = (Stage, &'static str);
            fn visit<J: StageJob>(self) -> (Stage, &'static str) {
                (J::STAGE, <J as Job>::QUEUE)
            }
        }
        for stage in Stage::ALL {
            let (declared, queue) = stage.visit(QueueOf);
            assert_eq!(declared, *stage, "{stage} visits another stage's payload");
            assert_eq!(queue, stage.name(), "{stage}'s payload is on another queue");
        }
    }

    #[test]
    fn the_digital_branch_runs_scan_audit_score() {
        assert_eq!(
            Branch::Digital.stages(),
            vec![Stage::TechScan, Stage::Audit, Stage::Score]
        );
        assert_eq!(
            Branch::Digital.after(Stage::TechScan),
            vec![Stage::Audit, Stage::Score]
        );
        assert_eq!(Branch::Digital.last(), Some(Stage::Score));
        assert!(Stage::TechScan.takes_prospect());
        assert!(!Stage::Discover.takes_prospect());
    }

    #[test]
    fn unknown_stage_names_are_rejected_with_the_name_and_the_known_ones() {
        let err = "scrape".parse::<Stage>().unwrap_err().to_string();
        assert!(err.contains("`scrape`"), "{err}");
        for stage in Stage::ALL {
            assert!(err.contains(stage.name()), "{err}");
        }
    }

    #[test]
    fn settings_keys_are_prefixed_but_variables_are_not() {
        assert_eq!(
            InvalidSetting::new("cooldown", "x").within("discover").key,
            "discover.cooldown"
        );
        assert_eq!(
            InvalidSetting::variable("GOOGLE_PLACES_API_KEY", "x")
                .within("discover")
                .key,
            "GOOGLE_PLACES_API_KEY"
        );
    }
}
