//! The tech_scan stage end to end: real workers on real PostgreSQL, fetching
//! from local HTTP(S) servers that serve real-world-shaped pages and hostile
//! ones. Loopback is allowed explicitly (except where the SSRF guard is the
//! point); DNS record lookups are off except in the DNS test.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use prospector_jobs::{
    Enqueued, ScanTech, Stage,
    scan_jobs::{self, BatchItem, BatchKind},
    tech_scan::fetch::ResolveOverride,
};
use serde_json::Value;
use sqlx::PgPool;
use tokio::{net::TcpListener, time::Instant};

use crate::helpers::{TestApp, wait_for};

// ----- a local web of sites -------------------------------------------------

/// One request a site served.
#[derive(Debug, Clone)]
struct Hit {
    host: String,
    path: String,
    started: Instant,
    finished: Instant,
}

#[derive(Clone, Default)]
struct Web {
    hits: Arc<Mutex<Vec<Hit>>>,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    max_in_flight: Arc<Mutex<HashMap<String, usize>>>,
    /// Address of the loopback target the SSRF pages redirect to.
    loopback_target: Arc<Mutex<Option<SocketAddr>>>,
}

impl Web {
    fn paths(&self, host: &str) -> Vec<String> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.host == host)
            .map(|h| h.path.clone())
            .collect()
    }
}

async fn serve(State(web): State<Web>, request: Request) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_owned();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let started = Instant::now();
    {
        let mut in_flight = web.in_flight.lock().unwrap();
        let n = in_flight.entry(host.clone()).or_default();
        *n += 1;
        let mut max = web.max_in_flight.lock().unwrap();
        let m = max.entry(host.clone()).or_default();
        *m = (*m).max(*n);
    }
    let response = site(&web, &host, &path).await;
    *web.in_flight.lock().unwrap().entry(host.clone()).or_default() -= 1;
    web.hits.lock().unwrap().push(Hit {
        host,
        path,
        started,
        finished: Instant::now(),
    });
    response
}

