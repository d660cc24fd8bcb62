//! The console's accounts and access: sign-in and out, CSRF, throttling,
//! roles on every route, API tokens, and the activity log of actions.

use prospector::console::Role;
use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::{CONSOLE_PASSWORD, TOKEN, TestApp, command, form_body, no_redirect_client};

/// The value of the first `name="{name}" value="…"` input of a page.
fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

/// `name=value` of a response's Set-Cookie for `name`, with its attributes.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// The login form's token and cookie.
async fn login_form(app: &TestApp, http: &reqwest::Client) -> (String, String) {
    let response = http
        .get(format!("{}/console/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = cookie_value(&set_cookie(&response, "prospector_login").expect("a login cookie"));
    let html = response.text().await.unwrap();
    (hidden_field(&html, "_csrf"), cookie)
}

async fn sign_in(
    app: &TestApp,
    http: &reqwest::Client,
    email: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let (csrf, cookie) = login_form(app, http).await;
    http.post(format!("{}/console/login", app.address))
        .header("cookie", format!("prospector_login={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
            ("next", next),
        ]))
        .send()
        .await
        .unwrap()
}

async fn sessions(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM admin_sessions")
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_account_made_on_the_command_line_signs_in_with_the_form_and_signs_out() {
    let app = TestApp::spawn().await;
    let mut create = command(&app_database_url(&app));
    create
        .args([
            "admin",
            "create-user",
            "--email",
            "Ana@Agency.Example",
            "--role",
            "operator",
            "--name",
            "Ana",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = create.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{CONSOLE_PASSWORD}\n").as_bytes())
            .await
            .unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM admin_users WHERE email = 'ana@agency.example'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains(CONSOLE_PASSWORD));

    let http = no_redirect_client();
    // A page asks for a sign-in first, and remembers where it was going.
    let page = http
        .get(format!("{}/console/activity?action=job.", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let to_login = page.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(
        to_login,
        "/console/login?next=%2Fconsole%2Factivity%3Faction%3Djob."
    );

    let wrong = sign_in(
        &app,
        &http,
        "ana@agency.example",
        "not the password",
        "/console/activity",
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong, "prospector_session").is_none());
    assert!(wrong.text().await.unwrap().contains("Wrong e-mail or password."));
    assert_eq!(sessions(&app).await, 0);

    let right = sign_in(
        &app,
        &http,
        "ANA@agency.example",
        CONSOLE_PASSWORD,
        "/console/activity?action=job.",
    )
    .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()[header::LOCATION], "/console/activity?action=job.");
    let session = set_cookie(&right, "prospector_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attribute), "{attribute} in {session}");
    }
    assert!(
        !session.contains("Secure"),
        "plain http: no Secure flag ({session})"
    );
    let cookie = format!("prospector_session={}", cookie_value(&session));
    let stored_key: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM admin_sessions")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_ne!(
        stored_key,
        cookie_value(&session).into_bytes(),
        "only a digest is stored"
    );

    let account = http
        .get(format!("{}/console/account", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), 200);
    let html = account.text().await.unwrap();
    assert!(html.contains("ana@agency.example") && html.contains("operator"));
    let csrf = hidden_field(&html, "_csrf");

    // Sign-out is a form: without its token it is refused.
    let forged = http
        .post(format!("{}/console/logout", app.address))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("x", "1")]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(sessions(&app).await, 1);
    let out = http
        .post(format!("{}/console/logout", app.address))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("_csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(sessions(&app).await, 0);
    let after = http
        .get(format!("{}/console/account", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the old cookie is worthless"
    );
}

fn app_database_url(app: &TestApp) -> String {
    use secrecy::ExposeSecret;
    app.app.settings.database.url.expose_secret().to_owned()
}

#[tokio::test]
async fn a_login_without_its_form_token_or_to_another_site_goes_nowhere() {
    let app = TestApp::spawn().await;
    app.console_user("ana@agency.example", Role::Viewer).await;
    let http = no_redirect_client();
    // A cross-site form post carries neither the cookie nor the token.
    let forged = http
        .post(format!("{}/console/login", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[
            ("email", "ana@agency.example"),
            ("password", CONSOLE_PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_ne!(forged.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&forged, "prospector_session").is_none());
    assert_eq!(sessions(&app).await, 1, "only the helper's session");
    // `next` never leaves the console.
    for next in [
        "https://evil.example/",
        "//evil.example/console/",
        "/console/\\evil.example",
    ] {
        let response = sign_in(&app, &http, "ana@agency.example", CONSOLE_PASSWORD, next).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/console/", "{next}");
    }
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_even_from_new_addresses() {
    let app = TestApp::spawn_with(|s| s.admin.auth_failures_per_minute = 3).await;
    app.console_user("ana@agency.example", Role::Viewer).await;
    let http = no_redirect_client();
    for _ in 0..3 {
        let r = sign_in(&app, &http, "ana@agency.example", "wrong password!!", "/console/").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = sign_in(&app, &http, "ana@agency.example", CONSOLE_PASSWORD, "/console/").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key(header::RETRY_AFTER));
    assert!(
        set_cookie(&blocked, "prospector_session").is_none(),
        "not even the right password"
    );
}

#[tokio::test]
async fn disabling_an_account_or_changing_its_password_ends_its_sessions_and_tokens() {
    let app = TestApp::spawn().await;
    let ana = app.console_user("ana@agency.example", Role::Operator).await;
    let token = create_token(&ana, "nightly").await;
    assert_eq!(api_get(&app, &token, "/api/status").await, StatusCode::OK);

    let url = app_database_url(&app);
    let out = command(&url)
        .args(["admin", "disable", "--email", "ana@agency.example"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(ana.get("/console/account").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api_get(&app, &token, "/api/status").await,
        StatusCode::UNAUTHORIZED
    );
    let http = no_redirect_client();
    let refused = sign_in(&app, &http, "ana@agency.example", CONSOLE_PASSWORD, "/console/").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // A new password enables the account again; old tokens stay dead.
    let new = command(&url)
        .args([
            "admin",
            "set-password",
            "--email",
            "ana@agency.example",
            "--generate-password",
        ])
        .output()
        .await
        .unwrap();
    assert!(new.status.success(), "{new:?}");
    let stdout = String::from_utf8(new.stdout).unwrap();
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the new password is printed once")
        .to_owned();
    assert_eq!(
        api_get(&app, &token, "/api/status").await,
        StatusCode::UNAUTHORIZED
    );
    let back = sign_in(&app, &http, "ana@agency.example", &password, "/console/").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&back, "prospector_session").is_some());
}

async fn create_token(user: &crate::helpers::ConsoleUser, name: &str) -> String {
    let response = user.post_form("/console/account/tokens", &[("name", name)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let html = response.text().await.unwrap();
    let start =
        html.find("<code id=\"new-token\">").expect("the token is shown") + "<code id=\"new-token\">".len();
    html[start..][..html[start..].find('<').unwrap()].to_owned()
}

async fn api_get(app: &TestApp, token: &str, path: &str) -> StatusCode {
    app.http
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn api_tokens_act_with_their_users_role_until_revoked_and_actions_are_logged() {
    let app = TestApp::spawn().await;
    let viewer = app.console_user("vera@agency.example", Role::Viewer).await;
    let operator = app.console_user("otto@agency.example", Role::Operator).await;
    let read_only = create_token(&viewer, "dashboards").await;
    let acting = create_token(&operator, "cron").await;
    assert!(read_only.starts_with("pk_") && read_only.len() > 40);
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_api_tokens WHERE token_hash = sha256($1::text::bytea)",
    )
    .bind(&read_only)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(stored, 1, "the token is stored as its SHA-256");

    assert_eq!(api_get(&app, &read_only, "/api/status").await, StatusCode::OK);
    let put = |token: String| {
        let http = app.http.clone();
        let url = format!("{}/api/autopilot", app.address);
        async move {
            http.put(url)
                .bearer_auth(token)
                .json(&serde_json::json!({ "enabled": false }))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(put(read_only.clone()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(put(acting.clone()).await.status(), StatusCode::OK);
    assert_eq!(
        put(TOKEN.to_owned()).await.status(),
        StatusCode::OK,
        "the environment token still works"
    );

    let log: Vec<(String, Option<String>, Option<uuid::Uuid>, Value)> = sqlx::query_as(
        "SELECT action, actor_type, actor_id, details FROM activity_log WHERE action = 'autopilot.update' ORDER BY created_at",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].1.as_deref(), Some("user"));
    assert_eq!(log[0].2, Some(operator.user_id));
    assert_eq!(log[0].3["by"], "otto@agency.example");
    assert_eq!(log[0].3["via"], "api_token");
    assert_eq!(log[0].3["enabled"], false);
    assert_eq!(log[1].1.as_deref(), Some("system"));
    assert_eq!(log[1].2, None);

    // The account page lists the token by prefix; revoking it ends it.
    let (_, page) = viewer.page("/console/account").await;
    assert!(page.contains(&read_only[..10]) && !page.contains(&read_only));
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM admin_api_tokens WHERE user_id = $1")
        .bind(viewer.user_id)
        .fetch_one(app.pool())
        .await
        .unwrap();
    let other = operator
        .post_form(&format!("/console/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(
        other.status(),
        StatusCode::NOT_FOUND,
        "nobody revokes another's token"
    );
    let revoked = viewer
        .post_form(&format!("/console/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api_get(&app, &read_only, "/api/status").await,
        StatusCode::UNAUTHORIZED
    );
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM activity_log WHERE action IN ('api_token.create', 'api_token.revoke')",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(logged, 3);
}

/// A concrete path for a route pattern.
fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-0000-0000-000000000000")
        .replace("{name}", "no_such_queue")
}

#[tokio::test]
async fn every_route_of_the_table_refuses_whoever_its_role_does_not_allow() {
    let app = TestApp::spawn().await;
    let table = prospector::admin::route_table();
    assert!(table.len() > 20, "{table:?}");
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let user = app.console_user(&format!("{role}@agency.example"), role).await;
        tokens.push((role, create_token(&user, "walk").await));
    }
    let http = no_redirect_client();
    let mut checked = 0;
    for spec in &table {
        let url = format!("{}{}", app.address, concrete(spec.path));
        let request = |who: Option<(&str, &str)>| {
            let mut r = http.request(spec.method.clone(), &url);
            if let Some((header_name, value)) = who {
                r = r.header(header_name, value);
            }
            r
        };
        let is_api = spec.surface == prospector::console::Surface::Api;
        // Nobody.
        let none = request(None).send().await.unwrap().status();
        let expected_none = if is_api || spec.method != reqwest::Method::GET {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::SEE_OTHER
        };
        assert_eq!(
            none, expected_none,
            "{} {} without a caller",
            spec.method, spec.path
        );
        for role in Role::ALL {
            let status = if is_api {
                let token = &tokens.iter().find(|(r, _)| *r == role).unwrap().1;
                request(Some(("authorization", &format!("Bearer {token}"))))
                    .send()
                    .await
                    .unwrap()
                    .status()
            } else {
                // A fresh session each time: the walk signs out, too.
                let user = app
                    .console_user(&format!("walk-{}-{role}@agency.example", checked), role)
                    .await;
                let mut r = request(Some(("cookie", &user.cookie_header())));
                if spec.method != reqwest::Method::GET {
                    let csrf_less = request(Some(("cookie", &user.cookie_header())))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("x=1")
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert_eq!(
                        csrf_less,
                        StatusCode::FORBIDDEN,
                        "{} {} as {role} without CSRF",
                        spec.method,
                        spec.path
                    );
                    r = r
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(format!("_csrf={}", user.csrf));
                }
                r.send().await.unwrap().status()
            };
            if role.allows(spec.role) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{} {} as {role}: {status}",
                    spec.method,
                    spec.path
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} {} as {role}",
                    spec.method,
                    spec.path
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, table.len() * 3);
    // Nothing outside the table answers as a page.
    let stray = http
        .get(format!("{}/console/no-such-page", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_owner_adds_an_account_whose_one_off_password_signs_in_and_disables_it() {
    let app = TestApp::spawn().await;
    let owner = app.console_user("olga@agency.example", Role::Owner).await;
    let created = owner
        .post_form(
            "/console/users",
            &[
                ("email", "Vic@Agency.Example"),
                ("full_name", "Vic"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(created.status(), 200);
    let html = created.text().await.unwrap();
    let start = html
        .find("<code id=\"new-password\">")
        .expect("the password is shown")
        + "<code id=\"new-password\">".len();
    let password = html[start..][..html[start..].find('<').unwrap()].to_owned();
    let http = no_redirect_client();
    let signed_in = sign_in(&app, &http, "vic@agency.example", &password, "/console/activity").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let role: String = sqlx::query_scalar("SELECT role FROM admin_users WHERE email = 'vic@agency.example'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(role, "viewer");

    let again = owner
        .post_form(
            "/console/users",
            &[("email", "vic@agency.example"), ("role", "owner")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().await.unwrap().contains("already exists"));
    let bad_role = owner
        .post_form(
            "/console/users",
            &[("email", "new@agency.example"), ("role", "admin")],
        )
        .await;
    assert_eq!(bad_role.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_users")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(accounts, 2, "nothing written by the refused forms");

    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM admin_users WHERE email = 'vic@agency.example'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    let cookie = cookie_value(&set_cookie(&signed_in, "prospector_session").unwrap());
    let disabled = owner
        .post_form(&format!("/console/users/{id}/disable"), &[])
        .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    let after = http
        .get(format!("{}/console/activity", app.address))
        .header("cookie", format!("prospector_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the disabled account's session ended"
    );
    let own = owner
        .post_form(&format!("/console/users/{}/disable", owner.user_id), &[])
        .await;
    assert_eq!(own.status(), StatusCode::CONFLICT);
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM activity_log WHERE entity_type = 'admin_user' ORDER BY created_at",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(actions, ["user.create", "user.disable"]);
}
