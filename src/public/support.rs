//! `GET/POST /support` on a live site's host: the customer asks for a
//! change. The ticket is stored and its build enqueued; the new version
//! waits for an operator's approval before it replaces the live one.

use axum::{
    Form,
    extract::{FromRequest, Request},
    http::{Method, StatusCode},
    response::{IntoResponse, Response},
};
use prospector_jobs::support::{self, SupportError, SupportSite};
use serde::Deserialize;

use super::{PublicState, claim::page, sites::escape};

/// The support form's fields.
#[derive(Debug, Deserialize)]
pub struct SupportForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    request: String,
}

fn form(site: &SupportSite, email: &str, request: &str, error: Option<&str>) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Ask for a change to {name}</h1>\
         <p>Tell us what to change. We prepare a new version and publish it once it has been checked.</p>\
         {error}<form method=\"post\" action=\"/support\">\
         <label for=\"email\">The e-mail address you paid with</label>\
         <input id=\"email\" name=\"email\" type=\"email\" required autocomplete=\"email\" value=\"{email}\">\
         <label for=\"request\">Your request</label>\
         <textarea id=\"request\" name=\"request\" required rows=\"6\" maxlength=\"{max}\" \
         style=\"width:100%;font-size:1rem\">{request}</textarea>\
         <button type=\"submit\">Send</button></form>",
        name = escape(&site.name),
        email = escape(email),
        request = escape(request),
        max = support::MAX_REQUEST_CHARS,
    );
    page(status, "Support", &body)
}

/// Answer `/support` on the host of a live site.
pub async fn handle(state: &PublicState, slug: Option<&str>, host: &str, request: Request) -> Response {
    let site = match support::site_by_host(&state.pool, slug, host).await {
        Ok(Some(site)) => site,
        Ok(None) => return (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a live site");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    match *request.method() {
        Method::GET => form(&site, "", "", None),
        Method::POST => {
            let Ok(Form(input)) = Form::<SupportForm>::from_request(request, &()).await else {
                return form(&site, "", "", Some("Please fill in both fields."));
            };
            match support::open_ticket(
                &state.pool,
                &state.enqueuer,
                site.id,
                &input.email,
                &input.request,
            )
            .await
            {
                Ok(ticket) => {
                    tracing::info!(ticket.id = %ticket.id, site.id = %site.id, "support ticket opened");
                    page(
                        StatusCode::OK,
                        "Request received",
                        "<h1>Thank you</h1><p>Your request was received. We will publish the change \
                         once it has been prepared and checked.</p>",
                    )
                }
                Err(e @ (SupportError::BadRequest | SupportError::NotTheCustomer)) => {
                    form(&site, &input.email, &input.request, Some(&e.to_string()))
                }
                Err(e) => {
                    tracing::error!(error = %prospector_jobs::error_chain(&e), "could not open a ticket");
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                }
            }
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}
