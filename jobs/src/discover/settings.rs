//! The stage's settings (`[discover]`, with `[discover.autopilot]`) and how
//! its dependencies and the autopilot's configuration are built from them.
//!
//! API keys are read from the environment only (`GOOGLE_PLACES_API_KEY`,
//! `OUTSCRAPER_API_KEY`): the sections have no key for them, so a key
//! written into a file is refused at start-up as an unknown key.

use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};
use url::Url;

use super::{
    ApiKey, AutopilotConfig, DiscoverDeps, GOOGLE_PLACES_KEY_ENV, OUTSCRAPER_KEY_ENV, Pricing,
    ProviderClient, ProviderKind, ProviderSetup, QualificationRules, RetryPolicy, SearchSettings,
    providers::{google_places, outscraper::OutscraperClient},
};
use crate::stage::{CheckContext, InvalidSetting, Platform, StageConfig};

/// `[discover]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverSettings {
    /// The provider used.
    pub provider: ProviderKind,
    /// Query template (`{industry}`, `{city}`, `{state}`, `{country}`).
    pub query: String,
    /// Result language.
    #[serde(default, deserialize_with = "non_blank")]
    pub language: Option<String>,
    /// Records per page.
    pub page_size: u32,
    /// Records per territory per run.
    pub max_results_per_target: u32,
    /// A completed territory rests this long.
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    /// A failed territory rests this long.
    #[serde(with = "humantime_serde")]
    pub failure_cooldown: Duration,
    /// Per HTTP request.
    #[serde(with = "humantime_serde")]
    pub http_timeout: Duration,
    /// In-job retries of 429/5xx.
    pub retries: u32,
    /// First in-job retry delay.
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// A longer `Retry-After` is left to the queue's retry.
    #[serde(with = "humantime_serde")]
    pub retry_max_wait: Duration,
    /// Google Places.
    pub google_places: PlacesSettings,
    /// Outscraper.
    pub outscraper: OutscraperSettings,
    /// Qualification thresholds.
    pub qualification: QualificationRules,
    /// The autopilot's defaults (the admin API overrides them at runtime).
    pub autopilot: AutopilotSettings,
    /// `GOOGLE_PLACES_API_KEY`.
    #[serde(skip)]
    pub google_places_key: Option<ApiKey>,
    /// `OUTSCRAPER_API_KEY`.
    #[serde(skip)]
    pub outscraper_key: Option<ApiKey>,
}

/// `[discover.google_places]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacesSettings {
    /// API root.
    pub base_url: Url,
    /// `X-Goog-FieldMask` (empty: every field Prospector stores).
    #[serde(default)]
    pub field_mask: String,
    /// Cents per request.
    pub price_per_request_cents: f64,
    /// Cents per record returned.
    pub price_per_result_cents: f64,
    /// Spend per day before jobs wait.
    pub daily_budget_cents: f64,
}

/// `[discover.outscraper]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutscraperSettings {
    /// API root.
    pub base_url: Url,
    /// Cents per request.
    pub price_per_request_cents: f64,
    /// Cents per record returned.
    pub price_per_result_cents: f64,
    /// Spend per day before jobs wait.
    pub daily_budget_cents: f64,
    /// Submit async requests and poll them.
    #[serde(rename = "async")]
    pub asynchronous: bool,
    /// Between polls.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Stop polling (the job retries later, polling the same request).
    #[serde(with = "humantime_serde")]
    pub max_poll_wait: Duration,
}

/// `[discover.autopilot]`: defaults that the admin API can override at runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutopilotSettings {
    /// On or off.
    pub enabled: bool,
    /// New maps leads per day after which the autopilot stops claiming.
    pub daily_target: u32,
}

impl DiscoverSettings {
    /// Whether the selected provider has a key.
    pub fn provider_ready(&self) -> bool {
        match self.provider {
            ProviderKind::GooglePlaces => self.google_places_key.is_some(),
            ProviderKind::Outscraper => self.outscraper_key.is_some(),
        }
    }