fn html(headers: &[(&'static str, &str)], body: impl Into<String>) -> Response {
    let mut map = HeaderMap::new();
    map.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    (StatusCode::OK, map, body.into()).into_response()
}

fn redirect(status: StatusCode, to: &str) -> Response {
    (status, [(header::LOCATION, to.to_owned())]).into_response()
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

const WP_HOME: &str = r#"<!DOCTYPE html>
<html lang="fr-FR">
<head>
<meta charset="UTF-8">
<title>Boulangerie Dupont – Pain artisanal à Luxembourg</title>
<!-- This site is optimized with the Yoast SEO plugin v21.7 - https://yoast.com/wordpress/plugins/seo/ -->
<meta name="generator" content="WordPress 6.4.2" />
<link rel='stylesheet' id='wp-block-library-css' href='http://wp.test/wp-includes/css/dist/block-library/style.min.css?ver=6.4.2' media='all' />
<link rel='stylesheet' id='astra-theme-css-css' href='http://wp.test/wp-content/themes/astra/assets/css/minified/main.min.css?ver=4.5.2' media='all' />
<link rel='stylesheet' id='contact-form-7-css' href='http://wp.test/wp-content/plugins/contact-form-7/includes/css/styles.css?ver=5.8.4' media='all' />
<script src="http://wp.test/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<script src="http://wp.test/wp-includes/js/jquery/jquery-migrate.min.js?ver=3.4.1" id="jquery-migrate-js"></script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);} gtag('js', new Date()); gtag('config', 'G-ABC123XYZ');</script>
<link rel="https://api.w.org/" href="http://wp.test/wp-json/" />
</head>
<body class="home page-template-default page ast-page-builder-template">
<header><nav><a href="/en/">Accueil</a> <a href="/en/contact/">Contact</a> <a href="/en/impressum/">Impressum</a> <a href="/private/team/">Notre équipe</a></nav></header>
<main><h1>Pain artisanal depuis 1952</h1><p>Commandez au <a href="tel:+35226123456">26 12 34 56</a>.</p></main>
<footer><p>Boulangerie Dupont · <a href="mailto:info@wp.test">info@wp.test</a> · <a href="https://www.facebook.com/boulangerie.dupont/">Facebook</a>
<a href="https://www.facebook.com/sharer/sharer.php?u=http://wp.test/">Partager</a></p></footer>
</body></html>"#;

const WP_CONTACT: &str = r#"<!DOCTYPE html><html lang="fr-FR"><head><title>Contact – Boulangerie Dupont</title>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Bakery","name":"Boulangerie Dupont","telephone":"+352 26 12 34 57",
"address":{"@type":"PostalAddress","streetAddress":"12, rue de la Gare","postalCode":"L-1611","addressLocality":"Luxembourg","addressCountry":"LU"}}</script>
</head><body><h1>Contact</h1><p>Écrivez à <a href="mailto:jean.dupont@wp.test">Jean Dupont</a>.</p>
<img src="/wp-content/uploads/logo@2x.png" alt="logo@2x.png">
<div class="wpcf7"><form action="/en/contact/#wpcf7-f5" method="post"><input type="email" name="your-email"><textarea name="your-message"></textarea><input type="submit" value="Envoyer"></form></div>
</body></html>"#;

const WP_IMPRESSUM: &str = r#"<html><body><h1>Impressum</h1><p>Boulangerie Dupont S.à r.l., RCS B123456. E-Mail: bureau (at) wp [dot] test</p></body></html>"#;

async fn site(web: &Web, host: &str, path: &str) -> Response {
    match (host, path) {
        // A WordPress bakery behind nginx with PHP.
        ("wp.test", "/") => redirect(StatusCode::MOVED_PERMANENTLY, "/en/"),
        ("wp.test", "/en/") => html(
            &[
                ("server", "nginx/1.24.0"),
                ("x-powered-by", "PHP/8.2.12"),
                ("link", "<http://wp.test/wp-json/>; rel=\"https://api.w.org/\""),
            ],
            WP_HOME,
        ),
        ("wp.test", "/en/contact/") => html(&[("server", "nginx/1.24.0")], WP_CONTACT),
        ("wp.test", "/en/impressum/") => html(&[("server", "nginx/1.24.0")], WP_IMPRESSUM),
        ("wp.test", "/robots.txt") => text(
            StatusCode::OK,
            "User-agent: *\nDisallow: /private/\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n",
        ),
        // Shopify behind Cloudflare.
        ("shop.test", "/") => html(
            &[
                ("server", "cloudflare"),
                ("cf-ray", "8a1b2c3d4e5f6a7b-FRA"),
                ("cf-cache-status", "DYNAMIC"),
                ("x-shopid", "12345678"),
                ("powered-by", "Shopify"),
                (
                    "set-cookie",
                    "_shopify_y=abc; path=/; expires=Thu, 01 Jan 2099 00:00:00 GMT",
                ),
            ],
            r#"<html><head><title>Fleurs Schmit</title><link rel="stylesheet" href="//shop.test/cdn/shop/t/3/assets/base.css">
            <script src="https://cdn.shopify.com/s/trekkie.storefront.min.js" defer></script>
            <script>var Shopify = Shopify || {}; Shopify.shop = "fleurs-schmit.myshopify.com"; Shopify.theme = {"name":"Dawn","id":1};</script>
            </head><body><img src="https://cdn.shopify.com/s/files/1/0001/products/rose.jpg"><a href="/pages/contact">Contact</a></body></html>"#,
        ),
        ("shop.test", "/pages/contact") => {
            html(&[], "<html><body><p>Boutique: +352 621 123 456</p></body></html>")
        }
        // A Wix site.
        ("wix.test", "/") => html(
            &[("x-wix-request-id", "1700000000.123"), ("server", "Pepyaka")],
            r#"<html><head><meta name="generator" content="Wix.com Website Builder"/><title>Garage Weber</title>
            <link rel="preload" href="https://static.parastorage.com/services/wix-thunderbolt/dist/main.js" as="script"></head>
            <body><div id="SITE_CONTAINER"></div></body></html>"#,
        ),
        // A Squarespace site.
        ("sqs.test", "/") => html(
            &[("server", "Squarespace")],
            r#"<!doctype html><html><head><!-- This is Squarespace. --><title>Studio Anne</title>
            <link rel="stylesheet" href="https://static1.squarespace.com/static/versioned-site-css/abc/site.css"></head>
            <body><script>Static.SQUARESPACE_CONTEXT = {"website":{}};</script></body></html>"#,
        ),
        // A Hugo site on Apache with Bootstrap.
        ("hugo.test", "/") => html(
            &[("server", "Apache/2.4.57 (Debian)")],
            r#"<!DOCTYPE html><html lang="de"><head><meta name="generator" content="Hugo 0.120.4">
            <title>Praxis Müller</title><link rel="stylesheet" href="/css/bootstrap.min.css">
            <link href="https://fonts.googleapis.com/css2?family=Inter&display=swap" rel="stylesheet"></head>
            <body><p>Willkommen</p><script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.2/dist/js/bootstrap.bundle.min.js"></script></body></html>"#,
        ),
        // A Next.js app on Vercel.
        ("next.test", "/") => html(
            &[
                ("x-powered-by", "Next.js"),
                ("server", "Vercel"),
                ("x-vercel-id", "fra1::abcde-1700000000000"),
            ],
            r#"<!DOCTYPE html><html lang="en"><head><title>Acme</title>
            <script src="/_next/static/chunks/webpack-abc.js" defer></script></head>
            <body><div id="__next"><h1>Acme</h1></div>
            <script id="__NEXT_DATA__" type="application/json">{"props":{},"page":"/"}</script></body></html>"#,
        ),
        // A hand-written page on IIS that talks about other products: only
        // what the headers show may be claimed.
        ("plain.test", "/") => html(
            &[
                ("server", "Microsoft-IIS/10.0"),
                ("x-powered-by", "ASP.NET"),
                ("x-aspnet-version", "4.0.30319"),
            ],
            r#"<html><head><title>Cabinet Thill</title></head><body><h1>Cabinet Thill</h1>
            <p>We build sites with WordPress, Shopify or Wix for our clients; we like React and jQuery too.</p>
            <p>Contact: <a href="mailto:name@example.com">name@example.com</a></p></body></html>"#,
        ),
        // A home page that only forwards with a meta refresh.
        ("refresh.test", "/") => html(
            &[("server", "Apache")],
            r#"<html><head><meta http-equiv="refresh" content="0; url=/fr/index.html"></head><body></body></html>"#,
        ),
        ("refresh.test", "/fr/index.html") => html(
            &[("server", "Apache")],
            r#"<html lang="fr"><head><meta name="generator" content="Hugo 0.111.3"><title>Atelier</title></head><body>Bienvenue</body></html>"#,
        ),
        // A windows-1252 page declared in a meta tag only.
        ("latin.test", "/") => {
            let mut body = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"><title>Caf".to_vec();
            body.extend_from_slice(b"\xe9 M\xfcller \x96 Luxembourg</title></head><body><p>Soci\xe9t\xe9: <a href=\"mailto:caf\xe9@latin.test\">\xe9crire</a> ");
            body.extend_from_slice(b"bureau@latin.test</p></body></html>");
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], body).into_response()
        }
        // A parked, for-sale domain.
        ("parked.test", "/") => html(
            &[],
            "<html><head><title>parked.test</title></head><body><h1>parked.test</h1><p>This domain may be for sale! Make an offer.</p></body></html>",
        ),
        // A site that only forwards to its Facebook page.
        ("fb-only.test", "/") => redirect(StatusCode::FOUND, "https://www.facebook.com/cafedupark"),
        // Rate limited.
        ("busy.test", "/") => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "120")],
            "slow down",
        )
            .into_response(),
        // Hostile: a 50 MB body, sent lazily.
        ("big.test", "/") => {
            let chunk = bytes::Bytes::from(vec![b'a'; 1 << 20]);
            let stream = futures::stream::iter((0..50).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        // Hostile: one byte every 300 ms, forever.
        ("drip.test", "/") => {
            let stream = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"<")), ()))
            });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        // Hostile: a redirect loop.
        ("loop.test", "/") => redirect(StatusCode::FOUND, "/a"),
        ("loop.test", "/a") => redirect(StatusCode::FOUND, "/b"),
        ("loop.test", "/b") => redirect(StatusCode::FOUND, "/a"),
        // Hostile: 50 MB of zeros gzipped to ~50 KB.
        ("bomb.test", "/") => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            gzip_bomb().clone(),
        )
            .into_response(),
        // Hostile: 100,000 nested elements.
        ("deep.test", "/") => html(
            &[("server", "nginx")],
            format!(
                "<html><head><title>Deep</title></head><body>{}deep{}</body></html>",
                "<div>".repeat(100_000),
                "</div>".repeat(100_000)
            ),
        ),
        // Hostile: redirects to loopback and to the cloud metadata address.
        ("ssrf.test", "/") => {
            let target = web.loopback_target.lock().unwrap().expect("loopback target set");
            redirect(StatusCode::FOUND, &format!("http://127.0.0.1:{}/", target.port()))
        }
        ("metadata.test", "/") => redirect(StatusCode::FOUND, "http://169.254.169.254/latest/meta-data/"),
        ("sneaky.test", "/") => redirect(StatusCode::FOUND, "http://internal.test/admin"),
        // HTTPS only (the TLS tests).
        ("secure.test" | "selfsigned.test", "/") => html(
            &[
                ("server", "nginx"),
                ("strict-transport-security", "max-age=31536000"),
            ],
            r#"<html><head><meta name="generator" content="Joomla! - Open Source Content Management"><title>Hotel Bel-Air</title></head>
            <body><script src="/media/system/js/core.min.js"></script><p>Réservations</p></body></html>"#,
        ),
        (_, "/robots.txt") => text(StatusCode::NOT_FOUND, "not found"),
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Compressed once per test binary: in a debug build, compressing 50 MB
/// takes seconds, and serving it must not hold up the test's runtime.
fn gzip_bomb() -> &'static Vec<u8> {
    static BOMB: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..50 {
            encoder.write_all(&zeros).unwrap();
        }
        encoder.finish().unwrap()
    });
    &BOMB
}

