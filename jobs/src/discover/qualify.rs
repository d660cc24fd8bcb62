//! Qualification: is this business worth building a site for?
//!
//! WebMagic's `LeadQualifier` rules are the baseline, with their points:
//!
//! | rule | points |
//! |---|---|
//! | no website (social and directory pages do not count) | +30 |
//! | has an e-mail address | +25 |
//! | rating ≥ 4.5 / ≥ 4.0 / ≥ 3.5 | +20 / +15 / +10 |
//! | reviews ≥ 100 / ≥ 50 / ≥ 20 | +15 / +10 / +5 |
//! | a local business (its name has no chain keyword) | +10 |
//! | a chain | −50 (floor 0) |
//! | last review within `recent_review_days` | +5 |
//! | last review older than `stale_review_days` | −25 (floor 0); no date, no change |
//!
//! The score is clamped to 0–100. A lead qualifies when its score reaches
//! `min_score`, it has no website of its own (when `require_no_website`, as
//! WebMagic does: a business with a site goes to `tech_scan` instead), and
//! it is not closed. The thresholds are configuration; every rule that fired
//! is kept as a [`Reason`], so an unqualified lead says why.
//!
//! One deliberate change: chain keywords match whole words, so "Targeted
//! Fitness" or "International Bakery" are not taken for Target or National.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::business::{BusinessStatus, DiscoveredBusiness};

/// Thresholds (from `[discover.qualification]`; missing keys keep
/// WebMagic's defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualificationRules {
    /// A lead qualifies from this score up.
    pub min_score: i32,
    /// Only leads with no website of their own qualify.
    pub require_no_website: bool,
    /// Ratings for +20, +15 and +10 points.
    pub rating_tiers: [f64; 3],
    /// Review counts for +15, +10 and +5 points.
    pub review_tiers: [i32; 3],
    /// A last review at most this many days old earns the recency bonus.
    pub recent_review_days: i64,
    /// A last review older than this many days costs the staleness penalty.
    pub stale_review_days: i64,
    /// Chain and franchise names (lower case, whole words).
    pub chain_keywords: Vec<String>,
}

impl Default for QualificationRules {
    fn default() -> Self {
        Self {
            min_score: 50,
            require_no_website: true,
            rating_tiers: [4.5, 4.0, 3.5],
            review_tiers: [100, 50, 20],
            recent_review_days: 365,
            stale_review_days: 548,
            chain_keywords: DEFAULT_CHAIN_KEYWORDS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// WebMagic's chain and franchise keywords.
pub const DEFAULT_CHAIN_KEYWORDS: &[&str] = &[
    "mcdonald",
    "burger king",
    "subway",
    "starbucks",
    "wendy",
    "taco bell",
    "chipotle",
    "pizza hut",
    "domino",
    "papa john",
    "walmart",
    "target",
    "cvs",
    "walgreens",
    "kroger",
    "safeway",
    "marriott",
    "hilton",
    "holiday inn",
    "best western",
    "motel 6",
    "hertz",
    "enterprise",
    "budget",
    "avis",
    "national",
    "shell",
    "exxon",
    "chevron",
    "bp",
    "mobil",
    "home depot",
    "lowe",
    "ace hardware",
    "harbor freight",
    "petsmart",
    "petco",
    "bed bath",
    "bath & body works",
];

/// Points per rule (WebMagic's).
mod points {
    pub const NO_WEBSITE: i32 = 30;
    pub const EMAIL: i32 = 25;
    pub const RATING: [i32; 3] = [20, 15, 10];
    pub const REVIEWS: [i32; 3] = [15, 10, 5];
    pub const LOCAL: i32 = 10;
    pub const CHAIN_PENALTY: i32 = 50;
    pub const RECENT_REVIEW: i32 = 5;
    pub const STALE_REVIEW_PENALTY: i32 = 25;
}

/// One rule's contribution, stored in `prospects.qualification_reasons`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable rule name (`no_website`, `rating`, `chain`, …).
    pub rule: String,
    /// Points it added (negative: removed).
    pub points: i32,
    /// What was seen.
    pub detail: String,
}

/// A lead's qualification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualification {
    /// 0–100.
    pub score: i32,
    /// Whether it passed.
    pub qualified: bool,
    /// Every rule that fired, then what failed.
    pub reasons: Vec<Reason>,
}

impl Qualification {
    /// The reasons as stored.
    pub fn reasons_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.reasons).unwrap_or_else(|_| serde_json::Value::Array(vec![]))
    }
}

