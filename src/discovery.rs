//! The discover stage's settings (`[discover]`, `[autopilot]`) and how the
//! platform builds the stage's dependencies and the autopilot's
//! configuration from them.
//!
//! API keys are read from the environment only (`GOOGLE_PLACES_API_KEY`,
//! `OUTSCRAPER_API_KEY`): the configuration files have no key for them, so
//! a key written into a file is refused at start-up as an unknown key.

use std::{collections::HashMap, time::Duration};

use chrono_tz::Tz;
use prospector_jobs::discover::{
    ApiKey, AutopilotConfig, DiscoverDeps, Pricing, ProviderClient, ProviderKind, ProviderSetup,
    QualificationRules, RetryPolicy, SearchSettings, providers::google_places, qualify,
};
use serde::Deserialize;
use url::Url;

use crate::config::{ConfigError, Settings};

/// The environment variables holding provider API keys.
pub const API_KEY_VARS: [&str; 2] = [
    prospector_jobs::discover::GOOGLE_PLACES_KEY_ENV,
    prospector_jobs::discover::OUTSCRAPER_KEY_ENV,
];

/// `[discover]`, parsed.
#[derive(Debug, Clone)]
pub struct DiscoverSettings {
    /// The provider used.
    pub provider: ProviderKind,
    /// Query template (`{industry}`, `{city}`, `{state}`, `{country}`).
    pub query: String,
    /// Result language.
    pub language: Option<String>,
    /// Records per page.
    pub page_size: u32,
    /// Records per territory per run.
    pub max_results_per_target: u32,
    /// A completed territory rests this long.
    pub cooldown: Duration,
    /// A failed territory rests this long.
    pub failure_cooldown: Duration,
    /// Per HTTP request.
    pub http_timeout: Duration,
    /// In-job retries of 429/5xx.
    pub retry: RetryPolicy,
    /// Google Places.
    pub google_places: PlacesSettings,
    /// Outscraper.
    pub outscraper: OutscraperSettings,
    /// Qualification thresholds.
    pub qualification: QualificationRules,
    /// `GOOGLE_PLACES_API_KEY`.
    pub google_places_key: Option<ApiKey>,
    /// `OUTSCRAPER_API_KEY`.
    pub outscraper_key: Option<ApiKey>,
}

impl DiscoverSettings {
    /// Whether the selected provider has a key.
    pub fn provider_ready(&self) -> bool {
        match self.provider {
            ProviderKind::GooglePlaces => self.google_places_key.is_some(),
            ProviderKind::Outscraper => self.outscraper_key.is_some(),
        }
    }
}

/// `[discover.google_places]`.
#[derive(Debug, Clone)]
pub struct PlacesSettings {
    /// API root.
    pub base_url: Url,
    /// `X-Goog-FieldMask`.
    pub field_mask: String,
    /// Prices and budget.
    pub pricing: Pricing,
}

/// `[discover.outscraper]`.
#[derive(Debug, Clone)]
pub struct OutscraperSettings {
    /// API root.
    pub base_url: Url,
    /// Prices and budget.
    pub pricing: Pricing,
    /// Submit async requests and poll them.
    pub asynchronous: bool,
    /// Between polls.
    pub poll_interval: Duration,
    /// Stop polling (the job retries later, polling the same request).
    pub max_poll_wait: Duration,
}

