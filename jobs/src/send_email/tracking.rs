//! Signed tracking tokens, tracking URLs, and telling machine hits from
//! human ones (NOTES-round2 §2.5).
//!
//! A token is `base64url(send id ‖ kind ‖ link index) "." base64url(HMAC-SHA256(key, payload)[..16])`.
//! The send id is the `campaigns.id` UUID (16 bytes), the kind one byte and
//! the link index two (big-endian): 19 bytes of payload. A click token
//! carries an index into the send's stored link list, never a URL, so the
//! click endpoint cannot be made to redirect anywhere else. Tags are
//! compared in constant time. Keys rotate: the first key of a [`KeyRing`]
//! signs, all of them verify (keep a retired key for a year, as long as old
//! messages may still be clicked).
//!
//! Mail addresses (the VERP envelope sender `b+…@`, the `mailto:`
//! unsubscribe `unsub+…@`) carry the same payload and tag in lower-case
//! base32, because mail systems may change the case of a local part.

use std::{fmt, time::Duration};

use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use url::Url;
use uuid::Uuid;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The send a token belongs to: a `campaigns.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SendId(pub Uuid);

impl fmt::Display for SendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// The open pixel.
    Open,
    /// A tracked link (with its index).
    Click,
    /// The one-click unsubscribe URL and the `mailto:` address.
    Unsubscribe,
    /// The VERP envelope sender: bounces come back to it.
    Bounce,
}

impl TokenKind {
    fn byte(self) -> u8 {
        match self {
            TokenKind::Open => 1,
            TokenKind::Click => 2,
            TokenKind::Unsubscribe => 3,
            TokenKind::Bounce => 4,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(TokenKind::Open),
            2 => Some(TokenKind::Click),
            3 => Some(TokenKind::Unsubscribe),
            4 => Some(TokenKind::Bounce),
            _ => None,
        }
    }
}

/// What a token says, once its tag has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Token {
    /// The send.
    pub send: SendId,
    /// What for.
    pub kind: TokenKind,
    /// For [`TokenKind::Click`]: the index in the send's link list; 0 otherwise.
    pub link: u16,
}

impl Token {
    /// A token of `kind` for `send` (link index 0).
    pub fn new(send: SendId, kind: TokenKind) -> Self {
        Self { send, kind, link: 0 }
    }

    /// A click token for link `link` of `send`.
    pub fn click(send: SendId, link: u16) -> Self {
        Self {
            send,
            kind: TokenKind::Click,
            link,
        }
    }

    fn payload(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        out[..16].copy_from_slice(self.send.0.as_bytes());
        out[16] = self.kind.byte();
        out[17..].copy_from_slice(&self.link.to_be_bytes());
        out
    }

    fn from_payload(payload: &[u8]) -> Option<Self> {
        if payload.len() != PAYLOAD_LEN {
            return None;
        }
        let send = Uuid::from_slice(&payload[..16]).ok()?;
        let kind = TokenKind::from_byte(payload[16])?;
        let link = u16::from_be_bytes([payload[17], payload[18]]);
        Some(Self {
            send: SendId(send),
            kind,
            link,
        })
    }
}

const PAYLOAD_LEN: usize = 19;
const TAG_LEN: usize = 16;
/// Shortest key accepted: as long as the hash's output.
pub const MIN_KEY_LEN: usize = 32;

/// Why a token was refused. Callers answer all of them the same way (a 404
/// or a transparent pixel); the variants are for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not `payload.tag` in the expected alphabet and lengths.
    #[error("the token is malformed")]
    Malformed,
    /// Well formed, but no key made its tag (forged, or signed by a key
    /// that has since been dropped).
    #[error("the token's signature does not verify")]
    BadSignature,
    /// Signed by us, but for another purpose (an open token on the click
    /// endpoint).
    #[error("the token is for {found:?}, not {expected:?}")]
    WrongKind {
        /// What the endpoint takes.
        expected: TokenKind,
        /// What the token is.
        found: TokenKind,
    },
}

/// Why a key ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key at all.
    #[error("no tracking key given")]
    Empty,
    /// Key `index` (from 0) is not base64url, or is shorter than
    /// [`MIN_KEY_LEN`] bytes.
    #[error("tracking key #{index} must be base64url of at least {MIN_KEY_LEN} bytes")]
    Invalid {
        /// Which key.
        index: usize,
    },
}

/// The signing key and the keys still accepted.
#[derive(Clone)]
pub struct KeyRing {
    /// Keyed MACs, ready to clone (the key schedule is computed once).
    keys: Vec<HmacSha256>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing({} keys, redacted)", self.keys.len())
    }
}

impl KeyRing {
    /// Raw keys, the signing one first.
    pub fn new(keys: Vec<Vec<u8>>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let keys = keys
            .iter()
            .enumerate()
            .map(|(index, key)| {
                if key.len() < MIN_KEY_LEN {
                    return Err(KeyError::Invalid { index });
                }
                <HmacSha256 as KeyInit>::new_from_slice(key).map_err(|_| KeyError::Invalid { index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys })
    }

    /// Keys as they come from the environment: base64url (padding
    /// optional), separated by commas or whitespace, the signing one first.
    pub fn from_config(value: &str) -> Result<Self, KeyError> {
        let keys = value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|k| !k.is_empty())
            .enumerate()
            .map(|(index, k)| {
                BASE64URL_NOPAD
                    .decode(k.trim_end_matches('=').as_bytes())
                    .map_err(|_| KeyError::Invalid { index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    fn tag(key: &HmacSha256, payload: &[u8]) -> HmacSha256 {
        let mut mac = key.clone();
        mac.update(payload);
        mac
    }

    fn signed_bytes(&self, token: &Token) -> (Vec<u8>, Vec<u8>) {
        let payload = token.payload();
        // `new` refuses an empty ring, so there is a first key.
        let tag = Self::tag(&self.keys[0], &payload).finalize().into_bytes();
        (payload.to_vec(), tag[..TAG_LEN].to_vec())
    }

    /// The URL form: `payload.tag`, base64url without padding (49
    /// characters).
    pub fn sign(&self, token: &Token) -> String {
        let (payload, tag) = self.signed_bytes(token);
        format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(&payload),
            BASE64URL_NOPAD.encode(&tag)
        )
    }

    /// The address form: payload and tag in lower-case base32 (56
    /// characters, so `unsub+` and the token fit a 64-octet local part).
    pub fn sign_for_address(&self, token: &Token) -> String {
        let (mut bytes, tag) = self.signed_bytes(token);
        bytes.extend_from_slice(&tag);
        BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
    }

    fn check(&self, payload: &[u8], tag: &[u8]) -> Result<Token, TokenError> {
        if payload.len() != PAYLOAD_LEN || tag.len() != TAG_LEN {
            return Err(TokenError::Malformed);
        }
        // `verify_truncated_left` compares in constant time.
        let verified = self
            .keys
            .iter()
            .any(|key| Self::tag(key, payload).verify_truncated_left(tag).is_ok());
        if !verified {
            return Err(TokenError::BadSignature);
        }
        Token::from_payload(payload).ok_or(TokenError::Malformed)
    }

    /// Check a URL-form token.
    pub fn verify(&self, token: &str) -> Result<Token, TokenError> {
        let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
        if payload.len() > 64 || tag.len() > 64 {
            return Err(TokenError::Malformed);
        }
        let payload = BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        let tag = BASE64URL_NOPAD
            .decode(tag.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        self.check(&payload, &tag)
    }

    /// Check a URL-form token that must be of `kind`.
    pub fn verify_kind(&self, token: &str, kind: TokenKind) -> Result<Token, TokenError> {
        let found = self.verify(token)?;
        if found.kind == kind {
            Ok(found)
        } else {
            Err(TokenError::WrongKind {
                expected: kind,
                found: found.kind,
            })
        }
    }

    /// Check an address-form token (any case).
    pub fn verify_address(&self, token: &str) -> Result<Token, TokenError> {
        if token.len() > 64 {
            return Err(TokenError::Malformed);
        }
        let bytes = BASE32_NOPAD
            .decode(token.to_ascii_uppercase().as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN {
            return Err(TokenError::Malformed);
        }
        self.check(&bytes[..PAYLOAD_LEN], &bytes[PAYLOAD_LEN..])
    }
}

/// Local-part prefix of the VERP envelope sender.
pub const BOUNCE_PREFIX: &str = "b+";
/// Local-part prefix of the `mailto:` unsubscribe address.
pub const UNSUBSCRIBE_PREFIX: &str = "unsub+";

/// The URLs and addresses of one send's tokens. Paths under the base URL:
/// `o/{token}` (pixel), `c/{token}` (click), `u/{token}` (unsubscribe); the
/// HTTP endpoints serve those.
#[derive(Debug, Clone)]
pub struct Tracker {
    base: Url,
    bounce_domain: String,
    keys: KeyRing,
}

/// Why a tracking base URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the tracking base URL `{0}` must be an absolute https:// URL (http:// only on loopback) without query or fragment"
)]
pub struct BadBaseUrl(pub String);

impl Tracker {
    /// A tracker for `base` (e.g. `https://t.agency.example/`), with
    /// addresses under `bounce_domain`.
    pub fn new(base: Url, bounce_domain: impl Into<String>, keys: KeyRing) -> Result<Self, BadBaseUrl> {
        let loopback = matches!(base.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        let ok = (base.scheme() == "https" || (base.scheme() == "http" && loopback))
            && base.host_str().is_some()
            && base.query().is_none()
            && base.fragment().is_none();
        if !ok {
            return Err(BadBaseUrl(base.to_string()));
        }
        let mut base = base;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self {
            base,
            bounce_domain: bounce_domain.into().to_ascii_lowercase(),
            keys,
        })
    }

    /// The key ring (for the endpoints that verify).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The base URL, ending in `/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The domain of the VERP and `mailto:` addresses.
    pub fn bounce_domain(&self) -> &str {
        &self.bounce_domain
    }

    fn url(&self, prefix: &str, token: &Token) -> Url {
        let mut url = self.base.clone();
        let path = format!("{}{prefix}/{}", self.base.path(), self.keys.sign(token));
        url.set_path(&path);
        url
    }

    /// The open pixel's URL.
    pub fn open_url(&self, send: SendId) -> Url {
        self.url("o", &Token::new(send, TokenKind::Open))
    }

    /// The URL that redirects to link `link` of the send.
    pub fn click_url(&self, send: SendId, link: u16) -> Url {
        self.url("c", &Token::click(send, link))
    }

    /// The one-click unsubscribe URL (RFC 8058: GET shows a page, POST
    /// unsubscribes).
    pub fn unsubscribe_url(&self, send: SendId) -> Url {
        self.url("u", &Token::new(send, TokenKind::Unsubscribe))
    }

    /// `unsub+<token>@bounce-domain`.
    pub fn unsubscribe_address(&self, send: SendId) -> String {
        format!(
            "{UNSUBSCRIBE_PREFIX}{}@{}",
            self.keys
                .sign_for_address(&Token::new(send, TokenKind::Unsubscribe)),
            self.bounce_domain
        )
    }

    /// The VERP envelope sender `b+<token>@bounce-domain`.
    pub fn bounce_address(&self, send: SendId) -> String {
        format!(
            "{BOUNCE_PREFIX}{}@{}",
            self.keys.sign_for_address(&Token::new(send, TokenKind::Bounce)),
            self.bounce_domain
        )
    }

    /// Whether a URL is one of ours (never rewritten into a click link).
    pub fn is_own_url(&self, url: &str) -> bool {
        url.starts_with(self.base.as_str())
    }

    /// The verified token of one of our addresses (`b+…` or `unsub+…` at the
    /// bounce domain, any case); `None` for any other address.
    pub fn token_of_address(&self, address: &str) -> Option<Token> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = address.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.bounce_domain) {
            return None;
        }
        let local = local.to_ascii_lowercase();
        let (token, kind) = if let Some(t) = local.strip_prefix(BOUNCE_PREFIX) {
            (t, TokenKind::Bounce)
        } else if let Some(t) = local.strip_prefix(UNSUBSCRIBE_PREFIX) {
            (t, TokenKind::Unsubscribe)
        } else {
            return None;
        };
        self.keys.verify_address(token).ok().filter(|t| t.kind == kind)
    }
}

