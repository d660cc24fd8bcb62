//! Sample pages on loopback for `prospector bench audit` and the audit
//! stage's integration tests.
//!
//! | path        | what Lighthouse should find |
//! |-------------|-----------------------------|
//! | `/lean/`    | a small responsive page: viewport meta, readable text, a description, nothing blocking |
//! | `/medium/`  | responsive, but one render-blocking script with a long task and a 700 KB image |
//! | `/heavy/`   | no viewport meta, no description or `lang`, three render-blocking scripts with long tasks, a large render-blocking stylesheet, two large unoptimised images without sizes or `alt`, tiny low-contrast text and cramped links |
//! | `/hang/`    | starts a page and never finishes it (for timeouts) |
//! | anything else | 404 |
//!
//! Every page links a `data:` favicon, so no run depends on whether the
//! browser already asked for `/favicon.ico`.

use std::{convert::Infallible, fmt::Write as _, io, sync::Arc};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::task::AbortOnDropHandle;
use url::Url;

/// The sample pages, served until dropped.
pub struct AuditSite {
    base: Url,
    _server: AbortOnDropHandle<()>,
}

impl AuditSite {
    /// Serve on `127.0.0.1` on a free port.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let assets = Arc::new(Assets::build());
        let router = router(assets);
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "the sample site stopped");
            }
        });
        let base = Url::parse(&format!("http://{address}/"))
            .map_err(|e| io::Error::other(format!("bad sample site address: {e}")))?;
        Ok(Self {
            base,
            _server: AbortOnDropHandle::new(server),
        })
    }

    /// `http://127.0.0.1:PORT/{path}`
    pub fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.base.clone())
    }
}

struct Assets {
    lean: String,
    medium: String,
    heavy: String,
    heavy_css: String,
    scripts: Vec<String>,
    medium_photo: Bytes,
    heavy_photos: [Bytes; 2],
}

impl Assets {
    fn build() -> Self {
        Self {
            lean: LEAN.to_owned(),
            medium: MEDIUM.to_owned(),
            heavy: heavy_page(),
            heavy_css: heavy_stylesheet(),
            scripts: (1..=3).map(|n| blocking_script(n, 220)).collect(),
            medium_photo: Bytes::from(noise_bmp(560, 420, 7)),
            heavy_photos: [
                Bytes::from(noise_bmp(1000, 750, 11)),
                Bytes::from(noise_bmp(800, 600, 13)),
            ],
        }
    }
}

fn router(assets: Arc<Assets>) -> Router {
    let page = |pick: fn(&Assets) -> &String| {
        let assets = Arc::clone(&assets);
        get(move || {
            let assets = Arc::clone(&assets);
            async move { Html(pick(&assets).clone()) }
        })
    };
    let asset = |content_type: &'static str, pick: fn(&Assets) -> Bytes| {
        let assets = Arc::clone(&assets);
        get(move || {
            let assets = Arc::clone(&assets);
            async move { ([(header::CONTENT_TYPE, content_type)], pick(&assets)) }
        })
    };
    let script = |n: usize| {
        let assets = Arc::clone(&assets);
        get(move || {
            let assets = Arc::clone(&assets);
            async move {
                (
                    [(header::CONTENT_TYPE, "application/javascript")],
                    assets.scripts.get(n).cloned().unwrap_or_default(),
                )
            }
        })
    };
    Router::new()
        .route("/lean/", page(|a| &a.lean))
        .route("/medium/", page(|a| &a.medium))
        .route(
            "/medium/photo.bmp",
            asset("image/bmp", |a| a.medium_photo.clone()),
        )
        .route("/medium/app.js", script(0))
        .route("/heavy/", page(|a| &a.heavy))
        .route("/heavy/styles.css", {
            let assets = Arc::clone(&assets);
            get(move || {
                let assets = Arc::clone(&assets);
                async move { ([(header::CONTENT_TYPE, "text/css")], assets.heavy_css.clone()) }
            })
        })
        .route("/heavy/vendor-1.js", script(0))
        .route("/heavy/vendor-2.js", script(1))
        .route("/heavy/vendor-3.js", script(2))
        .route(
            "/heavy/photo-1.bmp",
            asset("image/bmp", |a| a.heavy_photos[0].clone()),
        )
        .route(
            "/heavy/photo-2.bmp",
            asset("image/bmp", |a| a.heavy_photos[1].clone()),
        )
        .route("/hang/", get(hang))
        .fallback(not_found)
}

/// The head of a page, then nothing, forever.
async fn hang() -> Response {
    let start = futures::stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(b"<!doctype html><html><head><title>Loading"))
    });
    let body = Body::from_stream(futures::StreamExt::chain(start, futures::stream::pending()));
    ([(header::CONTENT_TYPE, "text/html")], body).into_response()
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><html lang=\"en\"><head><title>Not found</title></head><body>Not found</body></html>",
        ),
    )
}

