//! Shutdown plumbing: a signal becomes one cancelled token.
//!
//! Two tokens: `stop` asks every role to stop taking new work (workers stop
//! fetching and let running jobs finish; the scheduler and the HTTP server
//! stop); `abort` is cancelled when the grace period is over, so long jobs
//! kill their child processes and return.

use std::time::Duration;

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
    /// a second signal).
    pub fn listen_for_signals(&self, grace: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!(
                grace_seconds = grace.as_secs_f64(),
                "shutdown requested: finishing running jobs"
            );
            this.stop.cancel();
            tokio::select! {
                () = tokio::time::sleep(grace) => {
                    tracing::warn!("shutdown grace period over: aborting running jobs");
                }
                () = wait_for_signal() => {
                    tracing::warn!("second signal: aborting running jobs");
                }
            }
            this.abort.cancel();
        });
    }

    /// Stop now (a fatal error in one role stops the others).
    pub fn trigger(&self) {
        self.stop.cancel();
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