fn reason(rule: &str, points: i32, detail: impl Into<String>) -> Reason {
    Reason {
        rule: rule.to_owned(),
        points,
        detail: detail.into(),
    }
}

/// Score and qualify one business. `has_website` says whether its listed
/// link is a website of its own (see `website::classify`).
pub fn qualify(
    business: &DiscoveredBusiness,
    has_website: bool,
    rules: &QualificationRules,
    now: DateTime<Utc>,
) -> Qualification {
    let mut score = 0;
    let mut reasons = Vec::new();
    let mut add = |score: &mut i32, r: Reason| {
        *score += r.points;
        reasons.push(r);
    };

    if has_website {
        add(&mut score, reason("website", 0, "has a website of its own"));
    } else {
        add(
            &mut score,
            reason("no_website", points::NO_WEBSITE, "no website of its own"),
        );
    }

    if business.email.is_some() {
        add(
            &mut score,
            reason("email", points::EMAIL, "has an e-mail address"),
        );
    } else {
        add(&mut score, reason("email", 0, "no e-mail address"));
    }

    match business.rating {
        Some(rating) if rating > 0.0 => {
            let tier = rules.rating_tiers.iter().position(|t| rating >= *t);
            let pts = tier.map_or(0, |i| points::RATING[i]);
            add(&mut score, reason("rating", pts, format!("rating {rating:.1}")));
        }
        _ => add(&mut score, reason("rating", 0, "no rating")),
    }

    let reviews = business.review_count;
    let tier = rules.review_tiers.iter().position(|t| reviews >= *t);
    let pts = tier.map_or(0, |i| points::REVIEWS[i]);
    add(&mut score, reason("reviews", pts, format!("{reviews} reviews")));

    match chain_keyword(&business.name, &rules.chain_keywords) {
        None => add(&mut score, reason("local", points::LOCAL, "local business")),
        Some(keyword) => {
            let penalty = points::CHAIN_PENALTY.min(score);
            add(
                &mut score,
                reason("chain", -penalty, format!("chain or franchise (`{keyword}`)")),
            );
        }
    }

    if let Some(last) = business.last_review_at {
        let days = (now - last).num_days();
        if days <= rules.recent_review_days {
            add(
                &mut score,
                reason(
                    "review_recency",
                    points::RECENT_REVIEW,
                    format!("last review {days} days ago"),
                ),
            );
        } else if days > rules.stale_review_days {
            let penalty = points::STALE_REVIEW_PENALTY.min(score);
            add(
                &mut score,
                reason("review_recency", -penalty, format!("last review {days} days ago")),
            );
        }
    }

    let score = score.clamp(0, 100);
    let mut qualified = score >= rules.min_score;
    if !qualified {
        reasons.push(reason(
            "below_min_score",
            0,
            format!("score {score} is below {}", rules.min_score),
        ));
    }
    if rules.require_no_website && has_website {
        qualified = false;
        reasons.push(reason(
            "requires_no_website",
            0,
            "has a website: goes to tech_scan, not site building",
        ));
    }
    if let Some(status @ (BusinessStatus::ClosedTemporarily | BusinessStatus::ClosedPermanently)) =
        business.business_status
    {
        qualified = false;
        reasons.push(reason("closed", 0, format!("listed as {}", status.as_str())));
    }
    Qualification {
        score,
        qualified,
        reasons,
    }
}

/// The chain keyword in `name`, matched as whole words.
pub fn chain_keyword<'k>(name: &str, keywords: &'k [String]) -> Option<&'k str> {
    let words = normalise(name);
    keywords.iter().map(String::as_str).find(|keyword| {
        let keyword = normalise(keyword);
        !keyword.is_empty() && format!(" {words} ").contains(&format!(" {keyword} "))
    })
}

