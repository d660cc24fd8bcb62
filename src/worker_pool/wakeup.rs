//! One LISTEN connection per process that wakes the right queue's workers.
//!
//! apalis-postgres's own listeners either hold one connection per worker
//! (`with_pubsub`) or panic when the connection fails (the storage factory).
//! This hub holds one connection, reconnects with backoff, and wakes every
//! queue after a reconnect (notifications sent while it was away are lost).

use prospector_jobs::retry::Backoff;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::channel::mpsc;
use serde::Deserialize;
use sqlx::{PgPool, postgres::PgListener};
use tokio_util::sync::CancellationToken;

/// The channel apalis-postgres's insert trigger notifies.
const CHANNEL: &str = "apalis::job::insert";

/// A handle to subscribe workers to wake-ups of their queue.
#[derive(Debug, Clone, Default)]
pub struct Wakeups {
    subscribers: Arc<Mutex<HashMap<String, Vec<mpsc::Sender<()>>>>>,
}

#[derive(Deserialize)]
struct InsertEvent {
    job_type: String,
}

impl Wakeups {
    /// Start the listener; it runs until `stop` is cancelled.
    pub fn spawn(pool: PgPool, stop: CancellationToken) -> Self {
        let wakeups = Self::default();
        let hub = wakeups.clone();
        tokio::spawn(async move { hub.listen(pool, stop).await });
        wakeups
    }

    /// A stream that yields when a job is inserted on `queue` (coalesced).
    pub fn subscribe(&self, queue: &str) -> mpsc::Receiver<()> {
        let (tx, rx) = mpsc::channel(1);
        if let Ok(mut subscribers) = self.subscribers.lock() {
            subscribers.entry(queue.to_owned()).or_default().push(tx);
        }
        rx
    }

    fn wake(&self, queue: Option<&str>) {
        let Ok(mut subscribers) = self.subscribers.lock() else {
            return;
        };
        for (name, senders) in subscribers.iter_mut() {
            if queue.is_some_and(|q| q != name) {
                continue;
            }
            // A full channel already holds a wake-up; a closed one belongs
            // to a worker that has stopped.
            senders.retain_mut(|tx| match tx.try_send(()) {
                Ok(()) => true,
                Err(e) => !e.is_disconnected(),
            });
        }
    }

    async fn listen(self, pool: PgPool, stop: CancellationToken) {
        let mut reconnects = Backoff::new(Duration::from_millis(250), Duration::from_secs(10)).sequence();
        loop {
            let connected = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = tokio::select! {
                () = stop.cancelled() => return,
                result = connected => match result {
                    Ok(listener) => listener,
                    Err(e) => {
                        let delay = reconnects.next_delay();
                        tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "job wake-up listener cannot connect");
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(delay) => {}
                        }
                        continue;
                    }
                },
            };
            reconnects.reset();
            // Anything inserted while we were not listening.
            self.wake(None);
            loop {
                let next = tokio::select! {
                    () = stop.cancelled() => return,
                    next = listener.try_recv() => next,
                };
                match next {
                    Ok(Some(notification)) => {
                        match serde_json::from_str::<InsertEvent>(notification.payload()) {
                            Ok(event) => self.wake(Some(&event.job_type)),
                            Err(_) => self.wake(None),
                        }
                    }
                    // The connection was lost; sqlx reconnects on the next
                    // call. Notifications may have been missed meanwhile.
                    Ok(None) => {
                        tracing::warn!("job wake-up listener lost its connection; reconnecting");
                        self.wake(None);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "job wake-up listener failed; reconnecting");
                        self.wake(None);
                        break;
                    }
                }
            }
        }
    }
}
