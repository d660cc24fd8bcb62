use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use super::AdminState;
use crate::db;

/// Liveness: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers and every migration is applied.
pub async fn readyz(State(state): State<AdminState>) -> (StatusCode, Json<Value>) {
    let check = tokio::time::timeout(Duration::from_secs(3), db::migrations_current(&state.pool)).await;
    match check {
        Ok(Ok(true)) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(Ok(false)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reason": "migrations pending: run `prospector migrate`" })),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database error");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "reason": "database unreachable" })),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reason": "database did not answer within 3s" })),
        ),
    }
}
