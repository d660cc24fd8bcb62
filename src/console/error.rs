//! Console errors, answered as an HTML page with the status they mean.

use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

use super::access::{Refusal, refusal_text};

/// Everything a console page can fail with. 4xx show their message; 5xx
/// log the detail and show generic text.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Refused by the route guard.
    #[error("{}", refusal_text(*.0))]
    Refused(Refusal),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// Bad input.
    #[error("{0}")]
    BadRequest(String),
    /// It cannot be done in the current state.
    #[error("{0}")]
    Conflict(String),
    /// Too many failed sign-ins.
    #[error("too many failed sign-ins; try again in {} s", .0.as_secs().max(1))]
    Throttled(std::time::Duration),
    /// A template failed to render.
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Anything else on the server's side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Refused(Refusal::NoCaller) => StatusCode::UNAUTHORIZED,
            ConsoleError::Refused(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Template(_) | ConsoleError::Database(_) | ConsoleError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl From<crate::admin::AdminError> for ConsoleError {
    fn from(e: crate::admin::AdminError) -> Self {
        use crate::admin::AdminError as A;
        match e {
            A::NotFound(m) => ConsoleError::NotFound(m),
            A::BadRequest(m) | A::Unprocessable(m) => ConsoleError::BadRequest(m),
            A::Conflict(m) => ConsoleError::Conflict(m),
            A::Database(e) => ConsoleError::Database(e),
            other => ConsoleError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "console request failed");
            "Something went wrong on our side; the error is in the server's log.".to_owned()
        } else {
            self.to_string()
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Prospector</title>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>\
             <body><main class=\"narrow\"><h1>{title}</h1><p role=\"alert\">{}</p>\
             <p><a href=\"/console/\">Back to the console</a></p></main></body></html>",
            escape(&message)
        );
        let mut response = (status, Html(body)).into_response();
        if let ConsoleError::Throttled(wait) = &self
            && let Ok(value) = axum::http::HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// `text` safe inside HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}
