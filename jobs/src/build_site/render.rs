//! HTML rendering with minijinja.
//!
//! Templates are compiled into the binary (`include_str!`), loaded once into
//! one [`Environment`] with strict undefined behaviour (a missing value is a
//! template bug and fails the build instead of rendering "undefined") and
//! HTML auto-escaping for every `.html` template. The CSS template
//! (`site.css`) is filled only with colours, numbers and font stacks from the
//! DNA, never with business data.
//!
//! The page is self-contained: one inline `<style>`, JSON-LD, no scripts, no
//! external CSS, fonts or CDNs; images are the business's own photos.

use std::sync::OnceLock;

use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::BuildError;
use super::config::{ClaimText, GeneratorConfig};
use super::copy::{Copy, Facts, PrimaryAction, primary_action};
use super::dna::{CreativeDna, Section, Theme};
use super::hours::{self, OpeningHours};
use super::input::{Business, SiteInput};
use super::language::Language;
use super::palette::ContrastCheck;
use super::reviews::{self, Quote};
use super::schema_org;
use super::text;

/// Per-render options the integrator decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderOptions {
    /// Absolute URL the page is served at (canonical, Open Graph, JSON-LD).
    pub site_url: String,
    /// `https:` URL of the claim-or-remove page for this preview.
    pub claim_url: String,
    /// `false` for previews: adds `noindex,nofollow`. The quality gate
    /// renders the same version with `true` so Lighthouse's SEO audit can
    /// pass.
    pub indexable: bool,
    /// Absolute URL of a 1200×630 Open Graph image, when one was made.
    pub og_image: Option<String>,
    /// Claim-bar wording in the page's language.
    pub claim: ClaimText,
    /// Agency named in the claim bar and footer.
    pub agency_name: String,
}

impl RenderOptions {
    /// Options with the claim wording and agency name of `config` in the
    /// language `dna` chose.
    pub fn new(
        config: &GeneratorConfig,
        dna: &CreativeDna,
        site_url: impl Into<String>,
        claim_url: impl Into<String>,
        indexable: bool,
    ) -> RenderOptions {
        RenderOptions {
            site_url: site_url.into(),
            claim_url: claim_url.into(),
            indexable,
            og_image: None,
            claim: config.claim(dna.language.language),
            agency_name: config.agency_name.clone(),
        }
    }
}

/// A rendered page and what is needed to check and store it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedSite {
    /// The whole page, CSS inlined.
    pub html: String,
    /// The same CSS on its own, for reference.
    pub css: String,
    /// Template version that made it.
    pub template_version: String,
    /// SHA-256 of `html`, hex: equal hashes mean equal bytes.
    pub content_hash: String,
    /// Theme used.
    pub theme: Theme,
    /// Language used.
    pub language: Language,
    /// Contrast checks of the palette in the CSS.
    pub contrast: Vec<ContrastCheck>,
    /// Whether the page allows indexing.
    pub indexable: bool,
    /// URL it is meant to be served at.
    pub site_url: String,
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "page.html",
    "site.css",
    "hero_classic.html",
    "hero_bold.html",
    "hero_editorial.html",
    "hero_facts.html",
    "section_trust.html",
    "section_services.html",
    "section_about.html",
    "section_gallery.html",
    "section_reviews.html",
    "section_hours.html",
    "section_location.html",
    "section_faq.html",
    "section_contact.html",
];

fn environment() -> Result<&'static Environment<'static>, BuildError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| format!("{e:#}"))?;
        env.set_syntax(syntax);
        env.set_formatter(html_formatter);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).map_err(|e| format!("{e:#}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(|e| BuildError::Template(e.clone()))
}

/// Minijinja's HTML escaping also escapes `/` (as `&#x2f;`), which is not
/// needed in HTML text or quoted attributes and makes every URL three
/// times longer. This formatter escapes exactly `& < > " '` in strings
/// under HTML auto-escaping and leaves everything else (safe strings,
/// numbers, CSS, JSON) to the default.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if matches!(state.auto_escape(), minijinja::AutoEscape::Html)
        && !value.is_safe()
        && let Some(text) = value.as_str()
    {
        let mut last = 0;
        for (i, c) in text.char_indices() {
            let entity = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => continue,
            };
            out.write_str(&text[last..i])?;
            out.write_str(entity)?;
            last = i + 1;
        }
        out.write_str(&text[last..])?;
        return Ok(());
    }
    minijinja::escape_formatter(out, state, value)
}

