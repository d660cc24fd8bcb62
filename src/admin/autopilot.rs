//! `GET /api/autopilot` and `PUT /api/autopilot`: the discovery autopilot's
//! switch and daily target, changed at runtime without a restart.

use axum::{Extension, Json, extract::State};
use chrono::Utc;
use prospector_jobs::{
    DiscoverBusinesses,
    discover::{autopilot, queries},
};
use serde::{Deserialize, Serialize};

use crate::console::{
    Staff,
    activity::{self, Action},
};

use super::{AdminError, AdminState};

/// The autopilot as the admin sees it.
#[derive(Debug, Serialize)]
pub struct AutopilotStatus {
    #[serde(flatten)]
    settings: autopilot::EffectiveSettings,
    /// The configured provider.
    provider: &'static str,
    /// Whether its API key is set.
    provider_ready: bool,
    /// New maps leads since local midnight.
    leads_today: i64,
    /// Territories per status.
    territories: Vec<TerritoryCount>,
}

#[derive(Debug, Serialize)]
struct TerritoryCount {
    status: String,
    count: i64,
}

/// `PUT /api/autopilot` body: any of the two, or `reset` to drop overrides.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutopilotUpdate {
    enabled: Option<bool>,
    daily_target: Option<u32>,
    #[serde(default)]
    reset: bool,
}

/// `GET /api/autopilot`
pub async fn get(State(state): State<AdminState>) -> Result<Json<AutopilotStatus>, AdminError> {
    status(&state).await.map(Json)
}

/// `PUT /api/autopilot`
pub async fn put(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Json(update): Json<AutopilotUpdate>,
) -> Result<Json<AutopilotStatus>, AdminError> {
    if update.reset && (update.enabled.is_some() || update.daily_target.is_some()) {
        return Err(AdminError::BadRequest(
            "give either reset or new values, not both".into(),
        ));
    }
    if !update.reset && update.enabled.is_none() && update.daily_target.is_none() {
        return Err(AdminError::BadRequest(
            "nothing to change: give enabled, daily_target or reset".into(),
        ));
    }
    if update.daily_target.is_some_and(|t| t > 1_000_000) {
        return Err(AdminError::BadRequest(
            "daily_target must be at most 1000000".into(),
        ));
    }
    let mut tx = state.pool.begin().await?;
    if update.reset {
        autopilot::clear_overrides(&mut tx).await?;
    } else {
        autopilot::set_overrides(&mut tx, update.enabled, update.daily_target).await?;
    }
    activity::record(
        &mut *tx,
        &staff,
        Action {
            action: "autopilot.update",
            entity_type: "autopilot",
            entity_id: None,
            details: serde_json::json!({
                "enabled": update.enabled,
                "daily_target": update.daily_target,
                "reset": update.reset,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(enabled = ?update.enabled, daily_target = ?update.daily_target, reset = update.reset, "autopilot settings changed");
    status(&state).await.map(Json)
}

async fn status(state: &AdminState) -> Result<AutopilotStatus, AdminError> {
    let settings = &state.settings;
    let time_zone = settings.analytics().time_zone;
    let discover = settings.of::<DiscoverBusinesses>();
    let config = discover.autopilot_config(time_zone, 1);
    let effective = autopilot::effective_settings(&state.pool, &config).await?;
    let leads_today =
        queries::count_maps_leads_since(&state.pool, autopilot::day_start(Utc::now(), time_zone)).await?;
    let territories = sqlx::query_as!(
        TerritoryCount,
        r#"SELECT status, count(*) AS "count!" FROM coverage_grid GROUP BY status ORDER BY status"#
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(AutopilotStatus {
        settings: effective,
        provider: discover.provider.as_str(),
        provider_ready: discover.provider_ready(),
        leads_today,
        territories,
    })
}
