//! Why a capture produced no usable screenshot.

use std::time::Duration;

/// Why a capture was refused after it was taken: the page rendered, but
/// what it shows is not the business's site.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// Nearly every sampled pixel is white (or transparent): nothing
    /// rendered.
    #[error("the page is blank ({percent:.1}% of the sampled pixels are white)")]
    Blank {
        /// Share of the sampled pixels near white, in percent.
        percent: f64,
    },
    /// Nearly every sampled pixel is one colour other than white.
    #[error("the page is a single colour, rgb({}, {}, {}) ({percent:.1}% of the sampled pixels)", rgb[0], rgb[1], rgb[2])]
    OneColour {
        /// The colour.
        rgb: [u8; 3],
        /// Share of the sampled pixels near it, in percent.
        percent: f64,
    },
    /// Chromium showed its own error page (`chrome-error://`): the site did
    /// not answer, sent an empty error response, or failed TLS.
    #[error("Chromium showed its error page for {url}: {code}")]
    BrowserErrorPage {
        /// The URL that failed.
        url: String,
        /// Chromium's net error (`ERR_CONNECTION_REFUSED`,
        /// `ERR_HTTP_RESPONSE_CODE_FAILURE`…), or what the page said.
        code: String,
        /// The HTTP status, when a response arrived.
        http_status: Option<u16>,
    },
}

impl Refusal {
    /// A server error page (5xx) may be gone on the next try; a network
    /// error page is final only when the network error is.
    pub fn is_permanent(&self) -> bool {
        match self {
            Refusal::Blank { .. } | Refusal::OneColour { .. } => true,
            Refusal::BrowserErrorPage {
                code, http_status, ..
            } => !matches!(http_status, Some(500..=599)) && net_error_is_permanent(code),
        }
    }
}

/// Everything that can go wrong in a capture, with a reason a person can
/// read. [`CaptureError::is_permanent`] says whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Not an http(s) URL with a host.
    #[error("cannot capture {url}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The address guard refused the page (a private address, a name that
    /// does not exist) before or while navigating.
    #[error("not captured: {reason}")]
    AddressRefused {
        /// The guard's reason.
        reason: String,
        /// A DNS failure may pass later; a refused address will not.
        permanent: bool,
    },
    /// Chromium could not reach the page (`net::ERR_…` from navigation).
    #[error("navigation to {url} failed: {net_error}")]
    NavigationFailed {
        /// The URL.
        url: String,
        /// Chromium's net error.
        net_error: String,
    },
    /// The URL answers with a file to download, not a page.
    #[error("{url} starts a download instead of showing a page (downloads are denied)")]
    Download {
        /// The URL.
        url: String,
    },
    /// The screenshot was taken but shows no site.
    #[error("screenshot refused: {0}")]
    Refused(#[from] Refusal),
    /// The page's renderer process crashed (out of memory, a Chromium bug).
    #[error("the renderer crashed while capturing {url}")]
    RendererCrashed {
        /// The URL.
        url: String,
    },
    /// The browser process died or was killed; the slot relaunches it.
    #[error("the browser died: {detail}")]
    BrowserDied {
        /// Exit status or what was seen.
        detail: String,
    },
    /// The browser could not be started.
    #[error("could not start Chromium: {detail}")]
    Launch {
        /// What failed (missing binary, no DevTools endpoint in time…).
        detail: String,
    },
    /// A step took longer than its limit.
    #[error("{stage} did not finish within {after:?}")]
    Timeout {
        /// Which step (`navigation`, `capture`…).
        stage: &'static str,
        /// The limit.
        after: Duration,
    },
    /// Chromium answered a DevTools command with an error.
    #[error("Chromium refused {method}: {message}")]
    Protocol {
        /// The CDP method.
        method: String,
        /// Chromium's message.
        message: String,
    },
    /// The PNG could not be decoded or the thumbnail encoded.
    #[error("image processing failed: {0}")]
    Image(String),
    /// The media store failed.
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
}

impl CaptureError {
    /// True when capturing the same URL again cannot help: bad input, a
    /// refused address, a page that is an error page or shows nothing.
    /// Crashes, timeouts, lost browsers and storage failures are worth a
    /// retry.
    pub fn is_permanent(&self) -> bool {
        match self {
            CaptureError::InvalidUrl { .. } | CaptureError::Download { .. } => true,
            CaptureError::AddressRefused { permanent, .. } => *permanent,
            CaptureError::NavigationFailed { net_error, .. } => net_error_is_permanent(net_error),
            CaptureError::Refused(refusal) => refusal.is_permanent(),
            CaptureError::RendererCrashed { .. }
            | CaptureError::BrowserDied { .. }
            | CaptureError::Launch { .. }
            | CaptureError::Timeout { .. }
            | CaptureError::Protocol { .. }
            | CaptureError::Image(_)
            | CaptureError::Store(_) => false,
        }
    }
}

