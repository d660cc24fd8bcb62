//! The words of a site: a deterministic copywriter and the [`Copy`] seam.
//!
//! [`Copy`] holds every piece of text the templates show, as *phrases with
//! slots*: `"{name} – {what} in {city}"`. Facts never live in the copy; the
//! renderer fills the slots from the checked record ([`Facts`]). That is
//! what makes the seam safe for an LLM copywriter later: it may rephrase
//! anything, but it cannot change a phone number, invent an address or slip
//! in a link, and [`validate_copy`] refuses markup, URLs, unknown slots and
//! oversized text before a byte is rendered.
//!
//! [`write_copy`] picks phrases from the content library ([`library`]) with
//! the DNA's seed, and builds the about text, trust strip and FAQ only from
//! facts the record has.

pub mod library;
mod validate;

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use validate::{CopyIssue, CopyProblem, limits, validate_copy};

use super::BuildError;
use super::category::{self, CategoryInfo};
use super::dna::{CreativeDna, stream};
use super::hours::{self, OpeningHours};
use super::input::{Business, SiteInput};
use super::language::Language;

/// One question answered from facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaqItem {
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
}

/// Every text of a site, as phrases with slots (see [`Facts`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    /// `<title>`; cut to 60 characters after the slots are filled.
    pub title: String,
    /// Meta description; cut to 155 characters after filling.
    pub meta_description: String,
    /// The one `<h1>`.
    pub headline: String,
    /// Line under the headline.
    pub subheadline: String,
    /// Label of the primary action (its target comes from the facts).
    pub cta: String,
    /// Short facts shown as text under the hero.
    pub trust: Vec<String>,
    /// Services heading.
    pub services_title: String,
    /// Line above the services.
    pub services_intro: String,
    /// Service names.
    pub services: Vec<String>,
    /// About heading.
    pub about_title: String,
    /// About paragraphs.
    pub about: Vec<String>,
    /// Reviews heading.
    pub reviews_title: String,
    /// Gallery heading.
    pub gallery_title: String,
    /// Hours heading.
    pub hours_title: String,
    /// Shown instead of a table when no hours are known.
    pub hours_fallback: String,
    /// Location heading.
    pub location_title: String,
    /// Location text.
    pub location_text: String,
    /// FAQ heading.
    pub faq_title: String,
    /// Questions and answers.
    pub faq: Vec<FaqItem>,
    /// Contact heading.
    pub contact_title: String,
    /// Line in the contact section.
    pub contact_text: String,
}

/// What the hero's one primary button does, chosen from the facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryAction {
    /// `tel:` link.
    Call,
    /// Maps directions link.
    Directions,
    /// `mailto:` link.
    Email,
    /// Anchor to the contact section (nothing else is known).
    Contact,
}

/// The best primary action the facts allow: call, then directions, then
/// e-mail.
pub fn primary_action(business: &Business) -> PrimaryAction {
    if business.phone.is_some() {
        PrimaryAction::Call
    } else if business.geo.is_some() || business.address.display.is_some() {
        PrimaryAction::Directions
    } else if business.email.is_some() {
        PrimaryAction::Email
    } else {
        PrimaryAction::Contact
    }
}

/// The slots copy may use, and their values for one business.
///
/// Values are clean, cut facts from [`Business`]; they are escaped by the
/// template like everything else.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    values: BTreeMap<&'static str, String>,
}

/// Every slot name, whether or not a business has a value for it.
pub const SLOTS: &[&str] = &[
    "name",
    "what",
    "what_lc",
    "subcategory",
    "city",
    "address",
    "phone",
    "email",
    "rating",
    "review_count",
    "open_days",
    "hours",
    "existing_description",
    "existing_snippet",
];

