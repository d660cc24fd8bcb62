//! What a site costs, and the checkouts that charge it.
//!
//! The `[billing]` configuration section deserialises into
//! [`BillingSettings`]; [`BillingSettings::validate`] then checks it against
//! Recurrente's rules and names the offending key, so a bad price stops
//! start-up instead of failing a customer's checkout. [`checkout_chain`]
//! turns the plan into the two checkouts a site is bought with (Recurrente
//! cannot mix the one-time setup fee and the monthly plan in one).

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, de};
use url::Url;
use uuid::Uuid;

use super::{
    checkout::{BillingInterval, CheckoutError, CheckoutItem, CheckoutRequest, Currency, Metadata, Price},
    link::{CheckoutStep, SITE_ID_KEY, STEP_KEY},
    recurrente::RecurrenteConfig,
    svix::WebhookVerifier,
};
use crate::discover::providers::RetryPolicy;

/// The `[billing]` section.
///
/// ```toml
/// [billing]
/// base_url = "https://app.recurrente.com"
/// currency = "GTQ"
/// grace_period = "14d"
/// success_url = "https://agency.example/sites/{site_id}/paid?step={step}"
/// cancel_url = "https://agency.example/sites/{site_id}"
/// setup_fee = { name = "Sitio web: puesta en marcha", amount_cents = 390000 }
/// monthly_plan = { name = "Sitio web: mantenimiento", description = "Hosting, SSL y cambios", amount_cents = 79900 }
/// # From the environment only: PROSPECTOR__BILLING__PUBLIC_KEY, …__SECRET_KEY,
/// # …__WEBHOOK_SECRETS ("whsec_new whsec_old" while rotating).
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// Recurrente, or the local server; the API is under `{base_url}/api/`.
    pub base_url: Url,
    /// `pk_…` (environment only).
    #[serde(default)]
    pub public_key: Option<SecretString>,
    /// `sk_…` (environment only).
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    /// One or more `whsec_…` secrets separated by spaces or commas (several
    /// while a secret is rotated). Without one every webhook is refused.
    #[serde(default)]
    pub webhook_secrets: Option<SecretString>,
    /// What every price is in.
    pub currency: Currency,
    /// The one-time fee charged first.
    pub setup_fee: PlanItem,
    /// The monthly plan charged second.
    pub monthly_plan: PlanItem,
    /// How long a site whose subscription was cancelled stays live before
    /// it is paused.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
    /// Where Recurrente sends the customer after paying; `{site_id}` and
    /// `{step}` (`setup`/`monthly`) are filled in.
    pub success_url: UrlTemplate,
    /// Where Recurrente sends the customer after cancelling (same
    /// placeholders).
    pub cancel_url: UrlTemplate,
    /// A checkout expires this long after it is created (the poller stops
    /// watching it then).
    #[serde(with = "humantime_serde", default = "default_checkout_lifetime")]
    pub checkout_lifetime: Duration,
    /// One API request may take this long.
    #[serde(with = "humantime_serde", default = "default_request_timeout")]
    pub request_timeout: Duration,
    /// Retries of 429/5xx/lost connections within one API call.
    #[serde(default = "default_max_retries", deserialize_with = "number")]
    pub max_retries: u32,
    /// A checkout still unpaid (or a subscription still past due) this long
    /// after we last heard of it is asked about by the reconciliation poller
    /// (`reconcile-billing` schedule), in case its webhook was missed.
    #[serde(with = "humantime_serde", default = "default_reconcile_after")]
    pub reconcile_after: Duration,
}

impl std::fmt::Debug for BillingSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |s: &Option<SecretString>| s.as_ref().map(|_| "[set]");
        f.debug_struct("BillingSettings")
            .field("base_url", &self.base_url.as_str())
            .field("public_key", &set(&self.public_key))
            .field("secret_key", &set(&self.secret_key))
            .field("webhook_secrets", &set(&self.webhook_secrets))
            .field("currency", &self.currency)
            .field("setup_fee", &self.setup_fee)
            .field("monthly_plan", &self.monthly_plan)
            .field("grace_period", &self.grace_period)
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .field("checkout_lifetime", &self.checkout_lifetime)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("reconcile_after", &self.reconcile_after)
            .finish()
    }
}

fn default_checkout_lifetime() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(20)
}

