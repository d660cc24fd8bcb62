//! The autopilot: at each scheduled slot, claim the next territories of the
//! coverage grid and enqueue a `discover` job for each — in the caller's
//! transaction, with the slot's claim.
//!
//! One run:
//! 1. territories whose cooldown is over become `pending` again;
//! 2. claims whose discover job is gone (dead, deleted) cool down for
//!    `failure_cooldown`, so nothing stays `in_progress` forever;
//! 3. if the autopilot is off (configuration, overridden at runtime by the
//!    admin API), the provider has no API key, or today's new maps leads
//!    reached the daily target, it stops there;
//! 4. it claims up to `targets_per_run` territories exactly in the order of
//!    WebMagic's "next target" query (pending, not cooling down, priority
//!    then population), with `FOR UPDATE SKIP LOCKED`, so autopilots running
//!    at once never claim the same one;
//! 5. it opens a `discover` batch and enqueues one [`DiscoverBusinesses`]
//!    per territory (key `discover:{territory}:{run}`).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgExecutor};

use super::{
    DiscoverBusinesses,
    fetch::local_midnight,
    queries::{self, ClaimedTarget},
};
use crate::{
    Stage,
    queue::{EnqueueError, EnqueueOptions, Enqueuer, Job},
    scan_jobs::{self, BatchItem, BatchKind},
    stage::Branch,
};

/// Runtime override key of the on/off switch.
pub const ENABLED_KEY: &str = "autopilot.enabled";
/// Runtime override key of the daily target.
pub const DAILY_TARGET_KEY: &str = "autopilot.daily_target";

/// The autopilot's configuration (runtime overrides apply on top).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutopilotConfig {
    /// On or off, per configuration.
    pub enabled: bool,
    /// New maps leads per local day after which it stops claiming.
    pub daily_target: u32,
    /// Territories claimed per run at most.
    pub targets_per_run: u32,
    /// Days start at midnight here.
    pub time_zone: Tz,
    /// How long a territory whose job vanished rests.
    pub failure_cooldown: std::time::Duration,
    /// Whether the configured provider has an API key.
    pub provider_ready: bool,
}

/// The start of `now`'s local day in `tz` (when daily targets and budgets
/// start over).
pub fn day_start(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    local_midnight(now, tz, 0)
}

/// Where an effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The configuration files and environment.
    Config,
    /// An override set through the admin API.
    Runtime,
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveSettings {
    /// On or off.
    pub enabled: bool,
    /// Where `enabled` comes from.
    pub enabled_origin: Origin,
    /// Daily target of new leads.
    pub daily_target: u32,
    /// Where `daily_target` comes from.
    pub daily_target_origin: Origin,
}

/// The configuration with the runtime overrides applied.
pub async fn effective_settings(
    executor: impl PgExecutor<'_>,
    config: &AutopilotConfig,
) -> Result<EffectiveSettings, sqlx::Error> {
    let overrides = queries::runtime_settings(executor, "autopilot.").await?;
    let find = |key: &str| overrides.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let (enabled, enabled_origin) = match find(ENABLED_KEY).and_then(Value::as_bool) {
        Some(v) => (v, Origin::Runtime),
        None => (config.enabled, Origin::Config),
    };
    let (daily_target, daily_target_origin) = match find(DAILY_TARGET_KEY)
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
    {
        Some(v) => (v, Origin::Runtime),
        None => (config.daily_target, Origin::Config),
    };
    Ok(EffectiveSettings {
        enabled,
        enabled_origin,
        daily_target,
        daily_target_origin,
    })
}

/// Set (`Some`) or clear (`None` in `clear`) runtime overrides.
pub async fn set_overrides(
    conn: &mut PgConnection,
    enabled: Option<bool>,
    daily_target: Option<u32>,
) -> Result<(), sqlx::Error> {
    if let Some(enabled) = enabled {
        queries::put_runtime_setting(&mut *conn, ENABLED_KEY, &json!(enabled)).await?;
    }
    if let Some(target) = daily_target {
        queries::put_runtime_setting(&mut *conn, DAILY_TARGET_KEY, &json!(target)).await?;
    }
    Ok(())
}

/// Drop every runtime override (the configuration applies again).
pub async fn clear_overrides(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    queries::delete_runtime_setting(&mut *conn, ENABLED_KEY).await?;
    queries::delete_runtime_setting(&mut *conn, DAILY_TARGET_KEY).await
}

