//! The local server's HTTP routes: Recurrente's `/api/`, and the checkout
//! page.

use axum::{
    Form, Json, Router,
    body::{Body, Bytes},
    extract::{Path, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::{SecondsFormat, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::{
    CheckoutState, Injection, LocalRecurrente, LocalServerError, Payer, RecordedRequest, StoredCheckout,
    StoredItem, SubscriptionState, lock, new_id, page, webhooks,
};
use crate::billing::{
    checkout::{BillingInterval, Currency, MAX_METADATA_KEYS, QUANTITY_RANGE, check_metadata_entry},
    wire::parse_timestamp,
};

/// Largest request body read.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub(super) fn router(server: LocalRecurrente) -> Router {
    let api = Router::new()
        .route("/api/test", get(test))
        .route("/api/checkouts", post(create_checkout))
        .route("/api/checkouts/", post(create_checkout))
        .route("/api/checkouts/{id}", get(get_checkout))
        .route(
            "/api/subscriptions/{id}",
            get(get_subscription).delete(cancel_subscription),
        )
        .layer(middleware::from_fn_with_state(server.clone(), guard));
    Router::new()
        .merge(api)
        .route("/checkout-session/{id}", get(checkout_page))
        .route("/checkout-session/{id}/pay", post(pay_from_page))
        .with_state(server)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Record the request, apply a queued injection, then check the keys.
async fn guard(State(server): State<LocalRecurrente>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    };
    let config = &server.inner.config;
    let key_matches = |name: &str, expected: &str| {
        parts
            .headers
            .get(name)
            .is_some_and(|v| bool::from(v.as_bytes().ct_eq(expected.as_bytes())))
    };
    let authorized = key_matches("x-public-key", config.public_key.expose_secret())
        & key_matches("x-secret-key", config.secret_key.expose_secret());
    let injection = {
        let mut state = lock(&server.inner.state);
        let injection = state.injections.pop_front();
        let injected = match &injection {
            Some(Injection::Status { status, .. }) => Some(*status),
            _ => None,
        };
        state.requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            authorized,
            injected,
            body: serde_json::from_slice(&bytes).ok(),
        });
        injection
    };
    match injection {
        Some(Injection::Status { status, retry_after }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = error(status, format!("Injected {}", status.as_u16()));
            if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(Injection::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "Invalid API keys");
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

async fn test(State(server): State<LocalRecurrente>) -> Response {
    let name = &server.inner.config.account_name;
    Json(json!({ "message": format!("Hello {name} 🌎") })).into_response()
}

async fn create_checkout(State(server): State<LocalRecurrente>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "The body must be a JSON object");
    };
    let checkout = match parse_checkout(&body) {
        Ok(checkout) => checkout,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let checkout_url = format!("{}/checkout-session/{}", server.public_url(host), checkout.id);
    let id = checkout.id.clone();
    {
        let mut state = lock(&server.inner.state);
        state.checkout_order.push(id.clone());
        state.checkouts.insert(id.clone(), checkout);
    }
    (
        StatusCode::CREATED,
        Json(json!({ "id": id, "checkout_url": checkout_url })),
    )
        .into_response()
}

/// The documented rules for `POST /api/checkouts`, as 422 messages.
fn parse_checkout(body: &Map<String, Value>) -> Result<StoredCheckout, String> {
    let items = body
        .get("items")
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or("items must be a non-empty list")?;
    let items = items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_item(item).map_err(|e| format!("items[{index}]: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let url = |key: &str| -> Result<Option<String>, String> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => match url::Url::parse(s) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(s.clone())),
                _ => Err(format!("{key} must be an absolute http(s) URL")),
            },
            Some(_) => Err(format!("{key} must be a string")),
        }
    };
    let success_url = url("success_url")?;
    let cancel_url = url("cancel_url")?;
    let metadata = metadata(body.get("metadata"))?;
    let expires_at = match body.get("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_timestamp(s).ok_or("expires_at must be an ISO 8601 timestamp")?),
        Some(_) => return Err("expires_at must be a string".into()),
    };
    Ok(StoredCheckout {
        id: new_id("ch_"),
        items,
        success_url,
        cancel_url,
        metadata,
        expires_at,
        created_at: Utc::now(),
        state: CheckoutState::Unpaid,
        payment: None,
    })
}

fn parse_item(item: &Value) -> Result<StoredItem, String> {
    let item = item.as_object().ok_or("must be an object")?;
    if item.contains_key("product_id") || item.contains_key("price_id") {
        return Err("catalogue items (product_id, price_id) are not served locally".into());
    }
    let name = item
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or("name is required")?;
    let currency = match item.get("currency").and_then(Value::as_str) {
        Some("GTQ") => Currency::Gtq,
        Some("USD") => Currency::Usd,
        _ => return Err("currency must be GTQ or USD".into()),
    };
    let amount_in_cents = item
        .get("amount_in_cents")
        .and_then(Value::as_i64)
        .ok_or("amount_in_cents must be an integer")?;
    let minimum = i64::from(currency.minimum_cents());
    if amount_in_cents < minimum {
        return Err(format!(
            "amount_in_cents must be at least {minimum} for {}",
            currency.as_str()
        ));
    }
    let quantity = match item.get("quantity") {
        None | Some(Value::Null) => 1,
        Some(q) => q
            .as_i64()
            .filter(|q| u8::try_from(*q).is_ok_and(|q| QUANTITY_RANGE.contains(&q)))
            .ok_or("quantity must be between 1 and 9")?,
    };
    let recurring = match item.get("charge_type").and_then(Value::as_str) {
        None | Some("one_time") => None,
        Some("recurring") => {
            let interval = match item.get("billing_interval").and_then(Value::as_str) {
                Some("week") => BillingInterval::Week,
                Some("month") => BillingInterval::Month,
                Some("year") => BillingInterval::Year,
                _ => return Err("billing_interval must be week, month or year".into()),
            };
            let count = match item.get("billing_interval_count") {
                None | Some(Value::Null) => 1,
                Some(c) => c
                    .as_u64()
                    .and_then(|c| u32::try_from(c).ok())
                    .filter(|c| *c >= 1)
                    .ok_or("billing_interval_count must be a positive integer")?,
            };
            if item.get("has_dynamic_pricing").and_then(Value::as_bool) == Some(true) {
                return Err("has_dynamic_pricing applies to one-time items only".into());
            }
            Some((interval, count))
        }
        Some(_) => return Err("charge_type must be one_time or recurring".into()),
    };
    Ok(StoredItem {
        name: name.to_owned(),
        description: item.get("description").and_then(Value::as_str).map(str::to_owned),
        currency,
        amount_in_cents,
        quantity,
        recurring,
        metadata: metadata(item.get("metadata"))?,
        product_id: new_id("prod_"),
    })
}

fn metadata(value: Option<&Value>) -> Result<Map<String, Value>, String> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err("metadata must be an object".into()),
    };
    if map.len() > MAX_METADATA_KEYS {
        return Err(format!("metadata holds at most {MAX_METADATA_KEYS} keys"));
    }
    for (key, value) in map {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        check_metadata_entry(key, &text).map_err(|e| e.to_string())?;
    }
    Ok(map.clone())
}

