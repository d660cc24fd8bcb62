//! `prospector setup`: the audit stage's tools in the data directory.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context;
use prospector_jobs::{
    AuditPage,
    audit::lighthouse::install::{self, Installed},
};

use crate::config::Settings;

pub async fn run(settings: &Settings, dir: Option<PathBuf>, npm: &Path) -> anyhow::Result<ExitCode> {
    let dir = match dir {
        Some(dir) => std::path::absolute(&dir).with_context(|| format!("bad directory {}", dir.display()))?,
        None => install::data_dir().context("neither XDG_DATA_HOME nor HOME is set: pass --dir")?,
    };
    eprintln!("Installing Lighthouse in {} (npm ci)...", dir.display());
    match install::install(&dir, npm).await? {
        Installed::AlreadyThere => println!("Lighthouse is already installed in {}", dir.display()),
        Installed::Fresh => println!("Installed Lighthouse in {}", dir.display()),
    }
    let chrome = &settings.of::<AuditPage>().lighthouse.chrome_path;
    if !chrome.is_file() {
        println!(
            "Chromium is missing at {} (apt-get install chromium, or set audit.lighthouse.chrome_path)",
            chrome.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
