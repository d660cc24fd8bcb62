//! Console accounts (`admin_users`): created, re-passworded and disabled by
//! `prospector admin …`, read at login.

use sqlx::{PgExecutor, PgPool, Row};
use uuid::Uuid;

use super::{
    Role,
    password::{self, PasswordError},
};

/// What can go wrong managing an account.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Not a plausible e-mail address.
    #[error("{0:?} is not an e-mail address")]
    BadEmail(String),
    /// The e-mail is taken.
    #[error("an account for {0} already exists")]
    Exists(String),
    /// No such account.
    #[error("no account for {0}")]
    NotFound(String),
    /// The password was refused.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// An account, as the console lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Account {
    /// `admin_users.id`.
    pub id: Uuid,
    /// Sign-in e-mail (stored lower-case).
    pub email: String,
    /// Display name.
    pub full_name: Option<String>,
    /// What it may do.
    pub role: Role,
    /// Disabled accounts cannot sign in.
    pub is_active: bool,
    /// The last successful sign-in.
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The stored form of an e-mail: trimmed, lower-case, checked for one `@`
/// with text on both sides.
pub fn normalise_email(email: &str) -> Result<String, UserError> {
    let email = email.trim().to_lowercase();
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.contains(char::is_whitespace) =>
        {
            Ok(email)
        }
        _ => Err(UserError::BadEmail(email)),
    }
}

/// Create an account.
pub async fn create(
    pool: &PgPool,
    email: &str,
    full_name: Option<&str>,
    role: Role,
    password: String,
) -> Result<Uuid, UserError> {
    let email = normalise_email(email)?;
    let hash = password::hash(password).await?;
    let row = sqlx::query(
        "INSERT INTO admin_users (email, full_name, role, password_hash) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING RETURNING id",
    )
    .bind(&email)
    .bind(full_name)
    .bind(role.as_str())
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(row.try_get("id")?),
        None => Err(UserError::Exists(email)),
    }
}

/// Set a new password (and enable the account): every session and API
/// token issued before stops working.
pub async fn set_password(pool: &PgPool, email: &str, password: String) -> Result<Uuid, UserError> {
    let email = normalise_email(email)?;
    let hash = password::hash(password).await?;
    let row = sqlx::query(
        "UPDATE admin_users SET password_hash = $2, is_active = true, credentials_changed_at = now() \
         WHERE email = $1 RETURNING id",
    )
    .bind(&email)
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    let id: Uuid = row.ok_or(UserError::NotFound(email))?.try_get("id")?;
    sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(id)
}

/// Disable an account: it cannot sign in, and its sessions and tokens stop
/// working at once.
pub async fn disable(pool: &PgPool, email: &str) -> Result<Uuid, UserError> {
    let email = normalise_email(email)?;
    let row = sqlx::query(
        "UPDATE admin_users SET is_active = false, credentials_changed_at = now() WHERE email = $1 RETURNING id",
    )
    .bind(&email)
    .fetch_optional(pool)
    .await?;
    let id: Uuid = row.ok_or(UserError::NotFound(email))?.try_get("id")?;
    sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(id)
}

/// The account signing in as `email`, with its password hash (active
/// accounts only).
pub(crate) async fn for_login(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let Ok(email) = normalise_email(email) else {
        return Ok(None);
    };
    let row = sqlx::query("SELECT id, password_hash FROM admin_users WHERE email = $1 AND is_active")
        .bind(email)
        .fetch_optional(db)
        .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("password_hash")?)))
        .transpose()
}

/// Every account, by e-mail.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<Account>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, email, full_name, role, is_active, last_login_at FROM admin_users ORDER BY email",
    )
    .fetch_all(db)
    .await?;
    rows.iter().map(account).collect()
}

pub(crate) fn account(row: &sqlx::postgres::PgRow) -> Result<Account, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(Account {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        role: role
            .parse()
            .map_err(|e: super::role::UnknownRole| sqlx::Error::Decode(e.into()))?,
        is_active: row.try_get("is_active")?,
        last_login_at: row.try_get("last_login_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalise_email("  Ana@Agency.Example ").unwrap(),
            "ana@agency.example"
        );
        for bad in ["", "ana", "@agency.example", "ana@", "a b@c.d", "a@b@c"] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
    }
}
