//! One business as a places provider lists it, checked.
//!
//! Each provider converts its own wire format into a [`BusinessDraft`] (every
//! field optional, as providers send them) and [`BusinessDraft::check`] turns
//! it into a [`DiscoveredBusiness`] or says why the record is unusable. A bad
//! record is reported on its own; it never stops the page it came in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CountryCode, EmailAddress};

/// Which provider a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Google Places API (New) Text Search.
    GooglePlaces,
    /// An Outscraper-compatible Google Maps search.
    Outscraper,
}

impl ProviderKind {
    /// The stored name (`api_usage.provider`, `prospects.source`, config).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::GooglePlaces => "google_places",
            ProviderKind::Outscraper => "outscraper",
        }
    }

    /// Parse a configured name.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "google_places" => Some(ProviderKind::GooglePlaces),
            "outscraper" => Some(ProviderKind::Outscraper),
            _ => None,
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point on the map, within range and not (0, 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    lat: f64,
    lng: f64,
}

impl GeoPoint {
    /// Check a latitude/longitude pair.
    pub fn new(lat: f64, lng: f64) -> Result<Self, String> {
        if !lat.is_finite() || !lng.is_finite() {
            return Err("coordinates are not numbers".to_owned());
        }
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
            return Err(format!("coordinates ({lat}, {lng}) are out of range"));
        }
        if lat == 0.0 && lng == 0.0 {
            return Err("coordinates are (0, 0), a placeholder".to_owned());
        }
        Ok(Self { lat, lng })
    }

    /// Latitude.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude.
    pub fn lng(&self) -> f64 {
        self.lng
    }
}

/// Whether the business is open, as the provider says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessStatus {
    /// Open.
    Operational,
    /// Closed for now.
    ClosedTemporarily,
    /// Closed for good.
    ClosedPermanently,
}

impl BusinessStatus {
    /// Google's enum names (`OPERATIONAL`, …), case-insensitively.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "OPERATIONAL" => Some(BusinessStatus::Operational),
            "CLOSED_TEMPORARILY" => Some(BusinessStatus::ClosedTemporarily),
            "CLOSED_PERMANENTLY" => Some(BusinessStatus::ClosedPermanently),
            _ => None,
        }
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            BusinessStatus::Operational => "operational",
            BusinessStatus::ClosedTemporarily => "closed_temporarily",
            BusinessStatus::ClosedPermanently => "closed_permanently",
        }
    }
}

/// Postal address parts (each trimmed and cut to its column's width).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// The full formatted address.
    pub full: Option<String>,
    /// City or locality.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<CountryCode>,
}

/// A listed business, checked: it has a name and at least one listing id,
/// and any coordinates and rating are valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredBusiness {
    /// Provider it came from.
    pub provider: ProviderKind,
    /// Google place id (`ChIJ…`): the same from both providers.
    pub place_id: Option<String>,
    /// Google Maps feature id (`0x…:0x…`, Outscraper's `google_id`).
    pub gmb_id: Option<String>,
    /// Name.
    pub name: String,
    /// Main category.
    pub category: Option<String>,
    /// Second category.
    pub subcategory: Option<String>,
    /// Address.
    pub address: Address,
    /// Coordinates.
    pub location: Option<GeoPoint>,
    /// Phone as listed.
    pub phone: Option<String>,
    /// Website link as listed (may be a social page: see `website::classify`).
    pub website: Option<String>,
    /// E-mail, when the provider found one.
    pub email: Option<EmailAddress>,
    /// Rating, 0–5.
    pub rating: Option<f64>,
    /// Number of reviews.
    pub review_count: i32,
    /// Most recent review the provider showed.
    pub last_review_at: Option<DateTime<Utc>>,
    /// Photo URLs (never carrying an API key).
    pub photos: Vec<String>,
    /// Opening hours, one line per day (`Monday: 9:00 AM – 5:00 PM`).
    pub opening_hours: Vec<String>,
    /// Reviews the provider showed, verbatim (the preview site quotes them).
    #[serde(default)]
    pub reviews: Vec<Review>,
    /// Open or closed.
    pub business_status: Option<BusinessStatus>,
}

