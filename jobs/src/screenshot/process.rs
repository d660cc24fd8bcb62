//! The browser process: the leader of its own process group, with its own
//! profile directory, killed with everything it started.
//!
//! Chromium's helpers (zygote, renderers, GPU and network services) stay in
//! the browser's process group, so `killpg(SIGKILL)` ends them all. As a
//! second net, anything whose command line names the profile directory is
//! killed too before the directory is deleted. The same conventions as the
//! audit stage's Lighthouse processes (`audit::lighthouse::process`).

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
pub(crate) struct GroupChild {
    child: Child,
    pid: u32,
    pgid: Option<Pid>,
}

impl GroupChild {
    /// Spawn `command` as the leader of a new process group.
    pub(crate) fn spawn(command: &mut Command) -> io::Result<Self> {
        command.process_group(0).kill_on_drop(true);
        let child = command.spawn()?;
        let pid = child.id().unwrap_or(0);
        let pgid = i32::try_from(pid).ok().filter(|p| *p > 0).map(Pid::from_raw);
        Ok(Self { child, pid, pgid })
    }

    /// The leader's pid (also the group id).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status, if the leader has exited.
    pub(crate) fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Wait for the leader to exit.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// `SIGKILL` the whole group (idempotent), then reap the leader.
    pub(crate) async fn kill(&mut self) {
        self.kill_group();
        if let Err(e) = self.child.wait().await {
            tracing::debug!(error = %e, "could not reap a killed Chromium");
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
        // tokio reaps the leader (kill_on_drop); the rest of the group are
        // its children, re-parented and reaped by init once killed.
        self.kill_group();
    }
}

/// A fresh profile directory; dropping it kills what still uses it and
/// deletes it.
#[derive(Debug)]
pub(crate) struct ProfileDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl ProfileDir {
    /// `{base}/prospector-screenshot-XXXXXX`
    pub(crate) fn new(base: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(base)?;
        let dir = tempfile::Builder::new()
            .prefix("prospector-screenshot-")
            .tempdir_in(base)?;
        let path = dir.path().to_path_buf();
        Ok(Self { dir: Some(dir), path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Sweep and delete now, on this thread (a blocking one).
    pub(crate) fn remove_now(mut self) {
        self.sweep();
        if let Some(dir) = self.dir.take()
            && let Err(e) = dir.close()
        {
            tracing::debug!(error = %e, "could not delete a Chromium profile");
        }
    }

    fn sweep(&self) {
        let killed = kill_processes_mentioning(&self.path);
        if killed > 0 {
            tracing::debug!(processes = killed, "killed leftover Chromium processes");
        }
    }
}

impl Drop for ProfileDir {
    fn drop(&mut self) {
        if self.dir.is_none() {
            return;
        }
        self.sweep();
        if let Some(dir) = self.dir.take() {
            // A profile is hundreds of files: delete it off the async
            // threads when there is a runtime.
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn_blocking(move || drop(dir));
                }
                Err(_) => drop(dir),
            }
        }
    }
}

/// The live (not zombie) processes of process group `pgid` (Linux `/proc`).
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|pid| stat_fields(*pid).is_some_and(|(state, group)| state != 'Z' && group == pgid))
        .collect()
}

/// The resident set size of each process in `pids`, in bytes, summed.
pub fn rss_bytes(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .sum()
}

/// CPU time a process used, in seconds: its own (user + system) and that
/// of the children it has reaped. Linux reports clock ticks of
/// `USER_HZ` = 100 per second.
pub fn cpu_seconds(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    // After the name: state(3) ppid pgrp session tty tpgid flags minflt
    // cminflt majflt cmajflt utime(14) stime cutime cstime(17).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i - 3)?.parse::<u64>().ok();
    let own = tick(14)? + tick(15)?;
    let children = tick(16)? + tick(17)?;
    Some((own as f64 / 100.0, children as f64 / 100.0))
}

/// `SIGKILL` each process whose command line contains `path`, and its
/// process group (never this process's own group). Returns how many were
/// found.
pub(crate) fn kill_processes_mentioning(path: &Path) -> usize {
    let own_group = getpgrp();
    let own_pid = std::process::id();
    let needle = path.as_os_str().as_encoded_bytes();
    let pids: Vec<u32> = all_pids()
        .into_iter()
        .filter(|pid| *pid != own_pid)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| contains(&cmdline, needle))
        })
        .collect();
    for pid in &pids {
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

fn all_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// State and process group from `/proc/PID/stat` (the command name may
/// contain spaces and parentheses: parse after the last `)`).
fn stat_fields(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::{process::Stdio, time::Duration};

    use tokio::io::AsyncBufReadExt;

    use super::*;

    #[tokio::test]
    async fn a_killed_group_child_leaves_no_process_in_its_group() {
        // Arrange: a shell with a background sleeper in its group.
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 300 & echo $!; wait"])
            .stdout(Stdio::piped());
        let mut child = GroupChild::spawn(&mut command).unwrap();
        let pgid = child.pid();
        let stdout = child.child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .unwrap();
        let sleeper: u32 = line.trim().parse().unwrap();
        assert!(processes_in_group(pgid).contains(&sleeper));
        assert!(rss_bytes(&[sleeper]) > 0);

        // Act
        child.kill().await;

        // Assert: the group empties (init reaps the orphan).
        let mut left = processes_in_group(pgid);
        for _ in 0..100 {
            if left.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            left = processes_in_group(pgid);
        }
        assert!(left.is_empty(), "left in group {pgid}: {left:?}");
    }

    #[test]
    fn cpu_time_is_read_for_this_process() {
        let start = cpu_seconds(std::process::id()).unwrap();
        let mut x = 0u64;
        let until = std::time::Instant::now() + Duration::from_millis(150);
        while std::time::Instant::now() < until {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let end = cpu_seconds(std::process::id()).unwrap();
        assert!(x > 0);
        assert!(end.0 >= start.0 + 0.05, "{start:?} → {end:?}");
    }

    #[test]
    fn stat_is_parsed_after_the_command_name() {
        let (state, group) = stat_fields(std::process::id()).unwrap();
        assert_ne!(state, 'Z');
        assert_eq!(group as i32, getpgrp().as_raw());
    }
}
