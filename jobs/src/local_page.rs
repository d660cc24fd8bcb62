//! One page served on loopback for as long as a job needs it: how the
//! quality gate's Lighthouse run and the screenshot stage load a generated
//! site version, which is not on any public host yet.
//!
//! The server answers `/` (and `/index.html`) with the page, `/robots.txt`
//! with "allow everything" (Lighthouse's SEO audit reads it), and 404 to
//! anything else. It stops when the [`LocalPage`] is dropped.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::{net::TcpListener, task::JoinHandle};
use url::Url;

/// A page served on `127.0.0.1` at a random port.
#[derive(Debug)]
pub struct LocalPage {
    address: SocketAddr,
    server: JoinHandle<()>,
}

impl LocalPage {
    /// Serve `html` until the returned value is dropped.
    pub async fn serve(html: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let app = Router::new()
            .route("/", get(page))
            .route("/index.html", get(page))
            .route("/robots.txt", get(robots))
            .with_state(Arc::new(html));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "local page server stopped");
            }
        });
        Ok(Self { address, server })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The page's URL.
    pub fn url(&self) -> Url {
        // Invariant: a loopback socket address always makes a valid URL.
        #[allow(clippy::expect_used)]
        Url::parse(&format!("http://{}/", self.address)).expect("a loopback URL")
    }
}

impl Drop for LocalPage {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn page(State(html): State<Arc<String>>) -> Response {
    let mut response = (StatusCode::OK, html.as_str().to_owned()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "User-agent: *\nAllow: /\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_the_page_and_robots_then_stops() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let page = LocalPage::serve("<h1>Hello</h1>".into()).await.unwrap();
        let url = page.url();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let body = client
            .get(url.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "<h1>Hello</h1>");
        let robots = client.get(url.join("robots.txt").unwrap()).send().await.unwrap();
        assert!(robots.text().await.unwrap().contains("Allow: /"));
        let missing = client.get(url.join("x").unwrap()).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        drop(page);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while client.get(url.clone()).send().await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server outlived its owner"
            );
            tokio::task::yield_now().await;
        }
    }
}
