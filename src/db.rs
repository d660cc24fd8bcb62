//! The connection pool and migrations.

use std::{str::FromStr, time::Duration};

use apalis_postgres::PostgresStorage;
use secrecy::ExposeSecret;
use sqlx::{
    ConnectOptions, Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

use crate::config::DatabaseSettings;

/// Why the database could not be reached or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("database.url is not a valid connection URL")]
    Url(#[source] sqlx::Error),
    /// Connecting failed.
    #[error("could not connect to the database")]
    Connect(#[source] sqlx::Error),
    /// Creating a missing database failed.
    #[error("could not create database {0}")]
    Create(String, #[source] sqlx::Error),
    /// The job queue's migrations failed.
    #[error("could not migrate the job queue schema")]
    QueueMigrations(#[source] apalis_postgres::Error),
    /// Prospector's migrations failed.
    #[error("could not apply Prospector's migrations")]
    Migrations(#[source] sqlx::migrate::MigrateError),
}

/// Connection options from settings (the URL never reaches the logs).
/// `database.require_tls` overrides the URL's `sslmode` with `verify-full`.
pub fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, DbError> {
    let mut options = PgConnectOptions::from_str(settings.url.expose_secret()).map_err(DbError::Url)?;
    if settings.require_tls {
        options = options.ssl_mode(PgSslMode::VerifyFull);
    }
    if let Some(ca) = &settings.ssl_root_cert {
        options = options.ssl_root_cert(ca);
    }
    Ok(options
        .application_name("prospector")
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(5)))
}

/// Open the pool (connections are made lazily, checked on first use).
pub fn pool(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect_lazy_with(connect_options(settings)?))
}

/// The worker processes' queue pool: `database.queue_connections`
/// connections for apalis's fetches, heartbeats and acknowledgements.
pub fn queue_pool(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.queue_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .connect_lazy_with(connect_options(settings)?))
}

/// The server has fewer free connections than this process may open.
#[derive(Debug, thiserror::Error)]
#[error(
    "this process may open {needed} connections (database.max_connections {pool} + \
     database.queue_connections {queue}), but the server has only {free} free: max_connections \
     {server_max}, {reserved} reserved for superusers, {open} open by other clients. Lower the \
     pool sizes, run fewer processes, or raise the server's max_connections (docs/architecture.md, \
     \"Sizing connections\")"
)]
pub struct CapacityError {
    /// This process's pools together.
    pub needed: u32,
    /// `database.max_connections`.
    pub pool: u32,
    /// `database.queue_connections`.
    pub queue: u32,
    /// What the server still accepts.
    pub free: i64,
    /// The server's `max_connections`.
    pub server_max: i64,
    /// `superuser_reserved_connections`.
    pub reserved: i64,
    /// Connections of other clients.
    pub open: i64,
}

/// Check that this process's two pools fit in what the server still
/// accepts, counting the connections already open by other processes.
pub async fn check_capacity(
    pool: &PgPool,
    settings: &DatabaseSettings,
) -> Result<Result<(), CapacityError>, sqlx::Error> {
    let (server_max, reserved, open): (i64, i64, i64) = sqlx::query_as(
        "SELECT current_setting('max_connections')::bigint,
                current_setting('superuser_reserved_connections')::bigint,
                (SELECT count(*) FROM pg_stat_activity
                  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())",
    )
    .fetch_one(pool)
    .await?;
    // Our own pool's other open connections are in `open` too.
    let ours = i64::from(pool.size().saturating_sub(1));
    let open = (open - ours).max(0);
    let free = server_max - reserved - open;
    let needed = settings.max_connections + settings.queue_connections;
    if i64::from(needed) > free {
        return Ok(Err(CapacityError {
            needed,
            pool: settings.max_connections,
            queue: settings.queue_connections,
            free,
            server_max,
            reserved,
            open,
        }));
    }
    Ok(Ok(()))
}

/// Open the pool and check that the database answers.
pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, DbError> {
    let pool = pool(settings)?;
    pool.acquire().await.map_err(DbError::Connect)?;
    Ok(pool)
}

/// Create the configured database if the server does not have it yet.
pub async fn create_database_if_missing(settings: &DatabaseSettings) -> Result<(), DbError> {
    let options = connect_options(settings)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(DbError::Connect)?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .map_err(DbError::Connect)?;
    if !exists {
        // Identifiers cannot be bound; quote it (doubling quotes) instead.
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process created it at the same moment.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(DbError::Create(name, e)),
        }
    }
    admin.close().await.ok();
    Ok(())
}

/// Apply the job queue's migrations, then Prospector's (which index the
/// queue's table, so the order matters). Both take an advisory lock, so
/// several processes may call this at once.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    PostgresStorage::setup(pool)
        .await
        .map_err(DbError::QueueMigrations)?;
    prospector_jobs::MIGRATOR
        .run(pool)
        .await
        .map_err(DbError::Migrations)?;
    Ok(())
}

/// Whether every migration this binary knows has been applied successfully.
pub async fn migrations_current(pool: &PgPool) -> Result<bool, sqlx::Error> {
    // sqlx's own bookkeeping table: not part of our schema, so unchecked.
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?;
    Ok(prospector_jobs::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .all(|m| applied.binary_search(&m.version).is_ok()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;

    fn settings(url: &str, require_tls: bool) -> DatabaseSettings {
        DatabaseSettings {
            url: SecretString::from(url.to_owned()),
            max_connections: 1,
            queue_connections: 1,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(1),
            require_tls,
            ssl_root_cert: None,
        }
    }

    #[test]
    fn require_tls_makes_every_connection_verify_the_server() {
        for url in [
            "postgres://u@db.example/p",
            "postgres://u@db.example/p?sslmode=disable",
            "postgres://u@db.example/p?sslmode=prefer",
        ] {
            let options = connect_options(&settings(url, true)).unwrap();
            assert!(
                matches!(options.get_ssl_mode(), PgSslMode::VerifyFull),
                "{url}: {:?}",
                options.get_ssl_mode()
            );
        }
        let options = connect_options(&settings("postgres://u@db.example/p?sslmode=disable", false)).unwrap();
        assert!(
            matches!(options.get_ssl_mode(), PgSslMode::Disable),
            "the URL decides otherwise"
        );
    }
}
