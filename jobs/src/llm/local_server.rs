//! A local server that speaks both wire formats (Anthropic Messages at
//! `POST /v1/messages`, OpenAI Chat Completions at
//! `POST /v1/chat/completions`), for tests, benchmarks and the demo.
//!
//! It checks the auth headers like the real APIs (401 otherwise; Anthropic
//! also wants `anthropic-version`), validates the request body's required
//! fields (400 otherwise), records every request it gets, and answers from
//! a script of [`Reply`]s (first in, first out; then the default reply).
//! Replies are rendered in the format of the endpoint that was called:
//! the same script drives both providers.
//!
//! It also ships sample facts and copy ([`sample_request`],
//! [`valid_copy`]) that pass every check, and crafted bad replies.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{
    anthropic::API_VERSION,
    prompt::{BusinessFacts, CopyRequest, Language, PromptTemplate, ReviewQuote, Tone},
    settings::LlmProvider,
};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200 with this model text.
    Text {
        /// What the model "wrote".
        text: String,
        /// Billed input tokens (default: request bytes / 4).
        input_tokens: Option<u64>,
        /// Billed output tokens (default: text bytes / 4).
        output_tokens: Option<u64>,
        /// Cut off at `max_tokens` (`max_tokens` / `length`).
        truncated: bool,
    },
    /// 429 with `retry-after: seconds`.
    RateLimited {
        /// The header's value.
        retry_after_secs: u64,
    },
    /// 500.
    ServerError,
    /// Anthropic 529 `overloaded_error`; OpenAI 503 "engine overloaded".
    Overloaded,
    /// Any status with an error body in the provider's format.
    Error {
        /// Status.
        status: u16,
        /// Error type (`invalid_request_error`, `not_found_error`).
        kind: String,
        /// Message.
        message: String,
    },
    /// Wait, then answer.
    Slow {
        /// How long.
        delay: Duration,
        /// The answer after the wait.
        then: Box<Reply>,
    },
}

impl Reply {
    /// 200 with `text`.
    pub fn text(text: impl Into<String>) -> Self {
        Reply::Text {
            text: text.into(),
            input_tokens: None,
            output_tokens: None,
            truncated: false,
        }
    }

    /// 200 with [`valid_copy`] in `language`.
    pub fn valid_copy(language: Language) -> Self {
        Reply::text(valid_copy(language).to_string())
    }

    /// 200 with text that is not JSON (a chatty, cut-off answer).
    pub fn invalid_json() -> Self {
        Reply::text("Sure! Here is the copy for the bakery: {\"headline\": \"Fresh bread every")
    }

    /// 200 with JSON that breaks the schema (a headline over 80 characters
    /// and a property the schema does not have).
    pub fn schema_violation() -> Self {
        let mut copy = valid_copy(Language::En);
        copy["headline"] =
            json!("Fresh sourdough bread, croissants and cakes every single morning in Esch-sur-Alzette");
        copy["testimonials"] = json!(["Great bread"]);
        Reply::text(copy.to_string())
    }

    /// 200 with schema-valid copy that names a made-up award and year.
    pub fn unsafe_award_year() -> Self {
        let mut copy = valid_copy(Language::En);
        copy["subheadline"] = json!("Winner of the Golden Croissant award 2019, baked in Esch-sur-Alzette.");
        Reply::text(copy.to_string())
    }

    /// 200 with schema-valid copy that links a URL not in the facts.
    pub fn unsafe_url() -> Self {
        let mut copy = valid_copy(Language::En);
        copy["faq"][0]["answer"] = json!("You can order online at https://weber-bakery.example/order.");
        Reply::text(copy.to_string())
    }

    /// 200 with `text`, cut off at `max_tokens`.
    pub fn truncated(text: impl Into<String>) -> Self {
        Reply::Text {
            text: text.into(),
            input_tokens: None,
            output_tokens: None,
            truncated: true,
        }
    }

    /// This reply with fixed billed tokens (text replies only).
    pub fn with_usage(self, input: u64, output: u64) -> Self {
        match self {
            Reply::Text { text, truncated, .. } => Reply::Text {
                text,
                input_tokens: Some(input),
                output_tokens: Some(output),
                truncated,
            },
            other => other,
        }
    }

