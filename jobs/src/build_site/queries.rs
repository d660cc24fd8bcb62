//! Every statement the build_site stage runs.

use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The prospect as the generator needs it.
#[derive(Debug, Clone)]
pub struct BusinessRow {
    /// `prospects.id`.
    pub id: i64,
    /// `prospects.public_id` (`generated_sites.business_id`).
    pub public_id: Uuid,
    /// Unique slug (the site's subdomain is made from it).
    pub slug: String,
    /// Name.
    pub business_name: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Second category.
    pub subcategory: Option<String>,
    /// Full address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country code.
    pub country: String,
    /// Phone as listed.
    pub phone: Option<String>,
    /// Phone in E.164.
    pub phone_e164: Option<String>,
    /// Public e-mail.
    pub email: Option<String>,
    /// Opening hours lines (JSON array of strings).
    pub opening_hours: Value,
    /// Rating.
    pub rating: Option<f64>,
    /// Review count.
    pub review_count: i32,
    /// Reviews (JSON array of discover's `Review`).
    pub reviews: Value,
    /// Photo URLs (JSON array of strings).
    pub photos: Value,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lng: Option<f64>,
    /// The current website, if any.
    pub website_url: Option<String>,
    /// Whether the tech scan found a working website.
    pub has_website: Option<bool>,
}

/// Read and lock the prospect (builds of one prospect never run at once).
pub async fn lock_business(conn: &mut PgConnection, id: i64) -> Result<Option<BusinessRow>, sqlx::Error> {
    sqlx::query_as!(
        BusinessRow,
        r#"
        SELECT id, public_id, slug, business_name, category, subcategory, address, city, state,
               postal_code, country, phone, phone_e164, email, opening_hours,
               rating::float8 AS rating, review_count, reviews, photos_urls AS photos,
               location_lat AS lat, location_lng AS lng, website_url, has_website
        FROM prospects WHERE id = $1
        FOR UPDATE
        "#,
        id
    )
    .fetch_optional(&mut *conn)
    .await
}

/// A business's site of one variant, with its current version.
#[derive(Debug, Clone)]
pub struct SiteRow {
    /// `generated_sites.id`.
    pub id: Uuid,
    /// Subdomain (slug of the live host).
    pub subdomain: String,
    /// The preview's capability token.
    pub preview_token: String,
    /// Current version, if any.
    pub current_version_id: Option<Uuid>,
    /// Its preview's content hash.
    pub current_hash: Option<String>,
    /// Its number.
    pub current_number: Option<i32>,
    /// Its gate status.
    pub current_gate: Option<String>,
}

/// The site of (`business`, `variant`), made if it does not exist yet (a
/// draft with the given subdomain and token, empty until its first version).
pub async fn ensure_site(
    conn: &mut PgConnection,
    business: Uuid,
    variant: &str,
    subdomain: &str,
    token: &str,
) -> Result<SiteRow, sqlx::Error> {
    sqlx::query!(
        r#"
        INSERT INTO generated_sites (business_id, variant, subdomain, preview_token, html_content, status)
        VALUES ($1, $2, $3, $4, '', 'draft')
        ON CONFLICT (business_id, variant) DO NOTHING
        "#,
        business,
        variant,
        subdomain,
        token,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_as!(
        SiteRow,
        r#"
        SELECT s.id, s.subdomain, s.preview_token AS "preview_token!",
               s.current_version_id, v.content_hash AS "current_hash?", v.version AS "current_number?",
               v.gate_status AS "current_gate?"
        FROM generated_sites s
        LEFT JOIN site_versions v ON v.id = s.current_version_id
        WHERE s.business_id = $1 AND s.variant = $2
        "#,
        business,
        variant,
    )
    .fetch_one(&mut *conn)
    .await
}

/// A version to store.
#[derive(Debug)]
pub struct NewVersion<'a> {
    /// The site.
    pub site_id: Uuid,
    /// The preview page.
    pub html: &'a str,
    /// Its CSS.
    pub css: &'a str,
    /// Its hash.
    pub content_hash: &'a str,
    /// The live page.
    pub live_html: &'a str,
    /// Its hash.
    pub live_content_hash: &'a str,
    /// Generator template version.
    pub template_version: &'a str,
    /// Design decisions.
    pub creative_dna: &'a Value,
    /// Texts.
    pub copy: &'a Value,
    /// `deterministic` or `llm`.
    pub copy_source: &'a str,
    /// Why the LLM's copy was not used, when it was asked.
    pub copy_fallback_reason: Option<&'a str>,
    /// The prompt variant used.
    pub prompt_setting_id: Option<Uuid>,
    /// The static checks.
    pub static_checks: &'a Value,
    /// `pending` (the audit decides), or `failed` when the static checks failed.
    pub gate_status: &'a str,
    /// Why it failed.
    pub gate_reason: Option<&'a str>,
    /// The change request it answers.
    pub change_request_id: Option<Uuid>,
    /// `not_required` or `pending` (a change request waits for an operator).
    pub approval_status: &'a str,
}

