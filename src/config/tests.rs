//! Loading the whole document: defaults, layers, and a bad value in any
//! section named by its key.

use std::collections::HashMap;

use prospector_jobs::{
    AuditPage, DiscoverBusinesses, ScanTech, ScoreProspect,
    audit::{FormFactor, PAGESPEED_API_KEY_VAR, ProviderKind, RunnerKind},
    discover::{ProviderKind as PlacesProvider, QualificationRules},
};
use secrecy::ExposeSecret;

use super::*;

fn load_with(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    load(env, None)
}

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
fn defaults_load_and_cover_every_stage() {
    let settings = load_with(&[]).expect("defaults are valid");
    for stage in Stage::ALL {
        assert!(settings.workers.contains_key(stage.queue()), "{stage}");
    }
    assert_eq!(settings.worker("tech_scan").max_attempts, 3);
    assert_eq!(settings.schedules.len(), 6);
    assert!(settings.admin.token.is_none());
}

#[test]
fn environment_variables_override_files() {
    let settings = load_with(&[
        ("PROSPECTOR__QUEUE__POLL_INTERVAL", "250ms"),
        ("PROSPECTOR__STAGES__AUDIT__CONCURRENCY", "3"),
        ("PROSPECTOR__ADMIN__TOKEN", "0123456789abcdef0123"),
        ("DATABASE_URL", "postgres://u@db:5432/x"),
    ])
    .unwrap();
    assert_eq!(settings.queue.poll_interval, Duration::from_millis(250));
    assert_eq!(settings.worker("audit").concurrency, 3);
    assert_eq!(settings.worker("audit").batch_size, 3);
    assert!(settings.admin.token.is_some());
    assert_eq!(settings.database.url.expose_secret(), "postgres://u@db:5432/x");
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("PROSPECTOR__QUEUE__POLL_INTERVAL", "soon", "queue.poll_interval"),
        (
            "PROSPECTOR__QUEUE__MISSED_HEARTBEATS",
            "1",
            "queue.missed_heartbeats",
        ),
        (
            "PROSPECTOR__ANALYTICS__TIME_ZONE",
            "Mars/Olympus",
            "analytics.time_zone",
        ),
        ("PROSPECTOR__ADMIN__BIND", "nowhere", "admin.bind"),
        ("PROSPECTOR__ADMIN__TOKEN", "short", "admin.token"),
        ("PROSPECTOR__STAGES__AUDIT__WORKERS", "0", "stages.audit.workers"),
        ("PROSPECTOR__STAGES__SCRAPE__WORKERS", "1", "stages.scrape"),
        (
            "PROSPECTOR__IMPORT__DEFAULT_COUNTRY",
            "LUX",
            "import.default_country",
        ),
        ("DATABASE_URL", "mysql://x", "database.url"),
    ];
    for (var, value, key) in cases {
        let err = load_with(&[(var, value)]).expect_err(var).to_string();
        assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
    }
}

#[test]
fn bad_schedules_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("cron = \"every day\"", "schedule[0].cron"),
        ("cron = \"0 0 * * * *\"\ntz = \"Nowhere/City\"", "schedule[0].tz"),
    ];
    for (body, key) in cases {
        let file = dir.path().join("bad.toml");
        let mut text = String::from("[[schedule]]\nname = \"x\"\nstage = \"snapshot_analytics\"\n");
        text.push_str(body);
        if !body.contains("tz") {
            text.push_str("\ntz = \"UTC\"");
        }
        std::fs::write(&file, format!("{text}\n")).unwrap();
        let err = Settings::load(&Sources {
            extra_file: Some(file),
            ..Sources::default()
        })
        .expect_err(body)
        .to_string();
        assert!(err.contains(key), "`{err}` should name {key}");
    }
}

