//! Previews and live sites.

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{PublicState, queries};

/// `GET /preview/{token}/`: the site's current preview. Never indexed
/// (`X-Robots-Tag` besides the page's own robots meta), revalidated on
/// every view (a new version replaces it).
pub async fn preview(
    State(state): State<PublicState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if token.len() < 22
        || token.len() > 64
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return not_found();
    }
    match queries::preview(&state.pool, &token).await {
        Ok(Some(page)) => html(page.html, &page.hash, &headers, "no-cache", true),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "could not read a preview");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Serve live sites by `Host`: a request for `{slug}.{sites_domain}` (or a
/// customer's verified domain) is answered here and never reaches the admin
/// or public routes; any other host goes on.
pub async fn serve_live_sites(State(state): State<PublicState>, request: Request, next: Next) -> Response {
    let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
    else {
        return next.run(request).await;
    };
    let ours = state
        .urls
        .public_url
        .host_str()
        .is_some_and(|h| host.split(':').next() == Some(h));
    let slug = state.urls.slug_of_host(&host).map(str::to_owned);
    if ours && slug.is_none() {
        return next.run(request).await;
    }
    let bare_host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h).to_owned();
    if slug.is_none() && (bare_host == "localhost" || bare_host.parse::<std::net::IpAddr>().is_ok()) {
        return next.run(request).await;
    }
    let site = match queries::live_site(&state.pool, slug.as_deref(), &bare_host).await {
        Ok(Some(site)) => site,
        Ok(None) if slug.is_some() => return not_found(),
        // Not a site of ours: the admin and public routes decide.
        Ok(None) => return next.run(request).await,
        Err(e) => {
            tracing::error!(error = %e, "could not read a live site");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    // A site is one page and its support form: anything else is not ours
    // to serve.
    let path = request.uri().path();
    if path == "/support" {
        return super::support::handle(&state, slug.as_deref(), &bare_host, request).await;
    }
    if !matches!(path, "/" | "/index.html") {
        return not_found();
    }
    let headers = request.headers().clone();
    match (site.status.as_str(), site.html, site.hash) {
        ("live", Some(html_body), Some(hash)) => {
            html(html_body, &hash, &headers, "public, max-age=300", false)
        }
        _ => paused(site.name.as_deref()),
    }
}

fn html(body: String, hash: &str, request: &HeaderMap, cache: &'static str, noindex: bool) -> Response {
    let etag = format!("\"{hash}\"");
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if noindex {
        h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    }
    response
}

fn paused(name: Option<&str>) -> Response {
    let name = name.map(escape).unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{name} – paused</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem\">\
         <h1>{name}</h1><p>This website is paused for now. Please come back later.</p></body></html>"
    );
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Body::from(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
