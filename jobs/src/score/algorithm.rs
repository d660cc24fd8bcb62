//! The opportunity score: pure functions from [`ScoreFacts`] to a
//! [`ScoreCard`]. The rules and why each exists are in `docs/scoring.md`.
//!
//! Four components, each the sum of its flags' points clamped to the
//! component's maximum (40/25/25/10 by default); the score is their sum, so
//! it is always 0–100 and the components add up. Every flag carries its
//! evidence. Problems only ever add points, and the one credit (a modern,
//! healthy site) applies only when no problem is present, so adding a
//! problem never lowers a score.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    eol::{self, Kind},
    facts::{Channel, ScoreFacts, Technology, Website},
};
use crate::domain::Score;

/// Bumped whenever a rule, a weight default or a threshold changes meaning.
pub const ALGORITHM_VERSION: &str = "2026.11.1";

/// A score component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// HTTPS, speed, mobile, SEO/accessibility, or no working site.
    TechnicalHealth,
    /// How current the stack is.
    Modernity,
    /// How much a site is worth to this business.
    BusinessValue,
    /// Whether we can reach them.
    Engagement,
}

impl Component {
    /// All, in order.
    pub const ALL: [Component; 4] = [
        Component::TechnicalHealth,
        Component::Modernity,
        Component::BusinessValue,
        Component::Engagement,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::TechnicalHealth => "technical_health",
            Component::Modernity => "modernity",
            Component::BusinessValue => "business_value",
            Component::Engagement => "engagement",
        }
    }
}

/// Whether a flag is a problem an e-mail may cite, a positive signal, or a
/// credit that lowers the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// Something wrong with their web presence (quotable in `{issues}`).
    Problem,
    /// A fact that makes the lead more valuable or reachable.
    Signal,
    /// A fact that makes a sale less likely (negative points).
    Credit,
}

macro_rules! rules {
    ($($variant:ident => $code:literal, $component:ident, $kind:ident, $points:literal;)+) => {
        /// A scoring rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Rule { $(#[doc = $code] $variant,)+ }

        impl Rule {
            /// Every rule.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)+];
            /// Stable code (config keys, stored flags).
            pub fn code(self) -> &'static str { match self { $(Rule::$variant => $code,)+ } }
            /// Its component.
            pub fn component(self) -> Component { match self { $(Rule::$variant => Component::$component,)+ } }
            /// Problem, signal or credit.
            pub fn kind(self) -> FlagKind { match self { $(Rule::$variant => FlagKind::$kind,)+ } }
            /// Default points (negative for credits).
            pub fn default_points(self) -> i32 { match self { $(Rule::$variant => $points,)+ } }
        }
    };
}

rules! {
    // Technical health
    NoHttps => "no_https", TechnicalHealth, Problem, 12;
    InvalidCertificate => "invalid_certificate", TechnicalHealth, Problem, 12;
    CertificateExpiring => "certificate_expiring", TechnicalHealth, Problem, 4;
    PerformancePoor => "performance_poor", TechnicalHealth, Problem, 12;
    PerformanceAverage => "performance_average", TechnicalHealth, Problem, 6;
    NotMobileFriendly => "not_mobile_friendly", TechnicalHealth, Problem, 10;
    PoorSeo => "poor_seo", TechnicalHealth, Problem, 3;
    PoorAccessibility => "poor_accessibility", TechnicalHealth, Problem, 3;
    SiteUnreachable => "site_unreachable", TechnicalHealth, Problem, 30;
    ParkedDomain => "parked_domain", TechnicalHealth, Problem, 30;
    SocialOnly => "social_only", TechnicalHealth, Problem, 30;
    NoWebsite => "no_website", TechnicalHealth, Problem, 30;
    AuditMissing => "audit_missing", TechnicalHealth, Signal, 0;
    // Modernity
    OutdatedCms => "outdated_cms", Modernity, Problem, 10;
    OutdatedPlatform => "outdated_platform", Modernity, Problem, 6;
    OutdatedLibrary => "outdated_library", Modernity, Problem, 4;
    NoCms => "no_cms", Modernity, Problem, 4;
    JqueryWithoutFramework => "jquery_without_framework", Modernity, Problem, 3;
    NoAnalytics => "no_analytics", Modernity, Problem, 4;
    NoWorkingSite => "no_working_site", Modernity, Problem, 15;
    ModernSite => "modern_site", Modernity, Credit, -15;
    // Business value
    HasWebsite => "has_website", BusinessValue, Signal, 10;
    Ecommerce => "ecommerce", BusinessValue, Signal, 10;
    ShortDomain => "short_domain", BusinessValue, Signal, 5;
    EstablishedBusiness => "established_business", BusinessValue, Signal, 10;
    MetInPerson => "met_in_person", BusinessValue, Signal, 10;
    HasAddress => "has_address", BusinessValue, Signal, 5;
    // Engagement
    HasContact => "has_contact", Engagement, Signal, 3;
    HasEmail => "has_email", Engagement, Signal, 4;
    HasPhone => "has_phone", Engagement, Signal, 3;
}

