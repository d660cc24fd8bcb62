//! The business record a site is built from, as the integrator reads it from
//! `prospects`, and its checked form.
//!
//! [`SiteInput`] is deliberately permissive (every field but the id is
//! optional or may be empty, strings are raw) because the data comes from
//! scrapers and providers. [`Business::from_input`] is the one crossing point:
//! it cleans and cuts every string, drops values that cannot be used (a
//! rating of NaN, a photo that is not `https:`, an invalid e-mail) and fails
//! only when a site cannot be built at all (no name).

use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use super::BuildError;
use super::text;
use crate::domain::EmailAddress;

/// Whether the site is a first site or the rebuild of an outdated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The business has no website.
    #[default]
    New,
    /// The business has an outdated website; its content may be reused.
    Rebuild,
}

/// One business, as the discover stage stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteInput {
    /// The prospect's public id; seeds every choice the generator makes.
    pub public_id: Uuid,
    /// Business name as listed (required to build a site).
    #[serde(default)]
    pub name: String,
    /// Main category as listed (`Bakery`, `Boulangerie`, `Autowerkstatt`).
    #[serde(default)]
    pub category: Option<String>,
    /// Second category.
    #[serde(default)]
    pub subcategory: Option<String>,
    /// Postal address parts.
    #[serde(default)]
    pub address: AddressInput,
    /// Phone number, E.164 (`+352…`).
    #[serde(default)]
    pub phone: Option<String>,
    /// Public e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Opening hours, one raw line per day (`"Monday: 9:00 AM – 5:00 PM"`).
    #[serde(default)]
    pub opening_hours: Vec<String>,
    /// Average rating, 0–5.
    #[serde(default)]
    pub rating: Option<f64>,
    /// Number of reviews behind the rating.
    #[serde(default)]
    pub review_count: Option<i64>,
    /// Reviews the provider returned.
    #[serde(default)]
    pub reviews: Vec<ReviewInput>,
    /// Photos we may show.
    #[serde(default)]
    pub photos: Vec<PhotoInput>,
    /// Latitude (WGS 84).
    #[serde(default)]
    pub lat: Option<f64>,
    /// Longitude (WGS 84).
    #[serde(default)]
    pub lng: Option<f64>,
    /// The business's current website, for a rebuild.
    #[serde(default)]
    pub existing_website: Option<String>,
    /// Text scraped from the current website, for a rebuild.
    #[serde(default)]
    pub existing_content: Option<ExistingContent>,
    /// New site or rebuild.
    #[serde(default)]
    pub variant: Variant,
}

/// Address parts as the provider split them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressInput {
    /// The whole address on one line.
    #[serde(default)]
    pub full: Option<String>,
    /// Street and number.
    #[serde(default)]
    pub street: Option<String>,
    /// City or locality.
    #[serde(default)]
    pub city: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// State or region.
    #[serde(default)]
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country_code: Option<String>,
}

/// One review as the provider returned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewInput {
    /// Author's display name.
    #[serde(default)]
    pub author: String,
    /// Stars, 1–5.
    #[serde(default)]
    pub rating: Option<f64>,
    /// Review text, verbatim.
    #[serde(default)]
    pub text: String,
    /// When it was published (RFC 3339 or `YYYY-MM-DD`).
    #[serde(default)]
    pub published: Option<String>,
    /// Where the review can be read.
    #[serde(default)]
    pub source_url: Option<String>,
}

/// One photo we may show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoInput {
    /// `https:` URL, or a path on the site's own host (`/photos/1.webp`).
    pub url: String,
    /// Intrinsic width in pixels.
    #[serde(default)]
    pub width: Option<u32>,
    /// Intrinsic height in pixels.
    #[serde(default)]
    pub height: Option<u32>,
    /// Credit line to show with the photo.
    #[serde(default)]
    pub attribution: Option<String>,
}

/// What the current website says about the business (rebuilds only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExistingContent {
    /// `<title>`.
    #[serde(default)]
    pub title: Option<String>,
    /// Meta description.
    #[serde(default)]
    pub description: Option<String>,
    /// Headings, in page order.
    #[serde(default)]
    pub headings: Vec<String>,
    /// Paragraph snippets, in page order.
    #[serde(default)]
    pub snippets: Vec<String>,
}

