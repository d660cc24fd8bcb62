//! `prospector setup`: an installed binary gets the audit stage's tools in
//! its data directory and finds them from any working directory.

use std::{path::Path, process::Stdio, time::Duration};

use nix::sys::signal::Signal;

use crate::helpers::{TestDb, command, signal};

/// `prospector ARGS` in `cwd` with `data` as its data home (and the real
/// home, for npm's cache).
fn prospector_in(db: &TestDb, cwd: &Path, data: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = command(&db.url);
    cmd.args(args)
        .current_dir(cwd)
        .env("XDG_DATA_HOME", data)
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test]
async fn setup_installs_lighthouse_where_a_worker_started_anywhere_finds_it() {
    // Arrange: a working directory with no tools/, an empty data home.
    let db = TestDb::new().await;
    let root = tempfile::tempdir().unwrap();
    let (cwd, data) = (root.path().join("anywhere"), root.path().join("data"));
    std::fs::create_dir_all(&cwd).unwrap();
    let work = ["work", "--stages", "audit"];

    // Before: the audit stage refuses to start and says how to fix it.
    let refused = prospector_in(&db, &cwd, &data, &work).output().await.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("prospector setup"), "{stderr}");

    // Act: install, then install again.
    let first = prospector_in(&db, &cwd, &data, &["setup"])
        .output()
        .await
        .unwrap();
    let second = prospector_in(&db, &cwd, &data, &["setup"])
        .output()
        .await
        .unwrap();

    // Assert: installed once, in the data home; the second run finds it.
    let install = data.join("prospector/lighthouse");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        said.contains(&format!("Installed Lighthouse in {}", install.display())),
        "{said}"
    );
    assert!(install.join("node_modules/lighthouse/cli/index.js").is_file());
    assert!(install.join("driver.mjs").is_file());
    assert!(String::from_utf8_lossy(&second.stdout).contains("already installed"));

    // A worker started from the same bare directory now runs the stage
    // until it is told to stop.
    let mut worker = prospector_in(&db, &cwd, &data, &work)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(worker.try_wait().unwrap().is_none(), "the worker exited");
    signal(&worker, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .expect("the worker stops")
        .unwrap();
    assert!(status.success(), "{status}");
}
