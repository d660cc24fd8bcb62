//! `send_email` (mail core): placeholder.
pub mod compliance;
pub mod dkim;
pub mod imap;
pub mod inbound;
pub mod issues;
pub mod language;
pub mod message;
pub mod outbox;
pub mod settings;
pub mod smtp;
pub mod template;
pub mod tracking;
pub mod transport;
pub mod window;