/// Lower case, every run of non-alphanumeric characters one space; `&` kept
/// as a word.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        if c.is_alphanumeric() || c == '&' {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::{
        discover::business::{BusinessDraft, ProviderKind},
        domain::EmailAddress,
    };

    fn business(name: &str) -> DiscoveredBusiness {
        BusinessDraft {
            place_id: Some("ChIJx".into()),
            name: Some(name.into()),
            ..BusinessDraft::default()
        }
        .check(ProviderKind::Outscraper)
        .unwrap()
    }

    fn rules_of(q: &Qualification) -> Vec<(&str, i32)> {
        q.reasons.iter().map(|r| (r.rule.as_str(), r.points)).collect()
    }

    #[test]
    fn the_best_lead_scores_the_full_hundred() {
        let mut b = business("Boulangerie Dupont");
        b.email = Some(EmailAddress::parse("info@dupont.lu").unwrap());
        b.rating = Some(4.8);
        b.review_count = 230;
        b.last_review_at = Some(Utc::now() - Duration::days(10));
        let q = qualify(&b, false, &QualificationRules::default(), Utc::now());
        // 30 + 25 + 20 + 15 + 10 + 5 = 105, clamped.
        assert_eq!(q.score, 100);
        assert!(q.qualified);
    }

    #[test]
    fn each_rule_adds_its_points() {
        let now = Utc::now();
        let rules = QualificationRules::default();
        type Tweak = Box<dyn Fn(&mut DiscoveredBusiness)>;
        let cases: Vec<(&str, Tweak, bool, i32)> = vec![
            ("bare listing", Box::new(|_| {}), false, 40),
            ("with a website", Box::new(|_| {}), true, 10),
            ("rating 4.5", Box::new(|b| b.rating = Some(4.5)), false, 60),
            ("rating 4.2", Box::new(|b| b.rating = Some(4.2)), false, 55),
            ("rating 3.5", Box::new(|b| b.rating = Some(3.5)), false, 50),
            ("rating 3.0", Box::new(|b| b.rating = Some(3.0)), false, 40),
            ("100 reviews", Box::new(|b| b.review_count = 100), false, 55),
            ("50 reviews", Box::new(|b| b.review_count = 50), false, 50),
            ("20 reviews", Box::new(|b| b.review_count = 20), false, 45),
            ("19 reviews", Box::new(|b| b.review_count = 19), false, 40),
            (
                "recent review",
                Box::new(move |b| b.last_review_at = Some(now - Duration::days(30))),
                false,
                45,
            ),
            (
                "review in the grey zone",
                Box::new(move |b| b.last_review_at = Some(now - Duration::days(400))),
                false,
                40,
            ),
            (
                "stale review",
                Box::new(move |b| b.last_review_at = Some(now - Duration::days(700))),
                false,
                15,
            ),
        ];
        for (case, tweak, has_website, expected) in cases {
            let mut b = business("Garage Central");
            tweak(&mut b);
            let q = qualify(&b, has_website, &rules, now);
            assert_eq!(q.score, expected, "{case}: {:?}", rules_of(&q));
        }
    }

    #[test]
    fn chains_are_penalised_by_whole_words() {
        let rules = QualificationRules::default();
        let q = qualify(&business("McDonald's Rue de Paris"), false, &rules, Utc::now());
        assert!(rules_of(&q).contains(&("chain", -30)), "{:?}", rules_of(&q));
        assert_eq!(q.score, 0);
        assert!(!q.qualified);
        for local in [
            "Targeted Fitness",
            "International Bakery",
            "Shelly's Nails",
            "BPM Studio",
        ] {
            let q = qualify(&business(local), false, &rules, Utc::now());
            assert!(
                rules_of(&q).contains(&("local", 10)),
                "{local}: {:?}",
                rules_of(&q)
            );
        }
        assert_eq!(
            chain_keyword("Bath & Body Works - Mall", &rules.chain_keywords),
            Some("bath & body works")
        );
    }

    #[test]
    fn unqualified_leads_carry_their_reasons() {
        let rules = QualificationRules::default();
        let mut b = business("Garage Central");
        b.rating = Some(4.9);
        b.review_count = 120;
        let q = qualify(&b, true, &rules, Utc::now());
        assert!(!q.qualified);
        assert!(q.reasons.iter().any(|r| r.rule == "requires_no_website"));

        let mut closed = business("Garage Central");
        closed.rating = Some(4.9);
        closed.business_status = Some(BusinessStatus::ClosedPermanently);
        let q = qualify(&closed, false, &rules, Utc::now());
        assert!(q.score >= rules.min_score);
        assert!(!q.qualified);
        assert_eq!(q.reasons.last().unwrap().rule, "closed");

        let q = qualify(&business("Garage Central"), false, &rules, Utc::now());
        assert!(!q.qualified);
        assert!(q.reasons.iter().any(|r| r.rule == "below_min_score"));
        let json = q.reasons_json();
        assert_eq!(json[0]["rule"], "no_website");
        assert_eq!(json[0]["points"], 30);
    }

    #[test]
    fn thresholds_come_from_the_rules() {
        let rules = QualificationRules {
            min_score: 30,
            rating_tiers: [4.9, 4.8, 4.7],
            ..QualificationRules::default()
        };
        let mut b = business("Garage Central");
        b.rating = Some(4.6);
        let q = qualify(&b, false, &rules, Utc::now());
        assert_eq!(q.score, 40);
        assert!(q.qualified);
    }
}
