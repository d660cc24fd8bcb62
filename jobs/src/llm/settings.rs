//! `[…llm]`: which provider and model write the copy, how long we wait, what
//! it costs and how much a day may be spent.
//!
//! The API key is never in a file: `api_key_env` names the environment
//! variable that holds it, and [`LlmSettings::api_key`] reads it from the
//! environment the configuration saw.

use std::{collections::HashMap, fmt, time::Duration};

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::{retry::RetryPolicy, stage::InvalidSetting};

/// Which wire format the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmProvider {
    /// Anthropic Messages API (`POST /v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`POST /v1/chat/completions`), or any
    /// server that speaks it.
    Openai,
}

impl LlmProvider {
    /// The stable name, as in the configuration and `api_usage.provider`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LlmProvider::Anthropic => "anthropic",
            LlmProvider::Openai => "openai",
        }
    }

    /// The provider's public API root, used when `base_url` is not set.
    pub fn default_base_url(self) -> Url {
        let url = match self {
            LlmProvider::Anthropic => "https://api.anthropic.com",
            LlmProvider::Openai => "https://api.openai.com",
        };
        // Both literals above are valid absolute URLs.
        Url::parse(url).unwrap_or_else(|_| unreachable!("constant URL {url} parses"))
    }

    /// The path of the completion endpoint below the base URL.
    pub const fn endpoint_path(self) -> &'static str {
        match self {
            LlmProvider::Anthropic => "v1/messages",
            LlmProvider::Openai => "v1/chat/completions",
        }
    }
}

impl fmt::Display for LlmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The copywriter's settings. Every key has a default, so a configuration
/// without the section leaves the copywriter off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// Off by default: the deterministic copywriter is used unless this is
    /// turned on and a key is in the environment.
    pub enabled: bool,
    /// Wire format and default base URL.
    pub provider: LlmProvider,
    /// API root (no path); `None` is the provider's public API. Tests and
    /// the demo point it at a local server.
    pub base_url: Option<Url>,
    /// Model name, sent as is.
    pub model: String,
    /// The NAME of the environment variable that holds the API key.
    pub api_key_env: String,
    /// Per HTTP attempt, connection and body included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Retries after the first attempt, on 429, 5xx, 529, timeouts and lost
    /// connections only.
    pub max_retries: u32,
    /// First retry delay; doubles on each retry.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// A wait longer than this (a long `Retry-After`) is not spent in the
    /// call: the error is returned with the delay, for the queue's retry.
    #[serde(with = "humantime_serde")]
    pub retry_max_wait: Duration,
    /// Longest reply, in tokens (`max_tokens`): bounds cost and latency.
    pub max_output_tokens: u32,
    /// Sampling temperature (0 to 1 works for both providers).
    pub temperature: f32,
    /// Cents per million input tokens.
    pub input_price_cents_per_mtok: f64,
    /// Cents per million output tokens.
    pub output_price_cents_per_mtok: f64,
    /// Spend per day after which no call is made (see
    /// [`LlmSettings::budget_allows`]).
    pub daily_budget_cents: f64,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            provider: LlmProvider::Anthropic,
            base_url: None,
            model: String::new(),
            api_key_env: "ANTHROPIC_API_KEY".to_owned(),
            timeout: Duration::from_secs(60),
            max_retries: 2,
            retry_base: Duration::from_secs(1),
            retry_max_wait: Duration::from_secs(30),
            max_output_tokens: 2_000,
            temperature: 0.4,
            input_price_cents_per_mtok: 0.0,
            output_price_cents_per_mtok: 0.0,
            daily_budget_cents: 0.0,
        }
    }
}

/// Pricing of one model, in cents per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// Cents per million input tokens.
    pub input_cents_per_mtok: f64,
    /// Cents per million output tokens.
    pub output_cents_per_mtok: f64,
}

impl Prices {
    /// What a call that used these tokens costs, in cents.
    pub fn cost_cents(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_cents_per_mtok + output_tokens as f64 * self.output_cents_per_mtok)
            / 1_000_000.0
    }
}