/// Why a flag was raised, in words an e-mail can quote, plus the raw values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Which stage saw it: `tech_scan`, `audit`, `contacts`, `prospect`.
    pub source: String,
    /// What was seen (`PHP 7.4.33 in the X-Powered-By header`).
    pub observed: String,
    /// Raw values (audit id and value, header, pattern, URL).
    pub data: Value,
}

/// One reason behind a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonFlag {
    /// Rule code.
    pub code: String,
    /// Component it counts in.
    pub component: Component,
    /// Problem, signal or credit.
    pub kind: FlagKind,
    /// Points it adds (negative for a credit).
    pub points: i32,
    /// A sentence about the business's site, ready for `{issues}`.
    pub title: String,
    /// What it rests on.
    pub evidence: Evidence,
}

/// Lead tier thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// Hot from this score up.
    pub hot: u8,
    /// Warm from this score up (below hot).
    pub warm: u8,
}

/// A lead tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Call first.
    Hot,
    /// Worth an e-mail.
    Warm,
    /// Not now.
    Cold,
}

impl Tier {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hot => "hot",
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        }
    }
}

/// Weights and thresholds (config `[score]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreConfig {
    /// Points per rule (defaults: [`Rule::default_points`]).
    pub points: BTreeMap<Rule, i32>,
    /// Maximum per component; they sum to 100.
    pub caps: BTreeMap<Component, u8>,
    /// Tier thresholds.
    pub tiers: Tiers,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            points: Rule::ALL.iter().map(|r| (*r, r.default_points())).collect(),
            caps: [
                (Component::TechnicalHealth, 40),
                (Component::Modernity, 25),
                (Component::BusinessValue, 25),
                (Component::Engagement, 10),
            ]
            .into_iter()
            .collect(),
            tiers: Tiers { hot: 65, warm: 40 },
        }
    }
}

impl ScoreConfig {
    fn points(&self, rule: Rule) -> i32 {
        self.points
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_points())
    }

    fn cap(&self, component: Component) -> i32 {
        i32::from(self.caps.get(&component).copied().unwrap_or(0))
    }

    /// The tier of a score.
    pub fn tier(&self, score: u8) -> Tier {
        if score >= self.tiers.hot {
            Tier::Hot
        } else if score >= self.tiers.warm {
            Tier::Warm
        } else {
            Tier::Cold
        }
    }
}

/// The result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreCard {
    /// Total, 0–100 (the sum of the components).
    pub score: Score,
    /// Per component, each within its cap.
    pub components: BTreeMap<Component, u8>,
    /// Every reason, with evidence.
    pub flags: Vec<ReasonFlag>,
    /// Tier.
    pub tier: Tier,
    /// [`ALGORITHM_VERSION`].
    pub algorithm_version: String,
}

impl ScoreCard {
    /// One component's score.
    pub fn component(&self, component: Component) -> u8 {
        self.components.get(&component).copied().unwrap_or(0)
    }

    /// The problems, highest points first (what `{issues}` lists).
    pub fn problems(&self) -> impl Iterator<Item = &ReasonFlag> {
        let mut problems: Vec<&ReasonFlag> = self
            .flags
            .iter()
            .filter(|f| f.kind == FlagKind::Problem)
            .collect();
        problems.sort_by_key(|f| std::cmp::Reverse(f.points));
        problems.into_iter()
    }
}

struct Flags<'a> {
    config: &'a ScoreConfig,
    flags: Vec<ReasonFlag>,
}

