//! DKIM signing (RFC 6376, with Ed25519 per RFC 8463) of composed messages.
//!
//! The key is a PEM file: RSA as PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
//! (`BEGIN PRIVATE KEY`, what `openssl genpkey` writes), or Ed25519 as
//! PKCS#8. lettre signs, with relaxed/relaxed canonicalization, over
//! [`SIGNED_HEADERS`]: RFC 8058 requires `List-Unsubscribe` and
//! `List-Unsubscribe-Post` under the signature, Gmail wants `Feedback-ID`
//! signed by our domain. A header the message lacks is still listed, so a
//! relay cannot add it afterwards without breaking the signature.
//! `Content-Type` is not listed: lettre keeps a multipart's `Content-Type`
//! with the body, out of reach of its header signer (the boundary is
//! covered by the body hash anyway).
//! [`DkimSigner::dns_record`] is the TXT record to publish at
//! [`DkimSigner::dns_name`].

use std::{fmt, path::Path};

use data_encoding::BASE64;
use lettre::{
    Message,
    message::{
        dkim::{
            DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
        },
        header::HeaderName,
    },
};
use rsa::{
    RsaPrivateKey,
    pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding},
    pkcs8::{DecodePrivateKey, EncodePublicKey},
};
use serde::{Deserialize, Serialize};

/// The headers every signature covers, in `h=` order.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "MIME-Version",
];

/// The key type (the `k=` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimAlgorithm {
    /// RSA with SHA-256 (`rsa-sha256`); every receiver verifies it.
    Rsa,
    /// Ed25519 with SHA-256 (`ed25519-sha256`); small and fast, but not
    /// every receiver verifies it yet, so publish an RSA key too.
    Ed25519,
}

/// Why a signer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// The key file could not be read.
    #[error("cannot read the DKIM key {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a PEM private key of a supported kind.
    #[error("the DKIM key is not an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key in PEM")]
    UnsupportedKey,
    /// An RSA key shorter than 1024 bits (receivers ignore those, RFC 8301).
    #[error("the RSA DKIM key has {0} bits; use at least 1024 (2048 recommended)")]
    WeakKey(usize),
    /// Selector or domain is not a DNS label sequence.
    #[error("`{0}` is not a valid DKIM selector or signing domain")]
    BadName(String),
    /// The key was read but could not be encoded for lettre or DNS.
    #[error("the DKIM key could not be encoded: {0}")]
    Encode(String),
}

