//! The fingerprint engine: Wappalyzer-format definitions matched against a
//! page, its headers, cookies, robots.txt, certificate and DNS records,
//! without running JavaScript.

pub mod definitions;
mod detection;
mod dom;
pub mod engine;
pub mod pattern;
mod prefilter;

pub use definitions::{DefinitionsError, DefinitionsSource, RawDefinitions};
pub use engine::{CategoryRef, Detection, Engine, Evidence, Field, LoadReport, PageInput, SkippedPattern};