#[test]
fn tech_scan_settings_are_parsed_and_bad_values_name_their_key() {
    let settings = load_with(&[]).unwrap();
    let t = settings.of::<ScanTech>();
    assert!(t.user_agent_header().starts_with("ProspectorBot/"));
    assert!(
        t.user_agent_header().contains("(+http"),
        "{}",
        t.user_agent_header()
    );
    assert_eq!(t.robots_token(), "ProspectorBot");
    assert_eq!(t.body_limit(), 3 << 20);
    assert!(
        t.allow_networks.is_empty(),
        "production allows no private network"
    );
    let cases = [
        (
            "PROSPECTOR__TECH_SCAN__MAX_BODY_BYTES",
            "lots",
            "tech_scan.max_body_bytes",
        ),
        (
            "PROSPECTOR__TECH_SCAN__MAX_DECOMPRESSED_BYTES",
            "1KiB",
            "tech_scan.max_decompressed_bytes",
        ),
        (
            "PROSPECTOR__TECH_SCAN__CONTACT_URL",
            "nowhere",
            "tech_scan.contact_url",
        ),
        (
            "PROSPECTOR__TECH_SCAN__USER_AGENT",
            "Mozilla 5 /x",
            "tech_scan.user_agent",
        ),
        (
            "PROSPECTOR__TECH_SCAN__REQUEST_TIMEOUT",
            "0s",
            "tech_scan.request_timeout",
        ),
        (
            "PROSPECTOR__TECH_SCAN__MAX_REDIRECTS",
            "99",
            "tech_scan.max_redirects",
        ),
        (
            "PROSPECTOR__TECH_SCAN__DEFINITIONS",
            "/no/such/file.json",
            "tech_scan.definitions",
        ),
    ];
    for (var, value, key) in cases {
        let err = load_with(&[(var, value)]).expect_err(var).to_string();
        assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "[tech_scan]\nallow_networks = [\"127.0.0.0/8\", \"::1\"]\ndns_servers = [\"127.0.0.1:5353\"]\n[tech_scan.resolve]\n\"shop.test\" = \"127.0.0.1:8080\"\n",
    )
    .unwrap();
    let settings = Settings::load(&Sources {
        extra_file: Some(file.clone()),
        ..Sources::default()
    })
    .unwrap();
    assert_eq!(settings.of::<ScanTech>().allow_networks.len(), 2);
    assert_eq!(settings.of::<ScanTech>().resolve[0].host, "shop.test");
    std::fs::write(&file, "[tech_scan]\nallow_networks = [\"localnet\"]\n").unwrap();
    let err = Settings::load(&Sources {
        extra_file: Some(file),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("tech_scan.allow_networks"), "{err}");
}

#[test]
fn score_weights_are_checked() {
    let ok = load_with(&[
        ("PROSPECTOR__SCORE__POINTS__NO_HTTPS", "20"),
        ("PROSPECTOR__SCORE__HOT", "70"),
    ])
    .unwrap();
    assert_eq!(
        ok.of::<ScoreProspect>().config().points[&prospector_jobs::score::Rule::NoHttps],
        20
    );
    assert_eq!(ok.of::<ScoreProspect>().config().tiers.hot, 70);
    for (var, value, key) in [
        (
            "PROSPECTOR__SCORE__POINTS__NO_HTTPS",
            "-5",
            "score.points.no_https",
        ),
        (
            "PROSPECTOR__SCORE__POINTS__MODERN_SITE",
            "10",
            "score.points.modern_site",
        ),
        (
            "PROSPECTOR__SCORE__POINTS__FAST_FOOD",
            "1",
            "score.points.fast_food",
        ),
        (
            "PROSPECTOR__SCORE__COMPONENTS__MODERNITY",
            "30",
            "score.components",
        ),
        ("PROSPECTOR__SCORE__WARM", "90", "score.hot"),
    ] {
        let err = load_with(&[(var, value)]).expect_err(var).to_string();
        assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
    }
}

#[test]
fn unknown_keys_are_refused() {
    let err = load_with(&[("PROSPECTOR__QUEUE__POLL_INTERVALL", "1s")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("poll_intervall"), "{err}");
}

#[test]
fn defaults_audit_with_resident_lighthouse_on_mobile() {
    let settings = load_with(&[]).unwrap();
    let audit = settings.of::<AuditPage>();
    assert_eq!(audit.provider, ProviderKind::Lighthouse);
    assert_eq!(audit.form_factor, FormFactor::Mobile);
    assert_eq!(audit.lighthouse.runner, RunnerKind::Resident);
    assert!(
        audit
            .lighthouse
            .chrome_flags
            .iter()
            .any(|f| f == "--headless=new")
    );
    assert!(audit.pagespeed.api_key.is_none());
    assert_eq!(
        settings.worker("audit").concurrency,
        prospector_jobs::audit::capacity::default_concurrency(),
        "the audit concurrency follows the machine"
    );
}

#[test]
fn the_audit_concurrency_can_be_set_per_worker() {
    let settings = load_with(&[("PROSPECTOR__STAGES__AUDIT__CONCURRENCY", "1")]).unwrap();
    assert_eq!(settings.worker("audit").concurrency, 1);
}

#[test]
fn bad_audit_values_name_their_key() {
    let cases = [
        ("PROSPECTOR__AUDIT__PROVIDER", "webpagetest", "audit.provider"),
        ("PROSPECTOR__AUDIT__FORM_FACTOR", "tablet", "audit.form_factor"),
        ("PROSPECTOR__AUDIT__TIMEOUT", "forever", "audit.timeout"),
        ("PROSPECTOR__AUDIT__TIMEOUT", "10m", "audit.timeout"),
        (
            "PROSPECTOR__AUDIT__LIGHTHOUSE__RUNNER",
            "docker",
            "audit.lighthouse.runner",
        ),
        (
            "PROSPECTOR__AUDIT__LIGHTHOUSE__RECYCLE_AFTER",
            "0",
            "audit.lighthouse.recycle_after",
        ),
        (
            "PROSPECTOR__AUDIT__LIGHTHOUSE__CHROME_PATH",
            " ",
            "audit.lighthouse.chrome_path",
        ),
        (
            "PROSPECTOR__AUDIT__PAGESPEED__BASE_URL",
            "ftp://example",
            "audit.pagespeed.base_url",
        ),
        (
            "PROSPECTOR__AUDIT__PAGESPEED__DAILY_QUOTA",
            "0",
            "audit.pagespeed.daily_quota",
        ),
        (PAGESPEED_API_KEY_VAR, "two words", PAGESPEED_API_KEY_VAR),
    ];
    for (var, value, key) in cases {
        let err = load_with(&[(var, value)]).expect_err(var).to_string();
        assert!(err.contains(key), "{var}={value}: `{err}` should name {key}");
    }
}

#[test]
fn chrome_flags_the_runner_owns_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flags.toml");
    std::fs::write(
        &file,
        "[audit.lighthouse]\nchrome_flags = [\"--headless=new\", \"--user-data-dir=/tmp/shared\"]\n",
    )
    .unwrap();
    let err = Settings::load(&Sources {
        extra_file: Some(file),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("audit.lighthouse.chrome_flags"), "{err}");
    assert!(err.contains("--user-data-dir"), "{err}");
}

#[test]
fn proxy_switches_are_refused_in_both_browsers_flags() {
    // All browser traffic goes through the stages' own proxy.
    let cases = [
        (
            "[audit.lighthouse]\nchrome_flags = [\"--proxy-server=http://10.0.0.1:3128\"]\n",
            "audit.lighthouse.chrome_flags",
        ),
        (
            "[screenshot]\nextra_flags = [\"--no-proxy-server\"]\n",
            "screenshot.flags",
        ),
    ];
    for (toml, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flags.toml");
        std::fs::write(&file, toml).unwrap();
        let err = Settings::load(&Sources {
            extra_file: Some(file),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(key), "{toml}: {err}");
        assert!(err.contains("proxy"), "{toml}: {err}");
    }
}

#[test]
fn the_pagespeed_key_comes_from_the_environment_only() {
    let settings = load_with(&[(PAGESPEED_API_KEY_VAR, "AIza-from-env")]).unwrap();
    let key = settings.of::<AuditPage>().pagespeed.api_key.as_ref().unwrap();
    assert_eq!(key.expose_secret(), "AIza-from-env");
    assert!(!format!("{:?}", settings.of::<AuditPage>()).contains("AIza-from-env"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.toml");
    std::fs::write(&file, "[audit.pagespeed]\napi_key = \"AIza-in-a-file\"\n").unwrap();
    let err = Settings::load(&Sources {
        extra_file: Some(file),
        ..Sources::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("api_key"), "{err}");
}

#[test]
fn defaults_select_google_places_with_webmagics_rules_and_no_key() {
    let settings = load(&[], None).unwrap();
    let d = settings.of::<DiscoverBusinesses>();
    assert_eq!(d.provider, PlacesProvider::GooglePlaces);
    assert!(!d.provider_ready());
    assert_eq!(d.qualification, QualificationRules::default());
    assert!(d.field_mask().contains("nextPageToken"));
    assert!(!d.autopilot.enabled);
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
    assert!(settings.of::<DiscoverBusinesses>().provider_ready());
    assert!(!format!("{:?}", settings.of::<DiscoverBusinesses>()).contains("secret-outscraper"));

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
            "PROSPECTOR__DISCOVER__AUTOPILOT__DAILY_TARGET",
            "2000000",
            "discover.autopilot.daily_target",
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

#[test]
fn the_reconcile_billing_schedule_runs_the_poller_and_takes_no_arguments() {
    let defaults = load_with(&[]).unwrap();
    let spec = defaults
        .schedules
        .iter()
        .find(|s| s.name == "reconcile-billing")
        .expect("the default reconcile-billing schedule");
    assert_eq!(spec.job, ScheduledJob::ReconcileBilling);
    assert_eq!(spec.job.stage(), Stage::Billing);
    assert_eq!(
        defaults
            .of::<prospector_jobs::billing::BillingTask>()
            .reconcile_after,
        Duration::from_secs(15 * 60)
    );
    let with_args = "[[schedule]]\nname = \"r\"\nstage = \"billing\"\ncron = \"0 */5 * * * *\"\ntz = \"UTC\"\nargs = { limit = \"5\" }\n";
    let err = load(&[], Some(with_args)).expect_err("no arguments").to_string();
    assert!(err.contains("schedule[0].args.limit"), "{err}");
    let later = load(&[("PROSPECTOR__BILLING__RECONCILE_AFTER", "1h")], None).unwrap();
    assert_eq!(
        later
            .of::<prospector_jobs::billing::BillingTask>()
            .reconcile_after,
        Duration::from_secs(3600)
    );
}

#[test]
fn the_poll_inboxes_schedule_polls_the_mailboxes_that_have_imap() {
    let defaults = load_with(&[]).unwrap();
    let spec = |settings: &Settings| {
        settings
            .schedules
            .iter()
            .find(|s| s.name == "poll-inboxes")
            .map(|s| s.job.clone())
            .expect("the default poll-inboxes schedule")
    };
    assert_eq!(
        spec(&defaults),
        ScheduledJob::PollInboxes { mailboxes: vec![] },
        "the default mailbox has no IMAP: a slot enqueues nothing"
    );
    assert_eq!(defaults.worker("poll_inbox").max_attempts, 3);

    let two = r#"
[[send_email.mailboxes]]
address = "a@agency.example"
display_name = "A"
smtp = { host = "127.0.0.1", port = 2525, security = "plain" }
[[send_email.mailboxes]]
address = "b@agency.example"
display_name = "B"
smtp = { host = "127.0.0.1", port = 2525, security = "plain" }
imap = { host = "imap.agency.example", username = "b", password_env = "PROSPECTOR_IMAP_PASSWORD" }
"#;
    let settings = load(&[], Some(two)).unwrap();
    assert_eq!(
        spec(&settings),
        ScheduledJob::PollInboxes {
            mailboxes: vec![prospector_jobs::domain::EmailAddress::parse("b@agency.example").unwrap()]
        }
    );

    let with_args = "[[schedule]]\nname = \"p\"\nstage = \"poll_inbox\"\ncron = \"0 */5 * * * *\"\ntz = \"UTC\"\nargs = { limit = \"5\" }\n";
    let err = load(&[], Some(with_args)).expect_err("no arguments").to_string();
    assert!(err.contains("schedule[0].args.limit"), "{err}");
    assert!(err.contains("takes none"), "{err}");

    let bad = load(&[("PROSPECTOR__POLL_INBOX__BATCH_SIZE", "0")], None)
        .expect_err("batch_size 0")
        .to_string();
    assert!(bad.contains("poll_inbox.batch_size"), "{bad}");
}
