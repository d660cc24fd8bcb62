//! The capture engine against real Chromium and hostile pages served on
//! loopback. Each test starts its own [`BrowserSlot`]; none is skipped when
//! Chromium is missing (`scripts/test` installs it).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use image::{GenericImageView, ImageFormat};
use prospector_jobs::{
    audit::FormFactor,
    screenshot::{
        AllowAll, BrowserSlot, CaptureError, CaptureLimits, MediaKind, MediaStore, NetworkSettings, Refusal,
        RequestGuard, ResolverGuard, ScreenshotScale, ScreenshotSettings, analyse, phash_distance,
        process::processes_in_group, store_screenshot,
    },
};
use url::Url;

// ---------------------------------------------------------------- pages

/// A small business site as a third party would make it: header, nav,
/// hero, cards, footer; responsive, with the body turning green on phones.
const SITE: &str = r##"<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Panadería Sol</title>
<style>
  body { margin: 0; padding: 24px; background: rgb(240, 240, 250); font-family: sans-serif; }
  @media (max-width: 600px) { body { background: rgb(0,128,0) } }
  header { background: #1d3557; color: #fff; padding: 16px 24px; display: flex; justify-content: space-between; }
  nav a { color: #fff; margin-left: 16px; }
  .hero { height: 320px; background: linear-gradient(90deg, #e63946, #f1c453); margin: 16px 0; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 16px; }
  .card { background: #fff; padding: 16px; min-height: 180px; border: 1px solid #ccc; }
  footer { margin-top: 24px; background: #457b9d; color: #fff; padding: 24px; }
  .fade { animation: fade 10s linear infinite; }
  @keyframes fade { from { opacity: 0 } to { opacity: 1 } }
</style></head><body>
<header><strong>Panadería Sol</strong><nav><a href="#">Pan</a><a href="#">Pasteles</a><a href="#">Contacto</a></nav></header>
<div class="hero fade"></div>
<div class="cards">
  <div class="card"><h2>Pan dulce</h2><p>Horneado cada mañana.</p></div>
  <div class="card"><h2>Pasteles</h2><p>Para toda ocasión.</p></div>
  <div class="card"><h2>Café</h2><p>De Huehuetenango.</p></div>
</div>
<footer>Zona 1, Ciudad de Guatemala · 2222-0000</footer>
</body></html>"##;

/// An old site with no mobile viewport: laid out 980 wide on a phone.
const NO_VIEWPORT: &str = r#"<!doctype html><html><head><title>Old site</title></head>
<body style="margin:0;background:#fff"><div style="width:960px;height:1200px;background:linear-gradient(#345,#9ab);color:#fff;font-size:40px">
Taller Mecánico · desde 1998</div></body></html>"#;

const TALL: &str = r#"<!doctype html><html><head><meta name="viewport" content="width=device-width"><title>Tall</title></head>
<body style="margin:0"><div style="height:100000px;background:repeating-linear-gradient(#fff 0 50px,#036 50px 100px)"></div></body></html>"#;

/// Grows forever: a block every 20 ms, and more whenever the bottom is
/// in view.
const INFINITE: &str = r#"<!doctype html><html><head><title>Feed</title></head><body style="margin:0">
<div id="feed"></div><div id="end" style="height:10px"></div>
<script>
  const feed = document.getElementById('feed');
  let n = 0;
  function more() { for (let i = 0; i < 3; i++) { const d = document.createElement('div');
    d.style.cssText = 'height:600px;border-bottom:4px solid #333;background:hsl(' + (n++ * 37 % 360) + ',60%,70%)';
    d.textContent = 'Post ' + n; feed.appendChild(d); } }
  more();
  setInterval(more, 20);
  new IntersectionObserver(() => more()).observe(document.getElementById('end'));
</script></body></html>"#;

const DIALOGS: &str = r#"<!doctype html><html><head><title>Dialogs</title></head>
<body style="margin:0;padding:40px;background:linear-gradient(#fde,#9cf)">
<h1>Hello</h1><p id="answer">pending</p>
<script>
  window.onbeforeunload = e => { e.preventDefault(); e.returnValue = 'Stay?'; return 'Stay?'; };
  window.addEventListener('load', () => {
    alert('Welcome!');
    const ok = confirm('Accept cookies?');
    document.getElementById('answer').textContent = ok ? 'accepted' : 'dismissed';
    alert('Done');
  });
</script></body></html>"#;

/// Remembers a visit in a cookie and in local storage.
const MEMORY: &str = r#"<!doctype html><html><head><title>-</title></head>
<body style="padding:30px;background:linear-gradient(#abc,#fed)"><h1>Memory</h1>
<script>
  const seen = document.cookie.includes('visited=1') || localStorage.getItem('visited') === '1';
  document.cookie = 'visited=1; max-age=3600';
  localStorage.setItem('visited', '1');
  document.title = seen ? 'remembered' : 'fresh';
</script></body></html>"#;

const BLANK: &str = "<!doctype html><html><head><title>Blank</title></head><body></body></html>";

const ONE_COLOUR: &str = r#"<!doctype html><html><head><title>Green</title></head><body style="background:rgb(0,128,0)"></body></html>"#;

fn away_page(landing: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>Leaving</title></head><body style="background:#ccc"><h1>Leaving…</h1>
<script>window.addEventListener('load', () => setTimeout(() => {{ location.href = '{landing}'; }}, 50));</script></body></html>"#
    )
}

const LANDING: &str = r#"<!doctype html><html><head><title>Landing elsewhere</title></head>
<body style="margin:0;padding:30px;background:linear-gradient(90deg,#036,#6a0)"><h1 style="color:#fff">Somewhere else</h1><p>Text</p></body></html>"#;

const DOWNLOAD_PAGE: &str = r#"<!doctype html><html><head><title>Download</title></head>
<body style="padding:30px;background:linear-gradient(#eee,#abc)"><h1>Your file is coming</h1>
<script>window.addEventListener('load', () => { location.href = '/file.bin'; });</script></body></html>"#;

/// Allocates until the renderer runs out of its (small, in the test)
/// JavaScript heap and crashes.
const OOM: &str = r#"<!doctype html><html><head><title>Hungry</title></head><body><h1>Eating memory</h1>
<script>const hoard = []; setTimeout(() => { for (;;) hoard.push(new Array(1e6).fill(Math.random())); }, 10);</script></body></html>"#;

const BUSY: &str = r#"<!doctype html><html><head><title>Busy</title></head><body><h1>Spinning</h1>
<script>window.addEventListener('load', () => setTimeout(() => { for (;;) {} }, 10));</script></body></html>"#;

fn private_page(other: SocketAddr) -> String {
    format!(
        r#"<!doctype html><html><head><title>Reaches inside</title></head>
<body style="padding:30px;background:linear-gradient(#fed,#9bd)"><h1>Inside</h1>
<img src="http://{other}/pixel.png">
<iframe src="http://{other}/frame"></iframe>
<script>
  fetch('http://{other}/fetch').catch(() => {{}});
  new Worker(URL.createObjectURL(new Blob(["fetch('http://{other}/worker').catch(() => {{}})"])));
</script></body></html>"#
    )
}

// --------------------------------------------------------------- server

#[derive(Clone)]
struct Pages {
    other: SocketAddr,
}

async fn drip() -> Response {
    let head = futures::stream::once(async {
        Ok::<_, std::io::Error>(bytes(
            "<!doctype html><html><head><title>Dripping</title></head><body style=\"padding:30px;background:linear-gradient(#ffd,#8ad)\"><h1>Still loading</h1>",
        ))
    });
    let tail = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok(bytes("<!-- . -->")), ()))
    });
    (
        [(header::CONTENT_TYPE, "text/html")],
        Body::from_stream(futures::StreamExt::chain(head, tail)),
    )
        .into_response()
}

fn bytes(s: &'static str) -> axum::body::Bytes {
    axum::body::Bytes::from_static(s.as_bytes())
}

async fn hang() -> Response {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    StatusCode::NO_CONTENT.into_response()
}

fn router(pages: Pages) -> Router {
    Router::new()
        .route("/site", get(|| async { Html(SITE) }))
        .route("/no-viewport", get(|| async { Html(NO_VIEWPORT) }))
        .route("/tall", get(|| async { Html(TALL) }))
        .route("/infinite", get(|| async { Html(INFINITE) }))
        .route("/dialogs", get(|| async { Html(DIALOGS) }))
        .route("/blank", get(|| async { Html(BLANK) }))
        .route("/memory", get(|| async { Html(MEMORY) }))
        .route("/green", get(|| async { Html(ONE_COLOUR) }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/drip", get(drip))
        .route("/hang", get(hang))
        .route("/oom", get(|| async { Html(OOM) }))
        .route("/busy", get(|| async { Html(BUSY) }))
        .route("/download", get(|| async { Html(DOWNLOAD_PAGE) }))
        .route(
            "/file.bin",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "application/octet-stream"),
                        (header::CONTENT_DISPOSITION, "attachment; filename=\"report.bin\""),
                    ],
                    vec![0u8; 64 * 1024],
                )
            }),
        )
        .route(
            "/away",
            get(|State(p): State<Pages>| async move { Html(away_page(&format!("http://{}/landing", p.other))) }),
        )
        .route(
            "/private",
            get(|State(p): State<Pages>| async move { Html(private_page(p.other)) }),
        )
        .route("/landing", get(|| async { Html(LANDING) }))
        .fallback(|| async { Html(LANDING) })
        .with_state(pages)
}

