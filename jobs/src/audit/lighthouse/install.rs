//! Where the pinned Lighthouse install is, and how an installed binary
//! gets one of its own.
//!
//! The install is a directory holding `driver.mjs` and the `node_modules`
//! of `package-lock.json` (`tools/lighthouse` in a checkout). A relative
//! `audit.lighthouse.install_dir` is looked for, in order, under the
//! working directory, in the data directory that `prospector setup` fills
//! (`$XDG_DATA_HOME/prospector/lighthouse`, else
//! `~/.local/share/prospector/lighthouse`), and under each directory above
//! the running binary (a binary in `target/release/` of a checkout finds
//! the checkout's `tools/lighthouse`). The files are compiled into the
//! binary, so `prospector setup` needs nothing but Node.js and npm.

use std::{
    io,
    path::{Path, PathBuf},
    process::Stdio,
};

use sha2::{Digest, Sha256};
use tokio::process::Command;

/// `tools/lighthouse/package.json`.
pub const PACKAGE_JSON: &str = include_str!("../../../../tools/lighthouse/package.json");
/// `tools/lighthouse/package-lock.json`: the pinned versions.
pub const PACKAGE_LOCK: &str = include_str!("../../../../tools/lighthouse/package-lock.json");
/// `tools/lighthouse/driver.mjs`: the resident runner's driver.
pub const DRIVER: &str = include_str!("../../../../tools/lighthouse/driver.mjs");

/// Written after a successful `npm ci`: the SHA-256 of the lock file it
/// installed (the same stamp `scripts/lib/lighthouse.sh` writes).
const STAMP: &str = "node_modules/.prospector-lock-sha256";

/// The data directory's install: `$XDG_DATA_HOME/prospector/lighthouse` or
/// `$HOME/.local/share/prospector/lighthouse`.
pub fn data_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/share"),
    };
    Some(base.join("prospector").join("lighthouse"))
}

/// The install directory for a configured `install_dir`: itself when
/// absolute; else the first candidate holding `driver.mjs` (working
/// directory, data directory, the binary's ancestors); else the path under
/// the working directory (whose check then names what is missing).
pub fn locate(configured: &Path, cwd: &Path, data_dir: Option<&Path>, exe: Option<&Path>) -> PathBuf {
    if configured.is_absolute() {
        return configured.to_path_buf();
    }
    let under_cwd = cwd.join(configured);
    let ancestors = exe
        .into_iter()
        .flat_map(Path::ancestors)
        .skip(1)
        .map(|dir| dir.join(configured));
    std::iter::once(under_cwd.clone())
        .chain(data_dir.map(Path::to_path_buf))
        .chain(ancestors)
        .find(|dir| dir.join("driver.mjs").is_file())
        .unwrap_or(under_cwd)
}

/// Whether `dir` holds this binary's files and a finished `npm ci` of its
/// lock file.
pub fn is_installed(dir: &Path) -> bool {
    let same =
        |name: &str, content: &str| std::fs::read_to_string(dir.join(name)).is_ok_and(|c| c == content);
    same("package.json", PACKAGE_JSON)
        && same("package-lock.json", PACKAGE_LOCK)
        && same("driver.mjs", DRIVER)
        && std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.trim() == lock_digest())
        && dir.join("node_modules/lighthouse/cli/index.js").is_file()
}

fn lock_digest() -> String {
    hex::encode(Sha256::digest(PACKAGE_LOCK.as_bytes()))
}

/// What [`install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// The directory already held this install; nothing was run.
    AlreadyThere,
    /// The files were written and `npm ci` installed the packages.
    Fresh,
}

/// Why [`install`] failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The directory or its files could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// npm could not be started.
    #[error("cannot run {npm}: {source} (install Node.js >= 18.20 and npm)")]
    Npm {
        /// The npm executable.
        npm: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `npm ci` failed; the end of its output says why.
    #[error("npm ci failed in {dir} ({status}): {output}")]
    NpmFailed {
        /// The install directory.
        dir: String,
        /// npm's exit status.
        status: std::process::ExitStatus,
        /// The last lines npm printed.
        output: String,
    },
}

