//! A local HTTP server speaking the places providers' documented wire
//! formats (Google Places API (New) Text Search, Outscraper Maps search with
//! async requests), serving saved responses from `jobs/tests/fixtures/`.
//!
//! Tests script faults (429 with `Retry-After`, 500, malformed JSON, …) by
//! queueing answers that are served before the normal ones, and read back
//! every request the server saw.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const PLACES_KEY: &str = "test-places-key-0123";
pub const OUTSCRAPER_KEY: &str = "test-outscraper-key-0123";

pub const PLACES_PAGE1: &str = include_str!("../../jobs/tests/fixtures/places_text_search_page1.json");
pub const PLACES_PAGE2: &str = include_str!("../../jobs/tests/fixtures/places_text_search_page2.json");
pub const PLACES_PLUMBERS: &str = include_str!("../../jobs/tests/fixtures/places_text_search_plumbers.json");
pub const PLACES_QUOTA: &str = include_str!("../../jobs/tests/fixtures/places_error_quota.json");
pub const OUTSCRAPER_SUCCESS: &str = include_str!("../../jobs/tests/fixtures/outscraper_search_success.json");

/// An answer served instead of the normal one.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub retry_after: Option<&'static str>,
    pub body: String,
    /// Answer only after this long (the request is seen — and, for a
    /// billing provider, charged — at once).
    pub stall: Option<Duration>,
}

impl Scripted {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            retry_after: None,
            body: body.into(),
            stall: None,
        }
    }

    pub fn stall(mut self, delay: Duration) -> Self {
        self.stall = Some(delay);
        self
    }

    pub fn retry_after(mut self, value: &'static str) -> Self {
        self.retry_after = Some(value);
        self
    }
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    /// JSON body (Places) or query parameters (Outscraper) as JSON.
    pub params: Value,
}

#[derive(Default)]
struct Inner {
    places_script: VecDeque<Scripted>,
    outscraper_script: VecDeque<Scripted>,
    seen: Vec<Seen>,
    /// Polls answered `Pending` before a request succeeds.
    pending_polls: usize,
    polls: HashMap<String, usize>,
    results: HashMap<String, String>,
    /// Every answer of the search endpoints waits this long.
    latency: Duration,
}

/// The server. Cheap to clone; the server stops with the test's runtime.
#[derive(Clone)]
pub struct FakeProviders {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeProviders {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let server = Self {
            base_url,
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/places:searchText", post(places_search))
            .route("/maps/search-v3", get(outscraper_search))
            .route("/requests/{id}", get(outscraper_request))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    pub fn script_places(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.inner.lock().unwrap().places_script.extend(answers);
    }

    pub fn script_outscraper(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.inner.lock().unwrap().outscraper_script.extend(answers);
    }

    /// Searches (Places and Outscraper submits) answer after `latency`.
    pub fn latency(&self, latency: Duration) {
        self.inner.lock().unwrap().latency = latency;
    }

    fn search_latency(&self) -> Duration {
        self.inner.lock().unwrap().latency
    }

    /// Async requests stay `Pending` for this many polls.
    pub fn pending_polls(&self, polls: usize) {
        self.inner.lock().unwrap().pending_polls = polls;
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path.starts_with(path))
            .cloned()
            .collect()
    }

    fn record(&self, seen: Seen) {
        self.inner.lock().unwrap().seen.push(seen);
    }
}

fn json_response(status: u16, body: String, retry_after: Option<&str>) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
        .into_response();
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_str(value).unwrap());
    }
    response
}

async fn scripted_response(scripted: Scripted) -> Response {
    if let Some(stall) = scripted.stall {
        tokio::time::sleep(stall).await;
    }
    json_response(scripted.status, scripted.body, scripted.retry_after)
}

fn google_error(status: u16, message: &str, code: &str) -> Response {
    json_response(
        status,
        json!({"error": {"code": status, "message": message, "status": code}}).to_string(),
        None,
    )
}

