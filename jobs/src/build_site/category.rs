//! Business categories: what a listed category means for the site.
//!
//! Providers write categories in the language of the request and in free
//! form (`Bakery`, `Boulangerie-pâtisserie`, `Kfz-Werkstatt`). [`detect`]
//! matches keywords in the category, the subcategory and then the name, and
//! returns the [`CategoryInfo`] that decides the schema.org subtype, the
//! persona, the localised label and the typical services. An unknown
//! category returns `None`: callers then use the designed fallbacks
//! (`LocalBusiness`, the Trusted Local persona, the raw category as label).

use serde::{Deserialize, Serialize};

use super::dna::Persona;
use super::language::Language;

/// A category we have content for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKey {
    /// Bakery, pastry shop.
    Bakery,
    /// Butcher.
    Butcher,
    /// Restaurant, brasserie, pizzeria.
    Restaurant,
    /// Café, coffee shop, tea room.
    Cafe,
    /// Florist.
    Florist,
    /// Dentist.
    Dentist,
    /// General practitioner, medical practice.
    Doctor,
    /// Physiotherapist.
    Physiotherapist,
    /// Optician.
    Optician,
    /// Veterinarian.
    Veterinary,
    /// Car repair garage.
    AutoRepair,
    /// Hair salon, barber.
    HairSalon,
    /// Beauty salon, nails, cosmetics.
    BeautySalon,
    /// Day spa, massage.
    Spa,
    /// Gym, fitness studio.
    Gym,
    /// Plumber, sanitary installer.
    Plumber,
    /// Electrician.
    Electrician,
    /// Locksmith.
    Locksmith,
    /// Roofer.
    Roofer,
    /// Painter and decorator.
    Painter,
    /// Lawyer.
    Lawyer,
    /// Accountant, tax adviser.
    Accountant,
    /// Real-estate agency.
    RealEstate,
}

/// Everything the generator knows about one category.
#[derive(Debug)]
pub struct CategoryInfo {
    /// The key.
    pub key: CategoryKey,
    /// Lower-case fragments matched inside the category text.
    pub keywords: &'static [&'static str],
    /// Most specific schema.org `LocalBusiness` subtype.
    pub schema_type: &'static str,
    /// Persona the site is designed for.
    pub persona: Persona,
    /// Label per language: French, German, English.
    pub label: [&'static str; 3],
    /// Typical services per language (French, German, English). Generic on
    /// purpose: nothing here claims what this business in particular does.
    pub services: [&'static [&'static str]; 3],
}

impl CategoryInfo {
    /// Label in `lang`.
    pub fn label(&self, lang: Language) -> &'static str {
        self.label[lang_index(lang)]
    }

    /// Services in `lang`.
    pub fn services(&self, lang: Language) -> &'static [&'static str] {
        self.services[lang_index(lang)]
    }
}

fn lang_index(lang: Language) -> usize {
    match lang {
        Language::Fr => 0,
        Language::De => 1,
        Language::En => 2,
    }
}

use CategoryKey as K;
use Persona as P;

