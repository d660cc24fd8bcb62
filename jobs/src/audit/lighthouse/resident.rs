//! Resident Lighthouse drivers: `tools/lighthouse/driver.mjs`, kept running
//! between audits.
//!
//! A driver is one Node process and the Chromium it launched, both in the
//! process group the driver leads, with its own fresh directory (Chromium
//! profile, crash dumps, reports, log). It reads one JSON request per line
//! on stdin and answers one JSON line on stdout (protocol in the script's
//! header). The pool hands each audit an idle driver or starts one; a driver
//! that failed, timed out or was dropped mid-audit is killed with its group
//! and never reused. Drivers are replaced after `recycle_after` audits and
//! stopped after `idle_timeout` idle (checked by a reaper task that ends with
//! the pool).

use std::{
    process::Stdio,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::{Duration, Instant},
};

use serde::Deserialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{ChildStdin, ChildStdout, Command},
};
use tokio_util::task::AbortOnDropHandle;
use url::Url;

use super::{
    RunnerError, chrome_flags,
    process::{GroupChild, RunDir},
};
use crate::{
    audit::settings::{FormFactor, LighthouseSettings},
    browser_proxy::BrowserProxy,
};

const LOG: &str = "driver.log";

/// Idle drivers, shared by every worker of the stage in this process.
#[derive(Clone)]
pub(super) struct ResidentPool {
    shared: Arc<Shared>,
}

struct Shared {
    settings: Arc<LighthouseSettings>,
    proxy: BrowserProxy,
    idle: Mutex<Vec<Driver>>,
    reaper: Mutex<Option<AbortOnDropHandle<()>>>,
}

impl ResidentPool {
    pub(super) fn new(settings: Arc<LighthouseSettings>, proxy: BrowserProxy) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings,
                proxy,
                idle: Mutex::new(Vec::new()),
                reaper: Mutex::new(None),
            }),
        }
    }

    /// Audit `url` on an idle driver, or a new one.
    pub(super) async fn run(
        &self,
        url: &Url,
        form_factor: FormFactor,
        timeout: Duration,
    ) -> Result<Vec<u8>, RunnerError> {
        self.start_reaper();
        let mut driver = match self.shared.take_idle() {
            Some(driver) => driver,
            None => Driver::start(&self.shared.settings, &self.shared.proxy).await?,
        };
        match driver.audit(url, form_factor, timeout).await {
            Ok(report) => {
                self.shared.give_back(driver);
                Ok(report)
            }
            Err(e) => {
                driver.stop().await;
                Err(e)
            }
        }
    }

    /// Started on first use, so the pool can be built outside a runtime.
    fn start_reaper(&self) {
        let mut reaper = self.shared.reaper.lock().unwrap_or_else(PoisonError::into_inner);
        if reaper.is_some() {
            return;
        }
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let every = self.shared.settings.idle_timeout.min(Duration::from_secs(30));
        *reaper = Some(AbortOnDropHandle::new(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(shared) = weak.upgrade() else { return };
                let expired = shared.take_expired();
                drop(shared);
                if !expired.is_empty() {
                    tracing::debug!(drivers = expired.len(), "stopping idle Lighthouse drivers");
                }
                drop(expired);
            }
        })));
    }
}

impl Shared {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Driver>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used driver; expired ones are dropped on the way.
    fn take_idle(&self) -> Option<Driver> {
        let expired = self.take_expired();
        let driver = self.lock_idle().pop();
        drop(expired);
        driver
    }

    fn take_expired(&self) -> Vec<Driver> {
        let limit = self.settings.idle_timeout;
        let mut idle = self.lock_idle();
        let (expired, fresh): (Vec<Driver>, Vec<Driver>) =
            idle.drain(..).partition(|d| d.last_used.elapsed() >= limit);
        *idle = fresh;
        expired
    }