/// Words of the page chrome (not copy: they never vary by business).
#[derive(Debug, Serialize)]
struct Labels {
    skip: &'static str,
    nav: &'static str,
    nav_services: &'static str,
    nav_hours: &'static str,
    nav_location: &'static str,
    nav_contact: &'static str,
    phone: &'static str,
    email: &'static str,
    address: &'static str,
    directions: &'static str,
    photo: &'static str,
    photo_credit: &'static str,
    review_link: &'static str,
    out_of_five: &'static str,
    hours_more: &'static str,
    trust: &'static str,
    privacy: &'static str,
    made_by: &'static str,
    claim_label: &'static str,
}

fn labels(lang: Language) -> Labels {
    match lang {
        Language::Fr => Labels {
            skip: "Aller au contenu",
            nav: "Navigation principale",
            nav_services: "Prestations",
            nav_hours: "Horaires",
            nav_location: "Accès",
            nav_contact: "Contact",
            phone: "Téléphone",
            email: "E-mail",
            address: "Adresse",
            directions: "Voir l'itinéraire sur Google Maps",
            photo: "photo",
            photo_credit: "Photo :",
            review_link: "Lire l'avis de",
            out_of_five: "sur 5",
            hours_more: "Autres informations",
            trust: "En bref",
            privacy: "Cette page ne dépose aucun cookie et ne contient aucun traceur.",
            made_by: "Aperçu réalisé par",
            claim_label: "À propos de cet aperçu",
        },
        Language::De => Labels {
            skip: "Zum Inhalt springen",
            nav: "Hauptnavigation",
            nav_services: "Leistungen",
            nav_hours: "Öffnungszeiten",
            nav_location: "Anfahrt",
            nav_contact: "Kontakt",
            phone: "Telefon",
            email: "E-Mail",
            address: "Adresse",
            directions: "Route in Google Maps öffnen",
            photo: "Foto",
            photo_credit: "Foto:",
            review_link: "Bewertung lesen von",
            out_of_five: "von 5",
            hours_more: "Weitere Angaben",
            trust: "Auf einen Blick",
            privacy: "Diese Seite setzt keine Cookies und enthält keine Tracker.",
            made_by: "Vorschau erstellt von",
            claim_label: "Über diese Vorschau",
        },
        Language::En => Labels {
            skip: "Skip to content",
            nav: "Main navigation",
            nav_services: "Services",
            nav_hours: "Hours",
            nav_location: "Find us",
            nav_contact: "Contact",
            phone: "Phone",
            email: "E-mail",
            address: "Address",
            directions: "Get directions on Google Maps",
            photo: "photo",
            photo_credit: "Photo:",
            review_link: "Read the review by",
            out_of_five: "out of 5",
            hours_more: "More information",
            trust: "At a glance",
            privacy: "This page sets no cookies and contains no trackers.",
            made_by: "Preview made by",
            claim_label: "About this preview",
        },
    }
}

fn month_name(month: u32, lang: Language) -> &'static str {
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const DE: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let i = (month.clamp(1, 12) - 1) as usize;
    match lang {
        Language::Fr => FR[i],
        Language::De => DE[i],
        Language::En => EN[i],
    }
}

#[derive(Serialize)]
struct PhotoView {
    url: String,
    width: u32,
    height: u32,
    alt: String,
    credit: Option<String>,
}

#[derive(Serialize)]
struct QuoteView {
    author: String,
    rating: u8,
    stars: String,
    text: String,
    date: Option<String>,
    date_iso: Option<String>,
    source_url: Option<String>,
}

#[derive(Serialize)]
struct Cta {
    label: String,
    href: String,
    kind: PrimaryAction,
}

#[derive(Serialize)]
struct Faq {
    question: String,
    answer: String,
}

#[derive(Serialize)]
struct NavItem {
    href: String,
    label: &'static str,
}

