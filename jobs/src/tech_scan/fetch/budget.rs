//! A process-wide budget of response bytes held in memory.
//!
//! Every body the fetcher reads, and the text decoded from it, is counted
//! against one [`MemoryBudget`] while it is alive: a [`Reservation`] grows
//! as chunks arrive (and, before decompression, by an estimate of the
//! decoded size), shrinks to the decoded text's size, and is released when
//! the page is dropped. Hundreds of scans in flight then hold at most the
//! budget, whatever the per-response limits multiply to.
//!
//! A reservation that cannot grow waits (the semaphore is fair: the oldest
//! waiter is served first); one that waits longer than the budget's
//! `wait` gives up with [`BudgetExhausted`], releasing what it held, so two
//! half-read bodies can never wait on each other forever. The fetcher
//! reports that as a local failure (retried, never "the site is
//! unreachable").
//!
//! Amounts are counted in KiB (rounded up), so a budget can be up to
//! 4 TiB.

use std::{
    fmt,
    sync::{Arc, OnceLock},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const KIB: u64 = 1024;

/// Bytes of responses a process may hold at once.
#[derive(Clone)]
pub struct MemoryBudget {
    semaphore: Arc<Semaphore>,
    total_kib: u32,
    wait: Duration,
}

impl fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("total_kib", &self.total_kib)
            .field("available_kib", &self.semaphore.available_permits())
            .field("wait", &self.wait)
            .finish()
    }
}

/// A reservation could not get the bytes it needed in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetExhausted {
    /// More than the whole budget was asked for.
    #[error("{wanted} bytes asked of a memory budget of {total} bytes")]
    TooLarge {
        /// Bytes asked for.
        wanted: u64,
        /// The budget.
        total: u64,
    },
    /// Other responses held the budget for longer than the wait.
    #[error("the memory budget of {total} bytes stayed full for {} s", waited.as_secs())]
    Timeout {
        /// The budget.
        total: u64,
        /// How long it waited.
        waited: Duration,
    },
}

fn kib_of(bytes: u64) -> u64 {
    bytes.div_ceil(KIB)
}

static PROCESS: OnceLock<MemoryBudget> = OnceLock::new();

impl MemoryBudget {
    /// A budget of `bytes` (at least 1 KiB); a reservation waits at most
    /// `wait` for room.
    pub fn new(bytes: u64, wait: Duration) -> Self {
        let total_kib = u32::try_from(kib_of(bytes).max(1)).unwrap_or(u32::MAX);
        Self {
            semaphore: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
            wait,
        }
    }

    /// The process's budget: created by the first caller with its size;
    /// later callers share it (one budget for every fetcher of the process).
    pub fn process(bytes: u64, wait: Duration) -> Self {
        let budget = PROCESS.get_or_init(|| Self::new(bytes, wait));
        if kib_of(bytes) != u64::from(budget.total_kib) {
            tracing::debug!(
                asked_kib = kib_of(bytes),
                kept_kib = budget.total_kib,
                "the process's memory budget was sized by an earlier fetcher"
            );
        }
        budget.clone()
    }

    /// The whole budget, in bytes.
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.total_kib) * KIB
    }

    /// Bytes not reserved right now.
    pub fn available_bytes(&self) -> u64 {
        self.semaphore.available_permits() as u64 * KIB
    }

    /// An empty reservation, to grow.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            permit: None,
        }
    }

    async fn take(&self, kib: u64) -> Result<OwnedSemaphorePermit, BudgetExhausted> {
        let Ok(n) = u32::try_from(kib) else {
            return Err(self.too_large(kib));
        };
        if n > self.total_kib {
            return Err(self.too_large(kib));
        }
        let semaphore = Arc::clone(&self.semaphore);
        match tokio::time::timeout(self.wait, semaphore.acquire_many_owned(n)).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; treat it as a full budget.
            Ok(Err(_)) | Err(_) => Err(BudgetExhausted::Timeout {
                total: self.total_bytes(),
                waited: self.wait,
            }),
        }
    }

    fn too_large(&self, kib: u64) -> BudgetExhausted {
        BudgetExhausted::TooLarge {
            wanted: kib.saturating_mul(KIB),
            total: self.total_bytes(),
        }
    }
}

