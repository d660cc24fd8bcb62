//! Google Places API (New) Text Search.
//!
//! `POST {base}/v1/places:searchText` with the key in `X-Goog-Api-Key` and
//! the fields to return in `X-Goog-FieldMask` (it must name
//! `nextPageToken`). The body carries `textQuery`, `pageSize` (1–20),
//! `languageCode`, `regionCode`, an optional `locationBias` circle and, for
//! later pages, the previous answer's `nextPageToken` as `pageToken`. An
//! answer with no matches is `{}`. Errors are
//! `{"error": {"code", "message", "status"}}`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{ApiKey, Page, ProviderError, RecordProblem, RetryPolicy, send};
use crate::discover::business::Review;
use crate::discover::business::{BusinessDraft, DiscoveredBusiness, ProviderKind};

/// The fields asked for by default: everything `DiscoveredBusiness` holds.
pub const DEFAULT_FIELD_MASK: &str = "places.id,places.displayName,places.formattedAddress,\
places.addressComponents,places.location,places.primaryType,places.primaryTypeDisplayName,\
places.types,places.nationalPhoneNumber,places.internationalPhoneNumber,places.websiteUri,\
places.rating,places.userRatingCount,places.photos,places.regularOpeningHours,\
places.businessStatus,places.reviews,nextPageToken";

/// What to search for.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSearch {
    /// Free text (`bakeries in Luxembourg, Luxembourg`).
    pub text_query: String,
    /// Results per page (1–20).
    pub page_size: u32,
    /// `languageCode`.
    pub language: Option<String>,
    /// `regionCode` (CLDR, e.g. `us`).
    pub region: Option<String>,
    /// Bias towards a circle: latitude, longitude, radius in metres.
    pub location_bias: Option<(f64, f64, f64)>,
}

/// A page of Text Search results.
#[derive(Debug)]
pub struct PlacesPage {
    /// The records.
    pub page: Page,
    /// The token of the next page, if there is one.
    pub next_page_token: Option<String>,
}

/// The client.
#[derive(Debug, Clone)]
pub struct GooglePlacesClient {
    http: reqwest::Client,
    base_url: Url,
    key: ApiKey,
    field_mask: String,
    retry: RetryPolicy,
}

impl GooglePlacesClient {
    /// A client for `base_url` (`https://places.googleapis.com`).
    pub fn new(
        http: reqwest::Client,
        base_url: Url,
        key: ApiKey,
        field_mask: String,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            base_url,
            key,
            field_mask,
            retry,
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.as_str().trim_end_matches('/'))
    }

    /// The in-call retry policy of this client's requests.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// One page: the first when `page_token` is `None`. 429, 5xx and lost
    /// connections are retried per the client's policy.
    pub async fn search_text(
        &self,
        search: &TextSearch,
        page_token: Option<&str>,
    ) -> Result<PlacesPage, ProviderError> {
        self.search_text_with(search, page_token, &self.retry).await
    }

    /// One page, one HTTP request (no retry): a caller that meters each
    /// billed request retries itself.
    pub async fn search_text_once(
        &self,
        search: &TextSearch,
        page_token: Option<&str>,
    ) -> Result<PlacesPage, ProviderError> {
        let once = RetryPolicy {
            retries: 0,
            ..self.retry
        };
        self.search_text_with(search, page_token, &once).await
    }

    async fn search_text_with(
        &self,
        search: &TextSearch,
        page_token: Option<&str>,
        retry: &RetryPolicy,
    ) -> Result<PlacesPage, ProviderError> {
        let provider = ProviderKind::GooglePlaces;
        let mut body = json!({
            "textQuery": search.text_query,
            "pageSize": search.page_size.clamp(1, 20),
        });
        if let Some(language) = &search.language {
            body["languageCode"] = json!(language);
        }
        if let Some(region) = &search.region {
            body["regionCode"] = json!(region.to_ascii_lowercase());
        }
        if let Some((latitude, longitude, radius)) = search.location_bias {
            body["locationBias"] = json!({
                "circle": {"center": {"latitude": latitude, "longitude": longitude}, "radius": radius}
            });
        }
        if let Some(token) = page_token {
            body["pageToken"] = json!(token);
        }
        let url = self.endpoint("v1/places:searchText");
        let bytes = send(provider, retry, || {
            self.http
                .post(&url)
                .header("X-Goog-Api-Key", self.key.expose())
                .header("X-Goog-FieldMask", &self.field_mask)
                .json(&body)
        })
        .await?;
        parse_response(&bytes, &self.base_url)
    }
}

