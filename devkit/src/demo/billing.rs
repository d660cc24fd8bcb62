//! The demo's customer: a demo business claims its preview, pays the setup
//! fee and the monthly plan on the local Recurrente-compatible server, and
//! its site goes live. Every step goes through the web role's real routes
//! (claim form, success URL, Svix-signed webhooks) and prints what happened.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use prospector::config::Settings;
use prospector_jobs::{
    billing::{
        BillingTask, SigningSecret,
        local_server::{
            DeliveryOptions, DeliveryOutcome, LocalRecurrente, LocalRecurrenteConfig, Payer,
            RunningLocalRecurrente,
        },
        plans::UrlTemplate,
    },
    public_urls::PublicUrls,
};
use secrecy::SecretString;
use sqlx::PgPool;
use uuid::Uuid;

const PUBLIC_KEY: &str = "pk_test_demo";
const SECRET_KEY: &str = "sk_test_demo";

/// A fresh webhook signing secret for one run.
pub fn new_secret() -> anyhow::Result<SigningSecret> {
    let key: [u8; 32] = rand::random();
    SigningSecret::from_bytes(key.to_vec()).context("a webhook secret")
}

/// Start the local Recurrente-compatible server on loopback, signing its
/// webhooks with `secret`.
pub async fn start_recurrente(secret: SigningSecret) -> anyhow::Result<RunningLocalRecurrente> {
    prospector::tls::init();
    let config = LocalRecurrenteConfig::new(PUBLIC_KEY, SECRET_KEY, secret);
    let server = LocalRecurrente::new(config).context("the local Recurrente server's HTTP client")?;
    Ok(server.spawn("127.0.0.1:0".parse()?).await?)
}

/// Point `[billing]` at the local server, with its keys and webhook secret,
/// and the success and cancel URLs at the web role.
pub fn configure(settings: &mut Settings, recurrente: &RunningLocalRecurrente, whsec: SecretString) {
    let public = settings.web.public_url.as_str().trim_end_matches('/').to_owned();
    let billing = settings.of_mut::<BillingTask>();
    billing.base_url = recurrente.base_url().clone();
    billing.public_key = Some(SecretString::from(PUBLIC_KEY));
    billing.secret_key = Some(SecretString::from(SECRET_KEY));
    billing.webhook_secrets = Some(whsec);
    billing.success_url = UrlTemplate::new(format!("{public}/sites/{{site_id}}/paid?step={{step}}"));
    billing.cancel_url = UrlTemplate::new(format!("{public}/sites/{{site_id}}/cancelled?step={{step}}"));
}

/// The demo site a customer claims.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DemoClaim {
    /// `generated_sites.id`.
    pub id: Uuid,
    /// The preview's token.
    pub preview_token: String,
    /// Its live host's label.
    pub subdomain: String,
    /// The business.
    pub business_name: Option<String>,
}

/// The first demo site that can still be claimed (a gated preview first).
pub async fn claimable_site(pool: &PgPool) -> Result<Option<DemoClaim>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.preview_token, s.subdomain, p.business_name FROM generated_sites s \
         JOIN prospects p ON p.public_id = s.business_id \
         WHERE s.status IN ('draft', 'preview') AND s.preview_token IS NOT NULL \
         ORDER BY (s.status = 'preview') DESC, p.id LIMIT 1",
    )
    .fetch_optional(pool)
    .await
}

