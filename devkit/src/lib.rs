//! # Prospector's development kit
//!
//! What runs beside the product but is never part of it: the benchmarks
//! (`prospector-bench`), the local demo (`prospector-demo`, which
//! `scripts/demo` runs), and the fixtures the integration tests share (local
//! sites, a DNS server, the pages the audit benchmark serves).
//!
//! ## Layout
//! - [`bench`]: one module per benchmark, and [`bench::BenchJob`], the
//!   synthetic job of the queue benchmark and the fault tests.
//! - [`demo`]: the sample sites and the walk-through of the demo.
//! - [`cli`]: the command lines of both binaries.
//! - [`testkit`]: the harness of the integration tests (a fresh database per
//!   test, the real application on it, queue state helpers).

pub mod bench;
pub mod cli;
pub mod demo;
pub mod testkit;
