use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

use super::Territory;

/// Insert a territory or update its priority, population and category.
/// True when it is new.
pub async fn upsert_territory(executor: impl PgExecutor<'_>, t: &Territory) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        INSERT INTO coverage_grid AS g (country, state, city, industry, industry_category, priority, population)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT ON CONSTRAINT coverage_grid_territory_key DO UPDATE SET
            industry_category = coalesce(EXCLUDED.industry_category, g.industry_category),
            priority = EXCLUDED.priority,
            population = coalesce(EXCLUDED.population, g.population)
        RETURNING (xmax = 0) AS "inserted!"
        "#,
        t.country.as_str(),
        t.state,
        t.city,
        t.industry,
        t.industry_category,
        t.priority,
        t.population,
    )
    .fetch_one(executor)
    .await
}

/// A territory as `grid list` and the admin show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GridRow {
    /// Id.
    pub id: Uuid,
    /// Country.
    pub country: String,
    /// State.
    pub state: String,
    /// City.
    pub city: String,
    /// Industry.
    pub industry: String,
    /// Status.
    pub status: String,
    /// Priority.
    pub priority: i32,
    /// Population.
    pub population: Option<i32>,
    /// Leads found.
    pub lead_count: i32,
    /// Of which qualified.
    pub qualified_count: i32,
    /// Last run finished.
    pub last_scraped_at: Option<DateTime<Utc>>,
    /// Resting until.
    pub cooldown_until: Option<DateTime<Utc>>,
    /// Why the last run failed.
    pub last_error: Option<String>,
}

/// Territories in the autopilot's order (pending first), optionally of one
/// status.
pub async fn list_territories(
    executor: impl PgExecutor<'_>,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<GridRow>, sqlx::Error> {
    sqlx::query_as!(
        GridRow,
        r#"
        SELECT id, country, state, city, industry, status, priority, population, lead_count,
               qualified_count, last_scraped_at, cooldown_until, last_error
        FROM coverage_grid
        WHERE $1::text IS NULL OR status = $1
        ORDER BY (status = 'pending') DESC, priority DESC, population DESC, city, industry
        LIMIT $2
        "#,
        status,
        limit,
    )
    .fetch_all(executor)
    .await
}
