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
                Ok(fetched) => {
                    let fetched = follow_meta_refresh(fetcher, fetched, stop, false).await;
                    return Ok(reached(fetched, tls, attempts, false));
                }
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
        Ok(fetched) => {
            let fetched = follow_meta_refresh(fetcher, fetched, stop, true).await;
            Ok(reached(fetched, tls, attempts, true))
        }
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

#[allow(clippy::unwrap_used)] // a constant pattern
static META_REFRESH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"(?i)<meta\s[^>]*http-equiv\s*=\s*["']?refresh["']?[^>]*>|<meta\s[^>]*content\s*=\s*["'][^"']*url\s*=[^>]*http-equiv\s*=\s*["']?refresh[^>]*>"#,
    )
    .unwrap()
});
#[allow(clippy::unwrap_used)]
static REFRESH_TARGET: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"(?i)content\s*=\s*["']?\s*(\d+)\s*[;,]\s*url\s*=\s*['"]?([^"'>\s]+)"#).unwrap()
});

/// Where a small page's `<meta http-equiv="refresh">` sends visitors
/// (within 10 seconds), if anywhere.
pub fn meta_refresh_target(page: &Page) -> Option<Url> {
    if !(200..300).contains(&page.status) || page.body.len() > 16 * 1024 || !page.is_html() {
        return None;
    }
    let tag = META_REFRESH.find(&page.body)?;
    let caps = REFRESH_TARGET.captures(tag.as_str())?;
    let delay: u64 = caps.get(1)?.as_str().parse().ok()?;
    if delay > 10 {
        return None;
    }
    let target = page.url.join(caps.get(2)?.as_str()).ok()?;
    (matches!(target.scheme(), "http" | "https") && target != page.url).then_some(target)
}

/// Follow one meta refresh, as browsers do; keep the page when it fails.
async fn follow_meta_refresh(
    fetcher: &Fetcher,
    fetched: Fetched,
    stop: &(dyn Fn(&Url) -> bool + Sync),
    insecure: bool,
) -> Fetched {
    let Fetched::Page(page) = fetched else {
        return fetched;
    };
    let Some(target) = meta_refresh_target(&page) else {
        return Fetched::Page(page);
    };
    let mut redirects = page.redirects.clone();
    redirects.push(Hop {
        url: page.url.to_string(),
        status: page.status,
    });
    if stop(&target) {
        return Fetched::StoppedAt {
            url: target,
            redirects,
        };
    }
    let options = FetchOptions {
        insecure,
        stop_at: Some(stop),
        ..FetchOptions::default()
    };
    match fetcher.fetch(&target, options).await {
        Ok(Fetched::Page(mut next)) => {
            redirects.append(&mut next.redirects);
            next.redirects = redirects;
            next.total_time += page.total_time;
            Fetched::Page(next)
        }
        Ok(Fetched::StoppedAt { url, redirects: more }) => {
            redirects.extend(more);
            Fetched::StoppedAt { url, redirects }
        }
        Err(e) => {
            tracing::debug!(error = %e, "meta refresh target failed; keeping the refresh page");
            Fetched::Page(page)
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn page(body: &str) -> Page {
        Page {
            url: Url::parse("https://dupont.lu/").unwrap(),
            status: 200,
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.into(),
            charset: "UTF-8",
            redirects: Vec::new(),
            time_to_first_byte: Duration::ZERO,
            total_time: Duration::ZERO,
            certificate: None,
            wire_bytes: body.len(),
            memory: crate::tech_scan::fetch::Held::none(),
        }
    }

    #[test]
    fn meta_refresh_pages_point_to_their_target() {
        let cases = [
            (
                r#"<meta http-equiv="refresh" content="0; url=/fr/">"#,
                Some("https://dupont.lu/fr/"),
            ),
            (
                r#"<META HTTP-EQUIV="Refresh" CONTENT="2;URL=https://www.dupont.lu/index.php">"#,
                Some("https://www.dupont.lu/index.php"),
            ),
            (
                r#"<meta content="0; url='accueil.html'" http-equiv="refresh">"#,
                Some("https://dupont.lu/accueil.html"),
            ),
            (r#"<meta http-equiv="refresh" content="300">"#, None),
            (r#"<meta http-equiv="refresh" content="60; url=/fr/">"#, None),
            (r#"<meta name="description" content="url=/x">"#, None),
        ];
        for (html, expected) in cases {
            assert_eq!(
                meta_refresh_target(&page(html)).map(|u| u.to_string()).as_deref(),
                expected,
                "{html}"
            );
        }
    }
}
