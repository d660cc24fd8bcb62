use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::score::facts::{Contacts, FailingAudit, Https, Listing, Performance};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn tech(name: &str, version: Option<&str>, category: &str) -> Technology {
    Technology {
        name: name.into(),
        version: version.map(Into::into),
        categories: vec![category.into()],
        evidence: format!("{name} pattern on the home page"),
    }
}

fn live(domain: &str) -> ScoreFacts {
    ScoreFacts {
        channel: Channel::Digital,
        domain: Some(domain.into()),
        website: Website::Live {
            final_url: format!("https://{domain}/"),
        },
        https: Some(Https {
            uses_https: true,
            certificate_valid: Some(true),
            certificate_error: None,
            certificate_issuer: Some("R11".into()),
            certificate_expires_at: Some(Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).unwrap()),
        }),
        technologies: vec![],
        performance: None,
        audit_failure: None,
        contacts: Contacts::default(),
        listing: Listing::default(),
        has_address: false,
        today: today(),
    }
}

fn perf(score: u8, mobile: bool) -> Performance {
    Performance {
        performance: Some(score),
        accessibility: Some(90),
        seo: Some(92),
        lcp_ms: Some(7_400),
        fcp_ms: Some(2_100),
        tbt_ms: Some(900),
        cls: Some(0.3),
        mobile_friendly: Some(mobile),
        form_factor: "mobile".into(),
        failing_audits: if mobile {
            vec![]
        } else {
            vec![FailingAudit {
                id: "viewport".into(),
                title: "Does not have a `<meta name=\"viewport\">` tag".into(),
                display_value: None,
            }]
        },
    }
}