/// Records the path of every request a server answers.
async fn record(
    State(log): State<Arc<Mutex<Vec<String>>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    log.lock().unwrap().push(request.uri().path().to_owned());
    next.run(request).await
}

struct Server {
    main: SocketAddr,
    other: SocketAddr,
    /// Paths the other host was asked for.
    other_log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.main)).unwrap()
    }
}

/// The main host on 127.0.0.1 and a second origin on 127.0.0.2.
async fn serve() -> Server {
    let other_listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let other = other_listener.local_addr().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let main = listener.local_addr().unwrap();
    let other_log = Arc::new(Mutex::new(Vec::new()));
    let pages = Pages { other };
    let recorded = router(pages.clone()).layer(axum::middleware::from_fn_with_state(
        Arc::clone(&other_log),
        record,
    ));
    tokio::spawn(axum::serve(other_listener, recorded).into_future());
    tokio::spawn(axum::serve(listener, router(pages)).into_future());
    Server {
        main,
        other,
        other_log,
    }
}

// -------------------------------------------------------------- helpers

fn settings(work: &Path) -> ScreenshotSettings {
    let mut settings = ScreenshotSettings {
        work_dir: Some(work.to_path_buf()),
        ..ScreenshotSettings::default()
    };
    settings.limits = CaptureLimits {
        load_timeout: Duration::from_secs(8),
        fonts_timeout: Duration::from_secs(2),
        settle: Duration::from_millis(100),
        total_timeout: Duration::from_secs(30),
        max_height_css: 16_000,
        max_late_navigations: 3,
    };
    settings.network = NetworkSettings {
        allow_private: false,
        allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
    };
    settings
}

