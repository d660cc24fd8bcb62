//! A run over a territory: page after page from where the last stored page
//! left off, each paid call reserved against the day's budget and entered in
//! the `api_usage` ledger ([`usage`]).

use std::{future::Future, time::Duration};

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{
    DiscoverBusinesses, DiscoverDeps, DiscoverError, ProviderClient, RunReport,
    providers::{
        Page, ProviderError,
        google_places::{GooglePlacesClient, TextSearch},
        outscraper::{MapsSearch, OutscraperClient, Submitted},
    },
    queries::{self, Progress, Target},
    store,
    usage::{self, Outcome, PendingRequest, Reservation, Settlement},
};
use crate::{
    domain::CountryCode,
    retry::{RetryPolicy, retrying},
    runtime::JobContext,
    scan_jobs,
};

/// Where the page after this one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Next {
    /// Places: the token of the next page.
    Token(String),
    /// Outscraper: the `skip` of the next page.
    Offset(i32),
    /// No more pages.
    End,
}

/// A fetched page and where the next starts.
pub(super) struct Fetched {
    pub(super) page: Page,
    pub(super) next: Next,
    /// The async request the page came from: its ledger row is settled
    /// (results counted) with the page.
    pub(super) request_id: Option<String>,
}

pub(super) async fn run(
    job: &DiscoverBusinesses,
    ctx: &JobContext,
    deps: &DiscoverDeps,
) -> Result<RunReport, DiscoverError> {
    let mut report = RunReport::default();
    let id = job.coverage_grid_id;
    let mut target = queries::get_target(&ctx.pool, id)
        .await?
        .ok_or(DiscoverError::TargetMissing(id))?;
    if target.status != "in_progress" || target.run_count != job.run {
        tracing::info!(status = %target.status, current_run = target.run_count, "the territory is no longer claimed by this run; nothing to do");
        report.stale = true;
        return Ok(report);
    }
    let provider = deps.provider.kind.as_str();
    let client = deps.provider.client.as_ref().ok_or(DiscoverError::NoApiKey {
        provider,
        env: deps.provider.key_env(),
    })?;
    if target.provider.as_deref() != Some(provider) {
        queries::reset_pagination(&ctx.pool, id, job.run, provider).await?;
        target = queries::get_target(&ctx.pool, id)
            .await?
            .ok_or(DiscoverError::TargetMissing(id))?;
    }
    let country = CountryCode::parse(&target.country).unwrap_or(deps.default_country);
    let query = deps
        .search
        .query(&target.industry, &target.city, &target.state, &target.country);

    while !target.exhausted && target.results_fetched < deps.search.max_results as i32 {
        let fetched = match client {
            ProviderClient::GooglePlaces(places) => {
                fetch_places(ctx, deps, places, &target, &query, country).await?
            }
            ProviderClient::Outscraper(outscraper) => {
                fetch_outscraper(ctx, deps, outscraper, &target, &query, country).await?
            }
        };
        let stored = store::store_page(ctx, deps, job, &target, country, fetched).await?;
        report.pages += 1;
        report.new_leads += stored.new_leads;
        report.updated_leads += stored.updated_leads;
        report.rejected += stored.rejected;
        report.tech_scans += stored.tech_scans;
        report.build_site += stored.build_site;
        apply(&mut target, &stored.progress);
    }

    let mut tx = ctx.pool.begin().await?;
    let completed = queries::complete_target(&mut *tx, id, job.run, deps.cooldown.as_secs_f64()).await?;
    if let (Some(item), Some(_)) = (&job.batch, completed) {
        scan_jobs::record_item(&mut *tx, item, "discover", &scan_jobs::ItemOutcome::Processed).await?;
        scan_jobs::record_stage(&mut *tx, item, "discover", &scan_jobs::StageOutcome::Done).await?;
    }
    tx.commit().await?;
    if let Some(done) = completed {
        tracing::info!(
            lead_count = done.lead_count,
            qualified_count = done.qualified_count,
            results = done.results_fetched,
            rejected = done.rejected_count,
            pages = done.pages_fetched,
            "territory completed; cooling down"
        );
    } else {
        report.stale = true;
    }
    Ok(report)
}

fn apply(target: &mut Target, progress: &Progress) {
    target.next_offset = progress.next_offset;
    target.next_page_token = progress.next_page_token.clone();
    target.exhausted = progress.exhausted;
    target.pending_request_id = None;
    target.pages_fetched += 1;
    target.results_fetched += progress.results;
}

