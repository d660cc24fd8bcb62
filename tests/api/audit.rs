//! The audit stage with real Lighthouse and Chromium on pages served on
//! loopback, and the PageSpeed Insights client against a local server that
//! speaks its documented wire format.
//!
//! Real Lighthouse runs take ~10–20 s each here, so there are few of them:
//! lean + heavy through the worker pool (resident runner), a 404 through the
//! pool (CLI runner, then scored without its audit), a host known only by its resolver pin, and three runs
//! killed early (timeouts, shutdown).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use prospector::{config::Settings, worker_pool::PoolError};
use prospector_devkit::bench::audit_site::AuditSite;
use prospector_jobs::{
    AuditPage, Enqueuer, Handler, JobContext, ScanTech, Stage, StageError,
    audit::{AuditDeps, AuditError, ProviderKind, RunnerKind},
    scan_jobs::{self, BatchItem, BatchKind},
    tech_scan::fetch::ResolveOverride,
};
use serde_json::Value;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

use crate::{
    bait::{bait, baiting_site},
    helpers::{TOKEN, TestApp, TestDb, settings, wait_for},
};

// ----- helpers --------------------------------------------------------------

/// A per-test directory for run directories, so process checks see only
/// this test's processes.
fn work_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("audit-test-").tempdir().unwrap()
}

fn use_work_dir(settings: &mut Settings, dir: &Path) {
    settings.of_mut::<AuditPage>().lighthouse.work_dir = dir.to_path_buf();
}

/// The sample sites are on loopback, which audits refuse unless allowed.
fn allow_loopback(settings: &mut Settings) {
    settings
        .of_mut::<ScanTech>()
        .allow_networks
        .push("127.0.0.0/8".parse().unwrap());
}

pub(crate) async fn insert_prospect(pool: &PgPool, domain: &str, website_url: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO prospects (channel, domain_name, website_url, has_website) VALUES ('digital', $1, $2, true) RETURNING id",
    )
    .bind(domain)
    .bind(website_url)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn enqueue(app: &TestApp, job: &AuditPage) -> String {
    let mut conn = app.pool().acquire().await.unwrap();
    let enqueued = app.app.enqueuer.enqueue(&mut conn, job).await.unwrap();
    enqueued.job_id().unwrap().to_owned()
}

fn context(pool: &PgPool, abort: CancellationToken) -> JobContext {
    JobContext::new(pool.clone(), Enqueuer::default(), ulid::Ulid::new().to_string())
        .attempt(1, 3)
        .with_abort(abort)
}

/// Processes (pid, command) whose command line mentions `dir`, from /proc.
fn processes_using(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&needle).then_some((pid, cmdline))
        })
        .collect()
}

/// Wait until the run has Chromium and Node up, and return their pids.
async fn running_processes(dir: &Path) -> BTreeSet<u32> {
    let mut seen = BTreeSet::new();
    wait_for(Duration::from_secs(60), "Chromium and Node of the run", || {
        let found = processes_using(dir);
        let chromium = found.iter().any(|(_, c)| c.contains("chromium"));
        let node = found.iter().any(|(_, c)| c.contains("node"));
        seen.extend(found.iter().map(|(pid, _)| *pid));
        async move { chromium && node }
    })
    .await;
    seen
}

/// Every pid seen is gone from /proc (dead and reaped: not even a zombie),
/// and nothing else uses the directory.
async fn assert_all_gone(dir: &Path, seen: &BTreeSet<u32>) {
    wait_for(Duration::from_secs(10), "the run's processes to be gone", || {
        let alive: Vec<u32> = seen
            .iter()
            .copied()
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
            .collect();
        let using = processes_using(dir);
        async move { alive.is_empty() && using.is_empty() }
    })
    .await;
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    prospector_jobs::audit::archive::decompress(bytes).unwrap()
}

#[derive(Debug, sqlx::FromRow)]
struct Profile {
    provider: String,
    form_factor: String,
    lighthouse_version: Option<String>,
    final_url: Option<String>,
    performance_score: Option<i32>,
    accessibility_score: Option<i32>,
    best_practices_score: Option<i32>,
    seo_score: Option<i32>,
    first_contentful_paint_ms: Option<i32>,
    largest_contentful_paint_ms: Option<i32>,
    total_blocking_time_ms: Option<i32>,
    cumulative_layout_shift: Option<f64>,
    speed_index_ms: Option<i32>,
    total_byte_weight: Option<i64>,
    is_mobile_friendly: Option<bool>,
    mobile_friendly_checks: Value,
    failing_audits: Value,
}

