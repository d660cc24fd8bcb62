use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::AdminState;
use crate::{metrics as names, status::StatusReport};

/// `GET /metrics`: this process's counters plus queue gauges read now.
pub async fn render(State(state): State<AdminState>) -> Response {
    let report = tokio::time::timeout(
        Duration::from_secs(3),
        StatusReport::load(&state.pool, &state.settings.queue),
    )
    .await;
    match report {
        Ok(Ok(report)) => {
            metrics::gauge!(names::DATABASE_UP).set(1.0);
            for q in &report.queues {
                for (state_label, value) in [
                    ("pending", q.pending),
                    ("delayed", q.delayed),
                    ("running", q.running),
                    ("retrying", q.retrying),
                    ("dead", q.dead),
                ] {
                    metrics::gauge!(names::QUEUE_JOBS, "queue" => q.queue.clone(), "state" => state_label)
                        .set(value as f64);
                }
                metrics::gauge!(names::QUEUE_LAG_SECONDS, "queue" => q.queue.clone())
                    .set(q.oldest_ready_age_seconds.unwrap_or(0.0));
                metrics::gauge!(names::QUEUE_WORKERS, "queue" => q.queue.clone()).set(q.workers_alive as f64);
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: could not read queue state");
            metrics::gauge!(names::DATABASE_UP).set(0.0);
        }
        Err(_) => {
            tracing::warn!("metrics: queue state query timed out");
            metrics::gauge!(names::DATABASE_UP).set(0.0);
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        names::handle().render(),
    )
        .into_response()
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
