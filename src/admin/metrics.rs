use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::AdminState;
use crate::{metrics as names, status::StatusReport};

/// `GET /metrics`: this process's counters and histograms, then gauges of
/// every queue read from the database for this scrape (so every web process
/// reports the same, current numbers).
pub async fn render(State(state): State<AdminState>) -> Response {
    let report = tokio::time::timeout(
        Duration::from_secs(3),
        StatusReport::load(&state.pool, &state.settings.queue),
    )
    .await;
    let report = match report {
        Ok(Ok(report)) => Some(report),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: could not read queue state");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: queue state query timed out");
            None
        }
    };
    let mut body = names::handle().render();
    body.push_str(&queue_gauges(report.as_ref()));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Queue gauges in the Prometheus text format.
fn queue_gauges(report: Option<&StatusReport>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP {} 1 when the database answered this scrape's queries.",
        names::DATABASE_UP
    );
    let _ = writeln!(out, "# TYPE {} gauge", names::DATABASE_UP);
    let _ = writeln!(out, "{} {}", names::DATABASE_UP, u8::from(report.is_some()));
    let Some(report) = report else {
        return out;
    };
    let _ = writeln!(
        out,
        "# HELP {} Jobs on each queue by state (counts stop at {}).",
        names::QUEUE_JOBS,
        crate::status::COUNT_CAP
    );
    let _ = writeln!(out, "# TYPE {} gauge", names::QUEUE_JOBS);
    for q in &report.queues {
        for (label, value) in [
            ("pending", q.pending),
            ("delayed", q.delayed),
            ("running", q.running),
            ("retrying", q.retrying),
            ("dead", q.dead),
        ] {
            let _ = writeln!(
                out,
                "{}{{queue=\"{}\",state=\"{label}\"}} {value}",
                names::QUEUE_JOBS,
                q.queue
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP {} Age of the oldest job ready to run, by queue.",
        names::QUEUE_LAG_SECONDS
    );
    let _ = writeln!(out, "# TYPE {} gauge", names::QUEUE_LAG_SECONDS);
    for q in &report.queues {
        let _ = writeln!(
            out,
            "{}{{queue=\"{}\"}} {}",
            names::QUEUE_LAG_SECONDS,
            q.queue,
            q.oldest_ready_age_seconds.unwrap_or(0.0)
        );
    }
    let _ = writeln!(
        out,
        "# HELP {} Workers with a recent heartbeat, by queue.",
        names::QUEUE_WORKERS
    );
    let _ = writeln!(out, "# TYPE {} gauge", names::QUEUE_WORKERS);
    for q in &report.queues {
        let _ = writeln!(
            out,
            "{}{{queue=\"{}\"}} {}",
            names::QUEUE_WORKERS,
            q.queue,
            q.workers_alive
        );
    }
    out
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
