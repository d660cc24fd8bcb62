//! The client and `write_copy` against the local server, for both wire
//! formats: request bodies and headers as documented, retries only where
//! allowed, timeouts, and cost computed from usage.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

use super::{
    local_server::{LocalLlmServer, Reply, sample_request, valid_copy},
    *,
};

const KEY: &str = "sk-test-0123456789";
const PROVIDERS: [LlmProvider; 2] = [LlmProvider::Anthropic, LlmProvider::Openai];

fn settings(provider: LlmProvider, server: &LocalLlmServer) -> LlmSettings {
    LlmSettings {
        enabled: true,
        provider,
        base_url: Some(server.base_url()),
        model: "model-test".into(),
        api_key_env: "LLM_TEST_KEY".into(),
        timeout: Duration::from_secs(5),
        max_retries: 2,
        retry_base: Duration::from_millis(10),
        retry_max_wait: Duration::from_secs(5),
        max_output_tokens: 1_200,
        temperature: 0.3,
        input_price_cents_per_mtok: 300.0,
        output_price_cents_per_mtok: 1_500.0,
        daily_budget_cents: 100.0,
    }
}

async fn start() -> LocalLlmServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    LocalLlmServer::start(KEY).await.unwrap()
}

fn client(settings: &LlmSettings) -> LlmClient {
    assert_eq!(settings.validate(), Ok(()));
    LlmClient::new(settings, SecretString::from(KEY)).unwrap()
}

async fn copy(provider: LlmProvider, server: &LocalLlmServer) -> Result<LlmCopy, CopyRejected> {
    let client = client(&settings(provider, server));
    write_copy(&client, &sample_request(Language::En)).await
}

#[tokio::test]
async fn valid_copy_is_accepted_with_its_usage_and_cost() {
    for provider in PROVIDERS {
        // Arrange
        let server = start().await;
        server.push(Reply::valid_copy(Language::En).with_usage(1_200, 350));
        // Act
        let accepted = copy(provider, &server).await.unwrap();
        // Assert
        let expected: CopyDocument = serde_json::from_value(valid_copy(Language::En)).unwrap();
        assert_eq!(accepted.copy, expected, "{provider}");
        let usage = &accepted.usage;
        assert_eq!((usage.provider, usage.model.as_str()), (provider, "model-test"));
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.attempts),
            (1_200, 350, 1)
        );
        // 1200 × 300 / 1e6 + 350 × 1500 / 1e6 cents.
        assert!((usage.cost_cents - 0.885).abs() < 1e-9, "{}", usage.cost_cents);
        let id_prefix = match provider {
            LlmProvider::Anthropic => "msg_local_",
            LlmProvider::Openai => "chatcmpl-local-",
        };
        assert!(usage.request_id.starts_with(id_prefix), "{}", usage.request_id);
        assert_eq!(server.request_count(), 1);
    }
}

#[tokio::test]
async fn anthropic_requests_carry_the_documented_headers_and_body() {
    let server = start().await;
    copy(LlmProvider::Anthropic, &server).await.unwrap();
    let requests = server.requests();
    let request = &requests[0];
    assert_eq!(request.provider, LlmProvider::Anthropic);
    assert_eq!(request.header("x-api-key"), Some(KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), None);
    let body = &request.body;
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(body["model"], "model-test");
    assert_eq!(body["max_tokens"], 1_200);
    assert_eq!(body["temperature"].as_f64(), Some(0.3));
    assert!(
        body["system"]
            .as_str()
            .unwrap()
            .contains("\"additionalProperties\": false")
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "user");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("- name: Boulangerie Weber")
    );
}

#[tokio::test]
async fn openai_requests_carry_the_documented_headers_and_body() {
    let server = start().await;
    copy(LlmProvider::Openai, &server).await.unwrap();
    let requests = server.requests();
    let request = &requests[0];
    assert_eq!(request.provider, LlmProvider::Openai);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-api-key"), None);
    let body = &request.body;
    assert_eq!(body["model"], "model-test");
    assert_eq!(body["max_tokens"], 1_200);
    assert_eq!(body["temperature"].as_f64(), Some(0.3));
    assert_eq!(
        body["response_format"],
        serde_json::json!({"type": "json_object"})
    );
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user"]);
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("JSON schema")
    );
}

