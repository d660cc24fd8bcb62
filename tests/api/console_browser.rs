//! The console in a real browser: Debian's Chromium, headless, driven by
//! ChromeDriver over WebDriver. Screenshots of the main pages are saved
//! (and checked to be non-blank) under `artifacts/console-screenshots/`
//! (or `$PROSPECTOR_ARTIFACTS_DIR`) for CI to keep.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use prospector::console::Role;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::helpers::{CONSOLE_PASSWORD, TestApp};

/// ChromeDriver on a free port, stopped on drop.
struct Driver {
    _process: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver runs (scripts/test installs Debian's chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reqwest::get(format!("{url}/status")).await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            _process: process,
            url,
        }
    }

    /// A new headless browser window, 1280×900.
    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a browser session starts")
    }
}

/// Where screenshots go.
fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("PROSPECTOR_ARTIFACTS_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts"),
        PathBuf::from,
    );
    let dir = dir.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Save a screenshot of the current page as `name.png`, and check it shows
/// something: many colours, and no single colour covering 99 % of it.
async fn screenshot(browser: &Client, name: &str) -> PathBuf {
    let png = browser.screenshot().await.unwrap();
    let image = image::load_from_memory(&png).unwrap().to_rgb8();
    let mut counts = std::collections::HashMap::new();
    for pixel in image.pixels() {
        *counts.entry(pixel.0).or_insert(0u64) += 1;
    }
    let total = u64::from(image.width()) * u64::from(image.height());
    let most = counts.values().max().copied().unwrap_or(0);
    assert!(
        counts.len() > 50,
        "{name}: only {} colours: a blank page?",
        counts.len()
    );
    assert!(most * 100 < total * 99, "{name}: one colour covers the page");
    let path = artifacts_dir().join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    path
}

/// Sign in through the login form.
async fn sign_in(browser: &Client, app: &TestApp, email: &str) {
    browser
        .goto(&format!("{}/console/activity", app.address))
        .await
        .unwrap();
    let email_field = browser.wait().for_element(Locator::Css("#email")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/login")
    );
    email_field.send_keys(email).await.unwrap();
    browser
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(CONSOLE_PASSWORD)
        .await
        .unwrap();
    browser
        .find(Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("header.top .who"))
        .await
        .expect("signed in: the header shows who");
}

/// The page's `<h1>` text.
async fn heading(browser: &Client) -> String {
    browser
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_operator_signs_in_makes_a_token_sees_it_in_the_activity_log_and_signs_out() {
    let app = TestApp::spawn().await;
    app.console_user("otto@agency.example", Role::Operator).await;
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    sign_in(&browser, &app, "otto@agency.example").await;

    browser
        .goto(&format!("{}/console/account", app.address))
        .await
        .unwrap();
    browser
        .find(Locator::Css("#token-name"))
        .await
        .unwrap()
        .send_keys("nightly import")
        .await
        .unwrap();
    browser
        .find(Locator::XPath("//button[normalize-space()='Create token']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let token = browser
        .wait()
        .for_element(Locator::Css("#new-token"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(token.starts_with("pk_"), "{token}");
    screenshot(&browser, "account").await;

    browser
        .goto(&format!("{}/console/activity", app.address))
        .await
        .unwrap();
    assert_eq!(heading(&browser).await, "Activity");
    let source = browser.source().await.unwrap();
    assert!(source.contains("api_token.create") && source.contains("otto@agency.example"));
    screenshot(&browser, "activity").await;

    // A form whose CSRF token was taken out is refused.
    browser
        .goto(&format!("{}/console/account", app.address))
        .await
        .unwrap();
    browser
        .execute(
            "document.querySelectorAll('input[name=_csrf]').forEach(e => e.remove());",
            vec![],
        )
        .await
        .unwrap();
    browser
        .find(Locator::Css("#token-name"))
        .await
        .unwrap()
        .send_keys("forged")
        .await
        .unwrap();
    browser
        .find(Locator::XPath("//button[normalize-space()='Create token']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("p[role=alert]"))
        .await
        .unwrap();
    assert!(
        browser
            .source()
            .await
            .unwrap()
            .contains("security token is missing")
    );
    let forged: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_api_tokens WHERE name = 'forged'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(forged, 0);

    browser
        .goto(&format!("{}/console/account", app.address))
        .await
        .unwrap();
    browser
        .find(Locator::XPath("//button[normalize-space()='Sign out']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait().for_element(Locator::Css("#email")).await.unwrap();
    browser
        .goto(&format!("{}/console/account", app.address))
        .await
        .unwrap();
    browser.wait().for_element(Locator::Css("#email")).await.unwrap();
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/login"),
        "signed out"
    );
    browser.close().await.unwrap();
}

/// The accessibility score (0–100) Lighthouse gives `url` with `cookie`.
async fn lighthouse_accessibility(url: &str, cookie: &str) -> (u32, Vec<String>) {
    let cli = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/lighthouse/node_modules/.bin/lighthouse");
    assert!(cli.exists(), "{} (scripts/test installs it)", cli.display());
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let profile = dir.path().join("profile");
    let output = Command::new(&cli)
        .arg(url)
        .args(["--only-categories=accessibility", "--preset=desktop", "--output=json", "--quiet"])
        .arg(format!("--output-path={}", report.display()))
        .arg(format!("--extra-headers={}", json!({ "Cookie": cookie })))
        .arg(format!(
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir={}",
            profile.display()
        ))
        .env("CHROME_PATH", "/usr/bin/chromium")
        .output()
        .await
        .unwrap();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|_| panic!("no report for {url}: {}", String::from_utf8_lossy(&output.stderr)));
    let lhr: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(lhr["runtimeError"].is_null(), "{url}: {}", lhr["runtimeError"]);
    assert_eq!(
        lhr["finalDisplayedUrl"].as_str(),
        Some(url),
        "the page itself was audited, not the login"
    );
    let score = (lhr["categories"]["accessibility"]["score"].as_f64().unwrap() * 100.0).round() as u32;
    let failed = lhr["audits"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, a)| a["score"].as_f64().is_some_and(|s| s < 1.0) && a["scoreDisplayMode"] == "binary")
        .map(|(id, _)| id.clone())
        .collect();
    (score, failed)
}

#[tokio::test]
async fn lighthouse_scores_the_main_pages_at_least_90_for_accessibility() {
    let app = TestApp::spawn().await;
    let user = app.console_user("vera@agency.example", Role::Viewer).await;
    for path in ["/console/activity", "/console/account"] {
        let url = format!("{}{path}", app.address);
        let (score, failed) = lighthouse_accessibility(&url, &user.cookie_header()).await;
        eprintln!("lighthouse accessibility {path}: {score} (failing: {failed:?})");
        assert!(
            score >= 90,
            "{path}: accessibility {score}, failing audits {failed:?}"
        );
    }
}