async fn start_web(ip: &str) -> (Web, SocketAddr) {
    let web = Web::default();
    let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().fallback(serve).with_state(web.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (web, addr)
}

/// Serve the web over TLS with this certificate on 127.0.0.1:0.
async fn start_tls_web(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> (Web, SocketAddr) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let web = Web::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let router = Router::new().fallback(serve).with_state(web.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                }
            });
        }
    });
    (web, addr)
}

// ----- the app ----------------------------------------------------------------

struct Scan {
    app: TestApp,
}

impl Scan {
    /// The app with tech_scan workers; `hosts` resolve to `addr`.
    async fn start(
        hosts: &[&str],
        addr: SocketAddr,
        allow: &[&str],
        tweak: impl FnOnce(&mut prospector::config::Settings),
    ) -> Self {
        let resolve: Vec<ResolveOverride> = hosts
            .iter()
            .map(|h| ResolveOverride {
                host: (*h).to_owned(),
                addr,
            })
            .collect();
        let allow: Vec<ipnet::IpNet> = allow.iter().map(|n| n.parse().unwrap()).collect();
        let app = TestApp::spawn_with(|s| {
            let t = s.of_mut::<ScanTech>();
            t.resolve = resolve;
            t.allow_networks = allow;
            t.per_host_delay = Duration::from_millis(10);
            // Roomy: the test's sites share its one thread with the workers.
            t.connect_timeout = Duration::from_secs(5);
            t.request_timeout = Duration::from_secs(10);
            t.max_body_bytes = bytesize::ByteSize::mib(2);
            t.max_decompressed_bytes = bytesize::ByteSize::mib(8);
            // Nothing listens there: no DNS traffic leaves the machine.
            t.dns_servers = vec!["127.0.0.1:9".parse().unwrap()];
            t.dns_timeout = Duration::from_millis(300);
            t.dns_records = false;
            let stage = s.worker_mut("tech_scan");
            stage.max_attempts = 1;
            stage.concurrency = 8;
            stage.batch_size = 8;
            stage.timeout = Duration::from_secs(30);
            tweak(s);
        })
        .await;
        app.start_workers(&[Stage::TechScan]);
        Self { app }
    }

    fn pool(&self) -> &PgPool {
        self.app.pool()
    }