    /// The in-job retry policy of provider requests.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            retries: self.retries,
            base_delay: self.retry_base,
            max_wait: self.retry_max_wait,
        }
    }

    /// The selected provider's prices and budget.
    pub fn pricing(&self) -> Pricing {
        let (per_request, per_result, budget) = match self.provider {
            ProviderKind::GooglePlaces => {
                let p = &self.google_places;
                (
                    p.price_per_request_cents,
                    p.price_per_result_cents,
                    p.daily_budget_cents,
                )
            }
            ProviderKind::Outscraper => {
                let p = &self.outscraper;
                (
                    p.price_per_request_cents,
                    p.price_per_result_cents,
                    p.daily_budget_cents,
                )
            }
        };
        Pricing {
            per_request_cents: per_request,
            per_result_cents: per_result,
            daily_budget_cents: budget,
        }
    }

    /// Google Places' field mask (the configured one, or every field we store).
    pub fn field_mask(&self) -> String {
        match self.google_places.field_mask.trim() {
            "" => google_places::DEFAULT_FIELD_MASK.to_owned(),
            mask => mask.to_owned(),
        }
    }

    /// The autopilot's configuration for a schedule claiming `targets_per_run`.
    pub fn autopilot_config(&self, time_zone: Tz, targets_per_run: u32) -> AutopilotConfig {
        AutopilotConfig {
            enabled: self.autopilot.enabled,
            daily_target: self.autopilot.daily_target,
            targets_per_run,
            time_zone,
            failure_cooldown: self.failure_cooldown,
            provider_ready: self.provider_ready(),
        }
    }

    /// The handler's dependencies: the provider's client (when its key is
    /// set), prices, search and qualification settings. Needs rustls's
    /// process-wide crypto provider to be installed.
    pub fn deps(&self, platform: &Platform) -> Result<DiscoverDeps, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(self.http_timeout)
            .connect_timeout(self.http_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("prospector/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let client = match self.provider {
            ProviderKind::GooglePlaces => self.google_places_key.clone().map(|key| {
                ProviderClient::GooglePlaces(google_places::GooglePlacesClient::new(
                    http.clone(),
                    self.google_places.base_url.clone(),
                    key,
                    self.field_mask(),
                    self.retry(),
                ))
            }),
            ProviderKind::Outscraper => self.outscraper_key.clone().map(|key| {
                ProviderClient::Outscraper(OutscraperClient::new(
                    http.clone(),
                    self.outscraper.base_url.clone(),
                    key,
                    self.retry(),
                ))
            }),
        };
        if client.is_none() {
            tracing::warn!(
                provider = self.provider.as_str(),
                "no API key for the discover provider in the environment; discover jobs will fail and the autopilot claims nothing"
            );
        }
        Ok(DiscoverDeps {
            provider: ProviderSetup {
                kind: self.provider,
                client,
            },
            pricing: self.pricing(),
            search: SearchSettings {
                query_template: self.query.clone(),
                language: self.language.clone(),
                page_size: self.page_size,
                max_results: self.max_results_per_target,
                outscraper_async: self.outscraper.asynchronous,
                poll_interval: self.outscraper.poll_interval,
                max_poll_wait: self.outscraper.max_poll_wait,
            },
            rules: self.qualification.clone(),
            cooldown: self.cooldown,
            failure_cooldown: self.failure_cooldown,
            time_zone: platform.time_zone,
            default_country: platform.default_country,
        })
    }
}

