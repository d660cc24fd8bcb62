//! snapshot_analytics: the day's row from the real tables, idempotent.

use std::time::Duration;

use chrono::NaiveDate;
use prospector_jobs::{
    Handler, SnapshotAnalytics,
    snapshot_analytics::{AnalyticsSettings, upsert_snapshot},
};
use sqlx::{PgPool, Row};

use crate::helpers::{TestApp, TestDb, wait_for};

/// 2026-03-15 in Luxembourg (UTC+1) is [03-14 23:00Z, 03-15 23:00Z).
async fn seed(pool: &PgPool) {
    sqlx::raw_sql(
        r#"
        INSERT INTO prospects (id, domain_name, qualification_score, created_at) OVERRIDING SYSTEM VALUE VALUES
            (1, 'a.lu', 70, '2026-03-14 23:00:00+00'),
            (2, 'b.lu', 50, '2026-03-15 12:00:00+00'),
            (3, 'c.lu', 90, '2026-03-15 22:59:59+00'),
            (4, 'd.lu', 95, '2026-03-14 22:59:59+00'),
            (5, 'e.lu', 95, '2026-03-15 23:00:00+00');
        INSERT INTO generated_sites (business_id, subdomain, html_content, created_at, deployed_at)
            SELECT public_id, 's' || id, '<html>', ts.created, ts.deployed
            FROM prospects JOIN (VALUES
                (1, '2026-03-15 08:00:00+00'::timestamptz, NULL::timestamptz),
                (2, '2026-03-15 09:00:00+00', '2026-03-15 10:00:00+00'),
                (4, '2026-03-10 09:00:00+00', '2026-03-15 11:00:00+00')) AS ts(pid, created, deployed) ON ts.pid = prospects.id;
        INSERT INTO campaigns (prospect_id, subject_line, email_body, recipient_email, status, sent_at, opened_at, clicked_at) VALUES
            (1, 's', 'b', 'a@a.lu', 'clicked', '2026-03-15 09:00+00', '2026-03-15 10:00+00', '2026-03-15 11:00+00'),
            (2, 's', 'b', 'b@b.lu', 'opened', '2026-03-15 09:00+00', '2026-03-15 10:00+00', NULL),
            (3, 's', 'b', 'c@c.lu', 'sent', '2026-03-15 09:00+00', NULL, NULL),
            (4, 's', 'b', 'd@d.lu', 'opened', '2026-03-13 09:00+00', '2026-03-15 12:00+00', NULL),
            (5, 's', 'b', 'e@e.lu', 'sent', '2026-03-16 09:00+00', NULL, NULL);
        INSERT INTO customers (id, email) VALUES ('30000000-0000-0000-0000-000000000001', 'c@example.lu');
        INSERT INTO subscriptions (customer_id, amount_cents, status, started_at, cancelled_at, recurrente_checkout_id, created_at) VALUES
            ('30000000-0000-0000-0000-000000000001', 1500, 'active', '2026-03-01+00', NULL, 'co-old', '2026-03-01+00'),
            ('30000000-0000-0000-0000-000000000001', 999, 'cancelled', '2026-03-01+00', '2026-03-15 10:00+00', NULL, '2026-03-01+00'),
            ('30000000-0000-0000-0000-000000000001', 2000, 'cancelled', '2026-03-01+00', '2026-03-16 10:00+00', NULL, '2026-03-01+00'),
            ('30000000-0000-0000-0000-000000000001', 700, 'active', '2026-03-15 12:00+00', NULL, 'co-2', '2026-03-15 12:00+00');
        INSERT INTO payments (customer_id, amount_cents, payment_type, status, paid_at, recurrente_checkout_id, created_at) VALUES
            ('30000000-0000-0000-0000-000000000001', 1500, 'one_time', 'succeeded', '2026-03-15 10:00+00', 'co-1', '2026-03-15 09:55+00'),
            ('30000000-0000-0000-0000-000000000001', 3000, 'subscription', 'succeeded', '2026-03-15 12:01+00', 'co-2', '2026-03-15 12:00+00'),
            ('30000000-0000-0000-0000-000000000001', 500, 'refund', 'succeeded', '2026-03-15 13:00+00', NULL, '2026-03-15 13:00+00'),
            ('30000000-0000-0000-0000-000000000001', 4000, 'one_time', 'pending', NULL, 'co-3', '2026-03-16 08:00+00');
        INSERT INTO api_usage (provider, operation, cost_cents, occurred_at) VALUES
            ('outscraper', 'maps_search', 12.6, '2026-03-15 08:00+00'),
            ('google_places', 'text_search', 30.2, '2026-03-15 09:00+00'),
            ('google_places', 'text_search', 99.0, '2026-03-16 09:00+00');
        "#,
    )
    .execute(pool)
    .await
    .unwrap();
}

