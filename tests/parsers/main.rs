//! Robustness of the import parsers (domain lists, CSV, JSON lines) under
//! arbitrary and mutated input: nothing panics, every data line is
//! accounted for exactly once (a record or a line-numbered error), and
//! garbage lines lose none of the good rows around them. Each property runs
//! the corpus (`corpus/`) first, then mutations of it; `PROPTEST_CASES`
//! sets a longer run (see `docs/robustness.md`).

mod accounting;
mod corpus;
mod lossless;
#[path = "../../jobs/tests/robustness/mutate.rs"]
mod mutate;
mod regressions;
#[path = "../../jobs/tests/robustness/runs.rs"]
mod runs;
