//! One TLS crypto provider for the whole process.

/// Install ring as rustls's process-wide provider (idempotent). reqwest is
/// built without a provider of its own, so this must run before the first
/// HTTP client is made; `main` and [`Application`](crate::application::Application) do it.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
