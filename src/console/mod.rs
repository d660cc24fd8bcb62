//! The admin console: server-rendered pages for agency staff, in the web
//! role under `/console`.
//!
//! - Accounts ([`users`]) with argon2id passwords ([`password`]), managed
//!   by `prospector admin create-user|set-password|disable`.
//! - Browser sessions ([`sessions`]) in an HttpOnly, SameSite=Strict
//!   cookie (Secure when `web.public_url` is https), with idle and absolute
//!   expiry; CSRF tokens per session; throttled sign-in ([`login`]).
//! - Roles ([`Role`]): viewer, operator, owner. Every route is registered
//!   through [`access::Routes`] with the role it needs; nothing else is
//!   served. The `/api` routes use the same table with bearer tokens: the
//!   environment's `admin.token` (automation) or a user's API token
//!   ([`api_tokens`]).
//! - Every action that changes something is written to `activity_log`
//!   ([`activity`]).
//!
//! Routes without a login: `GET/POST /console/login`,
//! `GET /console/assets/{name}`. Pages are in [`pages`].

pub mod access;
mod account;
pub mod activity;
pub mod api_tokens;
mod assets;
mod error;
mod login;
pub mod pages;
pub mod password;
mod role;
mod secret;
pub mod sessions;
mod staff;
mod templates;
pub mod users;

use axum::{Router, routing::get};

pub use access::{RouteSpec, Routes, Surface};
pub use error::ConsoleError;
pub use role::{Role, UnknownRole};
pub use sessions::Lifetimes;
pub use staff::{Staff, Via};
pub use templates::Templates;
pub use users::UserError;

use crate::admin::AdminState;

/// Every guarded console route.
pub fn routes() -> Routes<AdminState> {
    Routes::new(Surface::Console)
        .post("/console/logout", Role::Viewer, login::logout)
        .get("/console/account", Role::Viewer, account::show)
        .post("/console/account/tokens", Role::Viewer, account::create_token)
        .post(
            "/console/account/tokens/{id}/revoke",
            Role::Viewer,
            account::revoke_token,
        )
        .merge(pages::routes())
}

/// The console router: the sign-in pages and assets, then the guarded
/// table behind the session layer.
pub fn router(state: AdminState) -> Router<AdminState> {
    let signed_in = Router::new()
        .route("/console/login", get(login::form).post(login::submit))
        .merge(routes().into_router())
        .route_layer(axum::middleware::from_fn_with_state(state, login::authenticate));
    Router::new()
        .route("/console/assets/{name}", get(assets::serve))
        .route(
            "/console",
            get(|| async { axum::response::Redirect::permanent("/console/") }),
        )
        .merge(signed_in)
}

/// A new random password for `prospector admin … --generate-password`.
pub fn generated_password() -> String {
    secret::random_token().chars().take(20).collect()
}