impl LlmSettings {
    /// Check what the types cannot. Keys in errors are relative to the
    /// section (`timeout`, `api_key_env`). A disabled copywriter is checked
    /// too, so a typo is found before someone turns it on.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if let Some(url) = &self.base_url {
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(InvalidSetting::new(
                    "base_url",
                    "must be an http(s) URL with a host",
                ));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(InvalidSetting::new(
                    "base_url",
                    "must not have a query or fragment",
                ));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(InvalidSetting::new(
                    "base_url",
                    "must not carry credentials (the key comes from api_key_env)",
                ));
            }
        }
        if self.enabled && self.model.trim().is_empty() {
            return Err(InvalidSetting::new("model", "must be set when enabled"));
        }
        if self.model.chars().any(char::is_control) {
            return Err(InvalidSetting::new(
                "model",
                "must not contain control characters",
            ));
        }
        let name = self.api_key_env.as_str();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(InvalidSetting::new(
                "api_key_env",
                "must be the name of an environment variable (letters, digits, `_`), not the key",
            ));
        }
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(InvalidSetting::new("api_key_env", "must not start with a digit"));
        }
        for (key, value) in [
            ("timeout", self.timeout),
            ("retry_base", self.retry_base),
            ("retry_max_wait", self.retry_max_wait),
        ] {
            if value.is_zero() {
                return Err(InvalidSetting::new(key, "must be longer than zero"));
            }
        }
        if self.max_retries > 10 {
            return Err(InvalidSetting::new("max_retries", "must be 10 or fewer"));
        }
        if !(1..=64_000).contains(&self.max_output_tokens) {
            return Err(InvalidSetting::new(
                "max_output_tokens",
                "must be between 1 and 64000",
            ));
        }
        if !self.temperature.is_finite() || !(0.0..=1.0).contains(&self.temperature) {
            return Err(InvalidSetting::new("temperature", "must be between 0 and 1"));
        }
        for (key, value) in [
            ("input_price_cents_per_mtok", self.input_price_cents_per_mtok),
            ("output_price_cents_per_mtok", self.output_price_cents_per_mtok),
            ("daily_budget_cents", self.daily_budget_cents),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(InvalidSetting::new(key, "must be a number of cents, 0 or more"));
            }
        }
        Ok(())
    }

    /// The API key from `env` (the environment the configuration saw).
    /// The error names the variable, never a value.
    pub fn api_key(&self, env: &HashMap<String, String>) -> Result<SecretString, InvalidSetting> {
        let key = env
            .get(&self.api_key_env)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                InvalidSetting::variable(&self.api_key_env, "is not set (it holds the LLM API key)")
            })?;
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidSetting::variable(
                &self.api_key_env,
                "must be printable ASCII without spaces (it is sent in an HTTP header)",
            ));
        }
        Ok(SecretString::from(key.to_owned()))
    }

    /// The API root the client calls.
    pub fn effective_base_url(&self) -> Url {
        self.base_url
            .clone()
            .unwrap_or_else(|| self.provider.default_base_url())
    }

    /// How a call is retried in place (`max_retries`, `retry_base`,
    /// `retry_max_wait`).
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.max_retries,
            base_delay: self.retry_base,
            max_wait: self.retry_max_wait,
        }
    }

    /// The configured prices.
    pub fn prices(&self) -> Prices {
        Prices {
            input_cents_per_mtok: self.input_price_cents_per_mtok,
            output_cents_per_mtok: self.output_price_cents_per_mtok,
        }
    }

    /// The most one call with a prompt of `prompt_chars` characters can
    /// cost: input counted as one token per 2 characters (more than any
    /// tokenizer produces for fr/de/en text) and a full `max_tokens` reply.
    pub fn worst_case_cost_cents(&self, prompt_chars: usize) -> f64 {
        let input_tokens = (prompt_chars as u64).div_ceil(2);
        self.prices()
            .cost_cents(input_tokens, u64::from(self.max_output_tokens))
    }

    /// Whether a call with a prompt of `prompt_chars` characters fits in
    /// today's budget, given what was already spent today (the caller sums
    /// `api_usage.cost_cents` for this provider since local midnight).
    pub fn budget_allows(&self, spent_today_cents: f64, prompt_chars: usize) -> bool {
        spent_today_cents + self.worst_case_cost_cents(prompt_chars) <= self.daily_budget_cents
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn enabled() -> LlmSettings {
        LlmSettings {
            enabled: true,
            model: "claude-test".into(),
            ..LlmSettings::default()
        }
    }

    #[test]
    fn a_missing_section_means_the_copywriter_is_off_and_valid() {
        let settings: LlmSettings = toml_like("{}");
        assert!(!settings.enabled);
        assert_eq!(settings.validate(), Ok(()));
        assert_eq!(
            settings.effective_base_url().as_str(),
            "https://api.anthropic.com/"
        );
    }

    #[test]
    fn durations_are_read_as_written_and_unknown_keys_are_refused() {
        let settings: LlmSettings = toml_like(
            r#"{"enabled": true, "provider": "openai", "model": "gpt-test", "timeout": "45s",
                "retry_base": "250ms", "api_key_env": "OPENAI_API_KEY"}"#,
        );
        assert_eq!(settings.timeout, Duration::from_secs(45));
        assert_eq!(settings.retry_base, Duration::from_millis(250));
        assert_eq!(settings.effective_base_url().as_str(), "https://api.openai.com/");
        let err = serde_json::from_str::<LlmSettings>(r#"{"api_key": "sk-123"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `api_key`"), "{err}");
    }

    #[test]
    fn each_bad_value_is_named_by_its_key() {
        let cases: Vec<(&str, LlmSettings)> = vec![
            (
                "model",
                LlmSettings {
                    model: " ".into(),
                    ..enabled()
                },
            ),
            (
                "api_key_env",
                LlmSettings {
                    api_key_env: "sk-ant-abc".into(),
                    ..enabled()
                },
            ),
            (
                "api_key_env",
                LlmSettings {
                    api_key_env: "1KEY".into(),
                    ..enabled()
                },
            ),
            (
                "timeout",
                LlmSettings {
                    timeout: Duration::ZERO,
                    ..enabled()
                },
            ),
            (
                "max_retries",
                LlmSettings {
                    max_retries: 11,
                    ..enabled()
                },
            ),
            (
                "max_output_tokens",
                LlmSettings {
                    max_output_tokens: 0,
                    ..enabled()
                },
            ),
            (
                "temperature",
                LlmSettings {
                    temperature: 1.5,
                    ..enabled()
                },
            ),
            (
                "temperature",
                LlmSettings {
                    temperature: f32::NAN,
                    ..enabled()
                },
            ),
            (
                "daily_budget_cents",
                LlmSettings {
                    daily_budget_cents: -1.0,
                    ..enabled()
                },
            ),
            (
                "input_price_cents_per_mtok",
                LlmSettings {
                    input_price_cents_per_mtok: f64::INFINITY,
                    ..enabled()
                },
            ),
            (
                "base_url",
                LlmSettings {
                    base_url: Url::parse("ftp://x.test").ok(),
                    ..enabled()
                },
            ),
            (
                "base_url",
                LlmSettings {
                    base_url: Url::parse("https://u:p@x.test").ok(),
                    ..enabled()
                },
            ),
        ];
        for (key, settings) in cases {
            let err = settings.validate().expect_err(key);
            assert_eq!(err.key, key, "{err}");
        }
        assert_eq!(enabled().validate(), Ok(()));
    }

    #[test]
    fn the_key_comes_from_the_named_variable_and_errors_name_only_the_variable() {
        let settings = enabled();
        let mut env = HashMap::new();
        let err = settings.api_key(&env).unwrap_err();
        assert_eq!(err.key, "ANTHROPIC_API_KEY");
        env.insert("ANTHROPIC_API_KEY".to_owned(), "bad key\n".to_owned());
        let err = settings.api_key(&env).unwrap_err();
        assert!(!err.to_string().contains("bad key"), "{err}");
        env.insert("ANTHROPIC_API_KEY".to_owned(), " sk-ant-123 ".to_owned());
        assert_eq!(settings.api_key(&env).unwrap().expose_secret(), "sk-ant-123");
    }

    #[test]
    fn cost_and_budget_follow_the_prices() {
        let settings = LlmSettings {
            input_price_cents_per_mtok: 300.0,
            output_price_cents_per_mtok: 1_500.0,
            max_output_tokens: 1_000,
            daily_budget_cents: 10.0,
            ..enabled()
        };
        let prices = settings.prices();
        assert!((prices.cost_cents(1_000_000, 0) - 300.0).abs() < 1e-9);
        assert!((prices.cost_cents(2_000, 500) - (0.6 + 0.75)).abs() < 1e-9);
        // 4000 chars → at most 2000 input tokens (0.6 ¢) + 1000 output (1.5 ¢).
        assert!((settings.worst_case_cost_cents(4_000) - 2.1).abs() < 1e-9);
        assert!(settings.budget_allows(7.5, 4_000));
        assert!(!settings.budget_allows(8.0, 4_000));
    }

    fn toml_like(json: &str) -> LlmSettings {
        serde_json::from_str(json).unwrap()
    }
}
