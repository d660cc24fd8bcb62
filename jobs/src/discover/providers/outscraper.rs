//! An Outscraper-compatible Google Maps search.
//!
//! `GET {base}/maps/search-v3?query=…&limit=…&skip=…&language=…&region=…&async=…`
//! with the key in `X-API-KEY`. `skip` pages through a query's places (a
//! multiple of the page size). The answer is either finished —
//! `{"id", "status": "Success", "data": [[place, …]]}` (one list per query)
//! — or, for async requests, `{"id", "status": "Pending",
//! "results_location": "{base}/requests/{id}"}`, which is polled until its
//! status is no longer `Pending`. Submitting is what is billed; polling is
//! free. Errors are `{"error": true, "errorMessage": "…"}` with a 4xx.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{ApiKey, Page, ProviderError, RecordProblem, RetryPolicy, send};
use crate::discover::business::{BusinessDraft, DiscoveredBusiness, ProviderKind};

/// What to search for.
#[derive(Debug, Clone, PartialEq)]
pub struct MapsSearch {
    /// Free text, best with the location in it (`bakeries, Luxembourg, LU`).
    pub query: String,
    /// Places per page.
    pub limit: u32,
    /// Places to skip (the page's offset).
    pub skip: u32,
    /// `language`.
    pub language: Option<String>,
    /// `region` (country code).
    pub region: Option<String>,
    /// Ask for an async request (`async=true`).
    pub asynchronous: bool,
}

/// What a submit returned.
#[derive(Debug)]
pub enum Submitted {
    /// The results, at once.
    Done(Page),
    /// An async request to poll.
    Pending {
        /// Request id.
        request_id: String,
    },
}

/// What a poll returned.
#[derive(Debug)]
pub enum Polled {
    /// Finished.
    Done(Page),
    /// Not yet.
    Pending,
}

/// The client.
#[derive(Debug, Clone)]
pub struct OutscraperClient {
    http: reqwest::Client,
    base_url: Url,
    key: ApiKey,
    retry: RetryPolicy,
}

impl OutscraperClient {
    /// A client for `base_url` (`https://api.app.outscraper.com`).
    pub fn new(http: reqwest::Client, base_url: Url, key: ApiKey, retry: RetryPolicy) -> Self {
        Self {
            http,
            base_url,
            key,
            retry,
        }
    }

    fn base(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// The in-call retry policy of this client's requests.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Submit a search (billed). 429, 5xx and lost connections are retried
    /// per the client's policy — each retry is a new submit.
    pub async fn submit(&self, search: &MapsSearch) -> Result<Submitted, ProviderError> {
        self.submit_with(search, &self.retry).await
    }

    /// Submit a search with one HTTP request (no retry): a caller that
    /// meters each billed request retries itself.
    pub async fn submit_once(&self, search: &MapsSearch) -> Result<Submitted, ProviderError> {
        let once = RetryPolicy {
            retries: 0,
            ..self.retry
        };
        self.submit_with(search, &once).await
    }

    async fn submit_with(
        &self,
        search: &MapsSearch,
        retry: &RetryPolicy,
    ) -> Result<Submitted, ProviderError> {
        let provider = ProviderKind::Outscraper;
        let mut params: Vec<(&str, String)> = vec![
            ("query", search.query.clone()),
            ("limit", search.limit.to_string()),
            ("skip", search.skip.to_string()),
            ("async", search.asynchronous.to_string()),
        ];
        if let Some(language) = &search.language {
            params.push(("language", language.clone()));
        }
        if let Some(region) = &search.region {
            params.push(("region", region.clone()));
        }
        let mut url =
            Url::parse(&format!("{}/maps/search-v3", self.base())).map_err(|e| ProviderError::Malformed {
                provider,
                message: format!("the base URL does not make a search URL: {e}"),
            })?;
        url.query_pairs_mut().extend_pairs(&params);
        let bytes = send(provider, retry, || {
            self.http.get(url.clone()).header("X-API-KEY", self.key.expose())
        })
        .await?;
        let raw = parse_envelope(&bytes)?;
        match raw.status.as_deref() {
            Some("Pending") => {
                let request_id =
                    raw.id
                        .filter(|id| !id.is_empty())
                        .ok_or_else(|| ProviderError::Malformed {
                            provider,
                            message: "a pending request has no id".to_owned(),
                        })?;
                if let Some(location) = &raw.results_location
                    && !location.starts_with(&format!("{}/", self.base()))
                {
                    return Err(ProviderError::ForeignLocation { provider });
                }
                Ok(Submitted::Pending { request_id })
            }
            _ => Ok(Submitted::Done(finished(raw)?)),
        }
    }

    /// Read an async request's state once (free).
    pub async fn poll(&self, request_id: &str) -> Result<Polled, ProviderError> {
        let provider = ProviderKind::Outscraper;
        if request_id.is_empty()
            || !request_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return Err(ProviderError::Malformed {
                provider,
                message: "the request id has unexpected characters".to_owned(),
            });
        }
        let url = format!("{}/requests/{request_id}", self.base());
        let bytes = send(provider, &self.retry, || {
            self.http.get(&url).header("X-API-KEY", self.key.expose())
        })
        .await?;
        let raw = parse_envelope(&bytes)?;
        match raw.status.as_deref() {
            Some("Pending") => Ok(Polled::Pending),
            Some("Success") | None => Ok(Polled::Done(finished(raw)?)),
            Some(other) => Err(ProviderError::RequestFailed {
                provider,
                request_id: request_id.to_owned(),
                status: other.chars().take(40).collect(),
            }),
        }
    }

