//! Svix webhook signatures, as Recurrente sends them.
//!
//! A delivery carries three headers: `svix-id` (`msg_…`, unique per
//! message and the key to deduplicate on), `svix-timestamp` (Unix seconds)
//! and `svix-signature` (one or more space-separated `v1,<base64>` entries;
//! several during a secret rotation). The unbranded Standard Webhooks names
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` are accepted
//! when the `svix-` ones are absent. The signature is HMAC-SHA256, keyed
//! with the base64-decoded part of a `whsec_…` secret, over
//! `"{id}.{timestamp}.{raw body}"`.
//!
//! [`WebhookVerifier`] fails closed: without a secret, or with any header
//! missing, nothing verifies. Signatures are compared in constant time and
//! the timestamp must be within [`TOLERANCE`] of the caller's clock, so a
//! captured delivery cannot be replayed later.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How far a delivery's timestamp may be from our clock, either way
/// (Svix's own verifier uses the same five minutes).
pub const TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::seconds(300);

/// The prefix of a Svix signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Fewer key bytes than this is not a Svix secret (Svix issues 24): most
/// likely a truncated paste.
pub const MIN_SECRET_BYTES: usize = 16;

const ID_HEADERS: [&str; 2] = ["svix-id", "webhook-id"];
const TIMESTAMP_HEADERS: [&str; 2] = ["svix-timestamp", "webhook-timestamp"];
const SIGNATURE_HEADERS: [&str; 2] = ["svix-signature", "webhook-signature"];

/// One signing secret: the decoded HMAC key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SigningSecret {
    key: SecretSlice<u8>,
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// Why a configured secret is unusable. It names the secret by its position
/// in the configured list, never by its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not `whsec_…`: probably another key (an API key) pasted by mistake.
    #[error("webhook secret #{index} does not start with `whsec_`")]
    MissingPrefix {
        /// Position in the configured list (0-based).
        index: usize,
    },
    /// The part after `whsec_` is not standard base64.
    #[error("webhook secret #{index} is not valid base64 after `whsec_`")]
    NotBase64 {
        /// Position in the configured list (0-based).
        index: usize,
    },
    /// It decodes to too few bytes to be a Svix key.
    #[error("webhook secret #{index} decodes to {len} bytes; a Svix secret has at least {MIN_SECRET_BYTES}")]
    TooShort {
        /// Position in the configured list (0-based).
        index: usize,
        /// Decoded length.
        len: usize,
    },
}

impl SigningSecret {
    /// Parse a `whsec_<base64>` secret (surrounding whitespace, as left by
    /// an environment file, is ignored).
    pub fn parse(secret: &SecretString) -> Result<Self, SecretError> {
        Self::parse_at(secret.expose_secret(), 0)
    }

    fn parse_at(secret: &str, index: usize) -> Result<Self, SecretError> {
        let encoded = secret
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix { index })?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64 { index })?;
        if key.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort {
                index,
                len: key.len(),
            });
        }
        Ok(Self { key: key.into() })
    }

    /// A secret from raw key bytes (the demo makes one from random bytes
    /// and hands its [`to_whsec`](Self::to_whsec) form to both sides).
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, SecretError> {
        if key.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort {
                index: 0,
                len: key.len(),
            });
        }
        Ok(Self { key: key.into() })
    }

    /// The `whsec_<base64>` form, as Recurrente's dashboard shows it.
    pub fn to_whsec(&self) -> SecretString {
        SecretString::from(format!(
            "{SECRET_PREFIX}{}",
            STANDARD.encode(self.key.expose_secret())
        ))
    }

    /// The HMAC-SHA256 of `"{id}.{timestamp}.{body}"`.
    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        // An HMAC key may have any length; `new_from_slice` cannot fail here.
        let mut mac = match HmacSha256::new_from_slice(self.key.expose_secret()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The `v1,<base64>` signature of one message.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }
}

/// A delivery that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMessage {
    /// `svix-id`: unique per message, the same on every retry of it. The
    /// key for the event ledger (the payload's `id` is the object's id).
    pub id: String,
    /// When Svix signed it.
    pub timestamp: DateTime<Utc>,
    /// Which configured secret matched (rotation bookkeeping).
    pub secret_index: usize,
}

/// Why a delivery was refused. None of these is worth a retry by us: the
/// HTTP handler answers 4xx (Svix retries on its own schedule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No secret is configured: every delivery is refused (fail closed).
    #[error("no webhook secret is configured; refusing every delivery")]
    NoSecretConfigured,
    /// A required header is absent.
    #[error("the `{name}` header is missing")]
    MissingHeader {
        /// The `svix-` name of the header.
        name: &'static str,
    },
    /// A header is not visible ASCII.
    #[error("the `{name}` header is not valid text")]
    MalformedHeader {
        /// The header as sent.
        name: &'static str,
    },
    /// `svix-timestamp` is not an integer number of seconds.
    #[error("the `svix-timestamp` header is not a Unix timestamp")]
    BadTimestamp,
    /// Signed more than [`TOLERANCE`] ago: a replay, or a badly late retry.
    #[error("the message was signed at {timestamp}, more than 5 minutes ago")]
    TooOld {
        /// The claimed signing time.
        timestamp: DateTime<Utc>,
    },
    /// Signed more than [`TOLERANCE`] in the future: a clock problem.
    #[error("the message claims to be signed at {timestamp}, more than 5 minutes from now")]
    InFuture {
        /// The claimed signing time (Unix seconds; it may be out of range
        /// for a calendar date).
        timestamp: i64,
    },
    /// No `v1` signature matches any configured secret.
    #[error("no signature matches a configured webhook secret")]
    NoMatchingSignature,
}

/// Checks Svix signatures against one or more secrets (several while a
/// secret is rotated: the old and the new one both verify).
#[derive(Debug, Clone, Default)]
pub struct WebhookVerifier {
    secrets: Vec<SigningSecret>,
}

impl WebhookVerifier {
    /// A verifier for `whsec_…` secrets. A bad secret stops start-up with
    /// its position in the list; an empty list is allowed and refuses
    /// everything.
    pub fn new(secrets: Vec<SecretString>) -> Result<Self, SecretError> {
        let secrets = secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| SigningSecret::parse_at(secret.expose_secret(), index))
            .collect::<Result<_, _>>()?;
        Ok(Self { secrets })
    }

    /// A verifier for already-parsed secrets.
    pub fn from_secrets(secrets: Vec<SigningSecret>) -> Self {
        Self { secrets }
    }

    /// How many secrets are configured.
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// Verify one delivery. `raw_body` must be the bytes as received (never
    /// re-serialised JSON); `now` is the caller's clock (injectable so the
    /// published test vector can be checked).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        raw_body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedMessage, VerifyError> {
        if self.secrets.is_empty() {
            return Err(VerifyError::NoSecretConfigured);
        }
        let id = header(headers, ID_HEADERS)?;
        let timestamp_text = header(headers, TIMESTAMP_HEADERS)?;
        let signatures = header(headers, SIGNATURE_HEADERS)?;

        let timestamp: i64 = timestamp_text
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        let now_secs = now.timestamp();
        let tolerance = TOLERANCE.num_seconds();
        if timestamp > now_secs.saturating_add(tolerance) {
            return Err(VerifyError::InFuture { timestamp });
        }
        let signed_at = DateTime::from_timestamp(timestamp, 0).ok_or(VerifyError::BadTimestamp)?;
        if timestamp.saturating_add(tolerance) < now_secs {
            return Err(VerifyError::TooOld { timestamp: signed_at });
        }

        let candidates: Vec<Vec<u8>> = signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| STANDARD.decode(encoded).ok())
            .collect();
        for (secret_index, secret) in self.secrets.iter().enumerate() {
            let expected = secret.mac(id, timestamp, raw_body);
            // Every candidate is compared, so the time taken does not say
            // which one (or which byte) matched.
            let matched = candidates.iter().fold(subtle::Choice::from(0), |any, candidate| {
                any | expected.as_slice().ct_eq(candidate.as_slice())
            });
            if bool::from(matched) {
                return Ok(VerifiedMessage {
                    id: id.to_owned(),
                    timestamp: signed_at,
                    secret_index,
                });
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }
}

/// The first of a header's names that is present (`svix-…`, then
/// `webhook-…`).
fn header<'a>(headers: &'a HeaderMap, names: [&'static str; 2]) -> Result<&'a str, VerifyError> {
    let value = names
        .iter()
        .find_map(|name| headers.get(*name))
        .ok_or(VerifyError::MissingHeader { name: names[0] })?;
    let text = value
        .to_str()
        .map_err(|_| VerifyError::MalformedHeader { name: names[0] })?;
    if text.trim().is_empty() {
        return Err(VerifyError::MissingHeader { name: names[0] });
    }
    Ok(text)
}

/// The three headers of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `svix-id`.
    pub id: String,
    /// `svix-timestamp` (Unix seconds).
    pub timestamp: i64,
    /// `svix-signature`: one `v1,<base64>` per secret, space-separated.
    pub signature: String,
}

impl SignedHeaders {
    /// As `svix-*` headers, ready to send.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("svix-id", self.id.clone()),
            ("svix-timestamp", self.timestamp.to_string()),
            ("svix-signature", self.signature.clone()),
        ] {
            // Ids we sign are ours; a value that is not a valid header
            // (a control character in a test's id) is left out, and the
            // receiver reports the header as missing.
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        headers
    }
}

/// Sign a message the way Svix does, with every secret in `secrets` (one
/// signature each, as during a rotation). Used by the local Recurrente
/// server and by tests of the webhook handler.
pub fn sign(secrets: &[SigningSecret], id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let signature = secrets
        .iter()
        .map(|secret| secret.signature(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    SignedHeaders {
        id: id.to_owned(),
        timestamp,
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The svix crate's own `test_sign` vector (recomputed with Python's
    // hmac for the notes).
    const VECTOR_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const VECTOR_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const VECTOR_TS: i64 = 1_649_367_553;
    const VECTOR_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const VECTOR_SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    fn headers(id: &str, ts: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("svix-id", HeaderValue::from_str(id).unwrap());
        h.insert("svix-timestamp", HeaderValue::from_str(ts).unwrap());
        h.insert("svix-signature", HeaderValue::from_str(signature).unwrap());
        h
    }

    fn vector_verifier() -> WebhookVerifier {
        WebhookVerifier::new(vec![SecretString::from(VECTOR_SECRET)]).unwrap()
    }

    fn vector_headers() -> HeaderMap {
        headers(VECTOR_ID, &VECTOR_TS.to_string(), VECTOR_SIGNATURE)
    }

    #[test]
    fn the_published_test_vector_signs_and_verifies() {
        // Arrange
        let secret = SigningSecret::parse(&SecretString::from(VECTOR_SECRET)).unwrap();

        // Act
        let signed = sign(std::slice::from_ref(&secret), VECTOR_ID, VECTOR_TS, VECTOR_BODY);
        let verified = vector_verifier()
            .verify(&vector_headers(), VECTOR_BODY, at(VECTOR_TS + 10))
            .unwrap();

        // Assert
        assert_eq!(signed.signature, VECTOR_SIGNATURE);
        assert_eq!(verified.id, VECTOR_ID);
        assert_eq!(verified.timestamp, at(VECTOR_TS));
        assert_eq!(verified.secret_index, 0);
    }

    #[test]
    fn a_tampered_body_does_not_verify() {
        let body = br#"{"email":"test@example.com","username":"test_userX"}"#;
        assert_eq!(
            vector_verifier().verify(&vector_headers(), body, at(VECTOR_TS)),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn a_changed_id_or_timestamp_does_not_verify() {
        let verifier = vector_verifier();
        let other_id = headers("msg_other", &VECTOR_TS.to_string(), VECTOR_SIGNATURE);
        assert_eq!(
            verifier.verify(&other_id, VECTOR_BODY, at(VECTOR_TS)),
            Err(VerifyError::NoMatchingSignature)
        );
        let other_ts = headers(VECTOR_ID, &(VECTOR_TS + 1).to_string(), VECTOR_SIGNATURE);
        assert_eq!(
            verifier.verify(&other_ts, VECTOR_BODY, at(VECTOR_TS)),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn rotation_accepts_the_old_and_the_new_secret() {
        // Arrange: the receiver knows both secrets during the rotation.
        let old = SigningSecret::from_bytes(vec![1; 24]).unwrap();
        let new = SigningSecret::from_bytes(vec![2; 24]).unwrap();
        let verifier = WebhookVerifier::new(vec![old.to_whsec(), new.to_whsec()]).unwrap();
        let now = at(1_700_000_000);

        // Act: Svix sends one signature per active secret, or only one.
        let both = sign(&[new.clone(), old.clone()], "msg_1", now.timestamp(), b"{}");
        let only_new = sign(std::slice::from_ref(&new), "msg_2", now.timestamp(), b"{}");
        let only_old = sign(std::slice::from_ref(&old), "msg_3", now.timestamp(), b"{}");

        // Assert
        assert_eq!(both.signature.split(' ').count(), 2);
        let index = |s: &SignedHeaders| {
            verifier
                .verify(&s.to_header_map(), b"{}", now)
                .unwrap()
                .secret_index
        };
        assert_eq!(index(&both), 0);
        assert_eq!(index(&only_new), 1);
        assert_eq!(index(&only_old), 0);

        // A verifier that knows only the new secret refuses the old one.
        let new_only = WebhookVerifier::from_secrets(vec![new]);
        assert_eq!(
            new_only.verify(&only_old.to_header_map(), b"{}", now),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn unknown_versions_and_garbage_entries_are_skipped() {
        let signature = format!("v1a,AAAA v1,not-base64!! {VECTOR_SIGNATURE} v2,xyz");
        let h = headers(VECTOR_ID, &VECTOR_TS.to_string(), &signature);
        assert!(vector_verifier().verify(&h, VECTOR_BODY, at(VECTOR_TS)).is_ok());
        let only_other = headers(
            VECTOR_ID,
            &VECTOR_TS.to_string(),
            "v1a,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        );
        assert_eq!(
            vector_verifier().verify(&only_other, VECTOR_BODY, at(VECTOR_TS)),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn unbranded_webhook_headers_are_a_fallback() {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_static(VECTOR_ID));
        h.insert("webhook-timestamp", HeaderValue::from_static("1649367553"));
        h.insert("webhook-signature", HeaderValue::from_static(VECTOR_SIGNATURE));
        let verified = vector_verifier().verify(&h, VECTOR_BODY, at(VECTOR_TS)).unwrap();
        assert_eq!(verified.id, VECTOR_ID);
    }

    #[test]
    fn the_timestamp_window_is_300_seconds_either_way() {
        let verifier = vector_verifier();
        let h = vector_headers();
        // Arrange / Act / Assert, per named edge.
        let cases = [
            ("exactly 300 s late", VECTOR_TS + 300, Ok(())),
            ("301 s late", VECTOR_TS + 301, Err("too old")),
            ("exactly 300 s early", VECTOR_TS - 300, Ok(())),
            ("301 s early", VECTOR_TS - 301, Err("future")),
        ];
        for (name, now, expected) in cases {
            let outcome = verifier.verify(&h, VECTOR_BODY, at(now));
            match (expected, outcome) {
                (Ok(()), Ok(_)) => {}
                (Err("too old"), Err(VerifyError::TooOld { timestamp })) => {
                    assert_eq!(timestamp, at(VECTOR_TS), "{name}")
                }
                (Err("future"), Err(VerifyError::InFuture { timestamp })) => {
                    assert_eq!(timestamp, VECTOR_TS, "{name}")
                }
                (expected, outcome) => panic!("{name}: expected {expected:?}, got {outcome:?}"),
            }
        }
    }

    #[test]
    fn each_missing_or_bad_header_has_its_own_error() {
        let verifier = vector_verifier();
        let now = at(VECTOR_TS);
        for (name, drop) in [
            ("svix-id", "svix-id"),
            ("svix-timestamp", "svix-timestamp"),
            ("svix-signature", "svix-signature"),
        ] {
            let mut h = vector_headers();
            h.remove(drop);
            assert_eq!(
                verifier.verify(&h, VECTOR_BODY, now),
                Err(VerifyError::MissingHeader { name }),
                "without {drop}"
            );
        }
        let blank = headers(VECTOR_ID, &VECTOR_TS.to_string(), "  ");
        assert_eq!(
            verifier.verify(&blank, VECTOR_BODY, now),
            Err(VerifyError::MissingHeader {
                name: "svix-signature"
            })
        );
        let mut binary = vector_headers();
        binary.insert("svix-id", HeaderValue::from_bytes(b"msg_\xff").unwrap());
        assert_eq!(
            verifier.verify(&binary, VECTOR_BODY, now),
            Err(VerifyError::MalformedHeader { name: "svix-id" })
        );
        for bad in ["soon", "1649367553.5", "-", "0x62", "99999999999999999999999"] {
            let h = headers(VECTOR_ID, bad, VECTOR_SIGNATURE);
            assert_eq!(
                verifier.verify(&h, VECTOR_BODY, now),
                Err(VerifyError::BadTimestamp),
                "timestamp {bad:?}"
            );
        }
    }

    #[test]
    fn extreme_timestamps_are_refused_without_overflow() {
        let verifier = vector_verifier();
        let now = at(VECTOR_TS);
        let max = headers(VECTOR_ID, &i64::MAX.to_string(), VECTOR_SIGNATURE);
        assert_eq!(
            verifier.verify(&max, VECTOR_BODY, now),
            Err(VerifyError::InFuture { timestamp: i64::MAX })
        );
        let min = headers(VECTOR_ID, &i64::MIN.to_string(), VECTOR_SIGNATURE);
        assert_eq!(
            verifier.verify(&min, VECTOR_BODY, now),
            Err(VerifyError::BadTimestamp)
        );
        let zero = headers(VECTOR_ID, "0", VECTOR_SIGNATURE);
        assert!(matches!(
            verifier.verify(&zero, VECTOR_BODY, now),
            Err(VerifyError::TooOld { .. })
        ));
    }

    #[test]
    fn without_a_secret_nothing_verifies() {
        let verifier = WebhookVerifier::new(Vec::new()).unwrap();
        assert_eq!(verifier.secret_count(), 0);
        assert_eq!(
            verifier.verify(&vector_headers(), VECTOR_BODY, at(VECTOR_TS)),
            Err(VerifyError::NoSecretConfigured)
        );
    }

    #[test]
    fn bad_secrets_are_refused_at_start_up_by_position() {
        let good = SecretString::from(VECTOR_SECRET);
        let cases = [
            (
                "an API key",
                "sk_live_abc",
                SecretError::MissingPrefix { index: 1 },
            ),
            ("not base64", "whsec_%%%%", SecretError::NotBase64 { index: 1 }),
            (
                "too short",
                "whsec_AAAA",
                SecretError::TooShort { index: 1, len: 3 },
            ),
            ("empty", "whsec_", SecretError::TooShort { index: 1, len: 0 }),
        ];
        for (name, bad, expected) in cases {
            let error = WebhookVerifier::new(vec![good.clone(), SecretString::from(bad)]).unwrap_err();
            assert_eq!(error, expected, "{name}");
            assert!(!error.to_string().contains(bad), "{name}: {error}");
        }
        // Whitespace around a secret (an env file's newline) is ignored.
        let padded = format!("  {VECTOR_SECRET}\n");
        assert!(WebhookVerifier::new(vec![SecretString::from(padded)]).is_ok());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let verifier = vector_verifier();
        let text = format!("{verifier:?}");
        assert!(!text.contains("C2FVsBQ"), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }

    #[test]
    fn whsec_round_trips() {
        let secret = SigningSecret::parse(&SecretString::from(VECTOR_SECRET)).unwrap();
        assert_eq!(secret.to_whsec().expose_secret(), VECTOR_SECRET);
    }
}
