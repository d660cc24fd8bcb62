//! The content library: phrases per persona × language.
//!
//! Every phrase is written to be true of any business of its persona: tone,
//! never facts. Facts enter only through slots (`{name}`, `{city}`, …) that
//! the renderer fills from the checked record. Lines with `{city}` are used
//! only when the city is known.

use crate::build_site::dna::Persona;
use crate::build_site::language::Language;

/// Phrases of one persona in one language.
pub struct Voice {
    /// Subheadlines that name the city.
    pub sub_city: &'static [&'static str],
    /// Subheadlines without facts.
    pub sub_plain: &'static [&'static str],
    /// One line opening the services section.
    pub services_intro: &'static [&'static str],
    /// Call-to-action labels for a call (`{phone}` is the number).
    pub cta_call: &'static [&'static str],
    /// Opening line of the about section.
    pub about_intro: &'static [&'static str],
    /// Closing line of the contact section.
    pub contact_line: &'static [&'static str],
}

/// Fixed words of a language (headings, fact sentences, FAQ questions).
pub struct Words {
    /// `{name} – {what} in {city}` and the shorter forms.
    pub headline_full: &'static str,
    /// Without city.
    pub headline_what: &'static str,
    /// Without category.
    pub headline_city: &'static str,
    /// Directions CTA.
    pub cta_directions: &'static str,
    /// E-mail CTA.
    pub cta_email: &'static str,
    /// CTA when there is no way to reach the business: the contact section.
    pub cta_contact: &'static str,
    /// Section headings.
    pub services_title: &'static str,
    /// About heading (`{name}` allowed).
    pub about_title: &'static str,
    /// Reviews heading.
    pub reviews_title: &'static str,
    /// Gallery heading.
    pub gallery_title: &'static str,
    /// Hours heading.
    pub hours_title: &'static str,
    /// Shown when no hours are listed and a phone exists.
    pub hours_fallback_call: &'static str,
    /// Shown when no hours and no phone.
    pub hours_fallback_plain: &'static str,
    /// Location heading.
    pub location_title: &'static str,
    /// Location text.
    pub location_text: &'static str,
    /// FAQ heading.
    pub faq_title: &'static str,
    /// Contact heading.
    pub contact_title: &'static str,
    /// Trust strip: rating.
    pub trust_rating: &'static str,
    /// Trust strip: days open.
    pub trust_days: &'static str,
    /// Trust strip: open every day.
    pub trust_every_day: &'static str,
    /// Trust strip: city.
    pub trust_city: &'static str,
    /// About: address sentence.
    pub about_address: &'static str,
    /// About: rating sentence.
    pub about_rating: &'static str,
    /// About: days sentence.
    pub about_days: &'static str,
    /// About: every day.
    pub about_every_day: &'static str,
    /// FAQ: where.
    pub faq_where_q: &'static str,
    /// FAQ: where, answer.
    pub faq_where_a: &'static str,
    /// FAQ: when.
    pub faq_when_q: &'static str,
    /// FAQ: when, answer.
    pub faq_when_a: &'static str,
    /// FAQ: how to reach.
    pub faq_contact_q: &'static str,
    /// FAQ: by phone.
    pub faq_contact_phone: &'static str,
    /// FAQ: by e-mail.
    pub faq_contact_email: &'static str,
    /// Title tag: `{name} – {what} {city}`.
    pub title_full: &'static str,
    /// Meta description.
    pub description: &'static str,
    /// Meta description without city.
    pub description_plain: &'static str,
    /// Services fallback line for an unmapped category.
    pub services_fallback_intro: &'static str,
}

/// Fixed words of `lang`.
pub fn words(lang: Language) -> &'static Words {
    match lang {
        Language::Fr => &FR,
        Language::De => &DE,
        Language::En => &EN,
    }
}

