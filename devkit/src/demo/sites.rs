//! The demo's sample sites, served on loopback (one listener per site).

use std::{collections::BTreeMap, net::SocketAddr};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use include_dir::{Dir, include_dir};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

static SITES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../demo/sites");

/// The TLD of every demo domain (reserved for examples, never real).
pub const DEMO_TLD: &str = "example";

/// A running demo site.
#[derive(Debug, Clone)]
pub struct DemoSite {
    /// Its domain (`boulangerie-muller.example`).
    pub domain: String,
    /// Where it listens.
    pub address: SocketAddr,
}

#[derive(Clone)]
struct Site {
    dir: &'static Dir<'static>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Serve every sample site until `stop`; returns where each listens.
pub async fn serve(stop: CancellationToken) -> std::io::Result<Vec<DemoSite>> {
    let mut running = Vec::new();
    for dir in SITES.dirs() {
        let Some(name) = dir.path().file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let site = Site {
            dir,
            headers: headers_of(dir),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let router = Router::new().fallback(page).with_state(site);
        let stop = stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "demo site stopped");
            }
        });
        running.push(DemoSite {
            domain: format!("{name}.{DEMO_TLD}"),
            address,
        });
    }
    Ok(running)
}

fn headers_of(dir: &Dir<'_>) -> Vec<(HeaderName, HeaderValue)> {
    let Some(text) = dir
        .get_file(dir.path().join("headers.toml"))
        .and_then(|f| f.contents_utf8())
    else {
        return Vec::new();
    };
    let table: BTreeMap<String, String> = toml::from_str(text).unwrap_or_default();
    table
        .into_iter()
        .filter_map(|(k, v)| Some((HeaderName::try_from(k).ok()?, HeaderValue::try_from(v).ok()?)))
        .collect()
}

async fn page(State(site): State<Site>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let mut response = if path.ends_with(".bmp") {
        // A large, real image, made on the fly (no binary files in the repo).
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "image/bmp")],
            Body::from(bitmap(1920, 1280)),
        )
            .into_response()
    } else {
        let candidates = if path.is_empty() || path.ends_with('/') {
            vec![format!("{path}index.html")]
        } else {
            vec![path.to_owned(), format!("{path}/index.html")]
        };
        match candidates
            .iter()
            .find_map(|p| site.dir.get_file(site.dir.path().join(p)))
            .filter(|f| !f.path().ends_with("headers.toml"))
        {
            Some(file) => {
                let html = file.path().extension().is_some_and(|e| e == "html");
                let content_type = if html {
                    "text/html; charset=utf-8"
                } else {
                    "application/octet-stream"
                };
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, content_type)],
                    file.contents().to_vec(),
                )
                    .into_response()
            }
            None => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/html")],
                "<h1>Not found</h1>",
            )
                .into_response(),
        }
    };
    for (name, value) in &site.headers {
        response.headers_mut().append(name.clone(), value.clone());
    }
    response
}

/// An uncompressed 24-bit BMP of `width` × `height` (a warm gradient).
fn bitmap(width: u32, height: u32) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let pixels = row * height;
    let mut bmp = Vec::with_capacity(54 + pixels as usize);
    bmp.extend_from_slice(b"BM");
    bmp.extend_from_slice(&(54 + pixels).to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&54u32.to_le_bytes());
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&width.to_le_bytes());
    bmp.extend_from_slice(&height.to_le_bytes());
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&24u16.to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&pixels.to_le_bytes());
    bmp.extend_from_slice(&[0; 16]);
    for y in 0..height {
        for x in 0..width {
            bmp.extend_from_slice(&[(x * 255 / width) as u8, 120, (y * 255 / height) as u8]);
        }
        bmp.resize(bmp.len() + (row - width * 3) as usize, 0);
    }
    bmp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_have_the_size_their_header_says() {
        let bmp = bitmap(3, 2);
        assert_eq!(&bmp[..2], b"BM");
        let size = u32::from_le_bytes(bmp[2..6].try_into().unwrap());
        assert_eq!(size as usize, bmp.len());
        assert_eq!(bmp.len(), 54 + 12 * 2);
    }

    #[test]
    fn every_site_has_a_home_page_and_valid_headers() {
        for dir in SITES.dirs() {
            assert!(
                dir.get_file(dir.path().join("index.html")).is_some(),
                "{:?}",
                dir.path()
            );
            let file = dir
                .get_file(dir.path().join("headers.toml"))
                .expect("headers.toml");
            let table: BTreeMap<String, String> = toml::from_str(file.contents_utf8().unwrap()).unwrap();
            assert_eq!(headers_of(dir).len(), table.len(), "{:?}", dir.path());
        }
    }
}
