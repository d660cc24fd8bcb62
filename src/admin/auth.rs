use axum::{
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::Next,
    response::Response,
};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::{AdminError, AdminState};

/// Let a request through only with the configured bearer token.
pub async fn require_token(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    let Some(expected) = state.token.as_deref() else {
        return Err(AdminError::NoTokenConfigured);
    };
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let matches: bool = given.as_bytes().ct_eq(expected.expose_secret().as_bytes()).into();
    if !matches {
        return Err(AdminError::Unauthorized);
    }
    Ok(next.run(request).await)
}
