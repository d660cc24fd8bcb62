//! Throughput of the engine against the simplest alternative: a loop of
//! `chromium --headless --screenshot` processes, one per page, on the same
//! pages. The engine keeps one browser and opens a fresh context per
//! capture; the loop pays a browser start (and a fresh profile) every time.
//!
//! The comparison favours the CLI: it takes a viewport-only shot (it cannot
//! emulate a phone or capture a full page), while the engine measures the
//! document, settles it and takes the full page.

use std::{
    collections::HashMap,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{process::Command, time::Instant};
use url::Url;

use super::{
    browser::BrowserSlot,
    error::CaptureError,
    guard::RequestGuard,
    process::{GroupChild, ProfileDir, cpu_seconds, processes_in_group, rss_bytes},
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
    /// CPU seconds per successful capture, browser processes (sampled
    /// every 25 ms, so slightly low) and this process together (including
    /// the sampler's own `/proc` scans): the figure that holds on a busy
    /// machine, where wall time depends on what else runs.
    pub cpu_seconds_per_capture: f64,
}

/// The engine against the CLI loop.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchFigures {
    /// Concurrent browser slots the engine ran.
    pub slots: usize,
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
                "{name:<10}  {:>3}/{:<3} in {:>6.1} s  {:>6.1} captures/min  {:>5.2} CPU s/capture  \
                 peak RSS: chromium group {:>5} MiB, self {:>4} MiB",
                r.succeeded,
                r.attempted,
                r.elapsed.as_secs_f64(),
                r.captures_per_minute,
                r.cpu_seconds_per_capture,
                r.peak_browser_rss_bytes / (1024 * 1024),
                r.peak_self_rss_bytes / (1024 * 1024),
            )
        };
        row(f, &format!("engine x{}", self.slots), &self.engine)?;
        row(f, "cli loop", &self.cli_loop)?;
        write!(
            f,
            "speed-up    {:.2}x captures/min, {:.2}x less CPU per capture",
            self.speedup,
            self.cli_loop.cpu_seconds_per_capture / self.engine.cpu_seconds_per_capture.max(1e-9)
        )
    }
}

/// Capture each of `urls` `rounds` times with the engine (desktop) on
/// `slots` concurrent [`BrowserSlot`]s (one per worker slot, as the job
/// handler would run them), then the same pages with a sequential CLI
/// loop, and compare. Errors only when the engine cannot start a browser;
/// failed captures are counted.
pub async fn bench_captures(
    settings: Arc<ScreenshotSettings>,
    guard: Arc<dyn RequestGuard>,
    urls: &[Url],
    rounds: u32,
    slots: usize,
) -> Result<BenchFigures, CaptureError> {
    let engine = run_engine(Arc::clone(&settings), guard, urls, rounds, slots.max(1)).await?;
    let cli_loop = run_cli_loop(&settings, urls, rounds).await;
    let speedup = if cli_loop.captures_per_minute > 0.0 {
        engine.captures_per_minute / cli_loop.captures_per_minute
    } else {
        f64::INFINITY
    };
    Ok(BenchFigures {
        slots: slots.max(1),
        engine,
        cli_loop,
        speedup,
    })
}