/// Character budgets for the values shown on a page.
pub mod limits {
    /// Business name.
    pub const NAME: usize = 80;
    /// Category labels.
    pub const CATEGORY: usize = 60;
    /// Address lines.
    pub const ADDRESS_LINE: usize = 120;
    /// City, postal code, state.
    pub const SHORT: usize = 60;
    /// Photo credits.
    pub const ATTRIBUTION: usize = 100;
    /// Text reused from an old website.
    pub const EXISTING_TEXT: usize = 400;
    /// Headings reused from an old website.
    pub const EXISTING_HEADING: usize = 80;
    /// Photos kept.
    pub const PHOTOS: usize = 6;
}

/// A latitude/longitude pair known to be in range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    /// Latitude, −90..=90.
    pub lat: f64,
    /// Longitude, −180..=180.
    pub lng: f64,
}

/// A photo that passed the checks: safe URL, known or assumed dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    /// `https:` URL or site-relative path.
    pub url: String,
    /// Width attribute (the intrinsic one, or 1200 when unknown).
    pub width: u32,
    /// Height attribute (the intrinsic one, or 800 when unknown).
    pub height: u32,
    /// Credit line, cleaned.
    pub attribution: Option<String>,
}

/// Cleaned address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street and number.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Upper-case ISO country code.
    pub country_code: Option<String>,
    /// One-line address for display: the provider's, or built from parts.
    pub display: Option<String>,
}

/// A business that passed [`Business::from_input`]: every string clean and
/// within its budget, every optional value usable or absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Business {
    /// Public id.
    pub public_id: Uuid,
    /// Name, cut to [`limits::NAME`].
    pub name: String,
    /// Main category.
    pub category: Option<String>,
    /// Second category.
    pub subcategory: Option<String>,
    /// Address.
    pub address: Address,
    /// Phone, E.164, when it parses.
    pub phone: Option<Phone>,
    /// E-mail, when valid.
    pub email: Option<String>,
    /// Rating, 0–5 rounded to one decimal, only when finite and in range.
    pub rating: Option<f64>,
    /// Review count, only with a rating.
    pub review_count: Option<u64>,
    /// Coordinates, only when both are valid.
    pub geo: Option<Geo>,
    /// Usable photos, at most [`limits::PHOTOS`].
    pub photos: Vec<Photo>,
    /// Cleaned text from the old site.
    pub existing: Option<ExistingContent>,
    /// New or rebuild.
    pub variant: Variant,
}

/// A phone number we can link to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// `+` and digits, for `tel:` and JSON-LD.
    pub e164: String,
    /// As people write it (`+352 26 12 34 56`).
    pub display: String,
}

impl Phone {
    /// Parse an E.164 string (spaces and punctuation tolerated). Numbers the
    /// phone library cannot parse are kept only when they are plain `+`
    /// followed by 8–15 digits.
    pub fn parse(raw: &str) -> Option<Phone> {
        let compact: String = raw.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
        let digits = compact.trim_start_matches('+');
        if !compact.starts_with('+') || !(8..=15).contains(&digits.len()) || digits.contains('+') {
            return None;
        }
        let e164 = format!("+{digits}");
        let display = match phonenumber::parse(None, &e164) {
            Ok(number) if phonenumber::is_valid(&number) => {
                number.format().mode(phonenumber::Mode::International).to_string()
            }
            _ => e164.clone(),
        };
        Some(Phone { e164, display })
    }
}

/// `https:` URLs (with a host) and absolute paths on our own host pass.
pub fn safe_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.starts_with('/') && !raw.starts_with("//") {
        let ok = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.~%".contains(c));
        return ok.then(|| raw.to_owned());
    }
    let url = Url::parse(raw).ok()?;
    (url.scheme() == "https" && url.host_str().is_some_and(|h| !h.is_empty())).then(|| url.to_string())
}

