use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};
use std::sync::atomic::{AtomicI64, AtomicU64};

use super::AdminState;
use crate::{metrics as names, status_report::StatusReport};

/// `GET /metrics`: this process's counters and histograms, then gauges of
/// every queue read from the database (so every web process reports the
/// same numbers). The read is cached for `admin.metrics_cache`, so scrapes
/// cannot load the database however often they come.
pub async fn render(State(state): State<AdminState>) -> Response {
    let report = state.status_for_metrics().await;
    let mut body = names::handle().render();
    body.push_str(&queue_gauges(report.as_deref()));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueState {
    queue: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

/// Queue gauges in the Prometheus text format, encoded by `prometheus-client`
/// from a registry made for this scrape.
fn queue_gauges(report: Option<&StatusReport>) -> String {
    let mut registry = Registry::default();
    let up = Gauge::<i64, AtomicI64>::default();
    up.set(i64::from(report.is_some()));
    registry.register(
        names::DATABASE_UP,
        "1 when the database answered this scrape's queries",
        up,
    );
    if let Some(report) = report {
        let jobs = Family::<QueueState, Gauge>::default();
        let lag = Family::<QueueLabel, Gauge<f64, AtomicU64>>::default();
        let workers = Family::<QueueLabel, Gauge>::default();
        for q in &report.queues {
            for (state, value) in [
                ("pending", q.pending),
                ("delayed", q.delayed),
                ("running", q.running),
                ("retrying", q.retrying),
                ("dead", q.dead),
            ] {
                jobs.get_or_create(&QueueState {
                    queue: q.queue.clone(),
                    state,
                })
                .set(value);
            }
            let queue = QueueLabel {
                queue: q.queue.clone(),
            };
            lag.get_or_create(&queue)
                .set(q.oldest_ready_age_seconds.unwrap_or(0.0));
            workers.get_or_create(&queue).set(q.workers_alive);
        }
        registry.register(
            names::QUEUE_JOBS,
            format!(
                "Jobs on each queue by state (counts stop at {})",
                crate::status_report::COUNT_CAP
            ),
            jobs,
        );
        registry.register(
            names::QUEUE_LAG_SECONDS,
            "Age of the oldest job ready to run, by queue",
            lag,
        );
        registry.register(
            names::QUEUE_WORKERS,
            "Workers with a recent heartbeat, by queue",
            workers,
        );
    }
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::warn!(error = %e, "metrics: could not encode the queue gauges");
        return String::new();
    }
    // OpenMetrics ends its exposition with `# EOF`; these lines follow the
    // recorder's Prometheus text, which has no such line.
    match out.strip_suffix("# EOF\n") {
        Some(body) => body.to_owned(),
        None => out,
    }
}

/// Count and time every request by route template (never the raw path).
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(names::HTTP_REQUESTS_TOTAL, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(names::HTTP_REQUEST_DURATION_SECONDS, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
