//! Benchmarks that print figures (`prospector bench …`). Speed is measured
//! here, never in tests.

pub mod discover;
pub mod queue;
