//! Signing in and out.
//!
//! The login form is protected against login CSRF by a double-submit
//! token: `GET /console/login` sets a random `prospector_login` cookie
//! (SameSite=Strict) and puts the same value in the form; the POST must
//! carry both. Failed sign-ins are throttled per client address and per
//! account (`admin.auth_failures_per_minute`), and an unknown e-mail costs
//! as much time as a wrong password.

use std::{net::SocketAddr, time::Instant};

use axum::{
    Form,
    extract::{ConnectInfo, Query, State},
    response::{Html, IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::{
    ConsoleError, Staff,
    access::safe_next,
    password,
    secret::{random_token, same},
    sessions::{self, COOKIE},
    users,
};
use crate::admin::AdminState;

/// The login form's double-submit cookie.
const LOGIN_COOKIE: &str = "prospector_login";

/// `?next=` of the login page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(rename = "_csrf", default)]
    csrf: String,
    next: Option<String>,
}

/// `GET /console/login`: the form (or straight on, when signed in).
pub async fn form(
    State(state): State<AdminState>,
    jar: CookieJar,
    staff: Option<axum::Extension<Staff>>,
    Query(query): Query<NextQuery>,
) -> Result<Response, ConsoleError> {
    let next = safe_next(query.next.as_deref()).to_owned();
    if staff.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    render_form(&state, jar, &next, "", None)
}

fn render_form(
    state: &AdminState,
    jar: CookieJar,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> Result<Response, ConsoleError> {
    let token = random_token();
    let html = state.templates.bare(
        "login.html",
        minijinja::context! { csrf => &token, next => next, email => email, error => error },
    )?;
    let cookie = Cookie::build((LOGIN_COOKIE, token))
        .path("/console/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies());
    let status = if error.is_some() {
        axum::http::StatusCode::UNAUTHORIZED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, jar.add(cookie), Html(html)).into_response())
}

/// `POST /console/login`: check the password, open a session, go on.
pub async fn submit(
    State(state): State<AdminState>,
    jar: CookieJar,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let next = safe_next(form.next.as_deref()).to_owned();
    let login_cookie = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned());
    if !login_cookie.is_some_and(|c| !form.csrf.is_empty() && same(&c, &form.csrf)) {
        return render_form(
            &state,
            jar,
            &next,
            &form.email,
            Some("The form expired; please sign in again."),
        );
    }
    let client = connect.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip());
    let account = users::normalise_email(&form.email).unwrap_or_default();
    let now = Instant::now();
    if let Some(wait) = state
        .auth_throttle
        .blocked(client, now)
        .or_else(|| state.login_throttle.blocked(account.clone(), now))
    {
        return Err(ConsoleError::Throttled(wait));
    }
    let found = users::for_login(&state.pool, &form.email).await?;
    let (user, hash) = found.map_or((None, None), |(id, hash)| (Some(id), Some(hash)));
    let ok = password::verify(form.password, hash).await;
    let Some(user_id) = user.filter(|_| ok) else {
        state.auth_throttle.record_failure(client, now);
        state.login_throttle.record_failure(account, now);
        tracing::info!(client.ip = %client, "console: failed sign-in");
        return render_form(&state, jar, &next, &form.email, Some("Wrong e-mail or password."));
    };
    let session = sessions::open(&state.pool, user_id, state.session_lifetimes()).await?;
    tracing::info!(user.id = %user_id, "console: signed in");
    let cookie = Cookie::build((COOKIE, session.cookie))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies())
        .max_age(time_duration(state.settings.admin.session_lifetime));
    let jar = jar
        .remove(Cookie::build(LOGIN_COOKIE).path("/console/login"))
        .add(cookie);
    Ok((jar, Redirect::to(&next)).into_response())
}

/// `POST /console/logout`: end the session and clear the cookie.
pub async fn logout(State(state): State<AdminState>, jar: CookieJar) -> Result<Response, ConsoleError> {
    if let Some(cookie) = jar.get(COOKIE) {
        sessions::close(&state.pool, cookie.value()).await?;
    }
    let jar = jar.remove(Cookie::build(COOKIE).path("/"));
    Ok((jar, Redirect::to("/console/login")).into_response())
}

/// Put the session's caller in the request, when its cookie is good. Never
/// refuses: the route guard decides.
pub async fn authenticate(
    State(state): State<AdminState>,
    jar: CookieJar,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(cookie) = jar.get(COOKIE) {
        match sessions::caller(&state.pool, cookie.value(), state.settings.admin.session_idle).await {
            Ok(Some(staff)) => {
                request.extensions_mut().insert(staff);
            }
            Ok(None) => {}
            Err(e) => return ConsoleError::Database(e).into_response(),
        }
    }
    next.run(request).await
}

fn time_duration(d: std::time::Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
