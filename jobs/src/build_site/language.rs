//! Which language a business's site is written in.
//!
//! Luxembourg has three: French, German and English. The data usually says
//! which one a business speaks: the words of its name (`Bäckerei`,
//! `Boulangerie`), of its street (`Hauptstraße`, `rue`), the language of its
//! opening-hours lines, and, for a rebuild, the text of its old site.
//! [`choose`] scores those signals, keeps only the languages the country
//! allows ([`CountryLanguages`]) and falls back to the country's default when
//! nothing speaks clearly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::input::SiteInput;

/// A language the content library is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// French.
    Fr,
    /// German.
    De,
    /// English.
    En,
}

impl Language {
    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::De => "de",
            Language::En => "en",
        }
    }

    /// BCP 47 tag for `<html lang>` (`fr-LU`), or the bare code without a
    /// country.
    pub fn tag(self, country: Option<&str>) -> String {
        match country {
            Some(c) if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
                format!("{}-{}", self.code(), c.to_ascii_uppercase())
            }
            _ => self.code().to_owned(),
        }
    }

    /// Open Graph locale (`fr_LU`).
    pub fn og_locale(self, country: Option<&str>) -> String {
        self.tag(country).replace('-', "_")
    }

    /// Every language, in a fixed order.
    pub const ALL: [Language; 3] = [Language::Fr, Language::De, Language::En];
}

/// Which languages a country's sites may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryLanguages {
    /// Used when the data gives no clear signal.
    pub default: Language,
    /// Languages a signal may choose; the default is always allowed.
    pub allowed: Vec<Language>,
}

/// How the language was chosen, kept in the creative DNA for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageChoice {
    /// The language.
    pub language: Language,
    /// `detected` (a signal won) or `default` (none did).
    pub source: LanguageSource,
    /// Score per language, from the weighted signals.
    pub scores: BTreeMap<Language, u32>,
}

/// Whether a signal or a default chose the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LanguageSource {
    /// The data pointed to it.
    Detected,
    /// The country's default (or the global one).
    Default,
}

// Words (lower case, whole words) that point to a language. Kept short and
// unambiguous: `avenue`, `restaurant`, `garage`, `salon` are in all three.
const FR_WORDS: &[&str] = &[
    "rue",
    "route",
    "boulevard",
    "chemin",
    "allée",
    "impasse",
    "place",
    "montée",
    "côte",
    "boulangerie",
    "pâtisserie",
    "patisserie",
    "coiffure",
    "coiffeur",
    "boucherie",
    "cabinet",
    "dentaire",
    "chez",
    "le",
    "la",
    "les",
    "du",
    "des",
    "et",
    "aux",
    "artisan",
    "maison",
    "traiteur",
    "fleuriste",
    "plomberie",
    "chauffage",
    "pharmacie",
    "institut",
    "beauté",
    "atelier",
    "bienvenue",
    "nous",
    "vous",
    "notre",
];
const DE_WORDS: &[&str] = &[
    "straße",
    "strasse",
    "str.",
    "gasse",
    "weg",
    "platz",
    "bäckerei",
    "baeckerei",
    "konditorei",
    "metzgerei",
    "friseur",
    "friseursalon",
    "autowerkstatt",
    "werkstatt",
    "kfz",
    "autohaus",
    "praxis",
    "zahnarzt",
    "zahnarztpraxis",
    "sanitär",
    "heizung",
    "und",
    "der",
    "die",
    "das",
    "bei",
    "gmbh",
    "inh.",
    "meisterbetrieb",
    "blumen",
    "apotheke",
    "willkommen",
    "wir",
    "ihr",
    "ihre",
    "unser",
    "unsere",
];
const EN_WORDS: &[&str] = &[
    "street", "road", "lane", "drive", "dental", "clinic", "bakery", "shop", "the", "and", "of", "repair",
    "hair", "studio", "plumbing", "services", "welcome", "we", "our", "your", "family", "care", "ltd",
];

/// Score one text against the word lists, `weight` points per hit.
fn score_text(text: &str, weight: u32, scores: &mut BTreeMap<Language, u32>) {
    let lower = text.to_lowercase();
    for word in lower
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '\''))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
    {
        // French elisions: "d'arlon", "l'église".
        let word = word.split('\'').next_back().unwrap_or(word);
        let word_dotted = format!("{word}.");
        for (lang, list) in [
            (Language::Fr, FR_WORDS),
            (Language::De, DE_WORDS),
            (Language::En, EN_WORDS),
        ] {
            if list.contains(&word) || list.contains(&word_dotted.as_str()) {
                *scores.entry(lang).or_default() += weight;
            }
        }
        // German compounds: "Hauptstraße", "Bahnhofstrasse", "Kirchweg".
        if word.len() > 7
            && (word.ends_with("straße") || word.ends_with("strasse") || word.ends_with("gasse"))
        {
            *scores.entry(Language::De).or_default() += weight;
        }
    }
}