#[derive(Serialize)]
struct Page {
    lang_tag: String,
    og_locale: String,
    theme: &'static str,
    title: String,
    description: String,
    canonical: String,
    robots: Option<&'static str>,
    theme_color: String,
    favicon: String,
    og_image: Option<String>,
    css: String,
    json_ld: serde_json::Value,
    claim_text: String,
    claim_link: String,
    claim_url: String,
    /// A preview (not indexable) carries the claim bar; the customer's own
    /// site (and the quality gate's rendering of it) does not.
    preview: bool,
    agency: String,
    name: String,
    phone: Option<String>,
    phone_href: Option<String>,
    email: Option<String>,
    email_href: Option<String>,
    address: Option<String>,
    directions_url: Option<String>,
    cta: Cta,
    headline: String,
    subheadline: String,
    hero_photo: Option<PhotoView>,
    gallery: Vec<PhotoView>,
    trust: Vec<String>,
    services_title: String,
    services_intro: String,
    services: Vec<String>,
    about_title: String,
    about: Vec<String>,
    reviews_title: String,
    quotes: Vec<QuoteView>,
    gallery_title: String,
    hours_title: String,
    hours_rows: Vec<(String, String)>,
    hours_unparsed: Vec<String>,
    hours_fallback: String,
    location_title: String,
    location_text: String,
    faq_title: String,
    faq: Vec<Faq>,
    contact_title: String,
    contact_text: String,
    sections: Vec<&'static str>,
    nav: Vec<NavItem>,
    l: Labels,
}

#[derive(Serialize)]
struct CssContext<'a> {
    theme: &'static str,
    p: &'a super::palette::Palette,
    t: &'a super::dna::TypeScale,
    fonts: &'a super::dna::FontStack,
    radius: u8,
}

fn check_options(options: &RenderOptions) -> Result<(), BuildError> {
    let site = Url::parse(&options.site_url).map_err(|e| BuildError::InvalidOption {
        field: "site_url",
        reason: e.to_string(),
    })?;
    if !matches!(site.scheme(), "https" | "http") || site.host_str().is_none() {
        return Err(BuildError::InvalidOption {
            field: "site_url",
            reason: "must be an absolute http(s) URL".into(),
        });
    }
    // The claim link is only on previews (the customer's own page has none).
    let claim = (!options.indexable).then_some(&options.claim_url);
    for (field, value) in [("claim_url", claim), ("og_image", options.og_image.as_ref())] {
        let Some(value) = value else { continue };
        // http only on a site served over http (a local demo), from its origin.
        let ok = Url::parse(value).is_ok_and(|u| {
            u.host_str().is_some()
                && (u.scheme() == "https" || (u.scheme() == "http" && u.origin() == site.origin()))
        });
        if !ok {
            return Err(BuildError::InvalidOption {
                field,
                reason: "must be an absolute https URL (or http on the site's own origin)".into(),
            });
        }
    }
    Ok(())
}

fn fill(facts: &Facts, field: &str, phrase: &str) -> Result<String, BuildError> {
    facts.fill(field, phrase).map_err(BuildError::Copy)
}

fn fill_all(facts: &Facts, field: &str, phrases: &[String]) -> Result<Vec<String>, BuildError> {
    phrases
        .iter()
        .enumerate()
        .map(|(i, p)| fill(facts, &format!("{field}[{i}]"), p))
        .collect()
}

/// The title phrase filled; when it is over 60 characters, the shorter
/// forms `{name} – {city}` and `{name}` are tried before cutting, so a long
/// category does not push the city out.
fn fit_title(facts: &Facts, phrase: &str) -> Result<String, BuildError> {
    const MAX: usize = 60;
    let full = fill(facts, "title", phrase)?;
    if text::len(&full) <= MAX {
        return Ok(full);
    }
    let shorter = ["{name} – {city}", "{name}"]
        .iter()
        .filter_map(|p| facts.fill("title", p).ok())
        .find(|t| text::len(t) <= MAX);
    Ok(shorter.unwrap_or_else(|| text::cut(&full, MAX)))
}

