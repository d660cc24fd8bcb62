//! Child processes that cannot outlive their audit.
//!
//! - [`GroupChild`]: a child spawned as the leader of a new process group.
//!   Everything it starts without `setsid` (the resident driver's Chromium
//!   and all of Chromium's helpers) is in that group, and dropping or killing
//!   the `GroupChild` sends `SIGKILL` to the whole group.
//! - [`RunDir`]: the fresh directory of one run (Chromium profile, crash
//!   dumps, `TMPDIR`, reports, logs). The `lighthouse` CLI starts Chromium in
//!   a session of its own (chrome-launcher's `detached: true`), outside our
//!   group; its command line names the run directory, so dropping the
//!   `RunDir` kills every process whose command line mentions the directory
//!   (and that process's group), then deletes the directory.
//!
//! Dropping is what a timeout, a shutdown (`ctx.abort`) and a panic all do
//! to the audit's future, so the three are handled by the same code.

use std::{
    io,
    path::{Path, PathBuf},
    process::ExitStatus,
};

use nix::{
    sys::signal::{Signal, kill, killpg},
    unistd::{Pid, getpgrp},
};
use tokio::process::{Child, Command};

/// A child leading its own process group; the group dies with it.
#[derive(Debug)]
pub(super) struct GroupChild {
    child: Child,
    pgid: Option<Pid>,
}

impl GroupChild {
    /// Spawn `command` as the leader of a new process group.
    pub(super) fn spawn(command: &mut Command) -> io::Result<Self> {
        command.process_group(0).kill_on_drop(true);
        let child = command.spawn()?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        Ok(Self { child, pgid })
    }

    /// The child itself (for its pipes).
    pub(super) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Wait for the group leader to exit.
    pub(super) async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// `SIGKILL` the whole group (idempotent), then reap the leader.
    pub(super) async fn kill(&mut self) {
        self.kill_group();
        if let Err(e) = self.child.wait().await {
            tracing::debug!(error = %e, "could not reap a killed Lighthouse process");
        }
    }

    fn kill_group(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // ESRCH: the group is already gone.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        // The leader is reaped by tokio (kill_on_drop); the rest of the
        // group are its children and die with it.
        self.kill_group();
    }
}

/// A fresh directory for one run; removing it kills what still uses it.
#[derive(Debug)]
pub(super) struct RunDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl RunDir {
    /// `{base}/prospector-audit-{kind}-XXXXXX`
    pub(super) fn new(base: &Path, kind: &str) -> io::Result<Self> {
        std::fs::create_dir_all(base)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("prospector-audit-{kind}-"))
            .tempdir_in(base)?;
        let path = dir.path().to_path_buf();
        Ok(Self { dir: Some(dir), path })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The last `max` bytes of a log file in the directory, on one line.
    pub(super) fn log_tail(&self, name: &str, max: usize) -> String {
        let bytes = std::fs::read(self.path.join(name)).unwrap_or_default();
        let tail = &bytes[bytes.len().saturating_sub(max)..];
        String::from_utf8_lossy(tail)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Kill every process whose command line mentions this directory.
    pub(super) fn kill_stragglers(&self) -> usize {
        kill_processes_mentioning(&self.path)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let killed = self.kill_stragglers();
        if killed > 0 {
            tracing::debug!(processes = killed, "killed leftover Lighthouse processes");
        }
        if let Some(dir) = self.dir.take() {
            // A Chromium profile is hundreds of files: delete it off the
            // async threads when there is a runtime.
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn_blocking(move || drop(dir));
                }
                Err(_) => drop(dir),
            }
        }
    }
}

/// `SIGKILL` each process whose command line contains `path`, and its
/// process group (never this process's own group). Returns how many
/// processes were found.
pub(super) fn kill_processes_mentioning(path: &Path) -> usize {
    let own_group = getpgrp();
    let own_pid = std::process::id();
    let pids = processes_mentioning(path);
    for pid in &pids {
        if *pid == own_pid {
            continue;
        }
        let Ok(raw) = i32::try_from(*pid) else { continue };
        let pid = Pid::from_raw(raw);
        if let Ok(group) = nix::unistd::getpgid(Some(pid))
            && group != own_group
        {
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = kill(pid, Signal::SIGKILL);
    }
    pids.len()
}

/// Live processes whose command line contains `path` (Linux `/proc`).
fn processes_mentioning(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| contains(&cmdline, needle))
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::{process::Stdio, time::Duration};

    use super::*;

    fn alive(pid: u32) -> bool {
        // A zombie has an empty command line and state Z; count it as gone
        // only once it is reaped.
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    async fn gone(pid: u32) -> bool {
        for _ in 0..100 {
            if !alive(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn dropping_a_group_child_kills_its_grandchildren() {
        // Arrange: a shell that starts a background sleeper in its group.
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 300 & echo $!; wait"])
            .stdout(Stdio::piped());
        let mut child = GroupChild::spawn(&mut command).unwrap();
        let mut stdout = child.child_mut().stdout.take().unwrap();
        let mut line = String::new();
        use tokio::io::AsyncBufReadExt;
        tokio::io::BufReader::new(&mut stdout)
            .read_line(&mut line)
            .await
            .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        assert!(alive(grandchild));

        // Act
        drop(child);

        // Assert: the sleeper died with its group (init reaps it).
        assert!(gone(grandchild).await, "sleep {grandchild} survived");
    }

    #[tokio::test]
    async fn dropping_a_run_dir_kills_detached_processes_that_use_it() {
        // Arrange: a process outside our group whose command line names the
        // directory, like Chromium started by the CLI.
        let base = tempfile::tempdir().unwrap();
        let dir = RunDir::new(base.path(), "test").unwrap();
        let path = dir.path().to_path_buf();
        use std::os::unix::process::CommandExt;
        let mut detached = std::process::Command::new("sh")
            .args(["-c", "sleep 300; true"])
            .arg(path.join("marker"))
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = detached.id();
        for _ in 0..100 {
            if !processes_mentioning(&path).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Act
        drop(dir);

        // Assert
        let status = tokio::task::spawn_blocking(move || detached.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(!status.success(), "sleep {pid} was not killed");
        for _ in 0..100 {
            if !path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!path.exists(), "the run directory was not removed");
    }
}
