use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use prospector_jobs::queue::control::ControlError;

/// Every admin error. 4xx show their message; 5xx show generic text and
/// log the detail.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Missing or wrong bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// Too many failed token attempts from this address; retry after this.
    #[error("too many failed attempts; retry in {} s", .0.as_secs().max(1))]
    TooManyAttempts(std::time::Duration),
    /// No token configured on the server.
    #[error("admin API disabled: no admin token is configured (set PROSPECTOR__ADMIN__TOKEN)")]
    NoTokenConfigured,
    /// Unknown resource.
    #[error("{0}")]
    NotFound(String),
    /// Bad parameters.
    #[error("{0}")]
    BadRequest(String),
    /// State conflict.
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but refused content (a template with an unknown
    /// placeholder).
    #[error("{0}")]
    Unprocessable(String),
    /// Anything else.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A server-side failure that is not the database's (detail logged).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ControlError> for AdminError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NotFound(_) => AdminError::NotFound(e.to_string()),
            ControlError::Conflict { .. } => AdminError::Conflict(e.to_string()),
            ControlError::Database(e) => AdminError::Database(e),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::Unauthorized | AdminError::NoTokenConfigured => StatusCode::UNAUTHORIZED,
            AdminError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AdminError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "admin request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if let AdminError::TooManyAttempts(wait) = &self {
            let seconds = wait.as_secs().max(1).to_string();
            if let Ok(value) = axum::http::HeaderValue::from_str(&seconds) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"prospector\""),
            );
        }
        response
    }
}