#[tokio::test]
async fn bad_replies_are_rejected_with_their_reason_and_their_cost() {
    for provider in PROVIDERS {
        let cases: Vec<(&str, Reply, &str)> = vec![
            ("invalid json", Reply::invalid_json(), "not_json"),
            ("schema violation", Reply::schema_violation(), "schema"),
            ("made-up award year", Reply::unsafe_award_year(), "unsafe:number"),
            ("url not in the facts", Reply::unsafe_url(), "unsafe:url"),
            (
                "cut off",
                Reply::truncated("{\"headline\": \"Fresh"),
                "unfinished",
            ),
        ];
        for (name, reply, code) in cases {
            // Arrange
            let server = start().await;
            server.push(reply.with_usage(1_000, 100));
            // Act
            let rejected = copy(provider, &server).await.unwrap_err();
            // Assert
            assert_eq!(rejected.reason.code(), code, "{provider} {name}: {rejected}");
            let usage = rejected.usage.as_ref().expect("the call was billed");
            assert!((usage.cost_cents - 0.45).abs() < 1e-9, "{provider} {name}");
            assert!(!rejected.is_retryable(), "{provider} {name}");
            assert_eq!(
                server.request_count(),
                1,
                "{provider} {name}: a bad reply is not asked again"
            );
        }
    }
}

