//! The discover stage against a local server speaking the providers'
//! documented wire formats, on real PostgreSQL: the clients (pagination,
//! empty answers, 429, 500, malformed JSON, async requests), bad records,
//! the daily budget, and the autopilot end to end.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use prospector::{
    config::{ScheduleSpec, ScheduledJob, Settings},
    scheduler::{Fired, Scheduler},
};
use prospector_jobs::{
    Handler, JobContext, Stage, StageError,
    discover::{
        ApiKey, DiscoverBusinesses, DiscoverSettings, ProviderError, ProviderKind, RetryPolicy,
        providers::{
            google_places::{DEFAULT_FIELD_MASK, GooglePlacesClient, TextSearch},
            outscraper::{MapsSearch, OutscraperClient, Submitted},
        },
    },
    domain::CountryCode,
    scan_jobs,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use url::Url;

use crate::{
    helpers::{TestApp, count, wait_for},
    providers::{FakeProviders, OUTSCRAPER_KEY, PLACES_KEY, PLACES_PAGE1, PLACES_QUOTA, Scripted},
};

fn use_fast_retries(d: &mut DiscoverSettings) {
    let r = fast_retries();
    (d.retries, d.retry_base, d.retry_max_wait) = (r.retries, r.base_delay, r.max_wait);
}

/// Outscraper with async requests (polled every 50 ms for at most
/// `max_poll_wait` per attempt) at `base`, billed per result, fast retries,
/// the autopilot on.
fn use_async_outscraper(s: &mut Settings, base: &str, max_poll_wait: Duration) {
    let d = s.of_mut::<DiscoverBusinesses>();
    d.provider = ProviderKind::Outscraper;
    d.outscraper.base_url = Url::parse(base).unwrap();
    d.outscraper_key = ApiKey::new(OUTSCRAPER_KEY);
    d.outscraper.asynchronous = true;
    d.outscraper.poll_interval = Duration::from_millis(50);
    d.outscraper.max_poll_wait = max_poll_wait;
    d.outscraper.price_per_request_cents = 0.0;
    d.outscraper.price_per_result_cents = 0.3;
    use_fast_retries(d);
    d.autopilot.enabled = true;
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        retries: 2,
        base_delay: Duration::from_millis(50),
        max_wait: Duration::from_secs(3),
    }
}

fn places_client(server: &FakeProviders, key: &str) -> GooglePlacesClient {
    prospector::tls::init();
    GooglePlacesClient::new(
        reqwest::Client::new(),
        Url::parse(&server.base_url).unwrap(),
        ApiKey::new(key).unwrap(),
        DEFAULT_FIELD_MASK.to_owned(),
        fast_retries(),
    )
}

fn outscraper_client(server: &FakeProviders) -> OutscraperClient {
    prospector::tls::init();
    OutscraperClient::new(
        reqwest::Client::new(),
        Url::parse(&server.base_url).unwrap(),
        ApiKey::new(OUTSCRAPER_KEY).unwrap(),
        fast_retries(),
    )
}

fn bakeries() -> TextSearch {
    TextSearch {
        text_query: "bakeries in Luxembourg, Luxembourg, LU".into(),
        page_size: 20,
        language: Some("en".into()),
        region: Some("LU".into()),
        location_bias: Some((49.61, 6.13, 5000.0)),
    }
}

// ----- clients -------------------------------------------------------------

#[tokio::test]
async fn places_client_sends_the_documented_request_and_follows_page_tokens() {
    // Arrange
    let server = FakeProviders::start().await;
    let client = places_client(&server, PLACES_KEY);

    // Act
    let first = client.search_text(&bakeries(), None).await.unwrap();
    let token = first.next_page_token.clone().expect("a second page");
    let second = client.search_text(&bakeries(), Some(&token)).await.unwrap();

    // Assert: two pages, the second without a token.
    assert_eq!(first.page.results, 2);
    assert_eq!(second.page.results, 5);
    assert_eq!(second.next_page_token, None);
    let seen = server.seen("/v1/places:searchText");
    assert_eq!(seen.len(), 2);
    let request = &seen[0];
    assert_eq!(request.headers["x-goog-api-key"], PLACES_KEY);
    let mask = request.headers["x-goog-fieldmask"].to_str().unwrap();
    assert!(mask.split(',').any(|f| f == "nextPageToken"), "{mask}");
    assert!(mask.split(',').any(|f| f == "places.websiteUri"), "{mask}");
    assert_eq!(
        request.params["textQuery"],
        "bakeries in Luxembourg, Luxembourg, LU"
    );
    assert_eq!(request.params["pageSize"], 20);
    assert_eq!(request.params["languageCode"], "en");
    assert_eq!(request.params["regionCode"], "lu");
    assert_eq!(request.params["locationBias"]["circle"]["radius"], 5000.0);
    assert!(request.params.get("pageToken").is_none());
    assert_eq!(seen[1].params["pageToken"], "AeeoHcLjkyoUi0c_page2");
    assert_eq!(
        seen[1].params["textQuery"], request.params["textQuery"],
        "same query on every page"
    );
}

#[tokio::test]
async fn places_client_reads_an_empty_answer_as_no_results() {
    let server = FakeProviders::start().await;
    let search = TextSearch {
        text_query: "lighthouse keepers in Nowhere".into(),
        ..bakeries()
    };
    let page = places_client(&server, PLACES_KEY)
        .search_text(&search, None)
        .await
        .unwrap();
    assert_eq!(page.page.results, 0);
    assert!(page.page.records.is_empty());
    assert_eq!(page.next_page_token, None);
}

#[tokio::test]
async fn places_client_waits_out_a_429_with_retry_after_then_succeeds() {
    // Arrange: the first answer is Google's quota error with Retry-After: 1.
    let server = FakeProviders::start().await;
    server.script_places([Scripted::new(429, PLACES_QUOTA).retry_after("1")]);
    let client = places_client(&server, PLACES_KEY);

    // Act
    let started = Instant::now();
    let page = client.search_text(&bakeries(), None).await.unwrap();

    // Assert: retried once, not before the second the server asked for.
    assert_eq!(page.page.results, 2);
    assert_eq!(server.seen("/v1/places:searchText").len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn places_client_hands_long_retry_afters_and_persistent_500s_to_the_queue() {
    let server = FakeProviders::start().await;
    let client = places_client(&server, PLACES_KEY);

    // A Retry-After longer than the in-job limit is not slept on.
    server.script_places([Scripted::new(429, PLACES_QUOTA).retry_after("120")]);
    let error = client.search_text(&bakeries(), None).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "{error:?}"
    );
    assert!(!error.is_permanent());
    assert_eq!(server.seen("/v1/places:searchText").len(), 1);

    // 500s are retried in the job (2 retries), then reported as transient.
    let internal =
        r#"{"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}"#;
    server.script_places((0..3).map(|_| Scripted::new(500, internal)));
    let error = client.search_text(&bakeries(), None).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::Unavailable { status: 500, .. }),
        "{error:?}"
    );
    assert!(!error.is_permanent());
    assert_eq!(server.seen("/v1/places:searchText").len(), 4);
}