async fn get_checkout(State(server): State<LocalRecurrente>, Path(id): Path<String>) -> Response {
    let state = lock(&server.inner.state);
    let Some(checkout) = state.checkouts.get(&id) else {
        return error(StatusCode::NOT_FOUND, "Not found");
    };
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let payment = checkout
        .payment
        .as_ref()
        .map(|p| json!({"id": p.id, "paymentable": {"type": p.paymentable_type, "id": p.paymentable_id}}));
    let paid = checkout.state == CheckoutState::Paid;
    Json(json!({
        "id": checkout.id,
        "status": if paid { "paid" } else { "unpaid" },
        "payment": payment,
        "payment_method": paid.then(|| json!({
            "id": "pay_m_local4242", "type": "card",
            "card": {"last4": "4242", "network": "visa"},
        })),
        "transfer_setups": [],
        "metadata": checkout.metadata,
        "expires_at": checkout.expires_at.map(time),
        "success_url": checkout.success_url,
        "cancel_url": checkout.cancel_url,
        "created_at": time(checkout.created_at),
        // A string, as Recurrente sends it.
        "total_in_cents": checkout.total_cents().to_string(),
        "currency": checkout.currency().as_str(),
        "latest_intent": checkout.payment.as_ref().map(|p| json!({
            "id": p.id, "type": "PaymentIntent", "data": {"auth_code": "000000"},
        })),
    }))
    .into_response()
}