impl Facts {
    /// The facts of `business` in `lang`.
    pub fn new(business: &Business, hours: &OpeningHours, lang: Language) -> Facts {
        let mut values = BTreeMap::new();
        let info = category_info(business);
        values.insert("name", business.name.clone());
        let what = info
            .map(|i| i.label(lang).to_owned())
            .or_else(|| business.category.clone());
        if let Some(what) = what {
            values.insert("what_lc", lower_first(&what, lang));
            values.insert("what", what);
        }
        let mut put = |k: &'static str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                values.insert(k, v);
            }
        };
        put("subcategory", business.subcategory.clone());
        put("city", business.address.city.clone());
        put("address", business.address.display.clone());
        put("phone", business.phone.as_ref().map(|p| p.display.clone()));
        put("email", business.email.clone());
        put("rating", business.rating.map(|r| decimal(r, lang)));
        put(
            "review_count",
            business.review_count.filter(|n| *n > 0).map(|n| n.to_string()),
        );
        put(
            "open_days",
            Some(hours.open_days()).filter(|n| *n > 0).map(|n| n.to_string()),
        );
        put("hours", hours::summary(hours, lang));
        if let Some(existing) = &business.existing {
            put("existing_description", existing.description.clone());
            put("existing_snippet", existing.snippets.first().cloned());
        }
        Facts { values }
    }

    /// The value of a slot, if the business has it.
    pub fn get(&self, slot: &str) -> Option<&str> {
        self.values.get(slot).map(String::as_str)
    }

    fn has(&self, slot: &str) -> bool {
        self.values.contains_key(slot)
    }

    /// Fill the slots of `phrase`. A slot the business has no value for is
    /// an error (the copy promised a fact that does not exist); an unknown
    /// slot too.
    pub fn fill(&self, field: &str, phrase: &str) -> Result<String, CopyIssue> {
        let mut out = String::with_capacity(phrase.len() + 32);
        let mut rest = phrase;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| CopyIssue::new(field, CopyProblem::Markup))?;
            let slot = &after[..close];
            if !SLOTS.contains(&slot) {
                return Err(CopyIssue::new(
                    field,
                    CopyProblem::UnknownSlot(slot.chars().take(32).collect()),
                ));
            }
            let value = self
                .get(slot)
                .ok_or_else(|| CopyIssue::new(field, CopyProblem::MissingFact(slot.to_owned())))?;
            out.push_str(value);
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn category_info(business: &Business) -> Option<&'static CategoryInfo> {
    category::detect(
        business.category.as_deref(),
        business.subcategory.as_deref(),
        &business.name,
    )
}

