//! What the score is computed from: facts gathered by earlier stages,
//! already loaded from the database (see `queries.rs`). Pure data.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How the lead was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Domain-based (imports, domain lists).
    Digital,
    /// Captured in person.
    Offline,
    /// Listed by a maps provider.
    Maps,
}

/// What is at the lead's web address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Website {
    /// No domain or website known.
    None,
    /// Not scanned yet.
    Unknown,
    /// The domain did not answer (or answered an error) — with what happened.
    Unreachable {
        /// e.g. "connection refused", "HTTP 503".
        detail: String,
    },
    /// A parking or for-sale page.
    Parked {
        /// What showed it (the matched text or provider).
        detail: String,
    },
    /// The "website" is only a social profile or directory listing.
    SocialOnly {
        /// The profile URL.
        url: String,
    },
    /// A working site.
    Live {
        /// Final URL of the home page after redirects.
        final_url: String,
    },
}

/// HTTPS state of a live site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Https {
    /// The site is served over HTTPS (the final URL is https).
    pub uses_https: bool,
    /// Whether the certificate validated (None when not checked).
    pub certificate_valid: Option<bool>,
    /// Why it did not validate.
    pub certificate_error: Option<String>,
    /// Its issuer.
    pub certificate_issuer: Option<String>,
    /// Its expiry.
    pub certificate_expires_at: Option<DateTime<Utc>>,
}

/// One detected technology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Technology {
    /// Name as in the definitions (`WordPress`, `PHP`, `jQuery`).
    pub name: String,
    /// Version, when the page shows it.
    pub version: Option<String>,
    /// Categories (`CMS`, `JavaScript frameworks`, `Analytics`, …).
    pub categories: Vec<String>,
    /// Where it was seen, in words (`meta generator "WordPress 5.2"`).
    pub evidence: String,
}

/// A failing Lighthouse audit worth quoting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingAudit {
    /// Lighthouse audit id (`viewport`, `uses-responsive-images`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its displayed value (`Potential savings of 2.1 s`).
    pub display_value: Option<String>,
}

/// Lighthouse results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    /// Performance 0–100.
    pub performance: Option<u8>,
    /// Accessibility 0–100.
    pub accessibility: Option<u8>,
    /// SEO 0–100.
    pub seo: Option<u8>,
    /// Largest contentful paint.
    pub lcp_ms: Option<u32>,
    /// First contentful paint.
    pub fcp_ms: Option<u32>,
    /// Total blocking time.
    pub tbt_ms: Option<u32>,
    /// Cumulative layout shift.
    pub cls: Option<f64>,
    /// Mobile-friendly verdict.
    pub mobile_friendly: Option<bool>,
    /// `mobile` or `desktop`.
    pub form_factor: String,
    /// Failing audits worth quoting.
    pub failing_audits: Vec<FailingAudit>,
}

/// Contact details found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contacts {
    /// E-mail addresses, with where the first was found.
    pub emails: u32,
    /// Phone numbers.
    pub phones: u32,
    /// Other contact channels (social profiles, forms, addresses).
    pub other: u32,
    /// Page where the first contact was found.
    pub first_source: Option<String>,
}

/// Maps listing facts (WebMagic leads).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// Average rating.
    pub rating: Option<f64>,
    /// Number of reviews.
    pub review_count: u32,
    /// Category.
    pub category: Option<String>,
}

/// Everything the score uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreFacts {
    /// Channel.
    pub channel: Channel,
    /// Normalised domain, if any.
    pub domain: Option<String>,
    /// What is at the address.
    pub website: Website,
    /// HTTPS state (live sites).
    pub https: Option<Https>,
    /// Detected technologies (live sites).
    pub technologies: Vec<Technology>,
    /// Lighthouse results (when audited).
    pub performance: Option<Performance>,
    /// Why the site's audit failed for good, when it did.
    #[serde(default)]
    pub audit_failure: Option<String>,
    /// Contact details.
    pub contacts: Contacts,
    /// Maps listing.
    pub listing: Listing,
    /// Has a street address.
    pub has_address: bool,
    /// The day the score is computed for (EOL dates are compared with it).
    pub today: NaiveDate,
}