    /// This reply after `delay`.
    pub fn after(self, delay: Duration) -> Self {
        Reply::Slow {
            delay,
            then: Box::new(self),
        }
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Which endpoint was called.
    pub provider: LlmProvider,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (`Null` when it was not JSON).
    pub body: Value,
    /// When it arrived.
    pub received_at: Instant,
}

impl RecordedRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Shared {
    key: String,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    requests: Mutex<Vec<RecordedRequest>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running server; stops when dropped.
pub struct LocalLlmServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl LocalLlmServer {
    /// Serve on a free loopback port, accepting `key` only. The default
    /// reply is [`valid_copy`] in English.
    pub async fn start(key: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            key: key.to_owned(),
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Reply::valid_copy(Language::En)),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/chat/completions", post(openai))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::warn!(%error, "local LLM server stopped");
            }
        });
        Ok(Self { addr, shared, stop })
    }

    /// `http://127.0.0.1:PORT/`: the `base_url` for either provider.
    pub fn base_url(&self) -> Url {
        let url = format!("http://{}/", self.addr);
        Url::parse(&url).unwrap_or_else(|_| unreachable!("a socket address makes a URL: {url}"))
    }

    /// Answer the next request with `reply` (after those pushed before).
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// Answer with `reply` once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        *lock(&self.shared.default) = reply;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }
}

impl Drop for LocalLlmServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Shared {
    fn record(&self, provider: LlmProvider, headers: &HeaderMap, body: &Bytes) -> Value {
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        lock(&self.requests).push(RecordedRequest {
            provider,
            headers: headers.clone(),
            body: parsed.clone(),
            received_at: Instant::now(),
        });
        parsed
    }

    fn next_reply(&self) -> Reply {
        let scripted = lock(&self.script).pop_front();
        scripted.unwrap_or_else(|| lock(&self.default).clone())
    }

    fn count(&self) -> usize {
        lock(&self.requests).len()
    }
}

async fn anthropic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let provider = LlmProvider::Anthropic;
    let request = shared.record(provider, &headers, &body);
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(shared.key.as_str()) {
        return error(provider, 401, "authentication_error", "invalid x-api-key", None);
    }
    if headers.get("anthropic-version").and_then(|v| v.to_str().ok()) != Some(API_VERSION) {
        return error(
            provider,
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
            None,
        );
    }
    if let Some(problem) = anthropic_problem(&headers, &request) {
        return error(provider, 400, "invalid_request_error", problem, None);
    }
    let reply = shared.next_reply();
    render(provider, &shared, reply, &request, body.len()).await
}

async fn openai(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let provider = LlmProvider::Openai;
    let request = shared.record(provider, &headers, &body);
    let expected = format!("Bearer {}", shared.key);
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return error(
            provider,
            401,
            "invalid_request_error",
            "Incorrect API key provided",
            Some("invalid_api_key"),
        );
    }
    if let Some(problem) = openai_problem(&headers, &request) {
        return error(provider, 400, "invalid_request_error", problem, None);
    }
    let reply = shared.next_reply();
    render(provider, &shared, reply, &request, body.len()).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn anthropic_problem(headers: &HeaderMap, body: &Value) -> Option<&'static str> {
    if !is_json(headers) {
        return Some("content-type must be application/json");
    }
    if !body["model"].is_string() {
        return Some("model: Field required");
    }
    if body["max_tokens"].as_u64().is_none_or(|n| n == 0) {
        return Some("max_tokens: Field required");
    }
    let Some(messages) = body["messages"].as_array() else {
        return Some("messages: Field required");
    };
    if messages.is_empty()
        || messages
            .iter()
            .any(|m| !m["role"].is_string() || m["content"].is_null())
    {
        return Some("messages: at least one message with role and content is required");
    }
    if messages.iter().any(|m| m["role"] == "system") {
        return Some("messages: system is a top-level field, not a role");
    }
    None
}

