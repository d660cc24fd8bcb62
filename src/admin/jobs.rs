use axum::{
    Extension, Json,
    extract::{Path, Query, State},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::console::{
    Staff,
    activity::{self, Action},
};

use super::{AdminError, AdminState};
use prospector_jobs::queue::control::{self as job_control, DeadJob};

#[derive(Debug, Deserialize)]
pub struct DeadQuery {
    queue: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/jobs/dead?queue=&limit=`
pub async fn list_dead(
    State(state): State<AdminState>,
    Query(query): Query<DeadQuery>,
) -> Result<Json<Vec<DeadJob>>, AdminError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::BadRequest("limit must be between 1 and 1000".into()));
    }
    Ok(Json(
        job_control::list_dead(&state.pool, query.queue.as_deref(), limit).await?,
    ))
}

/// `POST /api/jobs/{id}/retry`
pub async fn retry(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    job_control::retry(&state.pool, &id).await?;
    activity::record(&state.pool, &staff, job_action("job.retry", &id)).await?;
    tracing::info!(job.id = %id, "job retried by operator");
    Ok(Json(json!({ "id": id, "status": "Pending" })))
}

/// `POST /api/jobs/{id}/cancel`
pub async fn cancel(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    job_control::cancel(&state.pool, &id).await?;
    activity::record(&state.pool, &staff, job_action("job.cancel", &id)).await?;
    tracing::info!(job.id = %id, "job cancelled by operator");
    Ok(Json(json!({ "id": id, "status": "Killed" })))
}

/// The activity entry for an action on one job (job ids are not UUIDs).
fn job_action<'a>(action: &'a str, id: &str) -> Action<'a> {
    Action {
        action,
        entity_type: "job",
        entity_id: None,
        details: json!({ "job_id": id }),
    }
}