fn favicon(dna: &CreativeDna) -> String {
    // A rounded square in the brand colour with a mark in its text colour;
    // `#` must be percent-encoded inside a data URI.
    let p = &dna.palette;
    format!(
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E\
         %3Crect width='32' height='32' rx='{}' fill='%23{}'/%3E\
         %3Ccircle cx='16' cy='16' r='7' fill='%23{}'/%3E%3C/svg%3E",
        (dna.radius_px / 2).min(10),
        &p.primary.hex()[1..],
        &p.on_primary.hex()[1..],
    )
}

fn directions_url(business: &Business) -> Option<String> {
    let query = business.address.maps_query(business.geo, &business.name)?;
    let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    Some(format!(
        "https://www.google.com/maps/search/?api=1&query={encoded}"
    ))
}

/// Render the page for `input` with `dna` and `copy`.
///
/// Fails with [`BuildError::MissingName`] when the record has no name,
/// [`BuildError::InvalidOption`] for a bad URL in `options`,
/// [`BuildError::Copy`] when the copy uses a fact the record lacks, and
/// [`BuildError::Template`] for a template bug. Missing optional data never
/// fails: each section has a designed fallback or is left out by the DNA.
pub fn render_site(
    input: &SiteInput,
    dna: &CreativeDna,
    copy: &Copy,
    options: &RenderOptions,
) -> Result<RenderedSite, BuildError> {
    check_options(options)?;
    let business = Business::from_input(input)?;
    let env = environment()?;
    let lang = dna.language.language;
    let hours = OpeningHours::parse(&input.opening_hours);
    let facts = Facts::new(&business, &hours, lang);
    let l = labels(lang);

    let css = env
        .get_template("site.css")
        .and_then(|t| {
            t.render(Serde(CssContext {
                theme: dna.theme.slug(),
                p: &dna.palette,
                t: &dna.type_scale,
                fonts: &dna.fonts,
                radius: dna.radius_px,
            }))
        })
        .map_err(|e| BuildError::Template(format!("{e:#}")))?;

    let action = primary_action(&business);
    let directions = directions_url(&business);
    let phone_href = business.phone.as_ref().map(|p| format!("tel:{}", p.e164));
    let email_href = business.email.as_ref().map(|e| format!("mailto:{e}"));
    let cta_href = match action {
        PrimaryAction::Call => phone_href.clone(),
        PrimaryAction::Directions => directions.clone(),
        PrimaryAction::Email => email_href.clone(),
        PrimaryAction::Contact => None,
    }
    .unwrap_or_else(|| "#contact".to_owned());

    let photos: Vec<PhotoView> = business
        .photos
        .iter()
        .enumerate()
        .map(|(i, p)| PhotoView {
            url: p.url.clone(),
            width: p.width,
            height: p.height,
            alt: format!("{} – {} {}", business.name, l.photo, i + 1),
            credit: p.attribution.clone(),
        })
        .collect();
    let mut photos = photos.into_iter();
    let hero_photo = photos.next();
    let gallery: Vec<PhotoView> = photos.collect();

    let quotes: Vec<QuoteView> = reviews::select(&input.reviews, reviews::MAX_QUOTES)
        .into_iter()
        .map(|q: Quote| {
            use chrono::Datelike;
            QuoteView {
                stars: "★".repeat(usize::from(q.rating)),
                date: q
                    .published
                    .map(|d| format!("{} {}", month_name(d.month(), lang), d.year())),
                date_iso: q.published.map(|d| d.format("%Y-%m-%d").to_string()),
                author: q.author,
                rating: q.rating,
                text: q.text,
                source_url: q.source_url,
            }
        })
        .collect();

    let sections: Vec<&'static str> = dna
        .section_order
        .iter()
        .filter(|s| **s != Section::Hero)
        .filter(|s| match s {
            Section::Reviews => !quotes.is_empty(),
            Section::Gallery => !gallery.is_empty(),
            Section::Faq => !copy.faq.is_empty(),
            Section::Trust => !copy.trust.is_empty(),
            Section::Services => !copy.services.is_empty() || !copy.services_intro.is_empty(),
            _ => true,
        })
        .map(|s| s.id())
        .collect();
    let nav = [
        ("services", l.nav_services),
        ("hours", l.nav_hours),
        ("location", l.nav_location),
        ("contact", l.nav_contact),
    ]
    .into_iter()
    .filter(|(id, _)| sections.contains(id))
    .map(|(id, label)| NavItem {
        href: format!("#{id}"),
        label,
    })
    .collect();

    let agency = text::clip(&options.agency_name, 80);
    let claim_text = text::clip(&options.claim.text, 300)
        .replace("{business}", &business.name)
        .replace("{agency}", &agency);

    let country = business.address.country_code.as_deref();
    let page = Page {
        lang_tag: lang.tag(country),
        og_locale: lang.og_locale(country),
        theme: dna.theme.slug(),
        title: fit_title(&facts, &copy.title)?,
        description: text::clip(&fill(&facts, "meta_description", &copy.meta_description)?, 155),
        canonical: options.site_url.clone(),
        robots: (!options.indexable).then_some("noindex,nofollow"),
        theme_color: dna.palette.primary.hex(),
        favicon: favicon(dna),
        og_image: options.og_image.clone().or_else(|| {
            hero_photo
                .as_ref()
                .map(|p| schema_org::absolute(&options.site_url, &p.url))
        }),
        css: css.clone(),
        json_ld: schema_org::local_business(&business, &hours, &dna.schema_type, &options.site_url),
        claim_text,
        claim_link: text::clip(&options.claim.link, 60),
        claim_url: options.claim_url.clone(),
        preview: !options.indexable,
        agency,
        name: business.name.clone(),
        phone: business.phone.as_ref().map(|p| p.display.clone()),
        phone_href,
        email: business.email.clone(),
        email_href,
        address: business.address.display.clone(),
        directions_url: directions,
        cta: Cta {
            label: fill(&facts, "cta", &copy.cta)?,
            href: cta_href,
            kind: action,
        },
        headline: fill(&facts, "headline", &copy.headline)?,
        subheadline: fill(&facts, "subheadline", &copy.subheadline)?,
        hero_photo,
        gallery,
        trust: fill_all(&facts, "trust", &copy.trust)?,
        services_title: fill(&facts, "services_title", &copy.services_title)?,
        services_intro: fill(&facts, "services_intro", &copy.services_intro)?,
        services: fill_all(&facts, "services", &copy.services)?,
        about_title: fill(&facts, "about_title", &copy.about_title)?,
        about: fill_all(&facts, "about", &copy.about)?,
        reviews_title: fill(&facts, "reviews_title", &copy.reviews_title)?,
        quotes,
        gallery_title: fill(&facts, "gallery_title", &copy.gallery_title)?,
        hours_title: fill(&facts, "hours_title", &copy.hours_title)?,
        hours_rows: hours::rows(&hours, lang),
        hours_unparsed: hours.unparsed.clone(),
        hours_fallback: fill(&facts, "hours_fallback", &copy.hours_fallback)?,
        location_title: fill(&facts, "location_title", &copy.location_title)?,
        location_text: fill(&facts, "location_text", &copy.location_text)?,
        faq_title: fill(&facts, "faq_title", &copy.faq_title)?,
        faq: copy
            .faq
            .iter()
            .enumerate()
            .map(|(i, f)| {
                Ok(Faq {
                    question: fill(&facts, &format!("faq[{i}].question"), &f.question)?,
                    answer: fill(&facts, &format!("faq[{i}].answer"), &f.answer)?,
                })
            })
            .collect::<Result<_, BuildError>>()?,
        contact_title: fill(&facts, "contact_title", &copy.contact_title)?,
        contact_text: fill(&facts, "contact_text", &copy.contact_text)?,
        sections,
        nav,
        l,
    };
    let html = env
        .get_template("page.html")
        .and_then(|t| t.render(Serde(&page)))
        .map_err(|e| BuildError::Template(format!("{e:#}")))?;
    let content_hash = hex(&Sha256::digest(html.as_bytes()));
    Ok(RenderedSite {
        html,
        css,
        template_version: dna.template_version.clone(),
        content_hash,
        theme: dna.theme,
        language: lang,
        contrast: dna.contrast.clone(),
        indexable: options.indexable,
        site_url: options.site_url.clone(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
