//! Starting an outreach campaign: its definition (a name, the steps and the
//! filter that picks leads) stored, and one `send_email` job per picked
//! lead for step 1. Idempotent: starting the same campaign again updates
//! the definition and enqueues only leads that have no job for the step
//! yet (the job's idempotency key is (campaign, prospect, step)); follow-up
//! steps are enqueued by the send of the step before.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::stage::SendEmail;
use crate::queue::{EnqueueError, Enqueuer};

/// Which leads a campaign picks. Every lead picked has an e-mail address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadFilter {
    /// `hot`, `warm` or `cold` (`prospect_scores.lead_tier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// At least this opportunity score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<i32>,
    /// With this tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// In this city (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Only leads with a ready generated site that has a screenshot.
    #[serde(default)]
    pub has_site: bool,
    /// Only these prospects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prospects: Option<Vec<i64>>,
    /// At most this many leads (best score first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// One step of the sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The template's name (`campaign_templates.name`).
    pub template: String,
    /// Business days after the previous step (ignored for step 1).
    #[serde(default)]
    pub after_business_days: u32,
}

/// A campaign to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Its unique name.
    pub name: String,
    /// Step 1 first, then the follow-ups.
    pub steps: Vec<StepSpec>,
    /// The leads.
    #[serde(default)]
    pub filter: LeadFilter,
}

/// What a start did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Started {
    /// `outreach_campaigns.id`.
    pub campaign_id: i64,
    /// Leads the filter picked.
    pub leads: usize,
    /// Jobs enqueued now (the others were queued before).
    pub enqueued: u64,
}

/// Why a campaign could not start.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// A bad definition.
    #[error("{0}")]
    Invalid(String),
    /// The database.
    #[error("database error while starting the campaign")]
    Database(#[from] sqlx::Error),
    /// Enqueueing.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
}

impl CampaignSpec {
    fn check(&self) -> Result<(), CampaignError> {
        let invalid = |m: &str| Err(CampaignError::Invalid(m.to_owned()));
        if self.name.trim().is_empty() || self.name.len() > 100 {
            return invalid("the campaign's name must be 1 to 100 characters");
        }
        if self.steps.is_empty() || self.steps.len() > 20 {
            return invalid("a campaign has 1 to 20 steps");
        }
        for (i, step) in self.steps.iter().enumerate().skip(1) {
            if !(1..=60).contains(&step.after_business_days) {
                return Err(CampaignError::Invalid(format!(
                    "step {}: after_business_days must be 1-60",
                    i + 1
                )));
            }
        }
        if let Some(tier) = &self.filter.tier
            && !["hot", "warm", "cold"].contains(&tier.as_str())
        {
            return invalid("tier must be hot, warm or cold");
        }
        if self.filter.min_score.is_some_and(|s| !(0..=100).contains(&s)) {
            return invalid("min_score must be 0-100");
        }
        if self.filter.limit.is_some_and(|l| l < 1) {
            return invalid("limit must be at least 1");
        }
        Ok(())
    }
}

/// Store the campaign and enqueue step 1 for every lead the filter picks.
pub async fn start(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    spec: &CampaignSpec,
) -> Result<Started, CampaignError> {
    spec.check()?;
    let mut tx = pool.begin().await?;
    for step in &spec.steps {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM campaign_templates
                            WHERE name = $1 AND is_active AND channel = 'email')",
        )
        .bind(&step.template)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Err(CampaignError::Invalid(format!(
                "no active e-mail template named `{}`",
                step.template
            )));
        }
    }
    let filter = serde_json::to_value(&spec.filter).unwrap_or_else(|_| serde_json::json!({}));
    let campaign_id: i64 = sqlx::query_scalar(
        "INSERT INTO outreach_campaigns (name, filter) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET filter = excluded.filter, status = 'active'
         RETURNING id",
    )
    .bind(spec.name.trim())
    .bind(&filter)
    .fetch_one(&mut *tx)
    .await?;
    for (i, step) in spec.steps.iter().enumerate() {
        let number = i16::try_from(i + 1).unwrap_or(i16::MAX);
        let after = if i == 0 {
            0
        } else {
            i32::try_from(step.after_business_days).unwrap_or(60)
        };
        sqlx::query(
            "INSERT INTO outreach_steps (campaign_id, step, template_name, after_business_days)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (campaign_id, step) DO UPDATE
                 SET template_name = excluded.template_name, after_business_days = excluded.after_business_days",
        )
        .bind(campaign_id)
        .bind(number)
        .bind(&step.template)
        .bind(after)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM outreach_steps WHERE campaign_id = $1 AND step > $2")
        .bind(campaign_id)
        .bind(i16::try_from(spec.steps.len()).unwrap_or(i16::MAX))
        .execute(&mut *tx)
        .await?;
    let f = &spec.filter;
    let leads: Vec<i64> = sqlx::query_scalar(
        "SELECT p.id FROM prospects p
         LEFT JOIN prospect_scores s ON s.prospect_id = p.id
         WHERE p.email IS NOT NULL
           AND ($1::text IS NULL OR s.lead_tier = $1)
           AND ($2::int IS NULL OR s.score >= $2)
           AND ($3::text IS NULL OR p.tags ? $3)
           AND ($4::text IS NULL OR lower(p.city) = lower($4))
           AND (NOT $5 OR EXISTS (
               SELECT 1 FROM generated_sites g
               WHERE g.business_id = p.public_id AND g.ready_at IS NOT NULL
                 AND g.screenshot_desktop_url IS NOT NULL))
           AND ($6::bigint[] IS NULL OR p.id = ANY($6))
         ORDER BY s.score DESC NULLS LAST, p.id
         LIMIT $7",
    )
    .bind(&f.tier)
    .bind(f.min_score)
    .bind(&f.tag)
    .bind(&f.city)
    .bind(f.has_site)
    .bind(&f.prospects)
    .bind(f.limit)
    .fetch_all(&mut *tx)
    .await?;
    let jobs: Vec<SendEmail> = leads
        .iter()
        .map(|&prospect_id| SendEmail {
            prospect_id,
            campaign_id,
            step: 1,
        })
        .collect();
    let mut enqueued = 0;
    for chunk in jobs.chunks(1000) {
        enqueued += enqueuer.enqueue_many(&mut tx, chunk).await?;
    }
    tx.commit().await?;
    Ok(Started {
        campaign_id,
        leads: leads.len(),
        enqueued,
    })
}
