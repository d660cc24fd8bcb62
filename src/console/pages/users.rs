//! `/console/users` (owners): the accounts, a form to add one (its first
//! password is made up and shown once), and enabling or disabling them. The
//! same as `prospector admin create-user|disable`.

use axum::{
    Extension, Form,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    admin::AdminState,
    console::{
        ConsoleError, Role, Routes, Staff, Surface, UserError,
        activity::{self, Action},
        generated_password,
        users::{self, Account},
    },
};

pub fn routes() -> Routes<AdminState> {
    Routes::new(Surface::Console)
        .get("/console/users", Role::Owner, list)
        .post("/console/users", Role::Owner, create)
        .post("/console/users/{id}/disable", Role::Owner, disable)
}

#[derive(Serialize)]
struct UsersPage {
    accounts: Vec<Account>,
    roles: [Role; 3],
    created: Option<Created>,
    error: Option<String>,
    form: NewUser,
}

#[derive(Serialize)]
struct Created {
    email: String,
    password: String,
}

/// The new-account form.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct NewUser {
    #[serde(default)]
    email: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    role: String,
}

async fn render(
    state: &AdminState,
    staff: &Staff,
    created: Option<Created>,
    error: Option<String>,
    form: NewUser,
) -> Result<Html<String>, ConsoleError> {
    let page = UsersPage {
        accounts: users::list(&state.pool).await?,
        roles: Role::ALL,
        created,
        error,
        form,
    };
    Ok(Html(state.templates.page(staff, "users", "users.html", page)?))
}

async fn list(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
) -> Result<Html<String>, ConsoleError> {
    render(&state, &staff, None, None, NewUser::default()).await
}

async fn create(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<NewUser>,
) -> Result<Response, ConsoleError> {
    let role = match form.role.parse::<Role>() {
        Ok(role) => role,
        Err(e) => return invalid(&state, &staff, e.to_string(), form).await,
    };
    let password = generated_password();
    let name = Some(form.full_name.trim()).filter(|n| !n.is_empty());
    let id = match users::create(&state.pool, &form.email, name, role, password.clone()).await {
        Ok(id) => id,
        Err(e @ (UserError::BadEmail(_) | UserError::Exists(_))) => {
            return invalid(&state, &staff, e.to_string(), form).await;
        }
        Err(UserError::Database(e)) => return Err(e.into()),
        Err(e) => return Err(ConsoleError::Internal(e.to_string())),
    };
    let email = users::normalise_email(&form.email).unwrap_or_default();
    activity::record(
        &state.pool,
        &staff,
        Action {
            action: "user.create",
            entity_type: "admin_user",
            entity_id: Some(id),
            details: serde_json::json!({ "email": email, "role": role }),
        },
    )
    .await?;
    let created = Created { email, password };
    let mut response = render(&state, &staff, Some(created), None, NewUser::default())
        .await?
        .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

async fn invalid(
    state: &AdminState,
    staff: &Staff,
    error: String,
    form: NewUser,
) -> Result<Response, ConsoleError> {
    let page = render(state, staff, None, Some(error), form).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn disable(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    if staff.user_id == Some(id) {
        return Err(ConsoleError::Conflict(
            "you cannot disable your own account".into(),
        ));
    }
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM admin_users WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.pool)
        .await?;
    let email = email.ok_or_else(|| ConsoleError::NotFound("no such account".into()))?;
    users::disable(&state.pool, &email)
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    activity::record(
        &state.pool,
        &staff,
        Action {
            action: "user.disable",
            entity_type: "admin_user",
            entity_id: Some(id),
            details: serde_json::json!({ "email": email }),
        },
    )
    .await?;
    Ok(Redirect::to("/console/users").into_response())
}
