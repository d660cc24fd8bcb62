//! A page on an allowed loopback address (127.0.0.1) that reaches for a
//! server on a loopback address outside the allow-list (127.0.0.2) every
//! way a browser can: an image, an iframe, a fetch, a WebSocket, a
//! preconnect, and an iframe through a redirect; `/redirect` sends the
//! navigation itself there. The bait server counts every connection it
//! accepts, so "nothing reached it" means not even a TCP handshake.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Router,
    http::{StatusCode, header},
    response::{Html, IntoResponse},
    routing::get,
};
use tokio::{io::AsyncWriteExt, net::TcpListener};
use tokio_util::task::AbortOnDropHandle;

/// The server the page must never reach.
pub struct Bait {
    pub address: SocketAddr,
    connections: Arc<AtomicUsize>,
    _server: AbortOnDropHandle<()>,
}

impl Bait {
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Listen on `ip` (e.g. 127.0.0.2), answering anything with a small page.
pub async fn bait(ip: &str) -> Bait {
    let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret")
                    .await;
            });
        }
    });
    Bait {
        address,
        connections,
        _server: AbortOnDropHandle::new(server),
    }
}

/// The baiting site on 127.0.0.1: `/` (the page) and `/redirect` (302 to
/// the bait). Returns its address.
pub async fn baiting_site(bait: SocketAddr) -> (SocketAddr, AbortOnDropHandle<()>) {
    let page = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bakery Bel Air</title>
<meta name="description" content="Fresh bread every morning.">
<link rel="preconnect" href="http://{bait}">
</head><body>
<h1>Bakery Bel Air</h1>
<p>Fresh bread every morning, cakes on Sundays.</p>
<img src="http://{bait}/pixel.png" alt="our shop" width="40" height="40">
<iframe src="http://{bait}/frame" title="map"></iframe>
<iframe src="/redirect" title="hop"></iframe>
<script>
fetch("http://{bait}/api").catch(() => {{}});
try {{ new WebSocket("ws://{bait}/socket"); }} catch (e) {{}}
</script>
</body></html>"#
    );
    let target = format!("http://{bait}/landing");
    let router =
        Router::new()
            .route("/", get(move || async move { Html(page.clone()) }))
            .route(
                "/redirect",
                get(move || async move {
                    (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response()
                }),
            )
            .route("/robots.txt", get(|| async { "User-agent: *\nAllow: /\n" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (address, AbortOnDropHandle::new(server))
}