fn default_reconcile_after() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_max_retries() -> u32 {
    2
}

/// One priced line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    /// Shown on the checkout page.
    pub name: String,
    /// Shown under the name.
    #[serde(default)]
    pub description: Option<String>,
    /// In cents of [`BillingSettings::currency`] (a number, or a string of
    /// one as environment variables arrive).
    #[serde(deserialize_with = "number")]
    pub amount_cents: u32,
}

/// A URL with `{site_id}` and `{step}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct UrlTemplate(String);

/// A template that cannot make a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{…}` other than `{site_id}` and `{step}`, or an unclosed brace.
    #[error("unknown placeholder `{0}` (use {{site_id}} and {{step}})")]
    Placeholder(String),
    /// The filled-in text is not an absolute http(s) URL.
    #[error("not an absolute http(s) URL once filled in")]
    NotUrl,
}

impl UrlTemplate {
    /// A template (checked by [`render`](Self::render) and
    /// [`BillingSettings::validate`]).
    pub fn new(template: impl Into<String>) -> Self {
        Self(template.into())
    }

    /// Fill in the placeholders (the UUID and step need no escaping).
    pub fn render(&self, site_id: Uuid, step: CheckoutStep) -> Result<Url, TemplateError> {
        let mut out = String::with_capacity(self.0.len() + 40);
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open..];
            let close = after
                .find('}')
                .ok_or_else(|| TemplateError::Placeholder(after.chars().take(20).collect()))?;
            match &after[..=close] {
                "{site_id}" => out.push_str(&site_id.to_string()),
                "{step}" => out.push_str(step.as_str()),
                other => return Err(TemplateError::Placeholder(other.to_owned())),
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        let url = Url::parse(&out).map_err(|_| TemplateError::NotUrl)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(TemplateError::NotUrl);
        }
        Ok(url)
    }
}

/// A bad `[billing]` value, with its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("billing.{key}: {message}")]
pub struct BillingSettingsError {
    /// The key under `[billing]`, e.g. `setup_fee.amount_cents`.
    pub key: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(key: &'static str, message: impl Into<String>) -> BillingSettingsError {
    BillingSettingsError {
        key,
        message: message.into(),
    }
}

impl BillingSettings {
    /// Check every value Recurrente or the lifecycle depends on.
    pub fn validate(&self) -> Result<(), BillingSettingsError> {
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.cannot_be_a_base() {
            return Err(invalid("base_url", "must be an http(s) URL"));
        }
        let minimum = self.currency.minimum_cents();
        for (key_name, key_amount, item) in [
            ("setup_fee.name", "setup_fee.amount_cents", &self.setup_fee),
            (
                "monthly_plan.name",
                "monthly_plan.amount_cents",
                &self.monthly_plan,
            ),
        ] {
            if item.name.trim().is_empty() {
                return Err(invalid(key_name, "must not be blank"));
            }
            if item.amount_cents < minimum {
                return Err(invalid(
                    key_amount,
                    format!(
                        "{} cents is below Recurrente's minimum of {minimum} cents in {}",
                        item.amount_cents, self.currency
                    ),
                ));
            }
        }
        for (key, template) in [
            ("success_url", &self.success_url),
            ("cancel_url", &self.cancel_url),
        ] {
            template
                .render(Uuid::nil(), CheckoutStep::Setup)
                .map_err(|e| invalid(key, e.to_string()))?;
        }
        if self.checkout_lifetime.is_zero() {
            return Err(invalid("checkout_lifetime", "must be longer than zero"));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid("request_timeout", "must be longer than zero"));
        }
        self.check_keys()?;
        self.webhook_verifier()?;
        Ok(())
    }