/// Samples RSS every 50 ms while it lives: the summed process groups it
/// is told to watch, and this process.
struct Sampler {
    groups: Arc<Mutex<Vec<u32>>>,
    /// The CPU seconds last seen per browser process: a process's time is
    /// counted up to its last sample (≤ 25 ms before it ended).
    cpu: Arc<Mutex<HashMap<u32, f64>>>,
    peak_group: Arc<AtomicU64>,
    peak_self: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start() -> Self {
        let groups = Arc::new(Mutex::new(Vec::new()));
        let peak_group = Arc::new(AtomicU64::new(0));
        let peak_self = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let cpu: Arc<Mutex<HashMap<u32, f64>>> = Arc::new(Mutex::new(HashMap::new()));
        let task = tokio::spawn({
            let (groups, cpu, peak_group, peak_self, stop) = (
                Arc::clone(&groups),
                Arc::clone(&cpu),
                Arc::clone(&peak_group),
                Arc::clone(&peak_self),
                Arc::clone(&stop),
            );
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let watched: Vec<u32> = groups.lock().map(|g| g.clone()).unwrap_or_default();
                    let pids: Vec<u32> = watched
                        .iter()
                        .filter(|g| **g != 0)
                        .flat_map(|g| processes_in_group(*g))
                        .collect();
                    peak_group.fetch_max(rss_bytes(&pids), Ordering::Relaxed);
                    peak_self.fetch_max(rss_bytes(&[std::process::id()]), Ordering::Relaxed);
                    if let Ok(mut seen) = cpu.lock() {
                        for pid in pids {
                            if let Some((own, _)) = cpu_seconds(pid) {
                                let entry = seen.entry(pid).or_insert(0.0);
                                *entry = f64::max(*entry, own);
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        });
        Self {
            groups,
            cpu,
            peak_group,
            peak_self,
            stop,
            task,
        }
    }

    /// Watch group `index` as `pgid` (`None`: nothing there now).
    fn watch(&self, index: usize, pgid: Option<u32>) {
        if let Ok(mut groups) = self.groups.lock() {
            if groups.len() <= index {
                groups.resize(index + 1, 0);
            }
            groups[index] = pgid.unwrap_or(0);
        }
    }

    /// Peak group RSS, peak own RSS, browser CPU seconds.
    async fn finish(self) -> (u64, u64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let cpu = self.cpu.lock().map(|seen| seen.values().sum()).unwrap_or(0.0);
        (
            self.peak_group.load(Ordering::Relaxed),
            self.peak_self.load(Ordering::Relaxed),
            cpu,
        )
    }
}

fn figures(
    attempted: u32,
    succeeded: u32,
    elapsed: Duration,
    sampled: (u64, u64, f64),
    own_cpu: f64,
) -> RunFigures {
    let peaks = (sampled.0, sampled.1);
    RunFigures {
        cpu_seconds_per_capture: (sampled.2 + own_cpu) / f64::from(succeeded.max(1)),
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
    slots: usize,
) -> Result<RunFigures, CaptureError> {
    let sampler = Arc::new(Sampler::start());
    let jobs: Arc<Vec<Url>> = Arc::new((0..rounds).flat_map(|_| urls.iter().cloned()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let succeeded = Arc::new(AtomicU32::new(0));
    let own_before = own_cpu();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..slots {
        let (settings, guard, sampler, jobs, next, succeeded) = (
            Arc::clone(&settings),
            Arc::clone(&guard),
            Arc::clone(&sampler),
            Arc::clone(&jobs),
            Arc::clone(&next),
            Arc::clone(&succeeded),
        );
        workers.spawn(async move {
            let limits = settings.limits.clone();
            let mut slot = BrowserSlot::new(settings, guard);
            slot.start().await?;
            sampler.watch(index, slot.browser_pid());
            while let Some(url) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                match slot.capture(url, FormFactor::Desktop, &limits).await {
                    Ok(_) => {
                        succeeded.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tracing::warn!(%url, error = %e, "bench capture failed"),
                }
                sampler.watch(index, slot.browser_pid());
            }
            // Let the sampler see the browser's processes once more.
            tokio::time::sleep(Duration::from_millis(60)).await;
            slot.shutdown().await;
            sampler.watch(index, None);
            Ok::<_, CaptureError>(())
        });
    }
    let mut first_error = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(e) => {
                first_error = first_error.or(Some(CaptureError::Launch {
                    detail: format!("a bench worker failed: {e}"),
                }))
            }
        }
    }
    let elapsed = started.elapsed();
    if let Some(e) = first_error {
        return Err(e);
    }
    let sampled = match Arc::try_unwrap(sampler) {
        Ok(sampler) => sampler.finish().await,
        Err(_) => (0, 0, 0.0),
    };
    Ok(figures(
        u32::try_from(jobs.len()).unwrap_or(u32::MAX),
        succeeded.load(Ordering::Relaxed),
        elapsed,
        sampled,
        own_cpu() - own_before,
    ))
}

async fn run_cli_loop(settings: &ScreenshotSettings, urls: &[Url], rounds: u32) -> RunFigures {
    let sampler = Sampler::start();
    let own_before = own_cpu();
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
            sampler.watch(0, Some(child.pid()));
            let finished = tokio::time::timeout(settings.limits.total_timeout, child.wait()).await;
            child.kill().await;
            sampler.watch(0, None);
            if matches!(finished, Ok(Ok(status)) if status.success())
                && std::fs::metadata(&shot).is_ok_and(|m| m.len() > 0)
            {
                succeeded += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    let own = own_cpu() - own_before;
    figures(attempted, succeeded, elapsed, sampler.finish().await, own)
}

fn own_cpu() -> f64 {
    cpu_seconds(std::process::id()).map_or(0.0, |(own, _)| own)
}
