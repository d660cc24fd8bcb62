//! The claim pages: a business confirms its e-mail and plan, and is sent to
//! Recurrente's checkouts (setup fee, then the monthly plan).
//!
//! | route | what |
//! |---|---|
//! | `GET /claim/{token}` | the claim form (e-mail, plan) |
//! | `POST /claim/{token}` | starts or resumes the claim; 303 to the setup checkout |
//! | `GET /sites/{site_id}/paid?step=setup` | Recurrente's success URL: 303 to the monthly plan's checkout once the setup fee is paid |
//! | `GET /sites/{site_id}/paid?step=monthly` | thank-you page with the live address |
//! | `GET /sites/{site_id}/cancelled?step=…` | the payment was cancelled: back to the claim |
//!
//! Redirects only ever go to a checkout URL Recurrente returned (stored
//! with the claim): no address from the request is redirected to.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use prospector_jobs::{
    billing::{
        CheckoutStep,
        claims::{self, ClaimError, ClaimableSite},
    },
    domain::EmailAddress,
};
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use super::{PublicState, sites::escape};

fn valid_token(token: &str) -> bool {
    (22..=64).contains(&token.len())
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;\
         line-height:1.5;color:#1a1a1a}}label{{display:block;margin:1rem 0 .25rem;font-weight:600}}\
         input[type=email]{{width:100%;padding:.6rem;font-size:1rem;border:1px solid #555;border-radius:4px}}\
         button{{margin-top:1.5rem;padding:.7rem 1.4rem;font-size:1rem;background:#0b57d0;color:#fff;\
         border:0;border-radius:4px;cursor:pointer}}.error{{color:#a50e0e}}</style></head>\
         <body>{body}</body></html>",
        title = escape(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        "<h1>Not found</h1><p>This link is not valid.</p>",
    )
}

fn unavailable() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        "<h1>Please try again in a moment</h1><p>We could not reach the payment service.</p>",
    )
}

/// 303 to a checkout URL Recurrente returned.
fn to_checkout(url: &Url) -> Response {
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) if matches!(url.scheme(), "http" | "https") => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        _ => unavailable(),
    }
}

fn money(state: &PublicState, cents: u32) -> String {
    format!(
        "{} {}.{:02}",
        state.billing.settings.currency,
        cents / 100,
        cents % 100
    )
}

