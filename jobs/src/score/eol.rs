//! Outdated software, judged by version against published end-of-life dates
//! and known vulnerable releases. Conservative on purpose: an outreach e-mail
//! quotes these, so a claim needs a version and a published date or advisory.
//!
//! Dates are the vendors' announced end of (security) support; the table was
//! reviewed in November 2026 and is compared with the scoring day, so a
//! branch becomes outdated on its own as time passes.

use chrono::NaiveDate;

/// What kind of software it is (decides which score rule uses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A CMS, shop system or site builder with versions.
    Cms,
    /// A server-side language or web server.
    Platform,
    /// A front-end library or framework.
    Library,
}

/// Why a version is outdated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outdated {
    /// Which rule family.
    pub kind: Kind,
    /// The sentence an e-mail can quote after the product and version.
    pub why: String,
}

struct Branch {
    /// Technology names (lower-case) this row applies to.
    names: &'static [&'static str],
    kind: Kind,
    /// Versions below this are covered by the row…
    below: &'static [u32],
    /// …and are outdated from this day on (None: always, e.g. a vulnerable range).
    since: Option<(i32, u32, u32)>,
    why: &'static str,
}

const TABLE: &[Branch] = &[
    // CMS and shop systems
    Branch {
        names: &["wordpress"],
        kind: Kind::Cms,
        below: &[6, 0],
        since: None,
        why: "is more than four years old (WordPress 6.0 shipped in May 2022) and misses years of security releases",
    },
    Branch {
        names: &["drupal"],
        kind: Kind::Cms,
        below: &[8],
        since: Some((2025, 1, 5)),
        why: "reached end of life on 5 January 2025 (Drupal 7)",
    },
    Branch {
        names: &["drupal"],
        kind: Kind::Cms,
        below: &[10],
        since: Some((2023, 11, 1)),
        why: "reached end of life on 1 November 2023 (Drupal 9)",
    },
    Branch {
        names: &["joomla", "joomla!"],
        kind: Kind::Cms,
        below: &[4],
        since: Some((2023, 8, 17)),
        why: "reached end of life on 17 August 2023 (Joomla 3)",
    },
    Branch {
        names: &["joomla", "joomla!"],
        kind: Kind::Cms,
        below: &[5],
        since: Some((2025, 10, 17)),
        why: "reached end of life on 17 October 2025 (Joomla 4)",
    },
    Branch {
        names: &["magento", "adobe commerce"],
        kind: Kind::Cms,
        below: &[2],
        since: Some((2020, 6, 30)),
        why: "reached end of life on 30 June 2020 (Magento 1)",
    },
    Branch {
        names: &["typo3", "typo3 cms"],
        kind: Kind::Cms,
        below: &[12],
        since: Some((2024, 10, 31)),
        why: "is out of free support since 31 October 2024 (TYPO3 11)",
    },
    Branch {
        names: &["typo3", "typo3 cms"],
        kind: Kind::Cms,
        below: &[13],
        since: Some((2026, 4, 30)),
        why: "is out of free support since 30 April 2026 (TYPO3 12)",
    },
    Branch {
        names: &["prestashop"],
        kind: Kind::Cms,
        below: &[1, 7],
        since: Some((2021, 6, 30)),
        why: "is no longer maintained (PrestaShop 1.6)",
    },
    // Languages and servers
    Branch {
        names: &["php"],
        kind: Kind::Platform,
        below: &[8, 0],
        since: Some((2022, 11, 28)),
        why: "reached end of life on 28 November 2022 (PHP 7.4 and older)",
    },
    Branch {
        names: &["php"],
        kind: Kind::Platform,
        below: &[8, 1],
        since: Some((2023, 11, 26)),
        why: "reached end of life on 26 November 2023 (PHP 8.0)",
    },
    Branch {
        names: &["php"],
        kind: Kind::Platform,
        below: &[8, 2],
        since: Some((2025, 12, 31)),
        why: "reached end of life on 31 December 2025 (PHP 8.1)",
    },
    Branch {
        names: &["php"],
        kind: Kind::Platform,
        below: &[8, 3],
        since: Some((2026, 12, 31)),
        why: "reached end of life on 31 December 2026 (PHP 8.2)",
    },
    Branch {
        names: &["apache", "apache http server", "apache httpd"],
        kind: Kind::Platform,
        below: &[2, 4],
        since: Some((2018, 1, 1)),
        why: "reached end of life on 1 January 2018 (Apache 2.2)",
    },
    Branch {
        names: &["iis", "microsoft iis"],
        kind: Kind::Platform,
        below: &[10],
        since: Some((2023, 10, 10)),
        why: "runs on a Windows Server release out of support since 10 October 2023",
    },
    // Front-end libraries
    Branch {
        names: &["jquery"],
        kind: Kind::Library,
        below: &[3, 5],
        since: None,
        why: "has published cross-site scripting vulnerabilities (CVE-2020-11022, fixed in 3.5.0)",
    },
    Branch {
        names: &["angularjs"],
        kind: Kind::Library,
        below: &[2],
        since: Some((2021, 12, 31)),
        why: "reached end of life on 31 December 2021 (AngularJS)",
    },
    Branch {
        names: &["bootstrap"],
        kind: Kind::Library,
        below: &[4],
        since: Some((2019, 7, 24)),
        why: "reached end of life on 24 July 2019 (Bootstrap 3)",
    },
    Branch {
        names: &["bootstrap"],
        kind: Kind::Library,
        below: &[5],
        since: Some((2023, 1, 1)),
        why: "reached end of life on 1 January 2023 (Bootstrap 4)",
    },
];