static FR: Words = Words {
    headline_full: "{name}, {what_lc} à {city}",
    headline_what: "{name}, {what_lc}",
    headline_city: "{name} à {city}",
    cta_directions: "Itinéraire vers {name}",
    cta_email: "Écrire à {name}",
    cta_contact: "Nous contacter",
    services_title: "Nos prestations",
    about_title: "À propos de {name}",
    reviews_title: "Ce qu'en disent les clients",
    gallery_title: "En images",
    hours_title: "Horaires d'ouverture",
    hours_fallback_call: "Les horaires ne sont pas encore publiés. Appelez le {phone} avant de passer.",
    hours_fallback_plain: "Les horaires ne sont pas encore publiés. Contactez-nous avant de passer.",
    location_title: "Nous trouver",
    location_text: "{address}",
    faq_title: "Questions fréquentes",
    contact_title: "Contact",
    trust_rating: "Note Google : {rating}/5 ({review_count} avis)",
    trust_days: "Ouvert {open_days} jours par semaine",
    trust_every_day: "Ouvert tous les jours",
    trust_city: "À {city}",
    about_address: "Vous trouverez {name} à l'adresse suivante : {address}.",
    about_rating: "Sur Google, les clients lui donnent la note de {rating} sur 5, sur la base de {review_count} avis.",
    about_days: "{name} est ouvert {open_days} jours par semaine.",
    about_every_day: "{name} est ouvert tous les jours de la semaine.",
    faq_where_q: "Où se trouve {name} ?",
    faq_where_a: "À l'adresse {address}.",
    faq_when_q: "Quels sont les horaires de {name} ?",
    faq_when_a: "{hours}.",
    faq_contact_q: "Comment joindre {name} ?",
    faq_contact_phone: "Par téléphone au {phone}.",
    faq_contact_email: "Par e-mail à {email}.",
    title_full: "{name} – {what} à {city}",
    description: "{name}, {what_lc} à {city} : prestations, horaires, adresse et contact.",
    description_plain: "{name} : prestations, horaires, adresse et contact.",
    services_fallback_intro: "Appelez-nous ou passez nous voir pour en savoir plus sur nos prestations.",
};

static DE: Words = Words {
    headline_full: "{name} – {what} in {city}",
    headline_what: "{name} – {what}",
    headline_city: "{name} in {city}",
    cta_directions: "Route zu {name}",
    cta_email: "E-Mail an {name}",
    cta_contact: "Kontakt aufnehmen",
    services_title: "Unsere Leistungen",
    about_title: "Über {name}",
    reviews_title: "Das sagen Kundinnen und Kunden",
    gallery_title: "Bilder",
    hours_title: "Öffnungszeiten",
    hours_fallback_call: "Die Öffnungszeiten sind noch nicht veröffentlicht. Rufen Sie vor Ihrem Besuch unter {phone} an.",
    hours_fallback_plain: "Die Öffnungszeiten sind noch nicht veröffentlicht. Bitte fragen Sie vor Ihrem Besuch nach.",
    location_title: "So finden Sie uns",
    location_text: "{address}",
    faq_title: "Häufige Fragen",
    contact_title: "Kontakt",
    trust_rating: "Google-Bewertung: {rating}/5 ({review_count} Bewertungen)",
    trust_days: "An {open_days} Tagen pro Woche geöffnet",
    trust_every_day: "Jeden Tag geöffnet",
    trust_city: "In {city}",
    about_address: "Sie finden {name} unter folgender Adresse: {address}.",
    about_rating: "Auf Google wird {name} mit {rating} von 5 Sternen bewertet, aus {review_count} Bewertungen.",
    about_days: "{name} hat an {open_days} Tagen pro Woche geöffnet.",
    about_every_day: "{name} hat an allen Tagen der Woche geöffnet.",
    faq_where_q: "Wo finde ich {name}?",
    faq_where_a: "Unter der Adresse {address}.",
    faq_when_q: "Wann hat {name} geöffnet?",
    faq_when_a: "{hours}.",
    faq_contact_q: "Wie erreiche ich {name}?",
    faq_contact_phone: "Telefonisch unter {phone}.",
    faq_contact_email: "Per E-Mail an {email}.",
    title_full: "{name} – {what} in {city}",
    description: "{name}, {what} in {city}: Leistungen, Öffnungszeiten, Adresse und Kontakt.",
    description_plain: "{name}: Leistungen, Öffnungszeiten, Adresse und Kontakt.",
    services_fallback_intro: "Rufen Sie an oder kommen Sie vorbei, um mehr über unsere Leistungen zu erfahren.",
};

