//! `GET /api/prospects` (list, filter, sort) and `GET /api/prospects/{id}`
//! (the full profile: tech, performance, score with flags and evidence,
//! contacts, interactions).

use axum::{
    Json,
    extract::{Path, Query, State},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AdminError, AdminState};

mod list;

use list::{Sort, list_prospects};

/// List filters (all optional) and paging.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    tier: Option<String>,
    min_score: Option<i32>,
    max_score: Option<i32>,
    city: Option<String>,
    cms: Option<String>,
    status: Option<String>,
    tag: Option<String>,
    /// `score` (default, highest first), `created` (newest first), `name`.
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// One row of the list.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow)]
pub struct ProspectRow {
    id: i64,
    business_name: Option<String>,
    domain_name: Option<String>,
    city: Option<String>,
    channel: String,
    status: String,
    score: Option<i32>,
    lead_tier: Option<String>,
    cms: Option<String>,
    top_reasons: Option<Value>,
    scored_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// A page of prospects.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProspectPage {
    items: Vec<ProspectRow>,
    limit: i64,
    offset: i64,
}

/// `GET /api/prospects?tier=&min_score=&max_score=&city=&cms=&status=&tag=&sort=&limit=&offset=`
pub async fn list(
    State(state): State<AdminState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<ProspectPage>, AdminError> {
    let limit = query.limit.unwrap_or(50);
    let offset = query.offset.unwrap_or(0);
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(AdminError::BadRequest(
            "limit must be 1–500 and offset ≥ 0".into(),
        ));
    }
    if let Some(tier) = &query.tier
        && !["hot", "warm", "cold"].contains(&tier.as_str())
    {
        return Err(AdminError::BadRequest("tier must be hot, warm or cold".into()));
    }
    let sort_name = query.sort.as_deref().unwrap_or("score");
    let sort = Sort::parse(sort_name).ok_or_else(|| {
        AdminError::BadRequest(format!("unknown sort `{sort_name}` (score, created, name)"))
    })?;
    let items = list_prospects(&state.pool, &query, sort, limit, offset).await?;
    Ok(Json(ProspectPage { items, limit, offset }))
}

/// The full profile.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProspectProfile {
    prospect: Value,
    tech: Option<Value>,
    performance: Option<Value>,
    score: Option<Value>,
    contacts: Value,
    interactions: Value,
}

/// `GET /api/prospects/{id}`
pub async fn get_one(
    State(state): State<AdminState>,
    Path(id): Path<i64>,
) -> Result<Json<ProspectProfile>, AdminError> {
    let row = sqlx::query!(
        r#"
        SELECT to_jsonb(p) AS "prospect!",
               (SELECT to_jsonb(t) FROM prospect_tech_profiles t WHERE t.prospect_id = p.id) AS tech,
               (SELECT to_jsonb(f) FROM prospect_performance_profiles f WHERE f.prospect_id = p.id) AS performance,
               (SELECT to_jsonb(s) FROM prospect_scores s WHERE s.prospect_id = p.id) AS score,
               (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.contact_type, c.is_primary DESC, c.id), '[]'::jsonb)
                  FROM prospect_contacts c WHERE c.prospect_id = p.id) AS "contacts!",
               (SELECT coalesce(jsonb_agg(to_jsonb(i) ORDER BY i.created_at DESC), '[]'::jsonb)
                  FROM prospect_interactions i WHERE i.prospect_id = p.id) AS "interactions!"
        FROM prospects p
        WHERE p.id = $1
        "#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| AdminError::NotFound(format!("no prospect {id}")))?;
    Ok(Json(ProspectProfile {
        prospect: row.prospect,
        tech: row.tech,
        performance: row.performance,
        score: row.score,
        contacts: row.contacts,
        interactions: row.interactions,
    }))
}
