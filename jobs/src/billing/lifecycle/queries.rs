//! The statements the billing stage runs.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

/// A stored webhook delivery.
#[derive(Debug)]
pub struct StoredEvent {
    /// The bytes as signed.
    pub raw_body: Vec<u8>,
    /// Its `svix-timestamp`.
    pub signed_at: DateTime<Utc>,
    /// Set once applied (or ignored).
    pub processed_at: Option<DateTime<Utc>>,
}

/// The stored event `svix_id`.
pub async fn event(executor: impl PgExecutor<'_>, svix_id: &str) -> Result<Option<StoredEvent>, sqlx::Error> {
    let row = sqlx::query("SELECT raw_body, signed_at, processed_at FROM billing_events WHERE svix_id = $1")
        .bind(svix_id)
        .fetch_optional(executor)
        .await?;
    row.map(|r| {
        Ok(StoredEvent {
            raw_body: r.try_get("raw_body")?,
            signed_at: r.try_get("signed_at")?,
            processed_at: r.try_get("processed_at")?,
        })
    })
    .transpose()
}

/// Lock the event's row; `Some(processed)` when it exists.
pub async fn lock_event(conn: &mut PgConnection, svix_id: &str) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT processed_at IS NOT NULL FROM billing_events WHERE svix_id = $1 FOR UPDATE")
        .bind(svix_id)
        .fetch_optional(conn)
        .await
}

/// Mark the event processed with its outcome.
pub async fn finish_event(
    conn: &mut PgConnection,
    svix_id: &str,
    outcome: &str,
    site_id: Option<Uuid>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE billing_events SET processed_at = now(), outcome = $2, site_id = $3, error = $4 \
         WHERE svix_id = $1",
    )
    .bind(svix_id)
    .bind(outcome)
    .bind(site_id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// The site a checkout of a claim was created for.
pub async fn site_of_checkout(
    executor: impl PgExecutor<'_>,
    checkout_id: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT site_id FROM site_claims WHERE setup_checkout_id = $1 OR monthly_checkout_id = $1 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(checkout_id)
    .fetch_optional(executor)
    .await
}

/// The site of a subscription we have seen.
pub async fn site_of_subscription(
    executor: impl PgExecutor<'_>,
    subscription_id: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<Uuid>>(
        "SELECT site_id FROM subscriptions WHERE recurrente_subscription_id = $1",
    )
    .bind(subscription_id)
    .fetch_optional(executor)
    .await?
    .flatten())
}

/// A site, locked for the lifecycle change.
#[derive(Debug)]
pub struct LockedSite {
    /// `generated_sites.id`.
    pub id: Uuid,
    /// `draft`, `preview`, `live`, `paused`, …
    pub status: String,
    /// Set once the site was first paid for.
    pub sold_at: Option<DateTime<Utc>>,
    /// `prospects.id`.
    pub prospect_id: i64,
    /// `prospects.public_id`.
    pub business_id: Uuid,
}

/// Lock the site's row (every billing change of one site is serialised).
pub async fn lock_site(conn: &mut PgConnection, site_id: Uuid) -> Result<Option<LockedSite>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.id, s.status, s.sold_at, p.id AS prospect_id, s.business_id \
         FROM generated_sites s JOIN prospects p ON p.public_id = s.business_id \
         WHERE s.id = $1 FOR UPDATE OF s",
    )
    .bind(site_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(LockedSite {
            id: r.try_get("id")?,
            status: r.try_get("status")?,
            sold_at: r.try_get("sold_at")?,
            prospect_id: r.try_get("prospect_id")?,
            business_id: r.try_get("business_id")?,
        })
    })
    .transpose()
}

/// The e-mail of the site's latest claim.
pub async fn claim_email(conn: &mut PgConnection, site_id: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT email FROM site_claims WHERE site_id = $1 ORDER BY created_at DESC LIMIT 1")
        .bind(site_id)
        .fetch_optional(conn)
        .await
}

/// Who paid, as an event names them.
#[derive(Debug, Clone, Default)]
pub struct CustomerFacts<'a> {
    /// `us_…`.
    pub recurrente_user_id: Option<&'a str>,
    /// E-mail (falls back to the claim's).
    pub email: Option<&'a str>,
    /// Full name.
    pub full_name: Option<&'a str>,
}