fn form(state: &PublicState, site: &ClaimableSite, email: &str, error: Option<&str>) -> Response {
    let plan = &state.billing.settings;
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let description = plan
        .monthly_plan
        .description
        .as_deref()
        .map(|d| format!(" ({})", escape(d)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Claim the website of {name}</h1>\
         <p>Your site goes live at <strong>{host}</strong> once both payments are made: \
         {setup_name}: <strong>{setup}</strong> once, then {monthly_name}{description}: \
         <strong>{monthly}</strong> a month.</p>{error}\
         <form method=\"post\" action=\"/claim/{token}\">\
         <label for=\"email\">Your e-mail address</label>\
         <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"email\" value=\"{email}\">\
         <fieldset style=\"margin-top:1rem\"><legend>Plan</legend>\
         <label><input type=\"radio\" name=\"plan\" value=\"monthly\" checked> Monthly</label></fieldset>\
         <button type=\"submit\">Continue to payment</button></form>",
        name = escape(&site.name),
        host = escape(&state.urls.live_host(&site.subdomain)),
        setup_name = escape(&plan.setup_fee.name),
        setup = money(state, plan.setup_fee.amount_cents),
        monthly_name = escape(&plan.monthly_plan.name),
        monthly = money(state, plan.monthly_plan.amount_cents),
        token = escape(&site.preview_token),
        email = escape(email),
    );
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page(status, &format!("Claim {}", site.name), &body)
}

fn already_claimed(state: &PublicState, site: &ClaimableSite) -> Response {
    let body = format!(
        "<h1>{name} is already claimed</h1><p>This website is live at \
         <a href=\"{url}\">{url}</a>.</p>",
        name = escape(&site.name),
        url = escape(&state.urls.live(&site.subdomain)),
    );
    page(StatusCode::CONFLICT, "Already claimed", &body)
}

async fn site_for_token(state: &PublicState, token: &str) -> Result<Option<ClaimableSite>, Response> {
    if !valid_token(token) {
        return Ok(None);
    }
    claims::site_by_token(&state.pool, token).await.map_err(|e| {
        tracing::error!(error = %e, "could not read a site to claim");
        unavailable()
    })
}

/// `GET /claim/{token}`.
pub async fn show(State(state): State<PublicState>, Path(token): Path<String>) -> Response {
    match site_for_token(&state, &token).await {
        Err(response) => response,
        Ok(None) => not_found(),
        Ok(Some(site)) if !site.claimable() => already_claimed(&state, &site),
        Ok(Some(site)) => form(&state, &site, "", None),
    }
}

/// The claim form's fields.
#[derive(Debug, Deserialize)]
pub struct ClaimForm {
    /// The customer's e-mail.
    #[serde(default)]
    email: String,
    /// The plan (`monthly`).
    #[serde(default)]
    plan: String,
}

fn claim_failure(state: &PublicState, site: &ClaimableSite, email: &str, error: &ClaimError) -> Response {
    match error {
        ClaimError::NotClaimable => already_claimed(state, site),
        ClaimError::UnknownSite | ClaimError::NoClaim => not_found(),
        ClaimError::SetupUnpaid => page(
            StatusCode::CONFLICT,
            "Payment pending",
            &format!(
                "<h1>We have not received the setup payment yet</h1><p>If you just paid, reload \
                 this page in a minute. Otherwise <a href=\"/claim/{}\">start again</a>.</p>",
                escape(&site.preview_token)
            ),
        ),
        ClaimError::Recurrente(e) if e.is_permanent() => {
            tracing::error!(error = %prospector_jobs::error_chain(e), "Recurrente refused a checkout");
            form(
                state,
                site,
                email,
                Some("The payment service refused this request; please contact us."),
            )
        }
        e => {
            tracing::error!(error = %prospector_jobs::error_chain(e), "a claim step failed");
            unavailable()
        }
    }
}

/// `POST /claim/{token}`.
pub async fn submit(
    State(state): State<PublicState>,
    Path(token): Path<String>,
    Form(input): Form<ClaimForm>,
) -> Response {
    let site = match site_for_token(&state, &token).await {
        Err(response) => return response,
        Ok(None) => return not_found(),
        Ok(Some(site)) => site,
    };
    if !site.claimable() {
        return already_claimed(&state, &site);
    }
    let email = match EmailAddress::parse(&input.email) {
        Ok(email) => email,
        Err(_) => {
            return form(
                &state,
                &site,
                &input.email,
                Some("Please enter a valid e-mail address."),
            );
        }
    };
    if input.plan != "monthly" {
        return form(&state, &site, &input.email, Some("Please choose a plan."));
    }
    let billing = &state.billing;
    match claims::start(
        &state.pool,
        billing.client.as_ref(),
        &billing.settings,
        &site,
        email.as_ref(),
    )
    .await
    {
        Ok(url) => to_checkout(&url),
        Err(e) => claim_failure(&state, &site, email.as_ref(), &e),
    }
}

/// The success and cancel URLs' query.
#[derive(Debug, Deserialize)]
pub struct StepQuery {
    /// `setup` or `monthly`.
    #[serde(default)]
    step: String,
}

async fn site_by_id(state: &PublicState, site_id: &str) -> Result<ClaimableSite, Response> {
    let Ok(id) = Uuid::parse_str(site_id) else {
        return Err(not_found());
    };
    match claims::site_by_id(&state.pool, id).await {
        Ok(Some(site)) => Ok(site),
        Ok(None) => Err(not_found()),
        Err(e) => {
            tracing::error!(error = %e, "could not read a site");
            Err(unavailable())
        }
    }
}

/// `GET /sites/{site_id}/paid?step=…`: after the setup fee, on to the
/// monthly plan; after the plan, the thank-you page.
pub async fn paid(
    State(state): State<PublicState>,
    Path(site_id): Path<String>,
    Query(query): Query<StepQuery>,
) -> Response {
    let site = match site_by_id(&state, &site_id).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    match query.step.parse::<CheckoutStep>() {
        Ok(CheckoutStep::Setup) if site.claimable() => {
            let billing = &state.billing;
            match claims::monthly(&state.pool, billing.client.as_ref(), &billing.settings, &site).await {
                Ok(url) => to_checkout(&url),
                Err(e) => claim_failure(&state, &site, "", &e),
            }
        }
        Ok(_) => {
            let body = format!(
                "<h1>Thank you!</h1><p>Your payment was received. The website of {name} goes live \
                 at <a href=\"{url}\">{url}</a> as soon as the payment is confirmed (usually within \
                 a minute).</p>",
                name = escape(&site.name),
                url = escape(&state.urls.live(&site.subdomain)),
            );
            page(StatusCode::OK, "Thank you", &body)
        }
        Err(_) => not_found(),
    }
}

/// `GET /sites/{site_id}/cancelled?step=…`.
pub async fn cancelled(
    State(state): State<PublicState>,
    Path(site_id): Path<String>,
    Query(_query): Query<StepQuery>,
) -> Response {
    let site = match site_by_id(&state, &site_id).await {
        Ok(site) => site,
        Err(response) => return response,
    };
    let body = format!(
        "<h1>Payment cancelled</h1><p>Nothing was charged. You can \
         <a href=\"/claim/{token}\">go back to the claim of {name}</a> at any time.</p>",
        token = escape(&site.preview_token),
        name = escape(&site.name),
    );
    page(StatusCode::OK, "Payment cancelled", &body)
}