#[tokio::test]
async fn places_client_reports_malformed_json_and_refusals() {
    let server = FakeProviders::start().await;
    server.script_places([Scripted::new(
        200,
        r#"{"places": [{"id": "ChIJx", "displayName": "#,
    )]);
    let error = places_client(&server, PLACES_KEY)
        .search_text(&bakeries(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Malformed { .. }), "{error:?}");
    assert!(!error.is_permanent(), "a truncated answer is worth another try");

    // A wrong key: 403, permanent, with Google's message (and not the key).
    let error = places_client(&server, "wrong-key")
        .search_text(&bakeries(), None)
        .await
        .unwrap_err();
    assert!(error.is_permanent());
    let message = error.to_string();
    assert!(
        message.contains("HTTP 403") && message.contains("API key not valid"),
        "{message}"
    );
    assert!(!message.contains("wrong-key"));
}

#[tokio::test]
async fn outscraper_client_pages_with_skip_and_polls_async_requests_until_success() {
    // Arrange: async requests stay pending for two polls.
    let server = FakeProviders::start().await;
    server.pending_polls(2);
    let client = outscraper_client(&server);
    let search = MapsSearch {
        query: "bakeries, Luxembourg, LU".into(),
        limit: 20,
        skip: 0,
        language: Some("en".into()),
        region: Some("LU".into()),
        asynchronous: true,
    };

    // Act
    let Submitted::Pending { request_id } = client.submit(&search).await.unwrap() else {
        panic!("an async request is pending first");
    };
    let page = client
        .wait(&request_id, Duration::from_millis(50), Duration::from_secs(5))
        .await
        .unwrap();

    // Assert
    assert_eq!(page.results, 2);
    assert_eq!(
        server.seen(&format!("/requests/{request_id}")).len(),
        3,
        "two pending polls, then success"
    );
    let submit = &server.seen("/maps/search-v3")[0];
    assert_eq!(submit.headers["x-api-key"], OUTSCRAPER_KEY);
    for (name, value) in [
        ("query", "bakeries, Luxembourg, LU"),
        ("limit", "20"),
        ("skip", "0"),
        ("async", "true"),
        ("language", "en"),
        ("region", "LU"),
    ] {
        assert_eq!(submit.params[name], value, "{name}");
    }

    // The next page, synchronously: skip=20, no results.
    let next = MapsSearch {
        skip: 20,
        asynchronous: false,
        ..search
    };
    let Submitted::Done(page) = client.submit(&next).await.unwrap() else {
        panic!("a sync request answers at once");
    };
    assert_eq!(page.results, 0);
    assert_eq!(server.seen("/maps/search-v3")[1].params["skip"], "20");
}

#[tokio::test]
async fn outscraper_client_handles_limits_errors_and_foreign_result_locations() {
    let server = FakeProviders::start().await;
    let client = outscraper_client(&server);
    let search = MapsSearch {
        query: "bakeries, Luxembourg, LU".into(),
        limit: 20,
        skip: 0,
        language: None,
        region: None,
        asynchronous: false,
    };
    // 429 then 500 then success: retried in the job.
    server.script_outscraper([
        Scripted::new(429, r#"{"error": true, "errorMessage": "Too many requests"}"#).retry_after("0"),
        Scripted::new(500, "<html>oops</html>"),
    ]);
    assert!(matches!(client.submit(&search).await.unwrap(), Submitted::Done(p) if p.results == 2));

    // Malformed JSON.
    server.script_outscraper([Scripted::new(200, "{\"status\": \"Success\", \"data\": [[{")]);
    assert!(matches!(
        client.submit(&search).await.unwrap_err(),
        ProviderError::Malformed { .. }
    ));

    // A results location on another host would receive our key: refused.
    server.script_outscraper([Scripted::new(
        200,
        json!({"id": "r1", "status": "Pending", "results_location": "https://collector.example/requests/r1"})
            .to_string(),
    )]);
    let error = client.submit(&search).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::ForeignLocation { .. }),
        "{error:?}"
    );
    assert!(error.is_permanent());

    // A request that failed on the provider's side.
    server.script_outscraper([Scripted::new(
        402,
        r#"{"error": true, "errorMessage": "Not enough credits"}"#,
    )]);
    let error = client.submit(&search).await.unwrap_err();
    assert!(error.to_string().contains("Not enough credits"), "{error}");
    assert!(error.is_permanent());
}

// ----- the stage on a database ---------------------------------------------

pub(crate) const GRID: &str = "country,state,city,industry,priority,population\n\
                    LU,Luxembourg,Luxembourg,bakeries,10,134697\n\
                    LU,Esch,Esch-sur-Alzette,plumbers,5,36625\n\
                    LU,Diekirch,Ettelbruck,florists,,not-a-number\n";

pub(crate) fn with_places(server: &FakeProviders) -> impl FnOnce(&mut Settings) {
    let base = server.base_url.clone();
    move |s: &mut Settings| {
        let d = s.of_mut::<DiscoverBusinesses>();
        d.provider = ProviderKind::GooglePlaces;
        d.google_places.base_url = Url::parse(&base).unwrap();
        d.google_places_key = ApiKey::new(PLACES_KEY);
        d.google_places.price_per_request_cents = 3.5;
        d.google_places.price_per_result_cents = 0.0;
        d.google_places.daily_budget_cents = 1000.0;
        d.query = "{industry} in {city}, {state}, {country}".into();
        use_fast_retries(d);
        d.cooldown = Duration::from_secs(7 * 24 * 3600);
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = false;
        s.of_mut::<DiscoverBusinesses>().autopilot.daily_target = 1000;
        // One territory at a time, highest priority first: the assertions
        // below know which territory found a shared business first.
        let stage = s.worker_mut("discover");
        stage.concurrency = 1;
        stage.batch_size = 1;
    }
}

pub(crate) fn autopilot_spec(settings: &Settings, targets: u32) -> ScheduleSpec {
    ScheduleSpec {
        name: "discover-autopilot".into(),
        job: ScheduledJob::DiscoverAutopilot(
            settings
                .of::<DiscoverBusinesses>()
                .autopilot_config(settings.analytics().time_zone, targets),
        ),
        cron: "0 */15 * * * *".parse().unwrap(),
        tz: settings.analytics().time_zone,
    }
}

