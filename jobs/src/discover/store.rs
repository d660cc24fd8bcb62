//! Storing one page: every record upserted, new leads routed, refused
//! records reported, and the cursor of the next page — one transaction.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};

use super::{
    DiscoverBusinesses, DiscoverDeps, DiscoverError,
    fetch::{Fetched, Next},
    prepare::{PreparedLead, Route, prepare},
    providers::RecordProblem,
    qualify::QualificationRules,
    queries::{self, Progress, Target},
    usage,
};
use crate::{
    ScanTech, Stage,
    build_site::BuildSite,
    domain::CountryCode,
    runtime::JobContext,
    scan_jobs::{self, BatchItem, ItemOutcome},
    stage::Branch,
};

/// What storing a page did.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) new_leads: u32,
    pub(super) updated_leads: u32,
    pub(super) rejected: u32,
    pub(super) tech_scans: u32,
    pub(super) build_site: u32,
    pub(super) progress: Progress,
}

pub(super) async fn store_page(
    ctx: &JobContext,
    deps: &DiscoverDeps,
    job: &DiscoverBusinesses,
    target: &Target,
    country: CountryCode,
    fetched: Fetched,
) -> Result<Stored, DiscoverError> {
    let (mut new_leads, mut updated_leads, mut tech_scans, mut build_site) = (0, 0, 0, 0);
    let mut problems: Vec<RecordProblem> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let now = Utc::now();
    let results = fetched.page.results;

    // Leads are stored in the order of their listing keys: two jobs whose
    // pages share businesses then lock those rows in the same order and
    // cannot deadlock (which would fail a job and pay for its page again).
    let mut leads = Vec::new();
    for (index, record) in fetched.page.records.into_iter().enumerate() {
        match record {
            Ok(business) => leads.push((index, prepare(business, country, &deps.rules, now))),
            Err(problem) => problems.push(problem),
        }
    }
    leads.sort_by_cached_key(|(index, lead)| (lead.keys.listing_key().unwrap_or_default(), *index));

    let mut tx = ctx.pool.begin().await?;
    for (index, lead) in leads {
        let listing = lead.keys.listing_key().unwrap_or_default();
        if !seen.insert(listing.clone()) {
            problems.push(RecordProblem {
                index,
                listing_id: Some(lead.business.listing_id().to_owned()),
                reason: format!("repeats {listing} from earlier in the same page"),
            });
            continue;
        }
        // A savepoint per record: a row the database refuses is reported
        // and the rest of the page is kept. A unique violation is another
        // job storing the same business at the same moment: once it has
        // committed, a second try finds its row and updates it.
        let mut tries = 0;
        let stored = loop {
            tries += 1;
            let mut savepoint = tx.begin().await?;
            match store_lead(&mut savepoint, ctx, job, &lead, &deps.rules, now).await {
                Ok(outcome) => {
                    savepoint.commit().await?;
                    break Ok(outcome);
                }
                Err(DiscoverError::Database(e)) if is_unique_violation(&e) && tries < 3 => {
                    savepoint.rollback().await?;
                    tracing::debug!(
                        record.index = index,
                        "a concurrent job stored this business first; trying again"
                    );
                }
                Err(error) => {
                    savepoint.rollback().await?;
                    break Err(error);
                }
            }
        };
        match stored {
            Ok(LeadOutcome::Updated) => updated_leads += 1,
            Ok(LeadOutcome::New(route)) => {
                new_leads += 1;
                match route {
                    Route::TechScan => tech_scans += 1,
                    Route::BuildSite => build_site += 1,
                    Route::Unqualified | Route::Closed => {}
                }
            }
            Err(DiscoverError::Database(e)) if is_record_error(&e) => {
                problems.push(RecordProblem {
                    index,
                    listing_id: Some(lead.business.listing_id().to_owned()),
                    reason: format!("the database refused the record: {}", db_message(&e)),
                });
            }
            Err(e) => return Err(e),
        }
    }

    report_problems(&mut tx, job, target, &problems).await?;
    if let Some(request_id) = &fetched.request_id {
        usage::settle_request(
            &mut tx,
            deps.provider.kind.as_str(),
            request_id,
            &deps.pricing,
            results,
        )
        .await?;
    }
    let (next_offset, next_page_token, exhausted) = match fetched.next {
        Next::Token(token) => (target.next_offset, Some(token), false),
        Next::Offset(offset) => (offset, None, false),
        Next::End => (target.next_offset, None, true),
    };
    let progress = Progress {
        next_offset,
        next_page_token,
        exhausted,
        results: i32::try_from(results).unwrap_or(i32::MAX),
        rejected: i32::try_from(problems.len()).unwrap_or(i32::MAX),
    };
    queries::save_progress(&mut *tx, target.id, target.run_count, &progress).await?;
    tx.commit().await?;
    let provider = deps.provider.kind.as_str();
    for (outcome, n) in [
        ("new", new_leads),
        ("updated", updated_leads),
        ("refused", problems.len() as u32),
    ] {
        metrics::counter!(super::RECORDS_TOTAL, "provider" => provider, "outcome" => outcome)
            .increment(u64::from(n));
    }
    Ok(Stored {
        new_leads,
        updated_leads,
        rejected: u32::try_from(problems.len()).unwrap_or(u32::MAX),
        tech_scans,
        build_site,
        progress,
    })
}

