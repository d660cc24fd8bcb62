//! Benchmarks that print figures (`prospector bench …`). Speed is measured
//! here, never in tests.

pub mod audit;
pub mod audit_site;
pub mod discover;
pub mod fingerprint;
pub mod fleet;
pub mod queue;
pub mod scan;
