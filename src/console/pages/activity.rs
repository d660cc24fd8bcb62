//! `/console/activity`: the audit trail of operator actions, newest first,
//! filterable by action and by who.

use axum::{
    Extension,
    extract::{Query, State},
    response::Html,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    admin::AdminState,
    console::{ConsoleError, Role, Routes, Staff, Surface},
};

/// Entries per page.
const PAGE_SIZE: i64 = 50;

pub fn routes() -> Routes<AdminState> {
    Routes::new(Surface::Console).get("/console/activity", Role::Viewer, list)
}

/// Filters of the list.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filter {
    /// Action prefix (`job.`, `autopilot.update`).
    #[serde(default)]
    action: String,
    /// Who: part of the actor's e-mail.
    #[serde(default)]
    by: String,
    /// 1-based page.
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Serialize)]
struct Entry {
    at: String,
    action: String,
    entity_type: String,
    entity_id: Option<String>,
    actor_type: Option<String>,
    by: Option<String>,
    details: String,
}

#[derive(Serialize)]
struct ActivityPage {
    entries: Vec<Entry>,
    filter: Filter,
    page: i64,
    has_next: bool,
    query: String,
}

async fn list(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, ConsoleError> {
    let page = filter.page.unwrap_or(1).max(1);
    let rows = sqlx::query(
        "SELECT created_at, action, entity_type, entity_id, actor_type, details \
         FROM activity_log \
         WHERE ($1 = '' OR action LIKE $1 || '%') AND ($2 = '' OR details->>'by' ILIKE '%' || $2 || '%') \
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
    )
    .bind(filter.action.trim())
    .bind(filter.by.trim())
    .bind(PAGE_SIZE + 1)
    .bind((page - 1) * PAGE_SIZE)
    .fetch_all(&state.pool)
    .await?;
    let has_next = rows.len() as i64 > PAGE_SIZE;
    let entries = rows
        .iter()
        .take(PAGE_SIZE as usize)
        .map(|r| {
            let details: Option<serde_json::Value> = r.try_get("details")?;
            let by = details
                .as_ref()
                .and_then(|d| d.get("by"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            Ok(Entry {
                at: r
                    .try_get::<chrono::DateTime<chrono::Utc>, _>("created_at")?
                    .to_rfc3339(),
                action: r.try_get("action")?,
                entity_type: r.try_get("entity_type")?,
                entity_id: r
                    .try_get::<Option<uuid::Uuid>, _>("entity_id")?
                    .map(|u| u.to_string()),
                actor_type: r.try_get("actor_type")?,
                by,
                details: details.map(|d| d.to_string()).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let query = serde_urlencoded::to_string([("action", filter.action.as_str()), ("by", filter.by.as_str())])
        .unwrap_or_default();
    let page = ActivityPage {
        entries,
        filter,
        page,
        has_next,
        query,
    };
    Ok(Html(state.templates.page(
        &staff,
        "activity",
        "activity.html",
        page,
    )?))
}
