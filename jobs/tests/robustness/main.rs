//! Robustness of the jobs crate's parsers under arbitrary and mutated
//! input: the fingerprint engine (definitions, patterns, pages), the
//! contact extractors and the domain, e-mail, country and phone
//! normalisers. Each property runs its corpus (`corpus/<target>/`) first,
//! then mutations of it and generated input; `PROPTEST_CASES` sets a longer
//! run (see `docs/robustness.md`). Inputs that once failed are kept as
//! named tests in `regressions.rs`.

mod analysis;
mod contacts;
mod corpus;
mod definitions;
mod mutate;
mod normalisers;
mod pages;
mod patterns;
mod regressions;
mod runs;
