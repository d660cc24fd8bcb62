//! Bad input loses nothing: garbage lines put between the rows of a
//! well-formed file cost nothing but themselves. Every good row still gives
//! the same record, under its new line number, and every garbage line that
//! is not blank gives exactly one row of its own.

use proptest::prelude::*;
use prospector::import::{ImportFormat, LeadRecord, parse};
use serde_json::json;

use crate::corpus::{self, defaults};

/// A good lead: (domain, name, e-mail, city, tags).
fn lead() -> impl Strategy<Value = (String, String, String, String, String)> {
    (
        "(https://www\\.)?[a-z][a-z0-9]{0,10}\\.(lu|de|fr|com)",
        "[A-Z][a-z]{1,10}( [A-Z][a-z]{1,10})?",
        "[a-z]{1,8}@[a-z]{1,8}\\.lu",
        "[A-Z][a-z]{2,10}",
        "[a-z]{1,6}(;[a-z]{1,6}){0,2}",
    )
}

/// The good file's lines (with the header first for CSV).
fn good_lines(format: ImportFormat, leads: &[(String, String, String, String, String)]) -> Vec<String> {
    match format {
        ImportFormat::Domains => leads.iter().map(|l| l.0.clone()).collect(),
        ImportFormat::Csv => std::iter::once("domain,name,email,city,tags".to_owned())
            .chain(leads.iter().map(|(d, n, e, c, t)| format!("{d},{n},{e},{c},{t}")))
            .collect(),
        ImportFormat::Jsonl => leads
            .iter()
            .map(|(d, n, e, c, t)| {
                json!({"domain": d, "name": n, "email": e, "city": c, "tags": t}).to_string()
            })
            .collect(),
    }
}

/// Garbage that is one line of the format: no line breaks, and for CSV no
/// quote (a quote opens a field that may span lines, by CSV's rules).
fn garbage(format: ImportFormat) -> BoxedStrategy<String> {
    let line = match format {
        ImportFormat::Csv => "[^\"\r\n]{1,60}",
        _ => "[^\r\n]{1,60}",
    };
    prop_oneof![
        line.prop_map(|s| s),
        prop::sample::select(vec![
            "{broken".to_owned(),
            "[1,2]".to_owned(),
            "not a domain".to_owned(),
            "a,b,c,d,e,f,g".to_owned(),
            ",,,,".to_owned(),
            "null".to_owned(),
            "info@example.lu".to_owned(),
        ]),
    ]
    .boxed()
}

/// Good lines, each followed by up to three garbage lines.
fn mixed() -> impl Strategy<Value = (ImportFormat, Vec<String>, Vec<Vec<String>>)> {
    prop::sample::select(vec![
        ImportFormat::Domains,
        ImportFormat::Csv,
        ImportFormat::Jsonl,
    ])
    .prop_flat_map(|format| {
        prop::collection::vec(lead(), 1..12).prop_flat_map(move |leads| {
            let good = good_lines(format, &leads);
            let slots = good.len();
            (
                Just(format),
                Just(good),
                prop::collection::vec(prop::collection::vec(garbage(format), 0..4), slots),
            )
        })
    })
}

fn records(text: &str, format: ImportFormat) -> Vec<(usize, Result<LeadRecord, String>)> {
    let (rows, _) = parse(text, format, &defaults()).expect("the file is of its format");
    rows.into_iter().map(|r| (r.line, r.result)).collect()
}

proptest! {
    #![proptest_config(corpus::config(256, "lossless"))]

    #[test]
    fn garbage_lines_lose_no_good_row((format, good, garbage) in mixed()) {
        let clean = records(&good.join("\n"), format);
        prop_assert!(clean.iter().all(|(_, r)| r.is_ok()), "the good file has bad rows: {clean:?}");

        // Interleave: good line i, then its garbage; remember where each went.
        let mut lines: Vec<String> = Vec::new();
        let mut good_at = Vec::new();
        let mut garbage_at = Vec::new();
        for (line, junk) in good.iter().zip(&garbage) {
            lines.push(line.clone());
            good_at.push(lines.len());
            for j in junk {
                lines.push(j.clone());
                let trimmed = j.trim().trim_start_matches('\u{feff}');
                let blank = (format != ImportFormat::Csv && trimmed.is_empty())
                    || (format == ImportFormat::Domains && trimmed.starts_with('#'))
                    || (format == ImportFormat::Csv && j.split(',').all(|f| f.trim().is_empty()));
                if !blank {
                    garbage_at.push(lines.len());
                }
            }
        }
        let mixed = records(&lines.join("\n"), format);
        let first_data = usize::from(format == ImportFormat::Csv);
        for ((_, record), at) in clean.iter().zip(&good_at[first_data..]) {
            let landed = mixed.iter().find(|(line, _)| line == at);
            prop_assert_eq!(landed.map(|(_, r)| r), Some(record), "good line {} was lost or changed", at);
        }
        for at in &garbage_at {
            prop_assert_eq!(mixed.iter().filter(|(line, _)| line == at).count(), 1, "garbage line {} is not accounted for", at);
        }
        prop_assert_eq!(mixed.len(), clean.len() + garbage_at.len());
    }
}
