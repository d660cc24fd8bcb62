//! robots.txt (RFC 9309) for every page beyond the home page.
//!
//! - 2xx: the rules apply to our product token (or `*`).
//! - 4xx (no file): everything is allowed (RFC 9309 §2.3.1.3).
//! - 5xx, or the server unreachable: everything is disallowed (§2.3.1.4).
//! - Redirects are followed (at most five hops, §2.3.1.2); the file is read
//!   up to 500 KiB (§2.5).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use texting_robots::Robot;
use url::Url;

use super::{FetchOptions, Fetched, Fetcher};

/// The parse limit RFC 9309 asks parsers to support.
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;

/// The outcome of fetching robots.txt, as stored in the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RobotsState {
    /// A file was found and parsed.
    Found,
    /// No file (this status): everything allowed.
    Missing {
        /// HTTP status.
        status: u16,
    },
    /// Unreachable or a server error: everything disallowed.
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// The rules for one host.
pub struct RobotsRules {
    /// What happened.
    pub state: RobotsState,
    /// The file's text, when found (for the `robots` fingerprint patterns).
    pub text: Option<String>,
    robot: Option<Robot>,
}

impl std::fmt::Debug for RobotsRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobotsRules")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl RobotsRules {
    /// Rules from a file's text.
    pub fn parse(agent: &str, text: &str) -> Self {
        let robot = Robot::new(agent, text.as_bytes()).ok();
        Self {
            state: RobotsState::Found,
            text: Some(text.to_owned()),
            robot,
        }
    }

    /// Whether `url` may be fetched.
    pub fn allows(&self, url: &Url) -> bool {
        match &self.state {
            RobotsState::Missing { .. } => true,
            RobotsState::Unavailable { .. } => false,
            // An unparseable file restricts nothing.
            RobotsState::Found => self.robot.as_ref().is_none_or(|r| r.allowed(url.as_str())),
        }
    }

    /// The file's `Crawl-delay` for us, if any.
    pub fn crawl_delay(&self) -> Duration {
        self.robot
            .as_ref()
            .and_then(|r| r.delay)
            .filter(|d| d.is_finite() && *d > 0.0)
            .map_or(Duration::ZERO, |d| Duration::from_secs_f32(d.min(3600.0)))
    }
}

/// Fetch and parse `origin`'s robots.txt for the product token `agent`.
pub async fn fetch_robots(fetcher: &Fetcher, origin: &Url, agent: &str, insecure: bool) -> RobotsRules {
    let unavailable = |reason: String| RobotsRules {
        state: RobotsState::Unavailable { reason },
        text: None,
        robot: None,
    };
    let Ok(url) = origin.join("/robots.txt") else {
        return unavailable("no robots.txt URL for this origin".into());
    };
    let options = FetchOptions {
        insecure,
        max_body_bytes: Some(MAX_ROBOTS_BYTES),
        max_redirects: Some(5),
        ..FetchOptions::default()
    };
    match fetcher.fetch(&url, options).await {
        Ok(Fetched::Page(page)) => match page.status {
            200..=299 => RobotsRules::parse(agent, &page.body),
            400..=499 => RobotsRules {
                state: RobotsState::Missing { status: page.status },
                text: None,
                robot: None,
            },
            other => unavailable(format!("robots.txt answered {other}")),
        },
        Ok(Fetched::StoppedAt { url, .. }) => unavailable(format!("robots.txt redirects to {url}")),
        Err(super::FetchError::TooLarge { .. }) => {
            // Larger than the parse limit: treat as missing rather than
            // refusing everything (RFC 9309 lets a parser stop at the limit).
            RobotsRules {
                state: RobotsState::Missing { status: 200 },
                text: None,
                robot: None,
            }
        }
        Err(e) => unavailable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> Url {
        Url::parse(&format!("https://shop.test{path}")).unwrap()
    }

    #[test]
    fn rules_for_our_token_win_over_the_wildcard() {
        let rules = RobotsRules::parse(
            "ProspectorBot",
            "User-agent: *\nDisallow: /\n\nUser-agent: prospectorbot\nDisallow: /private\nAllow: /private/contact\nCrawl-delay: 2\n",
        );
        assert!(rules.allows(&url("/contact")));
        assert!(!rules.allows(&url("/private/team")));
        assert!(rules.allows(&url("/private/contact")));
        assert_eq!(rules.crawl_delay(), Duration::from_secs(2));
    }

    #[test]
    fn the_wildcard_group_applies_otherwise() {
        let rules = RobotsRules::parse("ProspectorBot", "User-agent: *\nDisallow: /kontakt\n");
        assert!(!rules.allows(&url("/kontakt")));
        assert!(!rules.allows(&url("/kontakt/form")));
        assert!(rules.allows(&url("/impressum")));
    }

    #[test]
    fn missing_allows_all_and_unavailable_allows_nothing() {
        let missing = RobotsRules {
            state: RobotsState::Missing { status: 404 },
            text: None,
            robot: None,
        };
        assert!(missing.allows(&url("/anything")));
        let unavailable = RobotsRules {
            state: RobotsState::Unavailable { reason: "503".into() },
            text: None,
            robot: None,
        };
        assert!(!unavailable.allows(&url("/contact")));
    }
}