impl StageConfig for DiscoverSettings {
    fn check(&mut self, ctx: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        if self.query.trim().is_empty() {
            return Err(InvalidSetting::new("query", "must not be empty"));
        }
        if !(1..=100).contains(&self.page_size) {
            return Err(InvalidSetting::new("page_size", "must be between 1 and 100"));
        }
        if self.max_results_per_target == 0 {
            return Err(InvalidSetting::new(
                "max_results_per_target",
                "must be at least 1",
            ));
        }
        if self.retries > 10 {
            return Err(InvalidSetting::new("retries", "must be 10 or fewer"));
        }
        for (key, value) in [
            ("cooldown", self.cooldown),
            ("failure_cooldown", self.failure_cooldown),
            ("http_timeout", self.http_timeout),
            ("retry_base", self.retry_base),
            ("retry_max_wait", self.retry_max_wait),
            ("outscraper.poll_interval", self.outscraper.poll_interval),
            ("outscraper.max_poll_wait", self.outscraper.max_poll_wait),
        ] {
            if value.is_zero() {
                return Err(InvalidSetting::new(key, "must be longer than zero"));
            }
        }
        check_base_url("google_places.base_url", &self.google_places.base_url)?;
        check_base_url("outscraper.base_url", &self.outscraper.base_url)?;
        let p = &self.google_places;
        let o = &self.outscraper;
        for (key, value) in [
            ("google_places.price_per_request_cents", p.price_per_request_cents),
            ("google_places.price_per_result_cents", p.price_per_result_cents),
            ("google_places.daily_budget_cents", p.daily_budget_cents),
            ("outscraper.price_per_request_cents", o.price_per_request_cents),
            ("outscraper.price_per_result_cents", o.price_per_result_cents),
            ("outscraper.daily_budget_cents", o.daily_budget_cents),
        ] {
            if !value.is_finite() || value < 0.0 {
                return Err(InvalidSetting::new(key, "must be a number of cents, 0 or more"));
            }
        }
        if !self.field_mask().split(',').any(|f| f.trim() == "nextPageToken") {
            return Err(InvalidSetting::new(
                "google_places.field_mask",
                "must include nextPageToken, or pagination stops after the first page",
            ));
        }
        check_qualification(&mut self.qualification)?;
        if self.autopilot.daily_target > 1_000_000 {
            return Err(InvalidSetting::new(
                "autopilot.daily_target",
                "must be at most 1000000",
            ));
        }
        let key = |var: &str| ctx.env.get(var).and_then(|v| ApiKey::new(v.as_str()));
        self.google_places_key = key(GOOGLE_PLACES_KEY_ENV);
        self.outscraper_key = key(OUTSCRAPER_KEY_ENV);
        Ok(())
    }
}

fn check_qualification(q: &mut QualificationRules) -> Result<(), InvalidSetting> {
    if !q.rating_tiers.iter().all(|r| (0.0..=5.0).contains(r))
        || !q.rating_tiers.windows(2).all(|w| w[0] >= w[1])
    {
        return Err(InvalidSetting::new(
            "qualification.rating_tiers",
            "needs three ratings between 0 and 5, highest first",
        ));
    }
    if !q.review_tiers.iter().all(|r| *r >= 0) || !q.review_tiers.windows(2).all(|w| w[0] >= w[1]) {
        return Err(InvalidSetting::new(
            "qualification.review_tiers",
            "needs three counts of 0 or more, highest first",
        ));
    }
    if !(0..=100).contains(&q.min_score) {
        return Err(InvalidSetting::new(
            "qualification.min_score",
            "must be between 0 and 100",
        ));
    }
    if q.recent_review_days < 0 || q.stale_review_days < q.recent_review_days {
        return Err(InvalidSetting::new(
            "qualification.stale_review_days",
            "must be at least recent_review_days (and both 0 or more)",
        ));
    }
    q.chain_keywords = q
        .chain_keywords
        .iter()
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    Ok(())
}

fn check_base_url(key: &str, url: &Url) -> Result<(), InvalidSetting> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(InvalidSetting::new(key, "must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(InvalidSetting::new(key, "must not have a query or fragment"));
    }
    Ok(())
}

fn non_blank<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.trim().is_empty()))
}
