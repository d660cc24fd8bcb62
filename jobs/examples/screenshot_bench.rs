//! Captures per minute and peak RSS of the screenshot engine against a
//! sequential `chromium --headless --screenshot` loop, on the same local
//! pages.
//!
//! ```sh
//! cargo run --release -p prospector-jobs --example screenshot_bench -- [ROUNDS]
//! ```
#![allow(clippy::unwrap_used)] // a benchmark: fail loudly

use std::{fmt::Write as _, sync::Arc};

use axum::{Router, extract::Path, response::Html, routing::get};
use prospector_jobs::screenshot::{NetworkSettings, ResolverGuard, ScreenshotSettings, bench_captures};
use url::Url;

/// A business page of `sections` sections (about 500 CSS px each).
fn page(n: usize, sections: usize) -> String {
    let mut body = String::new();
    for i in 0..sections {
        let hue = (n * 47 + i * 31) % 360;
        write!(
            body,
            r#"<section style="padding:40px;background:hsl({hue},55%,85%)"><h2>Section {i}</h2>
<div style="display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:16px">
<div class="card"><div class="img"></div><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p></div>
<div class="card"><div class="img"></div><p>Sed do eiusmod tempor incididunt ut labore et dolore.</p></div>
<div class="card"><div class="img"></div><p>Ut enim ad minim veniam, quis nostrud exercitation.</p></div>
</div></section>"#
        )
        .unwrap();
    }
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Business {n}</title><style>
body{{margin:0;font-family:sans-serif}} header{{background:#223;color:#fff;padding:20px;display:flex;justify-content:space-between}}
.hero{{height:420px;background:linear-gradient(120deg,hsl({h},70%,50%),hsl({h2},70%,60%))}}
.card{{background:#fff;padding:12px;border-radius:8px;box-shadow:0 2px 6px rgba(0,0,0,.2)}}
.img{{height:140px;background:radial-gradient(circle,#fc6,#c63)}} footer{{background:#333;color:#eee;padding:40px}}
</style></head><body><header><b>Business {n}</b><nav>Inicio · Servicios · Contacto</nav></header>
<div class="hero"></div>{body}<footer>Dirección, teléfono, horario</footer></body></html>"#,
        h = n * 60 % 360,
        h2 = (n * 60 + 90) % 360,
    )
}

#[tokio::main]
async fn main() {
    let rounds: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/{n}",
        get(|Path(n): Path<usize>| async move { Html(page(n, 2 + n * 3)) }),
    );
    tokio::spawn(axum::serve(listener, app).into_future());
    let urls: Vec<Url> = (0..5)
        .map(|n| Url::parse(&format!("http://{addr}/{n}")).unwrap())
        .collect();

    let work = tempfile::tempdir().unwrap();
    let base = ScreenshotSettings {
        work_dir: Some(work.path().to_path_buf()),
        network: NetworkSettings {
            allow_private: false,
            allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
        },
        ..ScreenshotSettings::default()
    };
    let guard = Arc::new(ResolverGuard::from_settings(&base.network).unwrap());
    let mut viewport_only = base.clone();
    viewport_only.limits.max_height_css = viewport_only.desktop.height;
    let runs = [
        ("full page (default settings), 1 slot", base.clone(), 1),
        ("full page (default settings), 2 slots", base, 2),
        ("viewport only, like the CLI, 1 slot", viewport_only, 1),
    ];
    println!(
        "{} pages x {rounds} rounds, desktop 1366x768; the CLI loop takes viewport shots",
        urls.len()
    );
    for (name, settings, slots) in runs {
        let figures = bench_captures(Arc::new(settings), guard.clone(), &urls, rounds, slots)
            .await
            .unwrap();
        println!("\n{name}\n{figures}");
    }
}
