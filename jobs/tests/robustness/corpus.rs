//! The seed corpora under `tests/robustness/corpus/<target>/` and the run
//! length of each property.

use std::path::{Path, PathBuf};

use proptest::test_runner::Config;

pub use crate::mutate::{lossy_bytes, mutated, mutated_text};

/// The folder of one target's corpus. The pages are the saved pages that
/// the fingerprint tests and `prospector bench fingerprint` read too.
pub fn dir(target: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if target == "pages" {
        return root.join("tests/fixtures/pages");
    }
    root.join("tests/robustness/corpus").join(target)
}

/// Every file of a target's corpus, sorted by name: (name, bytes).
pub fn files(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = dir(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        // A saved page's response headers sit beside it; they are not seeds.
        .filter(|path| path.extension().is_none_or(|e| e != "headers"))
        .map(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name.unwrap_or_default(), bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "corpus {} is empty", dir.display());
    out
}

/// Every line of every file of a line-based corpus (one input a line;
/// `\n` inside an input is written `\\n`).
pub fn lines(target: &str) -> Vec<String> {
    files(target)
        .iter()
        .flat_map(|(_, bytes)| {
            String::from_utf8_lossy(bytes)
                .lines()
                .map(|l| l.replace("\\n", "\n"))
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// The seeds of a corpus, as bytes.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    files(target).into_iter().map(|(_, bytes)| bytes).collect()
}

/// How many cases a property runs (see `runs::config`).
pub fn config(default: u32, module: &str) -> Config {
    crate::runs::config(default, "tests/robustness", module)
}