enum LeadOutcome {
    New(Route),
    Updated,
}

async fn store_lead(
    conn: &mut PgConnection,
    ctx: &JobContext,
    job: &DiscoverBusinesses,
    lead: &PreparedLead,
    rules: &QualificationRules,
    now: DateTime<Utc>,
) -> Result<LeadOutcome, DiscoverError> {
    let grid = job.coverage_grid_id;
    if let Some(existing) = queries::find_match(conn, lead).await? {
        let lead = lead.merged_with(existing.email.as_deref(), existing.last_review_at, rules, now);
        queries::update_lead(conn, existing.id, &lead, grid).await?;
        return Ok(LeadOutcome::Updated);
    }
    let routed = matches!(lead.route, Route::TechScan | Route::BuildSite);
    let id = queries::insert_lead(conn, lead, grid, routed).await?;
    if routed {
        let batch = match &job.batch {
            Some(item) => {
                scan_jobs::add_total_items(&mut *conn, item.scan_job_id, 1).await?;
                Some(BatchItem {
                    scan_job_id: item.scan_job_id,
                    item_key: format!("prospect:{id}"),
                    prospect_id: Some(id),
                })
            }
            None => None,
        };
        if lead.route == Route::TechScan {
            let scan = ScanTech::new(id, batch, Branch::Digital.after(Stage::TechScan));
            ctx.enqueuer.enqueue(conn, &scan).await?;
        } else {
            ctx.enqueuer.enqueue(conn, &BuildSite::new(id, batch)).await?;
        }
    }
    Ok(LeadOutcome::New(lead.route))
}

/// Log each refused record (ids and reasons only: no contact data) and, in
/// a batch, list it as a failed item.
async fn report_problems(
    conn: &mut PgConnection,
    job: &DiscoverBusinesses,
    target: &Target,
    problems: &[RecordProblem],
) -> Result<(), DiscoverError> {
    for problem in problems {
        tracing::warn!(
            record.index = problem.index,
            record.id = problem.listing_id.as_deref().unwrap_or("-"),
            reason = %problem.reason,
            "provider record refused"
        );
    }
    let Some(item) = &job.batch else {
        return Ok(());
    };
    if problems.is_empty() {
        return Ok(());
    }
    let items: Vec<(String, Option<i64>, ItemOutcome)> = problems
        .iter()
        .map(|p| {
            let key = format!(
                "grid:{}:run:{}:page:{}:record:{}",
                target.id,
                target.run_count,
                target.pages_fetched + 1,
                p.index
            );
            let reason = match &p.listing_id {
                Some(id) => format!("record {} ({id}): {}", p.index, p.reason),
                None => format!("record {}: {}", p.index, p.reason),
            };
            (key, None, ItemOutcome::Failed(reason))
        })
        .collect();
    scan_jobs::add_total_items(
        &mut *conn,
        item.scan_job_id,
        i32::try_from(items.len()).unwrap_or(i32::MAX),
    )
    .await?;
    scan_jobs::record_items(conn, item.scan_job_id, "discover", &items).await?;
    Ok(())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// A data or check-constraint error is the record's fault.
fn is_record_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22") || c == "23514"))
}

fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.constraint() {
            Some(constraint) => format!("{} ({constraint})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}