/// Write the pinned files into `dir` and run `npm ci` there (preferring
/// npm's cache), unless it already holds this install.
pub async fn install(dir: &Path, npm: &Path) -> Result<Installed, InstallError> {
    if is_installed(dir) {
        return Ok(Installed::AlreadyThere);
    }
    let write_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| InstallError::Write { path, source }
    };
    tokio::fs::create_dir_all(dir).await.map_err(write_error(dir))?;
    for (name, content) in [
        ("package.json", PACKAGE_JSON),
        ("package-lock.json", PACKAGE_LOCK),
        ("driver.mjs", DRIVER),
    ] {
        let path = dir.join(name);
        tokio::fs::write(&path, content)
            .await
            .map_err(write_error(&path))?;
    }
    let output = Command::new(npm)
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            "--loglevel=error",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| InstallError::Npm {
            npm: npm.display().to_string(),
            source,
        })?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        return Err(InstallError::NpmFailed {
            dir: dir.display().to_string(),
            status: output.status,
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let stamp = dir.join(STAMP);
    tokio::fs::write(&stamp, lock_digest())
        .await
        .map_err(write_error(&stamp))?;
    Ok(Installed::Fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_driver(dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("driver.mjs"), DRIVER).unwrap();
        dir.to_path_buf()
    }

    #[test]
    fn a_relative_install_is_found_under_the_working_directory_first() {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path().join("cwd");
        let here = with_driver(&cwd.join("tools/lighthouse"));
        let data = with_driver(&root.path().join("data"));
        let found = locate(Path::new("tools/lighthouse"), &cwd, Some(&data), None);
        assert_eq!(found, here);
    }

    #[test]
    fn then_in_the_data_directory_then_above_the_binary() {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path().join("elsewhere");
        std::fs::create_dir_all(&cwd).unwrap();
        let checkout = with_driver(&root.path().join("checkout/tools/lighthouse"));
        let exe = root.path().join("checkout/target/release/prospector");
        let data = root.path().join("data");
        let configured = Path::new("tools/lighthouse");

        assert_eq!(
            locate(configured, &cwd, Some(&data), Some(&exe)),
            checkout,
            "no data dir install"
        );
        let data = with_driver(&data);
        assert_eq!(locate(configured, &cwd, Some(&data), Some(&exe)), data);
    }

    #[test]
    fn nothing_found_is_the_path_under_the_working_directory_and_absolute_paths_stay() {
        let root = tempfile::tempdir().unwrap();
        let configured = Path::new("tools/lighthouse");
        assert_eq!(
            locate(configured, root.path(), None, None),
            root.path().join("tools/lighthouse")
        );
        let absolute = root.path().join("pinned");
        assert_eq!(locate(&absolute, Path::new("/"), None, None), absolute);
    }

    #[test]
    fn a_directory_with_other_files_or_no_packages_is_not_installed() {
        let root = tempfile::tempdir().unwrap();
        let dir = with_driver(root.path());
        assert!(!is_installed(&dir));
        std::fs::write(dir.join("package.json"), PACKAGE_JSON).unwrap();
        std::fs::write(dir.join("package-lock.json"), PACKAGE_LOCK).unwrap();
        std::fs::create_dir_all(dir.join("node_modules/lighthouse/cli")).unwrap();
        std::fs::write(dir.join("node_modules/lighthouse/cli/index.js"), "").unwrap();
        assert!(!is_installed(&dir), "no stamp: npm ci did not finish");
        std::fs::write(dir.join(STAMP), lock_digest()).unwrap();
        assert!(is_installed(&dir));
        std::fs::write(dir.join("driver.mjs"), "// an older driver").unwrap();
        assert!(!is_installed(&dir), "another version's driver");
    }
}
