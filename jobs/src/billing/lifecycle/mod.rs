//! `billing`: the stage that turns Recurrente's webhooks into customers,
//! subscriptions, payments and live (or paused) sites.
//!
//! - **Input**: [`BillingTask`] — `Process { svix_id }` applies one stored
//!   webhook event (the web role's `POST /webhooks/recurrente` verified it,
//!   stored it in `billing_events` and enqueued this job in one
//!   transaction, see [`super::ledger`]); `Lapse { site_id, ended_at }`
//!   pauses a site whose subscription ended, once the grace period is over;
//!   `Reconcile` (the `reconcile-billing` schedule) asks Recurrente about
//!   unsettled checkouts and subscriptions and records what a missed
//!   webhook would have said, through the same ledger ([`reconcile`]).
//! - **Reads**: `billing_events`, `site_claims` (checkout → site),
//!   `subscriptions`; Recurrente's `GET /api/subscriptions/{id}` only when a
//!   subscription event names neither our site nor a subscription we know.
//! - **Writes**, in one transaction under a row lock on the site:
//!   `customers`, `subscriptions`, `payments` (idempotent by
//!   `recurrente_payment_id`; integer cents), `site_claims.status`,
//!   `generated_sites` (`live` with its live version, `paused`),
//!   `prospects.contact_status = 'purchased'`, a `prospect_interactions`
//!   note and `activity_log` entries; the event's `processed_at` and
//!   outcome (`applied`, `ignored`, `malformed`).
//! - **Order**: deliveries arrive in any order. A subscription's status is
//!   changed only by an event newer (payload `created_at`, else the Svix
//!   timestamp) than the one that set it, so a `cancel` delivered before its
//!   `create` stays cancelled; the site goes live once a subscription was
//!   seen started, and lapses `grace_period` after it ended.
//! - **Errors**: an unknown `svix_id` is permanent; an event whose site
//!   cannot be found yet is transient (its sibling event may still be on
//!   its way) and fails after the queue's attempts, leaving the event
//!   unprocessed for an operator; database errors follow
//!   [`is_transient_db_error`].

mod apply;
pub mod notices;
mod queries;
pub mod reconcile;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::sync::Arc;

use super::{BillingSettings, RecurrenteClient, RecurrenteError};
use crate::{
    pipeline::ProspectLink,
    public_urls::PublicUrls,
    queue::{EnqueueError, Job},
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    send_email::{NoticeError, SendEmail, SendEmailDeps},
    stage::{Branch, CheckContext, InvalidSetting, Setup, SetupError, Stage, StageConfig, StageJob},
};

/// `pk_…` of the Recurrente account.
pub const PUBLIC_KEY_VAR: &str = "PROSPECTOR__BILLING__PUBLIC_KEY";
/// `sk_…` of the Recurrente account.
pub const SECRET_KEY_VAR: &str = "PROSPECTOR__BILLING__SECRET_KEY";
/// One or more `whsec_…` webhook signing secrets (space or comma separated).
pub const WEBHOOK_SECRETS_VAR: &str = "PROSPECTOR__BILLING__WEBHOOK_SECRETS";

/// One unit of billing work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillingTask {
    /// Apply the stored webhook event with this `svix-id`.
    Process {
        /// `billing_events.svix_id`.
        svix_id: String,
    },
    /// The site's subscription ended at `ended_at`: pause the site if it is
    /// still not paid for once the grace period is over.
    Lapse {
        /// `generated_sites.id`.
        site_id: Uuid,
        /// When the subscription was cancelled or paused.
        ended_at: DateTime<Utc>,
    },
    /// Send the customer notice `customer_notices.id` (welcome, payment
    /// reminder), written with the event that called for it.
    Notify {
        /// `customer_notices.id`.
        notice_id: Uuid,
    },
    /// Ask Recurrente about the checkouts and subscriptions that are still
    /// not settled, and record what a missed webhook would have said
    /// ([`reconcile`]); the `reconcile-billing` schedule enqueues it.
    Reconcile,
}

impl Job for BillingTask {
    const QUEUE: &'static str = Stage::Billing.name();

    fn idempotency_key(&self) -> Option<String> {
        Some(match self {
            BillingTask::Process { svix_id } => format!("billing:event:{svix_id}"),
            BillingTask::Lapse { site_id, ended_at } => {
                format!("billing:lapse:{site_id}:{}", ended_at.timestamp_micros())
            }
            BillingTask::Notify { notice_id } => format!("billing:notice:{notice_id}"),
            // One per schedule slot: the scheduler gives the key.
            BillingTask::Reconcile => return None,
        })
    }
}

