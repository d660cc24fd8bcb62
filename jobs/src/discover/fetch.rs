//! A run over a territory: page after page from where the last stored page
//! left off, each paid call checked against the day's budget and entered in
//! the `api_usage` ledger.

use std::time::Duration;

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
};
use crate::{domain::CountryCode, runtime::JobContext, scan_jobs};

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
    /// Per-result cost not yet in the ledger (entered with the page).
    pub(super) results_cost_cents: f64,
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

/// Stop with a wait when the next call could take today's spend past the
/// budget (its request price plus a full page of result prices).
async fn check_budget(ctx: &JobContext, deps: &DiscoverDeps, page_size: u32) -> Result<(), DiscoverError> {
    let pricing = &deps.pricing;
    let provider = deps.provider.kind.as_str();
    let now = Utc::now();
    let day_start = local_midnight(now, deps.time_zone, 0);
    let spent = queries::spent_since(&ctx.pool, provider, day_start).await?;
    let next_call = pricing.per_request_cents + pricing.per_result_cents * f64::from(page_size);
    if spent + next_call > pricing.daily_budget_cents {
        metrics::counter!(super::BUDGET_WAITS_TOTAL, "provider" => provider).increment(1);
        let until = local_midnight(now, deps.time_zone, 1);
        let wait = (until - now).to_std().unwrap_or(Duration::from_secs(60));
        return Err(DiscoverError::BudgetSpent {
            provider,
            spent_cents: spent,
            budget_cents: pricing.daily_budget_cents,
            until,
            wait,
        });
    }
    Ok(())
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
    check_budget(ctx, deps, page_size).await?;
    let search = TextSearch {
        text_query: query.to_owned(),
        page_size,
        language: deps.search.language.clone(),
        region: Some(country.as_str().to_owned()),
        location_bias: None,
    };
    let result = client
        .search_text(&search, target.next_page_token.as_deref())
        .await;
    // A 2xx answer is billed even when it cannot be read.
    let billed = match &result {
        Ok(page) => Some(page.page.results),
        Err(ProviderError::Malformed { .. }) => Some(0),
        Err(_) => None,
    };
    if let Some(results) = billed {
        queries::record_usage(
            &ctx.pool,
            deps.provider.kind.as_str(),
            "places:searchText",
            1,
            0,
            deps.pricing.per_request_cents,
        )
        .await?;
        tracing::debug!(results, "places page fetched");
    }
    let fetched = result?;
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
        results_cost_cents: deps.pricing.per_result_cents * results as f64,
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
    let page = match &target.pending_request_id {
        Some(request_id) => {
            tracing::info!("resuming a submitted outscraper request");
            client
                .wait(request_id, deps.search.poll_interval, deps.search.max_poll_wait)
                .await?
        }
        None => {
            check_budget(ctx, deps, limit).await?;
            let search = MapsSearch {
                query: query.to_owned(),
                limit,
                skip: u32::try_from(target.next_offset).unwrap_or(0),
                language: deps.search.language.clone(),
                region: Some(country.as_str().to_owned()),
                asynchronous: deps.search.outscraper_async,
            };
            let submitted = client.submit(&search).await;
            if matches!(&submitted, Ok(_) | Err(ProviderError::Malformed { .. })) {
                queries::record_usage(
                    &ctx.pool,
                    deps.provider.kind.as_str(),
                    "maps/search-v3",
                    1,
                    0,
                    deps.pricing.per_request_cents,
                )
                .await?;
            }
            match submitted? {
                Submitted::Done(page) => page,
                Submitted::Pending { request_id } => {
                    queries::set_pending_request(&ctx.pool, target.id, target.run_count, &request_id).await?;
                    client
                        .wait(&request_id, deps.search.poll_interval, deps.search.max_poll_wait)
                        .await?
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
        results_cost_cents: deps.pricing.per_result_cents * results as f64,
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