    /// Keys, when set, must be a `pk_`/`sk_` pair of the same mode (test
    /// keys against a live secret is a common paste error).
    fn check_keys(&self) -> Result<(), BillingSettingsError> {
        let mode = |key: &Option<SecretString>, name: &'static str, prefix: &str| {
            let Some(key) = key else { return Ok(None) };
            let key = key.expose_secret().trim();
            let rest = key
                .strip_prefix(prefix)
                .ok_or_else(|| invalid(name, format!("must start with `{prefix}`")))?;
            if rest.starts_with("test_") {
                Ok(Some("test"))
            } else if rest.starts_with("live_") {
                Ok(Some("live"))
            } else {
                Err(invalid(
                    name,
                    format!("must start with `{prefix}test_` or `{prefix}live_`"),
                ))
            }
        };
        let public = mode(&self.public_key, "public_key", "pk_")?;
        let secret = mode(&self.secret_key, "secret_key", "sk_")?;
        if let (Some(p), Some(s)) = (public, secret)
            && p != s
        {
            return Err(invalid(
                "secret_key",
                format!("is a {s} key but public_key is a {p} key"),
            ));
        }
        Ok(())
    }

    /// The API client's configuration; both keys must be set.
    pub fn client_config(&self) -> Result<RecurrenteConfig, BillingSettingsError> {
        let public_key = self
            .public_key
            .clone()
            .ok_or_else(|| invalid("public_key", "is not set (PROSPECTOR__BILLING__PUBLIC_KEY)"))?;
        let secret_key = self
            .secret_key
            .clone()
            .ok_or_else(|| invalid("secret_key", "is not set (PROSPECTOR__BILLING__SECRET_KEY)"))?;
        Ok(RecurrenteConfig {
            base_url: self.base_url.clone(),
            public_key,
            secret_key,
            request_timeout: self.request_timeout,
            retry: RetryPolicy {
                retries: self.max_retries,
                ..RetryPolicy::default()
            },
        })
    }

    /// The webhook verifier for the configured secrets (none: it refuses
    /// everything).
    pub fn webhook_verifier(&self) -> Result<WebhookVerifier, BillingSettingsError> {
        let secrets = self
            .webhook_secrets
            .as_ref()
            .map(|all| {
                all.expose_secret()
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(SecretString::from)
                    .collect()
            })
            .unwrap_or_default();
        WebhookVerifier::new(secrets).map_err(|e| invalid("webhook_secrets", e.to_string()))
    }
}

/// An amount that arrives as a number or as a string of one.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
        Other(de::IgnoredAny),
    }
    let n = match Raw::deserialize(d)? {
        Raw::Number(n) => Some(n),
        Raw::Text(s) => s.trim().parse().ok(),
        Raw::Other(_) => None,
    };
    n.and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| de::Error::custom("expected a whole, non-negative number of cents"))
}

/// The site being bought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteCheckout {
    /// `generated_sites.id`: written into both checkouts' metadata.
    pub site_id: Uuid,
    /// A screenshot of the site, shown next to the items.
    pub image_url: Option<Url>,
    /// The Recurrente user (`us_…`), when one was created for the customer.
    pub user_id: Option<String>,
}

/// The two checkouts a site is bought with, in the order the customer pays
/// them: the one-time setup fee, then the monthly plan. Each carries the
/// site id and its step in metadata (the recurring item too, in case
/// Recurrente copies it to the subscription's product), and expires after
/// [`BillingSettings::checkout_lifetime`].
pub fn checkout_chain(
    plan: &BillingSettings,
    site: &SiteCheckout,
    now: DateTime<Utc>,
) -> Result<[CheckoutRequest; 2], PlanError> {
    let expires_at = now + chrono::Duration::from_std(plan.checkout_lifetime).unwrap_or_default();
    let build = |step: CheckoutStep, item: &PlanItem| -> Result<CheckoutRequest, PlanError> {
        let mut metadata = Metadata::new();
        metadata.insert(SITE_ID_KEY, site.site_id.to_string())?;
        metadata.insert(STEP_KEY, step.as_str())?;
        let price = Price::new(plan.currency, item.amount_cents)?;
        let mut line = match step {
            CheckoutStep::Setup => CheckoutItem::one_time(&item.name, price)?,
            CheckoutStep::Monthly => CheckoutItem::recurring(&item.name, price, BillingInterval::Month, 1)?
                .with_metadata(metadata.clone()),
        };
        if let Some(description) = &item.description {
            line = line.with_description(description);
        }
        if let Some(image_url) = &site.image_url {
            line = line.with_image_url(image_url.clone());
        }
        let success = plan
            .success_url
            .render(site.site_id, step)
            .map_err(|e| PlanError::Template("success_url", e))?;
        let cancel = plan
            .cancel_url
            .render(site.site_id, step)
            .map_err(|e| PlanError::Template("cancel_url", e))?;
        let mut request =
            CheckoutRequest::new(vec![line], success, cancel, metadata)?.with_expires_at(expires_at);
        if let Some(user_id) = &site.user_id {
            request = request.with_user_id(user_id);
        }
        Ok(request)
    };
    Ok([
        build(CheckoutStep::Setup, &plan.setup_fee)?,
        build(CheckoutStep::Monthly, &plan.monthly_plan)?,
    ])
}