/// Bytes held against a [`MemoryBudget`]; released on drop.
pub struct Reservation {
    budget: MemoryBudget,
    permit: Option<OwnedSemaphorePermit>,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.permit.as_ref().map_or(0, |p| p.num_permits() as u64 * KIB)
    }

    /// Hold at least `bytes`, waiting for room. On failure everything held
    /// is released (the caller drops what it read).
    pub async fn grow_to(&mut self, bytes: u64) -> Result<(), BudgetExhausted> {
        let held = self.permit.as_ref().map_or(0, |p| p.num_permits() as u64);
        let wanted = kib_of(bytes);
        if wanted <= held {
            return Ok(());
        }
        let more =
            match self.budget.semaphore.clone().try_acquire_many_owned(
                u32::try_from(wanted - held).map_err(|_| self.budget.too_large(wanted))?,
            ) {
                Ok(permit) => permit,
                Err(_) => {
                    // Wait holding nothing, for the whole amount: a waiter never
                    // sits on part of the budget another waiter needs.
                    self.permit = None;
                    let all = self.budget.take(wanted).await?;
                    self.permit = Some(all);
                    return Ok(());
                }
            };
        match &mut self.permit {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        Ok(())
    }

    /// Hold exactly `bytes` (rounded up to a KiB): give back the rest, or
    /// wait for more.
    pub async fn resize(&mut self, bytes: u64) -> Result<(), BudgetExhausted> {
        let wanted = kib_of(bytes);
        let held = self.permit.as_ref().map_or(0, |p| p.num_permits() as u64);
        if wanted >= held {
            return self.grow_to(bytes).await;
        }
        if wanted == 0 {
            self.permit = None;
        } else if let Some(permit) = &mut self.permit
            && let Ok(extra) = usize::try_from(held - wanted)
            && let Some(released) = permit.split(extra)
        {
            drop(released);
        }
        Ok(())
    }
}

/// A [`Reservation`] shared by the clones of a page.
#[derive(Clone, Default)]
pub struct Held(Option<Arc<Reservation>>);

impl Held {
    /// Keep `reservation` alive as long as this (or a clone) lives.
    pub fn new(reservation: Reservation) -> Self {
        Self(Some(Arc::new(reservation)))
    }

    /// Nothing held (pages made outside the fetcher).
    pub fn none() -> Self {
        Self(None)
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.0.as_ref().map_or(0, |r| r.bytes())
    }
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Held({} bytes)", self.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_grow_shrink_and_release_on_drop() {
        let budget = MemoryBudget::new(100 * KIB, Duration::from_millis(50));
        let mut r = budget.reservation();
        r.grow_to(10 * KIB + 1).await.unwrap();
        assert_eq!(r.bytes(), 11 * KIB);
        assert_eq!(budget.available_bytes(), 89 * KIB);
        r.grow_to(5 * KIB).await.unwrap();
        assert_eq!(r.bytes(), 11 * KIB, "growing to less keeps what is held");
        r.resize(3 * KIB).await.unwrap();
        assert_eq!(budget.available_bytes(), 97 * KIB);
        drop(r);
        assert_eq!(budget.available_bytes(), 100 * KIB);
    }

    #[tokio::test]
    async fn a_full_budget_makes_the_next_reservation_wait_then_give_up() {
        let budget = MemoryBudget::new(100 * KIB, Duration::from_millis(100));
        let mut first = budget.reservation();
        first.grow_to(80 * KIB).await.unwrap();
        let mut second = budget.reservation();
        second.grow_to(10 * KIB).await.unwrap();
        let err = second.grow_to(30 * KIB).await.unwrap_err();
        assert!(matches!(err, BudgetExhausted::Timeout { .. }), "{err}");
        assert_eq!(second.bytes(), 0, "a failed grow releases what it held");
        assert_eq!(budget.available_bytes(), 20 * KIB);

        // Once the first is dropped, the waiter gets its room.
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move {
                let mut r = budget.reservation();
                r.grow_to(90 * KIB).await.map(|()| r.bytes())
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        assert_eq!(waiter.await.unwrap(), Ok(90 * KIB));
    }

    #[tokio::test]
    async fn two_half_read_bodies_do_not_wait_on_each_other_forever() {
        let budget = MemoryBudget::new(100 * KIB, Duration::from_secs(5));
        let mut a = budget.reservation();
        let mut b = budget.reservation();
        a.grow_to(50 * KIB).await.unwrap();
        b.grow_to(50 * KIB).await.unwrap();
        // Each needs 30 more. The first to ask lets go of its half and waits
        // for 80; the second then does the same; each finishes (and drops
        // its page) in turn.
        let a_task = tokio::spawn(async move { a.grow_to(80 * KIB).await.map(|()| a.bytes()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let b_task = tokio::spawn(async move { b.grow_to(80 * KIB).await.map(|()| b.bytes()) });
        let both = tokio::time::timeout(Duration::from_secs(2), async {
            (a_task.await.unwrap(), b_task.await.unwrap())
        })
        .await
        .expect("neither waits for the other forever");
        assert_eq!(both, (Ok(80 * KIB), Ok(80 * KIB)));
        assert_eq!(budget.available_bytes(), 100 * KIB);
    }

    #[tokio::test]
    async fn more_than_the_whole_budget_is_refused_at_once() {
        let budget = MemoryBudget::new(10 * KIB, Duration::from_secs(5));
        let mut r = budget.reservation();
        let err = r.grow_to(11 * KIB).await.unwrap_err();
        assert!(matches!(err, BudgetExhausted::TooLarge { .. }), "{err}");
    }
}