async fn profile(pool: &PgPool, prospect_id: i64) -> Option<Profile> {
    sqlx::query_as("SELECT * FROM prospect_performance_profiles WHERE prospect_id = $1")
        .bind(prospect_id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn audit_failure(pool: &PgPool, prospect_id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT audit_failure FROM prospects WHERE id = $1")
        .bind(prospect_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn failing_ids(profile: &Profile) -> Vec<String> {
    profile
        .failing_audits
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_in_range(p: &Profile) {
    for score in [
        p.performance_score,
        p.accessibility_score,
        p.best_practices_score,
        p.seo_score,
    ] {
        let score = score.expect("every category is scored");
        assert!((0..=100).contains(&score), "{p:?}");
    }
    let fcp = p.first_contentful_paint_ms.unwrap();
    let lcp = p.largest_contentful_paint_ms.unwrap();
    assert!(fcp > 0 && fcp < 120_000, "{p:?}");
    assert!(lcp >= fcp && lcp < 300_000, "{p:?}");
    assert!(p.total_blocking_time_ms.unwrap() >= 0);
    assert!(p.speed_index_ms.unwrap() > 0);
    assert!((0.0..10.0).contains(&p.cumulative_layout_shift.unwrap()));
    assert!(p.total_byte_weight.unwrap() > 0);
    assert_eq!(p.form_factor, "mobile");
    assert!(p.lighthouse_version.as_deref().unwrap().starts_with("12."));
    let checks = p.mobile_friendly_checks.as_array().unwrap();
    assert_eq!(checks[0]["audit"], "viewport", "{checks:?}");
}

// ----- Lighthouse through the worker pool -----------------------------------

#[tokio::test]
async fn audits_store_profiles_reports_and_the_heavy_page_scores_worse() {
    // Arrange
    let runs = work_dir();
    let app = TestApp::spawn_with(|s| {
        use_work_dir(s, runs.path());
        allow_loopback(s);
    })
    .await;
    let site = AuditSite::start().await.unwrap();
    let lean = insert_prospect(app.pool(), "lean-bakery.lu", Some(site.url("/lean/").as_str())).await;
    let heavy = insert_prospect(app.pool(), "heavy-bakery.lu", Some(site.url("/heavy/").as_str())).await;
    let never_audited = insert_prospect(app.pool(), "not-yet.lu", None).await;
    let batch = scan_jobs::create_batch(
        app.pool(),
        BatchKind::Scan,
        &["audit", "score"],
        2,
        None,
        &Value::Null,
    )
    .await
    .unwrap();
    let item = |id: i64| BatchItem {
        scan_job_id: batch,
        item_key: id.to_string(),
        prospect_id: Some(id),
    };
    app.app
        .worker_pool(&[Stage::Audit])
        .map(|pool| tokio::spawn(pool.run()))
        .unwrap();

    // Act: lean then score; heavy with nothing after it.
    enqueue(&app, &AuditPage::new(lean, Some(item(lean)), vec![Stage::Score])).await;
    enqueue(&app, &AuditPage::new(heavy, Some(item(heavy)), vec![])).await;

    // Assert: both profiles, in one transaction with their reports.
    wait_for(Duration::from_secs(240), "both audits to be stored", || async {
        profile(app.pool(), lean).await.is_some() && profile(app.pool(), heavy).await.is_some()
    })
    .await;
    let lean_profile = profile(app.pool(), lean).await.unwrap();
    let heavy_profile = profile(app.pool(), heavy).await.unwrap();
    assert_in_range(&lean_profile);
    assert_in_range(&heavy_profile);
    assert_eq!(lean_profile.provider, "lighthouse");
    assert!(lean_profile.final_url.as_deref().unwrap().ends_with("/lean/"));

    // The heavy page is worse where it should be — never exact scores.
    assert!(heavy_profile.performance_score < lean_profile.performance_score);
    assert!(heavy_profile.accessibility_score < lean_profile.accessibility_score);
    assert!(heavy_profile.seo_score < lean_profile.seo_score);
    assert!(heavy_profile.largest_contentful_paint_ms > lean_profile.largest_contentful_paint_ms);
    assert!(heavy_profile.total_blocking_time_ms > lean_profile.total_blocking_time_ms);
    assert!(heavy_profile.total_byte_weight.unwrap() > 1_000_000);
    assert_eq!(lean_profile.is_mobile_friendly, Some(true));
    assert_eq!(heavy_profile.is_mobile_friendly, Some(false));

    // Evidence a salesperson can quote, with displayed values.
    let heavy_failing = failing_ids(&heavy_profile);
    for expected in ["viewport", "largest-contentful-paint", "meta-description"] {
        assert!(
            heavy_failing.iter().any(|id| id == expected),
            "{expected} not in {heavy_failing:?}"
        );
    }
    assert!(
        heavy_failing.iter().any(|id| id.starts_with("render-blocking")),
        "{heavy_failing:?}"
    );
    let lcp = heavy_profile
        .failing_audits
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "largest-contentful-paint")
        .unwrap();
    assert!(lcp["display_value"].as_str().unwrap().contains('s'), "{lcp}");
    assert!(!failing_ids(&lean_profile).iter().any(|id| id == "viewport"));

    // prospects.last_audit_at, and the pipeline moved on.
    let audited: Vec<bool> =
        sqlx::query_scalar("SELECT last_audit_at IS NOT NULL FROM prospects WHERE id = ANY($1) ORDER BY id")
            .bind([lean, heavy, never_audited])
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(audited, [true, true, false]);
    let score_jobs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'score' AND convert_from(job, 'UTF8')::jsonb ->> 'prospect_id' = $1",
    )
    .bind(lean.to_string())
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(score_jobs, 1, "the lean prospect goes on to score");
    let processed: i32 = sqlx::query_scalar("SELECT processed_items FROM prospect_scan_jobs WHERE id = $1")
        .bind(batch)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(
        processed, 1,
        "the heavy prospect had no stage left: its item is processed"
    );

    // The full report, compressed, from the admin API: decompressed for a
    // client that does not take gzip…
    let plain = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap();
    let report = plain
        .get(format!("{}/api/prospects/{heavy}/audit-report", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 200);
    assert!(report.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(report.headers()["x-audit-format"], "lighthouse_result");
    let lhr: Value = report.json().await.unwrap();
    assert_eq!(lhr["audits"]["viewport"]["score"], 0);
    // …and sent as stored to one that does.
    let raw = plain
        .get(format!("{}/api/prospects/{lean}/audit-report", app.address))
        .bearer_auth(TOKEN)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()[header::CONTENT_ENCODING], "gzip");
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT report FROM prospect_audit_reports WHERE prospect_id = $1")
            .bind(lean)
            .fetch_one(app.pool())
            .await
            .unwrap();
    let body = raw.bytes().await.unwrap();
    assert_eq!(body.as_ref(), stored.as_slice(), "sent as stored");
    let lean_lhr: Value = serde_json::from_slice(&gunzip(&body)).unwrap();
    assert!(
        lean_lhr["finalDisplayedUrl"]
            .as_str()
            .unwrap()
            .ends_with("/lean/")
    );
    assert_eq!(
        app.get(&format!("/api/prospects/{never_audited}/audit-report"))
            .await
            .status(),
        404
    );
    let anonymous = app
        .http
        .get(format!("{}/api/prospects/{lean}/audit-report", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_missing_page_ends_the_audit_with_lighthouses_code_and_is_scored_without_it() {
    // Arrange: the CLI runner (one `lighthouse` process per audit); audit
    // and score workers.
    let runs = work_dir();
    let app = TestApp::spawn_with(|s| {
        use_work_dir(s, runs.path());
        allow_loopback(s);
        s.of_mut::<AuditPage>().lighthouse.runner = RunnerKind::Cli;
    })
    .await;
    let site = AuditSite::start().await.unwrap();
    let gone = insert_prospect(app.pool(), "gone-bakery.lu", Some(site.url("/closed/").as_str())).await;
    app.app
        .worker_pool(&[Stage::Audit, Stage::Score])
        .map(|pool| tokio::spawn(pool.run()))
        .unwrap();

    // Act
    let id = enqueue(&app, &AuditPage::new(gone, None, vec![Stage::Score])).await;

    // Assert: one run; the audit ended with Lighthouse's code and the
    // status as the prospect's audit failure, and the chain went on to a
    // score that says the audit is missing.
    wait_for(Duration::from_secs(180), "the prospect to be scored", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM prospect_scores WHERE prospect_id = $1")
            .bind(gone)
            .fetch_one(app.pool())
            .await
            .unwrap()
            == 1
    })
    .await;
    // apalis acknowledges after the handler's transaction: wait for it.
    wait_for(Duration::from_secs(30), "the audit job to be done", || async {
        let status: String = sqlx::query_scalar("SELECT status FROM apalis.jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(app.pool())
            .await
            .unwrap();
        status == "Done"
    })
    .await;
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM apalis.jobs WHERE id = $1")
        .bind(&id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(attempts, 1, "a site that cannot be audited runs once");
    let failure: Option<String> = sqlx::query_scalar("SELECT audit_failure FROM prospects WHERE id = $1")
        .bind(gone)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let failure = failure.expect("the reason is kept on the prospect");
    assert!(failure.contains("ERRORED_DOCUMENT_REQUEST"), "{failure}");
    assert!(failure.contains("404"), "{failure}");
    assert!(profile(app.pool(), gone).await.is_none());
    let flags: Value = sqlx::query_scalar("SELECT reason_flags FROM prospect_scores WHERE prospect_id = $1")
        .bind(gone)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let missing = flags
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "audit_missing")
        .unwrap_or_else(|| panic!("no audit_missing flag in {flags}"));
    let observed = missing["evidence"]["observed"].as_str().unwrap();
    assert!(observed.contains("ERRORED_DOCUMENT_REQUEST"), "{observed}");
    assert_eq!(missing["points"], 0);
    assert_all_gone(runs.path(), &BTreeSet::new()).await;
}

#[tokio::test]
async fn a_worker_will_not_start_the_stage_without_chromium() {
    let db = TestDb::new().await;
    let mut s = settings(&db.url);
    s.of_mut::<AuditPage>().lighthouse.chrome_path = PathBuf::from("/nowhere/chromium");
    let app = prospector::application::Application::with_pool(s, db.pool().await);

    let error = app
        .worker_pool(&[Stage::Audit])
        .err()
        .expect("the stage must refuse to start");

    assert!(
        matches!(
            error,
            PoolError::Setup {
                stage: Stage::Audit,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("Chromium not found at /nowhere/chromium"),
        "{error}"
    );
}

// ----- Processes: timeout and shutdown -----------------------------------------

/// A one-route server on `ip` that counts its requests and answers with
/// `response`.
async fn counting_server(
    ip: &str,
    response: impl Fn() -> Response + Clone + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>, AbortOnDropHandle<()>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let router = Router::new().route(
        "/",
        get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            async move { response() }
        }),
    );
    let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (url, hits, AbortOnDropHandle::new(server))
}

#[tokio::test]
async fn pages_off_the_public_internet_are_not_audited_even_by_redirect() {
    // Arrange: a page on 127.0.0.1; a site on 127.0.0.2 that redirects to
    // the sample site on 127.0.0.1; only 127.0.0.2 is allowed.
    let runs = work_dir();
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut s = settings(&db.url);
    use_work_dir(&mut s, runs.path());
    let site = AuditSite::start().await.unwrap();
    let (inside, inside_hits, _inside) = counting_server("127.0.0.1", || {
        Html("<html><head><title>Intranet</title></head><body>admin</body></html>").into_response()
    })
    .await;
    let target = site.url("/lean/").to_string();
    let (outside, outside_hits, _outside) = counting_server("127.0.0.2", move || {
        (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response()
    })
    .await;
    s.of_mut::<ScanTech>()
        .allow_networks
        .push("127.0.0.2/32".parse().unwrap());
    let deps = AuditDeps::new(s.of::<AuditPage>(), s.of::<ScanTech>()).unwrap();
    let direct = insert_prospect(&pool, "inside-bakery.lu", Some(&inside)).await;
    let redirected = insert_prospect(&pool, "redirecting-bakery.lu", Some(&outside)).await;
    let ctx = context(&pool, CancellationToken::new());

    // Act: both end (the sites cannot be audited), so the score can go on.
    AuditPage::new(direct, None, vec![])
        .handle(&ctx, &deps)
        .await
        .unwrap();
    AuditPage::new(redirected, None, vec![])
        .handle(&ctx, &deps)
        .await
        .unwrap();

    // Assert: refused with the address and the setting named, kept as the
    // prospects' audit failures; the loopback page was never requested; the
    // redirecting site was (the redirect is only known after the run), and
    // nothing was stored.
    for prospect in [direct, redirected] {
        let reason = audit_failure(&pool, prospect).await.expect("a recorded failure");
        assert!(reason.contains("not audited"), "{reason}");
        assert!(reason.contains("127.0.0.1"), "{reason}");
        assert!(reason.contains("allow_networks"), "{reason}");
    }
    assert_eq!(inside_hits.load(Ordering::SeqCst), 0);
    assert!(outside_hits.load(Ordering::SeqCst) >= 1);
    assert!(profile(&pool, direct).await.is_none());
    assert!(profile(&pool, redirected).await.is_none());
    let reports: i64 = sqlx::query_scalar("SELECT count(*) FROM prospect_audit_reports")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(reports, 0);
}

#[tokio::test]
async fn pinned_hosts_are_audited_at_their_pin_and_a_failed_navigation_says_why() {
    // Arrange: `pinned-bakery.test` exists only as a `tech_scan.resolve`
    // pin to the sample site; `closed-bakery.test` is pinned to a port
    // nothing listens on. Neither name is in any DNS.
    let runs = work_dir();
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut s = settings(&db.url);
    use_work_dir(&mut s, runs.path());
    allow_loopback(&mut s);
    let site = AuditSite::start().await.unwrap();
    let served = site.url("/lean/");
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let tech = s.of_mut::<ScanTech>();
    tech.resolve.push(ResolveOverride {
        host: "pinned-bakery.test".to_owned(),
        addr: format!("127.0.0.1:{}", served.port().unwrap()).parse().unwrap(),
    });
    tech.resolve.push(ResolveOverride {
        host: "closed-bakery.test".to_owned(),
        addr: closed,
    });
    let deps = AuditDeps::new(s.of::<AuditPage>(), s.of::<ScanTech>()).unwrap();
    let pinned = insert_prospect(
        &pool,
        "pinned-bakery.test",
        Some("http://pinned-bakery.test/lean/"),
    )
    .await;
    let refused = insert_prospect(&pool, "closed-bakery.test", Some("http://closed-bakery.test/")).await;
    let ctx = context(&pool, CancellationToken::new());

    // Act
    let audited = AuditPage::new(pinned, None, vec![]).handle(&ctx, &deps).await;
    AuditPage::new(refused, None, vec![])
        .handle(&ctx, &deps)
        .await
        .expect("a site that cannot be audited ends its audit");

    // Assert: the pinned page was loaded from its pin and stored; the other
    // failed with what the connection said, not with the name of Chromium's
    // error page.
    audited.expect("the pinned host is audited");
    let stored = profile(&pool, pinned)
        .await
        .expect("a profile for the pinned host");
    assert_in_range(&stored);
    assert_eq!(audit_failure(&pool, pinned).await, None);
    let reason = audit_failure(&pool, refused).await.expect("a recorded failure");
    assert!(
        reason.contains(&format!("connecting to {closed}: Connection refused")),
        "{reason}"
    );
    assert!(!reason.contains("chromewebdata"), "{reason}");
    assert!(profile(&pool, refused).await.is_none());
}

#[tokio::test]
async fn audited_pages_never_reach_a_refused_address_by_any_request() {
    // Arrange: only 127.0.0.1 is allowed; the page on it reaches for the
    // bait on 127.0.0.2 (an image, iframes, a fetch, a WebSocket, a
    // preconnect, a redirected frame), and another site redirects there.
    let runs = work_dir();
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let outside = bait("127.0.0.2").await;
    let (site, _site) = baiting_site(outside.address).await;
    let deps_for = |runner: RunnerKind| {
        let mut s = settings(&db.url);
        use_work_dir(&mut s, runs.path());
        s.of_mut::<AuditPage>().lighthouse.runner = runner;
        s.of_mut::<ScanTech>().allow_networks = vec!["127.0.0.1/32".parse().unwrap()];
        AuditDeps::new(s.of::<AuditPage>(), s.of::<ScanTech>()).unwrap()
    };
    let resident = deps_for(RunnerKind::Resident);
    let cli = deps_for(RunnerKind::Cli);
    let baiting = format!("http://{site}/");
    let by_resident = insert_prospect(&pool, "bel-air-bakery.lu", Some(&baiting)).await;
    let by_cli = insert_prospect(&pool, "bel-air-bakery.be", Some(&baiting)).await;
    let redirected = insert_prospect(&pool, "hop-bakery.lu", Some(&format!("http://{site}/redirect"))).await;
    let ctx = context(&pool, CancellationToken::new());

    // Act
    for (prospect, deps) in [(by_resident, &resident), (by_cli, &cli), (redirected, &resident)] {
        AuditPage::new(prospect, None, vec![])
            .handle(&ctx, deps)
            .await
            .expect("the audit ends (stored, or the failure recorded)");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Assert: the page was audited by both runners, the redirected site
    // was not (with the address and the setting named), and the bait never
    // saw a connection: the proxy refused every attempt.
    for prospect in [by_resident, by_cli] {
        let stored = profile(&pool, prospect)
            .await
            .expect("the baiting page is audited");
        assert_eq!(stored.final_url.as_deref(), Some(baiting.as_str()));
        assert_eq!(audit_failure(&pool, prospect).await, None);
    }
    let reason = audit_failure(&pool, redirected)
        .await
        .expect("a recorded failure");
    assert!(reason.contains("127.0.0.2"), "{reason}");
    assert!(reason.contains("allow_networks"), "{reason}");
    assert!(profile(&pool, redirected).await.is_none());
    assert_eq!(outside.connections(), 0, "the refused address was reached");
    for deps in [&resident, &cli] {
        let denials = deps.browser_proxy().expect("a local run has a proxy").denials();
        assert!(
            denials
                .iter()
                .any(|d| d.host == "127.0.0.2"
                    && d.kind == prospector_jobs::browser_proxy::DenialKind::Refused),
            "{denials:?}"
        );
    }
}

async fn handler_with(runner: RunnerKind, timeout: Duration, runs: &Path) -> (TestDb, PgPool, AuditDeps) {
    let db = TestDb::new().await;
    let mut s = settings(&db.url);
    use_work_dir(&mut s, runs);
    s.of_mut::<AuditPage>().lighthouse.runner = runner;
    s.of_mut::<AuditPage>().timeout = timeout;
    allow_loopback(&mut s);
    let deps = AuditDeps::new(s.of::<AuditPage>(), s.of::<ScanTech>()).unwrap();
    let pool = db.pool().await;
    (db, pool, deps)
}

#[tokio::test]
async fn a_run_that_outlives_its_timeout_is_killed_with_all_its_processes() {
    for runner in [RunnerKind::Resident, RunnerKind::Cli] {
        // Arrange: a page that never finishes loading. The CLI runner's
        // timeout also covers starting Node and Chromium on a busy machine.
        let limit = match runner {
            RunnerKind::Resident => 6,
            RunnerKind::Cli => 20,
        };
        let runs = work_dir();
        let (_db, pool, deps) = handler_with(runner, Duration::from_secs(limit), runs.path()).await;
        let site = AuditSite::start().await.unwrap();
        let prospect = insert_prospect(&pool, "slow-bakery.lu", Some(site.url("/hang/").as_str())).await;
        let ctx = context(&pool, CancellationToken::new());

        // Act
        let job = AuditPage::new(prospect, None, vec![]);
        let run = tokio::spawn(async move { job.handle(&ctx, &deps).await });
        let seen = running_processes(runs.path()).await;
        let error = run.await.unwrap().expect_err("the run must time out");

        // Assert: our timeout fired (not Lighthouse's own 45 s page-load
        // limit), the failure is transient, and nothing is left behind.
        assert!(matches!(error, AuditError::Runner(_)), "{runner:?}: {error}");
        assert!(!error.is_permanent(), "{runner:?}: a timeout is retried");
        assert!(
            error
                .to_string()
                .contains(&format!("did not finish within {limit}s")),
            "{error}"
        );
        assert_all_gone(runs.path(), &seen).await;
        assert!(profile(&pool, prospect).await.is_none());
    }
}

#[tokio::test]
async fn shutdown_kills_a_running_audit_and_its_chromium() {
    // Arrange
    let runs = work_dir();
    let (_db, pool, deps) = handler_with(RunnerKind::Resident, Duration::from_secs(90), runs.path()).await;
    let site = AuditSite::start().await.unwrap();
    let prospect = insert_prospect(&pool, "slow-bakery.lu", Some(site.url("/hang/").as_str())).await;
    let abort = CancellationToken::new();
    let ctx = context(&pool, abort.clone());
    let job = AuditPage::new(prospect, None, vec![]);
    let run = tokio::spawn(async move {
        let result = job.handle(&ctx, &deps).await;
        (result, deps)
    });
    let seen = running_processes(runs.path()).await;

    // Act
    abort.cancel();

    // Assert
    let (result, deps) = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the handler returns promptly on abort")
        .unwrap();
    assert!(matches!(result, Err(AuditError::Interrupted)), "{result:?}");
    assert_all_gone(runs.path(), &seen).await;
    drop(deps);
}

// ----- PageSpeed Insights against a local server ----------------------------------

const PSI_RESPONSE: &str = include_str!("../../jobs/tests/fixtures/pagespeed-v5-heavy-mobile.json");
const PSI_DAILY_QUOTA: &str = include_str!("../../jobs/tests/fixtures/pagespeed-v5-error-daily-quota.json");
const PSI_RATE_LIMIT: &str = include_str!("../../jobs/tests/fixtures/pagespeed-v5-error-rate-limit.json");
const PSI_KEY: &str = "AIzaSy-test-key-for-a-local-server";

/// What the fake PageSpeed Insights server answers next.
#[derive(Clone, Copy)]
enum PsiMode {
    Result,
    RateLimited,
    DailyQuota,
}

#[derive(Clone)]
struct FakePsi {
    mode: Arc<std::sync::Mutex<PsiMode>>,
    calls: Arc<AtomicUsize>,
    bad_requests: Arc<std::sync::Mutex<Vec<String>>>,
}

/// Checks the request the way Google documents it, then answers.
async fn run_pagespeed(
    State(psi): State<FakePsi>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    psi.calls.fetch_add(1, Ordering::SeqCst);
    let values = |key: &str| -> Vec<String> {
        query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let mut problems = Vec::new();
    if values("url").len() != 1 {
        problems.push("exactly one url".to_owned());
    }
    if values("strategy") != ["mobile"] {
        problems.push(format!("strategy {:?}", values("strategy")));
    }
    let mut categories = values("category");
    categories.sort();
    if categories != ["ACCESSIBILITY", "BEST_PRACTICES", "PERFORMANCE", "SEO"] {
        problems.push(format!("categories {categories:?}"));
    }
    if headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) != Some(PSI_KEY) {
        problems.push("api key header".to_owned());
    }
    if query.iter().any(|(k, _)| k == "key") {
        problems.push("key in the query string".to_owned());
    }
    if !problems.is_empty() {
        psi.bad_requests.lock().unwrap().extend(problems.clone());
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": {"code": 400, "message": problems.join(", ")}})),
        )
            .into_response();
    }
    let mode = *psi.mode.lock().unwrap();
    let json = [(header::CONTENT_TYPE, "application/json; charset=UTF-8")];
    match mode {
        PsiMode::Result => (json, PSI_RESPONSE).into_response(),
        PsiMode::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "7")],
            json,
            PSI_RATE_LIMIT,
        )
            .into_response(),
        PsiMode::DailyQuota => (StatusCode::TOO_MANY_REQUESTS, json, PSI_DAILY_QUOTA).into_response(),
    }
}

async fn fake_psi(mode: PsiMode) -> (FakePsi, String, AbortOnDropHandle<()>) {
    let psi = FakePsi {
        mode: Arc::new(std::sync::Mutex::new(mode)),
        calls: Arc::default(),
        bad_requests: Arc::default(),
    };
    let router = Router::new()
        .route("/pagespeedonline/v5/runPagespeed", get(run_pagespeed))
        .with_state(psi.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (psi, base, AbortOnDropHandle::new(server))
}

fn use_pagespeed(s: &mut Settings, base: &str) {
    s.of_mut::<AuditPage>().provider = ProviderKind::PageSpeed;
    s.of_mut::<AuditPage>().pagespeed.base_url = url::Url::parse(base).unwrap();
    s.of_mut::<AuditPage>().pagespeed.api_key = Some(secrecy::SecretString::from(PSI_KEY));
}

#[tokio::test]
async fn pagespeed_results_are_stored_like_lighthouse_results() {
    // Arrange
    let (psi, base, _server) = fake_psi(PsiMode::Result).await;
    let app = TestApp::spawn_with(|s| use_pagespeed(s, &base)).await;
    let prospect = insert_prospect(
        app.pool(),
        "boulangerie-example.lu",
        Some("https://www.boulangerie-example.lu/heavy/"),
    )
    .await;
    app.app
        .worker_pool(&[Stage::Audit])
        .map(|pool| tokio::spawn(pool.run()))
        .unwrap();

    // Act
    enqueue(&app, &AuditPage::new(prospect, None, vec![])).await;

    // Assert
    wait_for(Duration::from_secs(30), "the profile", || async {
        profile(app.pool(), prospect).await.is_some()
    })
    .await;
    assert!(
        psi.bad_requests.lock().unwrap().is_empty(),
        "{:?}",
        psi.bad_requests.lock().unwrap()
    );
    let p = profile(app.pool(), prospect).await.unwrap();
    assert_in_range(&p);
    assert_eq!(p.provider, "pagespeed");
    assert_eq!(p.is_mobile_friendly, Some(false));
    assert!(failing_ids(&p).iter().any(|id| id == "viewport"));
    assert_eq!(
        p.final_url.as_deref(),
        Some("https://www.boulangerie-example.lu/heavy/")
    );
    let usage: i64 =
        sqlx::query_scalar("SELECT count(*) FROM api_usage WHERE provider = 'pagespeed' AND cost_cents = 0")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(usage, 1);
    let report = app.get(&format!("/api/prospects/{prospect}/audit-report")).await;
    assert_eq!(report.headers()["x-audit-format"], "pagespeed_v5");
    assert_eq!(report.headers()["x-audit-provider"], "pagespeed");
    let body: Value = report.json().await.unwrap();
    assert_eq!(
        body["loadingExperience"]["overall_category"], "SLOW",
        "the whole PSI answer is kept"
    );
}

#[tokio::test]
async fn pagespeed_quota_answers_become_retry_after_and_wait() {
    // Arrange
    let (psi, base, _server) = fake_psi(PsiMode::RateLimited).await;
    let db = TestDb::new().await;
    let mut s = settings(&db.url);
    use_pagespeed(&mut s, &base);
    let pool = db.pool().await;
    let prospect = insert_prospect(
        &pool,
        "boulangerie-example.lu",
        Some("https://www.boulangerie-example.lu/"),
    )
    .await;
    let deps = AuditDeps::new(s.of::<AuditPage>(), s.of::<ScanTech>()).unwrap();
    let audit = |deps: AuditDeps| {
        let ctx = context(&pool, CancellationToken::new());
        async move { AuditPage::new(prospect, None, vec![]).handle(&ctx, &deps).await }
    };

    // Act + Assert: per-minute quota → retry after Google's Retry-After.
    let rate_limited = audit(deps.clone()).await.unwrap_err();
    assert_eq!(
        rate_limited.retry_after(),
        Some(Duration::from_secs(7)),
        "{rate_limited}"
    );
    assert!(!rate_limited.is_permanent());
    assert_eq!(rate_limited.wait(), None);

    // Per-day quota → wait (no attempt spent) until the next Pacific day.
    *psi.mode.lock().unwrap() = PsiMode::DailyQuota;
    let daily = audit(deps.clone()).await.unwrap_err();
    let wait = daily.wait().expect("a spent daily quota waits");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(25 * 3600),
        "{wait:?}"
    );
    assert!(!daily.is_permanent());

    // A local daily quota that is used up: wait without calling Google.
    *psi.mode.lock().unwrap() = PsiMode::Result;
    s.of_mut::<AuditPage>().pagespeed.daily_quota = Some(2);
    let limited = AuditDeps::new(s.of::<AuditPage>(), s.of::<ScanTech>()).unwrap();
    let calls_before = psi.calls.load(Ordering::SeqCst);
    let local = audit(limited).await.unwrap_err();
    assert!(local.wait().is_some(), "{local}");
    assert!(local.to_string().contains("daily_quota"), "{local}");
    assert_eq!(
        psi.calls.load(Ordering::SeqCst),
        calls_before,
        "no request past the quota"
    );
    assert!(psi.bad_requests.lock().unwrap().is_empty());
    assert!(profile(&pool, prospect).await.is_none());
}
