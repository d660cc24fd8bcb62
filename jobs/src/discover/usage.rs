//! The ledger of paid provider calls (`api_usage`) and the daily budget.
//!
//! Every HTTP attempt that a provider may bill is one row. Before an
//! attempt, [`reserve`] takes the provider's budget lock, adds today's
//! spend (settled rows and open reservations) and the attempt's worst case,
//! and — if that fits the budget — inserts the row as `reserved` with the
//! worst-case cost, all in one transaction: two jobs can never both spend
//! the last of a budget. After the attempt, [`settle`] gives the row its
//! outcome and real cost, or deletes it when the provider cannot have
//! billed it (a 429, a connection that was never made). A row left
//! `reserved` by a job that died during its call keeps its worst case.

use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{Pricing, providers::ProviderError};
use chrono::{DateTime, Utc};

/// What became of a billed (or possibly billed) attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Sent, no answer yet (or the job died waiting for it).
    Reserved,
    /// A 2xx that was read.
    Ok,
    /// An Outscraper async request was accepted; its results are not read yet.
    Submitted,
    /// A 2xx that could not be used (unreadable, too large, a foreign
    /// results location).
    Malformed,
    /// A refusal other than 429.
    Http4xx,
    /// A server error.
    Http5xx,
    /// Sent, and no answer within the client's timeout.
    Timeout,
    /// Sent, and the connection broke before the answer was read.
    Transport,
}

impl Outcome {
    /// The value of `api_usage.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reserved => "reserved",
            Outcome::Ok => "ok",
            Outcome::Submitted => "submitted",
            Outcome::Malformed => "malformed",
            Outcome::Http4xx => "http_4xx",
            Outcome::Http5xx => "http_5xx",
            Outcome::Timeout => "timeout",
            Outcome::Transport => "transport",
        }
    }

    /// What a failed attempt means for the bill; `None` when the provider
    /// cannot have billed it (a 429, or the request never left: no
    /// connection, a request that could not be built).
    pub fn of_error(error: &ProviderError) -> Option<Outcome> {
        match error {
            ProviderError::RateLimited { .. } => None,
            ProviderError::Unavailable { .. } => Some(Outcome::Http5xx),
            ProviderError::Refused { .. } => Some(Outcome::Http4xx),
            ProviderError::Transport { source, .. } => {
                if source.is_connect() || source.is_builder() {
                    None
                } else if source.is_timeout() {
                    Some(Outcome::Timeout)
                } else {
                    Some(Outcome::Transport)
                }
            }
            ProviderError::Malformed { .. } | ProviderError::ForeignLocation { .. } => {
                Some(Outcome::Malformed)
            }
            // Poll errors: polling is free and never metered.
            ProviderError::RequestFailed { .. } | ProviderError::StillPending { .. } => {
                Some(Outcome::Malformed)
            }
        }
    }

    /// What the row costs: a read answer its request price and its
    /// results' prices; a refusal or server error (no results) the request
    /// price; anything whose results we could not count — sent without an
    /// answer, unreadable, submitted and not read yet — the worst case of
    /// a full page (`page_size` results).
    pub fn cost_cents(self, pricing: &Pricing, page_size: u32, results: usize) -> f64 {
        match self {
            Outcome::Ok => pricing.per_request_cents + pricing.per_result_cents * results as f64,
            Outcome::Http4xx | Outcome::Http5xx => pricing.per_request_cents,
            Outcome::Reserved
            | Outcome::Submitted
            | Outcome::Malformed
            | Outcome::Timeout
            | Outcome::Transport => worst_case_cents(pricing, page_size),
        }
    }
}

/// The most one call can cost: its request price and a full page of
/// result prices.
pub fn worst_case_cents(pricing: &Pricing, page_size: u32) -> f64 {
    pricing.per_request_cents + pricing.per_result_cents * f64::from(page_size)
}

/// An attempt about to be sent.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// `api_usage.provider`.
    pub provider: &'a str,
    /// `api_usage.operation`.
    pub operation: &'a str,
    /// The try within this job run (1 = first).
    pub attempt: u32,
    /// What the call is for (`grid:{id}:run:{run}:page:{page}`).
    pub call_key: &'a str,
    /// Its worst-case cost, reserved until it is settled.
    pub worst_case_cents: f64,
    /// The provider's daily budget.
    pub budget_cents: f64,
    /// Start of the budget's day.
    pub day_start: DateTime<Utc>,
}