/// Read a Text Search answer; each place is checked on its own.
pub fn parse_response(bytes: &[u8], base_url: &Url) -> Result<PlacesPage, ProviderError> {
    let raw: RawSearchResponse = serde_json::from_slice(bytes).map_err(|e| ProviderError::Malformed {
        provider: ProviderKind::GooglePlaces,
        message: format!("not a Text Search response: {}", super::redacted(&e)),
    })?;
    let results = raw.places.len();
    let records = raw
        .places
        .into_iter()
        .enumerate()
        .map(|(index, value)| record(index, value, base_url))
        .collect();
    Ok(PlacesPage {
        page: Page { records, results },
        next_page_token: raw.next_page_token.filter(|t| !t.is_empty()),
    })
}

fn record(index: usize, value: Value, base_url: &Url) -> Result<DiscoveredBusiness, RecordProblem> {
    let listing_id = value.get("id").and_then(Value::as_str).map(str::to_owned);
    let problem = |reason: String| RecordProblem {
        index,
        listing_id: listing_id.clone(),
        reason,
    };
    let raw: RawPlace = serde_json::from_value(value)
        .map_err(|e| problem(format!("malformed place: {}", super::redacted(&e))))?;
    raw.into_draft(base_url)
        .check(ProviderKind::GooglePlaces)
        .map_err(problem)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSearchResponse {
    #[serde(default)]
    places: Vec<Value>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPlace {
    id: Option<String>,
    display_name: Option<RawText>,
    formatted_address: Option<String>,
    #[serde(default)]
    address_components: Vec<RawAddressComponent>,
    location: Option<RawLatLng>,
    primary_type: Option<String>,
    primary_type_display_name: Option<RawText>,
    #[serde(default)]
    types: Vec<String>,
    national_phone_number: Option<String>,
    international_phone_number: Option<String>,
    website_uri: Option<String>,
    rating: Option<f64>,
    user_rating_count: Option<i64>,
    #[serde(default)]
    photos: Vec<RawPhoto>,
    regular_opening_hours: Option<RawOpeningHours>,
    business_status: Option<String>,
    #[serde(default)]
    reviews: Vec<RawReview>,
}

#[derive(Deserialize)]
struct RawText {
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAddressComponent {
    long_text: Option<String>,
    short_text: Option<String>,
    #[serde(default)]
    types: Vec<String>,
}

#[derive(Deserialize)]
struct RawLatLng {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct RawPhoto {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOpeningHours {
    #[serde(default)]
    weekday_descriptions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReview {
    publish_time: Option<String>,
    rating: Option<f64>,
    text: Option<RawText>,
    original_text: Option<RawText>,
    author_attribution: Option<RawAuthor>,
    google_maps_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthor {
    display_name: Option<String>,
}

impl RawPlace {
    fn component(&self, kind: &str, short: bool) -> Option<String> {
        self.address_components
            .iter()
            .find(|c| c.types.iter().any(|t| t == kind))
            .and_then(|c| {
                if short {
                    c.short_text.clone().or_else(|| c.long_text.clone())
                } else {
                    c.long_text.clone().or_else(|| c.short_text.clone())
                }
            })
    }

    fn into_draft(self, base_url: &Url) -> BusinessDraft {
        let city = self
            .component("locality", false)
            .or_else(|| self.component("postal_town", false))
            .or_else(|| self.component("administrative_area_level_2", false));
        let state = self.component("administrative_area_level_1", true);
        let postal_code = self.component("postal_code", false);
        let country = self.component("country", true);
        let last_review_at = self
            .reviews
            .iter()
            .filter_map(|r| r.publish_time.as_deref())
            .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .max();
        let base = base_url.as_str().trim_end_matches('/');
        // A photo's media URL without the key: whoever fetches it adds one.
        let photos = self
            .photos
            .iter()
            .filter_map(|p| p.name.as_deref())
            .filter(|name| name.starts_with("places/"))
            .map(|name| format!("{base}/v1/{name}/media?maxWidthPx=1600"))
            .collect();
        let category = self
            .primary_type_display_name
            .and_then(|t| t.text)
            .or(self.primary_type.clone());
        let subcategory = self
            .types
            .iter()
            .find(|t| Some(*t) != self.primary_type.as_ref() && !GENERIC_TYPES.contains(&t.as_str()))
            .cloned();
        let (lat, lng) = self.location.map_or((None, None), |l| (l.latitude, l.longitude));
        BusinessDraft {
            place_id: self.id,
            gmb_id: None,
            name: self.display_name.and_then(|n| n.text),
            category,
            subcategory,
            full_address: self.formatted_address,
            city,
            state,
            postal_code,
            country,
            lat,
            lng,
            phone: self.international_phone_number.or(self.national_phone_number),
            website: self.website_uri,
            email: None,
            rating: self.rating,
            review_count: self.user_rating_count,
            last_review_at,
            reviews: self
                .reviews
                .iter()
                .map(|r| Review {
                    author: r
                        .author_attribution
                        .as_ref()
                        .and_then(|a| a.display_name.clone())
                        .unwrap_or_default(),
                    rating: r.rating,
                    // The review as written (`originalText`), else Google's translation.
                    text: r
                        .original_text
                        .as_ref()
                        .or(r.text.as_ref())
                        .and_then(|t| t.text.clone())
                        .unwrap_or_default(),
                    published: r
                        .publish_time
                        .as_deref()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&Utc)),
                    source_url: r.google_maps_uri.clone(),
                })
                .collect(),
            photos,
            opening_hours: self
                .regular_opening_hours
                .map(|h| h.weekday_descriptions)
                .unwrap_or_default(),
            business_status: self.business_status,
        }
    }
}

/// Types every place has; not a useful subcategory.
const GENERIC_TYPES: &[&str] = &["point_of_interest", "establishment", "store", "food"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::business::BusinessStatus;

    fn base() -> Url {
        Url::parse("https://places.googleapis.com").unwrap()
    }

    #[test]
    fn a_text_search_page_maps_into_discovered_businesses() {
        let page = parse_response(
            include_bytes!("../../../tests/fixtures/places_text_search_page1.json"),
            &base(),
        )
        .unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("AeeoHcLjkyoUi0c_page2"));
        assert_eq!(page.page.results, 2);
        let dupont = page.page.records[0].as_ref().unwrap();
        assert_eq!(dupont.place_id.as_deref(), Some("ChIJ7cv00DxZwokRMZFxJ2lqgAA"));
        assert_eq!(dupont.name, "Boulangerie Dupont");
        assert_eq!(dupont.category.as_deref(), Some("Bakery"));
        assert_eq!(dupont.subcategory.as_deref(), Some("cafe"));
        assert_eq!(dupont.address.city.as_deref(), Some("Luxembourg"));
        assert_eq!(dupont.address.postal_code.as_deref(), Some("1611"));
        assert_eq!(dupont.address.country.unwrap().as_str(), "LU");
        assert_eq!(dupont.phone.as_deref(), Some("+352 26 12 34 56"));
        assert_eq!(
            dupont.website.as_deref(),
            Some("https://www.facebook.com/BoulangerieDupontLux/")
        );
        assert_eq!(dupont.rating, Some(4.7));
        assert_eq!(dupont.review_count, 214);
        assert_eq!(dupont.business_status, Some(BusinessStatus::Operational));
        assert_eq!(dupont.opening_hours.len(), 7);
        assert_eq!(
            dupont.photos,
            vec![
                "https://places.googleapis.com/v1/places/ChIJ7cv00DxZwokRMZFxJ2lqgAA/photos/AUc7tXW0dE5xkqZ3/media?maxWidthPx=1600"
            ]
        );
        assert_eq!(
            dupont.last_review_at.unwrap().to_rfc3339(),
            "2026-10-02T08:15:21.405+00:00"
        );
        let location = dupont.location.unwrap();
        assert!((location.lat() - 49.6003201).abs() < 1e-9);
    }

    #[test]
    fn bad_places_are_refused_one_by_one() {
        let page = parse_response(
            include_bytes!("../../../tests/fixtures/places_text_search_page2.json"),
            &base(),
        )
        .unwrap();
        assert_eq!(page.next_page_token, None, "the last page has no token");
        let problems: Vec<(usize, String)> = page
            .page
            .records
            .iter()
            .filter_map(|r| r.as_ref().err().map(|p| (p.index, p.reason.clone())))
            .collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].1.contains("out of range"), "{problems:?}");
        assert!(problems[1].1.contains("no name"), "{problems:?}");
        assert!(problems[2].1.contains("malformed place"), "{problems:?}");
        // The duplicate id is a valid record here; the page store refuses it.
        assert_eq!(page.page.records.iter().filter(|r| r.is_ok()).count(), 2);
    }

    #[test]
    fn empty_and_broken_answers() {
        let empty = parse_response(b"{}", &base()).unwrap();
        assert_eq!(empty.page.results, 0);
        assert!(empty.next_page_token.is_none());
        let broken = parse_response(b"{\"places\": [", &base()).unwrap_err();
        assert!(matches!(broken, ProviderError::Malformed { .. }));
        let wrong = parse_response(b"{\"places\": {\"id\": 1}}", &base()).unwrap_err();
        assert!(matches!(wrong, ProviderError::Malformed { .. }));
    }
}