/// The table, most specific first (`pâtisserie` before `café`).
pub static CATEGORIES: &[CategoryInfo] = &[
    CategoryInfo {
        key: K::Bakery,
        keywords: &[
            "bakery",
            "boulanger",
            "pâtisser",
            "patisser",
            "bäckerei",
            "baeckerei",
            "konditor",
            "pastry",
        ],
        schema_type: "Bakery",
        persona: P::CommunityNurture,
        label: ["Boulangerie", "Bäckerei", "Bakery"],
        services: [
            &[
                "Pains",
                "Viennoiseries",
                "Pâtisseries",
                "Sandwichs",
                "Snacks sucrés et salés",
            ],
            &[
                "Brot und Brötchen",
                "Feingebäck",
                "Kuchen und Torten",
                "Belegte Brötchen",
                "Snacks",
            ],
            &[
                "Bread",
                "Pastries",
                "Cakes",
                "Sandwiches",
                "Sweet and savoury snacks",
            ],
        ],
    },
    CategoryInfo {
        key: K::Butcher,
        keywords: &["butcher", "boucher", "charcut", "metzger", "fleischer"],
        schema_type: "Store",
        persona: P::HeritageTrust,
        label: ["Boucherie", "Metzgerei", "Butcher"],
        services: [
            &[
                "Viandes",
                "Charcuterie",
                "Plats préparés",
                "Conseils de préparation",
            ],
            &["Fleisch", "Wurstwaren", "Fertiggerichte", "Zubereitungstipps"],
            &["Meat", "Charcuterie", "Ready meals", "Cooking advice"],
        ],
    },
    CategoryInfo {
        key: K::Cafe,
        keywords: &["café", "cafe", "coffee", "salon de thé", "tea room", "kaffee"],
        schema_type: "CafeOrCoffeeShop",
        persona: P::CommunityNurture,
        label: ["Café", "Café", "Café"],
        services: [
            &["Cafés", "Boissons", "Petit-déjeuner", "Douceurs"],
            &["Kaffee", "Getränke", "Frühstück", "Süßes"],
            &["Coffee", "Drinks", "Breakfast", "Sweet treats"],
        ],
    },
    CategoryInfo {
        key: K::Restaurant,
        keywords: &[
            "restaurant",
            "brasserie",
            "bistro",
            "pizzeria",
            "trattoria",
            "gaststätte",
            "gasthaus",
            "wirtshaus",
            "steakhouse",
            "sushi",
            "kebab",
            "diner",
            "eatery",
        ],
        schema_type: "Restaurant",
        persona: P::CommunityNurture,
        label: ["Restaurant", "Restaurant", "Restaurant"],
        services: [
            &["Déjeuner", "Dîner", "Cuisine de saison", "Boissons"],
            &["Mittagessen", "Abendessen", "Saisonale Küche", "Getränke"],
            &["Lunch", "Dinner", "Seasonal dishes", "Drinks"],
        ],
    },
    CategoryInfo {
        key: K::Florist,
        keywords: &["florist", "fleuris", "blumen", "flower"],
        schema_type: "Florist",
        persona: P::CommunityNurture,
        label: ["Fleuriste", "Blumengeschäft", "Florist"],
        services: [
            &[
                "Bouquets",
                "Compositions florales",
                "Plantes",
                "Fleurs pour événements",
            ],
            &["Sträuße", "Gestecke", "Pflanzen", "Blumen für Anlässe"],
            &["Bouquets", "Arrangements", "Plants", "Flowers for occasions"],
        ],
    },
    CategoryInfo {
        key: K::Dentist,
        keywords: &[
            "dentist",
            "dentaire",
            "dentiste",
            "zahnarzt",
            "zahnärzt",
            "dental",
            "orthodont",
            "kieferorthop",
        ],
        schema_type: "Dentist",
        persona: P::ClinicalPrecision,
        label: ["Cabinet dentaire", "Zahnarztpraxis", "Dentist"],
        services: [
            &[
                "Contrôles et détartrage",
                "Soins des caries",
                "Prothèses",
                "Conseils d'hygiène",
            ],
            &[
                "Kontrolle und Zahnreinigung",
                "Füllungen",
                "Zahnersatz",
                "Prophylaxe-Beratung",
            ],
            &[
                "Check-ups and cleaning",
                "Fillings",
                "Crowns and bridges",
                "Hygiene advice",
            ],
        ],
    },
    CategoryInfo {
        key: K::Physiotherapist,
        keywords: &["physio", "kinésithérap", "kinesitherap", "krankengymnast"],
        schema_type: "Physiotherapy",
        persona: P::ClinicalPrecision,
        label: ["Kinésithérapie", "Physiotherapie", "Physiotherapy"],
        services: [
            &[
                "Rééducation",
                "Massages thérapeutiques",
                "Kinésithérapie du sport",
                "Prévention",
            ],
            &[
                "Rehabilitation",
                "Therapeutische Massage",
                "Sportphysiotherapie",
                "Prävention",
            ],
            &[
                "Rehabilitation",
                "Therapeutic massage",
                "Sports physiotherapy",
                "Prevention",
            ],
        ],
    },
    CategoryInfo {
        key: K::Optician,
        keywords: &["optic", "opticien", "optiker", "lunette", "brille", "eyewear"],
        schema_type: "Optician",
        persona: P::ClinicalPrecision,
        label: ["Opticien", "Optiker", "Optician"],
        services: [
            &[
                "Lunettes de vue",
                "Lunettes de soleil",
                "Lentilles de contact",
                "Examen de la vue",
            ],
            &["Brillen", "Sonnenbrillen", "Kontaktlinsen", "Sehtest"],
            &["Glasses", "Sunglasses", "Contact lenses", "Eye tests"],
        ],
    },
    CategoryInfo {
        key: K::Veterinary,
        keywords: &[
            "vet",
            "vétérinaire",
            "veterinaire",
            "tierarzt",
            "tierärzt",
            "animal hospital",
        ],
        schema_type: "VeterinaryCare",
        persona: P::ClinicalPrecision,
        label: ["Vétérinaire", "Tierarztpraxis", "Veterinarian"],
        services: [
            &["Consultations", "Vaccinations", "Chirurgie", "Conseils"],
            &["Sprechstunde", "Impfungen", "Operationen", "Beratung"],
            &["Consultations", "Vaccinations", "Surgery", "Advice"],
        ],
    },
    CategoryInfo {
        key: K::Doctor,
        keywords: &[
            "doctor",
            "médecin",
            "medecin",
            "physician",
            "arzt",
            "ärzt",
            "allgemeinmedizin",
            "medical",
            "médical",
            "clinic",
            "clinique",
            "praxis",
        ],
        schema_type: "Physician",
        persona: P::ClinicalPrecision,
        label: ["Cabinet médical", "Arztpraxis", "Medical practice"],
        services: [
            &["Consultations", "Bilans de santé", "Vaccinations", "Suivi"],
            &["Sprechstunde", "Vorsorgeuntersuchungen", "Impfungen", "Nachsorge"],
            &["Consultations", "Health checks", "Vaccinations", "Follow-up care"],
        ],
    },
    CategoryInfo {
        key: K::AutoRepair,
        keywords: &[
            "auto repair",
            "car repair",
            "mechanic",
            "garage",
            "werkstatt",
            "kfz",
            "autohaus",
            "carrosserie",
            "karosserie",
            "tyre",
            "tire",
            "pneu",
            "reifen",
            "mécanique",
            "mecanique",
        ],
        schema_type: "AutoRepair",
        persona: P::CraftStructure,
        label: ["Garage automobile", "Autowerkstatt", "Car repair"],
        services: [
            &[
                "Entretien et vidange",
                "Freins",
                "Pneus",
                "Diagnostic",
                "Préparation au contrôle technique",
            ],
            &[
                "Inspektion und Ölwechsel",
                "Bremsen",
                "Reifen",
                "Fehlerdiagnose",
                "Vorbereitung zur Hauptuntersuchung",
            ],
            &[
                "Servicing and oil change",
                "Brakes",
                "Tyres",
                "Diagnostics",
                "Inspection preparation",
            ],
        ],
    },
    CategoryInfo {
        key: K::HairSalon,
        keywords: &["hair", "coiff", "friseur", "frisör", "barber", "barbier"],
        schema_type: "HairSalon",
        persona: P::AestheticWellness,
        label: ["Salon de coiffure", "Friseursalon", "Hair salon"],
        services: [
            &["Coupe", "Couleur", "Brushing", "Soins", "Coiffure homme"],
            &[
                "Haarschnitt",
                "Färben",
                "Föhnen und Styling",
                "Haarpflege",
                "Herrenhaarschnitt",
            ],
            &[
                "Cuts",
                "Colour",
                "Blow-dry and styling",
                "Treatments",
                "Men's cuts",
            ],
        ],
    },
    CategoryInfo {
        key: K::BeautySalon,
        keywords: &[
            "beauty", "beauté", "beaute", "esthéti", "esthetic", "kosmetik", "nail", "ongle", "nagel",
        ],
        schema_type: "BeautySalon",
        persona: P::AestheticWellness,
        label: ["Institut de beauté", "Kosmetikstudio", "Beauty salon"],
        services: [
            &["Soins du visage", "Manucure", "Épilation", "Maquillage"],
            &["Gesichtsbehandlung", "Maniküre", "Haarentfernung", "Make-up"],
            &["Facials", "Manicure", "Waxing", "Make-up"],
        ],
    },
    CategoryInfo {
        key: K::Spa,
        keywords: &["spa", "massage", "wellness", "sauna"],
        schema_type: "DaySpa",
        persona: P::AestheticWellness,
        label: ["Spa", "Wellness", "Spa"],
        services: [
            &["Massages", "Soins du corps", "Détente"],
            &["Massagen", "Körperbehandlungen", "Entspannung"],
            &["Massages", "Body treatments", "Relaxation"],
        ],
    },
    CategoryInfo {
        key: K::Gym,
        keywords: &["gym", "fitness", "salle de sport", "crossfit", "yoga", "pilates"],
        schema_type: "ExerciseGym",
        persona: P::AestheticWellness,
        label: ["Salle de sport", "Fitnessstudio", "Gym"],
        services: [
            &[
                "Entraînement libre",
                "Cours collectifs",
                "Coaching",
                "Abonnements",
            ],
            &[
                "Freies Training",
                "Kurse",
                "Personal Training",
                "Mitgliedschaften",
            ],
            &["Open gym", "Group classes", "Personal training", "Memberships"],
        ],
    },
    CategoryInfo {
        key: K::Plumber,
        keywords: &[
            "plumb",
            "plomb",
            "sanitär",
            "sanitaer",
            "sanitaire",
            "installateur",
        ],
        schema_type: "Plumber",
        persona: P::RapidResponse,
        label: ["Plombier", "Sanitärinstallateur", "Plumber"],
        services: [
            &["Dépannage", "Fuites d'eau", "Salles de bains", "Chauffe-eau"],
            &[
                "Reparaturen",
                "Rohrbruch und Lecks",
                "Badsanierung",
                "Warmwasserbereiter",
            ],
            &["Repairs", "Leaks", "Bathrooms", "Water heaters"],
        ],
    },
    CategoryInfo {
        key: K::Electrician,
        keywords: &["electric", "électric", "elektri"],
        schema_type: "Electrician",
        persona: P::RapidResponse,
        label: ["Électricien", "Elektriker", "Electrician"],
        services: [
            &["Dépannage", "Installations", "Tableaux électriques", "Éclairage"],
            &[
                "Störungsdienst",
                "Installationen",
                "Sicherungskästen",
                "Beleuchtung",
            ],
            &["Repairs", "Installations", "Fuse boxes", "Lighting"],
        ],
    },
    CategoryInfo {
        key: K::Locksmith,
        keywords: &[
            "locksmith",
            "serrur",
            "schlüssel",
            "schlosserei",
            "schlüsseldienst",
        ],
        schema_type: "Locksmith",
        persona: P::RapidResponse,
        label: ["Serrurier", "Schlüsseldienst", "Locksmith"],
        services: [
            &[
                "Ouverture de porte",
                "Changement de serrure",
                "Reproduction de clés",
                "Sécurisation",
            ],
            &[
                "Türöffnung",
                "Schlosswechsel",
                "Schlüsselkopien",
                "Einbruchschutz",
            ],
            &["Lockouts", "Lock changes", "Key cutting", "Security upgrades"],
        ],
    },
    CategoryInfo {
        key: K::Roofer,
        keywords: &["roof", "couvreur", "toiture", "dachdecker", "zimmerei"],
        schema_type: "RoofingContractor",
        persona: P::CraftStructure,
        label: ["Couvreur", "Dachdecker", "Roofer"],
        services: [
            &[
                "Réparation de toiture",
                "Toitures neuves",
                "Gouttières",
                "Isolation",
            ],
            &["Dachreparatur", "Neueindeckung", "Dachrinnen", "Dämmung"],
            &["Roof repairs", "New roofs", "Gutters", "Insulation"],
        ],
    },
    CategoryInfo {
        key: K::Painter,
        keywords: &["painter", "peintre", "peinture", "maler", "decorator", "décorat"],
        schema_type: "HousePainter",
        persona: P::CraftStructure,
        label: ["Peintre en bâtiment", "Malerbetrieb", "Painter and decorator"],
        services: [
            &[
                "Peinture intérieure",
                "Façades",
                "Papier peint",
                "Conseils couleurs",
            ],
            &["Innenanstrich", "Fassaden", "Tapezieren", "Farbberatung"],
            &["Interior painting", "Exteriors", "Wallpaper", "Colour advice"],
        ],
    },
    CategoryInfo {
        key: K::Lawyer,
        keywords: &[
            "lawyer",
            "avocat",
            "rechtsanwalt",
            "anwalt",
            "attorney",
            "law firm",
            "notaire",
            "notar",
        ],
        schema_type: "LegalService",
        persona: P::HeritageTrust,
        label: ["Cabinet d'avocats", "Rechtsanwaltskanzlei", "Law firm"],
        services: [
            &[
                "Conseil",
                "Représentation",
                "Rédaction d'actes",
                "Premier rendez-vous",
            ],
            &["Beratung", "Vertretung", "Vertragsgestaltung", "Erstgespräch"],
            &["Advice", "Representation", "Drafting", "First consultation"],
        ],
    },
    CategoryInfo {
        key: K::Accountant,
        keywords: &[
            "accountant",
            "accounting",
            "comptab",
            "expert-compt",
            "steuerberat",
            "buchhalt",
            "fiduciaire",
        ],
        schema_type: "AccountingService",
        persona: P::HeritageTrust,
        label: ["Cabinet comptable", "Steuerberatung", "Accountant"],
        services: [
            &[
                "Comptabilité",
                "Déclarations fiscales",
                "Paie",
                "Création d'entreprise",
            ],
            &[
                "Buchhaltung",
                "Steuererklärungen",
                "Lohnabrechnung",
                "Existenzgründung",
            ],
            &["Bookkeeping", "Tax returns", "Payroll", "Company formation"],
        ],
    },
    CategoryInfo {
        key: K::RealEstate,
        keywords: &["real estate", "immobili", "realtor", "makler"],
        schema_type: "RealEstateAgent",
        persona: P::HeritageTrust,
        label: ["Agence immobilière", "Immobilienmakler", "Estate agent"],
        services: [
            &["Vente", "Location", "Estimation", "Gestion"],
            &["Verkauf", "Vermietung", "Wertermittlung", "Verwaltung"],
            &["Sales", "Lettings", "Valuations", "Property management"],
        ],
    },
];

