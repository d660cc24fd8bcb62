//! Who is asking: the signed-in user (or script) behind a request.

use axum::{
    extract::FromRequestParts,
    http::{StatusCode, request::Parts},
};
use serde::Serialize;
use uuid::Uuid;

use super::Role;

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A console session cookie (state changes need the CSRF token).
    Session,
    /// A user's API token (`Authorization: Bearer pk_…`).
    ApiToken,
    /// The environment's `admin.token`, for automation.
    EnvToken,
}

/// The authenticated caller, put in the request's extensions by the
/// authentication layers and read by handlers as an extractor.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    /// `admin_users.id`; none for the environment token.
    pub user_id: Option<Uuid>,
    /// The user's e-mail (`automation` for the environment token).
    pub email: String,
    /// The user's name, when set.
    pub full_name: Option<String>,
    /// What the caller may do.
    pub role: Role,
    /// The session's CSRF token (sessions only): every form carries it.
    pub csrf_token: Option<String>,
    /// How the caller signed in.
    pub via: Via,
}

impl Staff {
    /// The environment token's caller: automation, with the owner's rights.
    pub fn automation() -> Self {
        Self {
            user_id: None,
            email: "automation".to_owned(),
            full_name: None,
            role: Role::Owner,
            csrf_token: None,
            via: Via::EnvToken,
        }
    }

    /// The name to show.
    pub fn display_name(&self) -> &str {
        self.full_name.as_deref().unwrap_or(&self.email)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = StatusCode;

    /// Routes are guarded before their handlers run, so a missing caller
    /// here is a route registered outside the route table: refuse it.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Staff>()
            .cloned()
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}