/// The site's customer, created or updated from an event. A customer first
/// seen without a Recurrente user id (a reconciled one-time payment) is
/// adopted by the first event that names its user id, not duplicated.
pub async fn upsert_customer(
    conn: &mut PgConnection,
    site: &LockedSite,
    facts: &CustomerFacts<'_>,
    email: &str,
) -> Result<Uuid, sqlx::Error> {
    if let Some(user_id) = facts.recurrente_user_id {
        let adopted: Option<Uuid> = sqlx::query_scalar(
            "UPDATE customers SET recurrente_user_id = $2, email = $3, \
                 full_name = coalesce($4, full_name) \
             WHERE id = (SELECT id FROM customers WHERE site_id = $1 AND recurrente_user_id IS NULL \
                         ORDER BY created_at LIMIT 1) \
               AND NOT EXISTS (SELECT 1 FROM customers WHERE recurrente_user_id = $2) \
             RETURNING id",
        )
        .bind(site.id)
        .bind(user_id)
        .bind(email)
        .bind(facts.full_name)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = adopted {
            return Ok(id);
        }
        return sqlx::query_scalar(
            "INSERT INTO customers (business_id, site_id, recurrente_user_id, email, full_name) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (recurrente_user_id) DO UPDATE SET \
                 email = EXCLUDED.email, \
                 full_name = coalesce(EXCLUDED.full_name, customers.full_name), \
                 site_id = coalesce(customers.site_id, EXCLUDED.site_id), \
                 business_id = coalesce(customers.business_id, EXCLUDED.business_id) \
             RETURNING id",
        )
        .bind(site.business_id)
        .bind(site.id)
        .bind(user_id)
        .bind(email)
        .bind(facts.full_name)
        .fetch_one(conn)
        .await;
    }
    let existing: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM customers WHERE site_id = $1 ORDER BY created_at LIMIT 1")
            .bind(site.id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    sqlx::query_scalar(
        "INSERT INTO customers (business_id, site_id, email, full_name) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(site.business_id)
    .bind(site.id)
    .bind(email)
    .bind(facts.full_name)
    .fetch_one(conn)
    .await
}

/// A subscription's state as one event reports it.
#[derive(Debug, Clone)]
pub struct SubscriptionChange<'a> {
    /// `su_…`.
    pub recurrente_id: &'a str,
    /// Its customer.
    pub customer_id: Uuid,
    /// Its site.
    pub site_id: Uuid,
    /// The checkout that started it, when the event names it.
    pub checkout_id: Option<&'a str>,
    /// Its price (0: unknown, keep the stored one).
    pub amount_cents: i32,
    /// Its currency.
    pub currency: &'a str,
    /// `active`, `past_due`, `paused`, `cancelled`.
    pub status: &'a str,
    /// When the event happened (orders status changes).
    pub at: DateTime<Utc>,
    /// Whether the event shows the subscription started (create, payment).
    pub activates: bool,
}

/// Insert or update a subscription; its status changes only when `change`
/// is newer than the event that set it (a cancel wins a tie).
pub async fn upsert_subscription(
    conn: &mut PgConnection,
    change: &SubscriptionChange<'_>,
) -> Result<Uuid, sqlx::Error> {
    let cancelled_at = (change.status == "cancelled").then_some(change.at);
    let activated_at = change.activates.then_some(change.at);
    sqlx::query_scalar(
        r#"
        INSERT INTO subscriptions AS s
            (customer_id, site_id, recurrente_subscription_id, recurrente_checkout_id, amount_cents,
             currency, status, started_at, cancelled_at, state_changed_at, activated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $10)
        ON CONFLICT (recurrente_subscription_id) DO UPDATE SET
            status = CASE WHEN s.state_changed_at IS NULL OR s.state_changed_at < EXCLUDED.state_changed_at
                               OR (s.state_changed_at = EXCLUDED.state_changed_at AND EXCLUDED.status = 'cancelled')
                          THEN EXCLUDED.status ELSE s.status END,
            cancelled_at = CASE WHEN s.state_changed_at IS NULL OR s.state_changed_at < EXCLUDED.state_changed_at
                                     OR (s.state_changed_at = EXCLUDED.state_changed_at AND EXCLUDED.status = 'cancelled')
                                THEN EXCLUDED.cancelled_at ELSE s.cancelled_at END,
            state_changed_at = GREATEST(s.state_changed_at, EXCLUDED.state_changed_at),
            activated_at = LEAST(s.activated_at, EXCLUDED.activated_at),
            started_at = LEAST(s.started_at, EXCLUDED.started_at),
            site_id = coalesce(s.site_id, EXCLUDED.site_id),
            recurrente_checkout_id = coalesce(s.recurrente_checkout_id, EXCLUDED.recurrente_checkout_id),
            amount_cents = CASE WHEN EXCLUDED.amount_cents > 0 THEN EXCLUDED.amount_cents ELSE s.amount_cents END
        RETURNING id
        "#,
    )
    .bind(change.customer_id)
    .bind(change.site_id)
    .bind(change.recurrente_id)
    .bind(change.checkout_id)
    .bind(change.amount_cents.max(0))
    .bind(change.currency)
    .bind(change.status)
    .bind(change.at)
    .bind(cancelled_at)
    .bind(activated_at)
    .fetch_one(conn)
    .await
}

/// A payment to record.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    /// Its customer.
    pub customer_id: Uuid,
    /// The subscription it paid, if any.
    pub subscription_id: Option<Uuid>,
    /// `pa_…`.
    pub recurrente_id: &'a str,
    /// `ch_…`.
    pub checkout_id: Option<&'a str>,
    /// In cents.
    pub amount_cents: i32,
    /// `GTQ`/`USD`.
    pub currency: &'a str,
    /// Recurrente's fee, in cents.
    pub fee_cents: Option<i32>,
    /// `one_time` or `subscription`.
    pub payment_type: &'a str,
    /// `succeeded` or `failed`.
    pub status: &'a str,
    /// `card`, `bank_transfer` or none.
    pub method: Option<&'a str>,
    /// Card's last four digits.
    pub card_last4: Option<&'a str>,
    /// Card network.
    pub card_network: Option<&'a str>,
    /// When it was paid.
    pub at: DateTime<Utc>,
}

