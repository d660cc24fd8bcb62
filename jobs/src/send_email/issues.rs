//! The `{issues}` text: the lead's top problems, from the score's reason
//! flags, in the template's language.
//!
//! Only [`FlagKind::Problem`] flags that carry evidence are quoted (a
//! signal such as "has an e-mail address" is no issue, and a claim we
//! cannot back must not reach a prospect). The highest points come first;
//! ties keep the score's order. `no_working_site` is left out when another
//! "no site" flag already says so. English uses the flag's own title; French
//! and German have a sentence per [`Rule`] (the `match` is exhaustive, so a
//! new rule cannot ship untranslated), and a flag whose code is unknown
//! (a newer scorer) is left out of those rather than quoted in English.
//! Figures from the evidence (a Lighthouse score, versions, a date) follow
//! in brackets.

use serde_json::Value;

use super::language::Language;
use crate::score::{FlagKind, ReasonFlag, Rule};

/// The problem lines, best first, at most `max`, without list markers.
pub fn issue_lines(flags: &[ReasonFlag], language: Language, max: usize) -> Vec<String> {
    let no_site = [
        Rule::SiteUnreachable,
        Rule::ParkedDomain,
        Rule::SocialOnly,
        Rule::NoWebsite,
    ];
    let has_no_site_flag = flags.iter().any(|f| no_site.iter().any(|r| r.code() == f.code));
    let mut problems: Vec<&ReasonFlag> = flags
        .iter()
        .filter(|f| f.kind == FlagKind::Problem && !f.evidence.observed.trim().is_empty())
        .filter(|f| !(has_no_site_flag && f.code == Rule::NoWorkingSite.code()))
        .collect();
    problems.sort_by_key(|f| std::cmp::Reverse(f.points));
    problems
        .into_iter()
        .filter_map(|f| line(f, language))
        .take(max)
        .collect()
}

