use axum::{Json, extract::State};

use super::{AdminError, AdminState};
use crate::status_report::StatusReport;

/// `GET /api/status`
pub async fn get_status(State(state): State<AdminState>) -> Result<Json<StatusReport>, AdminError> {
    Ok(Json(
        StatusReport::load(&state.pool, &state.settings.queue).await?,
    ))
}