/// Why the plan cannot make its checkouts (settings that skipped
/// [`BillingSettings::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// An item or price Recurrente would refuse.
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    /// A URL template that cannot be filled in.
    #[error("billing.{0}: {1}")]
    Template(&'static str, TemplateError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::checkout::Charge;

    const TOML: &str = r#"
base_url = "https://app.recurrente.com"
currency = "GTQ"
grace_period = "14d"
success_url = "https://agency.example/sites/{site_id}/paid?step={step}"
cancel_url = "https://agency.example/sites/{site_id}"
setup_fee = { name = "Sitio web: puesta en marcha", amount_cents = 390000 }
monthly_plan = { name = "Sitio web: mantenimiento", description = "Hosting y cambios", amount_cents = "79900" }
"#;

    fn settings() -> BillingSettings {
        toml_settings(TOML)
    }

    fn toml_settings(text: &str) -> BillingSettings {
        toml::from_str(text).unwrap()
    }

    fn toml_value(text: &str) -> toml::Value {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_documented_section_parses_and_validates() {
        let s = settings();
        s.validate().unwrap();
        assert_eq!(s.currency, Currency::Gtq);
        assert_eq!(s.grace_period, Duration::from_secs(14 * 86_400));
        assert_eq!(s.monthly_plan.amount_cents, 79900, "string amounts are read");
        assert_eq!(s.checkout_lifetime, default_checkout_lifetime());
        assert_eq!(s.max_retries, 2);
        assert_eq!(s.webhook_verifier().unwrap().secret_count(), 0);
    }

    #[test]
    fn amounts_that_are_not_whole_cents_are_refused_with_a_clear_message() {
        for bad in ["-5", "\"5.50\"", "\"lots\"", "1.5", "[1]"] {
            let text = TOML.replace("amount_cents = 390000", &format!("amount_cents = {bad}"));
            let error = toml::from_str::<BillingSettings>(&text).err().unwrap();
            assert!(
                error.to_string().contains("whole, non-negative number of cents"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let typo = format!("{TOML}\nsetup_fe = 1\n");
        let error = toml::from_str::<BillingSettings>(&typo).err().unwrap();
        assert!(error.to_string().contains("setup_fe"), "{error}");
        let mut nested = toml_value(TOML);
        nested["setup_fee"]
            .as_table_mut()
            .unwrap()
            .insert("amount".into(), toml::Value::Integer(1));
        let error = nested.try_into::<BillingSettings>().err().unwrap();
        assert!(error.to_string().contains("amount"), "{error}");
    }

    #[test]
    fn validation_names_the_key_at_fault() {
        type Breaker = fn(&mut BillingSettings);
        let cases: [(&str, Breaker, &str); 10] = [
            (
                "GTQ minimum",
                |s| s.setup_fee.amount_cents = 499,
                "setup_fee.amount_cents",
            ),
            (
                "USD minimum",
                |s| {
                    s.currency = Currency::Usd;
                    s.monthly_plan.amount_cents = 99;
                },
                "monthly_plan.amount_cents",
            ),
            (
                "blank name",
                |s| s.monthly_plan.name = " ".into(),
                "monthly_plan.name",
            ),
            (
                "unknown placeholder",
                |s| s.success_url = UrlTemplate::new("https://a.example/{site}"),
                "success_url",
            ),
            (
                "not a URL",
                |s| s.cancel_url = UrlTemplate::new("/sites/{site_id}"),
                "cancel_url",
            ),
            (
                "unclosed brace",
                |s| s.cancel_url = UrlTemplate::new("https://a.example/{site_id"),
                "cancel_url",
            ),
            (
                "zero lifetime",
                |s| s.checkout_lifetime = Duration::ZERO,
                "checkout_lifetime",
            ),
            (
                "an API key as a webhook secret",
                |s| s.webhook_secrets = Some(SecretString::from("sk_live_x")),
                "webhook_secrets",
            ),
            (
                "mixed modes",
                |s| {
                    s.public_key = Some(SecretString::from("pk_test_a"));
                    s.secret_key = Some(SecretString::from("sk_live_b"));
                },
                "secret_key",
            ),
            (
                "swapped keys",
                |s| s.public_key = Some(SecretString::from("sk_live_b")),
                "public_key",
            ),
        ];
        for (name, break_it, key) in cases {
            let mut s = settings();
            break_it(&mut s);
            let error = s.validate().unwrap_err();
            assert_eq!(error.key, key, "{name}: {error}");
            assert!(!error.to_string().contains("sk_live_b"), "{name}: {error}");
        }
        let mut usd = settings();
        usd.currency = Currency::Usd;
        usd.monthly_plan.amount_cents = 100;
        assert!(usd.validate().is_ok(), "USD allows $1");
    }

    #[test]
    fn webhook_secrets_are_split_for_rotation() {
        let mut s = settings();
        s.webhook_secrets = Some(SecretString::from(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD, whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ));
        assert_eq!(s.webhook_verifier().unwrap().secret_count(), 2);
        s.validate().unwrap();
    }

    #[test]
    fn the_client_config_needs_both_keys_and_never_shows_them() {
        let mut s = settings();
        assert_eq!(s.client_config().unwrap_err().key, "public_key");
        s.public_key = Some(SecretString::from("pk_live_visible"));
        assert_eq!(s.client_config().unwrap_err().key, "secret_key");
        s.secret_key = Some(SecretString::from("sk_live_visible"));
        s.validate().unwrap();
        let config = s.client_config().unwrap();
        assert_eq!(config.retry.retries, 2);
        assert!(!format!("{s:?}").contains("visible"));
    }

    #[test]
    fn the_chain_is_setup_then_monthly_each_linked_to_the_site() {
        // Arrange
        let s = settings();
        let site = SiteCheckout {
            site_id: Uuid::parse_str("6f1c1d6e-8d2a-4c47-9d8e-2b1f3c4a5d6e").unwrap(),
            image_url: Some(Url::parse("https://cdn.example/shot.png").unwrap()),
            user_id: Some("us_1".into()),
        };
        let now = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);

        // Act
        let [setup, monthly] = checkout_chain(&s, &site, now).unwrap();

        // Assert
        assert!(!setup.is_recurring());
        assert_eq!(setup.total_cents(), 390000);
        assert!(monthly.is_recurring());
        assert_eq!(
            monthly.items()[0].charge(),
            Charge::Recurring {
                interval: BillingInterval::Month,
                every: 1
            }
        );
        assert_eq!(monthly.total_cents(), 79900);
        let wire = monthly.to_wire();
        assert_eq!(
            wire["success_url"],
            "https://agency.example/sites/6f1c1d6e-8d2a-4c47-9d8e-2b1f3c4a5d6e/paid?step=monthly"
        );
        assert_eq!(wire["metadata"][SITE_ID_KEY], site.site_id.to_string());
        assert_eq!(wire["metadata"][STEP_KEY], "monthly");
        assert_eq!(
            wire["items"][0]["metadata"][SITE_ID_KEY],
            site.site_id.to_string()
        );
        assert_eq!(wire["items"][0]["description"], "Hosting y cambios");
        assert_eq!(wire["expires_at"], "2026-11-27T10:00:00Z");
        assert_eq!(wire["user_id"], "us_1");
        let setup_wire = setup.to_wire();
        assert_eq!(setup_wire["metadata"][STEP_KEY], "setup");
        assert_eq!(
            setup_wire["items"][0]["image_url"],
            "https://cdn.example/shot.png"
        );
        assert_eq!(
            setup_wire["cancel_url"],
            "https://agency.example/sites/6f1c1d6e-8d2a-4c47-9d8e-2b1f3c4a5d6e"
        );
    }

    #[test]
    fn an_unvalidated_plan_below_the_minimum_makes_no_chain() {
        let mut s = settings();
        s.setup_fee.amount_cents = 10;
        let site = SiteCheckout {
            site_id: Uuid::nil(),
            image_url: None,
            user_id: None,
        };
        assert!(matches!(
            checkout_chain(&s, &site, Utc::now()),
            Err(PlanError::Checkout(CheckoutError::BelowMinimum { .. }))
        ));
    }
}
