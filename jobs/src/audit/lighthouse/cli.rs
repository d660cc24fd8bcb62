//! One `lighthouse` CLI process per audit.
//!
//! `node …/lighthouse/cli/index.js URL --output=json --output-path=… --quiet
//! --chrome-flags="…" [--preset=desktop]`, with `CHROME_PATH` set and
//! `TMPDIR` pointing at the run's fresh directory, so the Chromium profile
//! chrome-launcher creates (and the command line of that Chromium) lives in
//! it.

use std::{io, path::PathBuf, process::Stdio, time::Duration};

use tokio::process::Command;
use url::Url;

use super::{
    RunnerError, chrome_flags,
    process::{GroupChild, RunDir},
};
use crate::{
    audit::settings::{FormFactor, LighthouseSettings},
    browser_proxy::BrowserProxy,
};

const LOG: &str = "lighthouse.log";

/// The CLI's script in the pinned install.
pub fn entry_point(settings: &LighthouseSettings) -> PathBuf {
    settings
        .install_dir
        .join("node_modules")
        .join("lighthouse")
        .join("cli")
        .join("index.js")
}

/// Run the CLI on `url` and return its report, also when Lighthouse exited
/// non-zero because of the page (the report carries a `runtimeError`).
pub(super) async fn run(
    settings: &LighthouseSettings,
    proxy: &BrowserProxy,
    url: &Url,
    form_factor: FormFactor,
    timeout: Duration,
) -> Result<Vec<u8>, RunnerError> {
    let dir = RunDir::new(&settings.work_dir, "cli").map_err(RunnerError::Spawn)?;
    let flags = chrome_flags(settings, dir.path(), proxy)?;
    let report = dir.path().join("report.json");
    let log = std::fs::File::create(dir.path().join(LOG)).map_err(RunnerError::Spawn)?;
    let mut command = Command::new(&settings.node);
    command
        .arg(entry_point(settings))
        .arg(url.as_str())
        .arg("--output=json")
        .arg(format!("--output-path={}", report.display()))
        .arg("--quiet")
        .arg("--no-enable-error-reporting")
        .arg(format!("--chrome-flags={}", chrome_flags_arg(&flags)));
    if form_factor == FormFactor::Desktop {
        command.arg("--preset=desktop");
    }
    crate::child_env::isolate(&mut command, dir.path())
        .env("CHROME_PATH", &settings.chrome_path)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    let mut child = GroupChild::spawn(&mut command).map_err(RunnerError::Spawn)?;

    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.map_err(RunnerError::Spawn)?,
        Err(_) => {
            child.kill().await;
            dir.kill_stragglers();
            return Err(RunnerError::Timeout(timeout));
        }
    };
    match crate::audit::report::read_report_file(&report).await {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        Ok(_) => Err(crashed(&dir, status.to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(crashed(&dir, status.to_string())),
        Err(e) => Err(RunnerError::ReadReport(e)),
    }
}

fn crashed(dir: &RunDir, status: String) -> RunnerError {
    RunnerError::Crashed {
        status,
        log: dir.log_tail(LOG, 1500),
    }
}

/// The value of `--chrome-flags`: flags separated by spaces, a value with
/// spaces in double quotes (`--host-resolver-rules="MAP a ~NOTFOUND, …"`),
/// as Lighthouse's own parser reads it.
pub fn chrome_flags_arg(flags: &[String]) -> String {
    flags
        .iter()
        .map(|flag| {
            if !flag.chars().any(char::is_whitespace) {
                return flag.clone();
            }
            match flag.split_once('=') {
                Some((name, value)) => format!("{name}=\"{value}\""),
                None => format!("\"{flag}\""),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_with_spaces_are_quoted_after_the_equals_sign() {
        let flags = [
            "--headless=new".to_owned(),
            "--host-resolver-rules=MAP a.example ~NOTFOUND, MAP *.b.example ~NOTFOUND".to_owned(),
            "--no-sandbox".to_owned(),
        ];
        assert_eq!(
            chrome_flags_arg(&flags),
            "--headless=new --host-resolver-rules=\"MAP a.example ~NOTFOUND, MAP *.b.example ~NOTFOUND\" --no-sandbox"
        );
    }
}