/// `[autopilot]`: defaults that the admin API can override at runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutopilotSettings {
    /// On or off.
    pub enabled: bool,
    /// New maps leads per day after which the autopilot stops claiming.
    pub daily_target: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscover {
    provider: String,
    query: String,
    #[serde(default)]
    language: Option<String>,
    page_size: u32,
    max_results_per_target: u32,
    cooldown: String,
    failure_cooldown: String,
    http_timeout: String,
    retries: u32,
    retry_base: String,
    retry_max_wait: String,
    google_places: RawPlaces,
    outscraper: RawOutscraper,
    qualification: RawQualification,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaces {
    base_url: String,
    #[serde(default)]
    field_mask: Option<String>,
    price_per_request_cents: f64,
    price_per_result_cents: f64,
    daily_budget_cents: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutscraper {
    base_url: String,
    price_per_request_cents: f64,
    price_per_result_cents: f64,
    daily_budget_cents: f64,
    #[serde(rename = "async")]
    asynchronous: bool,
    poll_interval: String,
    max_poll_wait: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQualification {
    min_score: i32,
    require_no_website: bool,
    rating_tiers: Vec<f64>,
    review_tiers: Vec<i32>,
    recent_review_days: i64,
    stale_review_days: i64,
    #[serde(default)]
    chain_keywords: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAutopilot {
    enabled: bool,
    daily_target: u32,
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(value.trim()).map_err(|e| {
        invalid(
            key,
            format!("`{value}` is not a duration like \"5s\" or \"10m\" ({e})"),
        )
    })?;
    if d.is_zero() {
        return Err(invalid(key, "must be longer than zero"));
    }
    Ok(d)
}

fn base_url(key: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value.trim()).map_err(|e| invalid(key, format!("`{value}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(key, "must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(key, "must not have a query or fragment"));
    }
    Ok(url)
}

fn pricing(key: &str, per_request: f64, per_result: f64, budget: f64) -> Result<Pricing, ConfigError> {
    for (name, value) in [
        ("price_per_request_cents", per_request),
        ("price_per_result_cents", per_result),
        ("daily_budget_cents", budget),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(invalid(
                &format!("{key}.{name}"),
                "must be a number of cents, 0 or more",
            ));
        }
    }
    Ok(Pricing {
        per_request_cents: per_request,
        per_result_cents: per_result,
        daily_budget_cents: budget,
    })
}

fn key_from(env: &HashMap<String, String>, var: &str) -> Option<ApiKey> {
    env.get(var).and_then(|v| ApiKey::new(v.as_str()))
}

pub(crate) fn parse_discover(
    raw: RawDiscover,
    env: &HashMap<String, String>,
) -> Result<DiscoverSettings, ConfigError> {
    let provider = ProviderKind::parse(&raw.provider).ok_or_else(|| {
        invalid(
            "discover.provider",
            format!(
                "`{}` is neither \"google_places\" nor \"outscraper\"",
                raw.provider
            ),
        )
    })?;
    if raw.query.trim().is_empty() {
        return Err(invalid("discover.query", "must not be empty"));
    }
    if !(1..=100).contains(&raw.page_size) {
        return Err(invalid("discover.page_size", "must be between 1 and 100"));
    }
    if raw.max_results_per_target == 0 {
        return Err(invalid("discover.max_results_per_target", "must be at least 1"));
    }
    if raw.retries > 10 {
        return Err(invalid("discover.retries", "must be 10 or fewer"));
    }
    let q = raw.qualification;
    let rating_tiers: [f64; 3] = q.rating_tiers.try_into().map_err(|_| {
        invalid(
            "discover.qualification.rating_tiers",
            "needs three ratings, highest first",
        )
    })?;
    if !rating_tiers.iter().all(|r| (0.0..=5.0).contains(r)) || !rating_tiers.windows(2).all(|w| w[0] >= w[1])
    {
        return Err(invalid(
            "discover.qualification.rating_tiers",
            "needs three ratings between 0 and 5, highest first",
        ));
    }
    let review_tiers: [i32; 3] = q.review_tiers.try_into().map_err(|_| {
        invalid(
            "discover.qualification.review_tiers",
            "needs three counts, highest first",
        )
    })?;
    if !review_tiers.iter().all(|r| *r >= 0) || !review_tiers.windows(2).all(|w| w[0] >= w[1]) {
        return Err(invalid(
            "discover.qualification.review_tiers",
            "needs three counts of 0 or more, highest first",
        ));
    }
    if !(0..=100).contains(&q.min_score) {
        return Err(invalid(
            "discover.qualification.min_score",
            "must be between 0 and 100",
        ));
    }
    if q.recent_review_days < 0 || q.stale_review_days < q.recent_review_days {
        return Err(invalid(
            "discover.qualification.stale_review_days",
            "must be at least recent_review_days (and both 0 or more)",
        ));
    }
    let field_mask = raw
        .google_places
        .field_mask
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| google_places::DEFAULT_FIELD_MASK.to_owned());
    if !field_mask.split(',').any(|f| f.trim() == "nextPageToken") {
        return Err(invalid(
            "discover.google_places.field_mask",
            "must include nextPageToken, or pagination stops after the first page",
        ));
    }
    Ok(DiscoverSettings {
        provider,
        query: raw.query,
        language: raw.language.filter(|l| !l.trim().is_empty()),
        page_size: raw.page_size,
        max_results_per_target: raw.max_results_per_target,
        cooldown: duration("discover.cooldown", &raw.cooldown)?,
        failure_cooldown: duration("discover.failure_cooldown", &raw.failure_cooldown)?,
        http_timeout: duration("discover.http_timeout", &raw.http_timeout)?,
        retry: RetryPolicy {
            retries: raw.retries,
            base_delay: duration("discover.retry_base", &raw.retry_base)?,
            max_wait: duration("discover.retry_max_wait", &raw.retry_max_wait)?,
        },
        google_places: PlacesSettings {
            base_url: base_url("discover.google_places.base_url", &raw.google_places.base_url)?,
            field_mask,
            pricing: pricing(
                "discover.google_places",
                raw.google_places.price_per_request_cents,
                raw.google_places.price_per_result_cents,
                raw.google_places.daily_budget_cents,
            )?,
        },
        outscraper: OutscraperSettings {
            base_url: base_url("discover.outscraper.base_url", &raw.outscraper.base_url)?,
            pricing: pricing(
                "discover.outscraper",
                raw.outscraper.price_per_request_cents,
                raw.outscraper.price_per_result_cents,
                raw.outscraper.daily_budget_cents,
            )?,
            asynchronous: raw.outscraper.asynchronous,
            poll_interval: duration("discover.outscraper.poll_interval", &raw.outscraper.poll_interval)?,
            max_poll_wait: duration("discover.outscraper.max_poll_wait", &raw.outscraper.max_poll_wait)?,
        },
        qualification: QualificationRules {
            min_score: q.min_score,
            require_no_website: q.require_no_website,
            rating_tiers,
            review_tiers,
            recent_review_days: q.recent_review_days,
            stale_review_days: q.stale_review_days,
            chain_keywords: q
                .chain_keywords
                .map(|k| {
                    k.into_iter()
                        .map(|w| w.trim().to_lowercase())
                        .filter(|w| !w.is_empty())
                        .collect()
                })
                .unwrap_or_else(|| {
                    qualify::DEFAULT_CHAIN_KEYWORDS
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect()
                }),
        },
        google_places_key: key_from(env, API_KEY_VARS[0]),
        outscraper_key: key_from(env, API_KEY_VARS[1]),
    })
}

pub(crate) fn parse_autopilot(raw: RawAutopilot) -> Result<AutopilotSettings, ConfigError> {
    if raw.daily_target > 1_000_000 {
        return Err(invalid("autopilot.daily_target", "must be at most 1000000"));
    }
    Ok(AutopilotSettings {
        enabled: raw.enabled,
        daily_target: raw.daily_target,
    })
}

/// The autopilot's configuration for a schedule claiming `targets_per_run`.
pub fn autopilot_config(
    discover: &DiscoverSettings,
    autopilot: &AutopilotSettings,
    time_zone: Tz,
    targets_per_run: u32,
) -> AutopilotConfig {
    AutopilotConfig {
        enabled: autopilot.enabled,
        daily_target: autopilot.daily_target,
        targets_per_run,
        time_zone,
        failure_cooldown: discover.failure_cooldown,
        provider_ready: discover.provider_ready(),
    }
}

/// The discover handler's dependencies: the provider's client (when its key
/// is set), prices, search and qualification settings.
pub fn discover_deps(settings: &Settings) -> Result<DiscoverDeps, reqwest::Error> {
    crate::tls::init();
    let d = &settings.discover;
    let http = reqwest::Client::builder()
        .timeout(d.http_timeout)
        .connect_timeout(d.http_timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("prospector/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let (client, pricing) = match d.provider {
        ProviderKind::GooglePlaces => (
            d.google_places_key.clone().map(|key| {
                ProviderClient::GooglePlaces(google_places::GooglePlacesClient::new(
                    http.clone(),
                    d.google_places.base_url.clone(),
                    key,
                    d.google_places.field_mask.clone(),
                    d.retry,
                ))
            }),
            d.google_places.pricing,
        ),
        ProviderKind::Outscraper => (
            d.outscraper_key.clone().map(|key| {
                ProviderClient::Outscraper(
                    prospector_jobs::discover::providers::outscraper::OutscraperClient::new(
                        http.clone(),
                        d.outscraper.base_url.clone(),
                        key,
                        d.retry,
                    ),
                )
            }),
            d.outscraper.pricing,
        ),
    };
    if client.is_none() {
        tracing::warn!(
            provider = d.provider.as_str(),
            "no API key for the discover provider in the environment; discover jobs will fail and the autopilot claims nothing"
        );
    }
    Ok(DiscoverDeps {
        provider: ProviderSetup {
            kind: d.provider,
            client,
        },
        pricing,
        search: SearchSettings {
            query_template: d.query.clone(),
            language: d.language.clone(),
            page_size: d.page_size,
            max_results: d.max_results_per_target,
            outscraper_async: d.outscraper.asynchronous,
            poll_interval: d.outscraper.poll_interval,
            max_poll_wait: d.outscraper.max_poll_wait,
        },
        rules: d.qualification.clone(),
        cooldown: d.cooldown,
        failure_cooldown: d.failure_cooldown,
        time_zone: settings.analytics.time_zone,
        default_country: settings.import.default_country,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{ScheduledJob, Sources};

    fn load(env: &[(&str, &str)], file: Option<&str>) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let extra_file = file.map(|text| {
            let path = dir.path().join("extra.toml");
            std::fs::write(&path, text).unwrap();
            path
        });
        Settings::load(&Sources {
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<HashMap<_, _>>(),
            extra_file,
            ..Sources::default()
        })
    }

    #[test]
    fn defaults_select_google_places_with_webmagics_rules_and_no_key() {
        let settings = load(&[], None).unwrap();
        let d = &settings.discover;
        assert_eq!(d.provider, ProviderKind::GooglePlaces);
        assert!(!d.provider_ready());
        assert_eq!(d.qualification, QualificationRules::default());
        assert!(d.google_places.field_mask.contains("nextPageToken"));
        assert!(!settings.autopilot.enabled);
        let autopilot = settings
            .schedules
            .iter()
            .find(|s| s.name == "discover-autopilot")
            .expect("the autopilot schedule is a default");
        let ScheduledJob::DiscoverAutopilot(config) = &autopilot.job else {
            panic!("a discover schedule runs the autopilot");
        };
        assert_eq!(config.targets_per_run, 5);
        assert!(!config.provider_ready);
    }

    #[test]
    fn api_keys_come_from_the_environment_only() {
        let settings = load(
            &[
                ("OUTSCRAPER_API_KEY", "secret-outscraper"),
                ("PROSPECTOR__DISCOVER__PROVIDER", "outscraper"),
            ],
            None,
        )
        .unwrap();
        assert!(settings.discover.provider_ready());
        assert!(!format!("{:?}", settings.discover).contains("secret-outscraper"));

        let err = load(&[], Some("[discover.google_places]\napi_key = \"in-a-file\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("api_key"), "{err}");
    }

    #[test]
    fn bad_discover_values_name_their_key() {
        let cases = [
            ("PROSPECTOR__DISCOVER__PROVIDER", "bing", "discover.provider"),
            ("PROSPECTOR__DISCOVER__PAGE_SIZE", "0", "discover.page_size"),
            ("PROSPECTOR__DISCOVER__COOLDOWN", "a while", "discover.cooldown"),
            (
                "PROSPECTOR__DISCOVER__GOOGLE_PLACES__BASE_URL",
                "ftp://places",
                "discover.google_places.base_url",
            ),
            (
                "PROSPECTOR__DISCOVER__GOOGLE_PLACES__FIELD_MASK",
                "places.id",
                "discover.google_places.field_mask",
            ),
            (
                "PROSPECTOR__DISCOVER__OUTSCRAPER__DAILY_BUDGET_CENTS",
                "-1",
                "discover.outscraper.daily_budget_cents",
            ),
            (
                "PROSPECTOR__DISCOVER__QUALIFICATION__MIN_SCORE",
                "150",
                "discover.qualification.min_score",
            ),
            (
                "PROSPECTOR__AUTOPILOT__DAILY_TARGET",
                "2000000",
                "autopilot.daily_target",
            ),
        ];
        for (var, value, key) in cases {
            let err = load(&[(var, value)], None).expect_err(var).to_string();
            assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
        }
        let err = load(
            &[],
            Some("[[schedule]]\nname = \"a\"\nstage = \"discover\"\ncron = \"0 * * * * *\"\ntz = \"UTC\"\nargs = { targets = \"lots\" }\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("schedule[0].args.targets"), "{err}");
    }
}
