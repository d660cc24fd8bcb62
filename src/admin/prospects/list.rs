//! The list query behind `GET /api/prospects`, in two phases, so that a page
//! costs what the page holds rather than what the table holds:
//!
//! 1. the ids of the page, in order: one query walks an index in the
//!    requested order (migration `20261124000002_index_prospect_list`),
//!    checks the filters on the way and stops after offset + limit matches;
//! 2. the display columns of those ids (at most 500), in one query that keeps
//!    their order.
//!
//! `sort=score` lists the scored prospects (score, highest first, then id)
//! and after them the unscored ones (by id). The two parts have no common
//! index order, so they are two id queries: the second runs only on the page
//! where the first runs out, and only when no score filter is set (a score
//! filter means scored prospects only).
//!
//! Dynamic by nature (optional filters, a chosen order), the id queries are
//! built with `QueryBuilder`: values are always bound, joins and ORDER BY
//! come from fixed strings only, never from the request. They are not kept
//! as prepared statements, so that each is planned with its values (the
//! limit and the filters decide between walking an order and looking a rare
//! value up).

use sqlx::{PgPool, Postgres, QueryBuilder};

use super::{ListQuery, ProspectRow};

/// The orders the list offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Scored prospects by score (highest first, then id), then the
    /// unscored ones by id.
    Score,
    /// Newest first, ties by id (highest first).
    Created,
    /// By lower(business_name), unnamed last, ties by id.
    Name,
}

impl Sort {
    /// The sort named by the request (`score`, `created`, `name`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "score" => Some(Self::Score),
            "created" => Some(Self::Created),
            "name" => Some(Self::Name),
            _ => None,
        }
    }
}

/// One page of the list: ids in order, then their rows.
pub async fn list_prospects(
    pool: &PgPool,
    query: &ListQuery,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> Result<Vec<ProspectRow>, sqlx::Error> {
    let ids = match sort {
        Sort::Score => ids_by_score(pool, query, limit, offset).await?,
        Sort::Created => ids_by_prospect(pool, query, CREATED_ORDER, limit, offset).await?,
        Sort::Name => ids_by_prospect(pool, query, NAME_ORDER, limit, offset).await?,
    };
    load_rows(pool, &ids).await
}

/// `sort=created`, walked on `idx_prospects_created_rank` (or, with a city,
/// `idx_prospects_city_created`).
const CREATED_ORDER: &str = " ORDER BY p.created_at DESC, p.id DESC";

/// `sort=name`, walked on `idx_prospects_name_rank` (ascending puts NULL
/// last, as the index does).
const NAME_ORDER: &str = " ORDER BY lower(p.business_name) NULLS LAST, p.id";

/// `sort=score`: the scored part, walked on `idx_prospect_scores_rank` (or
/// `idx_prospect_scores_tier_rank` for a tier).
const SCORE_ORDER: &str = " ORDER BY s.score DESC, s.prospect_id";

/// `sort=score`, unscored part: by id, on the primary key.
const UNSCORED_ORDER: &str = " ORDER BY p.id";

/// Ids of a `sort=score` page: the scored matches, then, once they run out
/// and no score filter is set, the unscored ones.
async fn ids_by_score(
    pool: &PgPool,
    query: &ListQuery,
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = scored_ids(pool, query, limit, offset).await?;
    let missing = limit - ids.len() as i64;
    if missing == 0 || query.filters_scores() {
        return Ok(ids);
    }
    let tail_offset = unscored_offset(pool, query, offset, !ids.is_empty()).await?;
    ids.extend(unscored_ids(pool, query, missing, tail_offset).await?);
    Ok(ids)
}

/// Where the unscored part starts for a page on which the scored part ran
/// out: at its beginning if the page holds scored rows, else after the
/// offset less the number of scored matches (all of them lie before it).
async fn unscored_offset(
    pool: &PgPool,
    query: &ListQuery,
    offset: i64,
    scored_on_page: bool,
) -> Result<i64, sqlx::Error> {
    if scored_on_page || offset == 0 {
        return Ok(0);
    }
    let scored = count_scored(pool, query).await?;
    Ok((offset - scored).max(0))
}

/// Scored matches by score, highest first, then id.
async fn scored_ids(
    pool: &PgPool,
    query: &ListQuery,
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut sql = filtered("SELECT s.prospect_id", Walk::Scores, query);
    sql.push(SCORE_ORDER);
    push_page(&mut sql, limit, offset);
    sql.build_query_scalar().persistent(false).fetch_all(pool).await
}

/// How many scored prospects match (asked only past the end of them).
async fn count_scored(pool: &PgPool, query: &ListQuery) -> Result<i64, sqlx::Error> {
    let mut sql = filtered("SELECT count(*)", Walk::Scores, query);
    sql.build_query_scalar().persistent(false).fetch_one(pool).await
}

/// Unscored matches by id (no score filter is set when this runs).
async fn unscored_ids(
    pool: &PgPool,
    query: &ListQuery,
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut sql = filtered("SELECT p.id", Walk::Prospects, query);
    sql.push(" AND NOT EXISTS (SELECT 1 FROM prospect_scores u WHERE u.prospect_id = p.id)");
    sql.push(UNSCORED_ORDER);
    push_page(&mut sql, limit, offset);
    sql.build_query_scalar().persistent(false).fetch_all(pool).await
}

/// Matches in an order over `prospects` (created, name), scored or not.
async fn ids_by_prospect(
    pool: &PgPool,
    query: &ListQuery,
    order: &'static str,
    limit: i64,
    offset: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut sql = filtered("SELECT p.id", Walk::Prospects, query);
    sql.push(order);
    push_page(&mut sql, limit, offset);
    sql.build_query_scalar().persistent(false).fetch_all(pool).await
}

/// The table an id query walks; the others are joined only when a filter
/// needs them. Inner joins keep the semantics of the filters: a filter on
/// the score or the CMS never matches a prospect without one, and both
/// tables hold at most one row per prospect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// `prospect_scores s`: the scored part of `sort=score`.
    Scores,
    /// `prospects p`: every other order.
    Prospects,
}