pub(crate) fn scheduler(app: &TestApp, spec: &ScheduleSpec) -> Scheduler {
    Scheduler::new(
        app.pool().clone(),
        app.app.enqueuer.clone(),
        vec![spec.clone()],
        Duration::ZERO,
        "scheduler@test".into(),
    )
}

fn context(app: &TestApp, attempt: u32) -> JobContext {
    app.job_context().attempt(attempt, 5)
}

async fn grid_row(pool: &PgPool, city: &str) -> Value {
    sqlx::query_scalar("SELECT to_jsonb(g) FROM coverage_grid g WHERE city = $1")
        .bind(city)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn prospect(pool: &PgPool, name: &str) -> Value {
    sqlx::query_scalar("SELECT to_jsonb(p) FROM prospects p WHERE business_name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn put_json(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .put(format!("{}{path}", app.address))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_autopilot_discovers_territories_end_to_end() {
    // Arrange: the grid, a digital lead and an offline lead already known,
    // the local provider, and the autopilot switched on through the API.
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(with_places(&server)).await;
    let pool = app.pool();
    let lu = CountryCode::parse("LU").unwrap();
    let report = prospector::grid::import_text(pool, GRID, lu).await.unwrap();
    assert_eq!((report.inserted, report.rejected.len()), (2, 1));
    assert_eq!(report.rejected[0].line, 4, "the bad row is reported by line");
    sqlx::query(
        "INSERT INTO prospects (channel, domain_name, business_name, website_url) VALUES ('digital', 'garage-weber.lu', NULL, 'https://garage-weber.lu')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO prospects (channel, business_name, phone, phone_e164, city) VALUES ('offline', 'Marco (card from the fair)', '621 999 888', '+352621999888', 'Esch')",
    )
    .execute(pool)
    .await
    .unwrap();
    let status: Value = app.get("/api/autopilot").await.json().await.unwrap();
    assert_eq!(
        (status["enabled"].as_bool(), status["enabled_origin"].as_str()),
        (Some(false), Some("config"))
    );
    let response = put_json(
        &app,
        "/api/autopilot",
        json!({"enabled": true, "daily_target": 50}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["enabled_origin"], "runtime");
    assert_eq!(status["daily_target"], 50);
    assert_eq!(status["provider_ready"], true);

    // Act: one autopilot slot claims both territories; workers discover them.
    let spec = autopilot_spec(&app.app.settings, 5);
    let slot = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    assert_eq!(
        scheduler(&app, &spec).fire(&spec, slot).await.unwrap(),
        Fired::Claimed
    );
    let claimed: Vec<(String, String)> =
        sqlx::query_as("SELECT city, status FROM coverage_grid ORDER BY priority DESC")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(
        claimed,
        vec![
            ("Luxembourg".into(), "in_progress".into()),
            ("Esch-sur-Alzette".into(), "in_progress".into())
        ]
    );
    app.start_workers(&[Stage::Discover]);
    wait_for(
        Duration::from_secs(30),
        "both territories to complete",
        || async {
            count(
                pool,
                "SELECT count(*) FROM coverage_grid WHERE status = 'completed'",
            )
            .await
                == 2
        },
    )
    .await;

    // Assert: leads stored, deduplicated, qualified, routed.
    assert_eq!(
        count(pool, "SELECT count(*) FROM prospects WHERE channel = 'maps'").await,
        3,
        "Dupont, Atelier Couture Ana and Plomberie Schmit are new"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM prospects WHERE gmb_place_id = 'ChIJ7cv00DxZwokRMZFxJ2lqgAA'"
        )
        .await,
        1,
        "found in both territories, stored once"
    );
    let dupont = prospect(pool, "Boulangerie Dupont").await;
    assert_eq!(
        dupont["website_url"],
        Value::Null,
        "a Facebook page is not a website"
    );
    assert_eq!(
        dupont["profile_url"],
        "https://www.facebook.com/BoulangerieDupontLux/"
    );
    assert_eq!(dupont["qualified"], true);
    assert_eq!(dupont["pipeline_route"], "build_site");
    assert!(!dupont["routed_at"].is_null(), "its build was enqueued with it");
    let build = crate::helpers::assert_enqueued::<prospector_jobs::build_site::BuildSite>(pool, |j| {
        Some(j.prospect_id) == dupont["id"].as_i64()
    })
    .await;
    assert!(build.batch.is_some(), "it counts toward the discovery batch");
    assert_eq!(dupont["phone_e164"], "+35226123456");
    assert_eq!(dupont["review_count"], 220, "the later listing updated the row");
    assert_eq!(
        dupont["coverage_grid_id"],
        grid_row(pool, "Luxembourg").await["id"]
    );
    // 30 no website + 20 rating + 15 reviews + 10 local + 5 recent review
    // (known from the first listing, kept through the update).
    assert_eq!(dupont["qualification_score"], 80);
    let weber = prospect(pool, "Garage Central Weber").await;
    assert_eq!(
        weber["channel"], "digital",
        "matched the known lead by its domain"
    );
    assert_eq!(weber["gmb_place_id"], "ChIJN1t_tDeuEmsRUsoyG83frY4");
    assert_eq!(weber["pipeline_route"], Value::Null, "only new leads are routed");
    let marco = prospect(pool, "Chez Marco Pizzeria").await;
    assert_eq!(marco["channel"], "offline", "matched the known lead by its phone");
    assert_eq!(marco["gmb_place_id"], "ChIJchezmarco00001");
    let ana = prospect(pool, "Atelier Couture Ana").await;
    assert_eq!(ana["qualified"], false);
    assert_eq!(ana["pipeline_route"], "unqualified");
    let rules: Vec<&str> = ana["qualification_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"below_min_score"), "{rules:?}");
    let schmit = prospect(pool, "Plomberie Schmit").await;
    assert_eq!(schmit["pipeline_route"], "tech_scan");
    assert_eq!(schmit["domain_name"], "shop.plomberie-schmit.lu");
    assert_eq!(schmit["registrable_domain"], "plomberie-schmit.lu");
    assert!(schmit["routed_at"].is_string());
    assert_eq!(
        (schmit["website_status"].as_str(), ana["website_status"].as_str()),
        (Some("existing"), Some("none")),
        "a lead with its own website is not one ready for a generated site"
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM businesses WHERE name = 'Plomberie Schmit' AND channel = 'maps'"
        )
        .await,
        1,
        "the businesses view shows the lead"
    );

    // Only the new lead with a website went to tech_scan, then audit and score.
    let scans: Vec<Value> = sqlx::query_scalar(
        "SELECT convert_from(job, 'UTF8')::jsonb FROM apalis.jobs WHERE job_type = 'tech_scan'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0]["prospect_id"], schmit["id"]);
    assert_eq!(scans[0]["then"], json!(["audit", "score"]));

    // Grid counters, cooldown, pagination reset.
    let lux = grid_row(pool, "Luxembourg").await;
    assert_eq!(
        (lux["lead_count"].as_i64(), lux["qualified_count"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(
        (lux["pages_fetched"].as_i64(), lux["results_fetched"].as_i64()),
        (Some(2), Some(7))
    );
    assert_eq!(lux["rejected_count"], 4);
    assert_eq!(lux["next_page_token"], Value::Null);
    assert!(lux["last_scraped_at"].is_string());
    let esch = grid_row(pool, "Esch-sur-Alzette").await;
    assert_eq!(
        (esch["lead_count"].as_i64(), esch["qualified_count"].as_i64()),
        (Some(2), Some(1))
    );
    let cooling = count(
        pool,
        "SELECT count(*) FROM coverage_grid WHERE cooldown_until > now() + interval '6 days'",
    )
    .await;
    assert_eq!(cooling, 2);

    // Costs: three Text Search requests at 3.5 cents.
    let (calls, cents): (i64, f64) = sqlx::query_as(
        "SELECT count(*), sum(cost_cents)::float8 FROM api_usage WHERE provider = 'google_places'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((calls, cents), (3, 10.5));
    assert_eq!(server.seen("/v1/places:searchText").len(), 3);

    // Refused records are failed items of the batch, with their reasons.
    let batch_id: i64 = sqlx::query_scalar("SELECT id FROM prospect_scan_jobs WHERE job_type = 'discover'")
        .fetch_one(pool)
        .await
        .unwrap();
    let batch = scan_jobs::get_batch(pool, batch_id).await.unwrap().unwrap();
    assert_eq!(
        (batch.total_items, batch.processed_items, batch.failed_items),
        (8, 2, 4),
        "2 territories + 1 tech scan + 1 site build + 4 refused records"
    );
    let reasons: Vec<String> = scan_jobs::list_failures(pool, batch_id, 10)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|f| f.reason)
        .collect();
    for expected in [
        "out of range",
        "no name",
        "repeats place:ChIJ3S-JXmauEmsRUcIaWtf4MzE",
        "malformed place",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{expected}: {reasons:?}"
        );
    }

    // A second run inside the cooldown window enqueues nothing.
    let discover_jobs = count(
        pool,
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'discover'",
    )
    .await;
    let later = slot + chrono::Duration::minutes(15);
    assert_eq!(
        scheduler(&app, &spec).fire(&spec, later).await.unwrap(),
        Fired::Claimed
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'discover'"
        )
        .await,
        discover_jobs
    );
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM coverage_grid WHERE status = 'completed'"
        )
        .await,
        2
    );
    assert_eq!(
        server.seen("/v1/places:searchText").len(),
        3,
        "no new provider calls"
    );
}

#[tokio::test]
async fn a_spent_daily_budget_makes_the_job_wait_and_resume_where_it_stopped() {
    // Arrange: a budget for one request only.
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().google_places.daily_budget_cents = 5.0;
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    let lu = CountryCode::parse("LU").unwrap();
    prospector::grid::import_text(pool, GRID, lu).await.unwrap();
    let spec = autopilot_spec(&app.app.settings, 1);
    let slot = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    scheduler(&app, &spec).fire(&spec, slot).await.unwrap();
    let (job_id, payload): (String, Value) = sqlx::query_as(
        "SELECT id, convert_from(job, 'UTF8')::jsonb FROM apalis.jobs WHERE job_type = 'discover'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let job: DiscoverBusinesses = serde_json::from_value(payload).unwrap();
    let deps = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .deps(&app.app.settings.platform())
        .unwrap();

    // Act: run the handler as a worker would.
    let error = job.clone().handle(&context(&app, 1), &deps).await.unwrap_err();

    // Assert: a wait until the budget's next day, not a failure; the first
    // page is stored and the second page's token saved for the resume.
    let wait = error.wait().expect("a spent budget waits");
    assert!(!error.is_permanent());
    assert!(error.to_string().contains("daily budget is spent"), "{error}");
    let tz = app.app.settings.analytics().time_zone;
    let tomorrow =
        prospector_jobs::discover::autopilot::day_start(Utc::now(), tz) + chrono::Duration::days(1);
    let resumes_at = Utc::now() + chrono::Duration::from_std(wait).unwrap();
    assert!(
        (resumes_at - tomorrow).num_seconds().abs() <= 2,
        "{resumes_at} vs {tomorrow}"
    );
    assert_eq!(server.seen("/v1/places:searchText").len(), 1);
    assert_eq!(count(pool, "SELECT count(*) FROM api_usage").await, 1);
    let lux = grid_row(pool, "Luxembourg").await;
    assert_eq!(lux["status"], "in_progress", "still claimed");
    assert_eq!(lux["next_page_token"], "AeeoHcLjkyoUi0c_page2");
    assert_eq!(lux["pages_fetched"], 1);
    assert_eq!(
        count(pool, "SELECT count(*) FROM prospects WHERE channel = 'maps'").await,
        2
    );

    // Through the worker pool the same job is deferred, not failed.
    app.start_workers(&[Stage::Discover]);
    wait_for(
        Duration::from_secs(15),
        "the job to be deferred to tomorrow",
        || async {
            let (status, later): (String, bool) = sqlx::query_as(
                "SELECT status, run_at > now() + interval '1 minute' FROM apalis.jobs WHERE id = $1",
            )
            .bind(&job_id)
            .fetch_one(pool)
            .await
            .unwrap();
            later && status != "Killed"
        },
    )
    .await;
    assert_eq!(
        count(pool, "SELECT count(*) FROM api_usage").await,
        1,
        "no call over budget"
    );
    let dead: Vec<Value> = app.get("/api/jobs/dead").await.json().await.unwrap();
    assert!(dead.is_empty(), "{dead:?}");

    // The next day (a bigger budget), the job resumes at page two.
    sqlx::query("UPDATE api_usage SET occurred_at = occurred_at - interval '2 days'")
        .execute(pool)
        .await
        .unwrap();
    job.handle(&context(&app, 1), &deps).await.unwrap();
    let seen = server.seen("/v1/places:searchText");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].params["pageToken"], "AeeoHcLjkyoUi0c_page2");
    assert_eq!(grid_row(pool, "Luxembourg").await["status"], "completed");
}

#[tokio::test]
async fn an_outscraper_request_is_polled_again_not_paid_twice_after_a_retry() {
    // Arrange: Outscraper with async requests that stay pending for one
    // poll, and attempts that poll only once.
    let server = FakeProviders::start().await;
    server.pending_polls(1);
    let base = server.base_url.clone();
    let app = TestApp::spawn_with(move |s| {
        use_async_outscraper(s, &base, Duration::from_millis(10));
    })
    .await;
    let pool = app.pool();
    prospector::grid::import_text(pool, GRID, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let spec = autopilot_spec(&app.app.settings, 1);
    scheduler(&app, &spec)
        .fire(&spec, Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
        .await
        .unwrap();
    let payload: Value = sqlx::query_scalar(
        "SELECT convert_from(job, 'UTF8')::jsonb FROM apalis.jobs WHERE job_type = 'discover'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let job: DiscoverBusinesses = serde_json::from_value(payload).unwrap();
    let deps = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .deps(&app.app.settings.platform())
        .unwrap();

    // Act: the first attempt gives up polling (transient), the second resumes.
    let error = job.clone().handle(&context(&app, 1), &deps).await.unwrap_err();
    assert!(!error.is_permanent(), "{error}");
    assert!(error.to_string().contains("still pending"), "{error}");
    let pending = grid_row(pool, "Luxembourg").await;
    assert!(pending["pending_request_id"].is_string(), "{pending}");
    job.handle(&context(&app, 2), &deps).await.unwrap();

    // Assert: one submit for the first page (the second page is a new,
    // empty-data offset; the fixture's page is short so there is none).
    assert_eq!(server.seen("/maps/search-v3").len(), 1, "submitted once");
    let lux = grid_row(pool, "Luxembourg").await;
    assert_eq!(lux["status"], "completed");
    assert_eq!(lux["lead_count"], 2);
    let dupont = prospect(pool, "Boulangerie Dupont").await;
    assert_eq!(dupont["gmb_id"], "0x47954f3b5e2a6f3d:0x8a6a69271f718131");
    assert_eq!(dupont["email"], "contact@boulangerie-dupont.lu");
    assert_eq!(dupont["source"], "outscraper");
    let paul = prospect(pool, "Paul Luxembourg Gare").await;
    assert_eq!(paul["pipeline_route"], "tech_scan");
    // Results are paid per place: two places at 0.3 cents, entered once.
    let cents: f64 =
        sqlx::query_scalar("SELECT sum(cost_cents)::float8 FROM api_usage WHERE provider = 'outscraper'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!((cents - 0.6).abs() < 1e-9, "{cents}");
}

/// The discover job of the highest-priority territory(ies) the autopilot
/// claimed, and the handler's dependencies.
async fn claimed_jobs(
    app: &TestApp,
    targets: u32,
) -> (Vec<DiscoverBusinesses>, prospector_jobs::discover::DiscoverDeps) {
    let pool = app.pool();
    prospector::grid::import_text(pool, GRID, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let spec = autopilot_spec(&app.app.settings, targets);
    scheduler(app, &spec)
        .fire(&spec, Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
        .await
        .unwrap();
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT convert_from(job, 'UTF8')::jsonb FROM apalis.jobs WHERE job_type = 'discover' ORDER BY priority DESC",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let jobs = payloads
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect();
    let deps = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .deps(&app.app.settings.platform())
        .unwrap();
    (jobs, deps)
}

#[tokio::test]
async fn requests_the_provider_charged_but_answered_too_late_are_entered_and_paid_once_each() {
    // Arrange: a provider that receives (and bills) a request, then answers
    // after the client has given up; then a 500; then its normal answers.
    let server = FakeProviders::start().await;
    server.script_places([
        Scripted::new(200, PLACES_PAGE1).stall(Duration::from_secs(3)),
        Scripted::new(
            500,
            r#"{"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}"#,
        ),
    ]);
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().http_timeout = Duration::from_millis(400);
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    let (jobs, deps) = claimed_jobs(&app, 1).await;

    // Act: the job's in-call retries get page one on the third try, then
    // page two.
    jobs[0].clone().handle(&context(&app, 1), &deps).await.unwrap();

    // Assert: one ledger row per request the provider received, and the
    // day's spend is what the provider charged (3.5 cents a request).
    let charged = server.seen("/v1/places:searchText").len();
    assert_eq!(charged, 4, "timeout, 500, page one, page two");
    let (rows, spent): (i64, f64) =
        sqlx::query_as("SELECT count(*), coalesce(sum(cost_cents), 0)::float8 FROM api_usage")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(rows, 4, "one row per request the provider received");
    assert!((spent - 3.5 * charged as f64).abs() < 1e-9, "{spent}");
    let rows: Vec<(String, i32, f64, String)> = sqlx::query_as(
        "SELECT outcome, attempt, cost_cents::float8, call_key FROM api_usage WHERE provider = 'google_places' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let outcomes: Vec<(&str, i32)> = rows.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(
        outcomes,
        [("timeout", 1), ("http_5xx", 2), ("ok", 3), ("ok", 1)],
        "{rows:?}"
    );
    assert!(
        rows[0].3.ends_with(":page:1") && rows[3].3.ends_with(":page:2"),
        "{rows:?}"
    );
    assert_eq!(grid_row(pool, "Luxembourg").await["status"], "completed");
}

#[tokio::test]
async fn a_request_that_times_out_on_every_try_is_entered_at_its_worst_case_each_time() {
    // Arrange: every answer comes after the client's timeout.
    let server = FakeProviders::start().await;
    server.script_places((0..3).map(|_| Scripted::new(200, PLACES_PAGE1).stall(Duration::from_secs(3))));
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().http_timeout = Duration::from_millis(300);
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    let (jobs, deps) = claimed_jobs(&app, 1).await;

    // Act
    let error = jobs[0]
        .clone()
        .handle(&context(&app, 1), &deps)
        .await
        .unwrap_err();

    // Assert: transient, and the three charged requests are three rows.
    assert!(!error.is_permanent(), "{error}");
    assert_eq!(server.seen("/v1/places:searchText").len(), 3);
    let (rows, spent): (i64, f64) =
        sqlx::query_as("SELECT count(*), coalesce(sum(cost_cents), 0)::float8 FROM api_usage")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(rows, 3);
    assert!((spent - 10.5).abs() < 1e-9, "{spent}");
    assert_eq!(
        count(pool, "SELECT count(*) FROM api_usage WHERE outcome = 'timeout'").await,
        3
    );
}

#[tokio::test]
async fn two_jobs_racing_for_a_budget_that_fits_one_call_make_exactly_one_call() {
    // Arrange: a budget of 5 cents, 3.5 a request; a slow provider, so the
    // first call is still in flight when the second job looks at the budget.
    let server = FakeProviders::start().await;
    server.latency(Duration::from_millis(500));
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().google_places.daily_budget_cents = 5.0;
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    let (jobs, deps) = claimed_jobs(&app, 2).await;
    assert_eq!(jobs.len(), 2);

    // Act: both territories at once.
    let (ctx_a, ctx_b) = (context(&app, 1), context(&app, 1));
    let (a, b) = tokio::join!(
        jobs[0].clone().handle(&ctx_a, &deps),
        jobs[1].clone().handle(&ctx_b, &deps)
    );

    // Assert: one call reached the provider. The job that made it waits
    // for tomorrow (bakeries have a second page) or is done (plumbers have
    // one); the other waits without calling.
    assert_eq!(server.seen("/v1/places:searchText").len(), 1);
    let mut waiting = 0;
    for result in [a, b] {
        if let Err(error) = result {
            assert!(error.wait().is_some(), "{error}");
            waiting += 1;
        }
    }
    assert!(waiting >= 1, "the job without the call waits");
    let (rows, spent): (i64, f64) =
        sqlx::query_as("SELECT count(*), coalesce(sum(cost_cents), 0)::float8 FROM api_usage")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(rows, 1);
    assert!((spent - 3.5).abs() < 1e-9, "{spent}");
}

#[tokio::test]
async fn an_outscraper_job_stopped_right_after_its_submit_keeps_the_request_and_never_submits_again() {
    // Arrange: async Outscraper requests, done at the first poll; the
    // submit answers after a while.
    let server = FakeProviders::start().await;
    server.latency(Duration::from_millis(1500));
    let base = server.base_url.clone();
    let app = TestApp::spawn_with(move |s| {
        use_async_outscraper(s, &base, Duration::from_secs(2));
    })
    .await;
    let pool = app.pool();
    let (jobs, deps) = claimed_jobs(&app, 1).await;
    let first = {
        let (job, ctx, deps) = (jobs[0].clone(), context(&app, 1), deps.clone());
        tokio::spawn(async move { job.handle(&ctx, &deps).await })
    };
    // Once the submit is on its way, the ledger is locked: whatever the job
    // writes after the submit has answered waits, and the job is stopped
    // there — as a stage timeout or a shutdown drops a job.
    wait_for(Duration::from_secs(10), "the submit", || async {
        server.seen("/maps/search-v3").len() == 1
    })
    .await;
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE api_usage IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(10),
        "the job to enter the answered submit",
        || async {
            count(
                pool,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await
                >= 1
        },
    )
    .await;

    // Act: the job is stopped, the lock goes, and the job runs again.
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    lock.rollback().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut pending = Value::Null;
    while Instant::now() < deadline {
        pending = grid_row(pool, "Luxembourg").await["pending_request_id"].clone();
        if pending.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    jobs[0].clone().handle(&context(&app, 2), &deps).await.unwrap();

    // Assert: one submit; the retry polled the stored request; the
    // ledger has that submit once, settled to its two places.
    assert_eq!(server.seen("/maps/search-v3").len(), 1, "submitted once");
    assert!(pending.is_string(), "the request id was kept: {pending}");
    let polls = server.seen(&format!("/requests/{}", pending.as_str().unwrap()));
    assert_eq!(polls.len(), 1);
    let lux = grid_row(pool, "Luxembourg").await;
    assert_eq!(lux["status"], "completed");
    assert_eq!(lux["lead_count"], 2);
    let (rows, spent): (i64, f64) = sqlx::query_as(
        "SELECT count(*), sum(cost_cents)::float8 FROM api_usage WHERE provider = 'outscraper'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(rows, 1);
    assert!((spent - 0.6).abs() < 1e-9, "two places at 0.3 cents: {spent}");
    let (outcome, results, request_id): (String, i32, Option<String>) =
        sqlx::query_as("SELECT outcome, results, request_id FROM api_usage WHERE provider = 'outscraper'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((outcome.as_str(), results), ("ok", 2));
    assert_eq!(request_id.as_deref(), pending.as_str());
}

#[tokio::test]
async fn concurrent_autopilots_never_claim_the_same_territory() {
    // Arrange: twenty pending territories.
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    let mut csv = String::from("country,state,city,industry,priority,population\n");
    for i in 0..20 {
        csv.push_str(&format!(
            "LU,Luxembourg,City {i},bakeries,{},{}\n",
            i % 3,
            1000 + i
        ));
    }
    prospector::grid::import_text(pool, &csv, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let config = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .autopilot_config(app.app.settings.analytics().time_zone, 6);

    // Act: four autopilots at once, each in its own transaction.
    let runs = futures::future::join_all((0..4).map(|i| {
        let (pool, enqueuer, config) = (pool.clone(), app.app.enqueuer.clone(), config.clone());
        async move {
            let mut tx = pool.begin().await.unwrap();
            let run = prospector_jobs::discover::run_autopilot(
                &mut tx,
                &enqueuer,
                &config,
                &format!("scheduler-{i}"),
                Utc::now(),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            run
        }
    }))
    .await;

    // Assert: 20 distinct claims (6+6+6+2), one job each, in query order.
    let mut ids: Vec<_> = runs.iter().flat_map(|r| r.claimed.iter().map(|t| t.id)).collect();
    assert_eq!(ids.len(), 20);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "no territory claimed twice");
    assert_eq!(
        count(
            pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'discover'"
        )
        .await,
        20
    );
    for run in &runs {
        let order: Vec<(i32, Option<i32>)> = run.claimed.iter().map(|t| (t.priority, t.population)).collect();
        let mut sorted = order.clone();
        sorted.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        assert_eq!(order, sorted, "priority, then population");
    }
}

#[tokio::test]
async fn the_autopilot_picks_targets_exactly_like_webmagics_next_target_query() {
    // Arrange: WebMagic's query is `WHERE status = 'pending' AND
    // (cooldown_until IS NULL OR cooldown_until < NOW()) ORDER BY priority
    // DESC, population DESC` — PostgreSQL puts NULL populations first.
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    sqlx::raw_sql(
        "INSERT INTO coverage_grid (state, city, industry, priority, population, status, cooldown_until) VALUES
            ('S', 'low priority', 'x', 1, 100, 'pending', NULL),
            ('S', 'small', 'x', 5, 10, 'pending', NULL),
            ('S', 'big', 'x', 5, 1000, 'pending', now() - interval '1 day'),
            ('S', 'unknown size', 'x', 5, NULL, 'pending', NULL),
            ('S', 'huge but last', 'x', 0, 999999, 'pending', NULL),
            ('S', 'paused', 'x', 99, 5000, 'paused', NULL),
            ('S', 'resting', 'x', 50, 5000, 'pending', now() + interval '1 day'),
            ('S', 'done', 'x', 60, 5000, 'completed', now() + interval '1 day')",
    )
    .execute(pool)
    .await
    .unwrap();
    let config = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .autopilot_config(app.app.settings.analytics().time_zone, 4);

    // Act
    let mut tx = pool.begin().await.unwrap();
    let run = prospector_jobs::discover::run_autopilot(&mut tx, &app.app.enqueuer, &config, "t", Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Assert
    let cities: Vec<&str> = run.claimed.iter().map(|t| t.city.as_str()).collect();
    assert_eq!(cities, vec!["unknown size", "big", "small", "low priority"]);
    let (priorities, keys): (Vec<i32>, Vec<String>) = {
        let rows: Vec<(i32, String)> = sqlx::query_as(
            "SELECT priority, idempotency_key FROM apalis.jobs WHERE job_type = 'discover' ORDER BY priority DESC",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        rows.into_iter().unzip()
    };
    assert_eq!(
        priorities,
        vec![5, 5, 5, 1],
        "a territory's priority is its job's priority"
    );
    assert!(
        keys.iter()
            .all(|k| k.starts_with("discover:") && k.ends_with(":1")),
        "{keys:?}"
    );
}

#[tokio::test]
async fn the_autopilot_claims_nothing_when_off_over_target_or_without_a_key() {
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(with_places(&server)).await;
    let pool = app.pool();
    prospector::grid::import_text(pool, GRID, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let settings = &app.app.settings;
    let run = |config: prospector_jobs::discover::AutopilotConfig| {
        let (pool, enqueuer) = (pool.clone(), app.app.enqueuer.clone());
        async move {
            let mut tx = pool.begin().await.unwrap();
            let run = prospector_jobs::discover::run_autopilot(&mut tx, &enqueuer, &config, "t", Utc::now())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            run.skipped
                .map(|s| serde_json::to_value(s).unwrap()["reason"].clone())
        }
    };
    let config = settings
        .of::<DiscoverBusinesses>()
        .autopilot_config(settings.analytics().time_zone, 5);
    assert_eq!(run(config.clone()).await, Some(json!("disabled")));

    // Switched on at runtime, but the day's target is already met.
    put_json(
        &app,
        "/api/autopilot",
        json!({"enabled": true, "daily_target": 1}),
    )
    .await;
    sqlx::query("INSERT INTO prospects (channel, business_name) VALUES ('maps', 'Found this morning')")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(run(config.clone()).await, Some(json!("daily_target_reached")));

    // No key for the provider.
    put_json(&app, "/api/autopilot", json!({"daily_target": 100})).await;
    let no_key = prospector_jobs::discover::AutopilotConfig {
        provider_ready: false,
        ..config.clone()
    };
    assert_eq!(run(no_key).await, Some(json!("no_api_key")));
    assert_eq!(count(pool, "SELECT count(*) FROM apalis.jobs").await, 0);

    // Reset drops the overrides: off again, per configuration.
    let status: Value = put_json(&app, "/api/autopilot", json!({"reset": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (status["enabled"].as_bool(), status["enabled_origin"].as_str()),
        (Some(false), Some("config"))
    );
    assert_eq!(put_json(&app, "/api/autopilot", json!({})).await.status(), 400);
    let unauthenticated = app
        .http
        .get(format!("{}/api/autopilot", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn grid_import_and_list_work_from_the_command_line() {
    let db = crate::helpers::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.csv");
    std::fs::write(&file, GRID).unwrap();

    let import = crate::helpers::command(&db.url)
        .args(["grid", "import"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(import.status.code(), Some(65), "one row was rejected");
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(stderr.contains("line 4: population `not-a-number`"), "{stderr}");
    let stdout = String::from_utf8_lossy(&import.stdout);
    assert!(stdout.contains("2 new territories"), "{stdout}");

    let list = crate::helpers::command(&db.url)
        .args(["grid", "list"])
        .output()
        .await
        .unwrap();
    assert!(list.status.success());
    let table = String::from_utf8_lossy(&list.stdout);
    let lux = table.find("Luxembourg").unwrap();
    let esch = table.find("Esch-sur-Alzette").unwrap();
    assert!(lux < esch, "higher priority first:\n{table}");
    assert!(table.contains("2 territories"), "{table}");
}

#[tokio::test]
async fn failed_runs_and_vanished_jobs_rest_their_territory_and_cooldowns_end() {
    // Arrange: a provider that refuses our key.
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().google_places_key = ApiKey::new("revoked-key");
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    prospector::grid::import_text(pool, GRID, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let config = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .autopilot_config(app.app.settings.analytics().time_zone, 2);
    let autopilot = |config: prospector_jobs::discover::AutopilotConfig| {
        let (pool, enqueuer) = (pool.clone(), app.app.enqueuer.clone());
        async move {
            let mut tx = pool.begin().await.unwrap();
            let run = prospector_jobs::discover::run_autopilot(&mut tx, &enqueuer, &config, "t", Utc::now())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            run
        }
    };
    let run = autopilot(config.clone()).await;
    assert_eq!(run.claimed.len(), 2);
    let jobs: Vec<Value> = sqlx::query_scalar(
        "SELECT convert_from(job, 'UTF8')::jsonb FROM apalis.jobs WHERE job_type = 'discover' ORDER BY priority DESC",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let lux: DiscoverBusinesses = serde_json::from_value(jobs[0].clone()).unwrap();
    let deps = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .deps(&app.app.settings.platform())
        .unwrap();

    // Act 1: the provider refuses the key: permanent, the territory rests.
    let error = lux.clone().handle(&context(&app, 1), &deps).await.unwrap_err();
    assert!(error.is_permanent(), "{error}");
    let row = grid_row(pool, "Luxembourg").await;
    assert_eq!(row["status"], "cooldown");
    assert!(row["last_error"].as_str().unwrap().contains("HTTP 403"), "{row}");
    assert!(!row["last_error"].as_str().unwrap().contains("revoked-key"));

    // Act 2: the other territory's job vanished (killed after a timeout on
    // its last attempt) long after it was claimed.
    sqlx::query("UPDATE apalis.jobs SET status = 'Killed' WHERE job_type = 'discover'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE coverage_grid SET claimed_at = now() - interval '1 hour' WHERE city = 'Esch-sur-Alzette'",
    )
    .execute(pool)
    .await
    .unwrap();
    let run = autopilot(config.clone()).await;
    assert_eq!(run.orphaned, 1);
    let esch = grid_row(pool, "Esch-sur-Alzette").await;
    assert_eq!(esch["status"], "cooldown");
    assert!(
        esch["last_error"]
            .as_str()
            .unwrap()
            .contains("ended without finishing"),
        "{esch}"
    );

    // Act 3: cooldowns that ended make territories pending again, and the
    // next run claims them with a new run number.
    sqlx::query("UPDATE coverage_grid SET cooldown_until = now() - interval '1 minute'")
        .execute(pool)
        .await
        .unwrap();
    let run = autopilot(config).await;
    assert_eq!(run.released, 2);
    assert_eq!(run.claimed.len(), 2);
    assert!(run.claimed.iter().all(|t| t.run_count == 2), "{:?}", run.claimed);

    // The stale job of the first claim now does nothing.
    lux.handle(&context(&app, 1), &deps).await.unwrap();
    assert_eq!(grid_row(pool, "Luxembourg").await["status"], "in_progress");
}

#[tokio::test]
async fn a_missing_api_key_fails_the_job_with_the_variable_to_set() {
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().google_places_key = None;
    })
    .await;
    let deps = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .deps(&app.app.settings.platform())
        .unwrap();
    prospector::grid::import_text(app.pool(), GRID, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let id: uuid::Uuid = sqlx::query_scalar(
        "UPDATE coverage_grid SET status = 'in_progress', run_count = 1 WHERE city = 'Luxembourg' RETURNING id",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    let job = DiscoverBusinesses {
        coverage_grid_id: id,
        run: 1,
        batch: None,
    };
    let error = job.handle(&context(&app, 1), &deps).await.unwrap_err();
    assert!(error.is_permanent());
    assert!(error.to_string().contains("GOOGLE_PLACES_API_KEY"), "{error}");
    assert!(server.seen("/").is_empty(), "no call without a key");
}

#[tokio::test]
async fn the_autopilot_runs_the_grid_in_the_real_binary() {
    // Arrange: the grid, the local provider, and `prospector run` with the
    // autopilot on and its schedule firing every second.
    let server = FakeProviders::start().await;
    let db = crate::helpers::TestDb::new().await;
    let pool = db.pool().await;
    prospector::grid::import_text(&pool, GRID, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("autopilot.toml");
    std::fs::write(
        &config,
        "[discover.autopilot]\nenabled = true\ndaily_target = 100\n\n\
         [[schedule]]\nname = \"discover-autopilot\"\nstage = \"discover\"\ncron = \"* * * * * *\"\ntz = \"UTC\"\nargs = { targets = \"5\" }\n",
    )
    .unwrap();
    let mut child = crate::helpers::command(&db.url)
        .env("GOOGLE_PLACES_API_KEY", PLACES_KEY)
        .env("PROSPECTOR__DISCOVER__GOOGLE_PLACES__BASE_URL", &server.base_url)
        .env("PROSPECTOR__DISCOVER__RETRY_BASE", "50ms")
        .env("PROSPECTOR__STAGES__DISCOVER__BACKOFF_BASE", "200ms")
        .env("PROSPECTOR__STAGES__DISCOVER__BACKOFF_MAX", "1s")
        .arg("--config")
        .arg(&config)
        .args(["run", "--bind", "127.0.0.1:0", "--stages", "discover"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    // Act: wait for both territories, then for more slots to fire.
    wait_for(
        Duration::from_secs(60),
        "both territories to complete",
        || async {
            count(
                &pool,
                "SELECT count(*) FROM coverage_grid WHERE status = 'completed'",
            )
            .await
                == 2
        },
    )
    .await;
    let ticks = count(
        &pool,
        "SELECT count(*) FROM schedule_ticks WHERE schedule_name = 'discover-autopilot'",
    )
    .await;
    wait_for(Duration::from_secs(20), "two more autopilot slots", || async {
        count(
            &pool,
            "SELECT count(*) FROM schedule_ticks WHERE schedule_name = 'discover-autopilot'",
        )
        .await
            >= ticks + 2
    })
    .await;
    crate::helpers::signal(&child, nix::sys::signal::Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();

    // Assert: one discover job per territory however many slots fired, the
    // leads stored once, three paid calls, the process stopped cleanly.
    assert!(status.success(), "{status}");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'discover'"
        )
        .await,
        2
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prospects WHERE channel = 'maps'").await,
        5
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM apalis.jobs WHERE job_type = 'tech_scan'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM api_usage WHERE provider = 'google_places'"
        )
        .await,
        3
    );
    assert_eq!(server.seen("/v1/places:searchText").len(), 3);
    pool.close().await;
}

#[tokio::test]
async fn a_business_stored_by_another_job_meanwhile_is_updated_not_doubled() {
    // Arrange: the Luxembourg territory claimed, and another transaction
    // inserting Boulangerie Dupont's place id without committing yet.
    let server = FakeProviders::start().await;
    let app = TestApp::spawn_with(|s| {
        with_places(&server)(s);
        s.of_mut::<DiscoverBusinesses>().autopilot.enabled = true;
    })
    .await;
    let pool = app.pool();
    prospector::grid::import_text(pool, GRID, CountryCode::parse("LU").unwrap())
        .await
        .unwrap();
    let config = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .autopilot_config(app.app.settings.analytics().time_zone, 1);
    let mut tx = pool.begin().await.unwrap();
    let run = prospector_jobs::discover::run_autopilot(&mut tx, &app.app.enqueuer, &config, "t", Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let job = DiscoverBusinesses {
        coverage_grid_id: run.claimed[0].id,
        run: run.claimed[0].run_count,
        batch: None,
    };
    let deps = app
        .app
        .settings
        .of::<DiscoverBusinesses>()
        .deps(&app.app.settings.platform())
        .unwrap();
    let mut other = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO prospects (channel, business_name, gmb_place_id) VALUES ('maps', 'Dupont (other job)', 'ChIJ7cv00DxZwokRMZFxJ2lqgAA')",
    )
    .execute(&mut *other)
    .await
    .unwrap();

    // Act: the job blocks on the other insert; the other job commits.
    let ctx = context(&app, 1);
    let handle = tokio::spawn(async move { job.handle(&ctx, &deps).await });
    wait_for(Duration::from_secs(10), "the job to wait for the other insert", || async {
        count(
            pool,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .await
            >= 1
    })
    .await;
    other.commit().await.unwrap();
    handle.await.unwrap().unwrap();

    // Assert: the job found the other job's row on its second try and
    // updated it; nothing was doubled and the page was not fetched again.
    let dupont: Vec<String> = sqlx::query_scalar(
        "SELECT business_name FROM prospects WHERE gmb_place_id = 'ChIJ7cv00DxZwokRMZFxJ2lqgAA'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(dupont, vec!["Boulangerie Dupont"]);
    assert_eq!(
        server.seen("/v1/places:searchText").len(),
        2,
        "two pages, each fetched once"
    );
    assert_eq!(grid_row(pool, "Luxembourg").await["status"], "completed");
}