    fn give_back(&self, mut driver: Driver) {
        if driver.audits >= self.settings.recycle_after {
            return; // dropped: killed, its profile deleted
        }
        driver.last_used = Instant::now();
        self.lock_idle().push(driver);
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ready {
    ready: bool,
    lighthouse_version: String,
}

#[derive(Debug, Deserialize)]
struct Response {
    id: Option<u64>,
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

/// One running driver. Field order is drop order: the process group dies
/// before its directory is swept and deleted.
struct Driver {
    child: GroupChild,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    audits: u32,
    next_id: u64,
    last_used: Instant,
    dir: RunDir,
}

impl Driver {
    async fn start(settings: &LighthouseSettings, proxy: &BrowserProxy) -> Result<Self, RunnerError> {
        let dir = RunDir::new(&settings.work_dir, "resident").map_err(RunnerError::Spawn)?;
        let flags = chrome_flags(settings, dir.path(), proxy)?;
        let log = std::fs::File::create(dir.path().join(LOG)).map_err(RunnerError::Spawn)?;
        let mut command = Command::new(&settings.node);
        command
            .arg(settings.install_dir.join("driver.mjs"))
            .arg("--chrome-path")
            .arg(&settings.chrome_path)
            .arg("--user-data-dir")
            .arg(dir.path().join("profile"));
        for flag in flags {
            command.arg("--chrome-flag").arg(flag);
        }
        crate::child_env::isolate(&mut command, dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = GroupChild::spawn(&mut command).map_err(RunnerError::Spawn)?;
        let (Some(stdin), Some(stdout)) = (child.child_mut().stdin.take(), child.child_mut().stdout.take())
        else {
            child.kill().await;
            return Err(RunnerError::Spawn(std::io::Error::other(
                "the driver's pipes are missing",
            )));
        };
        let mut lines = BufReader::new(stdout).lines();

        let first = tokio::time::timeout(settings.start_timeout, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                let status = exit_status(&mut child).await;
                return Err(RunnerError::Crashed {
                    status,
                    log: dir.log_tail(LOG, 1500),
                });
            }
            Ok(Err(e)) => {
                child.kill().await;
                return Err(RunnerError::Spawn(e));
            }
            Err(_) => {
                child.kill().await;
                return Err(RunnerError::StartTimeout(settings.start_timeout));
            }
        };
        match serde_json::from_str::<Ready>(&line) {
            Ok(ready) if ready.ready => {
                tracing::debug!(lighthouse.version = %ready.lighthouse_version, "Lighthouse driver ready");
            }
            _ => {
                child.kill().await;
                return Err(RunnerError::Failed(format!(
                    "the driver did not say it was ready: {}",
                    truncate(&line, 300)
                )));
            }
        }
        Ok(Self {
            child,
            stdin,
            lines,
            audits: 0,
            next_id: 0,
            last_used: Instant::now(),
            dir,
        })
    }

    async fn audit(
        &mut self,
        url: &Url,
        form_factor: FormFactor,
        timeout: Duration,
    ) -> Result<Vec<u8>, RunnerError> {
        self.next_id += 1;
        let id = self.next_id;
        let output = self.dir.path().join(format!("report-{id}.json"));
        let mut request = serde_json::json!({
            "id": id,
            "url": url.as_str(),
            "outputPath": output,
            "formFactor": form_factor.as_str(),
        })
        .to_string();
        request.push('\n');

        let exchange = async {
            self.stdin.write_all(request.as_bytes()).await?;
            self.stdin.flush().await?;
            while let Some(line) = self.lines.next_line().await? {
                match serde_json::from_str::<Response>(&line) {
                    Ok(response) if response.id == Some(id) => return Ok(Some(response)),
                    _ => {
                        tracing::debug!(line = %truncate(&line, 200), "ignoring a line from the Lighthouse driver")
                    }
                }
            }
            Ok::<_, std::io::Error>(None)
        };
        let response = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => return Err(RunnerError::Timeout(timeout)),
            Ok(Ok(Some(response))) => response,
            Ok(Ok(None) | Err(_)) => {
                let status = exit_status(&mut self.child).await;
                return Err(RunnerError::Crashed {
                    status,
                    log: self.dir.log_tail(LOG, 1500),
                });
            }
        };
        self.audits += 1;
        if !response.ok {
            return Err(RunnerError::Failed(
                response.error.unwrap_or_else(|| "no reason given".to_owned()),
            ));
        }
        let report = crate::audit::report::read_report_file(&output)
            .await
            .map_err(RunnerError::ReadReport)?;
        if let Err(e) = tokio::fs::remove_file(&output).await {
            tracing::debug!(error = %e, "could not delete a report file");
        }
        Ok(report)
    }

    /// Kill the group and reap the driver; the directory goes on drop.
    async fn stop(mut self) {
        self.child.kill().await;
    }
}

/// How the driver ended, waiting briefly for it to exit.
async fn exit_status(child: &mut GroupChild) -> String {
    match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(e)) => format!("unknown exit: {e}"),
        Err(_) => {
            child.kill().await;
            "closed its output and was killed".to_owned()
        }
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