fn delivered(deliveries: &[prospector_jobs::billing::local_server::DeliveryReport]) -> String {
    deliveries
        .iter()
        .map(|d| match &d.outcome {
            DeliveryOutcome::Answered(status) => format!("{} → {status}", d.event_type),
            DeliveryOutcome::Failed(e) => format!("{} → failed ({e})", d.event_type),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Claim `site` as a demo customer, pay both checkouts on `recurrente`, and
/// wait until the site is live; returns the live URL. `web` is the web
/// role's address; each step is printed.
pub async fn claim_and_pay(
    pool: &PgPool,
    urls: &PublicUrls,
    web: SocketAddr,
    recurrente: &LocalRecurrente,
    site: &DemoClaim,
) -> anyhow::Result<String> {
    let base = format!("http://{web}");
    recurrente.set_webhook_url(Some(format!("{base}/webhooks/recurrente").parse()?));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let payer = Payer {
        email: "owner@demo-business.example".into(),
        full_name: "Demo Owner".into(),
    };
    let name = site.business_name.as_deref().unwrap_or("the demo business");
    println!("\nA customer claims the preview of {name}:");
    println!("  1. claim page      {}", urls.claim(&site.preview_token));

    let claimed = http
        .post(format!("{base}/claim/{}", site.preview_token))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("email={}&plan=monthly", payer.email.replace('@', "%40")))
        .send()
        .await?;
    let setup_url = location(&claimed).context("the claim did not redirect to a checkout")?;
    println!("  2. setup checkout  {setup_url}");
    let setup_id = checkout_id(&setup_url)?;
    let paid = recurrente
        .pay(&setup_id, &payer, &DeliveryOptions::default())
        .await?;
    println!(
        "     paid {}; webhooks: {}",
        paid.payment_id,
        delivered(&paid.deliveries)
    );

    // Recurrente sends the customer to the success URL, which chains the
    // monthly plan once the setup payment is recorded.
    let success = format!("{base}/sites/{}/paid?step=setup", site.id);
    let mut monthly_url = None;
    for _ in 0..30 {
        let response = http.get(&success).send().await?;
        if let Some(url) = location(&response) {
            monthly_url = Some(url);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let monthly_url = monthly_url.context("the success page did not chain the monthly plan")?;
    println!("  3. plan checkout   {monthly_url}");
    let monthly_id = checkout_id(&monthly_url)?;
    let subscribed = recurrente
        .pay(&monthly_id, &payer, &DeliveryOptions::default())
        .await?;
    println!(
        "     paid {} (subscription {}); webhooks: {}",
        subscribed.payment_id,
        subscribed.subscription_id.as_deref().unwrap_or("-"),
        delivered(&subscribed.deliveries)
    );

    for _ in 0..60 {
        let status: String = sqlx::query_scalar("SELECT status FROM generated_sites WHERE id = $1")
            .bind(site.id)
            .fetch_one(pool)
            .await?;
        if status == "live" {
            let live = urls.live(&site.subdomain);
            let page = http
                .get(format!("{base}/"))
                .header(reqwest::header::HOST, urls.live_host(&site.subdomain))
                .send()
                .await?;
            println!(
                "  4. live            {live}  (served: HTTP {})",
                page.status().as_u16()
            );
            welcome(pool, site.id).await?;
            return Ok(live);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the site did not go live within 30 seconds (see the billing queue)")
}

/// Print what became of the customer's welcome e-mail (sent by the
/// billing stage through the send_email outbox).
async fn welcome(pool: &PgPool, site_id: uuid::Uuid) -> anyhow::Result<()> {
    for _ in 0..30 {
        let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT status, recipient_email, transport_reply, error_message FROM customer_notices
              WHERE site_id = $1 AND kind = 'welcome' AND status NOT IN ('pending', 'sending')",
        )
        .bind(site_id)
        .fetch_optional(pool)
        .await?;
        if let Some((status, to, reply, error)) = row {
            let detail = reply.or(error).unwrap_or_default();
            println!("  5. welcome e-mail  {status} to {to}: {detail}");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("  5. welcome e-mail  still queued (see the billing queue)");
    Ok(())
}

fn location(response: &reqwest::Response) -> Option<String> {
    (response.status() == reqwest::StatusCode::SEE_OTHER)
        .then(|| response.headers().get(reqwest::header::LOCATION))
        .flatten()
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
}

fn checkout_id(url: &str) -> anyhow::Result<String> {
    url.rsplit('/')
        .next()
        .filter(|id| id.starts_with("ch_"))
        .map(str::to_owned)
        .context("a checkout URL ends with its id")
}

/// The phone number the demo customer asks for.
pub const DEMO_NEW_PHONE: &str = "+502 5555 1234";

/// The live site's customer asks for a change from its support form; the
/// build_site worker makes a pending version with the change applied; the
/// operator looks at it and approves it through the admin API; the live
/// page shows the new phone. Each step is printed.
pub async fn ask_for_change(
    pool: &PgPool,
    urls: &PublicUrls,
    web: SocketAddr,
    site: &DemoClaim,
    admin_token: &str,
) -> anyhow::Result<()> {
    let base = format!("http://{web}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let host = urls.live_host(&site.subdomain);
    let request = format!(
        "Please change our phone number to {DEMO_NEW_PHONE} and our hours to Mon-Fri 8:00-17:00. \
         Could you also make the logo bigger?"
    );
    println!("\nThe customer asks for a change on its live site:");
    println!(
        "  6. support form    {}  \"{request}\"",
        urls.live(&site.subdomain)
    );
    let body = format!(
        "email={}&request={}",
        url::form_urlencoded::byte_serialize(b"owner@demo-business.example").collect::<String>(),
        url::form_urlencoded::byte_serialize(request.as_bytes()).collect::<String>()
    );
    let opened = http
        .post(format!("{base}/support"))
        .header(reqwest::header::HOST, &host)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(
        opened.status().is_success(),
        "the support form answered HTTP {}",
        opened.status()
    );
    let mut pending = None;
    for _ in 0..120 {
        pending = sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM site_versions WHERE site_id = $1 AND approval_status = 'pending' \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(site.id)
        .fetch_optional(pool)
        .await?;
        if pending.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pending = pending.context("no pending version within 60 seconds (see the build_site queue)")?;
    let version: serde_json::Value = http
        .get(format!("{base}/api/site-versions/{pending}"))
        .bearer_auth(admin_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let describe = |list: &serde_json::Value, key: &str| -> String {
        list.as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i[key].as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    let shows = |html: &str| html.contains(DEMO_NEW_PHONE) && html.contains("08:00–17:00");
    println!(
        "  7. pending version {} (GET /api/site-versions/{pending}): applied [{}], needs a human [{}]; shows the change: {}",
        version["version"],
        describe(&version["change_edits"], "kind"),
        describe(&version["ticket"]["needs_human"], "text"),
        shows(version["html"].as_str().unwrap_or_default())
    );
    let live = |http: reqwest::Client| {
        let (base, host) = (base.clone(), host.clone());
        async move {
            let page = http
                .get(format!("{base}/"))
                .header(reqwest::header::HOST, host)
                .send()
                .await?;
            anyhow::Ok(page.text().await?)
        }
    };
    println!(
        "     live page shows it before approval: {}",
        shows(&live(http.clone()).await?)
    );
    http.post(format!("{base}/api/site-versions/{pending}/approve"))
        .bearer_auth(admin_token)
        .send()
        .await?
        .error_for_status()?;
    println!(
        "  8. approved         POST /api/site-versions/{pending}/approve; live page shows {DEMO_NEW_PHONE}: {}",
        shows(&live(http).await?)
    );
    Ok(())
}