/// One review as the provider listed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Author's display name.
    pub author: String,
    /// Stars, 1–5.
    pub rating: Option<f64>,
    /// The text, verbatim.
    pub text: String,
    /// When it was published.
    pub published: Option<DateTime<Utc>>,
    /// Where it can be read.
    pub source_url: Option<String>,
}

impl DiscoveredBusiness {
    /// The id this record is known by in reports (place id, else gmb id).
    pub fn listing_id(&self) -> &str {
        self.place_id
            .as_deref()
            .or(self.gmb_id.as_deref())
            .unwrap_or_default()
    }
}

/// A provider record before checking: every field as the provider sent it.
#[derive(Debug, Clone, Default)]
pub struct BusinessDraft {
    /// Place id.
    pub place_id: Option<String>,
    /// Google Maps feature id.
    pub gmb_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Main category.
    pub category: Option<String>,
    /// Second category.
    pub subcategory: Option<String>,
    /// Full address.
    pub full_address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country code as sent.
    pub country: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lng: Option<f64>,
    /// Phone.
    pub phone: Option<String>,
    /// Website link.
    pub website: Option<String>,
    /// E-mail as sent.
    pub email: Option<String>,
    /// Rating.
    pub rating: Option<f64>,
    /// Review count.
    pub review_count: Option<i64>,
    /// Latest review.
    pub last_review_at: Option<DateTime<Utc>>,
    /// Photo URLs.
    pub photos: Vec<String>,
    /// Opening hours lines.
    pub opening_hours: Vec<String>,
    /// Reviews as sent.
    pub reviews: Vec<Review>,
    /// Status as sent.
    pub business_status: Option<String>,
}

/// At most this many reviews are kept per business, each cut to this many
/// characters.
const MAX_REVIEWS: usize = 10;
const MAX_REVIEW_CHARS: usize = 2000;

/// At most this many photos and hours lines are kept per business.
const MAX_LIST: usize = 20;

impl BusinessDraft {
    /// Check the record. Required: a name and a place id or gmb id.
    /// Refused: coordinates out of range or only half given, a rating
    /// outside 0–5, a negative review count. Optional text that is too long
    /// for its column is cut; an unusable e-mail or country is dropped.
    pub fn check(self, provider: ProviderKind) -> Result<DiscoveredBusiness, String> {
        let name = text(self.name, 255).ok_or("the record has no name")?;
        let place_id = text(self.place_id, 100);
        let gmb_id = text(self.gmb_id, 100);
        if place_id.is_none() && gmb_id.is_none() {
            return Err("the record has no place id".to_owned());
        }
        let location = match (self.lat, self.lng) {
            (None, None) => None,
            (Some(lat), Some(lng)) => Some(GeoPoint::new(lat, lng)?),
            _ => return Err("the record has only one of latitude and longitude".to_owned()),
        };
        let rating = match self.rating {
            None => None,
            Some(r) if r.is_finite() && (0.0..=5.0).contains(&r) => Some((r * 10.0).round() / 10.0),
            Some(r) => return Err(format!("rating {r} is not between 0 and 5")),
        };
        let review_count = match self.review_count {
            None => 0,
            Some(n) if n < 0 => return Err(format!("review count {n} is negative")),
            Some(n) => i32::try_from(n).unwrap_or(i32::MAX),
        };
        Ok(DiscoveredBusiness {
            provider,
            place_id,
            gmb_id,
            name,
            category: text(self.category, 100),
            subcategory: text(self.subcategory, 100),
            address: Address {
                full: text(self.full_address, 500),
                city: text(self.city, 100),
                state: text(self.state, 50),
                postal_code: text(self.postal_code, 20),
                country: self.country.as_deref().and_then(|c| CountryCode::parse(c).ok()),
            },
            location,
            phone: text(self.phone, 50),
            website: text(self.website, 500),
            email: self.email.as_deref().and_then(|e| EmailAddress::parse(e).ok()),
            rating,
            review_count,
            last_review_at: self.last_review_at,
            photos: self
                .photos
                .into_iter()
                .filter_map(|p| text(Some(p), 2000))
                .take(MAX_LIST)
                .collect(),
            opening_hours: self
                .opening_hours
                .into_iter()
                .filter_map(|h| text(Some(h), 200))
                .take(MAX_LIST)
                .collect(),
            reviews: self
                .reviews
                .into_iter()
                .filter_map(|r| {
                    Some(Review {
                        author: text(Some(r.author), 100).unwrap_or_default(),
                        rating: r.rating.filter(|x| x.is_finite() && (0.0..=5.0).contains(x)),
                        text: text(Some(r.text), MAX_REVIEW_CHARS)?,
                        published: r.published,
                        source_url: text(r.source_url, 500).filter(|u| u.starts_with("https://")),
                    })
                })
                .take(MAX_REVIEWS)
                .collect(),
            business_status: self.business_status.as_deref().and_then(BusinessStatus::parse),
        })
    }
}

