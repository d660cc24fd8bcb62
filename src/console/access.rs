//! Deny by default: every route is registered through [`Routes`] with the
//! role it needs, and a guard in front of each handler refuses callers
//! without it.
//!
//! - No caller: the API answers 401; a console page redirects to the login
//!   form (GET) or answers 401.
//! - A weaker role: 403.
//! - A state-changing request (anything but GET/HEAD) from a browser
//!   session must carry the session's CSRF token, as the `_csrf` form field
//!   or the `X-CSRF-Token` header (htmx sends it); 403 otherwise. Token
//!   callers (`Authorization: Bearer`) send no cookies, so they cannot be
//!   forged cross-site and need none.
//!
//! [`Routes::specs`] lists the table, which the access tests walk with each
//! role and none.

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::Request,
    handler::Handler,
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::MethodRouter,
};

use super::{Role, Staff, secret, staff::Via};

/// Largest form body the CSRF check reads.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The header htmx and scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The form field pages send the CSRF token in.
pub const CSRF_FIELD: &str = "_csrf";

/// Which side a route is on: they answer a missing caller differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// JSON under `/api`.
    Api,
    /// HTML pages under `/console`.
    Console,
}

/// One row of the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The method.
    pub method: Method,
    /// The path, with `{param}` placeholders.
    pub path: &'static str,
    /// The weakest role allowed.
    pub role: Role,
    /// API or console.
    pub surface: Surface,
}

/// A router whose every route declares its role.
pub struct Routes<S> {
    surface: Surface,
    specs: Vec<RouteSpec>,
    router: Router<S>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// An empty table for `surface`.
    pub fn new(surface: Surface) -> Self {
        Self {
            surface,
            specs: Vec::new(),
            router: Router::new(),
        }
    }

    /// `GET path` for `role`.
    pub fn get<H: Handler<T, S>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::GET, path, role, axum::routing::get(handler))
    }

    /// `POST path` for `role`.
    pub fn post<H: Handler<T, S>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::POST, path, role, axum::routing::post(handler))
    }

    /// `PUT path` for `role`.
    pub fn put<H: Handler<T, S>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::PUT, path, role, axum::routing::put(handler))
    }

    /// `DELETE path` for `role`.
    pub fn delete<H: Handler<T, S>, T: 'static>(self, path: &'static str, role: Role, handler: H) -> Self {
        self.add(Method::DELETE, path, role, axum::routing::delete(handler))
    }

    /// Every route of `other` (same surface) added to this table.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        debug_assert_eq!(self.surface, other.surface);
        self.specs.extend(other.specs);
        self.router = self.router.merge(other.router);
        self
    }

    fn add(mut self, method: Method, path: &'static str, role: Role, route: MethodRouter<S>) -> Self {
        let surface = self.surface;
        let guarded = route.route_layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            guard(surface, role, request, next)
        }));
        self.router = self.router.route(path, guarded);
        self.specs.push(RouteSpec {
            method,
            path,
            role,
            surface,
        });
        self
    }

    /// The table.
    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    /// The router (only the table's routes).
    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

/// Why the guard refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nobody signed in.
    NoCaller,
    /// The caller's role is too weak.
    Forbidden,
    /// The CSRF token is missing or wrong.
    Csrf,
}

async fn guard(surface: Surface, needed: Role, request: Request, next: Next) -> Response {
    let Some(staff) = request.extensions().get::<Staff>().cloned() else {
        return refuse(surface, Refusal::NoCaller, &request);
    };
    if !staff.role.allows(needed) {
        return refuse(surface, Refusal::Forbidden, &request);
    }
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if safe || staff.via != Via::Session {
        return next.run(request).await;
    }
    let Some(expected) = staff.csrf_token.as_deref() else {
        return refuse(surface, Refusal::Csrf, &request);
    };
    match csrf_checked(request, expected).await {
        Ok(request) => next.run(request).await,
        Err(Some(request)) => refuse(surface, Refusal::Csrf, &request),
        Err(None) => (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
    }
}

/// The request back when it carries `expected` (header or form field);
/// `Err(Some)` when it does not, `Err(None)` when its body is too large to
/// read.
async fn csrf_checked(request: Request, expected: &str) -> Result<Request, Option<Request>> {
    if let Some(given) = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if secret::same(given, expected) {
            Ok(request)
        } else {
            Err(Some(request))
        };
    }
    if !is_form(request.headers()) {
        return Err(Some(request));
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return Err(None);
    };
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    let request = Request::from_parts(parts, Body::from(bytes));
    match given {
        Some(given) if secret::same(&given, expected) => Ok(request),
        _ => Err(Some(request)),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn refuse(surface: Surface, why: Refusal, request: &Request) -> Response {
    match (surface, why) {
        (Surface::Api, Refusal::NoCaller) => crate::admin::AdminError::Unauthorized.into_response(),
        (Surface::Api, _) => (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "error": refusal_text(why) })),
        )
            .into_response(),
        (Surface::Console, Refusal::NoCaller) if request.method() == Method::GET => {
            let next = request.uri().path_and_query().map_or("/console/", |p| p.as_str());
            let target = format!(
                "/console/login?next={}",
                form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            Redirect::to(&target).into_response()
        }
        (Surface::Console, _) => super::error::ConsoleError::Refused(why).into_response(),
    }
}

/// What a refusal says.
pub fn refusal_text(why: Refusal) -> &'static str {
    match why {
        Refusal::NoCaller => "sign in first",
        Refusal::Forbidden => "your role does not allow this",
        Refusal::Csrf => "the form's security token is missing or out of date; reload the page and try again",
    }
}

/// The path a login may send the browser back to: a console path on this
/// server, never another site (`//evil.example`, `https://…`, `/\evil`).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with("/console/")
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.contains("://")
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/console/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/console/prospects?tier=hot")),
            "/console/prospects?tier=hot"
        );
        for bad in [
            None,
            Some("https://evil.example/"),
            Some("//evil.example/console/"),
            Some("/console/\\evil"),
            Some("/api/status"),
            Some("/console/x?u=https://evil"),
            Some("/console/\r\nSet-Cookie: x"),
        ] {
            assert_eq!(safe_next(bad), "/console/", "{bad:?}");
        }
    }
}
