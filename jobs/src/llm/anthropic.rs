//! The Anthropic Messages API wire format (`POST /v1/messages`,
//! `anthropic-version: 2023-06-01`).

use serde::{Deserialize, Serialize};

use super::client::{FinishReason, ProviderError, Reply};

/// The `anthropic-version` header value this format is written for.
pub const API_VERSION: &str = "2023-06-01";

/// Request body.
#[derive(Debug, Serialize)]
pub(crate) struct Request<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    pub system: &'a str,
    pub messages: [Message<'a>; 1],
    pub temperature: f32,
}

#[derive(Debug, Serialize)]
pub(crate) struct Message<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

#[derive(Debug, Deserialize)]
struct RawMessage {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    model: Option<String>,
    content: Vec<RawBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    usage: RawUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum RawBlock {
    #[serde(rename = "text")]
    Text { text: String },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct RawUsage {
    input_tokens: u64,
    output_tokens: u64,
    /// Prompt caching bills these as input too (we do not ask for it, but a
    /// proxy might): counted so the cost is never under-stated.
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct RawErrorBody {
    error: RawError,
}

#[derive(Debug, Deserialize)]
struct RawError {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

/// A 2xx body, converted.
pub(crate) fn parse_reply(body: &[u8]) -> Result<Reply, String> {
    let raw: RawMessage =
        serde_json::from_slice(body).map_err(|e| format!("not a Messages API reply: {e}"))?;
    if raw.kind != "message" {
        return Err(format!("reply type is `{}`, not `message`", raw.kind));
    }
    let mut text = String::new();
    for block in raw.content {
        if let RawBlock::Text { text: part } = block {
            text.push_str(&part);
        }
    }
    let finish = match raw.stop_reason.as_deref() {
        Some("end_turn") | Some("stop_sequence") => FinishReason::Complete,
        Some("max_tokens") => FinishReason::MaxTokens,
        Some("refusal") => FinishReason::Refused,
        Some(other) => FinishReason::Other(other.to_owned()),
        None => FinishReason::Other("none".to_owned()),
    };
    let usage = raw.usage;
    Ok(Reply {
        request_id: raw.id,
        model: raw.model,
        text,
        finish,
        input_tokens: usage.input_tokens
            + usage.cache_creation_input_tokens.unwrap_or(0)
            + usage.cache_read_input_tokens.unwrap_or(0),
        output_tokens: usage.output_tokens,
    })
}

/// An error body (`{type:"error", error:{type, message}}`).
pub(crate) fn parse_error(body: &[u8]) -> ProviderError {
    match serde_json::from_slice::<RawErrorBody>(body) {
        Ok(raw) => ProviderError {
            kind: raw.error.kind,
            message: raw.error.message,
            code: None,
        },
        Err(_) => ProviderError::unparsed(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_blocks_are_joined_and_other_blocks_skipped() {
        let body = br#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"text","text":"{\"a\":"},{"type":"thinking","thinking":"..."},{"type":"text","text":"1}"}],
            "stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":2}}"#;
        let reply = parse_reply(body).unwrap();
        assert_eq!(reply.text, "{\"a\":1}");
        assert_eq!(reply.request_id, "msg_01");
        assert_eq!(reply.model.as_deref(), Some("claude-x"));
        assert_eq!(reply.finish, FinishReason::Complete);
        assert_eq!((reply.input_tokens, reply.output_tokens), (12, 5));
    }

    #[test]
    fn stop_reasons_and_bad_shapes_are_read() {
        let body = br#"{"id":"m","type":"message","role":"assistant","content":[],"stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":2}}"#;
        assert_eq!(parse_reply(body).unwrap().finish, FinishReason::MaxTokens);
        assert!(parse_reply(br#"{"type":"error","error":{"type":"x","message":"y"}}"#).is_err());
        assert!(parse_reply(b"<html>").is_err());
    }

    #[test]
    fn error_bodies_give_type_and_message() {
        let e =
            parse_error(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        assert_eq!(
            (e.kind.as_str(), e.message.as_str()),
            ("overloaded_error", "Overloaded")
        );
        assert_eq!(parse_error(b"Bad Gateway").kind, "unknown");
    }
}
