//! The fleet's pages: site `s<N>` gets a stack by `N % 20`.

use std::{
    fmt::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    extract::{Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

use super::Latency;

#[derive(Clone)]
struct Shared {
    latency: Latency,
    requests: Arc<AtomicU64>,
    /// Bytes of padding appended to every HTML page.
    pad: usize,
}

pub(super) fn router(latency: Latency, requests: Arc<AtomicU64>, pad: usize) -> Router {
    Router::new().fallback(page).with_state(Shared {
        latency,
        requests,
        pad,
    })
}

async fn page(State(shared): State<Shared>, request: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_owned();
    let path = request.uri().path().to_owned();
    tokio::time::sleep(shared.latency.sample()).await;
    let n: usize = host
        .strip_prefix('s')
        .and_then(|r| r.split('.').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let response = respond(n, &host, &path);
    if shared.pad == 0 || !is_html(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut padded = Vec::with_capacity(bytes.len() + shared.pad + 9);
    padded.extend_from_slice(&bytes);
    padded.extend_from_slice(b"<!-- ");
    padded.resize(padded.len() + shared.pad, b'x');
    padded.extend_from_slice(b" -->");
    Response::from_parts(parts, axum::body::Body::from(padded))
}

fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

fn html(headers: &[(&'static str, String)], body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    for (name, value) in headers {
        if let Ok(v) = header::HeaderValue::from_str(value) {
            h.append(*name, v);
        }
    }
    response
}

/// Body filler: realistic markup so pages weigh 40–120 KB.
fn filler(n: usize, items: usize) -> String {
    let mut out = String::new();
    for i in 0..items {
        let _ = write!(
            out,
            r#"<section class="block block-{i}"><div class="container"><div class="row"><div class="col-md-6">
<h2 class="title">Service {i} de la maison {n}</h2><p class="lead">Depuis des années nous servons nos clients avec passion, qualité et savoir-faire artisanal.
Nos équipes vous accueillent du lundi au samedi. Découvrez nos produits de saison, nos offres et nos conseils.</p>
<a class="btn btn-primary" href="/services/{i}/">En savoir plus</a></div><div class="col-md-6"><img loading="lazy" src="/media/img-{i}.jpg" alt="Photo {i}" width="640" height="480"></div></div></div></section>
"#
        );
    }
    out
}

fn respond(n: usize, host: &str, path: &str) -> Response {
    let kind = n % 20;
    if path == "/robots.txt" {
        return match kind {
            7 => (StatusCode::OK, "User-agent: *\nDisallow: /\n").into_response(),
            0..=6 => (
                StatusCode::OK,
                "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\nCrawl-delay: 1\n",
            )
                .into_response(),
            _ => (StatusCode::NOT_FOUND, "not found").into_response(),
        };
    }
    let nginx = ("server", "nginx/1.24.0".to_owned());
    let contact_links = r#"<nav><a href="/">Accueil</a> <a href="/contact/">Contact</a> <a href="/mentions-legales/">Mentions légales</a> <a href="/a-propos/">À propos</a></nav>"#;
    let contact = |extra: &str| {
        format!(
            r#"<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Contact</title>
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"LocalBusiness","name":"Maison {n}","telephone":"+352 26 {a:02} {b:02} {c:02}",
"address":{{"@type":"PostalAddress","streetAddress":"{n}, rue de la Gare","postalCode":"L-1611","addressLocality":"Luxembourg","addressCountry":"LU"}}}}</script></head>
<body>{contact_links}<h1>Contact</h1><p>Écrivez-nous : <a href="mailto:info@{host}">info@{host}</a> ou <a href="mailto:marie.{n}@{host}">Marie</a>.</p>
<p>Tél. : <a href="tel:+3522612{a:02}{b:02}">26 12 {a:02} {b:02}</a></p>
<form method="post"><input type="email" name="email"><textarea name="message"></textarea><button type="submit">Envoyer</button></form>{extra}{}</body></html>"#,
            filler(n, 20),
            a = n % 100,
            b = (n / 100) % 100,
            c = (n / 7) % 100,
        )
    };
    match (kind, path) {
        // WordPress (with contact pages and robots.txt).
        (0..=7, "/") => html(
            &[
                nginx,
                ("x-powered-by", "PHP/8.2.12".into()),
                (
                    "link",
                    format!("<https://{host}/wp-json/>; rel=\"https://api.w.org/\""),
                ),
            ],
            format!(
                r#"<!DOCTYPE html><html lang="fr-FR"><head><meta charset="UTF-8"><title>Maison {n}</title>
<!-- This site is optimized with the Yoast SEO plugin v21.7 - https://yoast.com/wordpress/plugins/seo/ -->
<meta name="generator" content="WordPress 6.{v}.2" />
<link rel='stylesheet' id='wp-block-library-css' href='https://{host}/wp-includes/css/dist/block-library/style.min.css?ver=6.{v}.2' media='all' />
<link rel='stylesheet' href='https://{host}/wp-content/themes/astra/assets/css/minified/main.min.css?ver=4.5.2' media='all' />
<link rel='stylesheet' href='https://{host}/wp-content/plugins/elementor/assets/css/frontend.min.css?ver=3.18.3' media='all' />
<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto:400,700&display=swap">
<script src="https://{host}/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<script src="https://{host}/wp-includes/js/jquery/jquery-migrate.min.js?ver=3.4.1"></script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-{n}ABC"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments);}}gtag('js',new Date());gtag('config','G-{n}ABC');</script>
</head><body class="home page-template elementor-default">{contact_links}
<div class="elementor elementor-12"><div class="elementor-section elementor-top-section">{}</div></div>
<footer><a href="mailto:info@{host}">info@{host}</a> <a href="https://www.facebook.com/maison{n}/">Facebook</a></footer>
<script src="https://{host}/wp-content/plugins/elementor/assets/js/frontend.min.js?ver=3.18.3"></script></body></html>"#,
                filler(n, 60),
                v = n % 5
            ),
        ),
        (0..=7, "/contact/" | "/mentions-legales/" | "/a-propos/") => {
            html(&[("server", "nginx/1.24.0".into())], contact(""))
        }
        // Shopify.
        (8..=10, "/") => html(
            &[
                ("server", "cloudflare".into()),
                ("cf-ray", format!("8a{n:x}-FRA")),
                ("x-shopid", n.to_string()),
                ("powered-by", "Shopify".into()),
            ],
            format!(
                r#"<!doctype html><html lang="fr"><head><title>Boutique {n}</title>
<link href="//{host}/cdn/shop/t/3/assets/base.css?v=1" rel="stylesheet">
<script>var Shopify = Shopify || {{}}; Shopify.shop = "boutique-{n}.myshopify.com"; Shopify.theme = {{"name":"Dawn","id":1}};</script>
<script src="https://cdn.shopify.com/s/trekkie.storefront.min.js" defer></script></head>
<body>{}<img src="https://cdn.shopify.com/s/files/1/0001/products/p.jpg"><a href="/pages/contact">Contact</a></body></html>"#,
                filler(n, 50)
            ),
        ),
        (8..=10, "/pages/contact") => html(&[("server", "cloudflare".into())], contact("")),
        // Wix.
        (11..=12, "/") => html(
            &[
                ("x-wix-request-id", format!("1700000000.{n}")),
                ("server", "Pepyaka".into()),
            ],
            format!(
                r#"<!DOCTYPE html><html lang="de"><head><meta name="generator" content="Wix.com Website Builder"/><title>Studio {n}</title>
<link rel="preload" href="https://static.parastorage.com/services/wix-thunderbolt/dist/main.js" as="script"></head>
<body><div id="SITE_CONTAINER">{}</div><p>Kontakt: +352 621 {a:03} {b:03}</p></body></html>"#,
                filler(n, 70),
                a = n % 1000,
                b = (n * 7) % 1000
            ),
        ),
        // Squarespace.
        (13, "/") => html(
            &[("server", "Squarespace".into())],
            format!(
                r#"<!doctype html><html><head><!-- This is Squarespace. --><title>Atelier {n}</title>
<link rel="stylesheet" href="https://static1.squarespace.com/static/versioned-site-css/abc/site.css"></head>
<body>{}<script>Static.SQUARESPACE_CONTEXT = {{"website":{{}}}};</script></body></html>"#,
                filler(n, 40)
            ),
        ),
        // Static Hugo site on Apache.
        (14..=15, "/") => html(
            &[("server", "Apache/2.4.57 (Debian)".into())],
            format!(
                r#"<!DOCTYPE html><html lang="en"><head><meta name="generator" content="Hugo 0.120.4"><title>Praxis {n}</title>
<link rel="stylesheet" href="/css/bootstrap.min.css"></head><body>{}<a href="/contact/">Contact</a>
<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.2/dist/js/bootstrap.bundle.min.js"></script></body></html>"#,
                filler(n, 30)
            ),
        ),
        (14..=15, "/contact/") => html(&[("server", "Apache/2.4.57 (Debian)".into())], contact("")),
        // Next.js on Vercel.
        (16..=17, "/") => html(
            &[
                ("x-powered-by", "Next.js".into()),
                ("server", "Vercel".into()),
                ("x-vercel-id", format!("fra1::{n}")),
            ],
            format!(
                r#"<!DOCTYPE html><html lang="en"><head><title>App {n}</title><script src="/_next/static/chunks/main-abc.js" defer></script></head>
<body><div id="__next">{}</div><script id="__NEXT_DATA__" type="application/json">{{"props":{{}},"page":"/"}}</script></body></html>"#,
                filler(n, 40)
            ),
        ),
        // Parked.
        (18, "/") => html(
            &[],
            format!(
                "<html><head><title>{host}</title></head><body><h1>{host}</h1><p>This domain may be for sale. Make an offer.</p></body></html>"
            ),
        ),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