fn deps() -> AnalyticsSettings {
    AnalyticsSettings {
        time_zone: "Europe/Luxembourg".parse().unwrap(),
        qualified_min_score: 60,
    }
}

async fn stored(pool: &PgPool, date: NaiveDate) -> Vec<i32> {
    let row = sqlx::query(
        "SELECT leads_scraped, leads_qualified, sites_generated, sites_deployed, emails_sent, emails_opened,
                emails_clicked, checkouts_created, purchases, revenue_cents, mrr_cents, api_costs_cents
         FROM analytics_snapshots WHERE snapshot_date = $1",
    )
    .bind(date)
    .fetch_one(pool)
    .await
    .unwrap();
    (0..12).map(|i| row.get::<i32, _>(i)).collect()
}

#[tokio::test]
async fn the_snapshot_counts_the_local_day_from_the_real_tables() {
    // Arrange
    let app = TestApp::spawn().await;
    seed(app.pool()).await;
    let date = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
    let ctx = app.job_context();

    // Act
    SnapshotAnalytics { date }.handle(&ctx, &deps()).await.unwrap();

    // Assert
    let expected = vec![
        3,    // leads scraped: a, b, c (d is the day before, e the day after, locally)
        2,    // qualified (>= 60): a, c
        2,    // sites generated that day
        2,    // sites deployed that day (one generated earlier)
        3,    // emails sent
        3,    // emails opened (one sent two days before)
        1,    // emails clicked
        2,    // checkouts: co-1 and co-2 (payment and subscription share co-2)
        2,    // purchases: succeeded, not refunds
        4500, // revenue
        4200, // MRR at the end of the day: 1500 + 2000 (cancelled later) + 700
        43,   // API costs: 12.6 + 30.2 rounded
    ];
    assert_eq!(stored(app.pool(), date).await, expected);

    // Re-running the day gives the same row.
    let first: serde_json::Value = sqlx::query_scalar(
        "SELECT to_jsonb(a) - 'updated_at' FROM analytics_snapshots a WHERE snapshot_date = $1",
    )
    .bind(date)
    .fetch_one(app.pool())
    .await
    .unwrap();
    upsert_snapshot(app.pool(), date, &deps()).await.unwrap();
    let again: serde_json::Value = sqlx::query_scalar(
        "SELECT to_jsonb(a) - 'updated_at' FROM analytics_snapshots a WHERE snapshot_date = $1",
    )
    .bind(date)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(first, again);
    assert_eq!(
        crate::helpers::count(app.pool(), "SELECT count(*) FROM analytics_snapshots").await,
        1
    );
}

#[tokio::test]
async fn a_queued_snapshot_is_run_by_the_worker_pool() {
    let app = TestApp::spawn().await;
    seed(app.pool()).await;
    app.start_workers(&[prospector_jobs::Stage::SnapshotAnalytics]);
    let date = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
    let mut conn = app.pool().acquire().await.unwrap();
    app.app
        .enqueuer
        .enqueue(&mut conn, &SnapshotAnalytics { date })
        .await
        .unwrap();
    wait_for(Duration::from_secs(15), "the snapshot row", || async {
        crate::helpers::count(app.pool(), "SELECT count(*) FROM analytics_snapshots").await == 1
    })
    .await;
    assert_eq!(stored(app.pool(), date).await[0], 3);
}

#[tokio::test]
async fn a_stage_name_that_is_not_a_stage_is_refused_with_the_known_ones() {
    let output = crate::helpers::command(&TestDb::new().await.url)
        .args(["work", "--stages", "scrape"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("unknown stage `scrape`"), "{stderr}");
    assert!(stderr.contains("snapshot_analytics"), "{stderr}");
}
