//! The environment of the programs the audit and screenshot stages start
//! (Node with Lighthouse, Chromium): cleared, then only what they need. A
//! browser that loads hostile pages never holds the worker's secrets
//! (`DATABASE_URL`, provider keys, the admin token) in its environment.

use std::path::Path;

use tokio::process::Command;

/// Variables passed on from the worker's environment when set: where
/// programs are, and the locale and time zone pages are rendered in.
pub const PASSED_ON: &[&str] = &["PATH", "LANG", "LC_ALL", "TZ"];

/// Clear `command`'s environment, pass on [`PASSED_ON`], and give it
/// `scratch` as its home and temporary directory (a per-run directory that
/// is removed with the run).
pub fn isolate<'c>(command: &'c mut Command, scratch: &Path) -> &'c mut Command {
    command.env_clear();
    for key in PASSED_ON {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command
        .env("HOME", scratch)
        .env("TMPDIR", scratch)
        .env("XDG_CONFIG_HOME", scratch.join(".config"))
        .env("XDG_CACHE_HOME", scratch.join(".cache"))
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, process::Stdio};

    use super::*;

    #[tokio::test]
    async fn the_child_sees_only_the_passed_on_variables_and_its_scratch_dirs() {
        // Arrange: whatever the test runner's environment holds (cargo sets
        // many CARGO_* variables), the child must not see it.
        assert!(std::env::vars_os().count() > PASSED_ON.len());
        let scratch = tempfile::tempdir().unwrap();
        let mut command = Command::new("/usr/bin/env");
        isolate(&mut command, scratch.path()).stdout(Stdio::piped());

        // Act
        let output = command.output().await.unwrap();

        // Assert
        assert!(output.status.success());
        let seen: BTreeMap<String, String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let scratch = scratch.path().display().to_string();
        assert_eq!(seen.get("HOME"), Some(&scratch));
        assert_eq!(seen.get("TMPDIR"), Some(&scratch));
        for key in seen.keys() {
            let set_here = ["HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"];
            assert!(
                PASSED_ON.contains(&key.as_str()) || set_here.contains(&key.as_str()),
                "the child saw {key}"
            );
        }
    }
}
