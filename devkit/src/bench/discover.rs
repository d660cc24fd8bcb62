//! `prospector bench discover`: the discover stage's throughput against a
//! local Places-compatible server (no network, no provider cost).
//!
//! 1. **First discovery**: `--territories` territories are claimed by the
//!    autopilot and discovered one after the other; each returns
//!    `--per-territory` synthetic places in pages of `--page-size` (a quarter
//!    with a Facebook page for a website, a quarter with none, half with a
//!    site of their own). Every record is classified, keyed, qualified,
//!    deduplicated against the database, inserted and routed (a `tech_scan`
//!    job per new lead with a website) — the figure is records per second
//!    of that whole path, HTTP included.
//! 2. **Rediscovery**: the same territories again after their cooldown:
//!    every record now matches an existing lead and is updated.
//! 3. **Prepare only**: classification, dedup keys and qualification
//!    without I/O, records per second on one core.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use axum::{Json, Router, extract::State, routing::post};
use chrono::Utc;
use prospector_jobs::{
    Enqueuer, Handler, JobContext,
    discover::{
        ApiKey, DiscoverBusinesses, ProviderKind, business::BusinessDraft, prepare::prepare, run_autopilot,
    },
    domain::CountryCode,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::net::TcpListener;

use super::queue::{bench_url, recreate_database};
use prospector::{config::Settings, db};

use crate::cli::BenchDiscoverArgs;

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct DiscoverFigures {
    /// Records per second, first discovery (inserts).
    pub insert_per_second: f64,
    /// Records per second, rediscovery (updates).
    pub update_per_second: f64,
    /// Milliseconds per page, first discovery.
    pub ms_per_page: f64,
    /// Records per second through classification and qualification alone.
    pub prepare_per_second: f64,
}

#[derive(Clone)]
struct Synthetic {
    per_territory: usize,
}

/// A Places Text Search answer: the text query names the territory
/// (`t{n}`), the page token the offset.
async fn search_text(State(synthetic): State<Arc<Synthetic>>, Json(body): Json<Value>) -> Json<Value> {
    let query = body["textQuery"].as_str().unwrap_or_default();
    let territory = query
        .split_whitespace()
        .next()
        .unwrap_or("t0")
        .trim_start_matches('t')
        .to_owned();
    let size = body["pageSize"].as_u64().unwrap_or(20) as usize;
    let offset: usize = body["pageToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let end = (offset + size).min(synthetic.per_territory);
    let places: Vec<Value> = (offset..end).map(|n| place(&territory, n)).collect();
    let mut answer = json!({ "places": places });
    if end < synthetic.per_territory {
        answer["nextPageToken"] = json!(end.to_string());
    }
    Json(answer)
}

fn place(territory: &str, n: usize) -> Value {
    let website = match n % 4 {
        0 => Value::Null,
        1 => json!(format!("https://www.facebook.com/biz-{territory}-{n}")),
        _ => json!(format!("https://www.biz-{territory}-{n}.lu/")),
    };
    json!({
        "id": format!("ChIJbench-{territory}-{n}"),
        "displayName": {"text": format!("Business {n} of territory {territory}")},
        "formattedAddress": format!("{n} Rue de la Bench, Luxembourg"),
        "addressComponents": [
            {"longText": "Luxembourg", "shortText": "Luxembourg", "types": ["locality"]},
            {"longText": "Luxembourg", "shortText": "LU", "types": ["country"]}
        ],
        "location": {"latitude": 49.6 + (n as f64) / 10_000.0, "longitude": 6.1},
        "internationalPhoneNumber": format!("+352 621 {:03} {:03}", territory.parse::<usize>().unwrap_or(0) % 1000, n % 1000),
        "websiteUri": website,
        "rating": 3.0 + (n % 20) as f64 / 10.0,
        "userRatingCount": (n * 7) % 300,
        "businessStatus": "OPERATIONAL",
        "reviews": [{"publishTime": "2026-09-01T10:00:00Z"}]
    })
}

/// Run the benchmark and print its figures.
pub async fn run(mut settings: Settings, args: BenchDiscoverArgs) -> anyhow::Result<DiscoverFigures> {
    if args.territories == 0 || args.per_territory == 0 || !(1..=20).contains(&args.page_size) {
        bail!("--territories and --per-territory must be at least 1, --page-size between 1 and 20");
    }
    prospector::tls::init();
    // A scratch database.
    let options = db::connect_options(&settings.database)?;
    let name = format!(
        "{}_bench_discover",
        options.get_database().unwrap_or("prospector")
    );
    let url = bench_url(settings.database.url.expose_secret(), &name)?;
    settings.database.url = SecretString::from(url);
    recreate_database(&settings.database, &name).await?;
    let pool = db::connect(&settings.database).await?;
    db::migrate(&pool).await?;

    // The local provider.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/v1/places:searchText", post(search_text))
        .with_state(Arc::new(Synthetic {
            per_territory: args.per_territory,
        }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let d = settings.of_mut::<DiscoverBusinesses>();
    d.provider = ProviderKind::GooglePlaces;
    d.google_places.base_url = url::Url::parse(&base)?;
    d.google_places_key = ApiKey::new("bench-key");
    d.google_places.daily_budget_cents = f64::MAX;
    d.page_size = args.page_size;
    d.max_results_per_target = u32::try_from(args.per_territory).unwrap_or(u32::MAX);
    d.query = "t{city} {industry}".into();
    d.autopilot.enabled = true;
    d.autopilot.daily_target = u32::MAX;
    let deps = settings.of::<DiscoverBusinesses>().deps(&settings.platform())?;
    let enqueuer = Enqueuer::new(settings.queue_policies());
    for t in 0..args.territories {
        sqlx::query(
            "INSERT INTO coverage_grid (country, state, city, industry, priority) VALUES ('LU', 'Luxembourg', $1, 'bakeries', 0)",
        )
        .bind(t.to_string())
        .execute(&pool)
        .await?;
    }
    let records = args.territories * args.per_territory;
    let pages = args.territories * args.per_territory.div_ceil(args.page_size as usize);
    println!(
        "bench discover: {} territories x {} places in pages of {} from a local Places server, database {name}",
        args.territories, args.per_territory, args.page_size
    );

    let first = discover_all(&pool, &enqueuer, &settings, &deps, args.territories).await?;
    let new_leads: i64 = sqlx::query_scalar("SELECT count(*) FROM prospects")
        .fetch_one(&pool)
        .await?;
    let scans: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = 'tech_scan'")
        .fetch_one(&pool)
        .await?;
    let insert_per_second = records as f64 / first.as_secs_f64();
    let ms_per_page = first.as_secs_f64() * 1000.0 / pages as f64;
    println!(
        "  first discovery: {records} records ({new_leads} new leads, {scans} tech_scan jobs) in {:.2} s: {insert_per_second:.0} records/s, {ms_per_page:.1} ms per page of {}",
        first.as_secs_f64(),
        args.page_size
    );

    sqlx::query("UPDATE coverage_grid SET cooldown_until = now() - interval '1 second'")
        .execute(&pool)
        .await?;
    let second_started = Utc::now();
    let again = discover_all(&pool, &enqueuer, &settings, &deps, args.territories).await?;
    let (leads_after, refreshed): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE last_discovered_at >= $1) FROM prospects")
            .bind(second_started)
            .fetch_one(&pool)
            .await?;
    if leads_after != new_leads || refreshed != new_leads {
        bail!("rediscovery should update all {new_leads} leads: {leads_after} leads, {refreshed} updated");
    }
    let update_per_second = records as f64 / again.as_secs_f64();
    println!(
        "  rediscovery:     {records} records (all matched and updated, 0 duplicates) in {:.2} s: {update_per_second:.0} records/s",
        again.as_secs_f64()
    );

    let prepare_per_second = prepare_only(&settings, 50_000);
    println!("  prepare only (classify website, dedup keys, qualify): {prepare_per_second:.0} records/s");
    server.abort();
    pool.close().await;
    Ok(DiscoverFigures {
        insert_per_second,
        update_per_second,
        ms_per_page,
        prepare_per_second,
    })
}

/// Claim every territory and run its discover job, one after the other.
async fn discover_all(
    pool: &PgPool,
    enqueuer: &Enqueuer,
    settings: &Settings,
    deps: &prospector_jobs::discover::DiscoverDeps,
    territories: usize,
) -> anyhow::Result<Duration> {
    let config = settings.of::<DiscoverBusinesses>().autopilot_config(
        settings.analytics().time_zone,
        u32::try_from(territories).unwrap_or(u32::MAX),
    );
    let mut tx = pool.begin().await?;
    let run = run_autopilot(&mut tx, enqueuer, &config, "bench", Utc::now()).await?;
    tx.commit().await?;
    if run.claimed.len() != territories {
        bail!(
            "the autopilot claimed {} of {territories} territories ({:?})",
            run.claimed.len(),
            run.skipped
        );
    }
    let ctx = JobContext::new(pool.clone(), enqueuer.clone(), "bench");
    let started = Instant::now();
    for target in &run.claimed {
        let job = DiscoverBusinesses {
            coverage_grid_id: target.id,
            run: target.run_count,
            batch: None,
        };
        job.handle(&ctx, deps)
            .await
            .with_context(|| format!("discovering territory {}", target.city))?;
    }
    Ok(started.elapsed())
}

fn prepare_only(settings: &Settings, n: usize) -> f64 {
    let lu = CountryCode::parse("LU").unwrap_or(settings.import.default_country);
    let businesses: Vec<_> = (0..n)
        .filter_map(|i| {
            let raw = place("9", i);
            BusinessDraft {
                place_id: raw["id"].as_str().map(str::to_owned),
                name: raw["displayName"]["text"].as_str().map(str::to_owned),
                phone: raw["internationalPhoneNumber"].as_str().map(str::to_owned),
                website: raw["websiteUri"].as_str().map(str::to_owned),
                rating: raw["rating"].as_f64(),
                review_count: raw["userRatingCount"].as_i64(),
                lat: Some(49.6),
                lng: Some(6.1),
                ..BusinessDraft::default()
            }
            .check(ProviderKind::GooglePlaces)
            .ok()
        })
        .collect();
    let rules = &settings.of::<DiscoverBusinesses>().qualification;
    let now = Utc::now();
    let started = Instant::now();
    let mut qualified = 0usize;
    for business in businesses {
        if prepare(business, lu, rules, now).qualification.qualified {
            qualified += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    std::hint::black_box(qualified);
    n as f64 / elapsed
}
