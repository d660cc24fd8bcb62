//! The tracking endpoints of outreach e-mail, under the path of
//! `send_email.tracking.base_url` (default `/t/`):
//!
//! | route               | what                                                    |
//! |---------------------|---------------------------------------------------------|
//! | `GET o/{token}`     | the open pixel (a 1×1 GIF)                              |
//! | `GET c/{token}`     | a click: 302 to the URL stored for that send and link   |
//! | `GET u/{token}`     | a page with the unsubscribe button                      |
//! | `POST u/{token}`    | RFC 8058 one-click unsubscribe: suppresses, answers 200 |
//!
//! A token is HMAC-signed and names a send, a kind and a link index, never
//! a URL: a bad or forged token, or one of another kind, answers 404 and
//! records nothing. Hits by scanners and prefetchers (HEAD, no or a known
//! machine User-Agent, too soon after delivery, every link at once) are
//! recorded with `machine = true` and not counted as people. Nothing sets
//! a cookie, and the unsubscribe POST never redirects.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use prospector_jobs::send_email::{
    Token, TokenKind, Tracker,
    queries::{self, HitRecord, TrackedSend},
    tracking::{Hit, HitMethod, HitVerdict, classify_hit},
};
use sqlx::{PgPool, Postgres, pool::PoolConnection};

/// What the tracking routes share.
#[derive(Clone)]
pub struct TrackingState {
    /// The pool.
    pub pool: PgPool,
    /// Verifies tokens.
    pub tracker: Arc<Tracker>,
    /// Hits sooner than this after delivery are a machine's.
    pub min_human_delay: Duration,
}

/// The routes, at the tracker's base path.
pub fn router(state: TrackingState) -> Router {
    let base = state.tracker.base().path().to_owned();
    Router::new()
        .route(&format!("{base}o/{{token}}"), get(open))
        .route(&format!("{base}c/{{token}}"), get(click))
        .route(
            &format!("{base}u/{{token}}"),
            get(unsubscribe_page).post(unsubscribe),
        )
        .with_state(state)
}

/// The smallest transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
    0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        "not found",
    )
        .into_response()
}

fn unavailable(error: &sqlx::Error) -> Response {
    tracing::error!(error = %error, "tracking: database error");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

fn verify(state: &TrackingState, token: &str, kind: TokenKind) -> Option<Token> {
    if token.len() > 200 {
        return None;
    }
    state.tracker.keys().verify_kind(token, kind).ok()
}

/// The verified token of a tracking hit, a connection and the send it
/// names; or the answer when there is none (404) or no database (503).
async fn tracked(
    state: &TrackingState,
    token: &str,
    kind: TokenKind,
) -> Result<(Token, PoolConnection<Postgres>, TrackedSend), Response> {
    let token = verify(state, token, kind).ok_or_else(not_found)?;
    let mut conn = state.pool.acquire().await.map_err(|e| unavailable(&e))?;
    match queries::tracked_send(&mut conn, token.send.0).await {
        Ok(Some(send)) => Ok((token, conn, send)),
        Ok(None) => Err(not_found()),
        Err(e) => Err(unavailable(&e)),
    }
}

fn hit_method(method: &Method) -> HitMethod {
    if method == Method::HEAD {
        HitMethod::Head
    } else {
        HitMethod::Get
    }
}

fn since_delivery(send: &TrackedSend) -> Option<Duration> {
    send.sent_at
        .and_then(|at| (chrono::Utc::now() - at).to_std().ok())
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
}

fn machine_reason(verdict: HitVerdict) -> Option<String> {
    match verdict {
        HitVerdict::Human => None,
        HitVerdict::Machine(reason) => Some(format!("{reason:?}")),
    }
}

/// `GET o/{token}`: the pixel; the open is recorded (a machine's marked).
async fn open(
    State(state): State<TrackingState>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let (token, mut conn, send) = match tracked(&state, &token, TokenKind::Open).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let agent = user_agent(&headers);
    let verdict = classify_hit(
        &Hit {
            method: hit_method(&method),
            user_agent: agent,
            since_delivery: since_delivery(&send),
            distinct_links_last_second: 0,
            link_count: 0,
        },
        state.min_human_delay,
    );
    let machine = machine_reason(verdict);
    let recorded = queries::record_hit(
        &mut conn,
        &HitRecord {
            send_id: token.send.0,
            prospect_id: send.prospect_id,
            kind: "open",
            link: None,
            url: None,
            machine: machine.as_deref(),
            user_agent: agent,
        },
    )
    .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record an open");
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache, must-revalidate, private"),
            ),
        ],
        PIXEL,
    )
        .into_response()
}