/// `POST /v1/places:searchText`: the key and field mask are required like
/// Google requires them; pages follow `pageToken`; the text query picks the
/// territory's fixtures.
async fn places_search(State(server): State<FakeProviders>, headers: HeaderMap, body: Bytes) -> Response {
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    server.record(Seen {
        path: "/v1/places:searchText".into(),
        headers: headers.clone(),
        params: params.clone(),
    });
    if headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) != Some(PLACES_KEY) {
        return google_error(
            403,
            "API key not valid. Please pass a valid API key.",
            "PERMISSION_DENIED",
        );
    }
    let mask = headers
        .get("x-goog-fieldmask")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if mask.is_empty() {
        return google_error(400, "FieldMask is a required parameter.", "INVALID_ARGUMENT");
    }
    tokio::time::sleep(server.search_latency()).await;
    let scripted = server.inner.lock().unwrap().places_script.pop_front();
    if let Some(scripted) = scripted {
        return scripted_response(scripted).await;
    }
    let query = params["textQuery"].as_str().unwrap_or_default().to_lowercase();
    let token = params["pageToken"].as_str();
    let body = match (token, query.as_str()) {
        (Some("AeeoHcLjkyoUi0c_page2"), _) => PLACES_PAGE2.to_owned(),
        (Some(_), _) => return google_error(400, "Invalid pageToken.", "INVALID_ARGUMENT"),
        (None, q) if q.contains("bakeries") => PLACES_PAGE1.to_owned(),
        (None, q) if q.contains("plumbers") => PLACES_PLUMBERS.to_owned(),
        (None, _) => "{}".to_owned(),
    };
    json_response(200, body, None)
}

/// `GET /maps/search-v3`: `X-API-KEY` required; `async=true` answers
/// `Pending` with a results location; otherwise the results at once.
async fn outscraper_search(
    State(server): State<FakeProviders>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    server.record(Seen {
        path: "/maps/search-v3".into(),
        headers: headers.clone(),
        params: json!(params),
    });
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(OUTSCRAPER_KEY) {
        return json_response(
            401,
            json!({"error": true, "errorMessage": "Wrong API key"}).to_string(),
            None,
        );
    }
    tokio::time::sleep(server.search_latency()).await;
    let scripted = server.inner.lock().unwrap().outscraper_script.pop_front();
    if let Some(scripted) = scripted {
        return scripted_response(scripted).await;
    }
    let skip: usize = params.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let results = if skip == 0 {
        OUTSCRAPER_SUCCESS.to_owned()
    } else {
        json!({"id": "later-page", "status": "Success", "data": [[]]}).to_string()
    };
    if params.get("async").map(String::as_str) == Some("true") {
        let id = format!("req-{skip}-{}", server.seen("/maps/search-v3").len());
        let mut inner = server.inner.lock().unwrap();
        inner.polls.insert(id.clone(), 0);
        inner.results.insert(id.clone(), results);
        drop(inner);
        return Json(json!({
            "id": id,
            "status": "Pending",
            "results_location": format!("{}/requests/{id}", server.base_url),
        }))
        .into_response();
    }
    json_response(200, results, None)
}

/// `GET /requests/{id}`: `Pending` for the configured number of polls, then
/// the results.
async fn outscraper_request(
    State(server): State<FakeProviders>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    server.record(Seen {
        path: format!("/requests/{id}"),
        headers,
        params: Value::Null,
    });
    let mut inner = server.inner.lock().unwrap();
    let pending_polls = inner.pending_polls;
    let Some(polls) = inner.polls.get_mut(&id) else {
        return json_response(
            404,
            json!({"error": true, "errorMessage": "Request not found"}).to_string(),
            None,
        );
    };
    *polls += 1;
    if *polls <= pending_polls {
        return Json(json!({"id": id, "status": "Pending"})).into_response();
    }
    let results = inner.results.get(&id).cloned().unwrap_or_default();
    json_response(200, results, None)
}