#[tokio::test]
async fn rejections_name_the_schema_path_and_the_safety_rule() {
    let server = start().await;
    server.push(Reply::schema_violation());
    server.push(Reply::unsafe_award_year());
    server.push(Reply::unsafe_url());
    let schema = copy(LlmProvider::Anthropic, &server).await.unwrap_err();
    match &schema.reason {
        RejectReason::Schema { violations } => {
            let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
            assert!(
                paths.contains(&"/headline") && paths.contains(&""),
                "{violations:?}"
            );
        }
        other => panic!("{other}"),
    }
    let award = copy(LlmProvider::Anthropic, &server).await.unwrap_err();
    match &award.reason {
        RejectReason::Unsafe(v) => {
            assert_eq!((v.rule, v.field.as_str()), (SafetyRule::Number, "/subheadline"));
            assert!(v.text.contains("2019"), "{}", v.text);
        }
        other => panic!("{other}"),
    }
    let url = copy(LlmProvider::Anthropic, &server).await.unwrap_err();
    match &url.reason {
        RejectReason::Unsafe(v) => {
            assert_eq!((v.rule, v.field.as_str()), (SafetyRule::Url, "/faq/0/answer"));
            assert_eq!(v.text, "https://weber-bakery.example/order");
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn rate_limits_are_retried_no_sooner_than_retry_after() {
    for provider in PROVIDERS {
        // Arrange
        let server = start().await;
        server.push(Reply::RateLimited { retry_after_secs: 1 });
        // Act
        let accepted = copy(provider, &server).await.unwrap();
        // Assert
        assert_eq!(accepted.usage.attempts, 2, "{provider}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        let gap = requests[1].received_at - requests[0].received_at;
        assert!(gap >= Duration::from_secs(1), "{provider}: retried after {gap:?}");
        assert!(accepted.usage.latency >= Duration::from_secs(1));
    }
}

#[tokio::test]
async fn server_errors_and_overload_are_retried_up_to_max_retries() {
    for provider in PROVIDERS {
        for transient in [Reply::ServerError, Reply::Overloaded] {
            // One failure, then the default (valid) reply.
            let server = start().await;
            server.push(transient.clone());
            let accepted = copy(provider, &server).await.unwrap();
            assert_eq!(accepted.usage.attempts, 2, "{provider} {transient:?}");

            // Failures on every attempt: 1 + max_retries requests, then the error.
            let server = start().await;
            server.set_default(transient.clone());
            let rejected = copy(provider, &server).await.unwrap_err();
            assert_eq!(server.request_count(), 3, "{provider} {transient:?}");
            assert!(rejected.is_retryable());
            assert!(rejected.usage.is_none());
            let RejectReason::Provider(error) = &rejected.reason else {
                panic!("{rejected}");
            };
            let expected_status = match (&transient, provider) {
                (Reply::Overloaded, LlmProvider::Anthropic) => 529,
                (Reply::Overloaded, LlmProvider::Openai) => 503,
                _ => 500,
            };
            assert_eq!(error.status(), Some(expected_status), "{error}");
            if matches!(transient, Reply::Overloaded) {
                assert!(matches!(error, LlmError::Overloaded { .. }), "{error}");
            }
        }
    }
}

#[tokio::test]
async fn other_client_errors_are_never_retried() {
    for provider in PROVIDERS {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
        ] {
            let server = start().await;
            server.push(Reply::Error {
                status,
                kind: kind.into(),
                message: "no".into(),
            });
            let rejected = copy(provider, &server).await.unwrap_err();
            assert_eq!(server.request_count(), 1, "{provider} {status}");
            let RejectReason::Provider(error) = &rejected.reason else {
                panic!("{rejected}");
            };
            assert!(error.is_permanent(), "{error}");
            assert_eq!(error.status(), Some(status));
            assert!(error.to_string().contains(kind), "{error}");
        }
    }
}

#[tokio::test]
async fn a_wrong_key_gets_401_once() {
    for provider in PROVIDERS {
        let server = start().await;
        let client = LlmClient::new(&settings(provider, &server), SecretString::from("sk-wrong")).unwrap();
        let rejected = write_copy(&client, &sample_request(Language::En))
            .await
            .unwrap_err();
        assert_eq!(server.request_count(), 1);
        let RejectReason::Provider(error) = &rejected.reason else {
            panic!("{rejected}");
        };
        assert_eq!(error.status(), Some(401), "{error}");
        assert!(error.is_permanent());
        assert!(!error.to_string().contains("sk-wrong"), "{error}");
    }
}

#[tokio::test]
async fn a_long_retry_after_is_left_to_the_queue() {
    for provider in PROVIDERS {
        let server = start().await;
        server.push(Reply::RateLimited { retry_after_secs: 60 });
        let rejected = copy(provider, &server).await.unwrap_err();
        assert_eq!(server.request_count(), 1);
        let RejectReason::Provider(error) = &rejected.reason else {
            panic!("{rejected}");
        };
        assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
        assert!(rejected.is_retryable());
    }
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_a_retried_timeout() {
    for provider in PROVIDERS {
        // Arrange
        let server = start().await;
        server.set_default(Reply::valid_copy(Language::En).after(Duration::from_secs(3)));
        let mut settings = settings(provider, &server);
        settings.timeout = Duration::from_millis(300);
        settings.max_retries = 1;
        // Act
        let rejected = write_copy(&client(&settings), &sample_request(Language::En))
            .await
            .unwrap_err();
        // Assert
        let RejectReason::Provider(error) = &rejected.reason else {
            panic!("{rejected}");
        };
        assert!(matches!(error, LlmError::Timeout { .. }), "{error}");
        assert!(rejected.is_retryable());
        assert_eq!(server.request_count(), 2, "{provider}");
    }
}

#[tokio::test]
async fn a_slow_reply_within_the_timeout_is_accepted() {
    let server = start().await;
    server.push(Reply::valid_copy(Language::En).after(Duration::from_millis(200)));
    let accepted = copy(LlmProvider::Openai, &server).await.unwrap();
    assert!(accepted.usage.latency >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_connection_error() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut settings = LlmSettings {
        enabled: true,
        model: "m".into(),
        base_url: Some(format!("http://127.0.0.1:{port}").parse().unwrap()),
        retry_base: Duration::from_millis(5),
        ..LlmSettings::default()
    };
    settings.max_retries = 1;
    let client = LlmClient::new(&settings, SecretString::from(KEY)).unwrap();
    let error = client
        .complete(&sample_request(Language::En).prompt().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Connection { .. }), "{error}");
    assert!(error.is_retryable() && !error.is_permanent());
}

#[tokio::test]
async fn a_bad_prompt_sends_nothing() {
    let server = start().await;
    let client = client(&settings(LlmProvider::Anthropic, &server));
    let mut request = sample_request(Language::En);
    request.template.user = "Facts: {fatcs}".into();
    let rejected = write_copy(&client, &request).await.unwrap_err();
    assert_eq!(rejected.reason.code(), "prompt");
    assert!(rejected.to_string().contains("{fatcs}"), "{rejected}");
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn every_sample_language_passes_with_its_own_language_only() {
    let request = sample_request(Language::En);
    for language in Language::ALL {
        let text = valid_copy(language).to_string();
        assert!(check_reply(&text, &request.facts, language).is_ok(), "{language}");
        for other in Language::ALL.into_iter().filter(|l| *l != language) {
            let err = check_reply(&text, &request.facts, other).unwrap_err();
            assert_eq!(err.code(), "unsafe:language", "{language} as {other}");
        }
    }
    let server = start().await;
    server.push(Reply::valid_copy(Language::Fr));
    let client = client(&settings(LlmProvider::Openai, &server));
    let accepted = write_copy(&client, &sample_request(Language::Fr)).await.unwrap();
    assert_eq!(accepted.copy.call_to_action, "Appeler la boulangerie");
}

#[tokio::test]
async fn the_local_server_refuses_requests_without_the_documented_fields() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = start().await;
    let http = reqwest::Client::new();
    let url = |path: &str| server.base_url().join(path).unwrap();
    let no_version = http
        .post(url("v1/messages"))
        .header("x-api-key", KEY)
        .json(&serde_json::json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);
    let no_max_tokens = http
        .post(url("v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", ANTHROPIC_VERSION)
        .json(&serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_max_tokens.status(), 400);
    let body: Value = no_max_tokens.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let no_auth = http
        .post(url("v1/chat/completions"))
        .json(&serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
    let body: Value = no_auth.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(server.request_count(), 3);
}

#[test]
fn the_clients_debug_does_not_show_the_key() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = LlmSettings {
        enabled: true,
        model: "m".into(),
        ..LlmSettings::default()
    };
    let client = LlmClient::new(&settings, SecretString::from(KEY)).unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert_eq!(
        client.endpoint().as_str(),
        "https://api.anthropic.com/v1/messages"
    );
}

#[test]
fn from_env_is_off_when_disabled_and_names_a_missing_key() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut env = std::collections::HashMap::new();
    let off = LlmSettings::default();
    assert!(LlmClient::from_env(&off, &env).unwrap().is_none());
    let on = LlmSettings {
        enabled: true,
        model: "m".into(),
        api_key_env: "COPY_KEY".into(),
        ..LlmSettings::default()
    };
    match LlmClient::from_env(&on, &env) {
        Err(ClientSetupError::Setting(e)) => assert_eq!(e.key, "COPY_KEY"),
        other => panic!("{other:?}"),
    }
    let bad = LlmSettings {
        temperature: 3.0,
        ..on.clone()
    };
    match LlmClient::from_env(&bad, &env) {
        Err(ClientSetupError::Setting(e)) => assert_eq!(e.key, "temperature"),
        other => panic!("{other:?}"),
    }
    env.insert("COPY_KEY".to_owned(), KEY.to_owned());
    let client = LlmClient::from_env(&on, &env).unwrap().unwrap();
    assert_eq!((client.provider(), client.model()), (LlmProvider::Anthropic, "m"));
}

#[test]
fn a_base_url_with_a_path_keeps_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = LlmSettings {
        enabled: true,
        provider: LlmProvider::Openai,
        model: "m".into(),
        base_url: Some("https://gateway.example/openai".parse().unwrap()),
        ..LlmSettings::default()
    };
    let client = LlmClient::new(&settings, SecretString::from(KEY)).unwrap();
    assert_eq!(
        client.endpoint().as_str(),
        "https://gateway.example/openai/v1/chat/completions"
    );
}