/// Choose the language for `input`. `hours_language` is the language the
/// opening-hours lines were written in, if any.
pub fn choose(
    input: &SiteInput,
    hours_language: Option<Language>,
    country: Option<&CountryLanguages>,
    global_default: Language,
) -> LanguageChoice {
    let mut scores: BTreeMap<Language, u32> = Language::ALL.iter().map(|l| (*l, 0)).collect();
    score_text(&input.name, 3, &mut scores);
    for value in [&input.category, &input.subcategory].into_iter().flatten() {
        score_text(value, 2, &mut scores);
    }
    for value in [&input.address.street, &input.address.full].into_iter().flatten() {
        score_text(value, 1, &mut scores);
    }
    if let Some(lang) = hours_language {
        *scores.entry(lang).or_default() += 2;
    }
    if let Some(existing) = &input.existing_content {
        for value in existing
            .title
            .iter()
            .chain(&existing.description)
            .chain(&existing.snippets)
        {
            score_text(value, 1, &mut scores);
        }
    }
    let default = country.map_or(global_default, |c| c.default);
    let allowed = |lang: Language| country.is_none_or(|c| c.default == lang || c.allowed.contains(&lang));
    let best = scores
        .iter()
        .filter(|(lang, _)| allowed(**lang))
        .max_by_key(|(lang, score)| (**score, **lang == default, std::cmp::Reverse(**lang)))
        .map(|(lang, score)| (*lang, *score));
    let default_score = scores.get(&default).copied().unwrap_or(0);
    match best {
        // A signal must beat the default by a clear margin to override it.
        Some((lang, score)) if lang != default && score >= default_score + 2 => LanguageChoice {
            language: lang,
            source: LanguageSource::Detected,
            scores,
        },
        Some((lang, score)) if lang == default && score > 0 => LanguageChoice {
            language: lang,
            source: LanguageSource::Detected,
            scores,
        },
        _ => LanguageChoice {
            language: default,
            source: LanguageSource::Default,
            scores,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_site::input::tests::minimal;

    fn lu() -> CountryLanguages {
        CountryLanguages {
            default: Language::Fr,
            allowed: vec![Language::Fr, Language::De, Language::En],
        }
    }

    #[test]
    fn a_french_bakery_in_luxembourg_is_french() {
        let mut input = minimal("Boulangerie du Marché");
        input.address.street = Some("12, rue de la Gare".into());
        let c = choose(&input, None, Some(&lu()), Language::En);
        assert_eq!(c.language, Language::Fr);
        assert_eq!(c.source, LanguageSource::Detected);
    }

    #[test]
    fn a_german_garage_on_a_french_street_is_german() {
        let mut input = minimal("Autowerkstatt Weber GmbH");
        input.address.street = Some("45, route d'Arlon".into());
        let c = choose(&input, Some(Language::De), Some(&lu()), Language::En);
        assert_eq!(c.language, Language::De, "{:?}", c.scores);
    }

    #[test]
    fn an_english_dental_clinic_is_english() {
        let mut input = minimal("Kirchberg Dental Clinic");
        input.address.street = Some("5 Avenue John F. Kennedy".into());
        let c = choose(&input, Some(Language::En), Some(&lu()), Language::En);
        assert_eq!(c.language, Language::En, "{:?}", c.scores);
    }

    #[test]
    fn no_signal_gives_the_country_default() {
        let input = minimal("Xyz");
        let c = choose(&input, None, Some(&lu()), Language::En);
        assert_eq!((c.language, c.source), (Language::Fr, LanguageSource::Default));
        let c = choose(&input, None, None, Language::En);
        assert_eq!(c.language, Language::En);
    }

    #[test]
    fn a_language_the_country_does_not_allow_is_never_chosen() {
        let only_german = CountryLanguages {
            default: Language::De,
            allowed: vec![Language::De],
        };
        let input = minimal("Boulangerie et Pâtisserie du Parc");
        let c = choose(&input, Some(Language::Fr), Some(&only_german), Language::En);
        assert_eq!(c.language, Language::De);
    }

    #[test]
    fn tags_carry_the_country() {
        assert_eq!(Language::Fr.tag(Some("lu")), "fr-LU");
        assert_eq!(Language::De.tag(None), "de");
        assert_eq!(Language::En.og_locale(Some("LU")), "en_LU");
    }
}
