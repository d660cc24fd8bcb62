//! The import corpus (`tests/parsers/corpus/`), the row defaults, and the
//! run length of each property.

use std::path::Path;

use proptest::test_runner::Config;
use prospector::import::{ImportFormat, RowDefaults};
use prospector_jobs::domain::CountryCode;

/// Every corpus file: (name, format, bytes), sorted by name.
pub fn files() -> Vec<(String, ImportFormat, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parsers/corpus");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a readable corpus entry").path();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, ImportFormat::from_path(&path), bytes)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "the import corpus is empty");
    out
}

/// The corpus files of one format.
pub fn seeds(format: ImportFormat) -> Vec<Vec<u8>> {
    files()
        .into_iter()
        .filter(|f| f.1 == format)
        .map(|f| f.2)
        .collect()
}

/// The defaults of `prospector import` without options.
pub fn defaults() -> RowDefaults {
    RowDefaults {
        channel: None,
        source: "import".into(),
        tags: vec!["batch-1".into()],
        country: CountryCode::parse("LU").expect("valid"),
    }
}

/// How many cases a property runs (see `runs::config`).
pub fn config(default: u32, module: &str) -> Config {
    crate::runs::config(default, "tests/parsers", module)
}
