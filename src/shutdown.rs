//! Shutdown plumbing: a signal becomes one cancelled token.
//!
//! Two tokens: `stop` asks every role to stop taking new work (workers stop
//! fetching and let running jobs finish; the scheduler and the HTTP server
//! stop); `abort` is cancelled when the grace period is over, so long jobs
//! kill their child processes and return.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// The process's shutdown tokens.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop taking new work.
    pub stop: CancellationToken,
    /// Stop running work now.
    pub abort: CancellationToken,
}

impl Shutdown {
    /// Fresh, uncancelled tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancel `stop` on SIGINT or SIGTERM, then `abort` after `grace` (or at
    /// a second signal). The handlers are in place when this returns, so call
    /// it first thing: a signal before then would end the process at once.
    pub fn listen_for_signals(&self, grace: Duration) -> std::io::Result<()> {
        let mut signals = Signals::install()?;
        let this = self.clone();
        tokio::spawn(async move {
            signals.next().await;
            tracing::info!(
                grace_seconds = grace.as_secs_f64(),
                "shutdown requested: finishing running jobs"
            );
            this.stop.cancel();
            tokio::select! {
                () = tokio::time::sleep(grace) => {
                    tracing::warn!("shutdown grace period over: aborting running jobs");
                }
                () = signals.next() => {
                    tracing::warn!("second signal: aborting running jobs");
                }
            }
            this.abort.cancel();
        });
        Ok(())
    }

    /// Stop now (a fatal error in one role stops the others).
    pub fn trigger(&self) {
        self.stop.cancel();
    }
}

/// SIGTERM and SIGINT, registered with the runtime.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
