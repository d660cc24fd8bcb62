//! The local demo of `prospector run --demo`: sample sites on loopback.

pub mod sites;