impl crate::runtime::StageError for CaptureError {
    fn is_permanent(&self) -> bool {
        CaptureError::is_permanent(self)
    }
}

/// Network errors that a retry minutes later will not fix: the name does
/// not exist, nothing listens, the certificate is bad, the server answers
/// with an empty error page or something that is not a page. Timeouts,
/// resets and unknown codes count as transient.
pub(crate) fn net_error_is_permanent(code: &str) -> bool {
    let code = code.trim_start_matches("net::");
    matches!(
        code,
        "ERR_NAME_NOT_RESOLVED"
            | "ERR_NAME_RESOLUTION_FAILED"
            | "ERR_CONNECTION_REFUSED"
            | "ERR_ADDRESS_UNREACHABLE"
            | "ERR_ADDRESS_INVALID"
            | "ERR_BLOCKED_BY_CLIENT"
            | "ERR_BLOCKED_BY_RESPONSE"
            | "ERR_UNSAFE_PORT"
            | "ERR_UNSAFE_REDIRECT"
            | "ERR_INVALID_URL"
            | "ERR_DISALLOWED_URL_SCHEME"
            | "ERR_TOO_MANY_REDIRECTS"
            | "ERR_HTTP_RESPONSE_CODE_FAILURE"
            | "ERR_INVALID_RESPONSE"
            | "ERR_EMPTY_RESPONSE"
            | "ERR_INVALID_HTTP_RESPONSE"
            | "ERR_RESPONSE_HEADERS_MULTIPLE_LOCATION"
            | "ERR_ABORTED"
    ) || code.starts_with("ERR_CERT_")
        || code.starts_with("ERR_SSL_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pages_are_permanent_and_machine_trouble_is_transient() {
        let permanent = [
            CaptureError::InvalidUrl {
                url: "ftp://x".into(),
                reason: "not http(s)".into(),
            },
            CaptureError::NavigationFailed {
                url: "http://x/".into(),
                net_error: "net::ERR_NAME_NOT_RESOLVED".into(),
            },
            CaptureError::NavigationFailed {
                url: "https://x/".into(),
                net_error: "net::ERR_CERT_DATE_INVALID".into(),
            },
            CaptureError::Download {
                url: "http://x/a.zip".into(),
            },
            CaptureError::Refused(Refusal::Blank { percent: 100.0 }),
            CaptureError::Refused(Refusal::BrowserErrorPage {
                url: "http://x/".into(),
                code: "ERR_HTTP_RESPONSE_CODE_FAILURE".into(),
                http_status: Some(404),
            }),
            CaptureError::AddressRefused {
                reason: "private".into(),
                permanent: true,
            },
        ];
        for e in &permanent {
            assert!(e.is_permanent(), "{e}");
        }
        let transient = [
            CaptureError::NavigationFailed {
                url: "http://x/".into(),
                net_error: "net::ERR_CONNECTION_RESET".into(),
            },
            CaptureError::Refused(Refusal::BrowserErrorPage {
                url: "http://x/".into(),
                code: "ERR_HTTP_RESPONSE_CODE_FAILURE".into(),
                http_status: Some(503),
            }),
            CaptureError::RendererCrashed {
                url: "http://x/".into(),
            },
            CaptureError::BrowserDied {
                detail: "killed by SIGKILL".into(),
            },
            CaptureError::Timeout {
                stage: "capture",
                after: Duration::from_secs(1),
            },
            CaptureError::AddressRefused {
                reason: "DNS timed out".into(),
                permanent: false,
            },
        ];
        for e in &transient {
            assert!(!e.is_permanent(), "{e}");
        }
    }

    #[test]
    fn reasons_read_as_sentences() {
        let e = CaptureError::Refused(Refusal::OneColour {
            rgb: [0, 128, 0],
            percent: 99.5,
        });
        assert_eq!(
            e.to_string(),
            "screenshot refused: the page is a single colour, rgb(0, 128, 0) (99.5% of the sampled pixels)"
        );
    }
}
