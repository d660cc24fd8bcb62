//! Password hashing: argon2id (RFC 9106) in PHC string format.
//!
//! Hashing takes tens of milliseconds on purpose, so it runs on the
//! blocking pool, never on a request's worker thread.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why a password could not be set or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short to be worth hashing.
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// The hasher failed (never for valid parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task did not finish.
    #[error("password hashing task failed")]
    Task,
}

/// The argon2id PHC string of `password`.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
    .map_err(|_| PasswordError::Task)?
}

/// Whether `password` matches `phc`. A malformed stored hash matches
/// nothing. With no stored hash (unknown e-mail) a dummy hash is checked, so
/// the answer takes as long as for a real account.
pub async fn verify(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// The argon2id hash of a random password nobody knows, with the default
/// parameters: checked for unknown accounts.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Fp3fXUNh4Wz3ALvXZPjeR4JKZrrVKL3yP3H3xfMpWOs";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("correct horse battery".into(), Some(phc.clone())).await);
        assert!(!verify("correct horse batterY".into(), Some(phc)).await);
    }

    #[tokio::test]
    async fn short_passwords_malformed_hashes_and_unknown_accounts_fail() {
        assert!(matches!(hash("short".into()).await, Err(PasswordError::TooShort)));
        assert!(!verify("anything at all".into(), Some("not a phc string".into())).await);
        assert!(!verify("anything at all".into(), None).await);
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