impl Business {
    /// Check and clean a record. Fails only when no name is left after
    /// cleaning; everything else degrades to "absent".
    pub fn from_input(input: &SiteInput) -> Result<Business, BuildError> {
        let name = text::clip(&input.name, limits::NAME);
        if name.is_empty() {
            return Err(BuildError::MissingName);
        }
        let rating = input
            .rating
            .filter(|r| r.is_finite() && (0.0..=5.0).contains(r))
            .map(|r| (r * 10.0).round() / 10.0);
        let review_count = rating.and(input.review_count).and_then(|n| u64::try_from(n).ok());
        let geo = match (input.lat, input.lng) {
            (Some(lat), Some(lng))
                if lat.is_finite()
                    && lng.is_finite()
                    && (-90.0..=90.0).contains(&lat)
                    && (-180.0..=180.0).contains(&lng)
                    && !(lat == 0.0 && lng == 0.0) =>
            {
                Some(Geo { lat, lng })
            }
            _ => None,
        };
        let photos = input
            .photos
            .iter()
            .filter_map(|p| {
                let url = safe_url(&p.url)?;
                let (width, height) = match (p.width, p.height) {
                    (Some(w), Some(h)) if (16..=10_000).contains(&w) && (16..=10_000).contains(&h) => (w, h),
                    _ => (1200, 800),
                };
                Some(Photo {
                    url,
                    width,
                    height,
                    attribution: text::optional(p.attribution.as_deref(), limits::ATTRIBUTION),
                })
            })
            .take(limits::PHOTOS)
            .collect();
        let existing = match (input.variant, &input.existing_content) {
            (Variant::Rebuild, Some(c)) => Some(ExistingContent {
                title: text::optional(c.title.as_deref(), limits::EXISTING_HEADING),
                description: text::optional(c.description.as_deref(), limits::EXISTING_TEXT),
                headings: c
                    .headings
                    .iter()
                    .filter_map(|h| text::optional(Some(h), limits::EXISTING_HEADING))
                    .take(12)
                    .collect(),
                snippets: c
                    .snippets
                    .iter()
                    .filter_map(|h| text::optional(Some(h), limits::EXISTING_TEXT))
                    .take(6)
                    .collect(),
            }),
            _ => None,
        };
        Ok(Business {
            public_id: input.public_id,
            name,
            category: text::optional(input.category.as_deref(), limits::CATEGORY),
            subcategory: text::optional(input.subcategory.as_deref(), limits::CATEGORY),
            address: Address::from_input(&input.address),
            phone: input.phone.as_deref().and_then(Phone::parse),
            email: input
                .email
                .as_deref()
                .and_then(|e| EmailAddress::parse(e.trim()).ok())
                .map(|e| e.as_str().to_owned()),
            rating,
            review_count,
            geo,
            photos,
            existing,
            variant: input.variant,
        })
    }

    /// `true` when the site can offer a call button.
    pub fn can_call(&self) -> bool {
        self.phone.is_some()
    }
}