/// Parse the leading numeric components of a version (`7.4.33-1+deb11` → 7, 4, 33).
pub fn parse_version(version: &str) -> Option<Vec<u32>> {
    let trimmed = version.trim().trim_start_matches(['v', 'V']);
    let mut parts = Vec::new();
    for piece in trimmed.split('.') {
        let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            break;
        }
        parts.push(digits.parse().ok()?);
        if digits.len() < piece.len() {
            break;
        }
    }
    if parts.is_empty() { None } else { Some(parts) }
}

/// `a < b` comparing component by component (missing components are 0).
fn less_than(a: &[u32], b: &[u32]) -> bool {
    let len = a.len().max(b.len());
    for i in 0..len {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        if x != y {
            return x < y;
        }
    }
    false
}

/// Whether `name` at `version` is outdated on `today`, and why. Unknown
/// products, missing or unparsable versions are never called outdated.
pub fn outdated(name: &str, version: Option<&str>, today: NaiveDate) -> Option<Outdated> {
    let version = parse_version(version?)?;
    let name = name.trim().to_lowercase();
    // The most specific (highest) branch that applies wins.
    TABLE
        .iter()
        .filter(|b| b.names.contains(&name.as_str()))
        .filter(|b| less_than(&version, b.below))
        .filter(|b| match b.since {
            None => true,
            Some((y, m, d)) => NaiveDate::from_ymd_opt(y, m, d).is_some_and(|since| today >= since),
        })
        .min_by(|a, b| {
            // Smallest `below` = the row that names the exact branch.
            if less_than(a.below, b.below) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        })
        .map(|b| Outdated {
            kind: b.kind,
            why: b.why.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn versions_parse_their_numeric_prefix() {
        assert_eq!(parse_version("7.4.33-1+deb11u1"), Some(vec![7, 4, 33]));
        assert_eq!(parse_version("v3.4.1"), Some(vec![3, 4, 1]));
        assert_eq!(parse_version("6"), Some(vec![6]));
        assert_eq!(parse_version("5.9rc2"), Some(vec![5, 9]));
        assert_eq!(parse_version("latest"), None);
    }

    #[test]
    fn end_of_life_follows_the_scoring_day() {
        let today = day(2026, 11, 22);
        assert!(
            outdated("PHP", Some("7.4.33"), today)
                .unwrap()
                .why
                .contains("28 November 2022")
        );
        assert!(
            outdated("PHP", Some("8.1.2"), today)
                .unwrap()
                .why
                .contains("31 December 2025")
        );
        assert_eq!(
            outdated("PHP", Some("8.2.10"), today),
            None,
            "8.2 is supported until the end of 2026"
        );
        assert!(outdated("PHP", Some("8.2.10"), day(2027, 1, 1)).is_some());
        assert_eq!(outdated("PHP", Some("8.3.0"), today), None);
    }

    #[test]
    fn the_exact_branch_explains_itself() {
        let today = day(2026, 11, 22);
        assert!(
            outdated("Drupal", Some("7.98"), today)
                .unwrap()
                .why
                .contains("Drupal 7")
        );
        assert!(
            outdated("Drupal", Some("9.5"), today)
                .unwrap()
                .why
                .contains("Drupal 9")
        );
        assert_eq!(outdated("Drupal", Some("10.3"), today), None);
        assert!(
            outdated("Joomla", Some("3.10.12"), today)
                .unwrap()
                .why
                .contains("Joomla 3")
        );
    }

    #[test]
    fn vulnerable_releases_are_outdated_whatever_the_day() {
        assert_eq!(
            outdated("jQuery", Some("1.12.4"), day(2020, 1, 1)).unwrap().kind,
            Kind::Library
        );
        assert_eq!(outdated("jQuery", Some("3.5.0"), day(2026, 1, 1)), None);
        assert!(outdated("WordPress", Some("5.8.3"), day(2026, 1, 1)).is_some());
        assert_eq!(outdated("WordPress", Some("6.5"), day(2026, 1, 1)), None);
    }

    #[test]
    fn no_version_no_claim() {
        let today = day(2026, 11, 22);
        assert_eq!(outdated("WordPress", None, today), None);
        assert_eq!(outdated("PHP", Some(""), today), None);
        assert_eq!(outdated("Ghost", Some("1.0"), today), None);
    }
}