const LEAN: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Boulangerie Lumière — fresh bread in Esch</title>
<meta name="description" content="Sourdough, croissants and cakes baked every morning in Esch-sur-Alzette. Open Tuesday to Sunday from 7:00.">
<link rel="icon" href="data:,">
<style>
  body { font: 18px/1.5 system-ui, sans-serif; margin: 0; color: #1d1d1d; background: #fff; }
  header, main, footer { max-width: 40rem; margin: 0 auto; padding: 1rem; }
  h1 { font-size: 2rem; margin: 0 0 .5rem; }
  nav a { display: inline-block; padding: .75rem 1rem; color: #0b4f8a; }
  .logo { width: 64px; height: 64px; }
</style>
</head>
<body>
<header>
  <svg class="logo" viewBox="0 0 64 64" role="img" aria-label="Boulangerie Lumière logo"><circle cx="32" cy="32" r="30" fill="#e8b04a"/></svg>
  <h1>Boulangerie Lumière</h1>
  <nav><a href="#bread">Bread</a> <a href="#hours">Opening hours</a> <a href="#contact">Contact</a></nav>
</header>
<main>
  <h2 id="bread">Baked this morning</h2>
  <p>Sourdough loaves, butter croissants, fruit tarts and the cake of the week, made on the premises from local flour.</p>
  <h2 id="hours">Opening hours</h2>
  <p>Tuesday to Saturday 7:00–18:30, Sunday 7:00–12:30.</p>
</main>
<footer id="contact"><p>12 rue de l'Alzette, Esch-sur-Alzette · <a href="tel:+352000000">Call us</a></p></footer>
</body>
</html>
"##;

const MEDIUM: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Garage Weber — car repairs in Mersch</title>
<meta name="description" content="Servicing, tyres and repairs for every make, in Mersch since 1987.">
<link rel="icon" href="data:,">
<script src="/medium/app.js"></script>
<style>body { font: 17px/1.5 Georgia, serif; margin: 1rem; } img { max-width: 100%; height: auto; }</style>
</head>
<body>
<h1>Garage Weber</h1>
<p>Servicing, tyres and repairs for every make. Book by phone or drop by the workshop.</p>
<img src="/medium/photo.bmp" width="560" height="420" alt="The workshop">
<p><a href="tel:+352000001">Call the workshop</a></p>
</body>
</html>
"##;

fn heavy_page() -> String {
    let mut links = String::new();
    for n in 0..40 {
        let _ = write!(links, "<a href=\"/heavy/p{n}\" style=\"font-size:8px\">{n}</a>");
    }
    let mut text = String::new();
    for n in 0..30 {
        let _ = write!(
            text,
            "<p class=\"small\">Bienvenue chez nous! Paragraph {n} of our long story, set in a very small pale font that is hard to read on a phone.</p>"
        );
    }
    format!(
        r##"<!doctype html>
<html>
<head>
<title>Welcome</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/heavy/styles.css">
<script src="/heavy/vendor-1.js"></script>
<script src="/heavy/vendor-2.js"></script>
<script src="/heavy/vendor-3.js"></script>
</head>
<body style="width:1100px">
<div style="color:#bbb;background:#fff">{text}</div>
<img src="/heavy/photo-1.bmp">
<img src="/heavy/photo-2.bmp" style="width:200px">
<div>{links}</div>
</body>
</html>
"##
    )
}

/// A large stylesheet, almost all of it unused.
fn heavy_stylesheet() -> String {
    let mut css = String::from(".small { font-size: 9px; }\n");
    for n in 0..4000 {
        let _ = writeln!(
            css,
            ".unused-rule-{n} {{ margin: {n}px; padding: {}px; color: #{:06x}; }}",
            n % 17,
            (n * 7919) % 0xff_ffff
        );
    }
    css
}

/// A script with some weight and one long main-thread task.
fn blocking_script(n: usize, busy_ms: u32) -> String {
    let mut script = format!(
        "(function () {{\n  var end = Date.now() + {busy_ms};\n  while (Date.now() < end) {{}}\n  window.vendor{n} = [];\n"
    );
    for i in 0..3000 {
        let _ = writeln!(
            script,
            "  window.vendor{n}.push({{ id: {i}, label: 'item {i} of vendor {n}' }});"
        );
    }
    script.push_str("})();\n");
    script
}

/// An uncompressed 24-bit BMP of noise: as heavy as its pixels, and
/// incompressible.
fn noise_bmp(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let pixels = row * height;
    let mut bmp = Vec::with_capacity(54 + pixels as usize);
    bmp.extend_from_slice(b"BM");
    bmp.extend_from_slice(&(54 + pixels).to_le_bytes());
    bmp.extend_from_slice(&[0, 0, 0, 0]);
    bmp.extend_from_slice(&54u32.to_le_bytes());
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&width.to_le_bytes());
    bmp.extend_from_slice(&height.to_le_bytes());
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&24u16.to_le_bytes());
    bmp.extend_from_slice(&[0; 4]); // no compression
    bmp.extend_from_slice(&pixels.to_le_bytes());
    bmp.extend_from_slice(&2835u32.to_le_bytes());
    bmp.extend_from_slice(&2835u32.to_le_bytes());
    bmp.extend_from_slice(&[0; 8]);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..pixels {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bmp.push((state >> 24) as u8);
    }
    bmp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_bitmaps_have_a_valid_header_and_size() {
        let bmp = noise_bmp(10, 3, 1);
        assert_eq!(&bmp[..2], b"BM");
        let row = 32; // 30 bytes padded to 4
        assert_eq!(bmp.len(), 54 + row * 3);
        assert_eq!(
            u32::from_le_bytes(bmp[2..6].try_into().unwrap()) as usize,
            bmp.len()
        );
    }

    #[tokio::test]
    async fn the_site_serves_its_pages_and_404s_the_rest() {
        prospector::tls::init();
        let site = AuditSite::start().await.unwrap();
        let http = reqwest::Client::new();
        for (path, status) in [
            ("/lean/", 200),
            ("/heavy/", 200),
            ("/heavy/photo-1.bmp", 200),
            ("/medium/", 200),
            ("/nothing-here", 404),
        ] {
            let response = http.get(site.url(path)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}");
        }
        let heavy = http
            .get(site.url("/heavy/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!heavy.contains("name=\"viewport\""));
        let lean = http
            .get(site.url("/lean/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(lean.contains("name=\"viewport\""));
    }
}