impl Flags<'_> {
    fn raise(
        &mut self,
        rule: Rule,
        title: impl Into<String>,
        source: &str,
        observed: impl Into<String>,
        data: Value,
    ) {
        let observed = observed.into();
        debug_assert!(!observed.is_empty(), "a flag needs evidence");
        self.flags.push(ReasonFlag {
            code: rule.code().to_owned(),
            component: rule.component(),
            kind: rule.kind(),
            points: self.config.points(rule),
            title: title.into(),
            evidence: Evidence {
                source: source.to_owned(),
                observed,
                data,
            },
        });
    }

    fn has(&self, rule: Rule) -> bool {
        self.flags.iter().any(|f| f.code == rule.code())
    }
}

fn seconds(ms: u32) -> String {
    format!("{:.1} s", f64::from(ms) / 1000.0)
}

fn has_category(tech: &Technology, wanted: &[&str]) -> bool {
    tech.categories
        .iter()
        .any(|c| wanted.iter().any(|w| c.eq_ignore_ascii_case(w)))
}

const CMS_CATEGORIES: &[&str] = &["CMS", "Site builders", "Ecommerce", "Blogs", "Wikis", "LMS"];
const FRAMEWORK_CATEGORIES: &[&str] = &[
    "JavaScript frameworks",
    "Static site generator",
    "Static site generators",
];
const ANALYTICS_CATEGORIES: &[&str] = &["Analytics", "Tag managers"];

/// Score a lead.
pub fn score(facts: &ScoreFacts, config: &ScoreConfig) -> ScoreCard {
    let mut flags = Flags {
        config,
        flags: Vec::new(),
    };
    match &facts.website {
        Website::Live { final_url } => live_site(facts, final_url, &mut flags),
        Website::Unreachable { detail } => {
            flags.raise(
                Rule::SiteUnreachable,
                "Your website does not load",
                "tech_scan",
                format!("the home page could not be loaded: {detail}"),
                json!({ "domain": facts.domain, "detail": detail }),
            );
            no_working_site(facts, &mut flags, "the domain has no working website");
        }
        Website::Parked { detail } => {
            flags.raise(
                Rule::ParkedDomain,
                "Your domain shows a parking page instead of a website",
                "tech_scan",
                format!("the home page is a parking or for-sale page ({detail})"),
                json!({ "domain": facts.domain, "detail": detail }),
            );
            no_working_site(facts, &mut flags, "the domain shows a parking page");
        }
        Website::SocialOnly { url } => {
            flags.raise(
                Rule::SocialOnly,
                "Your only web presence is a social media page",
                "tech_scan",
                format!("the listed website is a social profile: {url}"),
                json!({ "url": url }),
            );
            no_working_site(facts, &mut flags, "the listed website is a social profile");
        }
        Website::None => {
            flags.raise(
                Rule::NoWebsite,
                "Your business has no website",
                "prospect",
                "no domain or website is known for this business",
                json!({ "channel": facts.channel }),
            );
            no_working_site(facts, &mut flags, "no website is known");
        }
        // Not scanned: only an audit that failed is known.
        Website::Unknown if facts.audit_failure.is_some() => audit_missing(facts, &mut flags),
        Website::Unknown => {}
    }
    business_value(facts, &mut flags);
    engagement(facts, &mut flags);

    let mut components = BTreeMap::new();
    for component in Component::ALL {
        let sum: i32 = flags
            .flags
            .iter()
            .filter(|f| f.component == component)
            .map(|f| f.points)
            .sum();
        let clamped = sum.clamp(0, config.cap(component));
        components.insert(component, u8::try_from(clamped).unwrap_or(0));
    }
    let total: u32 = components.values().map(|v| u32::from(*v)).sum();
    let score = Score::clamped(f64::from(total));
    ScoreCard {
        tier: config.tier(score.get()),
        score,
        components,
        flags: flags.flags,
        algorithm_version: ALGORITHM_VERSION.to_owned(),
    }
}

fn no_working_site(facts: &ScoreFacts, flags: &mut Flags<'_>, observed: &str) {
    flags.raise(
        Rule::NoWorkingSite,
        "There is no site to keep up to date",
        if facts.channel == Channel::Digital {
            "tech_scan"
        } else {
            "prospect"
        },
        observed,
        json!({ "domain": facts.domain }),
    );
}

