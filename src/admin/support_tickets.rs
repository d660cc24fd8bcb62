//! `GET /api/support-tickets` and `GET /api/support-tickets/{id}`: the
//! customers' change requests, what their builds applied, what needs a
//! human, and the versions they made (the pending one waits for
//! `POST /api/site-versions/{id}/approve`).

use axum::{
    Json,
    extract::{Path, Query, State},
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{AdminError, AdminState};

/// `?status=&limit=`
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `open`, `in_progress`, `completed`, `rejected`.
    status: Option<String>,
    /// At most this many (default 100, at most 500).
    limit: Option<i64>,
}

const STATUSES: [&str; 4] = ["open", "in_progress", "completed", "rejected"];

/// One ticket as JSON, with its versions newest first: the statements
/// below add their `WHERE` to it (`concat!`, so the SQL stays static).
macro_rules! ticket_json {
    () => {
        r#"
    SELECT jsonb_build_object(
        'id', t.id, 'site_id', t.site_id, 'customer_id', t.customer_id, 'status', t.status,
        'source', t.source, 'email_subject', t.email_subject, 'request_text', t.request_text,
        'interpreted_by', t.interpreted_by, 'requested_edits', t.requested_edits,
        'applied_edits', coalesce(t.applied_edits, '[]'::jsonb),
        'needs_human', coalesce(t.needs_human, '[]'::jsonb),
        'created_at', t.created_at, 'resolved_at', t.resolved_at, 'resolved_by', t.resolved_by,
        'versions', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', v.id, 'version', v.version, 'approval_status', v.approval_status,
                       'gate_status', v.gate_status, 'change_edits', v.change_edits,
                       'created_at', v.created_at) ORDER BY v.version DESC)
            FROM site_versions v WHERE v.change_request_id = t.id), '[]'::jsonb))
    FROM support_tickets t
"#
    };
}

/// `GET /api/support-tickets`: newest first.
pub async fn list(
    State(state): State<AdminState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, AdminError> {
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(AdminError::BadRequest(format!(
            "`{status}` is not a ticket status ({})",
            STATUSES.join(", ")
        )));
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let tickets: Vec<Value> = sqlx::query_scalar(concat!(
        ticket_json!(),
        " WHERE ($1::text IS NULL OR t.status = $1) ORDER BY t.created_at DESC, t.id LIMIT $2"
    ))
    .bind(&query.status)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Value::Array(tickets)))
}

/// `GET /api/support-tickets/{id}`
pub async fn get_one(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| AdminError::BadRequest(format!("`{id}` is not a ticket id")))?;
    let ticket: Option<Value> = sqlx::query_scalar(concat!(ticket_json!(), " WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    ticket
        .map(Json)
        .ok_or_else(|| AdminError::NotFound(format!("no support ticket {id}")))
}
