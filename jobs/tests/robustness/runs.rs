//! How long a property runs, shared by the robustness and parser targets.

use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};

/// `default` cases, or `PROPTEST_CASES` when set (for long sessions).
/// Failures are saved in `{target_dir}/proptest-regressions/{module}.txt`.
pub fn config(default: u32, target_dir: &str, module: &str) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let path: &'static str =
        Box::leak(format!("{target_dir}/proptest-regressions/{module}.txt").into_boxed_str());
    Config {
        cases,
        rng_seed: rng_seed(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
        ..Config::default()
    }
}

/// The short run (CI, `PROPTEST_CASES` unset) follows a fixed sequence, so a
/// red run is reproducible and a green one stays green; a long session
/// explores new input each time. `PROPTEST_RNG_SEED` chooses one.
fn rng_seed() -> RngSeed {
    if std::env::var_os("PROPTEST_CASES").is_none() && std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        RngSeed::Fixed(0x5EED_2026)
    } else {
        Config::default().rng_seed
    }
}