/// A site scored without its audit (it failed for good, or has not run):
/// say so, with why.
fn audit_missing(facts: &ScoreFacts, flags: &mut Flags<'_>) {
    let observed = match &facts.audit_failure {
        Some(reason) => format!("no Lighthouse audit: {reason}"),
        None => "no Lighthouse audit yet".to_owned(),
    };
    flags.raise(
        Rule::AuditMissing,
        "Your website's speed and phone-friendliness could not be measured",
        "audit",
        observed,
        json!({ "audit_failure": facts.audit_failure }),
    );
}

fn live_site(facts: &ScoreFacts, final_url: &str, flags: &mut Flags<'_>) {
    // Transport security: one of the two, then expiry.
    if let Some(https) = &facts.https {
        if !https.uses_https {
            flags.raise(
                Rule::NoHttps,
                "Your website is not secure (no HTTPS): browsers mark it \"Not secure\"",
                "tech_scan",
                format!("the home page is served at {final_url} without HTTPS"),
                json!({ "final_url": final_url }),
            );
        } else if https.certificate_valid == Some(false) {
            let why = https
                .certificate_error
                .clone()
                .unwrap_or_else(|| "it does not validate".to_owned());
            flags.raise(
                Rule::InvalidCertificate,
                "Your website's security certificate is invalid: visitors see a warning",
                "tech_scan",
                format!("the HTTPS certificate is invalid: {why}"),
                json!({ "error": why, "issuer": https.certificate_issuer, "expires_at": https.certificate_expires_at }),
            );
        } else if let Some(expires) = https.certificate_expires_at {
            let days = (expires.date_naive() - facts.today).num_days();
            if (0..=CERTIFICATE_WARNING.num_days()).contains(&days) {
                flags.raise(
                    Rule::CertificateExpiring,
                    "Your website's security certificate is about to expire",
                    "tech_scan",
                    format!(
                        "the HTTPS certificate expires on {} ({days} days)",
                        expires.date_naive()
                    ),
                    json!({ "expires_at": expires, "issuer": https.certificate_issuer }),
                );
            }
        }
    }

    if let Some(perf) = &facts.performance {
        let device = if perf.form_factor == "desktop" {
            "on a computer"
        } else {
            "on a phone"
        };
        if let Some(p) = perf.performance {
            let lcp = perf
                .lcp_ms
                .map(|ms| format!("; the main content appears after {}", seconds(ms)))
                .unwrap_or_default();
            let data = json!({ "audit": "performance", "score": p, "lcp_ms": perf.lcp_ms, "fcp_ms": perf.fcp_ms, "tbt_ms": perf.tbt_ms, "form_factor": perf.form_factor });
            if p < 50 {
                flags.raise(
                    Rule::PerformancePoor,
                    format!("Your website is slow {device}"),
                    "audit",
                    format!("Lighthouse performance score {p}/100 {device}{lcp}"),
                    data,
                );
            } else if p < 90 {
                flags.raise(
                    Rule::PerformanceAverage,
                    format!("Your website could load faster {device}"),
                    "audit",
                    format!("Lighthouse performance score {p}/100 {device}{lcp}"),
                    data,
                );
            }
        }
        if perf.mobile_friendly == Some(false) {
            let mobile_audits: Vec<&str> = perf
                .failing_audits
                .iter()
                .filter(|a| {
                    ["viewport", "font-size", "tap-targets", "content-width"].contains(&a.id.as_str())
                })
                .map(|a| a.title.as_str())
                .collect();
            let observed = if mobile_audits.is_empty() {
                "Lighthouse found the page is not adapted to phones".to_owned()
            } else {
                format!("Lighthouse: {}", mobile_audits.join("; "))
            };
            flags.raise(
                Rule::NotMobileFriendly,
                "Your website is hard to use on a phone",
                "audit",
                observed,
                json!({ "failing_audits": perf.failing_audits.iter().filter(|a| ["viewport", "font-size", "tap-targets", "content-width"].contains(&a.id.as_str())).collect::<Vec<_>>() }),
            );
        }
        if let Some(seo) = perf.seo.filter(|s| *s < 70) {
            flags.raise(
                Rule::PoorSeo,
                "Search engines have trouble reading your website",
                "audit",
                format!("Lighthouse SEO score {seo}/100"),
                json!({ "audit": "seo", "score": seo }),
            );
        }
        if let Some(a11y) = perf.accessibility.filter(|s| *s < 70) {
            flags.raise(
                Rule::PoorAccessibility,
                "Some visitors cannot use your website easily (accessibility)",
                "audit",
                format!("Lighthouse accessibility score {a11y}/100"),
                json!({ "audit": "accessibility", "score": a11y }),
            );
        }
    } else {
        audit_missing(facts, flags);
    }

    // Outdated software: one flag per kind, citing every outdated product.
    for (kind, rule, title) in [
        (
            Kind::Cms,
            Rule::OutdatedCms,
            "Your website runs an outdated version of its software",
        ),
        (
            Kind::Platform,
            Rule::OutdatedPlatform,
            "Your website's server software is no longer supported",
        ),
        (
            Kind::Library,
            Rule::OutdatedLibrary,
            "Your website uses outdated code libraries with known security issues",
        ),
    ] {
        let found: Vec<(String, String, &Technology)> = facts
            .technologies
            .iter()
            .filter_map(|t| {
                let outdated = eol::outdated(&t.name, t.version.as_deref(), facts.today)?;
                (outdated.kind == kind).then(|| {
                    let version = t.version.clone().unwrap_or_default();
                    (
                        format!("{} {} {}", t.name, version, outdated.why),
                        t.evidence.clone(),
                        t,
                    )
                })
            })
            .collect();
        if !found.is_empty() {
            let observed = found
                .iter()
                .map(|(what, seen, _)| format!("{what} (seen in {seen})"))
                .collect::<Vec<_>>()
                .join("; ");
            let data = json!(
                found
                    .iter()
                    .map(|(_, seen, t)| json!({ "name": t.name, "version": t.version, "evidence": seen }))
                    .collect::<Vec<_>>()
            );
            flags.raise(rule, title, "tech_scan", observed, data);
        }
    }

    let names = |techs: &[&Technology]| {
        techs
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cms: Vec<&Technology> = facts
        .technologies
        .iter()
        .filter(|t| has_category(t, CMS_CATEGORIES))
        .collect();
    if cms.is_empty() {
        let seen: Vec<&Technology> = facts.technologies.iter().collect();
        flags.raise(
            Rule::NoCms,
            "Your website has no content management system: you cannot update it yourself",
            "tech_scan",
            if seen.is_empty() {
                "no content management system or site builder was detected on the home page".to_owned()
            } else {
                format!(
                    "no content management system or site builder was detected (found: {})",
                    names(&seen)
                )
            },
            json!({ "detected": seen.iter().map(|t| &t.name).collect::<Vec<_>>() }),
        );
    }
    let frameworks: Vec<&Technology> = facts
        .technologies
        .iter()
        .filter(|t| has_category(t, FRAMEWORK_CATEGORIES))
        .collect();
    if let Some(jquery) = facts
        .technologies
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case("jquery"))
        && frameworks.is_empty()
    {
        flags.raise(
            Rule::JqueryWithoutFramework,
            "Your website is built with older front-end technology",
            "tech_scan",
            format!(
                "jQuery{} ({}) without a modern JavaScript framework",
                jquery
                    .version
                    .as_ref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default(),
                jquery.evidence
            ),
            json!({ "name": jquery.name, "version": jquery.version, "evidence": jquery.evidence }),
        );
    }
    if !facts
        .technologies
        .iter()
        .any(|t| has_category(t, ANALYTICS_CATEGORIES))
    {
        flags.raise(
            Rule::NoAnalytics,
            "You cannot see how many people visit your website",
            "tech_scan",
            "no analytics or tag manager was found on the home page",
            json!({ "detected": facts.technologies.iter().map(|t| &t.name).collect::<Vec<_>>() }),
        );
    }

    // Credit: a modern, healthy site is a weak lead. Only when no problem of
    // transport, speed, mobile or outdated software was raised.
    let healthy = !flags.has(Rule::NoHttps)
        && !flags.has(Rule::InvalidCertificate)
        && !flags.has(Rule::CertificateExpiring)
        && !flags.has(Rule::PerformancePoor)
        && !flags.has(Rule::PerformanceAverage)
        && !flags.has(Rule::NotMobileFriendly)
        && !flags.has(Rule::OutdatedCms)
        && !flags.has(Rule::OutdatedPlatform)
        && !flags.has(Rule::OutdatedLibrary)
        && !flags.has(Rule::JqueryWithoutFramework);
    let audited_well = facts
        .performance
        .as_ref()
        .is_some_and(|p| p.performance.is_some_and(|s| s >= 90) && p.mobile_friendly == Some(true));
    let secure = facts
        .https
        .as_ref()
        .is_some_and(|h| h.uses_https && h.certificate_valid != Some(false));
    let current_cms: Vec<&Technology> = cms
        .iter()
        .copied()
        .filter(|t| {
            t.version.is_some() && eol::outdated(&t.name, t.version.as_deref(), facts.today).is_none()
        })
        .collect();
    let modern_stack: Vec<&Technology> = frameworks
        .iter()
        .copied()
        .chain(current_cms.iter().copied())
        .collect();
    if healthy && audited_well && secure && !modern_stack.is_empty() {
        flags.raise(
            Rule::ModernSite,
            "The website looks recently rebuilt",
            "audit",
            format!(
                "fast, mobile-friendly and secure, built with {}",
                names(&modern_stack)
            ),
            json!({ "stack": modern_stack.iter().map(|t| json!({ "name": t.name, "version": t.version })).collect::<Vec<_>>() }),
        );
    }
}

