//! `prospector-bench email`: outreach e-mails per second through the send
//! path (render, compose, DKIM-sign, SMTP over pooled connections) to a real
//! aiosmtpd on loopback, caps and pacing off. Each run is checked against
//! what the server stored: a message it did not keep is not counted as sent.

use std::time::Duration;

use anyhow::{Context, ensure};
use prospector_jobs::send_email::{
    bench::{BenchOptions, bench_send_with},
    dkim::DkimAlgorithm,
    testing::SmtpSink,
};

use crate::cli::BenchEmailArgs;

/// Time the server gets to store the last messages of a run.
const STORE_WAIT: Duration = Duration::from_secs(120);

/// Run the benchmark once per key type and print the figures.
pub async fn run(args: BenchEmailArgs) -> anyhow::Result<()> {
    ensure!(args.messages > 0, "--messages must be at least 1");
    ensure!(args.connections > 0, "--connections must be at least 1");
    for algorithm in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
        let sink = SmtpSink::start()
            .await
            .context("starting aiosmtpd (run scripts/test once, or set PROSPECTOR_TEST_AIOSMTPD_PYTHON)")?;
        let figures = bench_send_with(BenchOptions {
            messages: args.messages,
            smtp_addr: sink.addr(),
            connections: args.connections,
            algorithm,
            tracking: !args.no_tracking,
        })
        .await?;
        let stored = sink.wait_for(args.messages, STORE_WAIT).await?.len();
        ensure!(
            stored == args.messages,
            "aiosmtpd stored {stored} of {} messages",
            args.messages
        );
        println!("{figures}; {stored} stored by aiosmtpd");
    }
    Ok(())
}