/// Trim, drop control characters, cut to `max` characters; `None` if empty.
fn text(value: Option<String>, max: usize) -> Option<String> {
    let cleaned: String = value?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(
        trimmed
            .chars()
            .take(max)
            .collect::<String>()
            .trim_end()
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> BusinessDraft {
        BusinessDraft {
            place_id: Some("ChIJ123".into()),
            name: Some("  Boulangerie Dupont\n".into()),
            lat: Some(49.61),
            lng: Some(6.13),
            rating: Some(4.66),
            review_count: Some(42),
            country: Some("lu".into()),
            email: Some("not an email".into()),
            ..BusinessDraft::default()
        }
    }

    #[test]
    fn a_good_record_is_cleaned() {
        let b = draft().check(ProviderKind::GooglePlaces).unwrap();
        assert_eq!(b.name, "Boulangerie Dupont");
        assert_eq!(b.rating, Some(4.7));
        assert_eq!(b.review_count, 42);
        assert_eq!(b.address.country.unwrap().as_str(), "LU");
        assert_eq!(b.email, None, "an unusable e-mail is dropped, not fatal");
        assert_eq!(b.location.unwrap().lat(), 49.61);
    }

    #[test]
    fn unusable_records_say_why() {
        let cases: Vec<(&str, BusinessDraft, &str)> = vec![
            (
                "missing name",
                BusinessDraft {
                    name: Some("   ".into()),
                    ..draft()
                },
                "no name",
            ),
            (
                "no ids",
                BusinessDraft {
                    place_id: None,
                    gmb_id: None,
                    ..draft()
                },
                "no place id",
            ),
            (
                "latitude out of range",
                BusinessDraft {
                    lat: Some(123.0),
                    ..draft()
                },
                "out of range",
            ),
            (
                "null island",
                BusinessDraft {
                    lat: Some(0.0),
                    lng: Some(0.0),
                    ..draft()
                },
                "(0, 0)",
            ),
            (
                "half a coordinate",
                BusinessDraft { lng: None, ..draft() },
                "only one of",
            ),
            (
                "NaN",
                BusinessDraft {
                    lat: Some(f64::NAN),
                    ..draft()
                },
                "not numbers",
            ),
            (
                "rating above five",
                BusinessDraft {
                    rating: Some(7.0),
                    ..draft()
                },
                "not between 0 and 5",
            ),
            (
                "negative reviews",
                BusinessDraft {
                    review_count: Some(-3),
                    ..draft()
                },
                "negative",
            ),
        ];
        for (case, draft, expected) in cases {
            let err = draft.check(ProviderKind::Outscraper).unwrap_err();
            assert!(err.contains(expected), "{case}: {err}");
        }
    }

    #[test]
    fn long_text_is_cut_to_its_column() {
        let b = BusinessDraft {
            state: Some("x".repeat(80)),
            name: Some("é".repeat(300)),
            ..draft()
        }
        .check(ProviderKind::GooglePlaces)
        .unwrap();
        assert_eq!(b.address.state.unwrap().chars().count(), 50);
        assert_eq!(b.name.chars().count(), 255);
    }
}
