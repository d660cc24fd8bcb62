//! What a site's TLS certificate says, and why a handshake failed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Facts about the certificate a site presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFacts {
    /// Issuer organisation (O), else its common name (CN): `Let's Encrypt`.
    pub issuer: Option<String>,
    /// The issuer's full distinguished name.
    pub issuer_dn: String,
    /// Subject common name.
    pub subject: Option<String>,
    /// Not valid before.
    pub not_before: Option<DateTime<Utc>>,
    /// Not valid after (expiry).
    pub not_after: Option<DateTime<Utc>>,
    /// Subject alternative DNS names (at most 20).
    pub dns_names: Vec<String>,
}

/// Parse a DER certificate; `None` when it is not one.
pub fn parse_certificate(der: &[u8]) -> Option<CertificateFacts> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let issuer = cert.issuer();
    let organisation = issuer
        .iter_organization()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let issuer_cn = issuer
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let subject = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let validity = cert.validity();
    let to_utc = |t: x509_parser::time::ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0);
    let dns_names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .take(20)
                .collect()
        })
        .unwrap_or_default();
    Some(CertificateFacts {
        issuer: organisation.or(issuer_cn),
        issuer_dn: issuer.to_string(),
        subject,
        not_before: to_utc(validity.not_before),
        not_after: to_utc(validity.not_after),
        dns_names,
    })
}

/// Why a TLS connection was refused, in words for the profile.
pub fn describe_tls_error(error: &rustls::Error) -> Option<String> {
    use rustls::{CertificateError, Error};
    Some(match error {
        Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the certificate is not valid for this host name".to_owned()
            }
            CertificateError::UnknownIssuer => {
                "the certificate is not issued by a trusted authority (self-signed or incomplete chain)"
                    .to_owned()
            }
            CertificateError::Revoked => "the certificate has been revoked".to_owned(),
            CertificateError::BadSignature | CertificateError::BadEncoding => {
                "the certificate is malformed or badly signed".to_owned()
            }
            other => format!("the certificate is invalid ({other:?})"),
        },
        _ => return None,
    })
}

/// The rustls error behind a failed request, if the failure was TLS.
pub fn find_tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error hides its inner error from `source()` (and connectors
        // nest them): unwrap with `get_ref`.
        let mut io = e.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(std::io::Error::get_ref) {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls);
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        current = e.source();
    }
    None
}
