//! The admin HTTP API: auth, health, readiness, status, metrics, batches.

use prospector::{application::Application, config::Settings};
use prospector_jobs::scan_jobs::{self, BatchItem, BatchKind, ItemOutcome};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::helpers::{TOKEN, TestApp, TestDb, settings};

#[tokio::test]
async fn api_routes_refuse_requests_without_the_right_token() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/status",
        "/api/jobs/dead",
        "/api/scan-jobs",
        "/api/scan-jobs/1",
    ] {
        let url = format!("{}{path}", app.address);
        let none = app.http.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path} without a token");
        assert!(none.headers().contains_key("www-authenticate"));
        let wrong = app
            .http
            .get(&url)
            .bearer_auth("test-admin-token-0123456788")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
    }
    let post = app
        .http
        .post(format!("{}/api/jobs/x/retry", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 401);
    assert_eq!(app.get("/api/status").await.status(), 200);
}

async fn spawn_without_token() -> (TestDb, String) {
    let db = TestDb::new().await;
    let mut settings: Settings = settings(&db.url);
    settings.admin.token = None;
    let app = Application::with_pool(settings, db.pool().await);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { app.serve_admin(listener).await });
    (db, address)
}

#[tokio::test]
async fn with_no_token_configured_api_routes_are_closed_but_health_and_metrics_open() {
    let (_db, address) = spawn_without_token().await;
    let client = reqwest::Client::new();
    let status = client
        .get(format!("{address}/api/status"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 401);
    let body: Value = status.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no admin token is configured")
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = client.get(format!("{address}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn readiness_reports_an_unmigrated_database() {
    let db = TestDb::empty().await;
    let app = Application::with_pool(settings(&db.url), db.pool().await);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { app.serve_admin(listener).await });
    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(response.status(), 503);
    let liveness = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(liveness.status(), 200);
}

#[tokio::test]
async fn status_shows_queues_workers_and_batch_progress() {
    let app = TestApp::spawn().await;
    let batch = scan_jobs::create_batch(
        app.pool(),
        BatchKind::Scan,
        &["tech_scan"],
        4,
        Some("nightly"),
        &Value::Null,
    )
    .await
    .unwrap();
    for (key, outcome) in [
        ("a", ItemOutcome::Processed),
        ("b", ItemOutcome::Failed("site returned 404".into())),
    ] {
        let item = BatchItem {
            scan_job_id: batch,
            item_key: key.into(),
            prospect_id: None,
        };
        scan_jobs::record_item(app.pool(), &item, "tech_scan", &outcome)
            .await
            .unwrap();
        // Recording the same outcome again changes nothing.
        scan_jobs::record_item(app.pool(), &item, "tech_scan", &outcome)
            .await
            .unwrap();
    }
    let mut conn = app.pool().acquire().await.unwrap();
    app.app
        .enqueuer
        .enqueue(
            &mut conn,
            &prospector_jobs::SnapshotAnalytics {
                date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            },
        )
        .await
        .unwrap();

    // A job of a queue no stage of this build names (a tool's, or a retired
    // stage's) is listed too, as not built.
    sqlx::query(
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority) \
         VALUES ('01RETIRED', 'retired_stage', '{}'::bytea, 'Pending', 0, 1, now(), 0)",
    )
    .execute(app.pool())
    .await
    .unwrap();

    let status: Value = app.get("/api/status").await.json().await.unwrap();
    let queue = status["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "snapshot_analytics")
        .unwrap();
    assert_eq!(queue["pending"], 1);
    assert_eq!(queue["built"], true);
    assert!(queue["oldest_ready_age_seconds"].as_f64().is_some());
    let retired = status["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "retired_stage")
        .unwrap();
    assert_eq!(retired["built"], false);
    assert_eq!(retired["pending"], 1);
    let scan = &status["scan_jobs"][0];
    assert_eq!(scan["id"], batch);
    assert_eq!(scan["processed_items"], 1);
    assert_eq!(scan["failed_items"], 1);
    assert_eq!(scan["status"], "running");
    assert_eq!(scan["progress_percent"], 50.0);

    let detail: Value = app
        .get(&format!("/api/scan-jobs/{batch}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["failures"][0]["reason"], "site returned 404");
    assert!(detail["stage_progress"].is_array());
    assert_eq!(app.get("/api/scan-jobs/999999").await.status(), 404);
    assert_eq!(app.get("/api/jobs/dead?limit=0").await.status(), 400);
}

#[tokio::test]
async fn metrics_expose_queue_depth_and_http_series() {
    let app = TestApp::spawn().await;
    let mut conn = app.pool().acquire().await.unwrap();
    app.app
        .enqueuer
        .enqueue(
            &mut conn,
            &prospector_jobs::SnapshotAnalytics {
                date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            },
        )
        .await
        .unwrap();
    let _ = app.get("/api/status").await;
    let text = app.metrics_text().await;
    assert!(
        text.contains("prospector_queue_jobs{queue=\"snapshot_analytics\",state=\"pending\"} 1"),
        "{text}"
    );
    assert!(text.contains("prospector_database_up 1"), "{text}");
    assert!(
        text.contains("prospector_http_requests_total{method=\"GET\",route=\"/api/status\",status=\"200\"}"),
        "{text}"
    );
    assert!(
        !text.contains("route=\"/api/scan-jobs/1\""),
        "routes are templates, never raw paths"
    );
}

#[tokio::test]
async fn prospects_can_be_listed_by_tier_score_city_and_cms_and_read_in_full() {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(
        r#"
        INSERT INTO prospects (id, domain_name, business_name, city) OVERRIDING SYSTEM VALUE VALUES
            (1, 'a.lu', 'Alpha', 'Luxembourg'), (2, 'b.lu', 'Beta', 'Esch'), (3, 'c.lu', 'Gamma', 'Luxembourg');
        INSERT INTO prospect_tech_profiles (prospect_id, cms) VALUES (1, 'WordPress'), (2, 'Joomla'), (3, 'WordPress');
        INSERT INTO prospect_scores (prospect_id, score, lead_tier, reason_flags) VALUES
            (1, 87, 'hot', '[{"code": "no_https", "kind": "problem", "points": 12, "title": "Your website is not secure"},
                            {"code": "has_email", "kind": "signal", "points": 4, "title": "We have an e-mail address"}]'),
            (2, 50, 'warm', '[]'),
            (3, 20, 'cold', '[]');
        INSERT INTO prospect_contacts (prospect_id, contact_type, value, is_primary) VALUES (1, 'email', 'info@a.lu', true);
        "#,
    )
    .execute(app.pool())
    .await
    .unwrap();

    let page: Value = app.get("/api/prospects").await.json().await.unwrap();
    let ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3], "highest score first");
    assert_eq!(
        page["items"][0]["top_reasons"],
        serde_json::json!(["Your website is not secure"])
    );

    let filtered: Value = app
        .get("/api/prospects?city=luxembourg&cms=wordpress&min_score=30")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["items"][0]["business_name"], "Alpha");
    let tier: Value = app.get("/api/prospects?tier=warm").await.json().await.unwrap();
    assert_eq!(tier["items"][0]["id"], 2);
    assert_eq!(app.get("/api/prospects?tier=lukewarm").await.status(), 400);
    assert_eq!(app.get("/api/prospects?sort=random()").await.status(), 400);

    let profile: Value = app.get("/api/prospects/1").await.json().await.unwrap();
    assert_eq!(profile["prospect"]["domain_name"], "a.lu");
    assert_eq!(profile["tech"]["cms"], "WordPress");
    assert_eq!(profile["score"]["reason_flags"][0]["code"], "no_https");
    assert_eq!(profile["contacts"][0]["value"], "info@a.lu");
    assert_eq!(profile["interactions"], serde_json::json!([]));
    assert_eq!(app.get("/api/prospects/999").await.status(), 404);
}

/// 60 prospects for the list: 40 scored (many equal scores) and 20 unscored
/// (every id ≡ 2 mod 3, so they interleave with the scored ones by id),
/// cities, CMS and names in mixed case or missing, equal creation times,
/// statuses and tags.
const LIST_FIXTURE: &str = r#"
INSERT INTO prospects (id, domain_name, business_name, city, status, tags, created_at) OVERRIDING SYSTEM VALUE
SELECT i, 'p' || i || '.lu',
       CASE WHEN i % 7 = 0 THEN NULL WHEN i % 2 = 0 THEN 'Name ' || i % 5 ELSE 'name ' || i % 5 END,
       (ARRAY['Luxembourg', 'LUXEMBOURG', 'Esch', NULL])[1 + i % 4],
       CASE WHEN i % 3 = 0 THEN 'active' ELSE 'pending' END,
       CASE WHEN i % 4 = 1 THEN '["priority"]'::jsonb ELSE '[]'::jsonb END,
       timestamptz '2026-01-01 00:00:00+00' + (i % 9) * interval '1 hour'
FROM generate_series(1, 60) AS i;
INSERT INTO prospect_tech_profiles (prospect_id, cms)
SELECT i, (ARRAY['WordPress', 'wordpress', 'Joomla', NULL])[1 + i % 4]
FROM generate_series(1, 60) AS i WHERE i % 5 <> 0;
INSERT INTO prospect_scores (prospect_id, score, lead_tier, reason_flags)
SELECT i, sc, CASE WHEN sc >= 65 THEN 'hot' WHEN sc >= 40 THEN 'warm' ELSE 'cold' END,
       jsonb_build_array(jsonb_build_object('kind', 'problem', 'points', i, 'title', 'flag ' || i))
FROM generate_series(1, 60) AS i, LATERAL (SELECT (i * 37) % 21 * 5 AS sc) AS x
WHERE i % 3 <> 2;
"#;

/// What a list row is compared on: id, then a column from each joined table.
type ListKey = (i64, Option<i32>, Option<String>, Option<Value>);

/// The list as one straightforward query (full join, one ORDER BY, LIMIT and
/// OFFSET), as the reference the two-phase list must reproduce.
async fn reference_list(
    pool: &sqlx::PgPool,
    filters: &[(&str, &str)],
    sort: &str,
    limit: i64,
    offset: i64,
) -> Vec<ListKey> {
    let mut sql = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "SELECT p.id, s.score, t.cms, \
         (SELECT jsonb_agg(f -> 'title') FROM jsonb_array_elements(s.reason_flags) AS f) \
         FROM prospects p \
         LEFT JOIN prospect_scores s ON s.prospect_id = p.id \
         LEFT JOIN prospect_tech_profiles t ON t.prospect_id = p.id WHERE true",
    );
    for &(name, value) in filters {
        let condition = match name {
            "tier" => " AND s.lead_tier = ",
            "min_score" => " AND s.score >= ",
            "max_score" => " AND s.score <= ",
            "city" => " AND lower(p.city) = ",
            "cms" => " AND lower(t.cms) = ",
            "status" => " AND p.status = ",
            "tag" => " AND p.tags ? ",
            other => panic!("no filter {other}"),
        };
        sql.push(condition);
        match name {
            "min_score" | "max_score" => sql.push_bind(value.parse::<i32>().unwrap()),
            "city" | "cms" => sql.push_bind(value.to_lowercase()),
            _ => sql.push_bind(value.to_string()),
        };
    }
    sql.push(match sort {
        "score" => " ORDER BY s.score DESC NULLS LAST, p.id",
        "created" => " ORDER BY p.created_at DESC, p.id DESC",
        "name" => " ORDER BY lower(p.business_name) NULLS LAST, p.id",
        other => panic!("no sort {other}"),
    });
    sql.push(" LIMIT ").push_bind(limit);
    sql.push(" OFFSET ").push_bind(offset);
    sql.build_query_as().fetch_all(pool).await.unwrap()
}

/// One page from the API, reduced to what [`reference_list`] returns.
async fn api_list(
    app: &TestApp,
    filters: &[(&str, &str)],
    sort: &str,
    limit: i64,
    offset: i64,
) -> Vec<ListKey> {
    let mut path = format!("/api/prospects?sort={sort}&limit={limit}&offset={offset}");
    for (name, value) in filters {
        path.push_str(&format!("&{name}={value}"));
    }
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200, "{path}");
    let page: Value = response.json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["id"].as_i64().unwrap(),
                row["score"].as_i64().map(|score| score as i32),
                row["cms"].as_str().map(str::to_string),
                Some(row["top_reasons"].clone()).filter(|reasons| !reasons.is_null()),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_prospect_list_pages_across_scored_and_unscored_like_one_ordered_query() {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(LIST_FIXTURE).execute(app.pool()).await.unwrap();

    // Default order: 40 scored by score then id, then 20 unscored by id. A
    // page that straddles the boundary, one inside the unscored part, one
    // past the end.
    let ids = |page: Vec<ListKey>| page.into_iter().map(|row| row.0).collect::<Vec<_>>();
    let straddling = api_list(&app, &[], "score", 10, 35).await;
    assert!(straddling[..5].iter().all(|row| row.1.is_some()));
    assert_eq!(ids(straddling[5..].to_vec()), vec![2, 5, 8, 11, 14]);
    assert_eq!(
        ids(api_list(&app, &[], "score", 5, 45).await),
        vec![17, 20, 23, 26, 29]
    );
    assert_eq!(ids(api_list(&app, &[], "score", 5, 58).await), vec![56, 59]);
    assert!(api_list(&app, &[], "score", 5, 60).await.is_empty());

    let filter_sets: &[&[(&str, &str)]] = &[
        &[],
        &[("tier", "hot")],
        &[("tier", "cold")],
        &[("min_score", "40")],
        &[("max_score", "60")],
        &[("min_score", "40"), ("max_score", "60"), ("city", "Luxembourg")],
        &[("city", "luxembourg")],
        &[("city", "Esch"), ("cms", "wordpress")],
        &[("cms", "WORDPRESS")],
        &[("cms", "Joomla"), ("min_score", "30")],
        &[("status", "active")],
        &[("tag", "priority")],
        &[("tag", "priority"), ("status", "pending")],
        &[("city", "Nowhere")],
    ];
    let pages = [
        (500, 0),
        (7, 0),
        (7, 14),
        (7, 35),
        (4, 38),
        (9, 44),
        (5, 58),
        (10, 100),
    ];
    for sort in ["score", "created", "name"] {
        for filters in filter_sets {
            for (limit, offset) in pages {
                assert_eq!(
                    api_list(&app, filters, sort, limit, offset).await,
                    reference_list(app.pool(), filters, sort, limit, offset).await,
                    "sort={sort} filters={filters:?} limit={limit} offset={offset}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_in_any_case() {
    // Arrange
    let app = TestApp::spawn().await;
    let url = format!("{}/api/status", app.address);
    // Act / Assert
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = app
            .http
            .get(&url)
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "scheme {scheme}");
    }
    let basic = app
        .http
        .get(&url)
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401, "another scheme is refused");
}

#[tokio::test]
async fn failed_token_attempts_are_throttled_per_client_address() {
    // Arrange: three failures a minute allowed.
    let app = TestApp::spawn_with(|s| s.admin.auth_failures_per_minute = 3).await;
    let url = format!("{}/api/status", app.address);
    let with_token = |token: &'static str| app.http.get(&url).bearer_auth(token).send();

    // Act: three wrong tokens of different lengths.
    for wrong in [
        "x",
        "test-admin-token-0123456788",
        "test-admin-token-0123456789-and-more",
    ] {
        assert_eq!(with_token(wrong).await.unwrap().status(), 401, "{wrong}");
    }

    // Assert: this address is now refused, even with the right token, and
    // told when to come back; the open routes still answer.
    let throttled = with_token(TOKEN).await.unwrap();
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(with_token("x").await.unwrap().status(), 429);
    let health = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_right_token_does_not_count_as_a_failure() {
    let app = TestApp::spawn_with(|s| s.admin.auth_failures_per_minute = 2).await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/status").await.status(), 200);
    }
    let wrong = app
        .http
        .get(format!("{}/api/status", app.address))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        app.get("/api/status").await.status(),
        200,
        "one failure is under the limit"
    );
}
