//! The connection pool and migrations.

use std::{str::FromStr, time::Duration};

use apalis_postgres::PostgresStorage;
use secrecy::ExposeSecret;
use sqlx::{
    ConnectOptions, Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
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
pub fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, DbError> {
    let options = PgConnectOptions::from_str(settings.url.expose_secret()).map_err(DbError::Url)?;
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