fn loopback_guard(allow: &str) -> Arc<dyn RequestGuard> {
    Arc::new(
        ResolverGuard::from_settings(&NetworkSettings {
            allow_private: false,
            allow_networks: vec![allow.parse().unwrap()],
        })
        .unwrap(),
    )
}

fn slot(work: &Path) -> BrowserSlot {
    let settings = settings(work);
    let guard = loopback_guard("127.0.0.0/8");
    BrowserSlot::new(Arc::new(settings), guard)
}

fn pixel(png: &[u8], x: u32, y: u32) -> [u8; 3] {
    let image = image::load_from_memory_with_format(png, ImageFormat::Png).unwrap();
    let p = image.get_pixel(x, y).0;
    [p[0], p[1], p[2]]
}

/// Profile directories the engine left in `work`.
fn profiles_left(work: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(work)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("prospector-screenshot-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Wait (bounded) until no process of group `pgid` is alive.
async fn group_is_gone(pgid: u32) -> bool {
    for _ in 0..200 {
        if processes_in_group(pgid).is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

async fn assert_shut_down(mut slot: BrowserSlot, work: &Path) {
    let pid = slot.browser_pid();
    slot.shutdown().await;
    assert_eq!(slot.browser_pid(), None);
    if let Some(pid) = pid {
        assert!(
            group_is_gone(pid).await,
            "processes left in group {pid}: {:?}",
            processes_in_group(pid)
        );
    }
    assert!(
        profiles_left(work).is_empty(),
        "profiles left: {:?}",
        profiles_left(work)
    );
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn a_site_is_captured_on_desktop_and_really_on_mobile() {
    // Arrange
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();

    // Act
    let desktop = slot
        .capture(&server.url("/site"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    let mobile = slot
        .capture(&server.url("/site"), FormFactor::Mobile, &limits)
        .await
        .unwrap();

    // Assert: desktop is 1366 wide at DPR 1, its body is not green.
    assert_eq!(desktop.width, 1366, "{desktop:?}");
    assert_eq!(desktop.css_width, 1366);
    assert!(desktop.height >= 768, "{desktop:?}");
    assert_eq!(desktop.title, "Panadería Sol");
    assert_eq!(desktop.http_status, Some(200));
    assert!(desktop.load_complete);
    assert_eq!(pixel(&desktop.png, 8, 300), [240, 240, 250]);
    // Mobile: 390 CSS pixels wide, the phone media query applies, and the
    // cards stack (the page is taller than on desktop).
    assert_eq!(mobile.width, 390, "{mobile:?}");
    assert_eq!(mobile.css_width, 390);
    assert_eq!(mobile.scale, ScreenshotScale::Css);
    assert_eq!(pixel(&mobile.png, 8, 300), [0, 128, 0]);
    assert!(
        mobile.height > desktop.height,
        "mobile {} desktop {}",
        mobile.height,
        desktop.height
    );
    // The infinite fade animation was switched off: the hero is fully drawn.
    let hero = pixel(&desktop.png, 40, 300);
    assert!(hero[0] > 200, "hero pixel {hero:?}");

    // Both are kept: analysed and stored content-addressed.
    let store = MediaStore::local(&work.path().join("media")).unwrap();
    for capture in [&desktop, &mobile] {
        let analysis = analyse(capture, &slot.settings().analysis).unwrap();
        // 400 wide, never enlarged.
        assert_eq!(analysis.thumbnail_width, 400.min(capture.width));
        if let Ok(dir) = std::env::var("SCREENSHOT_TEST_OUT") {
            let name = format!("{dir}/site-{}", capture.form_factor);
            std::fs::write(format!("{name}.png"), &capture.png).unwrap();
            std::fs::write(format!("{name}-thumb.jpg"), &analysis.thumbnail_jpeg).unwrap();
        }
        let stored = store_screenshot(&store, capture, &analysis).await.unwrap();
        assert!(stored.png.created);
        assert_eq!(store.get(&stored.png.key).await.unwrap(), capture.png);
        assert_eq!(stored.thumbnail.key.kind(), MediaKind::Jpeg);
        let again = store_screenshot(&store, capture, &analysis).await.unwrap();
        assert!(!again.png.created && !again.thumbnail.created);
    }
    let d = analyse(&desktop, &slot.settings().analysis).unwrap();
    let m = analyse(&mobile, &slot.settings().analysis).unwrap();
    assert!(phash_distance(&d.phash, &m.phash).unwrap() > 0);

    assert_eq!(slot.launches(), 1, "one browser served both captures");
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn each_capture_starts_with_no_cookies_or_storage_from_the_last() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();

    let mut titles = Vec::new();
    for form_factor in [FormFactor::Desktop, FormFactor::Desktop, FormFactor::Mobile] {
        let capture = slot
            .capture(&server.url("/memory"), form_factor, &limits)
            .await
            .unwrap();
        titles.push(capture.title);
    }

    assert_eq!(titles, ["fresh", "fresh", "fresh"]);
    assert_eq!(slot.launches(), 1);
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn device_scale_gives_three_pixels_per_css_pixel_on_mobile() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut settings = settings(work.path());
    settings.scale = ScreenshotScale::Device;
    let limits = settings.limits.clone();
    let mut slot = BrowserSlot::new(Arc::new(settings), loopback_guard("127.0.0.0/8"));

    let mobile = slot
        .capture(&server.url("/site"), FormFactor::Mobile, &limits)
        .await
        .unwrap();

    assert_eq!(mobile.width, 390 * 3, "{mobile:?}");
    assert_eq!(pixel(&mobile.png, 20, 900), [0, 128, 0]);
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn a_page_without_a_mobile_viewport_is_shown_zoomed_out_at_phone_width() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();

    let capture = slot
        .capture(&server.url("/no-viewport"), FormFactor::Mobile, &limits)
        .await
        .unwrap();

    assert_eq!(capture.width, 390, "{capture:?}");
    assert_eq!(
        capture.css_width, 980,
        "laid out at the legacy 980 px: {capture:?}"
    );
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn tall_and_endless_pages_are_cut_at_the_height_cap() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();

    let tall = slot
        .capture(&server.url("/tall"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert_eq!(tall.height, 16_000, "{tall:?}");
    assert!(tall.truncated);
    assert_eq!(tall.css_height, 100_000);

    let tall_mobile = slot
        .capture(&server.url("/tall"), FormFactor::Mobile, &limits)
        .await
        .unwrap();
    assert_eq!(
        (tall_mobile.width, tall_mobile.height),
        (390, 16_000),
        "{tall_mobile:?}"
    );

    let endless = slot
        .capture(&server.url("/infinite"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert!(endless.height <= 16_000, "{endless:?}");
    assert!(endless.duration < limits.total_timeout);

    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn a_page_that_never_finishes_loading_is_captured_as_it_is() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let mut limits = slot.settings().limits.clone();
    limits.load_timeout = Duration::from_secs(3);

    let capture = slot
        .capture(&server.url("/drip"), FormFactor::Desktop, &limits)
        .await
        .unwrap();

    assert!(!capture.load_complete, "{capture:?}");
    assert_eq!(capture.title, "Dripping");
    assert!(capture.duration < Duration::from_secs(12), "{capture:?}");
    analyse(&capture, &slot.settings().analysis).unwrap();
    // A server that sends nothing at all is a navigation timeout.
    let error = slot
        .capture(&server.url("/hang"), FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            CaptureError::Timeout {
                stage: "navigation",
                ..
            }
        ),
        "{error}"
    );
    assert!(!error.is_permanent());
    // The slot is still usable.
    slot.capture(&server.url("/site"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn dialogs_are_dismissed_and_the_page_is_captured() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();

    let capture = slot
        .capture(&server.url("/dialogs"), FormFactor::Desktop, &limits)
        .await
        .unwrap();

    assert_eq!(capture.dialogs_dismissed, 3, "{capture:?}");
    assert!(capture.load_complete);
    // The next capture (in a new context) is not held up by onbeforeunload.
    let next = slot
        .capture(&server.url("/site"), FormFactor::Mobile, &limits)
        .await
        .unwrap();
    assert_eq!(next.width, 390);
    assert_eq!(slot.launches(), 1);
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn a_page_that_navigates_to_another_origin_after_load_is_noticed() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();

    let capture = slot
        .capture(&server.url("/away"), FormFactor::Desktop, &limits)
        .await
        .unwrap();

    assert!(capture.navigated_after_load, "{capture:?}");
    assert!(capture.left_origin);
    assert_eq!(
        capture.final_url.as_str(),
        format!("http://{}/landing", server.other)
    );
    assert_eq!(capture.title, "Landing elsewhere");
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn downloads_are_denied() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();

    // A URL that is a file is not a page.
    let error = slot
        .capture(&server.url("/file.bin"), FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    assert!(matches!(error, CaptureError::Download { .. }), "{error}");
    assert!(error.is_permanent());

    // A page that starts a download stays on screen.
    let capture = slot
        .capture(&server.url("/download"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert_eq!(capture.title, "Download");
    assert_eq!(capture.downloads_denied, 1, "{capture:?}");
    assert!(!capture.navigated_after_load, "{capture:?}");
    // The download ended the late navigation: no wait for a load timeout.
    assert!(capture.duration < limits.load_timeout, "{capture:?}");
    // Nothing was written anywhere under the slot's directory.
    let written: Vec<_> = walk(work.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("report.bin"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
    assert_shut_down(slot, work.path()).await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            }
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn blank_one_colour_and_error_pages_are_refused() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let limits = slot.settings().limits.clone();
    let analysis = slot.settings().analysis.clone();

    let blank = slot
        .capture(&server.url("/blank"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    let error = analyse(&blank, &analysis).unwrap_err();
    assert!(
        matches!(error, CaptureError::Refused(Refusal::Blank { .. })),
        "{error}"
    );
    assert!(error.is_permanent());

    let green = slot
        .capture(&server.url("/green"), FormFactor::Mobile, &limits)
        .await
        .unwrap();
    match analyse(&green, &analysis).unwrap_err() {
        CaptureError::Refused(Refusal::OneColour { rgb, .. }) => assert_eq!(rgb, [0, 128, 0]),
        other => panic!("{other}"),
    }

    // An empty 404: Chromium shows its own error page.
    let error = slot
        .capture(&server.url("/missing"), FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    match &error {
        CaptureError::Refused(Refusal::BrowserErrorPage {
            http_status, code, ..
        }) => {
            assert_eq!(*http_status, Some(404), "{error}");
            assert!(code.contains("ERR_HTTP_RESPONSE_CODE_FAILURE"), "{error}");
        }
        other => panic!("{other}"),
    }
    assert!(error.is_permanent());

    // Nothing listens: a navigation error, not a screenshot of Chromium's page.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let error = slot
        .capture(&url, FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    match &error {
        CaptureError::NavigationFailed { net_error, .. } => {
            assert!(net_error.contains("ERR_CONNECTION_REFUSED"))
        }
        other => panic!("{other}"),
    }
    assert!(error.is_permanent());

    // After all that, the same browser still captures.
    slot.capture(&server.url("/site"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert_eq!(slot.launches(), 1);
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn private_addresses_are_refused_for_the_page_and_its_requests() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let settings = Arc::new(settings(work.path()));
    let limits = settings.limits.clone();
    // Only the main host is allowed; 127.0.0.2 stands for a private network.
    let mut slot = BrowserSlot::new(Arc::clone(&settings), loopback_guard("127.0.0.1/32"));

    let error = slot
        .capture(
            &Url::parse(&format!("http://{}/landing", server.other)).unwrap(),
            FormFactor::Desktop,
            &limits,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, CaptureError::AddressRefused { permanent: true, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("127.0.0.2"), "{error}");

    let capture = slot
        .capture(&server.url("/private"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert!(
        capture.blocked_total >= 4,
        "{capture:?} {:?}",
        capture.blocked_requests
    );
    // The image, the frame, the page's fetch and the worker's fetch.
    let urls: Vec<&str> = capture.blocked_requests.iter().map(|b| b.url.as_str()).collect();
    for path in ["/pixel.png", "/frame", "/fetch", "/worker"] {
        let url = format!("http://{}{path}", server.other);
        assert!(
            urls.contains(&url.as_str()),
            "{url} not blocked: {:?}",
            capture.blocked_requests
        );
    }
    assert!(
        capture
            .blocked_requests
            .iter()
            .all(|b| b.reason.contains("127.0.0.2"))
    );
    assert!(
        server.other_log.lock().unwrap().is_empty(),
        "reached the private host: {:?}",
        server.other_log
    );

    // A late navigation to the private host is refused too.
    let error = slot
        .capture(&server.url("/away"), FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    assert!(matches!(error, CaptureError::AddressRefused { .. }), "{error}");
    assert!(
        server.other_log.lock().unwrap().is_empty(),
        "{:?}",
        server.other_log
    );
    assert_shut_down(slot, work.path()).await;

    // With private networks allowed, the same page loads everything.
    let mut open = BrowserSlot::new(settings, Arc::new(AllowAll));
    let capture = open
        .capture(&server.url("/private"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert_eq!(capture.blocked_total, 0);
    assert_shut_down(open, work.path()).await;
}

#[tokio::test]
async fn a_crashed_renderer_is_an_error_and_the_slot_goes_on() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut settings = settings(work.path());
    // A small JavaScript heap so the hungry page crashes its renderer fast.
    settings
        .extra_flags
        .push("--js-flags=--max-old-space-size=64".to_owned());
    let limits = settings.limits.clone();
    let mut slot = BrowserSlot::new(Arc::new(settings), loopback_guard("127.0.0.0/8"));

    let started = std::time::Instant::now();
    let error = slot
        .capture(&server.url("/oom"), FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    assert!(matches!(error, CaptureError::RendererCrashed { .. }), "{error}");
    assert!(!error.is_permanent());
    assert!(
        started.elapsed() < limits.total_timeout,
        "it waited for the timeout"
    );

    let capture = slot
        .capture(&server.url("/site"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert_eq!(capture.width, 1366);
    assert_eq!(slot.launches(), 1, "a renderer crash does not cost the browser");
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn a_page_that_hangs_the_renderer_times_out_and_the_browser_is_replaced() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let mut limits = slot.settings().limits.clone();
    limits.total_timeout = Duration::from_secs(8);

    slot.start().await.unwrap();
    let first = slot.browser_pid().unwrap();
    let error = slot
        .capture(&server.url("/busy"), FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    assert!(
        matches!(error, CaptureError::Timeout { stage: "capture", .. }),
        "{error}"
    );
    assert!(!error.is_permanent());
    assert!(group_is_gone(first).await, "the hung browser's group survived");

    let capture = slot
        .capture(&server.url("/site"), FormFactor::Desktop, &limits)
        .await
        .unwrap();
    assert_eq!(capture.width, 1366);
    assert_eq!(slot.launches(), 2);
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn a_killed_browser_is_a_transient_error_and_the_next_capture_relaunches() {
    let server = serve().await;
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    let mut limits = slot.settings().limits.clone();
    limits.load_timeout = Duration::from_secs(10);

    slot.start().await.unwrap();
    let pid = slot.browser_pid().unwrap();
    // Kill the browser while it is loading the dripping page.
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    });
    let started = std::time::Instant::now();
    let error = slot
        .capture(&server.url("/drip"), FormFactor::Desktop, &limits)
        .await
        .unwrap_err();
    killer.await.unwrap();

    assert!(matches!(error, CaptureError::BrowserDied { .. }), "{error}");
    assert!(!error.is_permanent());
    assert!(
        error.to_string().contains("SIGKILL") || error.to_string().contains("signal: 9"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "noticed late: {:?}",
        started.elapsed()
    );
    assert!(group_is_gone(pid).await, "helpers of the killed browser survived");

    let capture = slot
        .capture(&server.url("/site"), FormFactor::Mobile, &limits)
        .await
        .unwrap();
    assert_eq!(capture.width, 390);
    assert_eq!(slot.launches(), 2);
    assert_ne!(slot.browser_pid(), Some(pid));
    assert_shut_down(slot, work.path()).await;
}

#[tokio::test]
async fn dropping_a_slot_kills_its_browser_and_deletes_its_profile() {
    let work = tempfile::tempdir().unwrap();
    let mut slot = slot(work.path());
    slot.start().await.unwrap();
    let pid = slot.browser_pid().unwrap();
    assert!(
        processes_in_group(pid).len() > 1,
        "Chromium runs helpers in its group"
    );
    assert_eq!(profiles_left(work.path()).len(), 1);

    drop(slot);

    assert!(group_is_gone(pid).await, "left: {:?}", processes_in_group(pid));
    for _ in 0..200 {
        if profiles_left(work.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(profiles_left(work.path()).is_empty());
}

#[tokio::test]
async fn a_missing_chromium_is_a_launch_error_with_its_path() {
    let work = tempfile::tempdir().unwrap();
    let mut settings = settings(work.path());
    settings.chromium_path = PathBuf::from("/nonexistent/chromium");
    let mut slot = BrowserSlot::new(Arc::new(settings), Arc::new(AllowAll));
    let error = slot.start().await.unwrap_err();
    assert!(matches!(error, CaptureError::Launch { .. }), "{error}");
    assert!(error.to_string().contains("/nonexistent/chromium"), "{error}");
    assert!(profiles_left(work.path()).is_empty());
}