/// The answer of [`reserve`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reservation {
    /// The row reserved (`api_usage.id`).
    Granted(i64),
    /// The attempt does not fit: today's spend, reservations included.
    Refused {
        /// Spent and reserved today.
        spent_cents: f64,
    },
}

/// Reserve an attempt's worst case against today's budget, under the
/// provider's lock (a transaction-scoped advisory lock: whoever reserves
/// next sees this row).
pub async fn reserve(pool: &PgPool, attempt: &Attempt<'_>) -> Result<Reservation, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('api_budget:' || $1))")
        .bind(attempt.provider)
        .execute(&mut *tx)
        .await?;
    let spent: f64 = sqlx::query_scalar(
        "SELECT coalesce(sum(cost_cents), 0)::float8 FROM api_usage WHERE provider = $1 AND occurred_at >= $2",
    )
    .bind(attempt.provider)
    .bind(attempt.day_start)
    .fetch_one(&mut *tx)
    .await?;
    if spent + attempt.worst_case_cents > attempt.budget_cents {
        tx.rollback().await?;
        return Ok(Reservation::Refused { spent_cents: spent });
    }
    let id: i64 = sqlx::query_scalar(
        r#"
        INSERT INTO api_usage (provider, operation, requests, results, cost_cents, outcome, attempt, call_key)
        VALUES ($1, $2, 1, 0, $3::float8, 'reserved', $4, $5)
        RETURNING id
        "#,
    )
    .bind(attempt.provider)
    .bind(attempt.operation)
    .bind(attempt.worst_case_cents)
    .bind(i32::try_from(attempt.attempt).unwrap_or(i32::MAX))
    .bind(attempt.call_key)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Reservation::Granted(id))
}

/// How a reserved row ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The row.
    pub id: i64,
    /// `None`: not billed, the row goes.
    pub outcome: Option<Outcome>,
    /// Records returned.
    pub results: usize,
    /// Its cost.
    pub cost_cents: f64,
    /// An accepted async request: its id, stored on the row and — in the
    /// same transaction — as the territory's pending request, so a retried
    /// job polls it instead of submitting again.
    pub pending: Option<PendingRequest>,
}

/// An async request to remember on its territory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    /// The provider's id.
    pub request_id: String,
    /// The territory.
    pub coverage_grid_id: Uuid,
    /// Its run.
    pub run: i32,
}

/// Give a reserved row its outcome and cost (one transaction).
pub async fn settle(pool: &PgPool, settlement: &Settlement) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    match settlement.outcome {
        None => {
            sqlx::query("DELETE FROM api_usage WHERE id = $1")
                .bind(settlement.id)
                .execute(&mut *tx)
                .await?;
        }
        Some(outcome) => {
            sqlx::query(
                r#"
                UPDATE api_usage
                SET outcome = $2, results = $3, cost_cents = $4::float8, request_id = $5
                WHERE id = $1
                "#,
            )
            .bind(settlement.id)
            .bind(outcome.as_str())
            .bind(i32::try_from(settlement.results).unwrap_or(i32::MAX))
            .bind(settlement.cost_cents)
            .bind(settlement.pending.as_ref().map(|p| p.request_id.as_str()))
            .execute(&mut *tx)
            .await?;
        }
    }
    if let Some(pending) = &settlement.pending {
        sqlx::query("UPDATE coverage_grid SET pending_request_id = $3 WHERE id = $1 AND run_count = $2")
            .bind(pending.coverage_grid_id)
            .bind(pending.run)
            .bind(&pending.request_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// Settle a submitted async request once its results are read (in the
/// page's transaction). A request with no submitted row (entered before
/// this ledger had request ids) gets a row for its results alone.
pub async fn settle_request(
    conn: &mut sqlx::PgConnection,
    provider: &str,
    request_id: &str,
    pricing: &Pricing,
    results: usize,
) -> Result<(), sqlx::Error> {
    let cost = Outcome::Ok.cost_cents(pricing, 0, results);
    let settled = sqlx::query(
        r#"
        UPDATE api_usage
        SET outcome = 'ok', results = $3, cost_cents = $4::float8
        WHERE provider = $1 AND request_id = $2 AND outcome = 'submitted'
        "#,
    )
    .bind(provider)
    .bind(request_id)
    .bind(i32::try_from(results).unwrap_or(i32::MAX))
    .bind(cost)
    .execute(&mut *conn)
    .await?;
    if settled.rows_affected() == 0 {
        let already: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM api_usage WHERE provider = $1 AND request_id = $2)",
        )
        .bind(provider)
        .bind(request_id)
        .fetch_one(&mut *conn)
        .await?;
        if !already {
            record_results(&mut *conn, provider, request_id, pricing, results).await?;
        }
    }
    Ok(())
}

