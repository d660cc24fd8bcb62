//! Throughput of the engine against the simplest alternative: a loop of
//! `chromium --headless --screenshot` processes, one per page, on the same
//! pages. The engine keeps one browser and opens a fresh context per
//! capture; the loop pays a browser start (and a fresh profile) every time.
//!
//! The comparison favours the CLI: it takes a viewport-only shot (it cannot
//! emulate a phone or capture a full page), while the engine measures the
//! document, settles it and takes the full page.

use std::{
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{process::Command, time::Instant};
use url::Url;

use super::{
    browser::BrowserSlot,
    error::CaptureError,
    guard::RequestGuard,
    process::{GroupChild, ProfileDir, processes_in_group, rss_bytes},
    settings::ScreenshotSettings,
};
use crate::audit::FormFactor;

/// Figures of one way of capturing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    /// Captures attempted.
    pub attempted: u32,
    /// Captures that produced an image.
    pub succeeded: u32,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Successful captures per minute of wall time.
    pub captures_per_minute: f64,
    /// Highest summed RSS of the browser's process group (shared pages are
    /// counted once per process, so this overstates real use).
    pub peak_browser_rss_bytes: u64,
    /// Highest RSS of this process.
    pub peak_self_rss_bytes: u64,
}

/// The engine against the CLI loop.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchFigures {
    /// [`BrowserSlot`] captures (desktop, full page).
    pub engine: RunFigures,
    /// Sequential `chromium --headless --screenshot` runs (viewport only).
    pub cli_loop: RunFigures,
    /// Engine captures per minute over the loop's.
    pub speedup: f64,
}

impl std::fmt::Display for BenchFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let row = |f: &mut std::fmt::Formatter<'_>, name: &str, r: &RunFigures| {
            writeln!(
                f,
                "{name:<10} {:>3}/{:<3} in {:>6.1} s  {:>6.1} captures/min  peak RSS: chromium group {:>5} MiB, self {:>4} MiB",
                r.succeeded,
                r.attempted,
                r.elapsed.as_secs_f64(),
                r.captures_per_minute,
                r.peak_browser_rss_bytes / (1024 * 1024),
                r.peak_self_rss_bytes / (1024 * 1024),
            )
        };
        row(f, "engine", &self.engine)?;
        row(f, "cli loop", &self.cli_loop)?;
        write!(f, "speed-up   {:.2}x", self.speedup)
    }
}

/// Capture each of `urls` `rounds` times with the engine (desktop), then
/// the same with a sequential CLI loop, and compare. Errors only when the
/// engine cannot start a browser; failed captures are counted.
pub async fn bench_captures(
    settings: Arc<ScreenshotSettings>,
    guard: Arc<dyn RequestGuard>,
    urls: &[Url],
    rounds: u32,
) -> Result<BenchFigures, CaptureError> {
    let engine = run_engine(Arc::clone(&settings), guard, urls, rounds).await?;
    let cli_loop = run_cli_loop(&settings, urls, rounds).await;
    let speedup = if cli_loop.captures_per_minute > 0.0 {
        engine.captures_per_minute / cli_loop.captures_per_minute
    } else {
        f64::INFINITY
    };
    Ok(BenchFigures {
        engine,
        cli_loop,
        speedup,
    })
}

/// Samples RSS every 50 ms while it lives.
struct Sampler {
    group: Arc<AtomicU32>,
    peak_group: Arc<AtomicU64>,
    peak_self: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start() -> Self {
        let group = Arc::new(AtomicU32::new(0));
        let peak_group = Arc::new(AtomicU64::new(0));
        let peak_self = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (group, peak_group, peak_self, stop) = (
                Arc::clone(&group),
                Arc::clone(&peak_group),
                Arc::clone(&peak_self),
                Arc::clone(&stop),
            );
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let pgid = group.load(Ordering::Relaxed);
                    if pgid != 0 {
                        let rss = rss_bytes(&processes_in_group(pgid));
                        peak_group.fetch_max(rss, Ordering::Relaxed);
                    }
                    peak_self.fetch_max(rss_bytes(&[std::process::id()]), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Self {
            group,
            peak_group,
            peak_self,
            stop,
            task,
        }
    }

    fn watch(&self, pgid: Option<u32>) {
        self.group.store(pgid.unwrap_or(0), Ordering::Relaxed);
    }

    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        (
            self.peak_group.load(Ordering::Relaxed),
            self.peak_self.load(Ordering::Relaxed),
        )
    }
}

fn figures(attempted: u32, succeeded: u32, elapsed: Duration, peaks: (u64, u64)) -> RunFigures {
    RunFigures {
        attempted,
        succeeded,
        elapsed,
        captures_per_minute: f64::from(succeeded) * 60.0 / elapsed.as_secs_f64().max(0.001),
        peak_browser_rss_bytes: peaks.0,
        peak_self_rss_bytes: peaks.1,
    }
}

async fn run_engine(
    settings: Arc<ScreenshotSettings>,
    guard: Arc<dyn RequestGuard>,
    urls: &[Url],
    rounds: u32,
) -> Result<RunFigures, CaptureError> {
    let limits = settings.limits.clone();
    let mut slot = BrowserSlot::new(settings, guard);
    let sampler = Sampler::start();
    let started = Instant::now();
    slot.start().await?;
    sampler.watch(slot.browser_pid());
    let (mut attempted, mut succeeded) = (0, 0);
    for _ in 0..rounds {
        for url in urls {
            attempted += 1;
            match slot.capture(url, FormFactor::Desktop, &limits).await {
                Ok(_) => succeeded += 1,
                Err(e) => tracing::warn!(%url, error = %e, "bench capture failed"),
            }
            sampler.watch(slot.browser_pid());
        }
    }
    let elapsed = started.elapsed();
    slot.shutdown().await;
    Ok(figures(attempted, succeeded, elapsed, sampler.finish().await))
}

async fn run_cli_loop(settings: &ScreenshotSettings, urls: &[Url], rounds: u32) -> RunFigures {
    let sampler = Sampler::start();
    let base = settings.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let viewport = &settings.desktop;
    let started = Instant::now();
    let (mut attempted, mut succeeded) = (0, 0);
    for _ in 0..rounds {
        for url in urls {
            attempted += 1;
            let Ok(dir) = ProfileDir::new(&base) else { continue };
            let shot = dir.path().join("shot.png");
            let mut command = Command::new(&settings.chromium_path);
            command
                .args(settings.all_flags())
                .arg(format!(
                    "--user-data-dir={}",
                    dir.path().join("profile").display()
                ))
                .arg(format!("--screenshot={}", shot.display()))
                .arg(format!("--window-size={},{}", viewport.width, viewport.height))
                .arg(url.as_str())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let Ok(mut child) = GroupChild::spawn(&mut command) else {
                continue;
            };
            sampler.watch(Some(child.pid()));
            let finished = tokio::time::timeout(settings.limits.total_timeout, child.wait()).await;
            child.kill().await;
            sampler.watch(None);
            if matches!(finished, Ok(Ok(status)) if status.success())
                && std::fs::metadata(&shot).is_ok_and(|m| m.len() > 0)
            {
                succeeded += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    figures(attempted, succeeded, elapsed, sampler.finish().await)
}