/// [`issue_lines`] as the `{issues}` value: one `- ` line each. Empty when
/// no problem qualifies (the template render then reports `{issues}` as
/// missing, so no message says "we found these issues:" over nothing).
pub fn issues_text(flags: &[ReasonFlag], language: Language, max: usize) -> String {
    issue_lines(flags, language, max)
        .iter()
        .map(|l| format!("- {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rule_of(code: &str) -> Option<Rule> {
    Rule::ALL.iter().copied().find(|r| r.code() == code)
}

fn line(flag: &ReasonFlag, language: Language) -> Option<String> {
    let rule = rule_of(&flag.code);
    let sentence = match language {
        Language::En => flag.title.trim().to_owned(),
        Language::Fr | Language::De => translated(rule?, language, &flag.evidence.data)?.to_owned(),
    };
    if sentence.is_empty() {
        return None;
    }
    Some(
        match rule.and_then(|r| detail(r, language, &flag.evidence.data)) {
            Some(detail) => format!("{sentence} ({detail})"),
            None => sentence,
        },
    )
}

fn is_desktop(data: &Value) -> bool {
    data.get("form_factor").and_then(Value::as_str) == Some("desktop")
}

fn translated(rule: Rule, language: Language, data: &Value) -> Option<&'static str> {
    let fr = language == Language::Fr;
    let pick = |fr_text: &'static str, de_text: &'static str| Some(if fr { fr_text } else { de_text });
    match rule {
        Rule::NoHttps => pick(
            "Votre site n'est pas sécurisé (pas de HTTPS) : les navigateurs l'affichent « Non sécurisé »",
            "Ihre Website ist nicht verschlüsselt (kein HTTPS): Browser zeigen „Nicht sicher“ an",
        ),
        Rule::InvalidCertificate => pick(
            "Le certificat de sécurité de votre site n'est pas valide : les visiteurs voient un avertissement",
            "Das Sicherheitszertifikat Ihrer Website ist ungültig: Besucher sehen eine Warnung",
        ),
        Rule::CertificateExpiring => pick(
            "Le certificat de sécurité de votre site expire bientôt",
            "Das Sicherheitszertifikat Ihrer Website läuft bald ab",
        ),
        Rule::PerformancePoor if is_desktop(data) => pick(
            "Votre site est lent sur ordinateur",
            "Ihre Website lädt am Computer langsam",
        ),
        Rule::PerformancePoor => pick(
            "Votre site est lent sur téléphone",
            "Ihre Website lädt auf dem Handy langsam",
        ),
        Rule::PerformanceAverage if is_desktop(data) => pick(
            "Votre site pourrait se charger plus vite sur ordinateur",
            "Ihre Website könnte am Computer schneller laden",
        ),
        Rule::PerformanceAverage => pick(
            "Votre site pourrait se charger plus vite sur téléphone",
            "Ihre Website könnte auf dem Handy schneller laden",
        ),
        Rule::NotMobileFriendly => pick(
            "Votre site est difficile à utiliser sur téléphone",
            "Ihre Website ist auf dem Handy schwer zu bedienen",
        ),
        Rule::PoorSeo => pick(
            "Les moteurs de recherche lisent mal votre site",
            "Suchmaschinen können Ihre Website schlecht lesen",
        ),
        Rule::PoorAccessibility => pick(
            "Certains visiteurs ont du mal à utiliser votre site (accessibilité)",
            "Manche Besucher können Ihre Website nur schwer nutzen (Barrierefreiheit)",
        ),
        Rule::SiteUnreachable => pick("Votre site ne s'affiche pas", "Ihre Website lädt nicht"),
        Rule::ParkedDomain => pick(
            "Votre domaine affiche une page de parking au lieu d'un site",
            "Ihre Domain zeigt eine Parkseite statt einer Website",
        ),
        Rule::SocialOnly => pick(
            "Votre seule présence en ligne est une page de réseau social",
            "Ihre einzige Präsenz im Netz ist eine Social-Media-Seite",
        ),
        Rule::NoWebsite => pick(
            "Votre entreprise n'a pas de site web",
            "Ihr Unternehmen hat keine Website",
        ),
        Rule::OutdatedCms => pick(
            "Votre site utilise une version obsolète de son logiciel",
            "Ihre Website verwendet eine veraltete Version ihrer Software",
        ),
        Rule::OutdatedPlatform => pick(
            "Le logiciel serveur de votre site n'est plus maintenu",
            "Die Serversoftware Ihrer Website wird nicht mehr unterstützt",
        ),
        Rule::OutdatedLibrary => pick(
            "Votre site utilise des bibliothèques de code obsolètes avec des failles connues",
            "Ihre Website nutzt veraltete Code-Bibliotheken mit bekannten Sicherheitslücken",
        ),
        Rule::NoCms => pick(
            "Votre site n'a pas de système de gestion de contenu : vous ne pouvez pas le modifier vous-même",
            "Ihre Website hat kein Redaktionssystem: Sie können sie nicht selbst ändern",
        ),
        Rule::JqueryWithoutFramework => pick(
            "Votre site repose sur une technologie front-end ancienne",
            "Ihre Website basiert auf veralteter Frontend-Technik",
        ),
        Rule::NoAnalytics => pick(
            "Vous ne pouvez pas voir combien de personnes visitent votre site",
            "Sie können nicht sehen, wie viele Menschen Ihre Website besuchen",
        ),
        Rule::NoWorkingSite => pick(
            "Il n'y a pas de site à tenir à jour",
            "Es gibt keine Website, die aktuell gehalten wird",
        ),
        // Not problems: never quoted (filtered before), listed so the match
        // stays exhaustive.
        Rule::ModernSite
        | Rule::AuditMissing
        | Rule::HasWebsite
        | Rule::Ecommerce
        | Rule::ShortDomain
        | Rule::EstablishedBusiness
        | Rule::MetInPerson
        | Rule::HasAddress
        | Rule::HasContact
        | Rule::HasEmail
        | Rule::HasPhone => None,
    }
}

fn seconds(ms: u64, language: Language) -> String {
    let text = format!("{:.1}", ms as f64 / 1000.0);
    match language {
        Language::En => format!("{text} s"),
        Language::Fr | Language::De => format!("{} s", text.replace('.', ",")),
    }
}

fn detail(rule: Rule, language: Language, data: &Value) -> Option<String> {
    let score = data.get("score").and_then(Value::as_u64);
    match rule {
        Rule::PerformancePoor | Rule::PerformanceAverage => {
            let score = score?;
            let lcp = data.get("lcp_ms").and_then(Value::as_u64);
            Some(match (language, lcp) {
                (Language::En, Some(ms)) => format!(
                    "performance score {score}/100, the main content appears after {}",
                    seconds(ms, language)
                ),
                (Language::En, None) => format!("performance score {score}/100"),
                (Language::Fr, Some(ms)) => format!(
                    "score de performance {score}/100, contenu principal affiché après {}",
                    seconds(ms, language)
                ),
                (Language::Fr, None) => format!("score de performance {score}/100"),
                (Language::De, Some(ms)) => format!(
                    "Performance-Wert {score}/100, Hauptinhalt erst nach {} sichtbar",
                    seconds(ms, language)
                ),
                (Language::De, None) => format!("Performance-Wert {score}/100"),
            })
        }
        Rule::PoorSeo | Rule::PoorAccessibility => {
            let score = score?;
            Some(match language {
                Language::En => format!("Lighthouse score {score}/100"),
                Language::Fr => format!("score Lighthouse {score}/100"),
                Language::De => format!("Lighthouse-Wert {score}/100"),
            })
        }
        Rule::OutdatedCms | Rule::OutdatedPlatform | Rule::OutdatedLibrary => {
            let products: Vec<String> = data
                .as_array()?
                .iter()
                .filter_map(|p| {
                    let name = p.get("name")?.as_str()?.trim();
                    let version = p.get("version").and_then(Value::as_str).unwrap_or("").trim();
                    (!name.is_empty()).then(|| format!("{name} {version}").trim().to_owned())
                })
                .collect();
            (!products.is_empty()).then(|| products.join(", "))
        }
        Rule::CertificateExpiring => {
            let date = data.get("expires_at")?.as_str()?.get(..10)?.to_owned();
            Some(match language {
                Language::En => format!("on {date}"),
                Language::Fr => format!("le {date}"),
                Language::De => format!("am {date}"),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::score::{Component, algorithm::Evidence};

    fn flag(rule: Rule, title: &str, observed: &str, data: Value) -> ReasonFlag {
        ReasonFlag {
            code: rule.code().to_owned(),
            component: rule.component(),
            kind: rule.kind(),
            points: rule.default_points(),
            title: title.to_owned(),
            evidence: Evidence {
                source: "audit".into(),
                observed: observed.to_owned(),
                data,
            },
        }
    }

    fn sample() -> Vec<ReasonFlag> {
        vec![
            flag(
                Rule::HasWebsite,
                "The business already invests in a website",
                "a site",
                json!({}),
            ),
            flag(
                Rule::NoAnalytics,
                "You cannot see how many people visit your website",
                "no analytics",
                json!({}),
            ),
            flag(
                Rule::PerformancePoor,
                "Your website is slow on a phone",
                "Lighthouse performance score 31/100 on a phone",
                json!({ "score": 31, "lcp_ms": 6240, "form_factor": "mobile" }),
            ),
            flag(
                Rule::OutdatedCms,
                "Your website runs an outdated version of its software",
                "WordPress 4.9.8 is out of support",
                json!([{ "name": "WordPress", "version": "4.9.8", "evidence": "meta generator" }]),
            ),
            flag(
                Rule::NoHttps,
                "Your website is not secure (no HTTPS): browsers mark it \"Not secure\"",
                "served over http",
                json!({}),
            ),
            flag(
                Rule::PoorSeo,
                "Search engines have trouble reading your website",
                "  ",
                json!({"score": 40}),
            ),
        ]
    }

    #[test]
    fn lists_top_problems_by_points_with_their_figures() {
        // Arrange: performance_poor and no_https (12 each, in the score's
        // order) beat outdated_cms (10) and no_analytics (4).
        let flags = sample();

        // Act
        let en = issues_text(&flags, Language::En, 3);

        // Assert
        assert_eq!(
            en,
            "- Your website is slow on a phone (performance score 31/100, the main content appears after 6.2 s)\n\
             - Your website is not secure (no HTTPS): browsers mark it \"Not secure\"\n\
             - Your website runs an outdated version of its software (WordPress 4.9.8)"
        );
    }

    #[test]
    fn french_and_german_have_their_own_sentences_and_decimal_commas() {
        let flags = sample();
        assert_eq!(
            issue_lines(&flags, Language::Fr, 2),
            vec![
                "Votre site est lent sur téléphone (score de performance 31/100, contenu principal affiché après 6,2 s)",
                "Votre site n'est pas sécurisé (pas de HTTPS) : les navigateurs l'affichent « Non sécurisé »",
            ]
        );
        assert_eq!(
            issue_lines(&flags, Language::De, 4)[1..],
            [
                "Ihre Website ist nicht verschlüsselt (kein HTTPS): Browser zeigen „Nicht sicher“ an",
                "Ihre Website verwendet eine veraltete Version ihrer Software (WordPress 4.9.8)",
                "Sie können nicht sehen, wie viele Menschen Ihre Website besuchen",
            ]
        );
    }

    #[test]
    fn skips_signals_flags_without_evidence_and_unknown_codes_outside_english() {
        let mut flags = sample();
        flags.push(ReasonFlag {
            code: "from_a_newer_scorer".into(),
            component: Component::TechnicalHealth,
            kind: FlagKind::Problem,
            points: 50,
            title: "Something new".into(),
            evidence: Evidence {
                source: "audit".into(),
                observed: "seen".into(),
                data: json!({}),
            },
        });
        let en = issue_lines(&flags, Language::En, 10);
        assert_eq!(en.len(), 5, "{en:?}");
        assert_eq!(en[0], "Something new");
        assert!(
            !en.iter()
                .any(|l| l.contains("invests") || l.contains("Search engines"))
        );
        let fr = issue_lines(&flags, Language::Fr, 10);
        assert_eq!(fr.len(), 4, "{fr:?}");
    }

    #[test]
    fn no_working_site_is_not_repeated_after_site_unreachable() {
        let flags = vec![
            flag(
                Rule::SiteUnreachable,
                "Your website does not load",
                "timed out",
                json!({}),
            ),
            flag(
                Rule::NoWorkingSite,
                "There is no site to keep up to date",
                "no site",
                json!({}),
            ),
        ];
        assert_eq!(
            issue_lines(&flags, Language::En, 5),
            vec!["Your website does not load"]
        );
        assert_eq!(
            issue_lines(&flags[1..], Language::De, 5),
            vec!["Es gibt keine Website, die aktuell gehalten wird"]
        );
    }

    #[test]
    fn nothing_to_say_gives_an_empty_text() {
        assert_eq!(issues_text(&sample()[..1], Language::En, 3), "");
        assert_eq!(issues_text(&sample(), Language::En, 0), "");
    }

    #[test]
    fn every_problem_rule_has_french_and_german_wording() {
        for rule in Rule::ALL.iter().filter(|r| r.kind() == FlagKind::Problem) {
            for language in [Language::Fr, Language::De] {
                assert!(
                    translated(*rule, language, &json!({})).is_some(),
                    "{rule:?} {language}"
                );
            }
        }
    }
}