/// A send's tracked links, in index order (stored with the send; the click
/// endpoint redirects only to these).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrackedLinks(pub Vec<Url>);

impl TrackedLinks {
    /// The target of a verified click token, if the index exists.
    pub fn target(&self, token: &Token) -> Option<&Url> {
        if token.kind != TokenKind::Click {
            return None;
        }
        self.0.get(usize::from(token.link))
    }
}

/// How a tracking URL was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitMethod {
    /// A GET (browsers, image loads).
    Get,
    /// A HEAD: link checkers, never a person.
    Head,
    /// POST and the rest.
    Other,
}

/// One request to a tracking URL, as the endpoint saw it.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The HTTP method.
    pub method: HitMethod,
    /// The User-Agent header, if any.
    pub user_agent: Option<&'a str>,
    /// Time since the message was handed to the receiving server (`None`
    /// when the delivery time is unknown).
    pub since_delivery: Option<Duration>,
    /// For clicks: how many distinct links of this send were hit within
    /// the last second, this one included.
    pub distinct_links_last_second: u16,
    /// For clicks: how many tracked links the send has.
    pub link_count: u16,
}

/// Why a hit counts as a machine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineReason {
    /// A HEAD request.
    HeadRequest,
    /// No User-Agent at all.
    NoUserAgent,
    /// A known security scanner, link checker or HTTP library (the matched
    /// needle).
    KnownScanner(&'static str),
    /// A mail provider's image proxy or prefetcher (the matched needle).
    ImageProxy(&'static str),
    /// Sooner after delivery than a person reads mail.
    TooSoon,
    /// Every link of a multi-link message within one second.
    AllLinksAtOnce,
}

/// What a hit was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitVerdict {
    /// Counts as engagement (may stop a sequence, if configured).
    Human,
    /// Recorded, but never counts as engagement.
    Machine(MachineReason),
}

