//! The shared harness ([`prospector_devkit::testkit`]) and the `prospector`
//! binary built for these tests.

use std::path::PathBuf;

pub use prospector_devkit::testkit::*;

/// The `prospector` binary built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prospector"))
}

/// A `prospector` command on `database_url` with [`TEST_ENV`].
pub fn command(database_url: &str) -> tokio::process::Command {
    command_of(binary(), database_url)
}