impl Address {
    fn from_input(a: &AddressInput) -> Address {
        let street = text::optional(a.street.as_deref(), limits::ADDRESS_LINE);
        let city = text::optional(a.city.as_deref(), limits::SHORT);
        let postal_code = text::optional(a.postal_code.as_deref(), 20);
        let state = text::optional(a.state.as_deref(), limits::SHORT);
        let country_code = a
            .country_code
            .as_deref()
            .map(str::trim)
            .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
            .map(str::to_ascii_uppercase);
        let built = {
            let locality = [postal_code.as_deref(), city.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let parts: Vec<&str> = [street.as_deref(), Some(locality.as_str())]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        };
        let display = text::optional(a.full.as_deref(), limits::ADDRESS_LINE).or(built);
        Address {
            street,
            city,
            postal_code,
            state,
            country_code,
            display,
        }
    }

    /// Query for a maps search link: coordinates when known, else the address.
    pub fn maps_query(&self, geo: Option<Geo>, name: &str) -> Option<String> {
        match (geo, &self.display) {
            (Some(g), _) => Some(format!("{:.6},{:.6}", g.lat, g.lng)),
            (None, Some(d)) => Some(format!("{name}, {d}")),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn minimal(name: &str) -> SiteInput {
        SiteInput {
            public_id: Uuid::from_u128(0x1234),
            name: name.to_owned(),
            category: None,
            subcategory: None,
            address: AddressInput::default(),
            phone: None,
            email: None,
            opening_hours: vec![],
            rating: None,
            review_count: None,
            reviews: vec![],
            photos: vec![],
            lat: None,
            lng: None,
            existing_website: None,
            existing_content: None,
            variant: Variant::New,
        }
    }

    #[test]
    fn a_record_without_a_name_is_refused_with_a_typed_error() {
        for name in ["", "   ", "\u{200B}\n\t"] {
            assert!(matches!(
                Business::from_input(&minimal(name)),
                Err(BuildError::MissingName)
            ));
        }
    }

    #[test]
    fn unusable_ratings_are_dropped_not_fatal() {
        for bad in [f64::NAN, f64::INFINITY, -1.0, 5.5] {
            let mut input = minimal("Chez Marie");
            input.rating = Some(bad);
            input.review_count = Some(12);
            let b = Business::from_input(&input).unwrap();
            assert_eq!(b.rating, None, "{bad}");
            assert_eq!(b.review_count, None, "{bad}");
        }
        let mut input = minimal("Chez Marie");
        input.rating = Some(4.66);
        input.review_count = Some(-3);
        let b = Business::from_input(&input).unwrap();
        assert_eq!(b.rating, Some(4.7));
        assert_eq!(b.review_count, None);
    }

    #[test]
    fn photos_need_a_safe_url_and_get_default_dimensions() {
        let mut input = minimal("Chez Marie");
        input.photos = vec![
            PhotoInput {
                url: "javascript:alert(1)".into(),
                width: None,
                height: None,
                attribution: None,
            },
            PhotoInput {
                url: "http://example.com/a.jpg".into(),
                width: None,
                height: None,
                attribution: None,
            },
            PhotoInput {
                url: "//evil.example/a.jpg".into(),
                width: None,
                height: None,
                attribution: None,
            },
            PhotoInput {
                url: "https://cdn.example.com/a.jpg".into(),
                width: Some(640),
                height: Some(480),
                attribution: Some("  Marie  ".into()),
            },
            PhotoInput {
                url: "/photos/b.webp".into(),
                width: Some(0),
                height: None,
                attribution: None,
            },
        ];
        let b = Business::from_input(&input).unwrap();
        assert_eq!(b.photos.len(), 2);
        assert_eq!(b.photos[0].url, "https://cdn.example.com/a.jpg");
        assert_eq!((b.photos[0].width, b.photos[0].height), (640, 480));
        assert_eq!(b.photos[0].attribution.as_deref(), Some("Marie"));
        assert_eq!((b.photos[1].width, b.photos[1].height), (1200, 800));
    }

    #[test]
    fn phones_are_normalised_or_dropped() {
        let p = Phone::parse("+352 26 12 34 56").unwrap();
        assert_eq!(p.e164, "+35226123456");
        assert!(p.display.starts_with("+352"), "{}", p.display);
        assert_eq!(Phone::parse("26 12 34 56"), None);
        assert_eq!(Phone::parse("+12"), None);
        assert_eq!(Phone::parse("+352+12345678"), None);
    }

    #[test]
    fn geo_needs_both_coordinates_in_range() {
        let mut input = minimal("X");
        input.lat = Some(49.6);
        assert_eq!(Business::from_input(&input).unwrap().geo, None);
        input.lng = Some(f64::NAN);
        assert_eq!(Business::from_input(&input).unwrap().geo, None);
        input.lng = Some(6.13);
        assert!(Business::from_input(&input).unwrap().geo.is_some());
    }

    #[test]
    fn the_display_address_is_built_from_parts_when_missing() {
        let mut input = minimal("X");
        input.address.street = Some("12, rue de la Gare".into());
        input.address.postal_code = Some("L-1611".into());
        input.address.city = Some("Luxembourg".into());
        input.address.country_code = Some("lu".into());
        let b = Business::from_input(&input).unwrap();
        assert_eq!(
            b.address.display.as_deref(),
            Some("12, rue de la Gare, L-1611 Luxembourg")
        );
        assert_eq!(b.address.country_code.as_deref(), Some("LU"));
    }
}
