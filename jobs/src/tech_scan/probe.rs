//! Reaching the home page: HTTPS first, then HTTP, then the `www.` name;
//! a refused certificate is recorded and the page fetched the way a visitor
//! who clicks through would see it.

use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    contacts::social,
    fetch::{CertificateFacts, FetchError, FetchOptions, Fetched, Fetcher, Hop, Page},
};

/// One try at the home page, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// URL tried.
    pub url: String,
    /// What happened.
    pub outcome: String,
}

/// What HTTPS looked like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsOutcome {
    /// Valid certificate (None: no HTTPS answer to judge).
    pub valid: Option<bool>,
    /// Why the certificate was refused.
    pub error: Option<String>,
    /// The certificate presented.
    pub certificate: Option<CertificateFacts>,
}

/// Where the home page probe ended.
#[derive(Debug, Clone)]
pub enum Home {
    /// A response (any status) from the site.
    Reached {
        /// The final response.
        page: Box<Page>,
        /// Certificate facts.
        tls: TlsOutcome,
        /// Tries before this one.
        attempts: Vec<Attempt>,
        /// Fetched with certificate checks off (the certificate was refused).
        insecure: bool,
    },
    /// The site redirects to a social network profile.
    Social {
        /// The profile.
        url: Url,
        /// Hops to it.
        redirects: Vec<Hop>,
        /// Tries.
        attempts: Vec<Attempt>,
    },
    /// Nothing answered.
    Unreachable {
        /// Why, in words.
        reason: String,
        /// Tries.
        attempts: Vec<Attempt>,
        /// Certificate facts, if HTTPS answered with a bad certificate.
        tls: TlsOutcome,
    },
}

fn is_social(url: &Url) -> bool {
    social::network(url).is_some()
}

/// Probe `host` (and `www.host`), keeping `path` (from a known website URL).
pub async fn probe(fetcher: &Fetcher, host: &str, path: &str) -> Result<Home, FetchError> {
    let mut hosts = vec![host.to_owned()];
    if !host.starts_with("www.") {
        hosts.push(format!("www.{host}"));
    }
    let mut attempts = Vec::new();
    let mut tls = TlsOutcome::default();
    let stop: &(dyn Fn(&Url) -> bool + Sync) = &is_social;
    for host in &hosts {
        let mut https_refused_certificate: Option<Url> = None;
        for scheme in ["https", "http"] {
            let Ok(url) = Url::parse(&format!("{scheme}://{host}{path}")) else {
                continue;
            };
            let options = FetchOptions {
                stop_at: Some(stop),
                ..FetchOptions::default()
            };
            let result = fetcher.fetch(&url, options).await;
            if let Err(e) = &result {
                tracing::debug!(url = %url, error = %e, "home page attempt failed");
            }
            match result {
                Ok(fetched) => return Ok(reached(fetched, tls, attempts, false)),
                Err(FetchError::Certificate { reason, .. }) => {
                    attempts.push(Attempt {
                        url: url.to_string(),
                        outcome: format!("certificate refused: {reason}"),
                    });
                    tls.valid = Some(false);
                    tls.error = Some(reason);
                    if scheme == "https" {
                        https_refused_certificate = Some(url);
                        continue;
                    }
                    // http redirected to an https URL with a bad certificate.
                    return insecure(fetcher, &url, tls, attempts, stop).await;
                }
                Err(e @ FetchError::NoSuchHost { .. }) => {
                    attempts.push(Attempt {
                        url: url.to_string(),
                        outcome: e.to_string(),
                    });
                    break;
                }
                Err(
                    e @ (FetchError::Connect { .. }
                    | FetchError::Handshake { .. }
                    | FetchError::Transport { .. }),
                ) => {
                    // Nothing usable answered on this scheme (refused, not
                    // TLS, hung up): try the next one.
                    attempts.push(Attempt {
                        url: url.to_string(),
                        outcome: e.to_string(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(url) = https_refused_certificate {
            return insecure(fetcher, &url, tls, attempts, stop).await;
        }
    }
    let reason = attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Home::Unreachable {
        reason,
        attempts,
        tls,
    })
}

async fn insecure(
    fetcher: &Fetcher,
    url: &Url,
    tls: TlsOutcome,
    mut attempts: Vec<Attempt>,
    stop: &(dyn Fn(&Url) -> bool + Sync),
) -> Result<Home, FetchError> {
    let options = FetchOptions {
        insecure: true,
        stop_at: Some(stop),
        ..FetchOptions::default()
    };
    match fetcher.fetch(url, options).await {
        Ok(fetched) => Ok(reached(fetched, tls, attempts, true)),
        Err(
            e @ (FetchError::Connect { .. } | FetchError::Handshake { .. } | FetchError::NoSuchHost { .. }),
        ) => {
            attempts.push(Attempt {
                url: url.to_string(),
                outcome: e.to_string(),
            });
            let reason = attempts
                .iter()
                .map(|a| a.outcome.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            Ok(Home::Unreachable {
                reason,
                attempts,
                tls,
            })
        }
        Err(e) => Err(e),
    }
}

fn reached(fetched: Fetched, mut tls: TlsOutcome, attempts: Vec<Attempt>, insecure: bool) -> Home {
    match fetched {
        Fetched::Page(page) => {
            if page.url.scheme() == "https" {
                tls.certificate = page.certificate.clone();
                if !insecure {
                    tls.valid = Some(true);
                    tls.error = None;
                }
            }
            Home::Reached {
                page,
                tls,
                attempts,
                insecure,
            }
        }
        Fetched::StoppedAt { url, redirects } => Home::Social {
            url,
            redirects,
            attempts,
        },
    }
}