/// What the handler needs besides the database.
#[derive(Debug, Clone)]
pub struct BillingDeps {
    /// The `[billing]` settings.
    pub settings: BillingSettings,
    /// The API client, when both keys are configured (used to link a
    /// subscription event to its checkout).
    pub client: Option<RecurrenteClient>,
    /// The send_email mailboxes, for the customers' notices.
    pub mail: Arc<SendEmailDeps>,
    /// Where live sites are served (the notices link to them).
    pub urls: PublicUrls,
}

impl StageConfig for BillingSettings {
    fn check(&mut self, ctx: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        let secret = |name: &str| {
            ctx.env
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(|v| SecretString::from(v.to_owned()))
        };
        if let Some(key) = secret(PUBLIC_KEY_VAR) {
            self.public_key = Some(key);
        }
        if let Some(key) = secret(SECRET_KEY_VAR) {
            self.secret_key = Some(key);
        }
        if let Some(secrets) = secret(WEBHOOK_SECRETS_VAR) {
            self.webhook_secrets = Some(secrets);
        }
        self.validate().map_err(|e| {
            let variable = match e.key {
                "public_key" => Some(PUBLIC_KEY_VAR),
                "secret_key" => Some(SECRET_KEY_VAR),
                "webhook_secrets" => Some(WEBHOOK_SECRETS_VAR),
                _ => None,
            };
            match variable {
                Some(name) => InvalidSetting::variable(name, e.message),
                None => InvalidSetting::new(e.key, e.message),
            }
        })
    }
}

impl BillingSettings {
    /// The API client, when both keys are set.
    pub fn client(&self) -> Result<Option<RecurrenteClient>, RecurrenteError> {
        match self.client_config() {
            Ok(config) => RecurrenteClient::new(&config).map(Some),
            Err(_) => Ok(None),
        }
    }
}

impl StageJob for BillingTask {
    const STAGE: Stage = Stage::Billing;
    const BRANCH: Branch = Branch::Customers;
    const SECRET_VARS: &'static [&'static str] = &[PUBLIC_KEY_VAR, SECRET_KEY_VAR, WEBHOOK_SECRETS_VAR];
    type Settings = BillingSettings;

    fn build_deps(settings: &BillingSettings, setup: &Setup<'_>) -> Result<BillingDeps, SetupError> {
        Ok(BillingDeps {
            settings: settings.clone(),
            client: settings.client()?,
            mail: Arc::new(SendEmailDeps::new(
                setup.settings::<SendEmail>().clone(),
                setup.platform.web.clone(),
            )),
            urls: setup.platform.web.clone(),
        })
    }

    fn for_prospect(_: ProspectLink) -> Option<Self> {
        None
    }

    fn default_concurrency() -> usize {
        4
    }
}

