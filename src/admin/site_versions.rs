//! `POST /api/site-versions/{id}/approve` and `…/reject`: an operator
//! decides on a version a change request made (it waits with
//! `approval_status = 'pending'`); an approved version replaces the live one.

use axum::{
    Extension, Json,
    extract::{Path, State},
};
use prospector_jobs::support::{self, SupportError};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::console::{
    Staff,
    activity::{self, Action},
};

use super::{AdminError, AdminState};

fn version_id(id: &str) -> Result<Uuid, AdminError> {
    Uuid::parse_str(id).map_err(|_| AdminError::BadRequest(format!("`{id}` is not a version id")))
}

fn admin_error(e: SupportError) -> AdminError {
    match e {
        SupportError::UnknownVersion => AdminError::NotFound(e.to_string()),
        SupportError::NotPending(_) => AdminError::Conflict(e.to_string()),
        SupportError::Database(e) => AdminError::Database(e),
        other => AdminError::Internal(other.to_string()),
    }
}

/// `POST /api/site-versions/{id}/approve`
pub async fn approve(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let approved = support::approve_version(&state.pool, version_id(&id)?)
        .await
        .map_err(admin_error)?;
    activity::record(
        &state.pool,
        &staff,
        Action {
            action: "site_version.approve",
            entity_type: "site_version",
            entity_id: Some(approved.version_id),
            details: json!({ "site_id": approved.site_id, "version": approved.version }),
        },
    )
    .await?;
    tracing::info!(site.id = %approved.site_id, site.version = approved.version, "site version approved by operator");
    Ok(Json(json!({
        "site_id": approved.site_id,
        "version_id": approved.version_id,
        "version": approved.version,
        "approval_status": "approved",
    })))
}

/// `POST /api/site-versions/{id}/reject`
pub async fn reject(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let id = version_id(&id)?;
    support::reject_version(&state.pool, id)
        .await
        .map_err(admin_error)?;
    activity::record(
        &state.pool,
        &staff,
        Action {
            action: "site_version.reject",
            entity_type: "site_version",
            entity_id: Some(id),
            details: serde_json::Value::Null,
        },
    )
    .await?;
    tracing::info!(version.id = %id, "site version rejected by operator");
    Ok(Json(json!({ "version_id": id, "approval_status": "rejected" })))
}
