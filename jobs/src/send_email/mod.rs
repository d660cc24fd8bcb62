//! `send_email` (mail core): placeholder.
pub mod dkim;
pub mod inbound;
pub mod issues;
pub mod language;
pub mod message;
pub mod outbox;
pub mod smtp;
pub mod template;
pub mod tracking;
pub mod transport;
