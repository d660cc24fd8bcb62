//! `POST /webhooks/recurrente`: verify, record, enqueue, answer.
//!
//! The Svix signature is checked on the raw body before anything is parsed.
//! No secret configured: 503 and nothing is read (fail closed); a missing
//! or malformed header: 400; a stale, future or forged signature: 401. A
//! verified delivery is stored once by its `svix-id` with its processing
//! job, in one transaction, and answered 200 (a redelivery too, with
//! nothing new written). A database failure answers 503, so Svix retries.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use prospector_jobs::billing::{
    VerifyError,
    ledger::{self, Recorded},
};
use serde_json::json;

use super::PublicState;

/// The largest webhook body accepted (Recurrente's are a few KiB).
pub const MAX_BODY: usize = 256 * 1024;

/// `POST /webhooks/recurrente`.
pub async fn recurrente(State(state): State<PublicState>, headers: HeaderMap, body: Bytes) -> Response {
    let verified = match state.billing.verifier.verify(&headers, &body, Utc::now()) {
        Ok(message) => message,
        Err(e) => {
            let status = match e {
                VerifyError::NoSecretConfigured => StatusCode::SERVICE_UNAVAILABLE,
                VerifyError::MissingHeader { .. }
                | VerifyError::MalformedHeader { .. }
                | VerifyError::BadTimestamp => StatusCode::BAD_REQUEST,
                VerifyError::TooOld { .. }
                | VerifyError::InFuture { .. }
                | VerifyError::NoMatchingSignature => StatusCode::UNAUTHORIZED,
            };
            tracing::warn!(error = %e, status = status.as_u16(), "webhook refused");
            return (status, Json(json!({ "error": e.to_string() }))).into_response();
        }
    };
    match ledger::record(&state.pool, &state.enqueuer, &verified, &body).await {
        Ok(recorded) => {
            let duplicate = recorded == Recorded::Duplicate;
            tracing::info!(duplicate, "webhook recorded");
            (
                StatusCode::OK,
                Json(json!({ "received": true, "duplicate": duplicate })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %prospector_jobs::error_chain(&e), "could not record a webhook");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "try again later" })),
            )
                .into_response()
        }
    }
}