async fn get_subscription(State(server): State<LocalRecurrente>, Path(id): Path<String>) -> Response {
    let state = lock(&server.inner.state);
    let Some(sub) = state.subscriptions.get(&id) else {
        return error(StatusCode::NOT_FOUND, "Not found");
    };
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let full_name = &sub.customer.payer.full_name;
    let (first_name, last_name) = full_name.split_once(' ').unwrap_or((full_name, ""));
    Json(json!({
        "id": sub.id,
        "description": sub.item.name,
        "status": sub.state.as_str(),
        "current_period_start": time(sub.period_start),
        "current_period_end": time(sub.period_end),
        "subscriber": {
            "id": sub.customer.id,
            "first_name": first_name,
            "last_name": last_name,
            "full_name": full_name,
            "email": sub.customer.payer.email,
            "phone_number": null,
        },
        "checkout": {"id": sub.checkout_id},
        "product": {"id": sub.item.product_id},
    }))
    .into_response()
}

async fn cancel_subscription(State(server): State<LocalRecurrente>, Path(id): Path<String>) -> Response {
    let event = match server.set_subscription_state(&id, SubscriptionState::Cancelled, "subscription.cancel")
    {
        Ok(event) => event,
        Err(LocalServerError::UnknownSubscription(_)) => {
            return error(StatusCode::NOT_FOUND, "Not found");
        }
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    };
    // Delivered before answering, so a test sees the webhook once the call
    // returns (Svix would deliver it moments later).
    server
        .deliver(vec![event], &webhooks::DeliveryOptions::default())
        .await;
    Json(json!({ "message": "Suscripción cancelada" })).into_response()
}

async fn checkout_page(State(server): State<LocalRecurrente>, Path(id): Path<String>) -> Response {
    let state = lock(&server.inner.state);
    match state.checkouts.get(&id) {
        Some(checkout) => Html(page::checkout(checkout)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(page::message("Checkout not found", "There is no such checkout.")),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct PayForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    full_name: String,
}

async fn pay_from_page(
    State(server): State<LocalRecurrente>,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let default = Payer::default();
    let payer = Payer {
        email: Some(form.email.trim())
            .filter(|e| e.contains('@'))
            .map_or(default.email, str::to_owned),
        full_name: Some(form.full_name.trim())
            .filter(|n| !n.is_empty())
            .map_or(default.full_name, str::to_owned),
    };
    match server
        .pay(&id, &payer, &webhooks::DeliveryOptions::default())
        .await
    {
        Ok(_) => {
            let success = lock(&server.inner.state)
                .checkouts
                .get(&id)
                .and_then(|c| c.success_url.clone());
            match success {
                Some(url) => Redirect::to(&url).into_response(),
                None => Html(page::message("Paid", "Thank you: the payment went through.")).into_response(),
            }
        }
        Err(e) => {
            let status = match e {
                LocalServerError::UnknownCheckout(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            (status, Html(page::message("Payment refused", &e.to_string()))).into_response()
        }
    }
}
