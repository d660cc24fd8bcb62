//! `/console/account`: who you are, and your API tokens.

use axum::{
    Extension, Form,
    extract::{Path, State},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ConsoleError, Staff,
    activity::{self, Action},
    api_tokens::{self, TokenInfo},
};
use crate::admin::AdminState;

#[derive(Serialize)]
struct AccountPage {
    tokens: Vec<TokenInfo>,
    new_token: Option<String>,
}

/// `GET /console/account`.
pub async fn show(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
) -> Result<Html<String>, ConsoleError> {
    render(&state, &staff, None).await
}

async fn render(
    state: &AdminState,
    staff: &Staff,
    new_token: Option<String>,
) -> Result<Html<String>, ConsoleError> {
    let tokens = match staff.user_id {
        Some(id) => api_tokens::list(&state.pool, id).await?,
        None => Vec::new(),
    };
    let page = AccountPage { tokens, new_token };
    Ok(Html(state.templates.page(
        staff,
        "account",
        "account.html",
        page,
    )?))
}

/// The new-token form.
#[derive(Debug, Deserialize)]
pub struct NewToken {
    name: String,
}

/// `POST /console/account/tokens`: make a token and show it once.
pub async fn create_token(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<NewToken>,
) -> Result<Response, ConsoleError> {
    let user_id = staff
        .user_id
        .ok_or_else(|| ConsoleError::BadRequest("only a user can own tokens".into()))?;
    let mut tx = state.pool.begin().await?;
    let (id, token) = api_tokens::create(&mut *tx, user_id, &form.name).await?;
    activity::record(
        &mut *tx,
        &staff,
        Action {
            action: "api_token.create",
            entity_type: "api_token",
            entity_id: Some(id),
            details: serde_json::json!({ "name": form.name.trim() }),
        },
    )
    .await?;
    tx.commit().await?;
    let mut response = render(&state, &staff, Some(token)).await?.into_response();
    // The page holds a secret: keep it out of caches and history.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `POST /console/account/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let user_id = staff
        .user_id
        .ok_or_else(|| ConsoleError::NotFound("no such token".into()))?;
    let mut tx = state.pool.begin().await?;
    if !api_tokens::revoke(&mut *tx, user_id, id).await? {
        return Err(ConsoleError::NotFound("no such token".into()));
    }
    activity::record(
        &mut *tx,
        &staff,
        Action {
            action: "api_token.revoke",
            entity_type: "api_token",
            entity_id: Some(id),
            details: serde_json::Value::Null,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/console/account").into_response())
}
