//! Applying events and lapses to the database.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    BillingDeps, BillingError, BillingTask,
    notices::{self, NoticeKind},
    queries::{self, CustomerFacts, LockedSite, NewPayment, SubscriptionChange},
};
use crate::{
    billing::{
        CheckoutStep, SubscriptionId, WebhookEvent,
        events::{PaymentIntentEvent, SubscriptionEvent},
    },
    queue::EnqueueOptions,
    runtime::JobContext,
};

/// Apply the stored event `svix_id` once.
pub(super) async fn process(ctx: &JobContext, deps: &BillingDeps, svix_id: &str) -> Result<(), BillingError> {
    let stored = queries::event(&ctx.pool, svix_id)
        .await?
        .ok_or_else(|| BillingError::UnknownEvent(svix_id.to_owned()))?;
    if stored.processed_at.is_some() {
        return Ok(());
    }
    let event = match WebhookEvent::parse(&stored.raw_body) {
        Ok(event) => event,
        Err(e) => {
            let mut tx = ctx.pool.begin().await?;
            if queries::lock_event(&mut tx, svix_id).await? == Some(false) {
                queries::finish_event(&mut tx, svix_id, "malformed", None, Some(&e.to_string())).await?;
            }
            tx.commit().await?;
            tracing::warn!(error = %e, "a verified billing event is malformed");
            return Ok(());
        }
    };
    let handled = matches!(
        event,
        WebhookEvent::PaymentIntentSucceeded(_)
            | WebhookEvent::PaymentIntentFailed(_)
            | WebhookEvent::BankTransferSucceeded(_)
            | WebhookEvent::SubscriptionCreate(_)
            | WebhookEvent::SubscriptionPastDue(_)
            | WebhookEvent::SubscriptionPaused(_)
            | WebhookEvent::SubscriptionCancel(_)
    );
    if !handled {
        let mut tx = ctx.pool.begin().await?;
        if queries::lock_event(&mut tx, svix_id).await? == Some(false) {
            queries::finish_event(&mut tx, svix_id, "ignored", None, None).await?;
        }
        tx.commit().await?;
        tracing::info!(event_type = event.event_type(), "billing event ignored");
        return Ok(());
    }
    // Linking may ask Recurrente: done before any lock is taken. A payment
    // that names no site of ours is someone else's checkout on the account;
    // a subscription event may be waiting for its payment's event, so it is
    // retried, and set aside on its last attempt.
    let site_id = match link(ctx, deps, &event).await {
        Ok(site_id) => site_id,
        Err(e @ BillingError::Unlinked { .. }) if payment_family(&event) || ctx.is_last_attempt() => {
            let mut tx = ctx.pool.begin().await?;
            if queries::lock_event(&mut tx, svix_id).await? == Some(false) {
                queries::finish_event(&mut tx, svix_id, "ignored", None, Some(&e.to_string())).await?;
            }
            tx.commit().await?;
            tracing::warn!(
                event_type = event.event_type(),
                "billing event names no site of ours; ignored"
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let at = occurred_at(&event).unwrap_or(stored.signed_at);

    let mut tx = ctx.pool.begin().await?;
    match queries::lock_event(&mut tx, svix_id).await? {
        None => return Err(BillingError::UnknownEvent(svix_id.to_owned())),
        Some(true) => return Ok(()),
        Some(false) => {}
    }
    let site = queries::lock_site(&mut tx, site_id)
        .await?
        .ok_or_else(|| BillingError::Unlinked {
            event_type: event.event_type().to_owned(),
        })?;
    let step = event.site_link().and_then(|l| l.step);
    match &event {
        WebhookEvent::PaymentIntentSucceeded(e) | WebhookEvent::BankTransferSucceeded(e) => {
            payment(&mut tx, deps, &site, e, at, "succeeded", step).await?;
        }
        WebhookEvent::PaymentIntentFailed(e) => {
            payment(&mut tx, deps, &site, e, at, "failed", step).await?;
        }
        WebhookEvent::SubscriptionCreate(e) => subscription(&mut tx, deps, &site, e, at, "active").await?,
        WebhookEvent::SubscriptionPastDue(e) => {
            subscription(&mut tx, deps, &site, e, at, "past_due").await?;
            notices::queue(&mut tx, ctx, site.id, NoticeKind::PastDue, svix_id).await?;
        }
        WebhookEvent::SubscriptionPaused(e) => subscription(&mut tx, deps, &site, e, at, "paused").await?,
        WebhookEvent::SubscriptionCancel(e) => {
            subscription(&mut tx, deps, &site, e, at, "cancelled").await?;
        }
        _ => {}
    }
    settle_site(&mut tx, ctx, deps, &site, svix_id).await?;
    queries::activity(
        &mut tx,
        &format!("billing.{}", event.event_type()),
        site.id,
        json!({ "svix_id": svix_id, "object_id": event.object_id() }),
    )
    .await?;
    queries::finish_event(&mut tx, svix_id, "applied", Some(site.id), None).await?;
    tx.commit().await?;
    tracing::info!(event_type = event.event_type(), site.id = %site.id, "billing event applied");
    Ok(())
}

fn payment_family(event: &WebhookEvent) -> bool {
    matches!(
        event,
        WebhookEvent::PaymentIntentSucceeded(_)
            | WebhookEvent::PaymentIntentFailed(_)
            | WebhookEvent::BankTransferSucceeded(_)
    )
}

/// When the event happened: its `created_at`.
fn occurred_at(event: &WebhookEvent) -> Option<DateTime<Utc>> {
    match event {
        WebhookEvent::PaymentIntentSucceeded(e)
        | WebhookEvent::PaymentIntentFailed(e)
        | WebhookEvent::BankTransferPending(e)
        | WebhookEvent::BankTransferSucceeded(e)
        | WebhookEvent::BankTransferFailed(e) => e.created_at,
        WebhookEvent::SubscriptionCreate(e)
        | WebhookEvent::SubscriptionPastDue(e)
        | WebhookEvent::SubscriptionPaused(e)
        | WebhookEvent::SubscriptionCancel(e) => e.created_at,
        WebhookEvent::SetupIntentSucceeded(e) | WebhookEvent::SetupIntentCancelled(e) => e.created_at,
        WebhookEvent::Unknown { .. } => None,
    }
}

/// Our site for an event: the checkout's (or product's) metadata, the
/// claim that created the checkout, a subscription we know, or — for a
/// subscription event — the checkout Recurrente says started it.
async fn link(ctx: &JobContext, deps: &BillingDeps, event: &WebhookEvent) -> Result<Uuid, BillingError> {
    if let Some(link) = event.site_link() {
        return Ok(link.site_id);
    }
    let unlinked = || BillingError::Unlinked {
        event_type: event.event_type().to_owned(),
    };
    if let WebhookEvent::PaymentIntentSucceeded(e)
    | WebhookEvent::PaymentIntentFailed(e)
    | WebhookEvent::BankTransferSucceeded(e) = event
        && let Some(checkout) = e.checkout.as_ref().and_then(|c| c.id.as_deref())
        && let Some(site) = queries::site_of_checkout(&ctx.pool, checkout).await?
    {
        return Ok(site);
    }
    let Some(subscription) = event.subscription_id() else {
        return Err(unlinked());
    };
    if let Some(site) = queries::site_of_subscription(&ctx.pool, subscription).await? {
        return Ok(site);
    }
    let (Some(client), Ok(id)) = (&deps.client, SubscriptionId::parse(subscription)) else {
        return Err(unlinked());
    };
    let remote = client.get_subscription(&id).await?;
    let checkout = remote.checkout.and_then(|c| c.id).ok_or_else(unlinked)?;
    queries::site_of_checkout(&ctx.pool, &checkout)
        .await?
        .ok_or_else(unlinked)
}

async fn customer(
    conn: &mut PgConnection,
    site: &LockedSite,
    facts: CustomerFacts<'_>,
) -> Result<Uuid, BillingError> {
    let email = match facts.email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(email) => email.to_owned(),
        None => queries::claim_email(conn, site.id)
            .await?
            .ok_or(BillingError::NoEmail(site.id))?,
    };
    Ok(queries::upsert_customer(conn, site, &facts, &email).await?)
}

fn cents(value: Option<i64>) -> i32 {
    value.and_then(|v| i32::try_from(v).ok()).unwrap_or(0)
}

/// A payment: the customer, the ledger row, the subscription it pays.
async fn payment(
    conn: &mut PgConnection,
    deps: &BillingDeps,
    site: &LockedSite,
    e: &PaymentIntentEvent,
    at: DateTime<Utc>,
    status: &str,
    step: Option<CheckoutStep>,
) -> Result<(), BillingError> {
    let who = e.customer.as_ref();
    let customer_id = customer(
        conn,
        site,
        CustomerFacts {
            recurrente_user_id: who.and_then(|c| c.id.as_deref()),
            email: who.and_then(|c| c.email.as_deref()),
            full_name: who.and_then(|c| c.full_name.as_deref()),
        },
    )
    .await?;
    let currency = e
        .currency
        .clone()
        .unwrap_or_else(|| deps.settings.currency.as_str().to_owned());
    let checkout_id = e.checkout.as_ref().and_then(|c| c.id.as_deref());
    let amount = cents(e.amount_in_cents);
    let subscription_id = match (e.subscription_id(), status) {
        (Some(su), "succeeded") => Some(
            queries::upsert_subscription(
                conn,
                &SubscriptionChange {
                    recurrente_id: su,
                    customer_id,
                    site_id: site.id,
                    checkout_id,
                    amount_cents: amount,
                    currency: &currency,
                    status: "active",
                    at,
                    activates: true,
                },
            )
            .await?,
        ),
        _ => None,
    };
    let Some(payment_id) = e.id.as_deref() else {
        return Ok(());
    };
    let method = e.checkout.as_ref().and_then(|c| c.payment_method.as_ref());
    let card = method.and_then(|m| m.card.as_ref());
    let method_kind = method
        .and_then(|m| m.kind.as_deref())
        .and_then(|kind| match kind {
            "card" => Some("card"),
            k if k.starts_with("bank_transfer") => Some("bank_transfer"),
            _ => None,
        });
    let last4 = card
        .and_then(|c| c.last4.as_deref())
        .filter(|l| l.len() == 4 && l.chars().all(|c| c.is_ascii_digit()));
    queries::insert_payment(
        conn,
        &NewPayment {
            customer_id,
            subscription_id,
            recurrente_id: payment_id,
            checkout_id,
            amount_cents: amount,
            currency: &currency,
            fee_cents: e.fee.map(|f| cents(Some(f))),
            payment_type: if e.subscription_id().is_some() {
                "subscription"
            } else {
                "one_time"
            },
            status,
            method: method_kind,
            card_last4: last4,
            card_network: card.and_then(|c| c.network.as_deref()),
            at,
        },
    )
    .await?;
    if status == "succeeded" {
        let monthly = step == Some(CheckoutStep::Monthly) || e.subscription_id().is_some();
        queries::mark_claim_paid(conn, site.id, monthly).await?;
    }
    Ok(())
}

/// A subscription event: its customer and its status (ordered by time).
async fn subscription(
    conn: &mut PgConnection,
    deps: &BillingDeps,
    site: &LockedSite,
    e: &SubscriptionEvent,
    at: DateTime<Utc>,
    status: &str,
) -> Result<(), BillingError> {
    let Some(recurrente_id) = e.id.as_deref() else {
        return Ok(());
    };
    let customer_id = customer(
        conn,
        site,
        CustomerFacts {
            recurrente_user_id: e.customer_id.as_deref(),
            email: e.customer_email.as_deref(),
            full_name: e.customer_name.as_deref(),
        },
    )
    .await?;
    let price = e
        .product
        .as_ref()
        .and_then(|p| p.prices.first())
        .and_then(|p| p.get("amount_in_cents"))
        .and_then(|a| a.as_i64().or_else(|| a.as_str().and_then(|s| s.parse().ok())));
    let currency = e
        .product
        .as_ref()
        .and_then(|p| p.prices.first())
        .and_then(|p| p.get("currency"))
        .and_then(|c| c.as_str())
        .unwrap_or(deps.settings.currency.as_str())
        .to_owned();
    queries::upsert_subscription(
        conn,
        &SubscriptionChange {
            recurrente_id,
            customer_id,
            site_id: site.id,
            checkout_id: None,
            amount_cents: cents(price),
            currency: &currency,
            status,
            at,
            activates: status == "active",
        },
    )
    .await?;
    if status == "active" {
        queries::mark_claim_paid(conn, site.id, true).await?;
    }
    Ok(())
}

/// Bring the site in line with its subscriptions: live while one is paid
/// (resumed if it was paused), and a lapse scheduled once it ended.
async fn settle_site(
    conn: &mut PgConnection,
    ctx: &JobContext,
    deps: &BillingDeps,
    site: &LockedSite,
    svix_id: &str,
) -> Result<(), BillingError> {
    let billing = queries::site_billing(conn, site.id).await?;
    if !billing.activated {
        return Ok(());
    }
    let first_sale = site.sold_at.is_none();
    if billing.paying || first_sale {
        if site.status != "live" {
            queries::go_live(conn, site.id).await?;
            let action = if site.status == "paused" {
                "site.resumed"
            } else {
                "site.live"
            };
            queries::activity(conn, action, site.id, json!({ "svix_id": svix_id })).await?;
        }
        if first_sale {
            queries::record_purchase(conn, site.prospect_id).await?;
            queries::activity(conn, "site.purchased", site.id, json!({ "svix_id": svix_id })).await?;
            notices::queue(conn, ctx, site.id, NoticeKind::Welcome, "first_sale").await?;
        }
    }
    if !billing.paying
        && let Some(ended_at) = billing.ended_at
    {
        let grace = chrono::Duration::from_std(deps.settings.grace_period).unwrap_or_default();
        ctx.enqueuer
            .enqueue_with(
                conn,
                &BillingTask::Lapse {
                    site_id: site.id,
                    ended_at,
                },
                EnqueueOptions {
                    run_at: Some(ended_at + grace),
                    ..EnqueueOptions::default()
                },
            )
            .await?;
    }
    Ok(())
}

/// Pause the site if its subscription still has not been paid for when the
/// grace period after `ended_at` is over.
pub(super) async fn lapse(
    ctx: &JobContext,
    deps: &BillingDeps,
    site_id: Uuid,
    ended_at: DateTime<Utc>,
) -> Result<(), BillingError> {
    let mut tx = ctx.pool.begin().await?;
    let Some(site) = queries::lock_site(&mut tx, site_id).await? else {
        return Ok(());
    };
    let billing = queries::site_billing(&mut tx, site_id).await?;
    let grace = chrono::Duration::from_std(deps.settings.grace_period).unwrap_or_default();
    let due = billing.ended_at.is_some_and(|end| end + grace <= Utc::now());
    if billing.paying || site.status != "live" || !due {
        tracing::info!(site.id = %site_id, paying = billing.paying, "no lapse: the site is paid for or not live");
        tx.commit().await?;
        return Ok(());
    }
    queries::pause(&mut tx, site_id).await?;
    queries::activity(
        &mut tx,
        "site.paused",
        site_id,
        json!({ "ended_at": ended_at, "grace_period_secs": deps.settings.grace_period.as_secs() }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(site.id = %site_id, "site paused after its grace period");
    Ok(())
}