/// Lower-case the first letter for use mid-sentence (not in German, where
/// nouns keep their capital).
fn lower_first(text: &str, lang: Language) -> String {
    if lang == Language::De {
        return text.to_owned();
    }
    let mut chars = text.chars();
    match chars.next() {
        // Keep acronyms ("BMW garage") as they are.
        Some(first) if !chars.clone().next().is_some_and(char::is_uppercase) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

/// `4.8` in English, `4,8` in French and German.
fn decimal(value: f64, lang: Language) -> String {
    let s = format!("{value:.1}");
    match lang {
        Language::En => s,
        Language::Fr | Language::De => s.replace('.', ","),
    }
}

fn pick(rng: &mut ChaCha8Rng, items: &[&'static str]) -> &'static str {
    match items.len() {
        0 => "",
        n => items[rng.random_range(0..n)],
    }
}

/// Write the copy for `input` with the choices of `dna`.
///
/// Deterministic: the same input and DNA give the same copy. Uses only slots
/// the business has values for, so [`Facts::fill`] never fails on it, and
/// passes [`validate_copy`] whatever the input holds.
pub fn write_copy(input: &SiteInput, dna: &CreativeDna) -> Result<Copy, BuildError> {
    let business = Business::from_input(input)?;
    let hours = OpeningHours::parse(&input.opening_hours);
    let lang = dna.language.language;
    let facts = Facts::new(&business, &hours, lang);
    Ok(compose(&business, &facts, dna))
}

fn compose(business: &Business, facts: &Facts, dna: &CreativeDna) -> Copy {
    let lang = dna.language.language;
    let w = library::words(lang);
    let v = library::voice(dna.persona, lang);
    let mut rng = dna.seed.rng(stream::COPY);
    let (has_what, has_city) = (facts.has("what"), facts.has("city"));
    // "Boulangerie Hoffmann, boulangerie à …" says it twice: when the name
    // already names the trade, the headline and title leave it out.
    let name = business.name.to_lowercase();
    let name_says_what = facts
        .get("what")
        .is_some_and(|what| name.contains(&what.to_lowercase()))
        || category_info(business).is_some_and(|i| i.keywords.iter().any(|k| name.contains(k)));
    let headline_what = has_what && !name_says_what;

    let headline = match (headline_what, has_city) {
        (true, true) => w.headline_full,
        (true, false) => w.headline_what,
        (false, true) => w.headline_city,
        (false, false) => "{name}",
    };
    let title = match (headline_what, has_city) {
        (true, true) => w.title_full,
        (true, false) => "{name} – {what}",
        (false, true) => w.headline_city,
        (false, false) => "{name}",
    };
    let meta_description = if has_what && has_city {
        w.description
    } else {
        w.description_plain
    };
    let subheadline = if has_city {
        pick(&mut rng, v.sub_city)
    } else {
        pick(&mut rng, v.sub_plain)
    };
    let cta = match primary_action(business) {
        PrimaryAction::Call => pick(&mut rng, v.cta_call),
        PrimaryAction::Directions => w.cta_directions,
        PrimaryAction::Email => w.cta_email,
        PrimaryAction::Contact => w.cta_contact,
    };

    let mut trust = Vec::new();
    if facts.has("rating") && facts.has("review_count") {
        trust.push(w.trust_rating.to_owned());
    }
    match facts.get("open_days") {
        Some("7") => trust.push(w.trust_every_day.to_owned()),
        Some(_) => trust.push(w.trust_days.to_owned()),
        None => {}
    }
    if has_city {
        trust.push(w.trust_city.to_owned());
    }

    let info = category_info(business);
    let (services_intro, services): (&str, Vec<String>) = match info {
        Some(info) => (
            pick(&mut rng, v.services_intro),
            info.services(lang).iter().map(|s| (*s).to_owned()).collect(),
        ),
        None => {
            let mut list = Vec::new();
            if has_what {
                list.push("{what}".to_owned());
            }
            if facts.has("subcategory") && facts.get("subcategory") != facts.get("what") {
                list.push("{subcategory}".to_owned());
            }
            (w.services_fallback_intro, list)
        }
    };

    let mut about = Vec::new();
    if facts.has("existing_description") {
        about.push("{existing_description}".to_owned());
    } else {
        about.push(pick(&mut rng, v.about_intro).to_owned());
    }
    let mut facts_line = Vec::new();
    if facts.has("address") {
        facts_line.push(w.about_address);
    }
    match facts.get("open_days") {
        Some("7") => facts_line.push(w.about_every_day),
        Some(_) => facts_line.push(w.about_days),
        None => {}
    }
    if !facts_line.is_empty() {
        about.push(facts_line.join(" "));
    }
    if facts.has("rating") && facts.has("review_count") {
        about.push(w.about_rating.to_owned());
    } else if facts.has("existing_snippet") {
        about.push("{existing_snippet}".to_owned());
    }

    let mut faq = Vec::new();
    if facts.has("address") {
        faq.push(FaqItem {
            question: w.faq_where_q.to_owned(),
            answer: w.faq_where_a.to_owned(),
        });
    }
    if facts.has("hours") {
        faq.push(FaqItem {
            question: w.faq_when_q.to_owned(),
            answer: w.faq_when_a.to_owned(),
        });
    }
    let reach: Vec<&str> = [
        facts.has("phone").then_some(w.faq_contact_phone),
        facts.has("email").then_some(w.faq_contact_email),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !reach.is_empty() {
        faq.push(FaqItem {
            question: w.faq_contact_q.to_owned(),
            answer: reach.join(" "),
        });
    }

    Copy {
        title: title.to_owned(),
        meta_description: meta_description.to_owned(),
        headline: headline.to_owned(),
        subheadline: subheadline.to_owned(),
        cta: cta.to_owned(),
        trust,
        services_title: w.services_title.to_owned(),
        services_intro: services_intro.to_owned(),
        services,
        about_title: w.about_title.to_owned(),
        about,
        reviews_title: w.reviews_title.to_owned(),
        gallery_title: w.gallery_title.to_owned(),
        hours_title: w.hours_title.to_owned(),
        hours_fallback: if facts.has("phone") {
            w.hours_fallback_call
        } else {
            w.hours_fallback_plain
        }
        .to_owned(),
        location_title: w.location_title.to_owned(),
        location_text: if facts.has("address") {
            w.location_text
        } else {
            "{name}"
        }
        .to_owned(),
        faq_title: w.faq_title.to_owned(),
        faq,
        contact_title: w.contact_title.to_owned(),
        contact_text: pick(&mut rng, v.contact_line).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_site::config::GeneratorConfig;
    use crate::build_site::dna::creative_dna;
    use crate::build_site::input::tests::minimal;

    fn full() -> SiteInput {
        let mut input = minimal("Boulangerie Hoffmann");
        input.category = Some("Bakery".into());
        input.address.street = Some("12, rue de la Gare".into());
        input.address.city = Some("Luxembourg".into());
        input.address.postal_code = Some("L-1611".into());
        input.address.country_code = Some("LU".into());
        input.phone = Some("+352 26 12 34 56".into());
        input.rating = Some(4.8);
        input.review_count = Some(126);
        input.opening_hours = ["lundi: 06:30–18:00", "dimanche: Fermé"]
            .map(String::from)
            .to_vec();
        input
    }

    fn filled(copy: &Copy, facts: &Facts) -> Vec<String> {
        let mut all = vec![
            &copy.title,
            &copy.meta_description,
            &copy.headline,
            &copy.subheadline,
            &copy.cta,
        ];
        all.extend(&copy.trust);
        all.extend(&copy.about);
        all.iter().map(|p| facts.fill("x", p).unwrap()).collect()
    }

    #[test]
    fn a_french_bakery_gets_french_copy_built_from_its_facts() {
        let input = full();
        let dna = creative_dna(&input, &GeneratorConfig::default());
        assert_eq!(dna.language.language, Language::Fr);
        let copy = write_copy(&input, &dna).unwrap();
        validate_copy(&copy).unwrap();
        let business = Business::from_input(&input).unwrap();
        let facts = Facts::new(
            &business,
            &OpeningHours::parse(&input.opening_hours),
            Language::Fr,
        );
        let texts = filled(&copy, &facts);
        assert_eq!(texts[2], "Boulangerie Hoffmann à Luxembourg");
        assert_eq!(texts[0], "Boulangerie Hoffmann à Luxembourg");
        assert!(
            texts[1].starts_with("Boulangerie Hoffmann, boulangerie à Luxembourg"),
            "{}",
            texts[1]
        );
        assert!(texts[4].contains("+352 26 12 34 56"), "{}", texts[4]);
        assert!(texts.iter().any(|t| t.contains("4,8/5 (126 avis)")), "{texts:?}");
        assert_eq!(copy.services[0], "Pains");
    }

    #[test]
    fn copy_never_states_facts_the_record_does_not_have() {
        let input = minimal("Chez Nous");
        let dna = creative_dna(&input, &GeneratorConfig::default());
        let copy = write_copy(&input, &dna).unwrap();
        validate_copy(&copy).unwrap();
        let business = Business::from_input(&input).unwrap();
        let facts = Facts::new(&business, &OpeningHours::default(), dna.language.language);
        for text in filled(&copy, &facts) {
            assert!(
                !text.chars().any(|c| c.is_ascii_digit()),
                "a number appeared: {text}"
            );
        }
        assert!(copy.trust.is_empty());
        assert!(copy.faq.is_empty());
        assert_eq!(primary_action(&business), PrimaryAction::Contact);
    }

    #[test]
    fn the_cta_follows_the_best_available_action() {
        let mut input = minimal("X");
        input.email = Some("info@x.lu".into());
        assert_eq!(
            primary_action(&Business::from_input(&input).unwrap()),
            PrimaryAction::Email
        );
        input.address.city = Some("Esch".into());
        assert_eq!(
            primary_action(&Business::from_input(&input).unwrap()),
            PrimaryAction::Directions
        );
        input.phone = Some("+35226123456".into());
        assert_eq!(
            primary_action(&Business::from_input(&input).unwrap()),
            PrimaryAction::Call
        );
    }

    #[test]
    fn filling_refuses_unknown_slots_and_missing_facts() {
        let facts = Facts::new(
            &Business::from_input(&minimal("X")).unwrap(),
            &OpeningHours::default(),
            Language::En,
        );
        assert_eq!(facts.fill("f", "Hi {name}!").unwrap(), "Hi X!");
        assert!(matches!(
            facts.fill("f", "{city}").unwrap_err().problem,
            CopyProblem::MissingFact(_)
        ));
        assert!(matches!(
            facts.fill("f", "{script}").unwrap_err().problem,
            CopyProblem::UnknownSlot(_)
        ));
        assert!(facts.fill("f", "{name").is_err());
    }

    #[test]
    fn copy_is_deterministic_and_valid_for_hostile_input() {
        let mut input = full();
        input.name = "<script>alert('x')</script> https://evil.example {phone}".into();
        input.category = Some("<img src=x onerror=alert(1)>".into());
        let dna = creative_dna(&input, &GeneratorConfig::default());
        let copy = write_copy(&input, &dna).unwrap();
        assert_eq!(copy, write_copy(&input, &dna).unwrap());
        validate_copy(&copy).unwrap();
    }

    #[test]
    fn no_name_is_a_typed_error() {
        let input = minimal("");
        let dna = creative_dna(&input, &GeneratorConfig::default());
        assert!(matches!(write_copy(&input, &dna), Err(BuildError::MissingName)));
    }
}
