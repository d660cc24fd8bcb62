//! Every line of an import file is accounted for exactly once: a blank
//! line, a comment or the CSV header is skipped, every other line gives one
//! row (a record or an error) carrying its own line number, in order, and
//! no line number is outside the file. Arbitrary bytes never panic.

use std::collections::BTreeSet;

use proptest::prelude::*;
use prospector::import::{ImportFormat, parse};

use crate::{
    corpus::{self, defaults},
    mutate::{lossy_bytes, mutated_text},
};

/// Pieces of the three formats that mutations insert.
const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    ",",
    ";",
    "\"",
    "\"\"",
    "{",
    "}",
    "[",
    "]",
    ":",
    "\"domain\":",
    "#",
    "\u{feff}",
    "\u{0}",
    " ",
    "\t",
    "é",
    "https://www.",
    "@",
    "null",
    "1e999",
    "\\u0000",
];

const FORMATS: [ImportFormat; 3] = [ImportFormat::Domains, ImportFormat::Csv, ImportFormat::Jsonl];

/// The lines that must give a row, when that can be told without a CSV
/// parser: all of them for domain lists and JSON lines; for CSV without
/// quotes, every line after the header with a non-empty field.
fn expected_lines(text: &str, format: ImportFormat) -> Option<BTreeSet<usize>> {
    let numbered = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    match format {
        ImportFormat::Domains => Some(
            numbered
                .filter(|(_, l)| {
                    let l = l.trim().trim_start_matches('\u{feff}');
                    !l.is_empty() && !l.starts_with('#')
                })
                .map(|(n, _)| n)
                .collect(),
        ),
        ImportFormat::Jsonl => Some(
            numbered
                .filter(|(_, l)| !l.trim().trim_start_matches('\u{feff}').is_empty())
                .map(|(n, _)| n)
                .collect(),
        ),
        ImportFormat::Csv if !text.contains('"') => Some(
            csv_lines(text)
                .enumerate()
                .map(|(i, l)| (i + 1, l))
                .filter(|(_, l)| !l.is_empty())
                .skip(1)
                .filter(|(_, l)| l.split(',').any(|f| !f.trim().is_empty()))
                .map(|(n, _)| n)
                .collect(),
        ),
        ImportFormat::Csv => None,
    }
}

/// A CSV file's lines: CRLF, CR and LF each end one.
fn csv_lines(text: &str) -> impl Iterator<Item = String> {
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    normalised
        .split('\n')
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter()
}

/// Parse `text` and check that its lines are accounted for.
pub fn check(text: &str, format: ImportFormat) -> Result<(), TestCaseError> {
    let (rows, _) = match parse(text, format, &defaults()) {
        Ok(parsed) => parsed,
        Err(e) => {
            prop_assert_eq!(format, ImportFormat::Csv, "only CSV refuses a whole file: {}", e);
            return Ok(());
        }
    };
    let last = match format {
        ImportFormat::Csv => csv_lines(text).count(),
        _ => text.matches('\n').count() + 1,
    };
    let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
    prop_assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "line numbers repeat or go back: {lines:?}"
    );
    prop_assert!(
        lines.iter().all(|l| (1..=last).contains(l)),
        "{lines:?} outside 1..={last}"
    );
    for row in &rows {
        if let Err(reason) = &row.result {
            prop_assert!(!reason.is_empty(), "line {}: an error without a reason", row.line);
        }
    }
    if let Some(expected) = expected_lines(text, format) {
        let got: BTreeSet<usize> = lines.into_iter().collect();
        prop_assert_eq!(got, expected, "lines given a row");
    }
    Ok(())
}

#[test]
fn corpus_files_are_accounted_for() {
    for (name, format, bytes) in corpus::files() {
        if let Err(e) = check(&String::from_utf8_lossy(&bytes), format) {
            panic!("{name}: {e}");
        }
    }
}

fn all_seeds() -> Vec<Vec<u8>> {
    corpus::files().into_iter().map(|f| f.2).collect()
}

proptest! {
    #![proptest_config(corpus::config(512, "accounting"))]

    #[test]
    fn arbitrary_bytes(text in lossy_bytes(512), format in prop::sample::select(FORMATS.to_vec())) {
        check(&text, format)?;
    }

    #[test]
    fn arbitrary_lines(
        lines in prop::collection::vec("[^\"\r\n]{0,40}", 0..20),
        format in prop::sample::select(FORMATS.to_vec()),
    ) {
        check(&lines.join("\n"), format)?;
    }

    #[test]
    fn mutated_csv(text in mutated_text(corpus::seeds(ImportFormat::Csv), TOKENS, 6)) {
        check(&text, ImportFormat::Csv)?;
    }

    #[test]
    fn mutated_jsonl(text in mutated_text(corpus::seeds(ImportFormat::Jsonl), TOKENS, 6)) {
        check(&text, ImportFormat::Jsonl)?;
    }

    #[test]
    fn mutated_domain_lists(text in mutated_text(corpus::seeds(ImportFormat::Domains), TOKENS, 6)) {
        check(&text, ImportFormat::Domains)?;
    }

    #[test]
    fn any_corpus_file_in_any_format(text in mutated_text(all_seeds(), TOKENS, 3), format in prop::sample::select(FORMATS.to_vec())) {
        check(&text, format)?;
    }
}