/// Security scanners, link checkers, previewers and HTTP libraries, matched
/// case-insensitively as substrings of the User-Agent.
pub const SCANNER_AGENTS: &[&str] = &[
    "barracuda",
    "proofpoint",
    "mimecast",
    "messagelabs",
    "symantec",
    "trend micro",
    "trendmicro",
    "forcepoint",
    "sophos",
    "fortiguard",
    "ironport",
    "zscaler",
    "check point",
    "paloalto",
    "bitdefender",
    "safelinks",
    "microsoft office",
    "ms-office",
    "skypeuripreview",
    "slackbot",
    "facebookexternalhit",
    "linkpreview",
    "whatsapp",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "curl/",
    "wget/",
    "okhttp",
    "java/",
    "libwww-perl",
    "bot",
    "crawler",
    "spider",
    "scanner",
];

/// Mail providers' image proxies and prefetchers.
pub const PROXY_AGENTS: &[&str] = &[
    "googleimageproxy",
    "ggpht.com",
    "yahoomailproxy",
    "yahoo! slurp",
    // Gmail's prefetcher (NOTES-round2 §2.5): Edge 12's token followed by
    // a bare Mozilla/5.0, which no real browser sends.
    "edge/12.246 mozilla/5.0",
];

/// Tell a machine's hit from a person's: a HEAD, a missing or known
/// non-browser User-Agent, a hit sooner than `min_human_delay` after
/// delivery, or every link of a message within a second is a machine.
pub fn classify_hit(hit: &Hit<'_>, min_human_delay: Duration) -> HitVerdict {
    if hit.method == HitMethod::Head {
        return HitVerdict::Machine(MachineReason::HeadRequest);
    }
    let agent = match hit.user_agent.map(str::trim) {
        None | Some("") => return HitVerdict::Machine(MachineReason::NoUserAgent),
        Some(agent) => agent.to_ascii_lowercase(),
    };
    if let Some(needle) = PROXY_AGENTS.iter().find(|n| agent.contains(**n)) {
        return HitVerdict::Machine(MachineReason::ImageProxy(needle));
    }
    if let Some(needle) = SCANNER_AGENTS.iter().find(|n| agent.contains(**n)) {
        return HitVerdict::Machine(MachineReason::KnownScanner(needle));
    }
    if hit.since_delivery.is_some_and(|d| d < min_human_delay) {
        return HitVerdict::Machine(MachineReason::TooSoon);
    }
    if hit.link_count >= 2 && hit.distinct_links_last_second >= hit.link_count {
        return HitVerdict::Machine(MachineReason::AllLinksAtOnce);
    }
    HitVerdict::Human
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeyRing {
        KeyRing::new(vec![vec![7u8; 32]]).unwrap()
    }

    fn send() -> SendId {
        SendId(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef))
    }

    #[test]
    fn a_signed_token_verifies_and_says_what_it_was_signed_for() {
        let ring = keys();
        for token in [
            Token::new(send(), TokenKind::Open),
            Token::click(send(), 513),
            Token::new(send(), TokenKind::Unsubscribe),
        ] {
            let text = ring.sign(&token);
            assert_eq!(text.len(), 49, "{text}");
            assert_eq!(ring.verify(&text), Ok(token));
            let address = ring.sign_for_address(&token);
            assert_eq!(address.len(), 56);
            assert_eq!(ring.verify_address(&address), Ok(token));
            assert_eq!(ring.verify_address(&address.to_ascii_uppercase()), Ok(token));
        }
    }

    #[test]
    fn a_changed_payload_or_tag_or_key_is_refused() {
        let ring = keys();
        let text = ring.sign(&Token::click(send(), 1));
        let (payload, tag) = text.split_once('.').unwrap();
        // Another link index with the old tag.
        let mut other = Token::click(send(), 2).payload().to_vec();
        let forged = format!("{}.{tag}", BASE64URL_NOPAD.encode(&other));
        assert_eq!(ring.verify(&forged), Err(TokenError::BadSignature));
        other[16] = 1;
        let forged = format!("{}.{tag}", BASE64URL_NOPAD.encode(&other));
        assert_eq!(ring.verify(&forged), Err(TokenError::BadSignature));
        // A flipped tag character.
        let mut tag_bytes = BASE64URL_NOPAD.decode(tag.as_bytes()).unwrap();
        tag_bytes[15] ^= 1;
        let forged = format!("{payload}.{}", BASE64URL_NOPAD.encode(&tag_bytes));
        assert_eq!(ring.verify(&forged), Err(TokenError::BadSignature));
        // Another key.
        let stranger = KeyRing::new(vec![vec![8u8; 32]]).unwrap();
        assert_eq!(stranger.verify(&text), Err(TokenError::BadSignature));
        for garbage in [
            "",
            ".",
            "abc",
            "a.b",
            &format!("{payload}.{tag}x"),
            &"A".repeat(500),
            "é.é",
        ] {
            assert!(ring.verify(garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn old_keys_verify_and_only_the_first_signs() {
        let old = KeyRing::new(vec![vec![1u8; 32]]).unwrap();
        let rotated = KeyRing::new(vec![vec![2u8; 40], vec![1u8; 32]]).unwrap();
        let token = Token::new(send(), TokenKind::Open);
        assert_eq!(rotated.verify(&old.sign(&token)), Ok(token));
        assert_eq!(old.verify(&rotated.sign(&token)), Err(TokenError::BadSignature));
    }

    #[test]
    fn kind_is_checked_where_the_endpoint_asks_for_one() {
        let ring = keys();
        let open = ring.sign(&Token::new(send(), TokenKind::Open));
        assert_eq!(
            ring.verify_kind(&open, TokenKind::Click),
            Err(TokenError::WrongKind {
                expected: TokenKind::Click,
                found: TokenKind::Open
            })
        );
    }

    #[test]
    fn keys_from_config_are_checked() {
        let key = BASE64URL_NOPAD.encode(&[9u8; 32]);
        assert!(KeyRing::from_config(&format!("{key}, {key}=")).is_ok());
        assert!(matches!(KeyRing::from_config(" "), Err(KeyError::Empty)));
        assert!(matches!(
            KeyRing::from_config(&format!("{key},c2hvcnQ")),
            Err(KeyError::Invalid { index: 1 })
        ));
        assert!(matches!(
            KeyRing::from_config("not base64!"),
            Err(KeyError::Invalid { index: 0 })
        ));
        assert_eq!(
            format!("{:?}", KeyRing::from_config(&key).unwrap()),
            "KeyRing(1 keys, redacted)"
        );
    }

    #[test]
    fn urls_and_addresses_carry_verifiable_tokens() {
        let base = Url::parse("https://t.agency.example/track").unwrap();
        let tracker = Tracker::new(base, "Bounce.Agency.Example", keys()).unwrap();
        let click = tracker.click_url(send(), 3);
        assert!(
            click.as_str().starts_with("https://t.agency.example/track/c/"),
            "{click}"
        );
        let token = click.path().rsplit('/').next().unwrap();
        assert_eq!(tracker.keys().verify(token), Ok(Token::click(send(), 3)));
        assert!(tracker.is_own_url(tracker.unsubscribe_url(send()).as_str()));
        assert!(!tracker.is_own_url("https://t.agency.example/other"));

        let verp = tracker.bounce_address(send());
        assert!(
            verp.starts_with("b+") && verp.ends_with("@bounce.agency.example"),
            "{verp}"
        );
        assert!(verp.split('@').next().unwrap().len() <= 64);
        assert_eq!(
            tracker.token_of_address(&format!("<{}>", verp.to_ascii_uppercase())),
            Some(Token::new(send(), TokenKind::Bounce))
        );
        let unsub = tracker.unsubscribe_address(send());
        assert!(unsub.split('@').next().unwrap().len() <= 64, "{unsub}");
        assert_eq!(
            tracker.token_of_address(&unsub),
            Some(Token::new(send(), TokenKind::Unsubscribe))
        );
        // The right token under the wrong prefix or domain is not ours.
        let (local, _) = verp.split_once('@').unwrap();
        assert_eq!(
            tracker.token_of_address(&format!("{local}@elsewhere.example")),
            None
        );
        let swapped = verp.replacen("b+", "unsub+", 1);
        assert_eq!(tracker.token_of_address(&swapped), None);
    }

    #[test]
    fn base_urls_must_be_https_except_on_loopback() {
        for (url, ok) in [
            ("https://t.example.com", true),
            ("http://127.0.0.1:8080/t/", true),
            ("http://t.example.com/", false),
            ("https://t.example.com/?a=1", false),
            ("ftp://t.example.com/", false),
        ] {
            let result = Tracker::new(Url::parse(url).unwrap(), "b.example.com", keys());
            assert_eq!(result.is_ok(), ok, "{url}");
        }
    }

    #[test]
    fn click_targets_come_only_from_the_stored_list() {
        let links = TrackedLinks(vec![Url::parse("https://preview.example/acme").unwrap()]);
        assert_eq!(
            links.target(&Token::click(send(), 0)).map(Url::as_str),
            Some("https://preview.example/acme")
        );
        assert_eq!(links.target(&Token::click(send(), 1)), None);
        assert_eq!(links.target(&Token::new(send(), TokenKind::Open)), None);
    }

    #[test]
    fn hits_are_classified_machine_or_human() {
        const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let secs = |s| Some(Duration::from_secs(s));
        let hit = |method, ua, since, distinct, count| Hit {
            method,
            user_agent: ua,
            since_delivery: since,
            distinct_links_last_second: distinct,
            link_count: count,
        };
        use HitMethod::*;
        use MachineReason::*;
        let cases: &[(&str, Hit<'_>, HitVerdict)] = &[
            (
                "a browser after a minute",
                hit(Get, Some(FIREFOX), secs(60), 1, 2),
                HitVerdict::Human,
            ),
            (
                "unknown delivery time",
                hit(Get, Some(FIREFOX), None, 1, 1),
                HitVerdict::Human,
            ),
            (
                "HEAD",
                hit(Head, Some(FIREFOX), secs(600), 1, 1),
                HitVerdict::Machine(HeadRequest),
            ),
            (
                "no agent",
                hit(Get, None, secs(600), 1, 1),
                HitVerdict::Machine(NoUserAgent),
            ),
            (
                "blank agent",
                hit(Get, Some("  "), secs(600), 1, 1),
                HitVerdict::Machine(NoUserAgent),
            ),
            (
                "Google image proxy",
                hit(
                    Get,
                    Some(
                        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
                    ),
                    secs(600),
                    1,
                    1,
                ),
                HitVerdict::Machine(ImageProxy("googleimageproxy")),
            ),
            (
                "Gmail prefetch",
                hit(
                    Get,
                    Some(
                        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0",
                    ),
                    secs(600),
                    1,
                    1,
                ),
                HitVerdict::Machine(ImageProxy("edge/12.246 mozilla/5.0")),
            ),
            (
                "Barracuda scanner",
                hit(Get, Some("Barracuda Sentinel (EE)"), secs(600), 1, 1),
                HitVerdict::Machine(KnownScanner("barracuda")),
            ),
            (
                "curl",
                hit(Get, Some("curl/8.5.0"), secs(600), 1, 1),
                HitVerdict::Machine(KnownScanner("curl/")),
            ),
            (
                "three seconds after delivery",
                hit(Get, Some(FIREFOX), secs(3), 1, 1),
                HitVerdict::Machine(TooSoon),
            ),
            (
                "every link within a second",
                hit(Get, Some(FIREFOX), secs(600), 3, 3),
                HitVerdict::Machine(AllLinksAtOnce),
            ),
            (
                "the only link",
                hit(Get, Some(FIREFOX), secs(600), 1, 1),
                HitVerdict::Human,
            ),
        ];
        for (name, hit, expected) in cases {
            assert_eq!(classify_hit(hit, Duration::from_secs(10)), *expected, "{name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(s in "(?s).{0,120}") {
            let ring = keys();
            let _ = ring.verify(&s);
            let _ = ring.verify_address(&s);
        }
    }
}
