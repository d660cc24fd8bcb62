//! `POST /api/site-versions/{id}/approve` and `…/reject`: an operator
//! decides on a version a change request made (it waits with
//! `approval_status = 'pending'`); an approved version replaces the live one.
//! `GET /api/site-versions/{id}` shows it first: its page, the edits it
//! applied, and its ticket with what needs a human.

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

/// `GET /api/site-versions/{id}`: the version, its customer page
/// (`html`, as it will be served once live) and its change request.
pub async fn get_one(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let id = version_id(&id)?;
    let version: Option<Value> = sqlx::query_scalar(
        r#"
        SELECT jsonb_build_object(
            'id', v.id, 'site_id', v.site_id, 'version', v.version,
            'approval_status', v.approval_status, 'approved_at', v.approved_at,
            'gate_status', v.gate_status, 'gate_reason', v.gate_reason,
            'change_edits', v.change_edits, 'created_at', v.created_at,
            'current', s.current_version_id = v.id, 'live', s.live_version_id = v.id,
            'html', v.live_html,
            'ticket', CASE WHEN t.id IS NULL THEN NULL ELSE jsonb_build_object(
                'id', t.id, 'status', t.status, 'request_text', t.request_text,
                'interpreted_by', t.interpreted_by,
                'applied_edits', coalesce(t.applied_edits, '[]'::jsonb),
                'needs_human', coalesce(t.needs_human, '[]'::jsonb)) END)
        FROM site_versions v
        JOIN generated_sites s ON s.id = v.site_id
        LEFT JOIN support_tickets t ON t.id = v.change_request_id
        WHERE v.id = $1
        "#,
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    version
        .map(Json)
        .ok_or_else(|| AdminError::NotFound(format!("no site version {id}")))
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
