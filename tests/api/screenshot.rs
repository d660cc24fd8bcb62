//! The screenshot stage's browser is outside nothing: a page on an allowed
//! address that reaches for a refused one (images, frames, fetches,
//! WebSockets, preconnects, redirects) gets its screenshot taken without
//! one connection to the refused address; a navigation redirected there
//! fails, saying why.

use std::time::Duration;

use crate::{
    audit::insert_prospect,
    bait::{bait, baiting_site},
    helpers::{TestDb, settings},
};
use prospector_jobs::{
    Enqueuer, Handler, JobContext, ScanTech, StageError,
    browser_proxy::DenialKind,
    screenshot::{CaptureScreenshot, MediaStoreConfig, ScreenshotDeps},
    tech_scan::fetch::{AddressGuard, GuardedResolver},
};

#[tokio::test]
async fn screenshot_pages_never_reach_a_refused_address_by_any_request() {
    // Arrange: only 127.0.0.1 is allowed; the bait is on 127.0.0.2.
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut s = settings(&db.url);
    s.of_mut::<ScanTech>().allow_networks = vec!["127.0.0.1/32".parse().unwrap()];
    let media = tempfile::tempdir().unwrap();
    s.of_mut::<CaptureScreenshot>().store = MediaStoreConfig::Local {
        dir: media.path().to_path_buf(),
    };
    let outside = bait("127.0.0.2").await;
    let (site, _site) = baiting_site(outside.address).await;
    let tech = s.of::<ScanTech>();
    let resolver = GuardedResolver::new(
        &tech.dns(),
        tech.resolve.clone(),
        AddressGuard::new(tech.allow_networks.clone()),
    )
    .unwrap();
    let deps = ScreenshotDeps::new(s.of::<CaptureScreenshot>().clone(), resolver, 1, s.web.clone()).unwrap();
    let baiting = insert_prospect(&pool, "bel-air-bakery.lu", Some(&format!("http://{site}/"))).await;
    let redirected = insert_prospect(&pool, "hop-bakery.lu", Some(&format!("http://{site}/redirect"))).await;
    let ctx = JobContext::new(pool.clone(), Enqueuer::default(), ulid::Ulid::new().to_string()).attempt(1, 3);

    // Act
    CaptureScreenshot::new(baiting, None, vec![])
        .handle(&ctx, &deps)
        .await
        .expect("the page itself is allowed and captured");
    let error = CaptureScreenshot::new(redirected, None, vec![])
        .handle(&ctx, &deps)
        .await
        .expect_err("a navigation redirected to a refused address is not captured");
    // Late connections (a WebSocket retried, a lingering preconnect).
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Assert: captured, refused with the address named, and the bait
    // never saw a connection; the proxy refused what the page tried.
    let shot: Option<String> =
        sqlx::query_scalar("SELECT site_screenshot_desktop FROM prospects WHERE id = $1")
            .bind(baiting)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(shot.is_some(), "the baiting page has its screenshot");
    assert!(error.is_permanent(), "{error}");
    let reason = error.to_string();
    assert!(reason.contains("127.0.0.2"), "{reason}");
    assert!(reason.contains("allow_networks"), "{reason}");
    assert_eq!(outside.connections(), 0, "the refused address was reached");
    let denials = deps.browser_proxy().denials();
    assert!(
        denials
            .iter()
            .any(|d| d.host == "127.0.0.2" && d.kind == DenialKind::Refused),
        "{denials:?}"
    );
}