/// `GET c/{token}`: 302 to the URL stored for that send and link index.
async fn click(
    State(state): State<TrackingState>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let (token, mut conn, send) = match tracked(&state, &token, TokenKind::Click).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let Some(target) = send.links.target(&token).cloned() else {
        return not_found();
    };
    let Ok(location) = HeaderValue::from_str(target.as_str()) else {
        return not_found();
    };
    let recent = queries::distinct_recent_clicks(&mut conn, token.send.0)
        .await
        .unwrap_or(0);
    let agent = user_agent(&headers);
    let link_count = u16::try_from(send.links.0.len()).unwrap_or(u16::MAX);
    let verdict = classify_hit(
        &Hit {
            method: hit_method(&method),
            user_agent: agent,
            since_delivery: since_delivery(&send),
            // This click included.
            distinct_links_last_second: u16::try_from(recent + 1).unwrap_or(u16::MAX),
            link_count,
        },
        state.min_human_delay,
    );
    let machine = machine_reason(verdict);
    let recorded = queries::record_hit(
        &mut conn,
        &HitRecord {
            send_id: token.send.0,
            prospect_id: send.prospect_id,
            kind: "click",
            link: i16::try_from(token.link).ok(),
            url: Some(target.as_str()),
            machine: machine.as_deref(),
            user_agent: agent,
        },
    )
    .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record a click");
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
    )
        .into_response()
}

/// `GET u/{token}`: a page whose button POSTs the one-click unsubscribe
/// (a GET never unsubscribes: scanners follow links).
async fn unsubscribe_page(State(state): State<TrackingState>, Path(token): Path<String>) -> Response {
    if verify(&state, &token, TokenKind::Unsubscribe).is_none() {
        return not_found();
    }
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>Unsubscribe</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">\
         <h1>Unsubscribe</h1><p>Press the button and this address will not receive our e-mails again.</p>\
         <form method=\"post\" action=\"{token}\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">Unsubscribe</button></form></body></html>"
    );
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::HeaderName::from_static("x-robots-tag"),
                HeaderValue::from_static("noindex"),
            ),
        ],
        html,
    )
        .into_response()
}

/// `POST u/{token}`: RFC 8058 one-click unsubscribe. The recipient is
/// suppressed (idempotent); 200, no cookie, no redirect.
async fn unsubscribe(State(state): State<TrackingState>, Path(token): Path<String>) -> Response {
    let Some(token) = verify(&state, &token, TokenKind::Unsubscribe) else {
        return not_found();
    };
    let mut tx = match state.pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return unavailable(&e),
    };
    let send = match queries::tracked_send(&mut tx, token.send.0).await {
        Ok(Some(send)) => send,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(&e),
    };
    let Some(recipient) = send.recipient else {
        return not_found();
    };
    if let Err(e) =
        queries::unsubscribe(&mut tx, token.send.0, send.prospect_id, &recipient, "one-click").await
    {
        return unavailable(&e);
    }
    if let Err(e) = tx.commit().await {
        return unavailable(&e);
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        "You are unsubscribed: this address will not receive our e-mails again.\n",
    )
        .into_response()
}
