//! # Billing: a business pays for its site with Recurrente
//!
//! The parts of "claim the preview, pay, go live" that need neither the job
//! queue nor the web server:
//!
//! ```text
//!  BillingSettings ──checkout_chain──► [setup (one-time), monthly (recurring)]
//!        │                                   │ RecurrenteClient::create_checkout
//!        │                                   ▼
//!        │                     customer pays on checkout_url
//!        │                                   │ Recurrente → Svix → POST /webhooks/recurrente
//!        ▼                                   ▼
//!  WebhookVerifier::verify(headers, raw body, now) ──► VerifiedMessage { svix id }
//!                                            │ WebhookEvent::parse(raw body)
//!                                            ▼
//!                 WebhookEvent (object_id, site_link, subscription_id)
//! ```
//!
//! **Takes**: the `[billing]` settings ([`BillingSettings`], checked by
//! [`BillingSettings::validate`] at start-up), the API keys and `whsec_`
//! webhook secrets from the environment, and raw webhook deliveries.
//!
//! **Returns**: checkout requests within Recurrente's documented limits
//! ([`checkout`]), the checkout URL to send the customer to, checkout and
//! subscription state for reconciliation ([`RecurrenteClient`]), verified
//! and typed webhook events ([`svix`], [`events`]).
//!
//! **Guarantees**:
//! - Webhooks fail closed: no secret, a missing header, a timestamp more
//!   than 5 minutes off, or no matching signature is a [`VerifyError`];
//!   signatures are compared in constant time over the raw body.
//! - Deduplication is on the `svix-id` ([`VerifiedMessage::id`]); the
//!   payload id is the object's and repeats across events.
//! - The client retries only 429, 5xx, timeouts and lost connections, honours
//!   `Retry-After`, and returns other 4xx at once with Recurrente's `error`
//!   message; [`RecurrenteError::is_permanent`] says which is which.
//! - Keys and secrets are [`secrecy::SecretString`]s, never in `Debug` or
//!   logs; customer names, e-mails and phone numbers are not in `Debug`
//!   either.
//! - Recurrente cannot mix one-time and recurring items in one checkout, so
//!   a site is bought with two checkouts, in order ([`checkout_chain`]);
//!   both carry the site id in metadata ([`link`]).
//!
//! The integration with the rest of Prospector: [`ledger`] stores a
//! verified delivery once by its `svix-id` and enqueues its processing
//! (the web role's `POST /webhooks/recurrente` calls it), [`lifecycle`] is
//! the `billing` stage that applies events (customers, subscriptions,
//! payments, live and paused sites), and [`claims`] starts the checkout
//! chain from a preview's claim page, and [`lifecycle::reconcile`] is the
//! reconciliation poller for missed webhooks.
//!
//! [`local_server`] is a Recurrente-compatible HTTP server for tests and the
//! demo: it speaks the documented wire format and delivers Svix-signed
//! webhooks. It is plain `pub` (no cargo feature) because the demo binary
//! uses it.

pub mod checkout;
pub mod claims;
pub mod custom_domain;
pub mod events;
pub mod ids;
pub mod ledger;
pub mod lifecycle;
pub mod link;
pub mod local_server;
pub mod plans;
pub mod recurrente;
pub mod svix;
pub mod wire;

pub use checkout::{
    BillingInterval, CheckoutError, CheckoutItem, CheckoutRequest, Currency, Metadata, Price,
};
pub use events::{EventError, WebhookEvent};
pub use ids::{CheckoutId, InvalidId, PaymentIntentId, SubscriptionId};
pub use lifecycle::{BillingDeps, BillingError, BillingTask};
pub use link::{CheckoutStep, SiteLink};
pub use plans::{BillingSettings, BillingSettingsError, PlanError, SiteCheckout, checkout_chain};
pub use recurrente::{
    Checkout, CheckoutCreated, CheckoutStatus, RecurrenteClient, RecurrenteConfig, RecurrenteError,
    Subscription, SubscriptionStatus,
};
pub use svix::{SecretError, SigningSecret, VerifiedMessage, VerifyError, WebhookVerifier, sign};