async fn record_results(
    executor: impl PgExecutor<'_>,
    provider: &str,
    request_id: &str,
    pricing: &Pricing,
    results: usize,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"
        INSERT INTO api_usage (provider, operation, requests, results, cost_cents, outcome, request_id)
        VALUES ($1, 'results', 0, $2, $3::float8, 'ok', $4)
        "#,
    )
    .bind(provider)
    .bind(i32::try_from(results).unwrap_or(i32::MAX))
    .bind(pricing.per_result_cents * results as f64)
    .bind(request_id)
    .execute(executor)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::ProviderKind;

    fn outscraper() -> Pricing {
        Pricing {
            per_request_cents: 0.5,
            per_result_cents: 0.3,
            daily_budget_cents: 100.0,
        }
    }

    #[test]
    fn a_read_answer_costs_its_request_and_results() {
        let p = outscraper();
        assert!((Outcome::Ok.cost_cents(&p, 20, 2) - 1.1).abs() < 1e-9);
        assert!((Outcome::Ok.cost_cents(&p, 20, 0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn refusals_and_server_errors_cost_the_request_price() {
        let p = outscraper();
        assert!((Outcome::Http4xx.cost_cents(&p, 20, 0) - 0.5).abs() < 1e-9);
        assert!((Outcome::Http5xx.cost_cents(&p, 20, 0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn unknown_outcomes_cost_the_worst_case() {
        let p = outscraper();
        for outcome in [
            Outcome::Reserved,
            Outcome::Submitted,
            Outcome::Malformed,
            Outcome::Timeout,
            Outcome::Transport,
        ] {
            assert!((outcome.cost_cents(&p, 20, 0) - 6.5).abs() < 1e-9, "{outcome:?}");
        }
        assert!((worst_case_cents(&p, 20) - 6.5).abs() < 1e-9);
    }

    #[test]
    fn rate_limits_are_not_billed_and_answers_are() {
        let provider = ProviderKind::GooglePlaces;
        let limited = ProviderError::RateLimited {
            provider,
            retry_after: None,
        };
        assert_eq!(Outcome::of_error(&limited), None);
        let down = ProviderError::Unavailable {
            provider,
            status: 503,
            retry_after: None,
        };
        assert_eq!(Outcome::of_error(&down), Some(Outcome::Http5xx));
        let refused = ProviderError::Refused {
            provider,
            status: 403,
            message: "no".into(),
        };
        assert_eq!(Outcome::of_error(&refused), Some(Outcome::Http4xx));
        let malformed = ProviderError::Malformed {
            provider,
            message: "x".into(),
        };
        assert_eq!(Outcome::of_error(&malformed), Some(Outcome::Malformed));
    }

    #[tokio::test]
    async fn a_timeout_after_sending_is_billed_a_refused_connection_is_not() {
        use tokio::io::AsyncReadExt;
        // A server that reads the request and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while socket.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
                });
            }
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(200))
            .build()
            .unwrap();
        let source = http.get(format!("http://{address}/")).send().await.unwrap_err();
        let timeout = ProviderError::Transport {
            provider: ProviderKind::GooglePlaces,
            source,
        };
        assert_eq!(Outcome::of_error(&timeout), Some(Outcome::Timeout));

        // A port nobody listens on: the request never left.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_address = closed.local_addr().unwrap();
        drop(closed);
        let source = http
            .get(format!("http://{closed_address}/"))
            .send()
            .await
            .unwrap_err();
        let refused = ProviderError::Transport {
            provider: ProviderKind::GooglePlaces,
            source,
        };
        assert_eq!(Outcome::of_error(&refused), None);
    }
}
