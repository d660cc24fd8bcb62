//! The test harness of Prospector's integration tests (`tests/api/`) and of
//! the devkit's own: a fresh, migrated database per test (cloned from a
//! template migrated once), the real application on it, real processes, and
//! helpers that read the queue's state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a harness fails loudly on purpose

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    path::PathBuf,
    process::Stdio,
    time::Duration,
};

use prospector::{
    application::Application,
    config::{Settings, Sources},
};
use prospector_jobs::{Handler, Job, JobContext, Stage, WorkerSettings};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio::{net::TcpListener, sync::OnceCell};

/// `postgres://user@host:port` of the test server (no database).
pub fn server_url() -> String {
    std::env::var("PROSPECTOR_PG_BASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A template database with every migration applied, made once per schema.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut hasher = DefaultHasher::new();
            for m in prospector_jobs::MIGRATOR.iter() {
                m.version.hash(&mut hasher);
                m.checksum.hash(&mut hasher);
            }
            for m in apalis_postgres::PostgresStorage::migrations().iter() {
                m.version.hash(&mut hasher);
                m.checksum.hash(&mut hasher);
            }
            let name = format!("prospector_tpl_{:016x}", hasher.finish());
            let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
                .await
                .expect("the test PostgreSQL server answers (set PROSPECTOR_PG_BASE_URL)");
            // Several test binaries may start at once.
            admin.execute("SELECT pg_advisory_lock(727272)").await.unwrap();
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if !exists {
                let building = format!("{name}_building");
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {building} WITH (FORCE)"
                    )))
                    .await
                    .unwrap();
                admin
                    .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
                    .await
                    .unwrap();
                let pool = PgPool::connect(&format!("{}/{building}", server_url()))
                    .await
                    .unwrap();
                prospector::db::migrate(&pool)
                    .await
                    .expect("migrations apply to an empty database");
                pool.close().await;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "ALTER DATABASE {building} RENAME TO {name}"
                    )))
                    .await
                    .unwrap();
            }
            admin.execute("SELECT pg_advisory_unlock(727272)").await.unwrap();
            admin.close().await.ok();
            name
        })
        .await
}

/// A fresh database for one test.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl TestDb {
    /// Clone the migrated template into a new database.
    pub async fn new() -> Self {
        let template = template().await;
        let name = format!("prospector_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} TEMPLATE {template}"
            )))
            .await
            .unwrap();
        admin.close().await.ok();
        Self {
            url: format!("{}/{name}", server_url()),
            name,
        }
    }

    /// An empty database (no migrations).
    pub async fn empty() -> Self {
        let name = format!("prospector_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        admin.close().await.ok();
        Self {
            url: format!("{}/{name}", server_url()),
            name,
        }
    }

    /// A pool on it.
    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    /// Drop the database (and any connection still on it), so runs leave
    /// nothing behind and never touch another run's databases.
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = format!("{}/postgres", server_url());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&url).await.ok()?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("note: could not drop test database {}", self.name);
        }
    }
}

/// The admin token every test app uses.
pub const TOKEN: &str = "test-admin-token-0123456789";

/// The settings every test uses, in the app and in spawned processes:
/// fast queue timings and the admin token.
pub const TEST_ENV: [(&str, &str); 8] = [
    ("PROSPECTOR__ADMIN__TOKEN", TOKEN),
    ("PROSPECTOR__QUEUE__POLL_INTERVAL", "200ms"),
    ("PROSPECTOR__QUEUE__HEARTBEAT_INTERVAL", "1s"),
    ("PROSPECTOR__QUEUE__MISSED_HEARTBEATS", "3"),
    ("PROSPECTOR__QUEUE__WORKER_GIVE_UP_AFTER", "4s"),
    ("PROSPECTOR__QUEUE__SHUTDOWN_GRACE", "5s"),
    ("PROSPECTOR__DATABASE__MAX_CONNECTIONS", "10"),
    ("PROSPECTOR__LOG__FILTER", "info"),
];

/// Settings for tests: the given database and [`TEST_ENV`].
pub fn settings(database_url: &str) -> Settings {
    let mut env: std::collections::HashMap<String, String> = TEST_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert("DATABASE_URL".into(), database_url.into());
    Settings::load(&Sources {
        env,
        ..Sources::default()
    })
    .expect("test settings are valid")
}

/// Settings of a test-only queue.
pub fn test_queue(max_attempts: u32, backoff_base: Duration) -> WorkerSettings {
    WorkerSettings {
        workers: 1,
        concurrency: 4,
        batch_size: 4,
        max_attempts,
        priority: 0,
        timeout: Duration::from_secs(10),
        backoff_base,
        backoff_max: backoff_base * 8,
    }
}

/// The application on a fresh database, with its admin API on a random port.
pub struct TestApp {
    /// Kept so the database lives as long as the app.
    _db: TestDb,
    /// The application.
    pub app: Application,
    /// `http://127.0.0.1:port`
    pub address: String,
    /// An HTTP client.
    pub http: reqwest::Client,
}