fn openai_problem(headers: &HeaderMap, body: &Value) -> Option<&'static str> {
    if !is_json(headers) {
        return Some("content-type must be application/json");
    }
    if !body["model"].is_string() {
        return Some("you must provide a model parameter");
    }
    match body["messages"].as_array() {
        Some(messages) if !messages.is_empty() => None,
        _ => Some("'messages' is a required property"),
    }
}

fn render<'a>(
    provider: LlmProvider,
    shared: &'a Shared,
    reply: Reply,
    request: &'a Value,
    request_bytes: usize,
) -> std::pin::Pin<Box<dyn Future<Output = Response> + Send + 'a>> {
    Box::pin(async move {
        match reply {
            Reply::Slow { delay, then } => {
                tokio::time::sleep(delay).await;
                render(provider, shared, *then, request, request_bytes).await
            }
            Reply::Text {
                text,
                input_tokens,
                output_tokens,
                truncated,
            } => {
                let input = input_tokens.unwrap_or((request_bytes as u64).div_ceil(4));
                let output = output_tokens.unwrap_or((text.len() as u64).div_ceil(4));
                let model = request["model"].as_str().unwrap_or("local-model");
                let n = shared.count();
                let body = match provider {
                    LlmProvider::Anthropic => json!({
                        "id": format!("msg_local_{n:06}"),
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [{"type": "text", "text": text}],
                        "stop_reason": if truncated { "max_tokens" } else { "end_turn" },
                        "stop_sequence": null,
                        "usage": {"input_tokens": input, "output_tokens": output}
                    }),
                    LlmProvider::Openai => json!({
                        "id": format!("chatcmpl-local-{n:06}"),
                        "object": "chat.completion",
                        "created": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                        "model": model,
                        "choices": [{
                            "index": 0,
                            "message": {"role": "assistant", "content": text, "refusal": null},
                            "logprobs": null,
                            "finish_reason": if truncated { "length" } else { "stop" }
                        }],
                        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
                    }),
                };
                (StatusCode::OK, Json(body)).into_response()
            }
            Reply::RateLimited { retry_after_secs } => {
                let mut response = match provider {
                    LlmProvider::Anthropic => error(
                        provider,
                        429,
                        "rate_limit_error",
                        "This request would exceed your organization's rate limit.",
                        None,
                    ),
                    LlmProvider::Openai => error(
                        provider,
                        429,
                        "requests",
                        "Rate limit reached for requests",
                        Some("rate_limit_exceeded"),
                    ),
                };
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Reply::ServerError => match provider {
                LlmProvider::Anthropic => error(provider, 500, "api_error", "Internal server error", None),
                LlmProvider::Openai => error(
                    provider,
                    500,
                    "server_error",
                    "The server had an error while processing your request.",
                    None,
                ),
            },
            Reply::Overloaded => match provider {
                LlmProvider::Anthropic => error(provider, 529, "overloaded_error", "Overloaded", None),
                LlmProvider::Openai => error(
                    provider,
                    503,
                    "server_error",
                    "The engine is currently overloaded, please try again later.",
                    None,
                ),
            },
            Reply::Error {
                status,
                kind,
                message,
            } => error(provider, status, &kind, &message, None),
        }
    })
}

