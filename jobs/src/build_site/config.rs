//! Generator settings: template version, languages per country, claim-bar
//! wording, agency name.
//!
//! Deserialized from the `[build_site]` settings with unknown keys refused,
//! so a typo stops boot instead of silently changing every site.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::language::{CountryLanguages, Language};

/// Version of the templates and content library compiled into this build.
/// Bump it whenever a change alters output bytes: it seeds every choice and
/// is stored with each site, so a site can be rebuilt exactly.
pub const TEMPLATE_VERSION: &str = "sitegen-2026.1";

/// Text of the claim bar in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimText {
    /// The sentence; `{business}` and `{agency}` are replaced (as text; the
    /// result is escaped like every other value).
    pub text: String,
    /// Words of the claim link (say what it does: "Claim this site").
    pub link: String,
}

/// Settings of the site generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorConfig {
    /// Seeds choices and is stored with each site.
    pub template_version: String,
    /// Languages by upper-case ISO country code.
    pub countries: BTreeMap<String, CountryLanguages>,
    /// Language for countries not listed.
    pub default_language: Language,
    /// Claim-bar wording per language.
    pub claim_text: BTreeMap<Language, ClaimText>,
    /// Agency named in the claim bar and the footer.
    pub agency_name: String,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        use Language::{De, En, Fr};
        let country = |default: Language, allowed: &[Language]| CountryLanguages {
            default,
            allowed: allowed.to_vec(),
        };
        let countries = BTreeMap::from([
            ("LU".to_owned(), country(Fr, &[Fr, De, En])),
            ("BE".to_owned(), country(Fr, &[Fr, De, En])),
            ("FR".to_owned(), country(Fr, &[Fr, En])),
            ("DE".to_owned(), country(De, &[De, En])),
            ("AT".to_owned(), country(De, &[De, En])),
            ("CH".to_owned(), country(De, &[De, Fr, En])),
            ("GB".to_owned(), country(En, &[En])),
            ("IE".to_owned(), country(En, &[En])),
            ("US".to_owned(), country(En, &[En])),
        ]);
        let claim = |text: &str, link: &str| ClaimText {
            text: text.to_owned(),
            link: link.to_owned(),
        };
        let claim_text = BTreeMap::from([
            (
                Fr,
                claim(
                    "Cet aperçu gratuit a été préparé pour {business} par {agency}. Ce n'est pas un site officiel.",
                    "Réclamer ou retirer ce site",
                ),
            ),
            (
                De,
                claim(
                    "Diese kostenlose Vorschau wurde für {business} von {agency} erstellt. Sie ist keine offizielle Website.",
                    "Website übernehmen oder entfernen",
                ),
            ),
            (
                En,
                claim(
                    "This free preview was made for {business} by {agency}. It is not an official website.",
                    "Claim or remove this site",
                ),
            ),
        ]);
        GeneratorConfig {
            template_version: TEMPLATE_VERSION.to_owned(),
            countries,
            default_language: En,
            claim_text,
            agency_name: "Prospector Studio".to_owned(),
        }
    }
}

impl GeneratorConfig {
    /// Languages of a country, when it is listed.
    pub fn country(&self, code: Option<&str>) -> Option<&CountryLanguages> {
        self.countries.get(&code?.to_ascii_uppercase())
    }

    /// The claim text for `lang`, or the built-in one when not configured.
    pub fn claim(&self, lang: Language) -> ClaimText {
        match self.claim_text.get(&lang) {
            Some(c) => c.clone(),
            None => GeneratorConfig::default()
                .claim_text
                .remove(&lang)
                .unwrap_or_else(|| ClaimText {
                    text: "{business} · {agency}".to_owned(),
                    link: "Claim or remove this site".to_owned(),
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_partial_json_with_defaults() {
        let c: GeneratorConfig =
            serde_json::from_str(r#"{"agency_name":"Atelier Web","template_version":"v9"}"#).unwrap();
        assert_eq!(c.agency_name, "Atelier Web");
        assert_eq!(c.template_version, "v9");
        assert_eq!(c.country(Some("lu")).map(|l| l.default), Some(Language::Fr));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<GeneratorConfig>(r#"{"agency":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = serde_json::from_str::<GeneratorConfig>(
            r#"{"countries":{"LU":{"default":"fr","allowed":["fr"],"extra":1}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn every_language_has_a_claim_text_with_both_placeholders() {
        let c = GeneratorConfig::default();
        for lang in Language::ALL {
            let claim = c.claim(lang);
            assert!(claim.text.contains("{business}") && claim.text.contains("{agency}"));
        }
    }
}