    async fn prospect(&self, domain: &str) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO prospects (domain_name, channel, country) VALUES ($1, 'digital', 'LU') RETURNING id",
        )
        .bind(domain)
        .fetch_one(self.pool())
        .await
        .unwrap()
    }

    /// Enqueue scans of `prospects` in one batch, then `then` stages.
    async fn scan(&self, prospects: &[i64], then: &[Stage]) -> (i64, Vec<String>) {
        let stages: Vec<&str> = std::iter::once("tech_scan")
            .chain(then.iter().map(|s| s.as_str()))
            .collect();
        let batch = scan_jobs::create_batch(
            self.pool(),
            BatchKind::Scan,
            &stages,
            prospects.len() as i32,
            None,
            &Value::Null,
        )
        .await
        .unwrap();
        let mut ids = Vec::new();
        let mut conn = self.pool().acquire().await.unwrap();
        for &p in prospects {
            let job = ScanTech::new(
                p,
                Some(BatchItem {
                    scan_job_id: batch,
                    item_key: p.to_string(),
                    prospect_id: Some(p),
                }),
                then.to_vec(),
            );
            match self.app.app.enqueuer.enqueue(&mut conn, &job).await.unwrap() {
                Enqueued::New(id) => ids.push(id),
                Enqueued::AlreadyQueued => panic!("duplicate"),
            }
        }
        (batch, ids)
    }

    /// Wait until every job has ended (done or dead); on timeout, name the
    /// jobs still open and their state.
    async fn finish(&self, jobs: &[String]) {
        // Generous: with other tests running on two cores, a debug build
        // parsing the hostile pages can be slow; the wait ends when they do.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let open: Vec<String> = sqlx::query_scalar(
                "SELECT format('%s %s attempts=%s lock_by=%s run_at=%s %s', id, status, attempts, lock_by, run_at, last_result)
                 FROM apalis.jobs
                 WHERE id = ANY($1) AND NOT (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))",
            )
            .bind(jobs)
            .fetch_all(self.pool())
            .await
            .unwrap();
            if open.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after 180s waiting for the scans to end; still open: {open:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn profile(&self, prospect: i64) -> sqlx::postgres::PgRow {
        sqlx::query("SELECT * FROM prospect_tech_profiles WHERE prospect_id = $1")
            .bind(prospect)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    async fn prospect_row(&self, prospect: i64) -> sqlx::postgres::PgRow {
        sqlx::query("SELECT * FROM prospects WHERE id = $1")
            .bind(prospect)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    async fn failure(&self, batch: i64, prospect: i64) -> Option<String> {
        sqlx::query_scalar("SELECT reason FROM scan_job_items WHERE scan_job_id = $1 AND item_key = $2 AND outcome = 'failed'")
            .bind(batch)
            .bind(prospect.to_string())
            .fetch_optional(self.pool())
            .await
            .unwrap()
            .flatten()
    }

    async fn detections(&self, prospect: i64) -> Vec<String> {
        use sqlx::Row;
        let doc: Value = self.profile(prospect).await.get("tech_stack_json");
        let mut names: Vec<String> = doc["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }
}

fn col<T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &sqlx::postgres::PgRow,
    name: &str,
) -> T {
    use sqlx::Row;
    row.get::<T, _>(name)
}

/// contact_type, value, is_role_address, source_url, is_primary
type ContactRow = (String, String, Option<bool>, Option<String>, bool);

// ----- tests ------------------------------------------------------------------

#[tokio::test]
async fn tech_scan_profiles_a_wordpress_site_its_contacts_and_hands_over_to_the_audit() {
    // Arrange
    let (web, addr) = start_web("127.0.0.1").await;
    let scan = Scan::start(&["wp.test", "www.wp.test"], addr, &["127.0.0.0/8"], |_| {}).await;
    let id = scan.prospect("wp.test").await;

    // Act
    let (batch, jobs) = scan.scan(&[id], &[Stage::Audit, Stage::Score]).await;
    scan.finish(&jobs).await;

    // Assert: the profile
    let p = scan.profile(id).await;
    assert_eq!(col::<Option<String>>(&p, "cms").as_deref(), Some("WordPress"));
    assert_eq!(col::<Option<String>>(&p, "cms_version").as_deref(), Some("6.4.2"));
    assert_eq!(col::<Option<String>>(&p, "server").as_deref(), Some("Nginx"));
    assert_eq!(
        col::<Option<String>>(&p, "js_framework").as_deref(),
        Some("jQuery")
    );
    assert_eq!(
        col::<Option<String>>(&p, "analytics").as_deref(),
        Some("Google Analytics")
    );
    assert_eq!(
        col::<Option<String>>(&p, "final_url").as_deref(),
        Some("http://wp.test/en/")
    );
    assert_eq!(col::<Option<i32>>(&p, "http_status_code"), Some(200));
    assert_eq!(
        col::<Option<String>>(&p, "page_language").as_deref(),
        Some("fr-FR")
    );
    assert!(col::<Option<i32>>(&p, "response_time_ms").unwrap() >= 0);
    assert_eq!(col::<Option<bool>>(&p, "tls_valid"), None, "no HTTPS answered");
    assert!(!col::<bool>(&p, "is_parked"));
    let chain: Value = col(&p, "redirect_chain");
    assert_eq!(
        chain,
        serde_json::json!([{"url": "http://wp.test/", "status": 301}])
    );
    let found = scan.detections(id).await;
    for expected in [
        "Astra",
        "Contact Form 7",
        "Google Analytics",
        "Gutenberg",
        "jQuery",
        "jQuery Migrate",
        "Nginx",
        "PHP",
        "WordPress",
        "Yoast SEO",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected} missing from {found:?}"
        );
    }
    let doc: Value = col(&p, "tech_stack_json");
    let wp = doc["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "WordPress")
        .unwrap();
    assert_eq!(wp["version"], "6.4.2");
    assert_eq!(wp["confidence"], 100);
    assert!(
        wp["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "meta" && e["key"] == "generator")
    );
    let jquery = doc["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "jQuery")
        .unwrap();
    assert_eq!(jquery["version"], "3.7.1");
    let php = doc["detections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "PHP")
        .unwrap();
    assert_eq!(php["version"], "8.2.12");

    // Assert: the prospect
    let row = scan.prospect_row(id).await;
    assert_eq!(col::<Option<bool>>(&row, "has_website"), Some(true));
    assert_eq!(col::<Option<bool>>(&row, "uses_https"), Some(false));
    assert_eq!(col::<Option<i32>>(&row, "http_status_code"), Some(200));
    assert_eq!(
        col::<Option<String>>(&row, "website_url").as_deref(),
        Some("http://wp.test/en/")
    );
    assert_eq!(col::<String>(&row, "status"), "active");
    assert!(col::<Option<chrono::DateTime<chrono::Utc>>>(&row, "last_tech_scan_at").is_some());
    assert_eq!(
        col::<Option<String>>(&row, "email").as_deref(),
        Some("info@wp.test")
    );
    assert_eq!(
        col::<Option<String>>(&row, "phone").as_deref(),
        Some("+35226123456")
    );

    // Assert: contacts, with their pages, one primary per type
    let contacts: Vec<ContactRow> = sqlx::query_as(
        "SELECT contact_type, value, is_role_address, source_url, is_primary FROM prospect_contacts WHERE prospect_id = $1 ORDER BY contact_type, value",
    )
    .bind(id)
    .fetch_all(scan.pool())
    .await
    .unwrap();
    let has = |kind: &str, value: &str| {
        contacts
            .iter()
            .find(|c| c.0 == kind && c.1 == value)
            .unwrap_or_else(|| panic!("{kind} {value} missing from {contacts:?}"))
    };
    let info = has("email", "info@wp.test");
    assert_eq!((info.2, info.4), (Some(true), true));
    assert_eq!(info.3.as_deref(), Some("http://wp.test/en/"));
    let jean = has("email", "jean.dupont@wp.test");
    assert_eq!((jean.2, jean.4), (Some(false), false));
    assert_eq!(jean.3.as_deref(), Some("http://wp.test/en/contact/"));
    has("email", "bureau@wp.test");
    assert!(has("phone", "+35226123456").4);
    has("phone", "+35226123457");
    has("address", "12, rue de la Gare, L-1611 Luxembourg, LU");
    has("social", "https://facebook.com/boulangerie.dupont");
    has("contact_form", "http://wp.test/en/contact/");
    assert!(
        !contacts
            .iter()
            .any(|c| c.1.contains("logo@2x") || c.1.contains("sharer"))
    );
    for kind in ["email", "phone", "address", "social", "contact_form"] {
        assert_eq!(
            contacts.iter().filter(|c| c.0 == kind && c.4).count(),
            1,
            "one primary {kind}"
        );
    }

    // Assert: robots.txt kept the scan out of /private/
    let paths = web.paths("wp.test");
    assert!(paths.contains(&"/robots.txt".to_owned()));
    assert!(paths.contains(&"/en/impressum/".to_owned()));
    assert!(!paths.iter().any(|p| p.starts_with("/private/")), "{paths:?}");

    // Assert: the audit is next, the batch counts the stage
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'audit'")
        .fetch_one(scan.pool())
        .await
        .unwrap();
    assert_eq!(audit, 1);
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scan_job_stage_items WHERE scan_job_id = $1 AND stage = 'tech_scan' AND outcome = 'done'",
    )
    .bind(batch)
    .fetch_one(scan.pool())
    .await
    .unwrap();
    assert_eq!(done, 1);

    // A second scan replaces the scan's own rows and keeps manual ones (a
    // person marks their own number as the primary one).
    sqlx::query(
        "UPDATE prospect_contacts SET is_primary = false WHERE prospect_id = $1 AND contact_type = 'phone'",
    )
    .bind(id)
    .execute(scan.pool())
    .await
    .unwrap();
    sqlx::query("INSERT INTO prospect_contacts (prospect_id, contact_type, value, is_primary) VALUES ($1, 'phone', '+352999999', true)")
        .bind(id)
        .execute(scan.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM apalis.jobs WHERE job_type = 'tech_scan'")
        .execute(scan.pool())
        .await
        .unwrap();
    let (_, jobs) = scan.scan(&[id], &[]).await;
    scan.finish(&jobs).await;
    let phones: Vec<(String, bool)> = sqlx::query_as(
        "SELECT value, is_primary FROM prospect_contacts WHERE prospect_id = $1 AND contact_type = 'phone' ORDER BY value",
    )
    .bind(id)
    .fetch_all(scan.pool())
    .await
    .unwrap();
    assert_eq!(
        phones,
        vec![
            ("+35226123456".to_owned(), false),
            ("+35226123457".to_owned(), false),
            ("+352999999".to_owned(), true)
        ],
        "the manual primary phone stays primary"
    );
}

#[tokio::test]
async fn tech_scan_names_the_stack_of_builders_shops_static_sites_and_apps_without_false_claims() {
    // Arrange
    let hosts = [
        "shop.test",
        "wix.test",
        "sqs.test",
        "hugo.test",
        "next.test",
        "plain.test",
        "refresh.test",
        "latin.test",
    ];
    let (_web, addr) = start_web("127.0.0.1").await;
    let scan = Scan::start(&hosts, addr, &["127.0.0.0/8"], |_| {}).await;
    let mut ids = HashMap::new();
    for h in hosts {
        ids.insert(h, scan.prospect(h).await);
    }

    // Act
    let all: Vec<i64> = hosts.iter().map(|h| ids[h]).collect();
    let (batch, jobs) = scan.scan(&all, &[]).await;
    scan.finish(&jobs).await;

    // Assert: summary columns per site
    let summary = |p: &sqlx::postgres::PgRow| {
        [
            "cms",
            "server",
            "hosting_provider",
            "cdn",
            "js_framework",
            "ecommerce_platform",
        ]
        .map(|c| col::<Option<String>>(p, c))
    };
    let s = |v: &str| Some(v.to_owned());
    let cases = [
        (
            "shop.test",
            [None, None, None, s("Cloudflare"), None, s("Shopify")],
        ),
        ("wix.test", [s("Wix"), None, None, None, s("React"), None]),
        ("sqs.test", [s("Squarespace"), None, None, None, None, None]),
        (
            "hugo.test",
            [
                s("Hugo"),
                s("Apache HTTP Server"),
                None,
                s("jsDelivr"),
                None,
                None,
            ],
        ),
        ("next.test", [None, None, s("Vercel"), None, s("Next.js"), None]),
        ("plain.test", [None, s("Microsoft IIS"), None, None, None, None]),
        (
            "refresh.test",
            [s("Hugo"), s("Apache HTTP Server"), None, None, None, None],
        ),
    ];
    for (host, expected) in cases {
        let p = scan.profile(ids[host]).await;
        assert_eq!(
            summary(&p),
            expected,
            "{host}: {:?}",
            scan.detections(ids[host]).await
        );
    }
    let hugo = scan.detections(ids["hugo.test"]).await;
    for t in ["Bootstrap", "Debian", "Google Font API", "Hugo"] {
        assert!(hugo.contains(&t.to_owned()), "{t} missing from {hugo:?}");
    }
    // The plain page mentions WordPress, Shopify, Wix, React and jQuery in its
    // text and links to a placeholder address: none of it is claimed.
    assert_eq!(
        scan.detections(ids["plain.test"]).await,
        vec!["Microsoft ASP.NET", "Microsoft IIS", "Windows Server"]
    );
    let plain_contacts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM prospect_contacts WHERE prospect_id = $1 AND contact_type = 'email'",
    )
    .bind(ids["plain.test"])
    .fetch_one(scan.pool())
    .await
    .unwrap();
    assert_eq!(plain_contacts, 0, "name@example.com is a placeholder");
    let shop_doc: Value = col(&scan.profile(ids["shop.test"]).await, "tech_stack_json");
    assert!(shop_doc["headers"]["server"] == "cloudflare");
    // Every item is counted once, as processed.
    let (processed, failed): (i32, i32) =
        sqlx::query_as("SELECT processed_items, failed_items FROM prospect_scan_jobs WHERE id = $1")
            .bind(batch)
            .fetch_one(scan.pool())
            .await
            .unwrap();
    assert_eq!((processed, failed), (8, 0));
    // A windows-1252 page is decoded by its meta charset.
    let latin = scan.profile(ids["latin.test"]).await;
    assert_eq!(
        col::<Option<String>>(&latin, "page_title").as_deref(),
        Some("Café Müller – Luxembourg")
    );
    let latin_doc: Value = col(&latin, "tech_stack_json");
    assert_eq!(latin_doc["html"]["charset"], "windows-1252");
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT value FROM prospect_contacts WHERE prospect_id = $1 AND contact_type = 'email' ORDER BY value",
    )
    .bind(ids["latin.test"])
    .fetch_all(scan.pool())
    .await
    .unwrap();
    assert_eq!(
        emails,
        vec!["bureau@latin.test"],
        "a non-ASCII local part is not an address"
    );
    // The meta refresh was followed like a redirect.
    let refresh = scan.profile(ids["refresh.test"]).await;
    assert_eq!(
        col::<Option<String>>(&refresh, "final_url").as_deref(),
        Some("http://refresh.test/fr/index.html")
    );
    assert_eq!(
        col::<Value>(&refresh, "redirect_chain"),
        serde_json::json!([{"url": "http://refresh.test/", "status": 200}])
    );
}

#[tokio::test]
async fn tech_scan_records_unreachable_parked_social_only_and_rate_limited_sites() {
    // Arrange: nothing listens on `closed`.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (_web, addr) = start_web("127.0.0.1").await;
    let scan = Scan::start(
        &["parked.test", "fb-only.test", "busy.test"],
        addr,
        &["127.0.0.0/8"],
        |s| {
            s.of_mut::<ScanTech>().resolve.push(ResolveOverride {
                host: "down.test".into(),
                addr: closed,
            });
            s.of_mut::<ScanTech>().resolve.push(ResolveOverride {
                host: "www.down.test".into(),
                addr: closed,
            });
            s.worker_mut("tech_scan").max_attempts = 3;
        },
    )
    .await;
    let down = scan.prospect("down.test").await;
    let parked = scan.prospect("parked.test").await;
    let fb = scan.prospect("fb-only.test").await;
    let busy = scan.prospect("busy.test").await;
    let listed: i64 = sqlx::query_scalar(
        "INSERT INTO prospects (business_name, channel, country, website_url) VALUES ('Café du Parc', 'maps', 'LU', 'https://www.instagram.com/cafeduparc/') RETURNING id",
    )
    .fetch_one(scan.pool())
    .await
    .unwrap();

    // Act
    let (batch, jobs) = scan
        .scan(&[down, parked, fb, listed], &[Stage::Audit, Stage::Score])
        .await;
    scan.finish(&jobs).await;
    let (_, busy_jobs) = scan.scan(&[busy], &[]).await;

    // Assert: unreachable is a stored result; the audit is skipped, score is next
    let p = scan.profile(down).await;
    let reason = col::<Option<String>>(&p, "unreachable_reason").unwrap();
    assert!(reason.contains("could not connect"), "{reason}");
    let row = scan.prospect_row(down).await;
    assert_eq!(col::<Option<bool>>(&row, "has_website"), Some(false));
    assert_eq!(col::<String>(&row, "status"), "inactive");
    let skipped: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT item_key, reason FROM scan_job_stage_items WHERE scan_job_id = $1 AND stage = 'audit' AND outcome = 'skipped' ORDER BY item_key::bigint",
    )
    .bind(batch)
    .fetch_all(scan.pool())
    .await
    .unwrap();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(
        skipped[0]
            .1
            .as_deref()
            .unwrap()
            .starts_with("no reachable website")
    );
    let score: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'score'")
        .fetch_one(scan.pool())
        .await
        .unwrap();
    assert_eq!(score, 4, "every prospect goes on to score");

    // Parked
    let p = scan.profile(parked).await;
    assert!(col::<bool>(&p, "is_parked"));
    assert!(
        col::<Option<String>>(&p, "parked_reason")
            .unwrap()
            .contains("for sale")
    );
    assert_eq!(
        col::<String>(&scan.prospect_row(parked).await, "status"),
        "parked"
    );
    assert_eq!(
        col::<Option<bool>>(&scan.prospect_row(parked).await, "has_website"),
        Some(false)
    );

    // Social only: by redirect, and by the listed URL (never fetched)
    let p = scan.profile(fb).await;
    assert!(col::<bool>(&p, "is_social_only"));
    assert_eq!(
        col::<Option<String>>(&p, "social_profile_url").as_deref(),
        Some("https://www.facebook.com/cafedupark")
    );
    let p = scan.profile(listed).await;
    assert!(col::<bool>(&p, "is_social_only"));
    assert_eq!(
        col::<Option<bool>>(&scan.prospect_row(listed).await, "has_website"),
        Some(false)
    );

    // Rate limited: retried no sooner than Retry-After asks
    let pool = scan.pool().clone();
    let job = busy_jobs[0].clone();
    wait_for(Duration::from_secs(20), "the 429 to be retried later", || {
        let pool = pool.clone();
        let job = job.clone();
        async move {
            let delayed: Option<bool> = sqlx::query_scalar(
                "SELECT run_at > now() + interval '100 seconds' FROM apalis.jobs WHERE id = $1 AND status = 'Failed'",
            )
            .bind(&job)
            .fetch_optional(&pool)
            .await
            .unwrap();
            delayed == Some(true)
        }
    })
    .await;
    let last: Option<String> = sqlx::query_scalar("SELECT last_result::text FROM apalis.jobs WHERE id = $1")
        .bind(&busy_jobs[0])
        .fetch_one(scan.pool())
        .await
        .unwrap();
    assert!(last.unwrap_or_default().contains("429"));
}

#[tokio::test]
async fn hostile_sites_end_their_jobs_with_clear_reasons_and_the_worker_keeps_working() {
    // Arrange: the sites listen on 127.0.0.2, the only allowed address; the
    // loopback target on 127.0.0.1 is not allowed.
    let (web, addr) = start_web("127.0.0.2").await;
    let (_target_web, target) = start_web("127.0.0.1").await;
    *web.loopback_target.lock().unwrap() = Some(target);
    tokio::task::spawn_blocking(|| gzip_bomb().len()).await.unwrap();
    let hosts = [
        "big.test",
        "drip.test",
        "loop.test",
        "bomb.test",
        "deep.test",
        "ssrf.test",
        "metadata.test",
        "sneaky.test",
        "wp.test",
    ];
    let scan = Scan::start(&hosts, addr, &["127.0.0.2/32"], |s| {
        // The drip and the tarpit are judged by these limits.
        s.of_mut::<ScanTech>().connect_timeout = Duration::from_secs(2);
        s.of_mut::<ScanTech>().request_timeout = Duration::from_secs(3);
        s.of_mut::<ScanTech>().resolve.push(ResolveOverride {
            host: "internal.test".into(),
            addr: target,
        });
        // Permanent failures must not be retried; a transient one waits.
        let stage = s.worker_mut("tech_scan");
        stage.max_attempts = 3;
        stage.backoff_base = Duration::from_secs(3600);
        stage.backoff_max = Duration::from_secs(7200);
        // A timeout is transient (retried in an hour here): keep it well
        // above what a debug build needs on a loaded machine, so only the
        // drip's own 3 s request limit decides.
        stage.timeout = Duration::from_secs(150);
    })
    .await;
    let mut ids = HashMap::new();
    for h in &hosts[..8] {
        ids.insert(*h, scan.prospect(h).await);
    }

    // Act: the hostile sites, then an ordinary one on the same worker
    let hostile: Vec<i64> = hosts[..8].iter().map(|h| ids[h]).collect();
    let (batch, jobs) = scan.scan(&hostile, &[]).await;
    let drip_job = jobs[1].clone();
    let others: Vec<String> = jobs.iter().filter(|j| **j != drip_job).cloned().collect();
    scan.finish(&others).await;
    let pool = scan.pool().clone();
    let job = drip_job.clone();
    wait_for(Duration::from_secs(30), "the slow drip to be scheduled for a retry", || {
        let pool = pool.clone();
        let job = job.clone();
        async move {
            let retry: Option<bool> = sqlx::query_scalar(
                "SELECT attempts = 1 AND run_at > now() + interval '30 minutes' FROM apalis.jobs WHERE id = $1 AND status = 'Failed'",
            )
            .bind(&job)
            .fetch_optional(&pool)
            .await
            .unwrap();
            retry == Some(true)
        }
    })
    .await;
    let good = scan.prospect("wp.test").await;
    let (good_batch, good_jobs) = scan.scan(&[good], &[]).await;
    scan.finish(&good_jobs).await;

    // Assert: each failure names its cause
    let cases = [
        ("big.test", "larger than the 2097152-byte limit"),
        (
            "loop.test",
            "redirect loop: http://loop.test/ -> http://loop.test/a -> http://loop.test/b -> http://loop.test/a",
        ),
        ("bomb.test", "expands beyond the 8388608-byte decompression limit"),
        (
            "ssrf.test",
            "127.0.0.1, a loopback address, which tech_scan.allow_networks does not allow",
        ),
        ("metadata.test", "169.254.169.254, a cloud metadata address"),
        (
            "sneaky.test",
            "internal.test resolves to 127.0.0.1, a loopback address",
        ),
    ];
    for (host, expected) in cases {
        let reason = scan
            .failure(batch, ids[host])
            .await
            .unwrap_or_else(|| panic!("{host} did not fail"));
        assert!(
            reason.contains(expected),
            "{host}: `{reason}` should contain `{expected}`"
        );
        assert_eq!(
            col::<String>(&scan.prospect_row(ids[host]).await, "status"),
            "error",
            "{host}"
        );
    }
    // Permanent: each ran once and is dead.
    let runs: Vec<(String, i32)> =
        sqlx::query_as("SELECT status, attempts FROM apalis.jobs WHERE id = ANY($1) AND id <> $2")
            .bind(&jobs)
            .bind(&drip_job)
            .fetch_all(scan.pool())
            .await
            .unwrap();
    assert_eq!(
        runs.iter().filter(|(s, a)| s == "Killed" && *a == 1).count(),
        6,
        "{runs:?}"
    );
    // Transient: the slow drip is retried later, with its reason kept.
    let drip: String = sqlx::query_scalar("SELECT last_result::text FROM apalis.jobs WHERE id = $1")
        .bind(&drip_job)
        .fetch_one(scan.pool())
        .await
        .unwrap();
    assert!(
        drip.contains("http://drip.test/ did not finish within 3s"),
        "{drip}"
    );
    // Nothing was ever requested from the forbidden target.
    assert!(_target_web.hits.lock().unwrap().is_empty());
    // Deeply nested HTML is analysed up to the limit, not a failure.
    assert_eq!(scan.failure(batch, ids["deep.test"]).await, None);
    let doc: Value = col(&scan.profile(ids["deep.test"]).await, "tech_stack_json");
    assert!(
        doc["html"]["truncated"]
            .as_str()
            .unwrap()
            .contains("nests deeper than 512 levels")
    );
    assert_eq!(
        col::<Option<String>>(&scan.profile(ids["deep.test"]).await, "server").as_deref(),
        Some("Nginx")
    );
    let (processed, failed): (i32, i32) =
        sqlx::query_as("SELECT processed_items, failed_items FROM prospect_scan_jobs WHERE id = $1")
            .bind(batch)
            .fetch_one(scan.pool())
            .await
            .unwrap();
    assert_eq!((processed, failed), (1, 6), "the drip's item is still open");

    // The worker kept working: the ordinary site was scanned after them.
    let (processed, failed): (i32, i32) =
        sqlx::query_as("SELECT processed_items, failed_items FROM prospect_scan_jobs WHERE id = $1")
            .bind(good_batch)
            .fetch_one(scan.pool())
            .await
            .unwrap();
    assert_eq!((processed, failed), (1, 0));
    assert_eq!(
        col::<Option<String>>(&scan.profile(good).await, "cms").as_deref(),
        Some("WordPress")
    );
}

#[tokio::test]
async fn requests_to_one_host_take_turns_with_the_configured_pause() {
    // Arrange
    let (web, addr) = start_web("127.0.0.1").await;
    let scan = Scan::start(&["wp.test"], addr, &["127.0.0.0/8"], |s| {
        s.of_mut::<ScanTech>().per_host_delay = Duration::from_millis(150);
    })
    .await;
    let id = scan.prospect("wp.test").await;

    // Act
    let (_, jobs) = scan.scan(&[id], &[]).await;
    scan.finish(&jobs).await;

    // Assert: one request at a time, each starting ≥ 150 ms after the last ended
    let hits: Vec<Hit> = web.hits.lock().unwrap().clone();
    assert!(hits.len() >= 5, "{hits:?}");
    assert_eq!(web.max_in_flight.lock().unwrap()["wp.test"], 1);
    let mut sorted = hits.clone();
    sorted.sort_by_key(|h| h.started);
    for pair in sorted.windows(2) {
        let gap = pair[1].started.saturating_duration_since(pair[0].finished);
        assert!(
            gap >= Duration::from_millis(140),
            "{} then {} only {gap:?} apart",
            pair[0].path,
            pair[1].path
        );
    }
}

#[tokio::test]
async fn tech_scan_records_valid_and_invalid_certificates() {
    // Arrange: a private CA trusted through the config, and a self-signed site.
    prospector::tls::init();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Prospector Test CA");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Prospector Test Root");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["secure.test".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let (_, secure) = start_tls_web(
        leaf.der().clone(),
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .await;
    let own = rcgen::generate_simple_self_signed(vec!["selfsigned.test".to_owned()]).unwrap();
    let (_, selfsigned) = start_tls_web(
        own.cert.der().clone(),
        rustls::pki_types::PrivateKeyDer::Pkcs8(own.signing_key.serialize_der().into()),
    )
    .await;
    let scan = Scan::start(&["secure.test"], secure, &["127.0.0.0/8"], |s| {
        s.of_mut::<ScanTech>().resolve.push(ResolveOverride {
            host: "selfsigned.test".into(),
            addr: selfsigned,
        });
        s.of_mut::<ScanTech>().extra_root_certificates = Some(ca_file.clone());
    })
    .await;
    let good = scan.prospect("secure.test").await;
    let bad = scan.prospect("selfsigned.test").await;

    // Act
    let (_, jobs) = scan.scan(&[good, bad], &[Stage::Audit]).await;
    scan.finish(&jobs).await;

    // Assert: the valid certificate and its issuer
    let p = scan.profile(good).await;
    assert_eq!(col::<Option<bool>>(&p, "tls_valid"), Some(true));
    assert_eq!(
        col::<Option<String>>(&p, "tls_issuer").as_deref(),
        Some("Prospector Test CA")
    );
    assert!(col::<Option<chrono::DateTime<chrono::Utc>>>(&p, "tls_expires_at").unwrap() > chrono::Utc::now());
    assert_eq!(col::<Option<String>>(&p, "tls_error"), None);
    assert_eq!(
        col::<Option<String>>(&p, "final_url").as_deref(),
        Some("https://secure.test/")
    );
    assert_eq!(col::<Option<String>>(&p, "cms").as_deref(), Some("Joomla"));
    let row = scan.prospect_row(good).await;
    assert_eq!(col::<Option<bool>>(&row, "uses_https"), Some(true));
    assert!(scan.detections(good).await.contains(&"HSTS".to_owned()));

    // Assert: the self-signed one is recorded as invalid, and the page is
    // still analysed as a visitor who clicks through would see it.
    let p = scan.profile(bad).await;
    assert_eq!(col::<Option<bool>>(&p, "tls_valid"), Some(false));
    let error = col::<Option<String>>(&p, "tls_error").unwrap();
    assert!(error.contains("not issued by a trusted authority"), "{error}");
    assert_eq!(
        col::<Option<String>>(&p, "tls_issuer").as_deref(),
        Some("rcgen self signed cert")
    );
    assert_eq!(col::<Option<String>>(&p, "cms").as_deref(), Some("Joomla"));
    let doc: Value = col(&p, "tech_stack_json");
    assert_eq!(doc["fetched_without_certificate_check"], true);
    let row = scan.prospect_row(bad).await;
    assert_eq!(col::<Option<bool>>(&row, "has_website"), Some(true));
    assert_eq!(col::<Option<bool>>(&row, "uses_https"), Some(true));
}

#[tokio::test]
async fn dns_records_name_the_dns_and_email_providers_and_missing_names_are_unreachable() {
    use hickory_proto::rr::{
        Name, RData, RecordType,
        rdata::{MX, NS, TXT},
    };
    use prospector_devkit::bench::fleet::dns::{self, Answer};
    use std::str::FromStr;

    // Arrange: a local authoritative server for the test names.
    let zone: dns::Zone = Arc::new(|name: &str, kind: RecordType| match (name, kind) {
        ("wp.test", RecordType::NS) => Answer::Records(vec![
            RData::NS(NS(Name::from_str("ada.ns.cloudflare.com.").unwrap())),
            RData::NS(NS(Name::from_str("bob.ns.cloudflare.com.").unwrap())),
        ]),
        ("wp.test", RecordType::MX) => Answer::Records(vec![RData::MX(MX::new(
            1,
            Name::from_str("aspmx.l.google.com.").unwrap(),
        ))]),
        ("wp.test", RecordType::TXT) => Answer::Records(vec![RData::TXT(TXT::new(vec![
            "v=spf1 include:_spf.google.com ~all".into(),
        ]))]),
        (n, _) if n.ends_with("nowhere.test") => Answer::NxDomain,
        _ => Answer::Records(Vec::new()),
    });
    let dns_addr = dns::serve(zone, Arc::new(|_: &str| Duration::ZERO))
        .await
        .unwrap();
    let (_web, addr) = start_web("127.0.0.1").await;
    let scan = Scan::start(&["wp.test"], addr, &["127.0.0.0/8"], |s| {
        s.of_mut::<ScanTech>().dns_servers = vec![dns_addr];
        s.of_mut::<ScanTech>().dns_records = true;
        // The DNS server answers from this test's own (busy) thread.
        s.of_mut::<ScanTech>().dns_timeout = Duration::from_secs(2);
    })
    .await;
    let wp = scan.prospect("wp.test").await;
    let gone = scan.prospect("nowhere.test").await;

    // Act
    let (_, jobs) = scan.scan(&[wp, gone], &[]).await;
    scan.finish(&jobs).await;

    // Assert
    let p = scan.profile(wp).await;
    assert_eq!(
        col::<Option<String>>(&p, "dns_provider").as_deref(),
        Some("Cloudflare DNS")
    );
    assert_eq!(
        col::<Option<String>>(&p, "email_provider").as_deref(),
        Some("Google Workspace")
    );
    assert_eq!(
        col::<Option<String>>(&p, "hosting_provider"),
        None,
        "NS records name no host"
    );
    let doc: Value = col(&p, "tech_stack_json");
    assert_eq!(
        doc["dns"]["ns"],
        serde_json::json!(["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"])
    );
    assert_eq!(doc["dns"]["mx"], serde_json::json!(["aspmx.l.google.com"]));
    let p = scan.profile(gone).await;
    let reason = col::<Option<String>>(&p, "unreachable_reason").unwrap();
    assert!(reason.contains("does not exist (NXDOMAIN)"), "{reason}");
    assert_eq!(
        col::<String>(&scan.prospect_row(gone).await, "status"),
        "inactive"
    );
}
