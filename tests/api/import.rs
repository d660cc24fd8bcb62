//! `prospector import` end to end: the real binary on a real database.

use std::process::Stdio;

use prospector_jobs::scan_jobs;

use crate::helpers::{TestDb, command, count};

const LEADS: &str = "\
domain,name,email,city,tags
https://www.Boulangerie-Example.lu/contact,Boulangerie Example,info@boulangerie-example.lu,Luxembourg,bakery
not a domain,Broken,,,
garage.lu,Garage,not-an-email,Esch,
,Salon Léa,,Diekirch,hair
boulangerie-example.lu,Boulangerie Example (again),,,repeat
café.lu,Café,,Wiltz,
";

async fn import(db: &TestDb, file: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let output = command(&db.url)
        .arg("import")
        .arg(file)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn import_reports_bad_rows_by_line_and_imports_every_good_row() {
    // Arrange
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    std::fs::write(&file, LEADS).unwrap();

    // Act
    let (code, stdout, stderr) = import(&db, &file, &["--tag", "fair-2026"]).await;

    // Assert: exit 65, each bad row named by line with its reason…
    assert_eq!(code, 65, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("line 3: invalid domain"), "{stderr}");
    assert!(stderr.contains("line 4: invalid email"), "{stderr}");
    assert!(
        !stderr.contains("line 2:") && !stderr.contains("line 5:"),
        "{stderr}"
    );
    assert!(stdout.contains("6 rows"), "{stdout}");

    // …and the good rows are in, normalised and deduplicated.
    let domains: Vec<String> =
        sqlx::query_scalar("SELECT domain_name FROM prospects WHERE domain_name IS NOT NULL ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(domains, vec!["boulangerie-example.lu", "xn--caf-dma.lu"]);
    let offline: (String, String) =
        sqlx::query_as("SELECT channel, business_name FROM prospects WHERE domain_name IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(offline, ("offline".into(), "Salon Léa".into()));
    let tags: serde_json::Value =
        sqlx::query_scalar("SELECT tags FROM prospects WHERE domain_name = 'boulangerie-example.lu'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tags, serde_json::json!(["bakery", "fair-2026"]));

    // The batch counts every row once: 4 processed (one a duplicate), 2 failed.
    let batch = scan_jobs::list_recent(&pool, 1).await.unwrap().remove(0);
    assert_eq!(batch.job_type, "import");
    assert_eq!(
        (batch.total_items, batch.processed_items, batch.failed_items),
        (6, 4, 2)
    );
    assert_eq!(batch.status, "completed");
    let failures = scan_jobs::list_failures(&pool, batch.id, 10).await.unwrap();
    assert!(
        failures
            .iter()
            .any(|f| f.item_key == "line:3" && f.reason.as_deref().unwrap_or("").contains("invalid domain"))
    );

    // Importing again updates instead of duplicating.
    let (code, stdout, _) = import(&db, &file, &[]).await;
    assert_eq!(code, 65);
    assert!(stdout.contains("0 new, 3 updated"), "{stdout}");
    assert_eq!(count(&pool, "SELECT count(*) FROM prospects").await, 3);
}

#[tokio::test]
async fn domain_lists_and_json_lines_import_cleanly() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("domains.txt");
    std::fs::write(
        &domains,
        "# from the registry\nexample.lu\nWWW.EXAMPLE.LU\nhttp://shop.example.lu/path?q=1\n\n",
    )
    .unwrap();
    let (code, stdout, stderr) = import(&db, &domains, &[]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("2 new") && stdout.contains("1 duplicates"),
        "{stdout}"
    );

    let jsonl = dir.path().join("offline.jsonl");
    std::fs::write(
        &jsonl,
        "{\"name\": \"Épicerie Thill\", \"city\": \"Wiltz\", \"lat\": 49.96, \"lng\": 5.93}\n{\"domain\": \"example.lu\", \"phone\": \"+352 26 00 00\"}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = import(&db, &jsonl, &["--source", "fair"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 new, 1 updated"), "{stdout}");
    let (phone, lat): (Option<String>, Option<f64>) = sqlx::query_as(
        "SELECT (SELECT phone FROM prospects WHERE domain_name = 'example.lu'), (SELECT location_lat FROM prospects WHERE business_name = 'Épicerie Thill')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(phone.as_deref(), Some("+352 26 00 00"));
    assert_eq!(lat, Some(49.96));
}

#[tokio::test]
async fn an_unreadable_file_is_an_error_that_imports_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, "foo,bar\n1,2\n").unwrap();
    let (code, _, stderr) = import(&db, &file, &[]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no usable column"), "{stderr}");
    let (code, _, stderr) = import(&db, &dir.path().join("missing.csv"), &[]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert_eq!(count(&pool, "SELECT count(*) FROM prospects").await, 0);
}

#[tokio::test]
async fn an_imported_lead_keeps_its_url_phone_in_e164_and_says_it_has_a_website() {
    // Arrange
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    std::fs::write(
        &file,
        "domain,name,phone,country\n\
         http://Example.com/fr/,Example,+352 26 12 34 56,LU\n\
         plain.lu,Plain,26 12 34 56,LU\n\
         shop.lu/boutique?lang=fr,Shop,call us at 1,LU\n",
    )
    .unwrap();

    // Act
    let (code, stdout, stderr) = import(&db, &file, &[]).await;

    // Assert
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let rows: Vec<(String, Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT domain_name, website_url, phone_e164, website_status FROM prospects ORDER BY domain_name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                "example.com".to_owned(),
                Some("http://example.com/fr/".to_owned()),
                Some("+35226123456".to_owned()),
                "existing".to_owned()
            ),
            (
                "plain.lu".to_owned(),
                Some("https://plain.lu".to_owned()),
                Some("+35226123456".to_owned()),
                "existing".to_owned()
            ),
            (
                "shop.lu".to_owned(),
                Some("https://shop.lu/boutique?lang=fr".to_owned()),
                None,
                "existing".to_owned()
            ),
        ]
    );

    // A second import of the bare domain keeps the URL it was given first.
    std::fs::write(&file, "domain\nexample.com\n").unwrap();
    let (code, _, stderr) = import(&db, &file, &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let url: Option<String> =
        sqlx::query_scalar("SELECT website_url FROM prospects WHERE domain_name = 'example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(url.as_deref(), Some("http://example.com/fr/"));
}
