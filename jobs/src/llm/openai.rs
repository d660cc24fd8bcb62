//! The OpenAI Chat Completions wire format (`POST /v1/chat/completions`),
//! as spoken by OpenAI and the many servers compatible with it.

use serde::{Deserialize, Serialize};

use super::client::{FinishReason, ProviderError, Reply};

/// Request body.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a> {
    pub model: &'a str,
    pub messages: [Message<'a>; 2],
    pub max_tokens: u32,
    pub temperature: f32,
    pub response_format: ResponseFormat,
}

#[derive(Debug, Serialize)]
pub(crate) struct Message<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

/// `{"type": "json_object"}`: JSON mode, so the reply is one JSON object.
#[derive(Debug, Serialize)]
pub(crate) struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Deserialize)]
struct RawCompletion {
    id: String,
    #[serde(default)]
    model: Option<String>,
    choices: Vec<RawChoice>,
    usage: RawUsage,
}

#[derive(Debug, Deserialize)]
struct RawChoice {
    message: RawMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
}

#[derive(Debug, Deserialize)]
struct RawErrorBody {
    error: RawError,
}

#[derive(Debug, Deserialize)]
struct RawError {
    #[serde(default)]
    message: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// A 2xx body, converted (the first choice; we ask for one).
pub(crate) fn parse_reply(body: &[u8]) -> Result<Reply, String> {
    let raw: RawCompletion =
        serde_json::from_slice(body).map_err(|e| format!("not a Chat Completions reply: {e}"))?;
    let choice = raw
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| "the reply has no choices".to_owned())?;
    let refused = choice.message.refusal.is_some_and(|r| !r.is_empty());
    let finish = match choice.finish_reason.as_deref() {
        _ if refused => FinishReason::Refused,
        Some("stop") => FinishReason::Complete,
        Some("length") => FinishReason::MaxTokens,
        Some("content_filter") => FinishReason::Refused,
        Some(other) => FinishReason::Other(other.to_owned()),
        None => FinishReason::Other("none".to_owned()),
    };
    Ok(Reply {
        request_id: raw.id,
        model: raw.model,
        text: choice.message.content.unwrap_or_default(),
        finish,
        input_tokens: raw.usage.prompt_tokens,
        output_tokens: raw.usage.completion_tokens,
    })
}

/// An error body (`{error:{message, type, code}}`; `code` is a string, a
/// number or null depending on the server).
pub(crate) fn parse_error(body: &[u8]) -> ProviderError {
    match serde_json::from_slice::<RawErrorBody>(body) {
        Ok(raw) => ProviderError {
            kind: raw.error.kind.unwrap_or_else(|| "unknown".to_owned()),
            message: raw.error.message,
            code: raw.error.code.and_then(|c| match c {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
        },
        Err(_) => ProviderError::unparsed(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_choice_and_usage_are_read() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-x",
            "choices":[{"index":0,"message":{"role":"assistant","content":"{}"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":30,"completion_tokens":4,"total_tokens":34}}"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!(
            (reply.text.as_str(), reply.request_id.as_str()),
            ("{}", "chatcmpl-1")
        );
        assert_eq!((reply.input_tokens, reply.output_tokens), (30, 4));
        assert_eq!(reply.finish, FinishReason::Complete);
    }

    #[test]
    fn refusals_lengths_and_empty_choices_are_told_apart() {
        let refusal = br#"{"id":"c","choices":[{"message":{"role":"assistant","content":null,"refusal":"no"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
        assert_eq!(parse_reply(refusal).unwrap().finish, FinishReason::Refused);
        let length = br#"{"id":"c","choices":[{"message":{"content":"{"},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
        assert_eq!(parse_reply(length).unwrap().finish, FinishReason::MaxTokens);
        let none = br#"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0}}"#;
        assert!(parse_reply(none).is_err());
    }

    #[test]
    fn error_codes_may_be_strings_numbers_or_null() {
        let e = parse_error(
            br#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("insufficient_quota"));
        let e = parse_error(br#"{"error":{"message":"m","type":null,"code":429}}"#);
        assert_eq!((e.kind.as_str(), e.code.as_deref()), ("unknown", Some("429")));
    }
}