/// What a metered call is.
struct Meter<'a> {
    ctx: &'a JobContext,
    deps: &'a DiscoverDeps,
    operation: &'static str,
    /// Records per page (a call's worst case is a full page).
    page_size: u32,
    /// `grid:{id}:run:{run}:page:{page}`.
    call_key: String,
}

/// How an answer is entered.
struct Answered {
    outcome: Outcome,
    results: usize,
    pending: Option<usage::PendingRequest>,
}

/// Send a billed request with the client's in-call retries, each attempt
/// metered: its worst case reserved against the day's budget under the
/// provider's lock before it is sent (a spent budget stops with a wait),
/// and its row settled to its outcome and cost after — including timeouts
/// and 5xx, which a retry then pays again.
async fn metered<T, F, Fut>(
    meter: &Meter<'_>,
    policy: &RetryPolicy,
    call: F,
    answered: impl Fn(&T) -> Answered,
) -> Result<T, DiscoverError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let (call, answered) = (&call, &answered);
    let mut tries = 0u32;
    retrying(policy, meter.deps.provider.kind.as_str(), move || {
        tries += 1;
        let attempt = tries;
        async move {
            let id = reserve(meter, attempt).await?;
            let result = call().await;
            // No await between the answer and handing its entry to a task
            // of its own: a job stopped now (stage timeout, shutdown) still
            // enters what it paid for, and an accepted async request's id.
            let pricing = &meter.deps.pricing;
            let settlement = match &result {
                Ok(value) => {
                    let a = answered(value);
                    Settlement {
                        id,
                        outcome: Some(a.outcome),
                        results: a.results,
                        cost_cents: a.outcome.cost_cents(pricing, meter.page_size, a.results),
                        pending: a.pending,
                    }
                }
                Err(error) => {
                    let outcome = Outcome::of_error(error);
                    Settlement {
                        id,
                        outcome,
                        results: 0,
                        cost_cents: outcome.map_or(0.0, |o| o.cost_cents(pricing, meter.page_size, 0)),
                        pending: None,
                    }
                }
            };
            let provider = meter.deps.provider.kind.as_str();
            let outcome = settlement.outcome.map_or("not_billed", Outcome::as_str);
            metrics::counter!(super::PAID_CALLS_TOTAL, "provider" => provider, "outcome" => outcome)
                .increment(1);
            tracing::debug!(
                attempt,
                outcome,
                cost_cents = settlement.cost_cents,
                call = %meter.call_key,
                "provider call entered"
            );
            let pool = meter.ctx.pool.clone();
            tokio::spawn(async move { usage::settle(&pool, &settlement).await }).await??;
            result.map_err(DiscoverError::from)
        }
    })
    .await
}

/// Reserve an attempt's worst case, or stop with a wait until the budget's
/// next day when it would take today's spend past the budget.
async fn reserve(meter: &Meter<'_>, attempt: u32) -> Result<i64, DiscoverError> {
    let deps = meter.deps;
    let pricing = &deps.pricing;
    let provider = deps.provider.kind.as_str();
    let now = Utc::now();
    let reservation = usage::reserve(
        &meter.ctx.pool,
        &usage::Attempt {
            provider,
            operation: meter.operation,
            attempt,
            call_key: &meter.call_key,
            worst_case_cents: usage::worst_case_cents(pricing, meter.page_size),
            budget_cents: pricing.daily_budget_cents,
            day_start: local_midnight(now, deps.time_zone, 0),
        },
    )
    .await?;
    match reservation {
        Reservation::Granted(id) => Ok(id),
        Reservation::Refused { spent_cents } => {
            metrics::counter!(super::BUDGET_WAITS_TOTAL, "provider" => provider).increment(1);
            let until = local_midnight(now, deps.time_zone, 1);
            let wait = (until - now).to_std().unwrap_or(Duration::from_secs(60));
            Err(DiscoverError::BudgetSpent {
                provider,
                spent_cents,
                budget_cents: pricing.daily_budget_cents,
                until,
                wait,
            })
        }
    }
}

fn call_key(target: &Target) -> String {
    format!(
        "grid:{}:run:{}:page:{}",
        target.id,
        target.run_count,
        target.pages_fetched.saturating_add(1)
    )
}

/// Midnight `days_ahead` days after the local day of `now`, in UTC.
pub(super) fn local_midnight(now: DateTime<Utc>, tz: Tz, days_ahead: u64) -> DateTime<Utc> {
    let day = now.with_timezone(&tz).date_naive() + Days::new(days_ahead);
    let midnight = day.and_time(NaiveTime::MIN);
    // A zone whose clocks skip midnight: the first instant of that day.
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or(now, |t| t.with_timezone(&Utc))
}