static EN: Words = Words {
    headline_full: "{name} – {what} in {city}",
    headline_what: "{name} – {what}",
    headline_city: "{name} in {city}",
    cta_directions: "Directions to {name}",
    cta_email: "E-mail {name}",
    cta_contact: "Get in touch",
    services_title: "What we do",
    about_title: "About {name}",
    reviews_title: "What customers say",
    gallery_title: "Photos",
    hours_title: "Opening hours",
    hours_fallback_call: "Opening hours are not published yet. Please call {phone} before you visit.",
    hours_fallback_plain: "Opening hours are not published yet. Please get in touch before you visit.",
    location_title: "Find us",
    location_text: "{address}",
    faq_title: "Questions and answers",
    contact_title: "Contact",
    trust_rating: "Rated {rating}/5 on Google ({review_count} reviews)",
    trust_days: "Open {open_days} days a week",
    trust_every_day: "Open every day",
    trust_city: "In {city}",
    about_address: "You will find {name} at {address}.",
    about_rating: "Customers rate {name} {rating} out of 5 on Google, from {review_count} reviews.",
    about_days: "{name} is open {open_days} days a week.",
    about_every_day: "{name} is open every day of the week.",
    faq_where_q: "Where is {name}?",
    faq_where_a: "At {address}.",
    faq_when_q: "When is {name} open?",
    faq_when_a: "{hours}.",
    faq_contact_q: "How can I reach {name}?",
    faq_contact_phone: "By phone on {phone}.",
    faq_contact_email: "By e-mail at {email}.",
    title_full: "{name} – {what} in {city}",
    description: "{name}, {what_lc} in {city}: services, opening hours, address and contact details.",
    description_plain: "{name}: services, opening hours, address and contact details.",
    services_fallback_intro: "Call or drop by to find out more about what we can do for you.",
};

