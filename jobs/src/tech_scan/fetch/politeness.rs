//! Politeness: at most one request at a time per host, and a pause between
//! two requests to the same host. Shared by every job of a worker process.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Mutex as AsyncMutex, OwnedMutexGuard},
    time::Instant,
};

/// Longest pause a robots.txt `Crawl-delay` can impose on us.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(10);

type Slot = Arc<AsyncMutex<Option<Instant>>>;

/// Per-host turn-taking.
#[derive(Debug)]
pub struct HostGate {
    delay: Duration,
    hosts: Mutex<HashMap<String, Slot>>,
    calls: AtomicU64,
}

/// The right to send one request to a host; the host's next request may
/// start `delay` after this is dropped.
#[derive(Debug)]
pub struct HostPermit {
    guard: OwnedMutexGuard<Option<Instant>>,
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        *self.guard = Some(Instant::now());
    }
}

impl HostGate {
    /// A gate with `delay` between requests to one host.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            hosts: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// The configured pause.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Wait for `host`'s turn: until no other request to it is running and
    /// at least `max(delay, extra)` has passed since the last one ended.
    pub async fn acquire(&self, host: &str, extra: Duration) -> HostPermit {
        let slot = self.slot(host);
        let guard = slot.lock_owned().await;
        let pause = self.delay.max(extra.min(MAX_CRAWL_DELAY));
        if let Some(last) = *guard {
            tokio::time::sleep_until(last + pause).await;
        }
        HostPermit { guard }
    }

    fn slot(&self, host: &str) -> Slot {
        let key = host.to_ascii_lowercase();
        // A poisoned map only means another job panicked mid-insert; the map
        // itself is still usable.
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if self.calls.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.prune(&mut hosts);
        }
        Arc::clone(hosts.entry(key).or_default())
    }

    /// Forget hosts nobody waits for whose pause is over (bounded memory).
    fn prune(&self, hosts: &mut HashMap<String, Slot>) {
        let now = Instant::now();
        let horizon = self.delay.max(MAX_CRAWL_DELAY);
        hosts.retain(|_, slot| {
            if Arc::strong_count(slot) > 1 {
                return true;
            }
            match slot.try_lock() {
                Ok(last) => last.is_some_and(|t| now.duration_since(t) < horizon),
                Err(_) => true,
            }
        });
    }

    /// Hosts currently remembered.
    pub fn tracked_hosts(&self) -> usize {
        self.hosts.lock().map(|h| h.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_take_turns_with_a_pause() {
        let gate = Arc::new(HostGate::new(Duration::from_millis(500)));
        let start = Instant::now();
        let first = gate.acquire("a.test", Duration::ZERO).await;
        // Another host is not held up.
        let other = gate.acquire("b.test", Duration::ZERO).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(other);

        let waiter = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                let _permit = gate.acquire("A.test", Duration::ZERO).await;
                Instant::now()
            })
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!waiter.is_finished(), "the second request waits for the first");
        drop(first);
        let released = Instant::now();
        let second_started = waiter.await.unwrap();
        assert_eq!(second_started - released, Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_crawl_delay_lengthens_the_pause_up_to_a_cap() {
        let gate = HostGate::new(Duration::from_millis(100));
        drop(gate.acquire("a.test", Duration::ZERO).await);
        let t = Instant::now();
        drop(gate.acquire("a.test", Duration::from_secs(3)).await);
        assert_eq!(t.elapsed(), Duration::from_secs(3));
        let t = Instant::now();
        drop(gate.acquire("a.test", Duration::from_secs(3600)).await);
        assert_eq!(t.elapsed(), MAX_CRAWL_DELAY);
    }
}