async fn fetch_places(
    ctx: &JobContext,
    deps: &DiscoverDeps,
    client: &GooglePlacesClient,
    target: &Target,
    query: &str,
    country: CountryCode,
) -> Result<Fetched, DiscoverError> {
    let page_size = deps.search.page_size.clamp(1, 20);
    let search = TextSearch {
        text_query: query.to_owned(),
        page_size,
        language: deps.search.language.clone(),
        region: Some(country.as_str().to_owned()),
        location_bias: None,
    };
    let meter = Meter {
        ctx,
        deps,
        operation: "places:searchText",
        page_size,
        call_key: call_key(target),
    };
    // Google bills a request that answers 200, even one we cannot read.
    let fetched = metered(
        &meter,
        client.retry_policy(),
        || client.search_text_once(&search, target.next_page_token.as_deref()),
        |page| Answered {
            outcome: Outcome::Ok,
            results: page.page.results,
            pending: None,
        },
    )
    .await?;
    tracing::debug!(results = fetched.page.results, "places page fetched");
    let results = fetched.page.results;
    // An empty page ends the run even if it carries a token: a provider
    // that keeps sending empty pages must not keep a job paying forever.
    let next = match fetched.next_page_token {
        Some(token) if results > 0 => Next::Token(token),
        _ => Next::End,
    };
    Ok(Fetched {
        next,
        page: fetched.page,
        request_id: None,
    })
}

async fn fetch_outscraper(
    ctx: &JobContext,
    deps: &DiscoverDeps,
    client: &OutscraperClient,
    target: &Target,
    query: &str,
    country: CountryCode,
) -> Result<Fetched, DiscoverError> {
    let limit = deps.search.page_size.max(1);
    let (page, request_id) = match &target.pending_request_id {
        Some(request_id) => {
            tracing::info!("resuming a submitted outscraper request");
            let page = client
                .wait(request_id, deps.search.poll_interval, deps.search.max_poll_wait)
                .await?;
            (page, Some(request_id.clone()))
        }
        None => {
            let search = MapsSearch {
                query: query.to_owned(),
                limit,
                skip: u32::try_from(target.next_offset).unwrap_or(0),
                language: deps.search.language.clone(),
                region: Some(country.as_str().to_owned()),
                asynchronous: deps.search.outscraper_async,
            };
            let meter = Meter {
                ctx,
                deps,
                operation: "maps/search-v3",
                page_size: limit,
                call_key: call_key(target),
            };
            // The submit is billed; an accepted async request's id is
            // stored with its ledger row, in one transaction.
            let submitted = metered(
                &meter,
                client.retry_policy(),
                || client.submit_once(&search),
                |submitted| match submitted {
                    Submitted::Done(page) => Answered {
                        outcome: Outcome::Ok,
                        results: page.results,
                        pending: None,
                    },
                    Submitted::Pending { request_id } => Answered {
                        outcome: Outcome::Submitted,
                        results: 0,
                        pending: Some(PendingRequest {
                            request_id: request_id.clone(),
                            coverage_grid_id: target.id,
                            run: target.run_count,
                        }),
                    },
                },
            )
            .await?;
            match submitted {
                Submitted::Done(page) => (page, None),
                Submitted::Pending { request_id } => {
                    let page = client
                        .wait(&request_id, deps.search.poll_interval, deps.search.max_poll_wait)
                        .await?;
                    (page, Some(request_id))
                }
            }
        }
    };
    let results = page.results;
    let next = if results >= limit as usize {
        Next::Offset(
            target
                .next_offset
                .saturating_add(i32::try_from(results).unwrap_or(i32::MAX)),
        )
    } else {
        Next::End
    };
    Ok(Fetched {
        page,
        next,
        request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_days_start_at_local_midnight() {
        let tz: Tz = "Europe/Luxembourg".parse().unwrap();
        // 23:30 UTC on the 22nd is 00:30 on the 23rd in Luxembourg (winter).
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 23, 30, 0).unwrap();
        assert_eq!(
            local_midnight(now, tz, 0),
            Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0).unwrap()
        );
        assert_eq!(
            local_midnight(now, tz, 1),
            Utc.with_ymd_and_hms(2026, 11, 23, 23, 0, 0).unwrap()
        );
    }
}
