//! Outreach in the admin API: templates (checked when saved) and starting a
//! campaign.
//!
//! - `POST /api/templates`, `PUT /api/templates/{id}`: a template whose
//!   subject or bodies use a placeholder outside the closed set (or a lone
//!   brace) is refused with 422 and the position; nothing is stored.
//! - `GET /api/templates`: every template.
//! - `POST /api/outreach/campaigns`: store a campaign (name, steps, lead
//!   filter) and enqueue step 1 for each picked lead, idempotently.

use axum::{
    Extension, Json,
    extract::{Path, State},
    http::StatusCode,
};
use prospector_jobs::send_email::{
    Template,
    campaign::{self, CampaignError, CampaignSpec, Started},
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::console::{
    Staff,
    activity::{self, Action},
};

use super::{AdminError, AdminState};

/// A template as sent and returned.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    name: String,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default = "default_lead_type")]
    lead_type: String,
    subject: String,
    body: String,
    #[serde(default)]
    body_html: Option<String>,
    #[serde(default = "yes")]
    is_active: bool,
}

fn default_language() -> String {
    "en".into()
}

fn default_lead_type() -> String {
    "general".into()
}

fn yes() -> bool {
    true
}

/// A stored template.
#[derive(Debug, Serialize)]
pub struct TemplateOut {
    id: i64,
    name: String,
    language: String,
    lead_type: String,
    subject: String,
    body: String,
    body_html: Option<String>,
    is_active: bool,
    placeholders: Vec<String>,
}

fn check(input: &TemplateInput) -> Result<Template, AdminError> {
    if input.name.trim().is_empty() || input.name.len() > 255 {
        return Err(AdminError::BadRequest("name must be 1 to 255 characters".into()));
    }
    if input
        .language
        .parse::<prospector_jobs::send_email::Language>()
        .is_err()
    {
        return Err(AdminError::Unprocessable(format!(
            "language `{}` is not one of en, fr, de",
            input.language
        )));
    }
    Template::parse(&input.subject, &input.body, input.body_html.as_deref())
        .map_err(|e| AdminError::Unprocessable(e.to_string()))
}

fn out(row: &sqlx::postgres::PgRow) -> TemplateOut {
    let subject: String = row.get("subject_template");
    let body: String = row.get("body_template");
    let body_html: Option<String> = row.get("body_html_template");
    let placeholders = Template::parse(&subject, &body, body_html.as_deref())
        .map(|t| t.placeholders().iter().map(|p| p.name().to_owned()).collect())
        .unwrap_or_default();
    TemplateOut {
        id: row.get("id"),
        name: row.get("name"),
        language: row.get("language"),
        lead_type: row.get("lead_type"),
        subject,
        body,
        body_html,
        is_active: row.get("is_active"),
        placeholders,
    }
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// `GET /api/templates`
pub async fn list_templates(State(state): State<AdminState>) -> Result<Json<Vec<TemplateOut>>, AdminError> {
    let rows = sqlx::query(
        "SELECT id, name, language, lead_type, subject_template, body_template, body_html_template, is_active
         FROM campaign_templates WHERE channel = 'email' ORDER BY name, language",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows.iter().map(out).collect()))
}

/// `POST /api/templates`
pub async fn create_template(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Json(input): Json<TemplateInput>,
) -> Result<(StatusCode, Json<TemplateOut>), AdminError> {
    check(&input)?;
    let row = sqlx::query(
        "INSERT INTO campaign_templates (name, language, lead_type, channel, subject_template, body_template,
                                         body_html_template, is_active)
         VALUES ($1, $2, $3, 'email', $4, $5, $6, $7)
         RETURNING id, name, language, lead_type, subject_template, body_template, body_html_template, is_active",
    )
    .bind(input.name.trim())
    .bind(input.language.trim().to_ascii_lowercase())
    .bind(&input.lead_type)
    .bind(&input.subject)
    .bind(&input.body)
    .bind(&input.body_html)
    .bind(input.is_active)
    .fetch_one(&state.pool)
    .await
    .map_err(|e| save_error(&input, e))?;
    let saved = out(&row);
    activity::record(&state.pool, &staff, template_action("template.create", &saved)).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// A template whose name and language are taken is a conflict.
fn save_error(input: &TemplateInput, error: sqlx::Error) -> AdminError {
    if unique_violation(&error) {
        AdminError::Conflict(format!(
            "a template `{}` in `{}` exists already",
            input.name, input.language
        ))
    } else {
        AdminError::Database(error)
    }
}

/// `PUT /api/templates/{id}`
pub async fn update_template(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Json(input): Json<TemplateInput>,
) -> Result<Json<TemplateOut>, AdminError> {
    check(&input)?;
    let row = sqlx::query(
        "UPDATE campaign_templates SET name = $2, language = $3, lead_type = $4, subject_template = $5,
                body_template = $6, body_html_template = $7, is_active = $8
         WHERE id = $1 AND channel = 'email'
         RETURNING id, name, language, lead_type, subject_template, body_template, body_html_template, is_active",
    )
    .bind(id)
    .bind(input.name.trim())
    .bind(input.language.trim().to_ascii_lowercase())
    .bind(&input.lead_type)
    .bind(&input.subject)
    .bind(&input.body)
    .bind(&input.body_html)
    .bind(input.is_active)
    .fetch_optional(&state.pool)
    .await
    .map_err(|e| save_error(&input, e))?
    .ok_or_else(|| AdminError::NotFound(format!("no e-mail template {id}")))?;
    let saved = out(&row);
    activity::record(&state.pool, &staff, template_action("template.update", &saved)).await?;
    Ok(Json(saved))
}

/// `POST /api/outreach/campaigns`
pub async fn start_campaign(
    State(state): State<AdminState>,
    Extension(staff): Extension<Staff>,
    Json(spec): Json<CampaignSpec>,
) -> Result<Json<Started>, AdminError> {
    let enqueuer = prospector_jobs::Enqueuer::new(state.settings.queue_policies());
    let started = campaign::start(&state.pool, &enqueuer, &spec)
        .await
        .map_err(|e| match e {
            CampaignError::Invalid(m) => AdminError::Unprocessable(m),
            CampaignError::Database(e) => AdminError::Database(e),
            CampaignError::Enqueue(e) => AdminError::Internal(e.to_string()),
        })?;
    let action = Action {
        action: "campaign.start",
        entity_type: "campaign",
        entity_id: None,
        details: serde_json::to_value(&started).unwrap_or_default(),
    };
    activity::record(&state.pool, &staff, action).await?;
    Ok(Json(started))
}

/// The activity entry for a saved template.
fn template_action<'a>(action: &'a str, saved: &TemplateOut) -> Action<'a> {
    Action {
        action,
        entity_type: "template",
        entity_id: None,
        details: serde_json::to_value(saved).unwrap_or_default(),
    }
}
