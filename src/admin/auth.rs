//! The bearer-token check of the protected admin routes.
//!
//! - The token is compared as SHA-256 digests in constant time, so neither
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

/// The window failed attempts are counted in.
const WINDOW: Duration = Duration::from_secs(60);

/// Addresses tracked at most; past that, expired entries are dropped first
/// and then the oldest, so a flood of addresses cannot grow the map.
const MAX_TRACKED: usize = 10_000;

/// Let a request through only with the configured bearer token.
pub async fn require_token(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    let Some(expected) = state.token.as_deref() else {
        return Err(AdminError::NoTokenConfigured);
    };
    let client = client_ip(&request);
    if let Some(retry_after) = state.auth_throttle.blocked(client, Instant::now()) {
        return Err(AdminError::TooManyAttempts(retry_after));
    }
    let given = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let matches = given.is_some_and(|given| tokens_match(given, expected.expose_secret()));
    if !matches {
        state.auth_throttle.record_failure(client, Instant::now());
        return Err(AdminError::Unauthorized);
    }
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

/// Failed token attempts per client address, in fixed one-minute windows.
#[derive(Debug)]
pub struct AuthThrottle {
    /// Failures allowed per address and minute (0: no limit).
    limit: u32,
    failures: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl AuthThrottle {
    /// A throttle allowing `limit` failures per address and minute.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            failures: Mutex::default(),
        }
    }

    /// How long `client` must wait, when it has used up its failures.
    fn blocked(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        if self.limit == 0 {
            return None;
        }
        let failures = self.failures.lock().ok()?;
        let window = failures.get(&client)?;
        let elapsed = now.saturating_duration_since(window.started);
        (elapsed < WINDOW && window.failures >= self.limit).then(|| WINDOW - elapsed)
    }

    fn record_failure(&self, client: IpAddr, now: Instant) {
        if self.limit == 0 {
            return;
        }
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&client) {
            failures.retain(|_, w| now.saturating_duration_since(w.started) < WINDOW);
            if failures.len() >= MAX_TRACKED
                && let Some(oldest) = failures.iter().min_by_key(|(_, w)| w.started).map(|(ip, _)| *ip)
            {
                failures.remove(&oldest);
            }
        }
        let window = failures.entry(client).or_insert(Window {
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
            tracing::warn!(client.ip = %client, "admin API: too many failed token attempts; throttling this address");
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