fn codes(card: &ScoreCard) -> Vec<&str> {
    card.flags.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn a_neglected_wordpress_site_is_a_hot_lead_with_every_reason_cited() {
    // Arrange
    let mut facts = live("bakery.lu");
    facts.website = Website::Live {
        final_url: "http://bakery.lu/".into(),
    };
    facts.https = Some(Https {
        uses_https: false,
        certificate_valid: None,
        certificate_error: None,
        certificate_issuer: None,
        certificate_expires_at: None,
    });
    facts.performance = Some(Performance {
        seo: Some(61),
        ..perf(31, false)
    });
    facts.technologies = vec![
        tech("WordPress", Some("4.9.8"), "CMS"),
        tech("PHP", Some("7.4.33"), "Programming languages"),
        tech("jQuery", Some("1.12.4"), "JavaScript libraries"),
        tech("Apache HTTP Server", Some("2.4.41"), "Web servers"),
    ];
    facts.contacts = Contacts {
        emails: 1,
        phones: 1,
        other: 0,
        first_source: Some("https://bakery.lu/contact".into()),
    };

    // Act
    let card = score(&facts, &ScoreConfig::default());

    // Assert
    assert_eq!(
        codes(&card),
        vec![
            "no_https",
            "performance_poor",
            "not_mobile_friendly",
            "poor_seo",
            "outdated_cms",
            "outdated_platform",
            "outdated_library",
            "jquery_without_framework",
            "no_analytics",
            "has_website",
            "short_domain",
            "has_contact",
            "has_email",
            "has_phone",
        ]
    );
    assert_eq!(card.component(Component::TechnicalHealth), 37);
    assert_eq!(
        card.component(Component::Modernity),
        25,
        "27 points, capped at 25"
    );
    assert_eq!(card.component(Component::BusinessValue), 15);
    assert_eq!(card.component(Component::Engagement), 10);
    assert_eq!(card.score.get(), 87);
    assert_eq!(card.tier, Tier::Hot);
    let cms = card.flags.iter().find(|f| f.code == "outdated_cms").unwrap();
    assert!(
        cms.evidence.observed.contains("WordPress 4.9.8"),
        "{}",
        cms.evidence.observed
    );
    let platform = card.flags.iter().find(|f| f.code == "outdated_platform").unwrap();
    assert!(platform.evidence.observed.contains("28 November 2022"));
    let slow = card.flags.iter().find(|f| f.code == "performance_poor").unwrap();
    assert_eq!(
        slow.evidence.observed,
        "Lighthouse performance score 31/100 on a phone; the main content appears after 7.4 s"
    );
}

#[test]
fn a_modern_fast_site_is_a_cold_lead_with_the_rebuild_credited() {
    let mut facts = live("modern-studio.lu");
    facts.performance = Some(perf(96, true));
    facts.technologies = vec![
        tech("Next.js", Some("15.1"), "JavaScript frameworks"),
        tech("React", None, "JavaScript frameworks"),
        tech("Google Analytics", None, "Analytics"),
        tech("Vercel", None, "PaaS"),
    ];
    let card = score(&facts, &ScoreConfig::default());
    assert!(codes(&card).contains(&"modern_site"));
    assert!(codes(&card).contains(&"no_cms"));
    assert_eq!(card.component(Component::TechnicalHealth), 0);
    assert_eq!(
        card.component(Component::Modernity),
        0,
        "no_cms 4 minus the credit, floored at 0"
    );
    assert_eq!(card.tier, Tier::Cold);
    assert!(card.problems().all(|f| f.kind == FlagKind::Problem));
}

#[test]
fn a_parked_domain_scores_as_a_site_to_build() {
    let mut facts = live("shop.lu");
    facts.website = Website::Parked {
        detail: "\"This domain is for sale\"".into(),
    };
    facts.https = None;
    let card = score(&facts, &ScoreConfig::default());
    assert_eq!(
        codes(&card),
        vec!["parked_domain", "no_working_site", "short_domain"]
    );
    assert_eq!(card.score.get(), 50);
    assert_eq!(card.tier, Tier::Warm);
}

#[test]
fn an_offline_capture_uses_the_offline_table() {
    let facts = ScoreFacts {
        channel: Channel::Offline,
        domain: None,
        website: Website::None,
        https: None,
        technologies: vec![],
        performance: None,
        audit_failure: None,
        contacts: Contacts {
            emails: 0,
            phones: 1,
            other: 0,
            first_source: None,
        },
        listing: Listing::default(),
        has_address: true,
        today: today(),
    };
    let card = score(&facts, &ScoreConfig::default());
    assert_eq!(
        codes(&card),
        vec![
            "no_website",
            "no_working_site",
            "met_in_person",
            "has_address",
            "has_contact",
            "has_phone"
        ]
    );
    assert_eq!(card.score.get(), 66);
    assert_eq!(card.tier, Tier::Hot);
}

#[test]
fn an_expiring_or_invalid_certificate_is_flagged_with_its_details() {
    let mut facts = live("example.lu");
    facts.https.as_mut().unwrap().certificate_expires_at =
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
    let card = score(&facts, &ScoreConfig::default());
    let flag = card
        .flags
        .iter()
        .find(|f| f.code == "certificate_expiring")
        .unwrap();
    assert!(flag.evidence.observed.contains("2026-12-01 (9 days)"));

    let https = facts.https.as_mut().unwrap();
    https.certificate_valid = Some(false);
    https.certificate_error = Some("self-signed certificate".into());
    let card = score(&facts, &ScoreConfig::default());
    assert!(codes(&card).contains(&"invalid_certificate"));
    assert!(!codes(&card).contains(&"certificate_expiring"));
}

#[test]
fn weights_and_tiers_come_from_config() {
    let mut config = ScoreConfig::default();
    config.points.insert(Rule::NoAnalytics, 9);
    config.tiers = Tiers { hot: 90, warm: 5 };
    let card = score(&live("example.lu"), &config);
    let flag = card.flags.iter().find(|f| f.code == "no_analytics").unwrap();
    assert_eq!(flag.points, 9);
    assert_eq!(card.tier, Tier::Warm);
}

// ----- properties ----------------------------------------------------------

fn technology_pool() -> Vec<Technology> {
    vec![
        tech("WordPress", Some("6.6.1"), "CMS"),
        tech("WordPress", Some("5.2"), "CMS"),
        tech("PHP", Some("8.3.1"), "Programming languages"),
        tech("jQuery", Some("3.7.1"), "JavaScript libraries"),
        tech("React", None, "JavaScript frameworks"),
        tech("Google Analytics", None, "Analytics"),
        tech("Shopify", None, "Ecommerce"),
        tech("Nginx", Some("1.25"), "Web servers"),
    ]
}

prop_compose! {
    fn live_facts()(
        uses_https in any::<bool>(),
        valid in proptest::option::of(any::<bool>()),
        expires_in in 0i64..400,
        audited in any::<bool>(),
        performance in 0u8..=100,
        seo in 0u8..=100,
        accessibility in 0u8..=100,
        mobile in proptest::option::of(any::<bool>()),
        techs in proptest::sample::subsequence(technology_pool(), 0..=8),
        emails in 0u32..3,
        phones in 0u32..3,
        short in any::<bool>(),
    ) -> ScoreFacts {
        let domain = if short { "abc.lu" } else { "a-rather-long-business-name.lu" };
        let mut facts = live(domain);
        facts.https = Some(Https {
            uses_https,
            certificate_valid: valid,
            certificate_error: None,
            certificate_issuer: None,
            certificate_expires_at: Some(Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap() + chrono::Duration::days(expires_in)),
        });
        facts.performance = audited.then(|| Performance {
            performance: Some(performance),
            accessibility: Some(accessibility),
            seo: Some(seo),
            lcp_ms: Some(2_000),
            fcp_ms: Some(900),
            tbt_ms: Some(100),
            cls: Some(0.01),
            mobile_friendly: mobile,
            form_factor: "mobile".into(),
            failing_audits: vec![],
        });
        facts.technologies = techs;
        facts.contacts = Contacts { emails, phones, other: 0, first_source: None };
        facts
    }
}

/// Ways to make a site worse.
fn add_problem(facts: &mut ScoreFacts, which: u8) {
    match which % 8 {
        0 => facts.https.as_mut().unwrap().uses_https = false,
        1 => {
            let https = facts.https.as_mut().unwrap();
            if https.uses_https {
                https.certificate_valid = Some(false);
            }
        }
        2 => {
            if let Some(p) = facts.performance.as_mut() {
                p.performance = p.performance.map(|s| s.saturating_sub(30));
            }
        }
        3 => {
            if let Some(p) = facts.performance.as_mut() {
                p.mobile_friendly = Some(false);
            }
        }
        4 => facts
            .technologies
            .push(tech("PHP", Some("7.4.33"), "Programming languages")),
        5 => facts
            .technologies
            .push(tech("jQuery", Some("1.12.4"), "JavaScript libraries")),
        6 => facts
            .technologies
            .retain(|t| !t.categories.iter().any(|c| c == "Analytics")),
        _ => {
            if let Some(p) = facts.performance.as_mut() {
                p.seo = p.seo.map(|s| s.saturating_sub(40));
            }
        }
    }
}

proptest! {
    #[test]
    fn scores_stay_within_0_to_100_and_components_add_up(facts in live_facts()) {
        let config = ScoreConfig::default();
        let card = score(&facts, &config);
        prop_assert!(card.score.get() <= 100);
        let sum: u32 = card.components.values().map(|v| u32::from(*v)).sum();
        prop_assert_eq!(sum, u32::from(card.score.get()));
        for component in Component::ALL {
            prop_assert!(i32::from(card.component(component)) <= config.cap(component));
        }
        prop_assert!(card.flags.iter().all(|f| !f.evidence.observed.trim().is_empty() && !f.title.is_empty()));
    }

    #[test]
    fn adding_a_problem_never_lowers_the_score(facts in live_facts(), which in 0u8..8) {
        let config = ScoreConfig::default();
        let before = score(&facts, &config);
        let mut worse = facts.clone();
        add_problem(&mut worse, which);
        let after = score(&worse, &config);
        prop_assert!(
            after.score >= before.score,
            "problem {} lowered {} to {}: {:?} -> {:?}",
            which, before.score, after.score, codes(&before), codes(&after)
        );
    }
}

#[test]
fn a_site_scored_without_its_audit_says_why_and_the_signal_adds_nothing() {
    // Arrange: the same live site, audited; not audited; its audit failed.
    let mut audited = live("bakery.lu");
    audited.performance = Some(perf(95, true));
    let not_yet = live("bakery.lu");
    let mut failed = live("bakery.lu");
    failed.audit_failure =
        Some("Lighthouse could not audit https://bakery.lu/: … (ERRORED_DOCUMENT_REQUEST)".into());
    let config = ScoreConfig::default();

    // Act
    let (audited, not_yet, failed) = (
        score(&audited, &config),
        score(&not_yet, &config),
        score(&failed, &config),
    );

    // Assert
    assert!(!codes(&audited).contains(&"audit_missing"));
    let missing = |card: &ScoreCard| {
        card.flags
            .iter()
            .find(|f| f.code == "audit_missing")
            .cloned()
            .unwrap()
    };
    assert_eq!(missing(&not_yet).evidence.observed, "no Lighthouse audit yet");
    let flag = missing(&failed);
    assert!(
        flag.evidence.observed.contains("ERRORED_DOCUMENT_REQUEST"),
        "{flag:?}"
    );
    assert_eq!((flag.points, flag.kind), (0, FlagKind::Signal));
    assert_eq!(not_yet.score, failed.score, "the reason changes no points");
}