enum Parsed {
    Rsa(Box<RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// Signs messages for one domain and selector.
pub struct DkimSigner {
    config: DkimConfig,
    algorithm: DkimAlgorithm,
    selector: String,
    domain: String,
    public_key: String,
}

impl fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimSigner")
            .field("algorithm", &self.algorithm)
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn parse_pem(pem: &str) -> Result<Parsed, DkimError> {
    if let Ok(key) = RsaPrivateKey::from_pkcs1_pem(pem) {
        return Ok(Parsed::Rsa(Box::new(key)));
    }
    if let Ok(key) = <RsaPrivateKey as DecodePrivateKey>::from_pkcs8_pem(pem) {
        return Ok(Parsed::Rsa(Box::new(key)));
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        return Ok(Parsed::Ed25519(Box::new(key)));
    }
    Err(DkimError::UnsupportedKey)
}

impl DkimSigner {
    /// A signer from a PEM private key.
    pub fn from_pem(selector: &str, domain: &str, pem: &str) -> Result<Self, DkimError> {
        let selector = selector.trim().to_ascii_lowercase();
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        for name in [&selector, &domain] {
            if !valid_dns_name(name) {
                return Err(DkimError::BadName(name.chars().take(80).collect()));
            }
        }
        let (algorithm, signing_key, public_key) = match parse_pem(pem)? {
            Parsed::Rsa(key) => {
                use rsa::traits::PublicKeyParts;
                let bits = key.size() * 8;
                if bits < 1024 {
                    return Err(DkimError::WeakKey(bits));
                }
                let pkcs1 = key
                    .to_pkcs1_pem(LineEnding::LF)
                    .map_err(|e| DkimError::Encode(e.to_string()))?;
                let signing = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
                    .map_err(|e| DkimError::Encode(e.to_string()))?;
                let spki = key
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| DkimError::Encode(e.to_string()))?;
                (DkimAlgorithm::Rsa, signing, BASE64.encode(spki.as_bytes()))
            }
            Parsed::Ed25519(key) => {
                let seed = BASE64.encode(&key.to_bytes());
                let signing = DkimSigningKey::new(&seed, DkimSigningAlgorithm::Ed25519)
                    .map_err(|e| DkimError::Encode(e.to_string()))?;
                (
                    DkimAlgorithm::Ed25519,
                    signing,
                    BASE64.encode(key.verifying_key().as_bytes()),
                )
            }
        };
        let headers = SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let config = DkimConfig::new(
            selector.clone(),
            domain.clone(),
            signing_key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(Self {
            config,
            algorithm,
            selector,
            domain,
            public_key,
        })
    }

    /// A signer from a PEM file (read once, at startup).
    pub fn from_file(selector: &str, domain: &str, path: &Path) -> Result<Self, DkimError> {
        let pem = std::fs::read_to_string(path).map_err(|source| DkimError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(selector, domain, &pem)
    }

    /// Add the `DKIM-Signature` header. Sign last: any header added or
    /// changed afterwards (among [`SIGNED_HEADERS`]) breaks it.
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }

    /// RSA or Ed25519.
    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`).
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Where the public key is published: `selector._domainkey.domain`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record: `v=DKIM1; k=rsa; p=…` (`p` is the DER
    /// SubjectPublicKeyInfo for RSA, the raw 32-byte key for Ed25519).
    pub fn dns_record(&self) -> String {
        let k = match self.algorithm {
            DkimAlgorithm::Rsa => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        };
        format!("v=DKIM1; k={k}; p={}", self.public_key)
    }
}

/// Fresh keys as PEM, for tests, the demo and benchmarks (production keys
/// are made once with `openssl genpkey` and published).
pub mod keygen {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    use super::DkimError;

    /// A new RSA key of `bits` bits, PKCS#8 PEM.
    pub fn rsa_pem(bits: usize) -> Result<String, DkimError> {
        let mut rng = rsa::rand_core::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, bits).map_err(|e| DkimError::Encode(e.to_string()))?;
        key.to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| DkimError::Encode(e.to_string()))
    }

    /// A new Ed25519 key, PKCS#8 PEM.
    pub fn ed25519_pem() -> Result<String, DkimError> {
        let seed: [u8; 32] = rand::random();
        ed25519_dalek::SigningKey::from_bytes(&seed)
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| DkimError::Encode(e.to_string()))
    }
}

/// Verifies signatures with `mail-auth` against a key given in advance,
/// instead of DNS: for tests and for checking a setup before publishing.
pub mod verify {
    use std::{
        borrow::Borrow,
        collections::HashMap,
        hash::Hash,
        sync::{Arc, Mutex},
        time::Instant,
    };

    use mail_auth::{
        AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
        common::parse::TxtRecordParser, common::verify::DomainKey,
    };

    /// A TXT "cache" holding exactly the records given: the verifier finds
    /// the key there and never asks DNS.
    #[derive(Default)]
    struct FixedTxt(Mutex<HashMap<Box<str>, Txt>>);

    impl ResolverCache<Box<str>, Txt> for FixedTxt {
        fn get<Q>(&self, name: &Q) -> Option<Txt>
        where
            Box<str>: Borrow<Q>,
            Q: Hash + Eq + ?Sized,
        {
            self.0.lock().ok()?.get(name).cloned()
        }

        fn remove<Q>(&self, name: &Q) -> Option<Txt>
        where
            Box<str>: Borrow<Q>,
            Q: Hash + Eq + ?Sized,
        {
            self.0.lock().ok()?.remove(name)
        }

        fn insert(&self, key: Box<str>, value: Txt, _valid_until: Instant) {
            if let Ok(mut map) = self.0.lock() {
                map.insert(key, value);
            }
        }
    }

    /// What verifying a message found.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Outcome {
        /// At least one signature verified; its `d=` domain.
        Pass(String),
        /// Signatures were there, none verified (their results, as text).
        Fail(Vec<String>),
        /// No `DKIM-Signature` at all, or the message did not parse.
        NoSignature,
    }

    /// Verify the DKIM signatures of `raw` (CRLF or LF line ends) with the
    /// TXT record `record` published at `dns_name`.
    pub async fn verify(raw: &[u8], dns_name: &str, record: &str) -> Outcome {
        let crlf;
        let raw = if raw.windows(2).any(|w| w == b"\r\n") {
            raw
        } else {
            crlf = String::from_utf8_lossy(raw).replace('\n', "\r\n").into_bytes();
            &crlf
        };
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Outcome::NoSignature;
        };
        let Ok(key) = DomainKey::parse(record.as_bytes()) else {
            return Outcome::Fail(vec![format!("the record `{record}` does not parse")]);
        };
        let cache = FixedTxt::default();
        let name = format!("{}.", dns_name.trim_end_matches('.'));
        cache.insert(
            name.into_boxed_str(),
            Txt::DomainKey(Arc::new(key)),
            Instant::now() + std::time::Duration::from_secs(3600),
        );
        // The resolver is never asked: every lookup hits the cache above.
        let Ok(authenticator) = MessageAuthenticator::new_cloudflare() else {
            return Outcome::Fail(vec!["no resolver".into()]);
        };
        let results = authenticator
            .verify_dkim(Parameters::new(&message).with_txt_cache(&cache))
            .await;
        if results.is_empty() {
            return Outcome::NoSignature;
        }
        if let Some(pass) = results.iter().find(|r| matches!(r.result(), DkimResult::Pass)) {
            return Outcome::Pass(pass.signature().map(|s| s.d.clone()).unwrap_or_default());
        }
        Outcome::Fail(results.iter().map(|r| format!("{:?}", r.result())).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::OnceLock, time::SystemTime};

    use uuid::Uuid;

    use super::{verify::Outcome, *};
    use crate::{
        domain::EmailAddress,
        send_email::{
            language::Language,
            message::{Compose, FeedbackId, SenderIdentity, TrackingOptions, compose},
            template::Rendered,
            tracking::{KeyRing, SendId, Tracker},
        },
    };

    /// One RSA key per test binary (key generation is slow in debug builds).
    pub(crate) fn rsa_pem() -> &'static str {
        static KEY: OnceLock<String> = OnceLock::new();
        KEY.get_or_init(|| keygen::rsa_pem(2048).unwrap())
    }

    fn message() -> lettre::Message {
        let from = EmailAddress::parse("jane@agency.example").unwrap();
        let to = EmailAddress::parse("owner@cafe.example").unwrap();
        let tracker = Tracker::new(
            url::Url::parse("https://t.agency.example/").unwrap(),
            "bounce.agency.example",
            KeyRing::new(vec![vec![1u8; 32]]).unwrap(),
        )
        .unwrap();
        let identity = SenderIdentity {
            name: "Jane".into(),
            company: "Doe Web".into(),
            postal_address: "1 Main St\nSpringfield".into(),
        };
        let rendered = Rendered {
            subject: "Ein neuer Auftritt für Café Müller — schneller und sicherer als je zuvor, versprochen"
                .into(),
            text: format!("Hallo,\n\n{}\n", "eine lange Zeile mit Umlauten äöü ".repeat(12)),
            html: None,
        };
        compose(&Compose {
            send: SendId(Uuid::from_u128(9)),
            from: &from,
            from_name: "Jane Doe",
            reply_to: None,
            to: &to,
            to_name: None,
            rendered: &rendered,
            language: Language::De,
            identity: &identity,
            tracker: &tracker,
            tracking: TrackingOptions {
                open_pixel: true,
                click_links: true,
            },
            feedback_id: &FeedbackId::new("c", "s", "outreach", "prospector").unwrap(),
            message_id_domain: "agency.example",
            in_reply_to: None,
            date: SystemTime::now(),
        })
        .unwrap()
        .message
    }

    async fn signed_verifies(signer: &DkimSigner) -> (Vec<u8>, Outcome) {
        let mut message = message();
        signer.sign(&mut message);
        let raw = message.formatted();
        let outcome = verify::verify(&raw, &signer.dns_name(), &signer.dns_record()).await;
        (raw, outcome)
    }

    #[tokio::test]
    async fn rsa_and_ed25519_signatures_verify_with_an_independent_verifier() {
        for pem in [rsa_pem().to_owned(), keygen::ed25519_pem().unwrap()] {
            let signer = DkimSigner::from_pem("s2026", "Agency.Example.", &pem).unwrap();
            let (raw, outcome) = signed_verifies(&signer).await;
            assert_eq!(
                outcome,
                Outcome::Pass("agency.example".into()),
                "{:?}",
                signer.algorithm()
            );
            let text = String::from_utf8_lossy(&raw);
            let signature = text.split("DKIM-Signature:").nth(1).unwrap();
            let tags: String = signature
                .split("\r\n")
                .take_while(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("")
                .split_whitespace()
                .collect();
            let h = tags.split(";h=").nth(1).unwrap().split(';').next().unwrap();
            for header in [
                "list-unsubscribe",
                "list-unsubscribe-post",
                "feedback-id",
                "message-id",
            ] {
                assert!(h.split(':').any(|x| x == header), "{header} not in h={h}");
            }
        }
    }

    #[tokio::test]
    async fn a_tampered_header_or_body_fails() {
        let signer = DkimSigner::from_pem("s1", "agency.example", rsa_pem()).unwrap();
        let (raw, outcome) = signed_verifies(&signer).await;
        assert!(matches!(outcome, Outcome::Pass(_)));
        let text = String::from_utf8(raw).unwrap();
        let cases = [
            ("subject", text.replacen("Subject: ", "Subject: Re: ", 1)),
            (
                "one-click header",
                text.replacen(
                    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                    "List-Unsubscribe-Post: x",
                    1,
                ),
            ),
            ("body", text.replacen("Hallo,", "Hello,", 1)),
            (
                "added Reply-To",
                text.replacen("Subject: ", "Reply-To: evil@attacker.example\r\nSubject: ", 1),
            ),
        ];
        for (name, tampered) in cases {
            assert_ne!(tampered, text, "{name} changed nothing");
            let outcome = verify::verify(tampered.as_bytes(), &signer.dns_name(), &signer.dns_record()).await;
            assert!(matches!(outcome, Outcome::Fail(_)), "{name}: {outcome:?}");
        }
        // The right message against another key fails too.
        let other = DkimSigner::from_pem("s1", "agency.example", &keygen::ed25519_pem().unwrap()).unwrap();
        let outcome = verify::verify(text.as_bytes(), &signer.dns_name(), &other.dns_record()).await;
        assert!(matches!(outcome, Outcome::Fail(_)), "{outcome:?}");
    }

    #[test]
    fn the_dns_record_names_the_key_type() {
        let rsa = DkimSigner::from_pem("s1", "agency.example", rsa_pem()).unwrap();
        assert_eq!(rsa.dns_name(), "s1._domainkey.agency.example");
        assert!(
            rsa.dns_record().starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"),
            "{}",
            rsa.dns_record()
        );
        let ed = DkimSigner::from_pem("s2", "agency.example", &keygen::ed25519_pem().unwrap()).unwrap();
        assert!(ed.dns_record().starts_with("v=DKIM1; k=ed25519; p="));
        assert_eq!(ed.dns_record().len(), "v=DKIM1; k=ed25519; p=".len() + 44);
    }

    #[test]
    fn bad_keys_and_names_are_refused() {
        assert!(matches!(
            DkimSigner::from_pem("s1", "agency.example", "not a key"),
            Err(DkimError::UnsupportedKey)
        ));
        assert!(matches!(
            DkimSigner::from_pem("s 1", "agency.example", rsa_pem()),
            Err(DkimError::BadName(_))
        ));
        assert!(matches!(
            DkimSigner::from_pem("s1", "", rsa_pem()),
            Err(DkimError::BadName(_))
        ));
        let weak = keygen::rsa_pem(512).unwrap();
        assert!(matches!(
            DkimSigner::from_pem("s1", "agency.example", &weak),
            Err(DkimError::WeakKey(512))
        ));
        let missing = DkimSigner::from_file("s1", "agency.example", Path::new("/nonexistent/key.pem"));
        assert!(matches!(missing, Err(DkimError::Read { .. })));
    }

    #[test]
    fn a_pkcs1_key_is_accepted_too() {
        let key = <RsaPrivateKey as DecodePrivateKey>::from_pkcs8_pem(rsa_pem()).unwrap();
        let pkcs1 = key.to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let signer = DkimSigner::from_pem("s1", "agency.example", &pkcs1).unwrap();
        assert_eq!(signer.algorithm(), DkimAlgorithm::Rsa);
    }
}