/// Phrases of `persona` in `lang`.
pub fn voice(persona: Persona, lang: Language) -> Voice {
    use Language::{De, En, Fr};
    use Persona as P;
    match (persona, lang) {
        (P::HeritageTrust, Fr) => Voice {
            sub_city: &[
                "Un savoir-faire reconnu, au service de {city}.",
                "Une adresse de confiance à {city}.",
            ],
            sub_plain: &[
                "Un savoir-faire sérieux, un accueil attentif.",
                "Le sérieux d'une maison établie.",
            ],
            services_intro: &["Ce que nous proposons :", "Nos domaines :"],
            cta_call: &["Appeler le {phone}", "Prendre rendez-vous au {phone}"],
            about_intro: &["Chez {name}, chaque client est reçu avec attention."],
            contact_line: &["Nous vous répondons volontiers."],
        },
        (P::HeritageTrust, De) => Voice {
            sub_city: &[
                "Verlässlich und erfahren, in {city}.",
                "Eine Adresse mit Vertrauen in {city}.",
            ],
            sub_plain: &[
                "Sorgfältige Arbeit, persönliche Beratung.",
                "Verlässlichkeit, auf die Sie bauen können.",
            ],
            services_intro: &["Unser Angebot:", "Womit wir Ihnen helfen:"],
            cta_call: &["{phone} anrufen", "Termin unter {phone}"],
            about_intro: &["Bei {name} steht die persönliche Beratung im Mittelpunkt."],
            contact_line: &["Wir freuen uns auf Ihre Anfrage."],
        },
        (P::HeritageTrust, En) => Voice {
            sub_city: &[
                "Trusted experience, right here in {city}.",
                "A reliable name in {city}.",
            ],
            sub_plain: &[
                "Careful work and personal attention.",
                "Reliability you can build on.",
            ],
            services_intro: &["What we offer:", "How we can help:"],
            cta_call: &["Call {phone}", "Book on {phone}"],
            about_intro: &["At {name}, every client gets personal attention."],
            contact_line: &["We look forward to hearing from you."],
        },
        (P::ClinicalPrecision, Fr) => Voice {
            sub_city: &[
                "Des soins attentifs, à {city}.",
                "Votre santé entre de bonnes mains, à {city}.",
            ],
            sub_plain: &[
                "Des soins clairs, précis et attentifs.",
                "Prendre soin de vous, simplement.",
            ],
            services_intro: &["Nos soins :", "Ce que nous proposons :"],
            cta_call: &["Prendre rendez-vous au {phone}", "Appeler le cabinet au {phone}"],
            about_intro: &["{name} vous accueille dans un cadre calme et soigné."],
            contact_line: &["Pour un rendez-vous, contactez le cabinet."],
        },
        (P::ClinicalPrecision, De) => Voice {
            sub_city: &[
                "Sorgfältige Behandlung in {city}.",
                "Ihre Gesundheit in guten Händen, in {city}.",
            ],
            sub_plain: &["Klar, genau und einfühlsam.", "Gut betreut, Schritt für Schritt."],
            services_intro: &["Unser Angebot:", "Wobei wir Ihnen helfen:"],
            cta_call: &["Termin unter {phone}", "Praxis anrufen: {phone}"],
            about_intro: &["{name} empfängt Sie in ruhiger, gepflegter Atmosphäre."],
            contact_line: &["Für einen Termin erreichen Sie uns hier."],
        },
        (P::ClinicalPrecision, En) => Voice {
            sub_city: &[
                "Careful, clear care in {city}.",
                "Your health in good hands, in {city}.",
            ],
            sub_plain: &["Clear, precise and caring.", "Good care, one step at a time."],
            services_intro: &["Our treatments:", "How we can help:"],
            cta_call: &["Book on {phone}", "Call the practice: {phone}"],
            about_intro: &["{name} welcomes you in a calm, well-kept setting."],
            contact_line: &["To book an appointment, get in touch."],
        },
        (P::RapidResponse, Fr) => Voice {
            sub_city: &[
                "Un problème ? Appelez, on s'en occupe à {city}.",
                "Joignable et efficace, à {city}.",
            ],
            sub_plain: &[
                "Un problème ? Appelez, on s'en occupe.",
                "Efficace, clair, sans détour.",
            ],
            services_intro: &["Nos interventions :", "Ce que nous faisons :"],
            cta_call: &["Appeler maintenant : {phone}", "Appeler le {phone}"],
            about_intro: &["{name} intervient avec méthode et explique chaque étape."],
            contact_line: &["Appelez-nous : le plus simple est de décrire votre problème au téléphone."],
        },
        (P::RapidResponse, De) => Voice {
            sub_city: &[
                "Ein Problem? Anrufen, wir kümmern uns darum, in {city}.",
                "Erreichbar und zuverlässig in {city}.",
            ],
            sub_plain: &[
                "Ein Problem? Anrufen, wir kümmern uns darum.",
                "Schnell erklärt, sauber erledigt.",
            ],
            services_intro: &["Unsere Einsätze:", "Was wir erledigen:"],
            cta_call: &["Jetzt anrufen: {phone}", "{phone} anrufen"],
            about_intro: &["{name} arbeitet gründlich und erklärt jeden Schritt."],
            contact_line: &[
                "Rufen Sie an: Am schnellsten geht es, wenn Sie uns Ihr Problem am Telefon schildern.",
            ],
        },
        (P::RapidResponse, En) => Voice {
            sub_city: &[
                "A problem? Call and we'll take care of it, in {city}.",
                "Reachable and reliable in {city}.",
            ],
            sub_plain: &[
                "A problem? Call and we'll take care of it.",
                "Clearly explained, properly done.",
            ],
            services_intro: &["What we fix:", "What we handle:"],
            cta_call: &["Call now: {phone}", "Call {phone}"],
            about_intro: &["{name} works carefully and explains every step."],
            contact_line: &["Give us a call: describing the problem on the phone is the quickest way."],
        },
        (P::CraftStructure, Fr) => Voice {
            sub_city: &[
                "Du travail bien fait, à {city}.",
                "Le métier, le soin du détail, à {city}.",
            ],
            sub_plain: &[
                "Du travail bien fait, expliqué simplement.",
                "Le métier et le soin du détail.",
            ],
            services_intro: &["Nos travaux :", "Ce que nous faisons :"],
            cta_call: &["Appeler l'atelier : {phone}", "Appeler le {phone}"],
            about_intro: &["{name} met son savoir-faire au service de chaque chantier."],
            contact_line: &["Parlez-nous de votre projet."],
        },
        (P::CraftStructure, De) => Voice {
            sub_city: &["Gute Arbeit aus {city}.", "Handwerk mit Sorgfalt, in {city}."],
            sub_plain: &["Gute Arbeit, klar erklärt.", "Handwerk mit Sorgfalt."],
            services_intro: &["Unsere Arbeiten:", "Was wir machen:"],
            cta_call: &["Werkstatt anrufen: {phone}", "{phone} anrufen"],
            about_intro: &["{name} steht für sorgfältige Arbeit an jedem Auftrag."],
            contact_line: &["Erzählen Sie uns von Ihrem Anliegen."],
        },
        (P::CraftStructure, En) => Voice {
            sub_city: &["Good work, done properly, in {city}.", "Skilled hands in {city}."],
            sub_plain: &["Good work, clearly explained.", "Skilled hands, careful work."],
            services_intro: &["What we work on:", "Our work:"],
            cta_call: &["Call the workshop: {phone}", "Call {phone}"],
            about_intro: &["{name} brings care and skill to every job."],
            contact_line: &["Tell us about your job."],
        },
        (P::AestheticWellness, Fr) => Voice {
            sub_city: &["Un moment pour vous, à {city}.", "Prenez soin de vous, à {city}."],
            sub_plain: &["Un moment pour vous.", "Prenez le temps de prendre soin de vous."],
            services_intro: &["Au programme :", "Pour vous :"],
            cta_call: &["Réserver au {phone}", "Appeler le salon : {phone}"],
            about_intro: &["{name} vous accueille pour un moment rien qu'à vous."],
            contact_line: &["Réservez votre moment."],
        },
        (P::AestheticWellness, De) => Voice {
            sub_city: &["Zeit für Sie, in {city}.", "Gönnen Sie sich etwas, in {city}."],
            sub_plain: &["Zeit für Sie.", "Nehmen Sie sich Zeit für sich."],
            services_intro: &["Unser Angebot:", "Für Sie:"],
            cta_call: &["Termin unter {phone}", "Salon anrufen: {phone}"],
            about_intro: &["{name} empfängt Sie für eine Auszeit nur für Sie."],
            contact_line: &["Reservieren Sie Ihren Termin."],
        },
        (P::AestheticWellness, En) => Voice {
            sub_city: &["Time for you, in {city}.", "Look and feel your best, in {city}."],
            sub_plain: &["Time for you.", "Take time to look after yourself."],
            services_intro: &["Our services:", "For you:"],
            cta_call: &["Book on {phone}", "Call the salon: {phone}"],
            about_intro: &["{name} welcomes you for time that is all yours."],
            contact_line: &["Book your appointment."],
        },
        (P::CommunityNurture, Fr) => Voice {
            sub_city: &[
                "Votre adresse de quartier à {city}.",
                "Une bonne adresse à {city}, tout simplement.",
            ],
            sub_plain: &[
                "Votre adresse de quartier.",
                "Une bonne adresse, tout simplement.",
            ],
            services_intro: &["À découvrir chez nous :", "Ce que vous trouverez chez nous :"],
            cta_call: &["Appeler le {phone}", "Nous appeler : {phone}"],
            about_intro: &[
                "{name} vous accueille avec le sourire.",
                "Chez {name}, on prend le temps de bien vous recevoir.",
            ],
            contact_line: &["Passez nous voir ou appelez-nous."],
        },
        (P::CommunityNurture, De) => Voice {
            sub_city: &[
                "Ihre Adresse im Viertel, in {city}.",
                "Eine gute Adresse in {city}.",
            ],
            sub_plain: &["Ihre Adresse im Viertel.", "Einfach eine gute Adresse."],
            services_intro: &["Bei uns finden Sie:", "Das erwartet Sie:"],
            cta_call: &["{phone} anrufen", "Rufen Sie uns an: {phone}"],
            about_intro: &[
                "{name} empfängt Sie mit einem Lächeln.",
                "Bei {name} nimmt man sich Zeit für Sie.",
            ],
            contact_line: &["Kommen Sie vorbei oder rufen Sie an."],
        },
        (P::CommunityNurture, En) => Voice {
            sub_city: &[
                "Your neighbourhood favourite in {city}.",
                "A good address in {city}, plain and simple.",
            ],
            sub_plain: &[
                "Your neighbourhood favourite.",
                "A good address, plain and simple.",
            ],
            services_intro: &["What you'll find here:", "On offer:"],
            cta_call: &["Call {phone}", "Give us a call: {phone}"],
            about_intro: &[
                "{name} welcomes you with a smile.",
                "At {name}, we take the time to look after you.",
            ],
            contact_line: &["Drop by or give us a call."],
        },
        (P::TrustedLocal, Fr) => Voice {
            sub_city: &["À votre service à {city}.", "Près de chez vous, à {city}."],
            sub_plain: &["À votre service.", "Près de chez vous."],
            services_intro: &["Nos services :", "Ce que nous proposons :"],
            cta_call: &["Appeler le {phone}", "Nous appeler : {phone}"],
            about_intro: &["{name} est à votre disposition pour vous renseigner."],
            contact_line: &["Contactez-nous, nous vous renseignons volontiers."],
        },
        (P::TrustedLocal, De) => Voice {
            sub_city: &["Für Sie da in {city}.", "In Ihrer Nähe, in {city}."],
            sub_plain: &["Für Sie da.", "In Ihrer Nähe."],
            services_intro: &["Wobei wir helfen:", "Unser Angebot:"],
            cta_call: &["{phone} anrufen", "Rufen Sie uns an: {phone}"],
            about_intro: &["{name} ist gerne für Ihre Fragen da."],
            contact_line: &["Sprechen Sie uns an, wir helfen gerne weiter."],
        },
        (P::TrustedLocal, En) => Voice {
            sub_city: &["At your service in {city}.", "Close to you, in {city}."],
            sub_plain: &["At your service.", "Close to you."],
            services_intro: &["Our services:", "What we offer:"],
            cta_call: &["Call {phone}", "Give us a call: {phone}"],
            about_intro: &["{name} is happy to answer your questions."],
            contact_line: &["Get in touch, we are happy to help."],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERSONAS: [Persona; 7] = [
        Persona::HeritageTrust,
        Persona::ClinicalPrecision,
        Persona::RapidResponse,
        Persona::CraftStructure,
        Persona::AestheticWellness,
        Persona::CommunityNurture,
        Persona::TrustedLocal,
    ];

    #[test]
    fn every_voice_has_every_kind_of_phrase() {
        for persona in PERSONAS {
            for lang in Language::ALL {
                let v = voice(persona, lang);
                for list in [
                    v.sub_city,
                    v.sub_plain,
                    v.services_intro,
                    v.cta_call,
                    v.about_intro,
                    v.contact_line,
                ] {
                    assert!(!list.is_empty(), "{persona:?} {lang:?}");
                }
                assert!(
                    v.sub_city.iter().all(|s| s.contains("{city}")),
                    "{persona:?} {lang:?}"
                );
                assert!(
                    v.sub_plain.iter().all(|s| !s.contains('{')),
                    "{persona:?} {lang:?}"
                );
                assert!(
                    v.cta_call.iter().all(|s| s.contains("{phone}")),
                    "{persona:?} {lang:?}"
                );
                let title = words(lang).services_title.to_lowercase();
                assert!(
                    v.services_intro
                        .iter()
                        .all(|s| !s.to_lowercase().starts_with(&title)),
                    "{persona:?} {lang:?}: the intro repeats the heading"
                );
            }
        }
    }
}
