//! Per-user API tokens (`admin_api_tokens`) for scripts: `pk_` and 43
//! random characters, shown once when created and stored as SHA-256. A
//! token acts with its user's role, and stops working when revoked or when
//! the user is disabled or changes password.

use sqlx::{PgExecutor, PgPool, Row};
use uuid::Uuid;

use super::{
    Role, Staff,
    secret::{digest, random_token},
    staff::Via,
};

/// What every user token starts with (the environment token need not).
pub const PREFIX: &str = "pk_";

/// A token as its owner lists it (never the token itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    /// Row id (to revoke it).
    pub id: Uuid,
    /// What the user called it.
    pub name: String,
    /// Its first characters, to tell tokens apart.
    pub prefix: String,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was last used.
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Longest token name.
pub const MAX_NAME_CHARS: usize = 100;

/// Make a token for `user_id`; the returned string is the only copy.
pub async fn create(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    name: &str,
) -> Result<(Uuid, String), sqlx::Error> {
    let token = format!("{PREFIX}{}", random_token());
    let name: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
    let row = sqlx::query(
        "INSERT INTO admin_api_tokens (user_id, name, prefix, token_hash) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(if name.is_empty() { "token" } else { name.as_str() })
    .bind(&token[..10])
    .bind(digest(&token))
    .fetch_one(db)
    .await?;
    Ok((row.try_get("id")?, token))
}

/// The caller behind a user token, when it is good (and note its use).
pub async fn caller(pool: &PgPool, token: &str) -> Result<Option<Staff>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE admin_api_tokens t SET last_used_at = now() FROM admin_users u \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.id = t.user_id AND u.is_active \
           AND t.created_at >= u.credentials_changed_at \
         RETURNING u.id, u.email, u.full_name, u.role",
    )
    .bind(digest(token))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let role: String = row.try_get("role")?;
    let Ok(role) = role.parse::<Role>() else {
        return Ok(None);
    };
    Ok(Some(Staff {
        user_id: Some(row.try_get("id")?),
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        role,
        csrf_token: None,
        via: Via::ApiToken,
    }))
}

/// The user's live tokens, newest first.
pub async fn list(db: impl PgExecutor<'_>, user_id: Uuid) -> Result<Vec<TokenInfo>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, prefix, created_at, last_used_at FROM admin_api_tokens \
         WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                prefix: r.try_get("prefix")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// Revoke one of the user's tokens; false when it is not theirs or already
/// revoked.
pub async fn revoke(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE admin_api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