/// `<select> FROM <table> <joins> WHERE <filters>`.
fn filtered(select: &'static str, walk: Walk, query: &ListQuery) -> QueryBuilder<Postgres> {
    let mut sql = QueryBuilder::new(select);
    let key = match walk {
        Walk::Scores => {
            sql.push(" FROM prospect_scores s");
            if query.filters_prospects() {
                sql.push(" JOIN prospects p ON p.id = s.prospect_id");
            }
            "s.prospect_id"
        }
        Walk::Prospects => {
            sql.push(" FROM prospects p");
            if query.filters_scores() {
                sql.push(" JOIN prospect_scores s ON s.prospect_id = p.id");
            }
            "p.id"
        }
    };
    if query.cms.is_some() {
        sql.push(" JOIN prospect_tech_profiles t ON t.prospect_id = ")
            .push(key);
    }
    sql.push(" WHERE true");
    push_filters(&mut sql, query);
    sql
}

/// The request's filters, each bound.
fn push_filters(sql: &mut QueryBuilder<Postgres>, query: &ListQuery) {
    if let Some(tier) = &query.tier {
        sql.push(" AND s.lead_tier = ").push_bind(tier);
    }
    if let Some(min) = query.min_score {
        sql.push(" AND s.score >= ").push_bind(min);
    }
    if let Some(max) = query.max_score {
        sql.push(" AND s.score <= ").push_bind(max);
    }
    if let Some(city) = &query.city {
        sql.push(" AND lower(p.city) = lower(").push_bind(city).push(")");
    }
    if let Some(cms) = &query.cms {
        sql.push(" AND lower(t.cms) = lower(").push_bind(cms).push(")");
    }
    if let Some(status) = &query.status {
        sql.push(" AND p.status = ").push_bind(status);
    }
    if let Some(tag) = &query.tag {
        sql.push(" AND p.tags ? ").push_bind(tag);
    }
}

/// `LIMIT … OFFSET …`, bound.
fn push_page(sql: &mut QueryBuilder<Postgres>, limit: i64, offset: i64) {
    sql.push(" LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
}

impl ListQuery {
    /// A filter on the score (tier, min, max): scored prospects only.
    fn filters_scores(&self) -> bool {
        self.tier.is_some() || self.min_score.is_some() || self.max_score.is_some()
    }

    /// A filter on a column of `prospects` (city, status, tag).
    fn filters_prospects(&self) -> bool {
        self.city.is_some() || self.status.is_some() || self.tag.is_some()
    }
}

/// Phase 2: the rows of a page's ids, in the ids' order.
const ROWS_SQL: &str = r#"
SELECT p.id, p.business_name, p.domain_name, p.city, p.channel, p.status, s.score, s.lead_tier, t.cms,
       (SELECT jsonb_agg(f -> 'title')
          FROM (SELECT f FROM jsonb_array_elements(s.reason_flags) AS f
                WHERE f ->> 'kind' = 'problem' ORDER BY (f ->> 'points')::int DESC LIMIT 3) AS top(f)) AS top_reasons,
       s.scored_at, p.created_at
FROM unnest($1::bigint[]) WITH ORDINALITY AS page(id, ord)
JOIN prospects p ON p.id = page.id
LEFT JOIN prospect_scores s ON s.prospect_id = p.id
LEFT JOIN prospect_tech_profiles t ON t.prospect_id = p.id
ORDER BY page.ord
"#;

/// Loads the rows of `ids`, in that order.
async fn load_rows(pool: &PgPool, ids: &[i64]) -> Result<Vec<ProspectRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as::<_, ProspectRow>(ROWS_SQL)
        .bind(ids)
        .fetch_all(pool)
        .await
}
