//! Waiting before trying again: exponential backoff and `Retry-After`.
//!
//! One implementation for every retry loop of the platform: the queue's
//! persisted retries, in-request retries of provider calls, worker restarts
//! and the LISTEN connection's reconnects.

use std::{
    fmt,
    future::Future,
    time::{Duration, SystemTime},
};

/// `Retry-After` values longer than this are read as this (a hostile or
/// broken server cannot park a job for a year).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// How a client retries a call within one job (429, 5xx, lost connections)
/// before leaving it to the queue's persisted retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub retries: u32,
    /// First retry delay; doubles each time.
    pub base_delay: Duration,
    /// A wait (backoff or `Retry-After`) longer than this is not waited
    /// for here: the error goes back to the caller.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 2,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
        }
    }
}

/// An error that says whether calling again can help, and when.
pub trait Retryable {
    /// Worth another try (429, 5xx, a lost connection, a timeout).
    fn is_retryable(&self) -> bool;
    /// How long the other side asked us to wait.
    fn retry_after(&self) -> Option<Duration>;
}

/// Call `call` until it succeeds, fails for good, runs out of retries, or
/// would have to wait longer than `policy.max_wait`. Waits the backoff, and
/// never less than a `Retry-After`. `what` names the call in logs.
pub async fn retrying<T, E, F, Fut>(policy: &RetryPolicy, what: &str, mut call: F) -> Result<T, E>
where
    E: Retryable + fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let backoff = Backoff::new(policy.base_delay, Duration::MAX);
    let mut attempt = 0u32;
    loop {
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if !error.is_retryable() || attempt >= policy.retries {
            return Err(error);
        }
        let delay = backoff.delay(attempt + 1);
        let wait = error.retry_after().map_or(delay, |asked| asked.max(delay));
        if wait > policy.max_wait {
            return Err(error);
        }
        tracing::debug!(call = what, attempt, wait_ms = wait.as_millis() as u64, error = %error, "call failed; retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// Exponential backoff: `base × 2^(attempt−1)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// A backoff from `base` up to `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self { base, max }
    }

    /// The delay before attempt `attempt + 1` (attempt 1 waits `base`).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// [`delay`](Self::delay) with `jitter` (clamped to ±20%) applied, so
    /// jobs that failed together do not all come back at once. Never more
    /// than `max` × 1.2.
    pub fn delay_with_jitter(&self, attempt: u32, jitter: f64) -> Duration {
        let factor = 1.0 + jitter.clamp(-0.2, 0.2);
        self.delay(attempt).mul_f64(factor).min(self.max.mul_f64(1.2))
    }

    /// The delays of attempts 1, 2, 3, … one after the other (restart loops).
    pub fn sequence(self) -> BackoffSequence {
        BackoffSequence {
            backoff: self,
            attempt: 0,
        }
    }
}

/// Successive delays of a [`Backoff`]; [`reset`](Self::reset) after success.
#[derive(Debug, Clone)]
pub struct BackoffSequence {
    backoff: Backoff,
    attempt: u32,
}

impl BackoffSequence {
    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        self.backoff.delay(self.attempt)
    }

    /// Start over from the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A `Retry-After` value: delta-seconds or an HTTP date, relative to `now`;
/// a date in the past is zero; capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// The `Retry-After` header of a response, read now.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_cap() {
        let backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        let delays: Vec<u64> = (1..=6).map(|a| backoff.delay(a).as_secs()).collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 60, 60]);
        let mut seq = backoff.sequence();
        assert_eq!(seq.next_delay(), Duration::from_secs(5));
        assert_eq!(seq.next_delay(), Duration::from_secs(10));
        seq.reset();
        assert_eq!(seq.next_delay(), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(600));
        assert_eq!(backoff.delay_with_jitter(1, 0.2), Duration::from_secs(12));
        assert_eq!(backoff.delay_with_jitter(1, -0.2), Duration::from_secs(8));
        assert_eq!(backoff.delay_with_jitter(1, 5.0), Duration::from_secs(12));
    }

    #[derive(Debug)]
    struct Flaky(bool, Option<Duration>);
    impl fmt::Display for Flaky {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("flaky")
        }
    }
    impl Retryable for Flaky {
        fn is_retryable(&self) -> bool {
            self.0
        }
        fn retry_after(&self) -> Option<Duration> {
            self.1
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retrying_stops_at_success_a_permanent_error_or_the_retry_budget() {
        let policy = RetryPolicy {
            retries: 2,
            base_delay: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
        };
        let mut calls = 0;
        let ok: Result<u32, Flaky> = retrying(&policy, "test", || {
            calls += 1;
            let n = calls;
            async move { if n < 3 { Err(Flaky(true, None)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(ok.unwrap(), 3);
        let mut calls = 0;
        let permanent: Result<(), Flaky> = retrying(&policy, "test", || {
            calls += 1;
            async { Err(Flaky(false, None)) }
        })
        .await;
        assert!(permanent.is_err());
        assert_eq!(calls, 1);
        let mut calls = 0;
        let too_long: Result<(), Flaky> = retrying(&policy, "test", || {
            calls += 1;
            async { Err(Flaky(true, Some(Duration::from_secs(60)))) }
        })
        .await;
        assert!(too_long.is_err());
        assert_eq!(calls, 1, "a Retry-After past max_wait goes back to the caller");
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(3600));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates_and_is_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