/// Store a version (numbered after the site's last) and return its id and number.
pub async fn insert_version(conn: &mut PgConnection, v: &NewVersion<'_>) -> Result<(Uuid, i32), sqlx::Error> {
    let row = sqlx::query!(
        r#"
        INSERT INTO site_versions (
            site_id, version, html_content, css_content, content_hash, live_html, live_content_hash,
            template_version, creative_dna, copy, copy_source, copy_fallback_reason, prompt_setting_id,
            static_checks, gate_status, gate_reason, gated_at, change_request_id, approval_status
        )
        SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
               $14::text, $15, CASE WHEN $14::text = 'failed' THEN now() END, $16, $17
        FROM site_versions WHERE site_id = $1
        RETURNING id, version
        "#,
        v.site_id,
        v.html,
        v.css,
        v.content_hash,
        v.live_html,
        v.live_content_hash,
        v.template_version,
        v.creative_dna,
        v.copy,
        v.copy_source,
        v.copy_fallback_reason,
        v.prompt_setting_id,
        v.static_checks,
        v.gate_status,
        v.gate_reason,
        v.change_request_id,
        v.approval_status,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.id, row.version))
}

/// Make `version` the site's current one (not for a change request, which
/// waits for approval): the site mirrors its page and design brief.
pub async fn make_current(
    conn: &mut PgConnection,
    site_id: Uuid,
    version_id: Uuid,
    number: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE generated_sites s SET
            current_version_id = v.id,
            version = $3,
            html_content = v.html_content,
            css_content = v.css_content,
            design_brief = v.creative_dna,
            -- A new version is not ready until its gate and screenshots say so.
            ready_at = NULL,
            status = CASE WHEN s.status IN ('live', 'paused', 'sold') THEN s.status ELSE 'draft' END
        FROM site_versions v
        WHERE s.id = $1 AND v.id = $2
        "#,
        site_id,
        version_id,
        number,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Record the prospect's creative DNA, and (for a business with no website)
/// that a site is being made for it; its route is started.
pub async fn record_build(
    executor: impl PgExecutor<'_>,
    prospect: i64,
    dna: &Value,
    archetype: &str,
    new_site: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE prospects SET
            creative_dna = $2,
            brand_archetype = $3,
            website_status = CASE WHEN $4 AND website_status IN ('none', 'existing', 'generating') THEN 'generated'
                                  ELSE website_status END,
            routed_at = coalesce(routed_at, now())
        WHERE id = $1
        "#,
        prospect,
        dna,
        archetype,
        new_site,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Qualified leads with no website waiting for a build (discover routed them
/// before this stage existed, or their job vanished), best first.
pub async fn awaiting_build(executor: impl PgExecutor<'_>, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        SELECT id FROM prospects
        WHERE pipeline_route = 'build_site' AND routed_at IS NULL
        ORDER BY qualification_score DESC, id
        LIMIT $1
        "#,
        limit
    )
    .fetch_all(executor)
    .await
}

// ----- change requests -------------------------------------------------
// Runtime-checked statements (the `.sqlx` offline data is not regenerated
// for these columns).

/// A support ticket as its build reads it.
#[derive(Debug, Clone)]
pub struct TicketRequest {
    /// `support_tickets.request_text`.
    pub text: String,
    /// What it was read as, when a build read it already.
    pub interpretation: Option<Value>,
    /// `rules` or `llm`.
    pub interpreted_by: Option<String>,
}

/// The ticket `id`, if it exists.
pub async fn ticket_request(
    executor: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<TicketRequest>, sqlx::Error> {
    use sqlx::Row as _;
    let row = sqlx::query(
        "SELECT request_text, requested_edits, interpreted_by FROM support_tickets WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await?;
    row.map(|r| {
        Ok(TicketRequest {
            text: r.try_get("request_text")?,
            interpretation: r.try_get("requested_edits")?,
            interpreted_by: r.try_get("interpreted_by")?,
        })
    })
    .transpose()
}

/// The number of the version a ticket's build stored, if one did.
pub async fn ticket_version(conn: &mut PgConnection, ticket: Uuid) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM site_versions WHERE change_request_id = $1 LIMIT 1")
        .bind(ticket)
        .fetch_optional(conn)
        .await
}

/// What a ticket's request was read as, kept as soon as it is read.
pub async fn store_interpretation(
    executor: impl PgExecutor<'_>,
    ticket: Uuid,
    interpretation: &Value,
    interpreted_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE support_tickets SET requested_edits = $2, interpreted_by = $3 WHERE id = $1")
        .bind(ticket)
        .bind(interpretation)
        .bind(interpreted_by)
        .execute(executor)
        .await?;
    Ok(())
}

/// The edits of the site's approved versions, oldest approval first: a
/// build applies them again, so a regeneration keeps what customers asked.
pub async fn approved_edits(conn: &mut PgConnection, site_id: Uuid) -> Result<Vec<Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT change_edits FROM site_versions \
         WHERE site_id = $1 AND approval_status = 'approved' AND change_edits <> '[]'::jsonb \
         ORDER BY approved_at, version",
    )
    .bind(site_id)
    .fetch_all(conn)
    .await
}

/// The edits of its ticket a version applied.
pub async fn set_version_edits(
    conn: &mut PgConnection,
    version_id: Uuid,
    edits: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE site_versions SET change_edits = $2 WHERE id = $1")
        .bind(version_id)
        .bind(edits)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a ticket's build made of it, for the operator.
#[derive(Debug, Clone)]
pub struct TicketOutcome<'a> {
    /// `support_tickets.id`.
    pub ticket: Uuid,
    /// What the request was read as.
    pub interpretation: &'a Value,
    /// `rules` or `llm`.
    pub interpreted_by: &'a str,
    /// The edits the new version applied.
    pub applied: &'a Value,
    /// What needs a human.
    pub needs_human: &'a Value,
}

/// Record a ticket's outcome.
pub async fn record_ticket_outcome(
    conn: &mut PgConnection,
    o: &TicketOutcome<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE support_tickets SET requested_edits = $2, interpreted_by = $3, applied_edits = $4, \
             needs_human = $5 WHERE id = $1",
    )
    .bind(o.ticket)
    .bind(o.interpretation)
    .bind(o.interpreted_by)
    .bind(o.applied)
    .bind(o.needs_human)
    .execute(conn)
    .await?;
    Ok(())
}

/// What calls to `provider` cost today (UTC), in cents, for the LLM's
/// daily budget.
pub async fn llm_spent_today(executor: impl PgExecutor<'_>, provider: &str) -> Result<f64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(cost_cents), 0)::float8 FROM api_usage \
         WHERE provider = $1 AND occurred_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    )
    .bind(provider)
    .fetch_one(executor)
    .await
}

/// One billed LLM call (`api_usage`).
pub async fn record_llm_usage(
    executor: impl PgExecutor<'_>,
    provider: &str,
    operation: &str,
    cost_cents: f64,
    ok: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_usage (provider, operation, requests, results, cost_cents, outcome) \
         VALUES ($1, $2, 1, $3, $4::numeric, $5)",
    )
    .bind(provider)
    .bind(operation)
    .bind(i32::from(ok))
    .bind(cost_cents.max(0.0))
    .bind(if ok { "ok" } else { "malformed" })
    .execute(executor)
    .await?;
    Ok(())
}
