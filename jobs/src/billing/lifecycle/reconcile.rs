//! The reconciliation poller: what a missed webhook would have said,
//! learnt from Recurrente's API.
//!
//! Svix retries a delivery for days, but an endpoint can be down longer, an
//! event can be lost, and test keys fire no webhooks at all. On each slot
//! of the `reconcile-billing` schedule ([`super::BillingTask::Reconcile`]):
//!
//! - every checkout of an open claim that has no succeeded payment and was
//!   last touched more than `reconcile_after` ago (and is younger than
//!   `checkout_lifetime`) is read with `GET /api/checkouts/{id}`; a paid
//!   one becomes the `payment_intent.succeeded` event its webhook would
//!   have carried (the checkout's payment, method, metadata and total; the
//!   subscriber of a recurring one from `GET /api/subscriptions/{id}`);
//! - every subscription past due for more than `reconcile_after` is read
//!   with `GET /api/subscriptions/{id}`; one that is active, paused or
//!   cancelled again becomes that `subscription.*` event.
//!
//! Each such event is stored in the ledger under the deterministic id
//! `reconcile:<object id>:<status>` ([`ledger::record_reconciled`]) and
//! applied by the same `Process` job as a webhook. So running the poller
//! twice stores nothing new, and a late real webhook (another `svix-id`)
//! is applied on top without counting anything twice: payments are unique
//! by their `pa_…` id, subscriptions by their `su_…` id, the customer by
//! the site (a customer first seen without a Recurrente user id is adopted
//! by the event that brings it).
//!
//! A checkout or subscription Recurrente does not know (a 4xx) is skipped
//! and logged; a transient failure fails the job, which the queue retries
//! (what was recorded already is not recorded again).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{BillingDeps, BillingError, queries};
use crate::{
    billing::{
        Checkout, CheckoutId, CheckoutStatus, RecurrenteClient, RecurrenteError, Subscription,
        SubscriptionId, SubscriptionStatus,
        ledger::{self, Recorded},
    },
    runtime::JobContext,
};

/// Checkouts and subscriptions asked about per run, at most.
pub const BATCH: i64 = 200;

/// What one run learnt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Checkouts asked about.
    pub checkouts: usize,
    /// Subscriptions asked about.
    pub subscriptions: usize,
    /// Events newly recorded (each with its `Process` job).
    pub recorded: usize,
}

/// One run of the poller (see the module docs).
pub(super) async fn reconcile(ctx: &JobContext, deps: &BillingDeps) -> Result<(), BillingError> {
    let Some(client) = &deps.client else {
        tracing::info!("no Recurrente API keys: nothing to reconcile");
        return Ok(());
    };
    let now = Utc::now();
    let quiet = chrono::Duration::from_std(deps.settings.reconcile_after).unwrap_or_default();
    let lifetime = chrono::Duration::from_std(deps.settings.checkout_lifetime).unwrap_or_default();
    let mut run = Reconciled::default();

    for checkout_id in queries::unsettled_checkouts(&ctx.pool, now - quiet, now - lifetime, BATCH).await? {
        let Ok(id) = CheckoutId::parse(&checkout_id) else {
            continue;
        };
        run.checkouts += 1;
        let Some(checkout) = skip_unknown(client.get_checkout(&id).await, "checkout")? else {
            continue;
        };
        let Some((payment_id, body)) = paid_checkout_event(client, &checkout, now).await? else {
            continue;
        };
        if ledger::record_reconciled(&ctx.pool, &ctx.enqueuer, &payment_id, "succeeded", &body).await?
            == Recorded::New
        {
            run.recorded += 1;
        }
    }

    for subscription_id in queries::past_due_subscriptions(&ctx.pool, now - quiet, BATCH).await? {
        let Ok(id) = SubscriptionId::parse(&subscription_id) else {
            continue;
        };
        run.subscriptions += 1;
        let Some(remote) = skip_unknown(client.get_subscription(&id).await, "subscription")? else {
            continue;
        };
        let Some((event_type, status)) = subscription_change(remote.status) else {
            continue;
        };
        // The period tells a later change to the same status apart.
        let period = remote.current_period_end.map_or(0, |t| t.timestamp());
        let body = subscription_event(&remote, event_type, now);
        if ledger::record_reconciled(
            &ctx.pool,
            &ctx.enqueuer,
            &subscription_id,
            &format!("{status}:{period}"),
            &body,
        )
        .await?
            == Recorded::New
        {
            run.recorded += 1;
        }
    }
    tracing::info!(
        checkouts = run.checkouts,
        subscriptions = run.subscriptions,
        recorded = run.recorded,
        "billing reconciled"
    );
    Ok(())
}