/// The category of a business, from its category, subcategory or name (in
/// that order of trust). `None` when nothing matches.
pub fn detect(
    category: Option<&str>,
    subcategory: Option<&str>,
    name: &str,
) -> Option<&'static CategoryInfo> {
    [category, subcategory, Some(name)]
        .into_iter()
        .flatten()
        .map(str::to_lowercase)
        .find_map(|text| {
            CATEGORIES
                .iter()
                .find(|info| info.keywords.iter().any(|k| contains_word_start(&text, k)))
        })
}

/// `keyword` occurs in `text` at the start of a word (so `vet` matches
/// `vet clinic` but not `corvette`, and `garage` matches `autogarage` only
/// as a whole compound ending).
fn contains_word_start(text: &str, keyword: &str) -> bool {
    text.match_indices(keyword).any(|(i, _)| {
        i == 0
            || text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| !c.is_alphanumeric())
            || keyword.len() >= 6
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_in_three_languages_are_recognised() {
        let cases = [
            ("Bakery", K::Bakery),
            ("Boulangerie-pâtisserie", K::Bakery),
            ("Bäckerei", K::Bakery),
            ("Autowerkstatt", K::AutoRepair),
            ("Kfz-Werkstatt", K::AutoRepair),
            ("Garage automobile", K::AutoRepair),
            ("Dentist", K::Dentist),
            ("Zahnarztpraxis", K::Dentist),
            ("Salon de coiffure", K::HairSalon),
            ("Plumber", K::Plumber),
            ("Pizzeria", K::Restaurant),
            ("Vet clinic", K::Veterinary),
        ];
        for (text, key) in cases {
            assert_eq!(detect(Some(text), None, "x").map(|c| c.key), Some(key), "{text}");
        }
    }

    #[test]
    fn short_keywords_need_a_word_start() {
        assert_eq!(detect(Some("Corvette club"), None, "x").map(|c| c.key), None);
        assert_eq!(detect(Some("Thermospa"), None, "x").map(|c| c.key), None);
    }

    #[test]
    fn the_name_is_the_last_resort() {
        assert_eq!(
            detect(Some("Point of interest"), None, "Boulangerie Hoffmann").map(|c| c.key),
            Some(K::Bakery)
        );
        assert_eq!(
            detect(Some("Water damage restoration service"), None, "Aqua Fix").map(|c| c.key),
            None
        );
    }

    #[test]
    fn every_category_has_services_in_every_language() {
        for info in CATEGORIES {
            for lang in Language::ALL {
                assert!(info.services(lang).len() >= 3, "{:?} {lang:?}", info.key);
                assert!(!info.label(lang).is_empty());
            }
        }
    }
}