/// Record a payment once (by `recurrente_payment_id`); true when new.
pub async fn insert_payment(conn: &mut PgConnection, p: &NewPayment<'_>) -> Result<bool, sqlx::Error> {
    let net = p.fee_cents.map(|fee| p.amount_cents - fee);
    let paid_at = (p.status == "succeeded").then_some(p.at);
    let inserted: Option<Uuid> = sqlx::query_scalar(
        r#"
        INSERT INTO payments
            (customer_id, subscription_id, recurrente_payment_id, recurrente_checkout_id, amount_cents,
             currency, fee_cents, net_cents, payment_type, status, payment_method, card_last4,
             card_network, paid_at, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (recurrente_payment_id) DO NOTHING
        RETURNING id
        "#,
    )
    .bind(p.customer_id)
    .bind(p.subscription_id)
    .bind(p.recurrente_id)
    .bind(p.checkout_id)
    .bind(p.amount_cents.max(0))
    .bind(p.currency)
    .bind(p.fee_cents.map(|f| f.max(0)))
    .bind(net)
    .bind(p.payment_type)
    .bind(p.status)
    .bind(p.method)
    .bind(p.card_last4)
    .bind(p.card_network)
    .bind(paid_at)
    .bind(p.at)
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() && p.status == "succeeded" {
        sqlx::query("UPDATE customers SET lifetime_value_cents = lifetime_value_cents + $2 WHERE id = $1")
            .bind(p.customer_id)
            .bind(p.amount_cents.max(0))
            .execute(conn)
            .await?;
    }
    Ok(inserted.is_some())
}

/// Advance the site's open claim past a paid step.
pub async fn mark_claim_paid(
    conn: &mut PgConnection,
    site_id: Uuid,
    monthly: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE site_claims SET status = CASE WHEN $2 THEN 'paid' ELSE 'setup_paid' END \
         WHERE site_id = $1 AND status IN ('started', 'setup_paid') \
           AND ($2 OR status = 'started')",
    )
    .bind(site_id)
    .bind(monthly)
    .execute(conn)
    .await?;
    Ok(())
}