fn business_value(facts: &ScoreFacts, flags: &mut Flags<'_>) {
    if let Website::Live { final_url } = &facts.website {
        flags.raise(
            Rule::HasWebsite,
            "The business already invests in a website",
            "tech_scan",
            format!("a working website at {final_url}"),
            json!({ "final_url": final_url }),
        );
        let shops: Vec<&Technology> = facts
            .technologies
            .iter()
            .filter(|t| has_category(t, &["Ecommerce"]))
            .collect();
        if let Some(shop) = shops.first() {
            flags.raise(
                Rule::Ecommerce,
                "The business sells online",
                "tech_scan",
                format!("an online shop built with {} ({})", shop.name, shop.evidence),
                json!({ "name": shop.name, "evidence": shop.evidence }),
            );
        }
    }
    if let Some(domain) = &facts.domain {
        let label = domain.split('.').next().unwrap_or(domain);
        if !label.is_empty() && label.len() <= 8 {
            flags.raise(
                Rule::ShortDomain,
                "The business owns a short, memorable domain",
                "prospect",
                format!("the domain {domain} has a {}-character name", label.len()),
                json!({ "domain": domain }),
            );
        }
    }
    if facts.listing.rating.is_some_and(|r| r >= 4.0) && facts.listing.review_count >= 10 {
        let rating = facts.listing.rating.unwrap_or_default();
        flags.raise(
            Rule::EstablishedBusiness,
            "Customers rate the business well",
            "prospect",
            format!("rated {rating:.1} from {} reviews", facts.listing.review_count),
            json!({ "rating": rating, "review_count": facts.listing.review_count }),
        );
    }
    if facts.channel == Channel::Offline {
        flags.raise(
            Rule::MetInPerson,
            "We met the business in person",
            "prospect",
            "captured in person (offline channel)",
            json!({ "channel": "offline" }),
        );
    }
    if facts.has_address && !matches!(facts.website, Website::Live { .. }) {
        flags.raise(
            Rule::HasAddress,
            "The business has a physical location customers look up",
            "prospect",
            "a street address is known",
            json!({}),
        );
    }
}

fn engagement(facts: &ScoreFacts, flags: &mut Flags<'_>) {
    let c = &facts.contacts;
    let source = c
        .first_source
        .clone()
        .unwrap_or_else(|| "the lead's record".to_owned());
    if c.emails + c.phones + c.other > 0 {
        flags.raise(
            Rule::HasContact,
            "We can reach the business",
            "contacts",
            format!("{} contact details found, first on {source}", c.emails + c.phones + c.other),
            json!({ "emails": c.emails, "phones": c.phones, "other": c.other, "first_source": c.first_source }),
        );
    }
    if c.emails > 0 {
        flags.raise(
            Rule::HasEmail,
            "We have an e-mail address",
            "contacts",
            format!("{} e-mail address(es)", c.emails),
            json!({ "emails": c.emails }),
        );
    }
    if c.phones > 0 {
        flags.raise(
            Rule::HasPhone,
            "We have a phone number",
            "contacts",
            format!("{} phone number(s)", c.phones),
            json!({ "phones": c.phones }),
        );
    }
}

/// Expiry within this many days raises `certificate_expiring`.
pub const CERTIFICATE_WARNING: Duration = Duration::days(21);

#[cfg(test)]
#[path = "algorithm_tests.rs"]
mod tests;