/// Why billing work failed.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// No stored event with this id.
    #[error("no billing event `{0}` is stored")]
    UnknownEvent(String),
    /// The event names no site we know (yet).
    #[error("the `{event_type}` event names no site of ours (yet)")]
    Unlinked {
        /// Its type.
        event_type: String,
    },
    /// The event carries no e-mail and the site has no claim.
    #[error("no customer e-mail for site {0}")]
    NoEmail(Uuid),
    /// Reading or writing failed.
    #[error("database error while applying billing")]
    Database(#[from] sqlx::Error),
    /// Enqueueing the lapse failed.
    #[error(transparent)]
    Enqueue(#[from] EnqueueError),
    /// Recurrente could not be asked.
    #[error(transparent)]
    Recurrente(#[from] RecurrenteError),
    /// The mail server did not take a customer notice (it is retried).
    #[error("customer notice: {0}")]
    Notice(NoticeError),
}

impl From<super::ledger::LedgerError> for BillingError {
    fn from(e: super::ledger::LedgerError) -> Self {
        match e {
            super::ledger::LedgerError::Database(e) => BillingError::Database(e),
            super::ledger::LedgerError::Enqueue(e) => BillingError::Enqueue(e),
        }
    }
}

impl StageError for BillingError {
    fn is_permanent(&self) -> bool {
        match self {
            BillingError::UnknownEvent(_) | BillingError::NoEmail(_) => true,
            BillingError::Notice(_) => false,
            BillingError::Unlinked { .. } => false,
            BillingError::Database(e) => !is_transient_db_error(e),
            BillingError::Enqueue(e) => e.is_permanent(),
            BillingError::Recurrente(e) => e.is_permanent(),
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            BillingError::Recurrente(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl Handler for BillingTask {
    type Deps = BillingDeps;
    type Error = BillingError;

    #[tracing::instrument(skip_all, fields(task = ?self))]
    async fn handle(self, ctx: &JobContext, deps: &BillingDeps) -> Result<(), BillingError> {
        match self {
            BillingTask::Process { svix_id } => apply::process(ctx, deps, &svix_id).await,
            BillingTask::Lapse { site_id, ended_at } => apply::lapse(ctx, deps, site_id, ended_at).await,
            BillingTask::Notify { notice_id } => notices::send(ctx, deps, notice_id).await,
            BillingTask::Reconcile => reconcile::reconcile(ctx, deps).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, time::Duration};

    use super::*;
    use crate::queue::WorkerSettings;

    const SECTION: &str = r#"
base_url = "https://app.recurrente.com"
currency = "GTQ"
grace_period = "14d"
success_url = "https://agency.example/sites/{site_id}/paid?step={step}"
cancel_url = "https://agency.example/sites/{site_id}/cancelled?step={step}"
setup_fee = { name = "Setup", amount_cents = 390000 }
monthly_plan = { name = "Plan", amount_cents = 79900 }
"#;

    fn worker() -> WorkerSettings {
        WorkerSettings {
            workers: 1,
            concurrency: 1,
            batch_size: 1,
            max_attempts: 3,
            priority: 0,
            timeout: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(8),
        }
    }

    fn check(env: &[(&str, &str)]) -> Result<BillingSettings, InvalidSetting> {
        let mut settings: BillingSettings = toml::from_str(SECTION).unwrap();
        let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let worker = worker();
        settings.check(&CheckContext {
            env: &env,
            worker: &worker,
        })?;
        Ok(settings)
    }

    #[test]
    fn secrets_come_from_the_environment_and_bad_ones_name_their_variable() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let none = check(&[]).unwrap();
        assert!(none.client().unwrap().is_none(), "no keys: no client");
        assert_eq!(none.webhook_verifier().unwrap().secret_count(), 0, "fails closed");

        let set = check(&[
            (PUBLIC_KEY_VAR, "pk_test_abc"),
            (SECRET_KEY_VAR, "sk_test_def"),
            (WEBHOOK_SECRETS_VAR, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
        ])
        .unwrap();
        assert!(set.client().unwrap().is_some());
        assert_eq!(set.webhook_verifier().unwrap().secret_count(), 1);

        let mixed = check(&[(PUBLIC_KEY_VAR, "pk_test_abc"), (SECRET_KEY_VAR, "sk_live_def")]).unwrap_err();
        assert_eq!(mixed.key, SECRET_KEY_VAR);
        assert!(!mixed.to_string().contains("sk_live_def"), "{mixed}");
        let bad = check(&[(WEBHOOK_SECRETS_VAR, "not-a-secret")]).unwrap_err();
        assert_eq!(bad.key, WEBHOOK_SECRETS_VAR);
        assert_eq!(bad.clone().within("billing").key, WEBHOOK_SECRETS_VAR);
    }

    #[test]
    fn jobs_are_unique_per_event_and_per_lapse() {
        let process = BillingTask::Process {
            svix_id: "msg_1".into(),
        };
        assert_eq!(process.idempotency_key().as_deref(), Some("billing:event:msg_1"));
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let site_id = Uuid::nil();
        let lapse = BillingTask::Lapse {
            site_id,
            ended_at: at,
        };
        let later = BillingTask::Lapse {
            site_id,
            ended_at: at + chrono::Duration::seconds(1),
        };
        assert_ne!(lapse.idempotency_key(), later.idempotency_key());
        let json = serde_json::to_value(&process).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "process", "svix_id": "msg_1"}));
        let reconcile = serde_json::to_value(BillingTask::Reconcile).unwrap();
        assert_eq!(reconcile, serde_json::json!({"kind": "reconcile"}));
        assert_eq!(
            BillingTask::Reconcile.idempotency_key(),
            None,
            "the slot's key is the scheduler's"
        );
    }
}