/// What the site's subscriptions say about it.
#[derive(Debug, Clone, Copy)]
pub struct SiteBilling {
    /// A started subscription is active or past due.
    pub paying: bool,
    /// A subscription was seen started.
    pub activated: bool,
    /// When the latest started-then-ended subscription ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// The billing state of `site_id`.
pub async fn site_billing(conn: &mut PgConnection, site_id: Uuid) -> Result<SiteBilling, sqlx::Error> {
    let row = sqlx::query(
        r#"
        SELECT coalesce(bool_or(status IN ('active', 'past_due')), false) AS paying,
               coalesce(bool_or(true), false) AS activated,
               max(state_changed_at) FILTER (WHERE status IN ('cancelled', 'paused')) AS ended_at
        FROM subscriptions
        WHERE site_id = $1 AND activated_at IS NOT NULL
        "#,
    )
    .bind(site_id)
    .fetch_one(conn)
    .await?;
    Ok(SiteBilling {
        paying: row.try_get("paying")?,
        activated: row.try_get("activated")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// Serve the site: its live version is the current one the first time.
pub async fn go_live(conn: &mut PgConnection, site_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE generated_sites SET status = 'live', \
             live_version_id = coalesce(live_version_id, current_version_id), \
             deployed_at = coalesce(deployed_at, now()), sold_at = coalesce(sold_at, now()), \
             paused_at = NULL \
         WHERE id = $1",
    )
    .bind(site_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Serve the paused page instead of the site.
pub async fn pause(conn: &mut PgConnection, site_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE generated_sites SET status = 'paused', paused_at = now() WHERE id = $1")
        .bind(site_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The business bought its site: its status, and a note on its timeline.
pub async fn record_purchase(conn: &mut PgConnection, prospect_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE prospects SET contact_status = 'purchased', website_status = 'sold' WHERE id = $1")
        .bind(prospect_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO prospect_interactions (prospect_id, interaction_type, subject, notes, outcome) \
         VALUES ($1, 'note', 'Site purchased', 'Paid with Recurrente; the site is live.', 'purchased')",
    )
    .bind(prospect_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// An `activity_log` entry by the webhook pipeline.
pub async fn activity(
    conn: &mut PgConnection,
    action: &str,
    site_id: Uuid,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO activity_log (action, entity_type, entity_id, details, actor_type) \
         VALUES ($1, 'generated_site', $2, $3, 'webhook')",
    )
    .bind(action)
    .bind(site_id)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Checkouts of open claims with no succeeded payment, last touched at or
/// before `quiet_since` and created after `expired_before` (older ones
/// have expired), least recently touched first.
pub async fn unsettled_checkouts(
    executor: impl PgExecutor<'_>,
    quiet_since: DateTime<Utc>,
    expired_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        r#"
        SELECT c.checkout_id
        FROM site_claims s
        CROSS JOIN LATERAL (VALUES (s.setup_checkout_id), (s.monthly_checkout_id)) AS c (checkout_id)
        WHERE s.status IN ('started', 'setup_paid')
          AND c.checkout_id IS NOT NULL
          AND s.updated_at <= $1
          AND s.created_at > $2
          AND NOT EXISTS (SELECT 1 FROM payments p
                          WHERE p.recurrente_checkout_id = c.checkout_id AND p.status = 'succeeded')
        ORDER BY s.updated_at, c.checkout_id
        LIMIT $3
        "#,
    )
    .bind(quiet_since)
    .bind(expired_before)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Subscriptions past due since at or before `quiet_since`.
pub async fn past_due_subscriptions(
    executor: impl PgExecutor<'_>,
    quiet_since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT recurrente_subscription_id FROM subscriptions \
         WHERE status = 'past_due' AND state_changed_at <= $1 AND recurrente_subscription_id IS NOT NULL \
         ORDER BY state_changed_at, recurrente_subscription_id LIMIT $2",
    )
    .bind(quiet_since)
    .bind(limit)
    .fetch_all(executor)
    .await
}
