//! Random credentials and their stored digests.
//!
//! Session cookies, CSRF tokens and API tokens are 256 random bits in
//! URL-safe base64. The database keeps only SHA-256 digests of session
//! cookies and API tokens; compared by digest lookup, a token's bytes
//! never meet a timing-sensitive comparison.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes from the OS generator, base64url without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest stored for a token.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Equal strings, in time that depends on neither (compared as digests).
pub fn same(a: &str, b: &str) -> bool {
    digest(a).ct_eq(&digest(b)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert_eq!(digest(&a).len(), 32);
    }
}