/// Why a run claimed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Skipped {
    /// Switched off.
    Disabled,
    /// The provider has no key.
    NoApiKey,
    /// Today's target is met.
    DailyTargetReached {
        /// New maps leads today.
        leads_today: i64,
        /// The target.
        daily_target: u32,
    },
    /// No territory is pending (all are cooling down, in progress or paused).
    NothingPending,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AutopilotRun {
    /// Territories whose cooldown ended.
    pub released: u64,
    /// Claims whose job had vanished.
    pub orphaned: u64,
    /// Territories claimed, in claim order.
    pub claimed: Vec<ClaimedTarget>,
    /// Their jobs.
    pub job_ids: Vec<String>,
    /// The batch they count toward.
    pub scan_job_id: Option<i64>,
    /// Why nothing was claimed.
    pub skipped: Option<Skipped>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum AutopilotError {
    /// The database failed.
    #[error("autopilot database error")]
    Database(#[from] sqlx::Error),
    /// An enqueue failed.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
}

/// One autopilot run on the caller's connection (run it in the transaction
/// that claims the schedule slot).
pub async fn run_autopilot(
    conn: &mut PgConnection,
    enqueuer: &Enqueuer,
    config: &AutopilotConfig,
    claimant: &str,
    now: DateTime<Utc>,
) -> Result<AutopilotRun, AutopilotError> {
    let mut run = AutopilotRun {
        released: queries::release_cooled_down(&mut *conn).await?,
        orphaned: queries::release_orphaned_claims(&mut *conn, config.failure_cooldown.as_secs_f64()).await?,
        ..AutopilotRun::default()
    };
    let settings = effective_settings(&mut *conn, config).await?;
    if !settings.enabled {
        run.skipped = Some(Skipped::Disabled);
        return Ok(run);
    }
    if !config.provider_ready {
        run.skipped = Some(Skipped::NoApiKey);
        return Ok(run);
    }
    let leads_today =
        queries::count_maps_leads_since(&mut *conn, local_midnight(now, config.time_zone, 0)).await?;
    if leads_today >= i64::from(settings.daily_target) {
        run.skipped = Some(Skipped::DailyTargetReached {
            leads_today,
            daily_target: settings.daily_target,
        });
        return Ok(run);
    }
    let claimed =
        queries::claim_next_targets(&mut *conn, i64::from(config.targets_per_run), claimant).await?;
    if claimed.is_empty() {
        run.skipped = Some(Skipped::NothingPending);
        return Ok(run);
    }
    // A discovered lead with a site goes on through the digital branch; one
    // without gets its preview site built, gated and captured.
    let mut stages: Vec<&str> = Branch::Discovery
        .stages()
        .into_iter()
        .chain(Branch::Digital.stages())
        .chain(std::iter::once(Stage::BuildSite))
        .chain(crate::build_site::BuildSite::chain())
        .map(Stage::name)
        .collect();
    let mut seen = std::collections::HashSet::new();
    stages.retain(|s| seen.insert(*s));
    let parameters = json!({
        "claimed_by": claimant,
        "territories": claimed.iter().map(|t| json!({
            "id": t.id, "city": t.city, "state": t.state, "country": t.country, "industry": t.industry,
        })).collect::<Vec<_>>(),
    });
    let description = format!("autopilot discovery of {} territories", claimed.len());
    let scan_job_id = scan_jobs::create_batch(
        &mut *conn,
        BatchKind::Discover,
        &stages,
        i32::try_from(claimed.len()).unwrap_or(i32::MAX),
        Some(&description),
        &parameters,
    )
    .await?;
    for target in &claimed {
        let job = DiscoverBusinesses {
            coverage_grid_id: target.id,
            run: target.run_count,
            batch: Some(BatchItem {
                scan_job_id,
                item_key: format!("grid:{}", target.id),
                prospect_id: None,
            }),
        };
        // Higher-priority territories are also first in the queue.
        let options = EnqueueOptions {
            priority: Some(
                enqueuer
                    .policy(DiscoverBusinesses::QUEUE)
                    .priority
                    .saturating_add(target.priority),
            ),
            ..EnqueueOptions::default()
        };
        if let Some(job_id) = enqueuer.enqueue_with(&mut *conn, &job, options).await?.job_id() {
            queries::set_target_job(&mut *conn, target.id, job_id).await?;
            run.job_ids.push(job_id.to_owned());
        }
    }
    run.scan_job_id = Some(scan_job_id);
    run.claimed = claimed;
    Ok(run)
}
