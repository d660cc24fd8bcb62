//! TLS client setup shared by SMTP (implicit TLS) and IMAP: the system's
//! trusted roots, plus extra PEM roots from the settings (a private CA, a
//! test CA), with rustls on ring.

use std::{path::Path, sync::Arc};

use rustls::pki_types::{CertificateDer, pem::PemObject};
use tokio_rustls::TlsConnector;

/// A connector trusting the system's roots and those in `extra_roots`.
/// Errors are text: callers wrap them in their own error type.
pub(crate) fn connector(extra_roots: Option<&Path>) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A malformed system certificate is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_roots {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}