    /// Poll every `interval` until done, for at most `max_wait`.
    pub async fn wait(
        &self,
        request_id: &str,
        interval: Duration,
        max_wait: Duration,
    ) -> Result<Page, ProviderError> {
        let started = Instant::now();
        loop {
            if let Polled::Done(page) = self.poll(request_id).await? {
                return Ok(page);
            }
            if started.elapsed() + interval > max_wait {
                return Err(ProviderError::StillPending {
                    provider: ProviderKind::Outscraper,
                    request_id: request_id.to_owned(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(interval).await;
        }
    }
}

#[derive(Deserialize)]
struct RawEnvelope {
    id: Option<String>,
    status: Option<String>,
    results_location: Option<String>,
    data: Option<Value>,
}

fn parse_envelope(bytes: &[u8]) -> Result<RawEnvelope, ProviderError> {
    serde_json::from_slice(bytes).map_err(|e| ProviderError::Malformed {
        provider: ProviderKind::Outscraper,
        message: format!("not a search response: {}", super::redacted(&e)),
    })
}

/// Read a finished search answer (the body of a sync search or of a
/// request whose status is `Success`).
pub fn parse_finished(bytes: &[u8]) -> Result<Page, ProviderError> {
    finished(parse_envelope(bytes)?)
}

/// The places of a finished answer: `data` is one list per query (we send
/// one query); a flat list of places is accepted too.
fn finished(raw: RawEnvelope) -> Result<Page, ProviderError> {
    let malformed = |message: &str| ProviderError::Malformed {
        provider: ProviderKind::Outscraper,
        message: message.to_owned(),
    };
    let places: Vec<Value> = match raw.data {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => match items.first() {
            Some(Value::Array(_)) => items
                .into_iter()
                .next()
                .and_then(|first| match first {
                    Value::Array(places) => Some(places),
                    _ => None,
                })
                .unwrap_or_default(),
            _ => items,
        },
        Some(_) => return Err(malformed("`data` is not a list")),
    };
    let results = places.len();
    let records = places
        .into_iter()
        .enumerate()
        .map(|(i, v)| record(i, v))
        .collect();
    Ok(Page { records, results })
}

fn record(index: usize, value: Value) -> Result<DiscoveredBusiness, RecordProblem> {
    let listing_id = value
        .get("place_id")
        .or_else(|| value.get("google_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let problem = |reason: String| RecordProblem {
        index,
        listing_id: listing_id.clone(),
        reason,
    };
    if !value.is_object() {
        return Err(problem("a place is not a JSON object".to_owned()));
    }
    let raw: RawPlace = serde_json::from_value(value)
        .map_err(|e| problem(format!("malformed place: {}", super::redacted(&e))))?;
    raw.into_draft().check(ProviderKind::Outscraper).map_err(problem)
}

/// A number that some answers send as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Float(f64),
    Text(String),
}

impl Number {
    fn value(&self) -> Option<f64> {
        match self {
            Number::Float(f) => Some(*f),
            Number::Text(s) => s.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct RawPlace {
    name: Option<String>,
    place_id: Option<String>,
    google_id: Option<String>,
    full_address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
    latitude: Option<Number>,
    longitude: Option<Number>,
    phone: Option<String>,
    site: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    category: Option<String>,
    subtypes: Option<Value>,
    rating: Option<Number>,
    reviews: Option<Number>,
    photo: Option<String>,
    working_hours: Option<Value>,
    business_status: Option<String>,
    email_1: Option<String>,
}

impl RawPlace {
    fn into_draft(self) -> BusinessDraft {
        let subtypes: Vec<String> = match &self.subtypes {
            Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_owned()).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let category = self.kind.clone().or(self.category.clone());
        let subcategory = subtypes
            .into_iter()
            .find(|t| !t.is_empty() && Some(t) != category.as_ref());
        BusinessDraft {
            place_id: self.place_id,
            gmb_id: self.google_id,
            name: self.name,
            category,
            subcategory,
            full_address: self.full_address,
            city: self.city,
            state: self.state,
            postal_code: self.postal_code,
            country: self.country_code,
            lat: self.latitude.as_ref().and_then(Number::value),
            lng: self.longitude.as_ref().and_then(Number::value),
            phone: self.phone,
            website: self.site,
            email: self.email_1,
            rating: self.rating.as_ref().and_then(Number::value),
            review_count: self.reviews.as_ref().and_then(Number::value).map(|n| n as i64),
            last_review_at: None,
            photos: self.photo.into_iter().collect(),
            opening_hours: hours(self.working_hours.as_ref()),
            reviews: Vec::new(),
            business_status: self.business_status,
        }
    }
}

/// `{"Monday": "9AM-5PM"}` or `{"Monday": ["9AM-12PM", "1-5PM"]}` as lines.
fn hours(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(days)) = value else {
        return Vec::new();
    };
    days.iter()
        .filter_map(|(day, hours)| {
            let text = match hours {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => return None,
            };
            Some(format!("{day}: {text}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::business::BusinessStatus;

    #[test]
    fn a_search_answer_maps_into_discovered_businesses() {
        let page = parse_finished(include_bytes!(
            "../../../tests/fixtures/outscraper_search_success.json"
        ))
        .unwrap();
        assert_eq!(page.results, 2);
        let dupont = page.records[0].as_ref().unwrap();
        assert_eq!(dupont.place_id.as_deref(), Some("ChIJ7cv00DxZwokRMZFxJ2lqgAA"));
        assert_eq!(
            dupont.gmb_id.as_deref(),
            Some("0x47954f3b5e2a6f3d:0x8a6a69271f718131")
        );
        assert_eq!(dupont.category.as_deref(), Some("Bakery"));
        assert_eq!(dupont.subcategory.as_deref(), Some("Cafe"));
        assert_eq!(
            dupont.email.as_ref().unwrap().as_str(),
            "contact@boulangerie-dupont.lu"
        );
        assert_eq!(dupont.review_count, 214);
        assert_eq!(dupont.business_status, Some(BusinessStatus::Operational));
        assert_eq!(dupont.photos.len(), 1);
        assert!(
            dupont.opening_hours.contains(&"Saturday: 7AM-1PM".to_owned()),
            "{:?}",
            dupont.opening_hours
        );
        let paul = page.records[1].as_ref().unwrap();
        assert!(
            (paul.location.unwrap().lat() - 49.5996).abs() < 1e-9,
            "string coordinates are read"
        );
        assert_eq!(
            paul.website.as_deref(),
            Some("https://www.paul.lu/boutiques/gare")
        );
    }

    #[test]
    fn empty_flat_and_broken_answers() {
        let empty = parse_finished(br#"{"id": "x", "status": "Success", "data": [[]]}"#).unwrap();
        assert_eq!(empty.results, 0);
        let flat = parse_finished(br#"{"status": "Success", "data": [{"name": "A", "place_id": "ChIJa"}]}"#)
            .unwrap();
        assert_eq!(flat.results, 1);
        let not_object = parse_finished(br#"{"status": "Success", "data": [[42]]}"#).unwrap();
        assert!(
            not_object.records[0]
                .as_ref()
                .unwrap_err()
                .reason
                .contains("not a JSON object")
        );
        assert!(matches!(
            parse_finished(b"<html>"),
            Err(ProviderError::Malformed { .. })
        ));
        assert!(matches!(
            parse_finished(br#"{"status": "Success", "data": "nope"}"#),
            Err(ProviderError::Malformed { .. })
        ));
    }
}
