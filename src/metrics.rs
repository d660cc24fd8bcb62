//! Prometheus metrics: one recorder per process, described once.
//!
//! Names follow Prometheus conventions (`_total` counters, units in names)
//! and labels come from closed sets only (queue names, outcomes, routes):
//! never a prospect id, a URL or a domain.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Job runs by queue and outcome.
pub const JOBS_TOTAL: &str = "prospector_jobs_total";
/// Job run time by queue.
pub const JOB_DURATION_SECONDS: &str = "prospector_job_duration_seconds";
/// Jobs on a queue by state (read from the database at each scrape).
pub const QUEUE_JOBS: &str = "prospector_queue_jobs";
/// Age of the oldest job ready to run, by queue.
pub const QUEUE_LAG_SECONDS: &str = "prospector_queue_lag_seconds";
/// Workers with a recent heartbeat, by queue.
pub const QUEUE_WORKERS: &str = "prospector_queue_workers";
/// Worker restarts in this process, by queue.
pub const WORKER_RESTARTS_TOTAL: &str = "prospector_worker_restarts_total";
/// Schedule slots by schedule and outcome (claimed here / by another process).
pub const SCHEDULE_SLOTS_TOTAL: &str = "prospector_schedule_slots_total";
/// Rows pruned by table.
pub const PRUNED_ROWS_TOTAL: &str = "prospector_pruned_rows_total";
/// Admin HTTP requests by method, route and status.
pub const HTTP_REQUESTS_TOTAL: &str = "prospector_http_requests_total";
/// Admin HTTP latency by method and route.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "prospector_http_request_duration_seconds";
/// 1 when the database answered the last scrape's queries.
pub const DATABASE_UP: &str = "prospector_database_up";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder (installed on first use).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Job durations range from milliseconds (analytics) to minutes
        // (Lighthouse audits); HTTP from sub-millisecond up.
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(JOB_DURATION_SECONDS.to_owned()),
                &[
                    0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
                ],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                    &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
                )
            })
            .map(PrometheusBuilder::install_recorder);
        match handle {
            Ok(Ok(handle)) => {
                describe();
                handle
            }
            Ok(Err(e)) => panic!("cannot install the metrics recorder: {e}"),
            Err(e) => panic!("invalid metric buckets: {e}"),
        }
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(JOBS_TOTAL, "Job runs by queue and outcome.");
    describe_histogram!(
        JOB_DURATION_SECONDS,
        Unit::Seconds,
        "Time one job run took, by queue."
    );
    describe_counter!(
        WORKER_RESTARTS_TOTAL,
        "Worker restarts after a failure, by queue."
    );
    describe_counter!(
        SCHEDULE_SLOTS_TOTAL,
        "Schedule slots seen, by schedule and outcome."
    );
    describe_counter!(PRUNED_ROWS_TOTAL, "Rows deleted by retention pruning, by table.");
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "Admin HTTP requests by method, route and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Admin HTTP request latency by method and route."
    );
    describe_counter!(
        prospector_jobs::discover::RECORDS_TOTAL,
        "Places provider records by provider and outcome (new, updated, refused)."
    );
    describe_counter!(
        prospector_jobs::discover::BUDGET_WAITS_TOTAL,
        "Discover runs deferred because the provider's daily budget was spent."
    );
    describe_counter!(
        prospector_jobs::discover::PAID_CALLS_TOTAL,
        "Paid places provider attempts by provider and outcome (ok, submitted, timeout, http_5xx, not_billed, ...)."
    );
}
