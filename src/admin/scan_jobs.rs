use axum::{
    Json,
    extract::{Path, State},
};
use chrono::Utc;
use prospector_jobs::scan_jobs::{self, ItemFailure};
use serde::Serialize;

use super::{AdminError, AdminState};
use crate::status_report::ScanJobStatus;

/// `GET /api/scan-jobs`
pub async fn list(State(state): State<AdminState>) -> Result<Json<Vec<ScanJobStatus>>, AdminError> {
    let now = Utc::now();
    let batches = scan_jobs::list_recent(&state.pool, 100).await?;
    Ok(Json(
        batches
            .into_iter()
            .map(|batch| ScanJobStatus::new(batch, now, Vec::new()))
            .collect(),
    ))
}

#[derive(Debug, Serialize)]
pub struct ScanJobDetail {
    #[serde(flatten)]
    status: ScanJobStatus,
    failures: Vec<ItemFailure>,
}

/// `GET /api/scan-jobs/{id}`
pub async fn get_one(
    State(state): State<AdminState>,
    Path(id): Path<i64>,
) -> Result<Json<ScanJobDetail>, AdminError> {
    let batch = scan_jobs::get_batch(&state.pool, id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no scan job {id}")))?;
    let stages = scan_jobs::stage_progress(&state.pool, id).await?;
    let failures = scan_jobs::list_failures(&state.pool, id, 200).await?;
    Ok(Json(ScanJobDetail {
        status: ScanJobStatus::new(batch, Utc::now(), stages),
        failures,
    }))
}
