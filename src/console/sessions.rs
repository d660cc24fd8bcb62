//! Console sessions (`admin_sessions`): a random cookie whose SHA-256 is
//! the row's key, an idle expiry that slides with use up to an absolute
//! one, and a per-session CSRF token.
//!
//! A session stops working when it expires, at logout, and when its user
//! is disabled or changes password (`credentials_changed_at`).

use std::time::Duration;

use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{
    Role, Staff,
    secret::{digest, random_token},
    staff::Via,
};

/// The cookie that carries a session.
pub const COOKIE: &str = "prospector_session";

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Without a request for this long, a session ends.
    pub idle: Duration,
    /// However busy, a session ends this long after sign-in.
    pub absolute: Duration,
}

/// A session just opened: the cookie's value (shown to the browser only)
/// and its CSRF token.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value.
    pub cookie: String,
    /// The token every form of this session carries.
    pub csrf_token: String,
}

/// Open a session for `user_id` and note the sign-in. Expired sessions of
/// the user are dropped on the way.
pub async fn open(pool: &PgPool, user_id: Uuid, lifetimes: Lifetimes) -> Result<NewSession, sqlx::Error> {
    let cookie = random_token();
    let csrf_token = random_token();
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM admin_sessions WHERE user_id = $1 AND expires_at <= now()")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO admin_sessions (token_hash, user_id, csrf_token, expires_at, absolute_expires_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4), now() + make_interval(secs => $5))",
    )
    .bind(digest(&cookie))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(lifetimes.idle.as_secs_f64().min(lifetimes.absolute.as_secs_f64()))
    .bind(lifetimes.absolute.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE admin_users SET last_login_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(NewSession { cookie, csrf_token })
}

/// The caller behind a session cookie, if the session is still good. The
/// idle expiry moves forward at most once a minute (not a write per page).
pub async fn caller(pool: &PgPool, cookie: &str, idle: Duration) -> Result<Option<Staff>, sqlx::Error> {
    let row = sqlx::query(
        "WITH found AS ( \
             SELECT s.token_hash, s.csrf_token, s.last_seen_at, u.id, u.email, u.full_name, u.role \
             FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > now() AND u.is_active \
               AND s.created_at >= u.credentials_changed_at \
         ), touched AS ( \
             UPDATE admin_sessions s \
             SET last_seen_at = now(), expires_at = LEAST(now() + make_interval(secs => $2), s.absolute_expires_at) \
             FROM found WHERE s.token_hash = found.token_hash AND found.last_seen_at < now() - interval '60 seconds' \
         ) \
         SELECT csrf_token, id, email, full_name, role FROM found",
    )
    .bind(digest(cookie))
    .bind(idle.as_secs_f64())
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
        csrf_token: Some(row.try_get("csrf_token")?),
        via: Via::Session,
    }))
}

/// End the session behind `cookie` (logout).
pub async fn close(pool: &PgPool, cookie: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
        .bind(digest(cookie))
        .execute(pool)
        .await?;
    Ok(())
}
