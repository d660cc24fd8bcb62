//! The bearer-token check of the `/api` routes.
//!
//! - The environment's token is compared as SHA-256 digests in constant time, so neither
//!   its bytes nor its length show in the response time.
//! - The scheme is matched case-insensitively (`Bearer`, `bearer`, …), as
//!   RFC 9110 §11.1 asks.
//! - Failed attempts are counted per client IP address: after
//!   `admin.auth_failures_per_minute` failures within a minute, that
//!   address gets `429 Too Many Requests` (with `Retry-After`) until the
//!   minute is over, whatever token it sends.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::header::AUTHORIZATION,
    middleware::Next,
    response::Response,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AdminError, AdminState};
use crate::console::{Staff, api_tokens};

/// The window failed attempts are counted in.
const WINDOW: Duration = Duration::from_secs(60);

/// Addresses tracked at most; past that, expired entries are dropped first
/// and then the oldest, so a flood of addresses cannot grow the map.
const MAX_TRACKED: usize = 10_000;

/// Put the caller of a bearer token in the request: the environment's
/// `admin.token` (automation, with the owner's rights) or a user's API
/// token (`pk_…`, with that user's role). A wrong token is refused here
/// and counted; no token at all goes on to the route guard, which refuses
/// it.
pub async fn authenticate(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    let client = client_ip(&request);
    if let Some(retry_after) = state.auth_throttle.blocked(client, Instant::now()) {
        return Err(AdminError::TooManyAttempts(retry_after));
    }
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .map(str::to_owned);
    let Some(given) = given else {
        return Ok(next.run(request).await);
    };
    let env_token = state.token.as_deref();
    let staff = if env_token.is_some_and(|expected| tokens_match(&given, expected.expose_secret())) {
        Some(Staff::automation())
    } else if given.starts_with(api_tokens::PREFIX) {
        api_tokens::caller(&state.pool, &given).await?
    } else {
        None
    };
    let Some(staff) = staff else {
        state.auth_throttle.record_failure(client, Instant::now());
        return Err(if env_token.is_none() {
            AdminError::NoTokenConfigured
        } else {
            AdminError::Unauthorized
        });
    };
    request.extensions_mut().insert(staff);
    Ok(next.run(request).await)
}

/// The token of an `Authorization: Bearer <token>` value (scheme in any case).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// Equal tokens, compared as digests: the time depends on neither the
/// bytes nor the length of either.
fn tokens_match(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    given.as_slice().ct_eq(expected.as_slice()).into()
}

/// The peer's address; requests served without connection info (router
/// tests) share one bucket.
fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip())
}

/// Failed attempts per key (a client address, an account), in fixed
/// one-minute windows.
#[derive(Debug)]
pub struct AuthThrottle<K = IpAddr> {
    /// Failures allowed per key and minute (0: no limit).
    limit: u32,
    failures: Mutex<HashMap<K, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl<K: std::hash::Hash + Eq + Clone + std::fmt::Debug> AuthThrottle<K> {
    /// A throttle allowing `limit` failures per key and minute.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            failures: Mutex::default(),
        }
    }

    /// How long `client` must wait, when it has used up its failures.
    pub(crate) fn blocked(&self, client: K, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let failures = self.failures.lock().ok()?;
        let window = failures.get(&client)?;
        let elapsed = now.saturating_duration_since(window.started);
        (elapsed < WINDOW && window.failures >= self.limit).then(|| WINDOW - elapsed)
    }

    pub(crate) fn record_failure(&self, client: K, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&client) {
            failures.retain(|_, w| now.saturating_duration_since(w.started) < WINDOW);
            if failures.len() >= MAX_TRACKED
                && let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| k.clone())
            {
                failures.remove(&oldest);
            }
        }
        let window = failures.entry(client.clone()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.saturating_duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        if window.failures == self.limit {
            tracing::warn!(
                "too many failed sign-in or token attempts; throttling one client or account for a minute"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_matched_in_any_case_and_the_token_trimmed() {
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER   abc  ", Some("abc")),
            ("Bearer", None),
            ("Bearer   ", None),
            ("Basic abc", None),
            ("Bearerabc", None),
        ] {
            assert_eq!(bearer_token(value), expected, "{value:?}");
        }
    }

    #[test]
    fn tokens_match_only_when_equal_whatever_their_lengths() {
        assert!(tokens_match("secret-token", "secret-token"));
        assert!(!tokens_match("secret-toke", "secret-token"));
        assert!(!tokens_match("secret-token-and-more", "secret-token"));
        assert!(!tokens_match("", "secret-token"));
    }

    #[test]
    fn an_address_is_blocked_after_its_failures_until_the_window_ends() {
        let throttle = AuthThrottle::new(3);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.blocked(client, start), None);
            throttle.record_failure(client, start);
        }
        let wait = throttle.blocked(client, start + Duration::from_secs(10));
        assert_eq!(wait, Some(Duration::from_secs(50)));
        assert_eq!(
            throttle.blocked(other, start),
            None,
            "other addresses are not affected"
        );
        assert_eq!(
            throttle.blocked(client, start + WINDOW),
            None,
            "a new minute starts afresh"
        );
    }

    #[test]
    fn a_zero_limit_never_blocks() {
        let throttle = AuthThrottle::new(0);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..100 {
            throttle.record_failure(client, now);
        }
        assert_eq!(throttle.blocked(client, now), None);
    }
}
