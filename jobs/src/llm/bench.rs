//! Figures for the copywriter, printed by the integrator's benchmark
//! command: the cost of accepting a reply (JSON, schema, safety rules) and
//! of a whole `write_copy` round trip against the local server (loopback
//! HTTP, both wire formats; the provider's own latency is not included).

use std::{
    fmt,
    time::{Duration, Instant},
};

use secrecy::SecretString;

use super::{
    client::LlmClient,
    copy::{check_reply, write_copy},
    local_server::{LocalLlmServer, Reply, sample_request, valid_copy},
    prompt::Language,
    settings::{LlmProvider, LlmSettings},
};

/// Mean time per operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchFigures {
    /// Operations timed per figure.
    pub iterations: u32,
    /// `check_reply` on good copy (every rule runs).
    pub accept: Duration,
    /// `check_reply` on copy the schema rejects.
    pub reject_schema: Duration,
    /// `check_reply` on copy a safety rule rejects.
    pub reject_unsafe: Duration,
    /// `write_copy` against the local server, Anthropic format.
    pub round_trip_anthropic: Duration,
    /// `write_copy` against the local server, OpenAI format.
    pub round_trip_openai: Duration,
}

impl fmt::Display for BenchFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        writeln!(
            f,
            "llm copy checks ({} iterations, mean per call):",
            self.iterations
        )?;
        writeln!(f, "  accept good copy          {:>9.1} µs", us(self.accept))?;
        writeln!(
            f,
            "  reject (schema)           {:>9.1} µs",
            us(self.reject_schema)
        )?;
        writeln!(
            f,
            "  reject (safety rule)      {:>9.1} µs",
            us(self.reject_unsafe)
        )?;
        writeln!(
            f,
            "  write_copy, anthropic     {:>9.1} µs",
            us(self.round_trip_anthropic)
        )?;
        write!(
            f,
            "  write_copy, openai        {:>9.1} µs",
            us(self.round_trip_openai)
        )
    }
}

/// Run each measurement `iterations` times (at least once). Needs a tokio
/// runtime and rustls's process-wide crypto provider (for the HTTP client).
pub async fn run(iterations: u32) -> Result<BenchFigures, Box<dyn std::error::Error + Send + Sync>> {
    let n = iterations.max(1);
    let request = sample_request(Language::En);
    let good = valid_copy(Language::En).to_string();
    let schema_bad = match Reply::schema_violation() {
        Reply::Text { text, .. } => text,
        _ => String::new(),
    };
    let unsafe_copy = match Reply::unsafe_url() {
        Reply::Text { text, .. } => text,
        _ => String::new(),
    };
    let time = |text: &str| {
        let started = Instant::now();
        for _ in 0..n {
            std::hint::black_box(check_reply(text, &request.facts, Language::En).is_ok());
        }
        started.elapsed() / n
    };
    if check_reply(&good, &request.facts, Language::En).is_err() {
        return Err("the sample copy does not pass the checks".into());
    }
    let accept = time(&good);
    let reject_schema = time(&schema_bad);
    let reject_unsafe = time(&unsafe_copy);

    let server = LocalLlmServer::start("bench-key").await?;
    let mut round_trips = Vec::new();
    for provider in [LlmProvider::Anthropic, LlmProvider::Openai] {
        let settings = LlmSettings {
            enabled: true,
            provider,
            base_url: Some(server.base_url()),
            model: "bench-model".into(),
            max_retries: 0,
            ..LlmSettings::default()
        };
        let client = LlmClient::new(&settings, SecretString::from("bench-key"))?;
        write_copy(&client, &request).await?;
        let started = Instant::now();
        for _ in 0..n {
            write_copy(&client, &request).await?;
        }
        round_trips.push(started.elapsed() / n);
    }
    Ok(BenchFigures {
        iterations: n,
        accept,
        reject_schema,
        reject_unsafe,
        round_trip_anthropic: round_trips[0],
        round_trip_openai: round_trips[1],
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_benchmark_measures_every_figure() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let figures = super::run(2).await.unwrap();
        assert_eq!(figures.iterations, 2);
        for d in [
            figures.accept,
            figures.reject_schema,
            figures.reject_unsafe,
            figures.round_trip_anthropic,
            figures.round_trip_openai,
        ] {
            assert!(d > std::time::Duration::ZERO);
        }
        assert!(figures.to_string().contains("write_copy, openai"));
    }
}
