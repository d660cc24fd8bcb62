//! Send-path throughput: render + compose + DKIM-sign + SMTP to a local
//! aiosmtpd, caps off. Prints the figures.
//!
//! ```sh
//! cargo run --release -p prospector-jobs --features testing --example send_email_bench -- [messages] [connections]
//! ```

use std::time::Duration;

use prospector_jobs::send_email::{
    bench::{BenchOptions, bench_send_with},
    dkim::DkimAlgorithm,
    testing::SmtpSink,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let connections: u32 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    for algorithm in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
        let sink = SmtpSink::start().await?;
        let figures = bench_send_with(BenchOptions {
            messages,
            smtp_addr: sink.addr(),
            connections,
            algorithm,
            tracking: true,
        })
        .await?;
        let stored = sink.wait_for(messages, Duration::from_secs(120)).await?.len();
        println!("{figures}; {stored} stored by aiosmtpd");
    }
    Ok(())
}