fn error(provider: LlmProvider, status: u16, kind: &str, message: &str, code: Option<&str>) -> Response {
    let body = match provider {
        LlmProvider::Anthropic => json!({"type": "error", "error": {"type": kind, "message": message}}),
        LlmProvider::Openai => {
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

/// Facts of a sample bakery that the sample copy is built from.
pub fn sample_facts() -> BusinessFacts {
    BusinessFacts {
        name: "Boulangerie Weber".into(),
        category: "bakery".into(),
        city: "Esch-sur-Alzette".into(),
        address: Some("12 rue de l'Alzette, L-4010 Esch-sur-Alzette".into()),
        phone: Some("+352 54 12 34".into()),
        email: None,
        website: None,
        opening_hours: vec![
            "Tuesday to Saturday 07:00–18:00".into(),
            "Sunday 07:00–12:00".into(),
        ],
        rating: Some(4.7),
        review_count: Some(86),
        reviews: vec![ReviewQuote {
            text: "The croissants are wonderful and the staff is always friendly.".into(),
            author: "Marie L.".into(),
        }],
        highlights: vec![
            "Family bakery since 1987".into(),
            "Sourdough bread baked every morning".into(),
        ],
    }
}

/// A prompt template of the kind operators write.
pub fn sample_template() -> PromptTemplate {
    PromptTemplate {
        system:
            "You write website copy for small local businesses, in {language_name}, with a {tone} voice. \
                 Use only the facts you are given: no numbers, prices, awards, links, e-mail addresses or \
                 phone numbers that are not in them. Plain text, no HTML or Markdown. Answer with one JSON \
                 object that matches this JSON schema:\n{schema}"
                .into(),
        user: "Write the copy for this business:\n{facts}".into(),
    }
}

/// A request for copy about [`sample_facts`].
pub fn sample_request(language: Language) -> CopyRequest {
    CopyRequest {
        facts: sample_facts(),
        language,
        tone: Tone::Friendly,
        template: sample_template(),
    }
}

/// Copy about [`sample_facts`] that passes the schema and every safety
/// rule, in `language`.
pub fn valid_copy(language: Language) -> Value {
    match language {
        Language::En => json!({
            "headline": "Fresh bread every morning in Esch-sur-Alzette",
            "subheadline": "Boulangerie Weber is the family bakery for sourdough bread, croissants and cakes.",
            "about": "Boulangerie Weber has been a family bakery since 1987. We bake our sourdough bread every \
                      morning, and our croissants are a favourite with the neighbourhood.\nYou can find us from \
                      Tuesday to Saturday from 7:00 to 18:00, and on Sunday morning until 12:00.",
            "services": ["Sourdough bread", "Croissants and pastries", "Cakes to order"],
            "call_to_action": "Call the bakery",
            "faq": [
                {"question": "When are you open?",
                 "answer": "From Tuesday to Saturday, 7:00 to 18:00, and on Sunday from 7:00 to 12:00."},
                {"question": "Do you bake every day?",
                 "answer": "Yes, our sourdough bread is baked every morning."}
            ]
        }),
        Language::Fr => json!({
            "headline": "Du pain frais chaque matin à Esch-sur-Alzette",
            "subheadline": "La boulangerie familiale pour le pain au levain, les croissants et les gâteaux.",
            "about": "Boulangerie Weber est une boulangerie familiale depuis 1987. Nous préparons notre pain au \
                      levain chaque matin et nos croissants sont appréciés dans tout le quartier.\nVous nous \
                      trouvez du mardi au samedi de 7h à 18h, et le dimanche matin jusqu'à 12h.",
            "services": ["Pain au levain", "Croissants et viennoiseries", "Gâteaux sur commande"],
            "call_to_action": "Appeler la boulangerie",
            "faq": [
                {"question": "Quand êtes-vous ouverts ?",
                 "answer": "Du mardi au samedi de 7h à 18h, et le dimanche de 7h à 12h."}
            ]
        }),
        Language::De => json!({
            "headline": "Frisches Brot jeden Morgen in Esch-sur-Alzette",
            "subheadline": "Die Familienbäckerei für Sauerteigbrot, Croissants und Kuchen.",
            "about": "Die Boulangerie Weber ist seit 1987 eine Familienbäckerei. Wir backen unser Sauerteigbrot \
                      jeden Morgen, und unsere Croissants sind im ganzen Viertel beliebt.\nSie finden uns von \
                      Dienstag bis Samstag von 7 bis 18 Uhr und am Sonntag bis 12 Uhr.",
            "services": ["Sauerteigbrot", "Croissants und Gebäck", "Kuchen auf Bestellung"],
            "call_to_action": "Bäckerei anrufen",
            "faq": [
                {"question": "Wann haben Sie geöffnet?",
                 "answer": "Von Dienstag bis Samstag von 7 bis 18 Uhr und am Sonntag von 7 bis 12 Uhr."}
            ]
        }),
    }
}