impl TestApp {
    /// The body of GET /metrics (no token needed).
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Spawn with default test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawn after adjusting settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        init_tracing();
        let db = TestDb::new().await;
        let mut settings = settings(&db.url);
        adjust(&mut settings);
        let pool = db.pool().await;
        let app = Application::with_pool(settings, pool);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let server = app.clone();
        tokio::spawn(async move { server.serve_admin(listener).await });
        Self {
            _db: db,
            app,
            address,
            http: reqwest::Client::new(),
        }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.app.pool
    }

    /// Workers of `stages`, running until the app is dropped.
    pub fn start_workers(&self, stages: &[Stage]) {
        let pool = self.app.worker_pool(stages).expect("the stages can start");
        tokio::spawn(pool.run());
    }

    /// Workers of a test-only queue whose settings were added with
    /// [`Settings::add_queue`], running until the app is dropped.
    pub fn start_queue<H: Handler>(&self, deps: H::Deps) {
        let mut pool = self.app.bare_worker_pool();
        pool.spawn_queue::<H>(deps);
        tokio::spawn(pool.run());
    }

    /// A context to call a handler directly (first and only attempt).
    pub fn job_context(&self) -> JobContext {
        JobContext::new(self.app.pool.clone(), self.app.enqueuer.clone(), "01TESTJOB")
    }

    /// Enqueue one job now; returns its id (panics when it was already queued).
    pub async fn enqueue<J: Job>(&self, job: &J) -> String {
        let mut conn = self.pool().acquire().await.unwrap();
        let enqueued = self.app.enqueuer.enqueue(&mut conn, job).await.unwrap();
        enqueued.job_id().expect("a new job").to_owned()
    }

    /// GET with the admin token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// POST with the admin token.
    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.app.shutdown.trigger();
        self.app.shutdown.abort.cancel();
    }
}

/// Logs only with TEST_LOG set.
pub fn init_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .with_test_writer()
            .try_init();
    }
}

/// Wait for a condition, polling, up to `limit`; panics with `what`.
pub async fn wait_for<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Send a signal to a child process.
pub fn signal(child: &tokio::process::Child, signal: nix::sys::signal::Signal) {
    let pid = child.id().expect("the child is running");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
}

/// Count rows with a runtime query (test tables are not in the schema the
/// query macros check against).
pub async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap()
}

/// A job row's state, as the queue sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobState {
    /// `Pending`, `Queued`, `Running`, `Done`, `Failed`, `Killed`.
    pub status: String,
    /// Runs so far.
    pub attempts: i32,
    /// Runs allowed.
    pub max_attempts: i32,
    /// The last result (`{"Err": …}` or `{"Ok": …}`).
    pub last_result: Option<serde_json::Value>,
}

/// The state of job `id`.
pub async fn job_state(pool: &PgPool, id: &str) -> JobState {
    sqlx::query_as("SELECT status, attempts, max_attempts, last_result FROM apalis.jobs WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The payloads of `J`'s queue, oldest first.
pub async fn enqueued<J: Job>(pool: &PgPool) -> Vec<J> {
    let rows: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT job FROM apalis.jobs WHERE job_type = $1 ORDER BY run_at, id")
            .bind(J::QUEUE)
            .fetch_all(pool)
            .await
            .unwrap();
    rows.iter()
        .map(|payload| serde_json::from_slice(payload).expect("a payload of its queue"))
        .collect()
}

/// Assert that `J`'s queue holds exactly one job matching `matches`, and return it.
pub async fn assert_enqueued<J: Job + std::fmt::Debug>(pool: &PgPool, matches: impl Fn(&J) -> bool) -> J {
    let mut found: Vec<J> = enqueued::<J>(pool)
        .await
        .into_iter()
        .filter(|j| matches(j))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one matching {} job, found {found:?}",
        J::QUEUE
    );
    found.remove(0)
}

/// `program` (a Prospector binary) on `database_url` with [`TEST_ENV`] and
/// nothing else from the environment but `PATH`.
pub fn command_of(program: PathBuf, database_url: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .envs(TEST_ENV)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A signed-in console user of a test app: a session cookie and its CSRF
/// token, and a client that does not follow redirects (tests look at them).
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    /// `admin_users.id`.
    pub user_id: uuid::Uuid,
    /// The session cookie's value.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// `http://127.0.0.1:port` of the app.
    pub address: String,
    /// A client without redirects.
    pub http: reqwest::Client,
}

/// A client that shows redirects instead of following them.
pub fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client builds")
}

/// The password of accounts made by [`TestApp::console_user`].
pub const CONSOLE_PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// A new account with `role`, signed in.
    pub async fn console_user(&self, email: &str, role: prospector::console::Role) -> ConsoleUser {
        use prospector::console::{sessions, users};
        let user_id = users::create(self.pool(), email, None, role, CONSOLE_PASSWORD.into())
            .await
            .expect("the account is created");
        let session = sessions::open(self.pool(), user_id, self.app.admin_state().session_lifetimes())
            .await
            .expect("the session opens");
        ConsoleUser {
            user_id,
            cookie: session.cookie,
            csrf: session.csrf_token,
            address: self.address.clone(),
            http: no_redirect_client(),
        }
    }
}

impl ConsoleUser {
    /// The `Cookie` header of this session.
    pub fn cookie_header(&self) -> String {
        format!("{}={}", prospector::console::sessions::COOKIE, self.cookie)
    }

    /// GET `path` with the session.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("the console answers")
    }

    /// GET `path` and return the status and the body.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// POST `fields` as a form to `path`, with the session's CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POST `fields` as a form to `path`, exactly as given (no CSRF token
    /// added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields))
            .send()
            .await
            .expect("the console answers")
    }
}

/// `k=v&…`, URL-encoded.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}
