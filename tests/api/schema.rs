//! The unified schema: every name of both designs, constraints, FK rules,
//! and WebMagic's four common queries, unchanged.

use sqlx::{PgPool, Row};

use crate::helpers::TestDb;

/// Tables and views of both designs with at least their documented columns.
const DOCUMENTED: &[(&str, &[&str])] = &[
    (
        "prospects",
        &[
            "id",
            "channel",
            "business_name",
            "domain_name",
            "status",
            "source",
            "has_website",
            "uses_https",
            "http_status_code",
            "address",
            "city",
            "postal_code",
            "country",
            "notes",
            "tags",
            "captured_by_user_id",
            "location_lat",
            "location_lng",
            "last_tech_scan_at",
            "last_audit_at",
            "last_score_at",
        ],
    ),
    (
        "prospect_tech_profiles",
        &[
            "id",
            "prospect_id",
            "cms",
            "server",
            "hosting_provider",
            "cdn",
            "js_framework",
            "analytics",
            "ecommerce_platform",
            "tech_stack_json",
        ],
    ),
    (
        "prospect_performance_profiles",
        &[
            "id",
            "prospect_id",
            "performance_score",
            "accessibility_score",
            "seo_score",
            "first_contentful_paint_ms",
            "largest_contentful_paint_ms",
            "total_blocking_time_ms",
            "cumulative_layout_shift",
            "is_mobile_friendly",
        ],
    ),
    (
        "prospect_scores",
        &[
            "id",
            "prospect_id",
            "score",
            "technical_health_score",
            "modernity_score",
            "business_value_score",
            "engagement_score",
            "reason_flags",
            "lead_tier",
        ],
    ),
    (
        "prospect_contacts",
        &[
            "id",
            "prospect_id",
            "contact_type",
            "value",
            "source_url",
            "is_primary",
        ],
    ),
    (
        "prospect_interactions",
        &[
            "id",
            "prospect_id",
            "interaction_type",
            "subject",
            "notes",
            "outcome",
            "next_action",
            "next_action_date",
            "created_by_user_id",
        ],
    ),
    (
        "prospect_scan_jobs",
        &[
            "id",
            "job_type",
            "status",
            "total_items",
            "processed_items",
            "celery_task_id",
        ],
    ),
    (
        "campaign_templates",
        &[
            "id",
            "name",
            "lead_type",
            "channel",
            "language",
            "subject_template",
            "body_template",
            "is_active",
        ],
    ),
    (
        "campaign_sends",
        &[
            "id",
            "template_id",
            "prospect_id",
            "channel",
            "rendered_subject",
            "rendered_body",
            "status",
            "sent_at",
            "sent_by_user_id",
        ],
    ),
    (
        "coverage_grid",
        &[
            "id",
            "state",
            "city",
            "country",
            "industry",
            "industry_category",
            "status",
            "priority",
            "population",
            "lead_count",
            "qualified_count",
            "site_count",
            "conversion_count",
            "last_scraped_at",
            "cooldown_until",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "businesses",
        &[
            "id",
            "gmb_id",
            "gmb_place_id",
            "name",
            "slug",
            "email",
            "phone",
            "website_url",
            "address",
            "city",
            "state",
            "zip_code",
            "country",
            "latitude",
            "longitude",
            "category",
            "subcategory",
            "rating",
            "review_count",
            "reviews_summary",
            "review_highlight",
            "brand_archetype",
            "photos_urls",
            "logo_url",
            "website_status",
            "contact_status",
            "qualification_score",
            "creative_dna",
            "coverage_grid_id",
            "scraped_at",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "generated_sites",
        &[
            "id",
            "business_id",
            "subdomain",
            "custom_domain",
            "html_content",
            "css_content",
            "js_content",
            "design_brief",
            "builder_prompt",
            "version",
            "previous_version_id",
            "status",
            "screenshot_desktop_url",
            "screenshot_mobile_url",
            "assets_urls",
            "lighthouse_score",
            "load_time_ms",
            "created_at",
            "deployed_at",
            "sold_at",
            "updated_at",
        ],
    ),
    (
        "campaigns",
        &[
            "id",
            "business_id",
            "site_id",
            "subject_line",
            "email_body",
            "preview_text",
            "review_highlight",
            "business_name",
            "recipient_name",
            "recipient_email",
            "status",
            "sent_at",
            "delivered_at",
            "opened_at",
            "opened_count",
            "clicked_at",
            "clicked_count",
            "replied_at",
            "converted_at",
            "email_provider",
            "message_id",
            "variant",
            "error_message",
            "retry_count",
            "scheduled_for",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "customers",
        &[
            "id",
            "business_id",
            "site_id",
            "recurrente_user_id",
            "email",
            "full_name",
            "phone",
            "billing_name",
            "billing_tax_id",
            "billing_address",
            "status",
            "lifetime_value_cents",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "subscriptions",
        &[
            "id",
            "customer_id",
            "site_id",
            "recurrente_subscription_id",
            "recurrente_checkout_id",
            "amount_cents",
            "currency",
            "status",
            "current_period_start",
            "current_period_end",
            "started_at",
            "cancelled_at",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "payments",
        &[
            "id",
            "customer_id",
            "subscription_id",
            "recurrente_payment_id",
            "recurrente_checkout_id",
            "amount_cents",
            "currency",
            "fee_cents",
            "net_cents",
            "payment_type",
            "status",
            "payment_method",
            "card_last4",
            "card_network",
            "paid_at",
            "refunded_at",
            "created_at",
        ],
    ),
    (
        "prompt_settings",
        &[
            "id",
            "agent_name",
            "section_name",
            "content",
            "description",
            "version",
            "is_active",
            "variant",
            "weight",
            "usage_count",
            "success_count",
            "created_at",
            "updated_at",
            "created_by",
        ],
    ),
    (
        "prompt_templates",
        &[
            "id",
            "agent_name",
            "system_prompt",
            "output_format",
            "placeholder_sections",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "support_tickets",
        &[
            "id",
            "customer_id",
            "site_id",
            "request_text",
            "screenshot_urls",
            "status",
            "ai_interpretation",
            "ai_changes_made",
            "resolved_by",
            "resolution_notes",
            "created_at",
            "resolved_at",
            "updated_at",
        ],
    ),
    (
        "admin_users",
        &[
            "id",
            "email",
            "password_hash",
            "full_name",
            "role",
            "is_active",
            "last_login_at",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "analytics_snapshots",
        &[
            "id",
            "snapshot_date",
            "leads_scraped",
            "leads_qualified",
            "sites_generated",
            "sites_deployed",
            "emails_sent",
            "emails_opened",
            "emails_clicked",
            "checkouts_created",
            "purchases",
            "revenue_cents",
            "mrr_cents",
            "api_costs_cents",
            "created_at",
        ],
    ),
    (
        "activity_log",
        &[
            "id",
            "action",
            "entity_type",
            "entity_id",
            "details",
            "actor_type",
            "actor_id",
            "created_at",
        ],
    ),
];

#[tokio::test]
async fn every_table_of_both_designs_exists_with_its_documented_columns() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    for (relation, columns) in DOCUMENTED {
        let present: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(relation)
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(!present.is_empty(), "{relation} does not exist");
        for column in *columns {
            assert!(
                present.iter().any(|c| c == column),
                "{relation}.{column} is missing"
            );
        }
    }
}

async fn seed_webmagic(pool: &PgPool) {
    sqlx::raw_sql(
        r#"
        INSERT INTO coverage_grid (id, state, city, industry, priority, population, status, cooldown_until) VALUES
            ('00000000-0000-0000-0000-000000000001', 'TX', 'Austin', 'plumber', 5, 960000, 'pending', NULL),
            ('00000000-0000-0000-0000-000000000002', 'TX', 'Dallas', 'plumber', 5, 1300000, 'pending', now() - interval '1 day'),
            ('00000000-0000-0000-0000-000000000003', 'TX', 'Houston', 'plumber', 9, 2300000, 'pending', now() + interval '1 day'),
            ('00000000-0000-0000-0000-000000000004', 'TX', 'El Paso', 'plumber', 1, 680000, 'completed', NULL);

        -- Through WebMagic's name: the view writes the unified table.
        INSERT INTO businesses (id, name, email, rating, review_count, website_status, contact_status, qualification_score, city, state) VALUES
            ('10000000-0000-0000-0000-000000000001', 'Best Plumbing', 'best@plumb.example', 4.8, 120, 'none', 'pending', 90, 'Austin', 'TX'),
            ('10000000-0000-0000-0000-000000000002', 'Good Plumbing', 'good@plumb.example', 4.1, 15, 'none', 'pending', 70, 'Austin', 'TX'),
            ('10000000-0000-0000-0000-000000000003', 'No Email Plumbing', NULL, 4.9, 300, 'none', 'pending', 95, 'Austin', 'TX'),
            ('10000000-0000-0000-0000-000000000004', 'Few Reviews', 'few@plumb.example', 4.9, 3, 'none', 'pending', 80, 'Austin', 'TX'),
            ('10000000-0000-0000-0000-000000000005', 'Has Site', 'site@plumb.example', 4.9, 50, 'generated', 'emailed', 85, 'Dallas', 'TX'),
            ('10000000-0000-0000-0000-000000000006', 'Bought', 'buy@plumb.example', 4.5, 40, 'generated', 'purchased', 60, 'Dallas', 'TX');

        INSERT INTO generated_sites (id, business_id, subdomain, html_content, status, screenshot_desktop_url) VALUES
            ('20000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000001', 'best-plumbing', '<html></html>', 'preview', 'https://cdn.example/best.png'),
            ('20000000-0000-0000-0000-000000000002', '10000000-0000-0000-0000-000000000002', 'good-plumbing', '<html></html>', 'preview', NULL),
            ('20000000-0000-0000-0000-000000000003', '10000000-0000-0000-0000-000000000005', 'has-site', '<html></html>', 'preview', 'https://cdn.example/has.png');
        "#,
    )
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn webmagic_common_queries_run_unchanged() {
    // Arrange
    let db = TestDb::new().await;
    let pool = db.pool().await;
    seed_webmagic(&pool).await;

    // Act / Assert: "Get next target for autopilot"
    let next = sqlx::query(
        "SELECT * FROM coverage_grid
WHERE status = 'pending'
  AND (cooldown_until IS NULL OR cooldown_until < NOW())
ORDER BY priority DESC, population DESC
LIMIT 1;",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next.get::<String, _>("city"), "Dallas");

    // "Get qualified leads ready for site generation"
    let ready = sqlx::query(
        "SELECT * FROM businesses
WHERE website_status = 'none'
  AND email IS NOT NULL
  AND rating >= 4.0
  AND review_count >= 10
ORDER BY qualification_score DESC
LIMIT 50;",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let names: Vec<String> = ready.iter().map(|r| r.get("name")).collect();
    assert_eq!(names, vec!["Best Plumbing", "Good Plumbing"]);

    // "Get sites ready for outreach"
    let outreach = sqlx::query(
        "SELECT s.*, b.email, b.name as business_name
FROM generated_sites s
JOIN businesses b ON s.business_id = b.id
WHERE s.status = 'preview'
  AND b.contact_status = 'pending'
  AND s.screenshot_desktop_url IS NOT NULL;",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(outreach.len(), 1);
    assert_eq!(outreach[0].get::<String, _>("business_name"), "Best Plumbing");
    assert_eq!(outreach[0].get::<String, _>("subdomain"), "best-plumbing");

    // "Dashboard metrics"
    let dashboard = sqlx::query(
        "SELECT 
    COUNT(*) FILTER (WHERE website_status = 'generated') as sites_generated,
    COUNT(*) FILTER (WHERE contact_status = 'purchased') as conversions,
    COUNT(*) FILTER (WHERE contact_status = 'emailed') as emails_sent
FROM businesses
WHERE created_at >= NOW() - INTERVAL '30 days';",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(dashboard.get::<i64, _>("sites_generated"), 2);
    assert_eq!(dashboard.get::<i64, _>("conversions"), 1);
    assert_eq!(dashboard.get::<i64, _>("emails_sent"), 1);
}

#[tokio::test]
async fn a_business_and_its_prospect_are_the_same_row() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    seed_webmagic(&pool).await;
    let row = sqlx::query(
        "SELECT p.id, p.business_name, p.channel, p.country, p.slug FROM prospects p
         WHERE p.public_id = '10000000-0000-0000-0000-000000000001'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("business_name"), "Best Plumbing");
    // WebMagic's defaults apply to rows inserted through its name.
    assert_eq!(row.get::<String, _>("channel"), "maps");
    assert_eq!(row.get::<String, _>("country"), "US");
    assert!(row.get::<String, _>("slug").starts_with("best-plumbing-"));

    // Updating through one name is visible through the other.
    sqlx::query("UPDATE businesses SET contact_status = 'emailed' WHERE name = 'Best Plumbing'")
        .execute(&pool)
        .await
        .unwrap();
    let status: String = sqlx::query_scalar("SELECT contact_status FROM prospects WHERE id = $1")
        .bind(row.get::<i64, _>("id"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "emailed");
}

#[tokio::test]
async fn a_campaign_send_and_its_campaign_are_the_same_row() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let prospect: i64 = sqlx::query_scalar(
        "INSERT INTO prospects (domain_name, business_name, email) VALUES ('example.lu', 'Example', 'info@example.lu') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let template: i64 = sqlx::query_scalar(
        "INSERT INTO campaign_templates (name, subject_template, body_template) VALUES ('intro', 'Hi {business_name}', 'Body') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // The prospects design's name, with its integer keys only.
    sqlx::query(
        "INSERT INTO campaign_sends (template_id, prospect_id, rendered_subject, rendered_body, status)
         VALUES ($1, $2, 'Hi Example', 'Body', 'sent')",
    )
    .bind(template)
    .bind(prospect)
    .execute(&pool)
    .await
    .unwrap();
    let campaign = sqlx::query(
        "SELECT c.subject_line, c.recipient_email, c.business_name, c.business_id = p.public_id AS linked
         FROM campaigns c JOIN prospects p ON p.id = c.prospect_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(campaign.get::<String, _>("subject_line"), "Hi Example");
    assert_eq!(campaign.get::<String, _>("recipient_email"), "info@example.lu");
    assert_eq!(campaign.get::<String, _>("business_name"), "Example");
    assert!(campaign.get::<bool, _>("linked"));

    // The same template is sent to a lead once.
    let again = sqlx::query(
        "INSERT INTO campaign_sends (template_id, prospect_id, rendered_subject, rendered_body) VALUES ($1, $2, 's', 'b')",
    )
    .bind(template)
    .bind(prospect)
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(
        constraint_of(&again),
        Some("idx_campaigns_prospect_template".into())
    );

    // Keys naming different leads are refused.
    let other: i64 =
        sqlx::query_scalar("INSERT INTO prospects (domain_name) VALUES ('other.lu') RETURNING id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let mismatch = sqlx::query(
        "INSERT INTO campaigns (prospect_id, business_id, subject_line, email_body, recipient_email)
         SELECT $1, public_id, 's', 'b', 'x@y.lu' FROM prospects WHERE id = $2",
    )
    .bind(other)
    .bind(prospect)
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(constraint_of(&mismatch), Some("campaigns_lead_keys_check".into()));
}

fn constraint_of(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.constraint().map(str::to_owned),
        _ => None,
    }
}

#[tokio::test]
async fn enumerations_and_scores_are_checked_by_the_database() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    sqlx::raw_sql(
        "INSERT INTO prospects (id, domain_name) OVERRIDING SYSTEM VALUE VALUES (1, 'example.lu');
         INSERT INTO admin_users (email, password_hash) VALUES ('a@b.lu', 'x');
         INSERT INTO coverage_grid (state, city, industry) VALUES ('LU', 'Luxembourg', 'bakery');",
    )
    .execute(&pool)
    .await
    .unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "prospect status",
            "INSERT INTO prospects (domain_name, status) VALUES ('a.lu', 'archived')",
        ),
        (
            "prospect channel",
            "INSERT INTO prospects (domain_name, channel) VALUES ('a.lu', 'fax')",
        ),
        (
            "digital needs a domain",
            "INSERT INTO prospects (channel, business_name) VALUES ('digital', 'X')",
        ),
        (
            "offline needs a name",
            "INSERT INTO prospects (channel) VALUES ('offline')",
        ),
        (
            "domain must be normalised",
            "INSERT INTO prospects (domain_name) VALUES ('WWW.Example.LU')",
        ),
        (
            "website status",
            "INSERT INTO prospects (domain_name, website_status) VALUES ('a.lu', 'published')",
        ),
        (
            "contact status",
            "INSERT INTO prospects (domain_name, contact_status) VALUES ('a.lu', 'called')",
        ),
        (
            "qualification score",
            "INSERT INTO prospects (domain_name, qualification_score) VALUES ('a.lu', 101)",
        ),
        (
            "rating",
            "INSERT INTO prospects (domain_name, rating) VALUES ('a.lu', 5.5)",
        ),
        (
            "country code",
            "INSERT INTO prospects (domain_name, country) VALUES ('a.lu', 'l1')",
        ),
        (
            "score",
            "INSERT INTO prospect_scores (prospect_id, score, lead_tier) VALUES (1, 120, 'hot')",
        ),
        (
            "component score",
            "INSERT INTO prospect_scores (prospect_id, score, modernity_score, lead_tier) VALUES (1, 50, -1, 'hot')",
        ),
        (
            "lead tier",
            "INSERT INTO prospect_scores (prospect_id, score, lead_tier) VALUES (1, 50, 'lukewarm')",
        ),
        (
            "performance score",
            "INSERT INTO prospect_performance_profiles (prospect_id, performance_score) VALUES (1, 101)",
        ),
        (
            "seo score",
            "INSERT INTO prospect_performance_profiles (prospect_id, seo_score) VALUES (1, -5)",
        ),
        (
            "contact type",
            "INSERT INTO prospect_contacts (prospect_id, contact_type, value) VALUES (1, 'pigeon', 'x')",
        ),
        (
            "interaction type",
            "INSERT INTO prospect_interactions (prospect_id, interaction_type) VALUES (1, 'telegram')",
        ),
        (
            "scan job status",
            "INSERT INTO prospect_scan_jobs (job_type, status) VALUES ('import', 'paused')",
        ),
        (
            "scan job type",
            "INSERT INTO prospect_scan_jobs (job_type) VALUES ('mining')",
        ),
        (
            "coverage status",
            "INSERT INTO coverage_grid (state, city, industry, status) VALUES ('LU', 'Esch', 'x', 'done')",
        ),
        (
            "admin role",
            "INSERT INTO admin_users (email, password_hash, role) VALUES ('b@b.lu', 'x', 'super_admin')",
        ),
        (
            "template channel",
            "INSERT INTO campaign_templates (name, channel, subject_template, body_template) VALUES ('n', 'fax', 's', 'b')",
        ),
        (
            "prompt agent",
            "INSERT INTO prompt_settings (agent_name, section_name, content) VALUES ('poet', 's', 'c')",
        ),
        (
            "site status",
            "INSERT INTO generated_sites (business_id, subdomain, html_content, status) SELECT public_id, 's', 'h', 'online' FROM prospects",
        ),
        (
            "site lighthouse score",
            "INSERT INTO generated_sites (business_id, subdomain, html_content, lighthouse_score) SELECT public_id, 's', 'h', 200 FROM prospects",
        ),
        (
            "customer status",
            "INSERT INTO customers (email, status) VALUES ('c@c.lu', 'happy')",
        ),
        (
            "payment type",
            "INSERT INTO payments (customer_id, amount_cents, payment_type) SELECT gen_random_uuid(), 1, 'gift'",
        ),
        (
            "snapshot counters",
            "INSERT INTO analytics_snapshots (snapshot_date, emails_sent) VALUES ('2026-01-01', -1)",
        ),
        (
            "actor type",
            "INSERT INTO activity_log (action, entity_type, actor_type) VALUES ('a', 'b', 'robot')",
        ),
    ];
    for (name, statement) in cases {
        let result = sqlx::query(sqlx::AssertSqlSafe(*statement)).execute(&pool).await;
        match result {
            Err(sqlx::Error::Database(e)) => {
                let code = e.code().unwrap_or_default().to_string();
                assert!(
                    code == "23514" || code == "23502",
                    "{name}: expected a CHECK/NOT NULL violation, got {code}: {e}"
                );
            }
            other => panic!("{name}: expected the database to refuse `{statement}`, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn foreign_keys_follow_the_documented_delete_rules() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    sqlx::raw_sql(
        r#"
        INSERT INTO coverage_grid (id, state, city, industry) VALUES ('00000000-0000-0000-0000-00000000000a', 'LU', 'Luxembourg', 'bakery');
        INSERT INTO prospects (id, public_id, domain_name, coverage_grid_id) OVERRIDING SYSTEM VALUE
            VALUES (1, '10000000-0000-0000-0000-000000000001', 'example.lu', '00000000-0000-0000-0000-00000000000a');
        INSERT INTO prospect_tech_profiles (prospect_id, cms) VALUES (1, 'WordPress');
        INSERT INTO prospect_contacts (prospect_id, contact_type, value) VALUES (1, 'email', 'info@example.lu');
        INSERT INTO generated_sites (id, business_id, subdomain, html_content)
            VALUES ('20000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000001', 'ex', '<html>');
        INSERT INTO customers (id, business_id, site_id, email)
            VALUES ('30000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000001', '20000000-0000-0000-0000-000000000001', 'c@example.lu');
        INSERT INTO subscriptions (id, customer_id, site_id, amount_cents)
            VALUES ('40000000-0000-0000-0000-000000000001', '30000000-0000-0000-0000-000000000001', '20000000-0000-0000-0000-000000000001', 1500);
        INSERT INTO payments (customer_id, subscription_id, amount_cents, payment_type)
            VALUES ('30000000-0000-0000-0000-000000000001', '40000000-0000-0000-0000-000000000001', 1500, 'subscription');
        INSERT INTO support_tickets (customer_id, site_id, request_text)
            VALUES ('30000000-0000-0000-0000-000000000001', '20000000-0000-0000-0000-000000000001', 'Change the logo');
        "#,
    )
    .execute(&pool)
    .await
    .unwrap();

    // coverage_grid → businesses: SET NULL
    sqlx::query("DELETE FROM coverage_grid")
        .execute(&pool)
        .await
        .unwrap();
    let grid: Option<uuid::Uuid> = sqlx::query_scalar("SELECT coverage_grid_id FROM prospects WHERE id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(grid, None);

    // subscription → payments: SET NULL
    sqlx::query("DELETE FROM subscriptions")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM payments WHERE subscription_id IS NULL"
        )
        .await,
        1
    );

    // generated_sites → customers.site_id: SET NULL; support_tickets: CASCADE
    sqlx::query("DELETE FROM generated_sites")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM customers WHERE site_id IS NULL").await,
        1
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM support_tickets").await, 0);

    // customers → payments: CASCADE
    sqlx::query("DELETE FROM customers").execute(&pool).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM payments").await, 0);

    // prospects → profiles and contacts: CASCADE
    sqlx::query("DELETE FROM prospects").execute(&pool).await.unwrap();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prospect_tech_profiles").await,
        0
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM prospect_contacts").await, 0);
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    crate::helpers::count(pool, sql).await
}

#[tokio::test]
async fn documented_unique_keys_hold() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let cases: &[(&str, &str, &str)] = &[
        (
            "coverage territory",
            "INSERT INTO coverage_grid (country, state, city, industry) VALUES ('US', 'TX', 'Austin', 'plumber')",
            "coverage_grid_territory_key",
        ),
        (
            "prospect domain",
            "INSERT INTO prospects (domain_name) VALUES ('example.lu')",
            "prospects_domain_name_key",
        ),
        (
            "snapshot date",
            "INSERT INTO analytics_snapshots (snapshot_date) VALUES ('2026-01-01')",
            "analytics_snapshots_snapshot_date_key",
        ),
        (
            "admin email",
            "INSERT INTO admin_users (email, password_hash) VALUES ('a@b.lu', 'x')",
            "admin_users_email_key",
        ),
        (
            "prompt version",
            "INSERT INTO prompt_settings (agent_name, section_name, content) VALUES ('analyst', 'hook', 'c')",
            "prompt_settings_agent_section_version_key",
        ),
    ];
    for (name, statement, constraint) in cases {
        sqlx::query(sqlx::AssertSqlSafe(*statement))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = sqlx::query(sqlx::AssertSqlSafe(*statement))
            .execute(&pool)
            .await
            .unwrap_err();
        assert_eq!(constraint_of(&err).as_deref(), Some(*constraint), "{name}");
    }
}