/// A 4xx about one object skips it (logged); anything else is the job's.
fn skip_unknown<T>(
    result: Result<T, RecurrenteError>,
    what: &'static str,
) -> Result<Option<T>, BillingError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_permanent() => {
            tracing::warn!(error = %e, object = what, "Recurrente refused a reconciliation read; skipped");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The event a paid checkout's webhook would have carried, with its
/// payment id; `None` while it is not paid.
async fn paid_checkout_event(
    client: &RecurrenteClient,
    checkout: &Checkout,
    now: DateTime<Utc>,
) -> Result<Option<(String, Vec<u8>)>, BillingError> {
    if checkout.status != CheckoutStatus::Paid {
        return Ok(None);
    }
    let Some(payment) = checkout.payment.as_ref() else {
        return Ok(None);
    };
    let Some(payment_id) = payment.id.clone() else {
        return Ok(None);
    };
    let paymentable = payment.paymentable.as_ref();
    let subscriber = match paymentable
        .and_then(|p| p.subscription_id())
        .and_then(|su| SubscriptionId::parse(su).ok())
    {
        Some(su) => {
            skip_unknown(client.get_subscription(&su).await, "subscription")?.and_then(|s| s.subscriber)
        }
        None => None,
    };
    let payment_json = json!({
        "id": payment_id,
        "paymentable": paymentable.map(|p| json!({ "type": p.kind, "id": p.id })),
    });
    let method = checkout.payment_method.as_ref().map(|m| {
        json!({
            "id": m.id,
            "type": m.kind,
            "card": m.card.as_ref().map(|c| json!({ "last4": c.last4, "network": c.network })),
        })
    });
    let body = json!({
        "id": payment_id,
        "event_type": "payment_intent.succeeded",
        "created_at": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "amount_in_cents": checkout.total_in_cents,
        "currency": checkout.currency,
        "checkout": {
            "id": checkout.id,
            "status": "paid",
            "payment": payment_json,
            "payment_method": method,
            "metadata": Value::Object(checkout.metadata.clone()),
        },
        "payment": payment_json,
        "customer": subscriber.map(|s| json!({ "id": s.id, "email": s.email, "full_name": s.full_name })),
        "reconciled": true,
    });
    // A `Value` built above always encodes.
    Ok(Some((payment_id, serde_json::to_vec(&body).unwrap_or_default())))
}

/// The event for a past-due subscription Recurrente now reports
/// otherwise, and the status it sets.
fn subscription_change(status: SubscriptionStatus) -> Option<(&'static str, &'static str)> {
    match status {
        SubscriptionStatus::Active => Some(("subscription.create", "active")),
        SubscriptionStatus::Paused => Some(("subscription.paused", "paused")),
        SubscriptionStatus::Cancelled | SubscriptionStatus::UnableToStart => {
            Some(("subscription.cancel", "cancelled"))
        }
        SubscriptionStatus::PastDue | SubscriptionStatus::Unknown => None,
    }
}

fn subscription_event(remote: &Subscription, event_type: &str, now: DateTime<Utc>) -> Vec<u8> {
    let subscriber = remote.subscriber.clone().unwrap_or_default();
    let body = json!({
        "id": remote.id,
        "event_type": event_type,
        "created_at": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "customer_id": subscriber.id,
        "customer_email": subscriber.email,
        "customer_name": subscriber.full_name,
        "product": { "id": remote.product.as_ref().and_then(|p| p.id.clone()) },
        "reconciled": true,
    });
    // A `Value` built above always encodes.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_settled_status_makes_an_event() {
        assert_eq!(
            subscription_change(SubscriptionStatus::Cancelled),
            Some(("subscription.cancel", "cancelled"))
        );
        assert_eq!(subscription_change(SubscriptionStatus::PastDue), None);
        assert_eq!(subscription_change(SubscriptionStatus::Unknown), None);
    }
}
