//! The test harness: the real `update-mode` binary on 127.0.0.1:0, a fresh
//! SQLite file or a fresh PostgreSQL database per server, real HS256 tokens
//! and a GraphQL client over HTTP.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod identity_provider;
pub mod live;
pub mod own_postgres;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-of-the-update-mode-suite-0123456789";
pub const ISSUER: &str = "https://idp.example.test";
pub const AUDIENCE: &str = "update-mode";
pub const WORKSPACE: &str = "acme";
pub const OTHER_WORKSPACE: &str = "globex";

/// Every test runs once per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each test once and runs it on SQLite and on PostgreSQL; the
/// PostgreSQL half is ignored, with the reason, when TEST_DATABASE_URL is unset.
#[macro_export]
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $backend = $crate::common::Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(test_database), ignore = "set TEST_DATABASE_URL to run against PostgreSQL")]
                async fn $name() {
                    let $backend = $crate::common::Backend::Postgres;
                    $body
                }
            )*
        }
    };
}

/// A database made for one test and removed after it.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("update-mode.db").display());
                TestDatabase {
                    url,
                    postgres: None,
                    dir,
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL")
                    .expect("TEST_DATABASE_URL must name a PostgreSQL server for these tests");
                let name = format!("update_mode_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = AsyncPgConnection::establish(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = replace_database(&admin_url, &name);
                TestDatabase {
                    url,
                    postgres: Some((admin_url, name)),
                    dir,
                }
            }
        }
    }

    /// Runs SQL straight on the database, past the application, to set up
    /// states that the API would never produce.
    pub async fn execute(&self, sql: &str) {
        match &self.postgres {
            Some(_) => {
                let mut conn = AsyncPgConnection::establish(&self.url)
                    .await
                    .expect("connect");
                diesel::sql_query(sql)
                    .execute(&mut conn)
                    .await
                    .expect("execute");
            }
            None => {
                use diesel::Connection as _;
                use diesel::connection::SimpleConnection as _;
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn = diesel::SqliteConnection::establish(path).expect("open");
                conn.batch_execute(sql).expect("execute");
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// A database on a server of the test's own (see `own_postgres`).
    pub fn on(url: String) -> Self {
        TestDatabase {
            url,
            postgres: None,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A folder that lives as long as the database (for DATA_DIR).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any async context: a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&admin_url).await?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database: {dropped:?}");
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// How a test server is configured beyond the defaults.
#[derive(Clone, Default)]
pub struct Settings {
    /// Leave JWT_SECRET unset: development mode.
    pub dev_mode: bool,
    /// A key setting (e.g. `JWT_JWKS_URL`) in place of JWT_SECRET.
    pub jwt_keys: Option<(String, String)>,
    pub env: Vec<(String, String)>,
}

impl Settings {
    /// The suite's settings plus the variables `env`.
    pub fn with_env(env: &[(&str, &str)]) -> Settings {
        Settings {
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            ..Settings::default()
        }
    }
}

/// A running `update-mode serve` (a process, or a server in the test's own
/// runtime with plugins of the test's), stopped when dropped.
pub struct TestServer {
    pub url: String,
    pub stdout: Vec<String>,
    child: Option<Child>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The database handle of an in-process server.
    database: Option<update_mode::db::Database>,
    log: PathBuf,
    http: reqwest::Client,
}

impl TestServer {
    /// A server with the suite's JWT settings on a fresh database.
    pub async fn start(backend: Backend) -> (TestServer, TestDatabase) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, Settings::default()).await;
        (server, db)
    }

    pub async fn start_on(db: &TestDatabase, settings: Settings) -> TestServer {
        let log = db
            .dir()
            .join(format!("server-{}.log", uuid::Uuid::now_v7().simple()));
        let mut command = server_command(db, &settings);
        command.arg("serve");
        command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        let mut child = command.spawn().expect("start update-mode");
        let stdout = child.stdout.take().expect("stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Waiting blocks a thread, so that several servers can start at once.
        let started = tokio::task::spawn_blocking(move || {
            let mut printed = Vec::new();
            while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(60)) {
                if let Some(url) = line.strip_prefix("update-mode listening on ") {
                    return Some((url.to_owned(), printed));
                }
                printed.push(line);
            }
            None
        })
        .await
        .expect("wait for the server");
        let Some((url, printed)) = started else {
            let _ = child.kill();
            panic!(
                "update-mode did not start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        TestServer {
            url,
            stdout: printed,
            child: Some(child),
            stop: None,
            database: None,
            log,
            http: reqwest::Client::new(),
        }
    }

    /// A server in this test's runtime, built through the same library entry
    /// point and plugin interface that an embedding application would use.
    pub async fn start_with_plugins(
        db: &TestDatabase,
        settings: Settings,
        plugins: update_mode::app::Plugins,
    ) -> TestServer {
        let mut args = vec![
            "update-mode".to_owned(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--database-url".into(),
            db.url.clone(),
            "--data-dir".into(),
            db.dir().join("data").display().to_string(),
        ];
        if !settings.dev_mode {
            args.extend(
                [
                    "--jwt-secret",
                    SECRET,
                    "--jwt-issuer",
                    ISSUER,
                    "--jwt-audience",
                    AUDIENCE,
                ]
                .map(String::from),
            );
        }
        for (name, value) in &settings.env {
            args.push(format!("--{}", name.to_lowercase().replace('_', "-")));
            args.push(value.clone());
        }
        let cli = <update_mode::config::Cli as clap::Parser>::try_parse_from(args)
            .expect("server arguments");
        let server = update_mode::app::start(
            update_mode::app::ServerSettings {
                serve: cli.serve,
                database: cli.database,
                auth: cli.auth,
                hooks: cli.hooks,
                launch: cli.launch,
                api: cli.api,
                subscriptions: cli.subscriptions,
            },
            plugins,
        )
        .await
        .expect("start the server");
        let url = format!("http://{}", server.address());
        let database = server.database().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        TestServer {
            url,
            stdout: Vec::new(),
            child: None,
            stop: Some(stop),
            database: Some(database),
            log: db.dir().join("in-process.log"),
            http: reqwest::Client::new(),
        }
    }

    /// How many SQL statements an in-process server has run, once background
    /// work (deliveries, snapshot refreshes after notifications) has settled.
    pub async fn settled_statements(&self) -> u64 {
        eventually(
            Duration::from_secs(5),
            "background work to settle",
            || async {
                let count = self.statements_executed();
                tokio::time::sleep(Duration::from_millis(200)).await;
                (self.statements_executed() == count).then_some(count)
            },
        )
        .await
    }

    /// How many SQL statements an in-process server has run.
    pub fn statements_executed(&self) -> u64 {
        self.database
            .as_ref()
            .expect("an in-process server")
            .statements_executed()
    }

    /// Asks the server process to stop (SIGTERM) and returns at once.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("a server process").id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the server process to exit, for at most `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut().expect("a server process");
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Kills the server process at once (SIGKILL): no shutdown, no cleanup.
    pub fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Runs a GraphQL operation with a bearer token.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Gql {
        let response = self
            .http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("POST /graphql");
        Gql::read(response).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `app` on `listener` until the returned sender is used or dropped.
pub fn serve_in_background(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    stop
}

/// Starts `update-mode serve` with `env` on a SQLite file that must not come
/// to exist, expects it to refuse to start, and returns what it said.
pub fn refused_start(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_update-mode"));
    command.args(["serve", "--listen", "127.0.0.1:0"]).env(
        "DATABASE_URL",
        format!("sqlite://{}/x.db", dir.path().display()),
    );
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("update-mode serve");
    assert!(!output.status.success(), "the server started");
    assert!(
        !dir.path().join("x.db").exists(),
        "touched the database before refusing"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `update-mode` with the suite's configuration and nothing from the
/// environment that could change it.
pub fn server_command(db: &TestDatabase, settings: &Settings) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_update-mode"));
    for name in [
        "DATABASE_URL",
        "DATABASE_POOL_SIZE",
        "DATA_DIR",
        "JWT_SECRET",
        "JWT_PUBLIC_KEY_FILE",
        "JWT_JWKS_FILE",
        "JWT_JWKS_URL",
        "JWT_ISSUER",
        "JWT_AUDIENCE",
        "LISTEN_ADDR",
        "SKIP_MIGRATIONS",
    ] {
        command.env_remove(name);
    }
    command
        .env("DATABASE_URL", &db.url)
        .env("DATA_DIR", db.dir().join("data"))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    if !settings.dev_mode {
        let (name, value) = settings
            .jwt_keys
            .clone()
            .unwrap_or_else(|| ("JWT_SECRET".into(), SECRET.into()));
        command
            .env(name, value)
            .env("JWT_ISSUER", ISSUER)
            .env("JWT_AUDIENCE", AUDIENCE);
    }
    for (name, value) in &settings.env {
        command.env(name, value);
    }
    command
}

/// The claims of a valid token for `subject` in `workspace`; tests alter them.
pub fn claims(workspace: &str, roles: &[&str]) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({
        "sub": format!("{}-user", roles.first().map_or("no-role", |r| r).to_lowercase()),
        "workspace_id": workspace,
        "roles": roles,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
    })
}

pub fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, SECRET.as_bytes(), claims)
}

pub fn sign_with(algorithm: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign token")
}

pub fn token(workspace: &str, roles: &[&str]) -> String {
    sign(&claims(workspace, roles))
}

pub fn admin() -> String {
    token(WORKSPACE, &["WORKSPACE_ADMIN"])
}

pub fn developer() -> String {
    token(WORKSPACE, &["DEVELOPER"])
}

pub fn viewer() -> String {
    token(WORKSPACE, &["VIEWER"])
}

pub fn approver() -> String {
    token(WORKSPACE, &["RELEASE_APPROVER"])
}

/// A GraphQL response with its HTTP status.
#[derive(Debug, Clone)]
pub struct Gql {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Gql {
    pub async fn read(response: reqwest::Response) -> Gql {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("not JSON (HTTP {status}): {text}"));
        Gql {
            status,
            headers,
            body,
        }
    }

    /// The data of a response that must have no errors.
    pub fn data(&self) -> &Value {
        assert_eq!(self.status, 200, "HTTP status of {}", self.body);
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The first error, which must exist.
    pub fn error(&self) -> &Value {
        let error = &self.body["errors"][0];
        assert!(error.is_object(), "expected an error, got {}", self.body);
        error
    }

    pub fn code(&self) -> &str {
        self.error()["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without a code: {}", self.body))
    }
}

/// Creates a program through the API and returns its id.
pub async fn create_program(
    server: &TestServer,
    name: &str,
    program_type: &str,
    channel: &str,
) -> String {
    create_program_as(server, &admin(), name, program_type, channel).await
}

pub async fn create_program_as(
    server: &TestServer,
    token: &str,
    name: &str,
    program_type: &str,
    channel: &str,
) -> String {
    let response = server
        .gql(
            token,
            "mutation($input: CreateMiniProgramInput!) { createMiniProgram(input: $input) { miniProgram { id } } }",
            json!({ "input": { "name": name, "type": program_type, "channel": channel } }),
        )
        .await;
    response.data()["createMiniProgram"]["miniProgram"]["id"]
        .as_str()
        .expect("program id")
        .to_owned()
}

pub async fn create_dsl_program(server: &TestServer, name: &str) -> String {
    create_program(server, name, "DSL", "WORKSPACE").await
}

/// Creates a version through the API and returns its id.
pub async fn create_version(server: &TestServer, program_id: &str, version: &str) -> String {
    let response = server
        .gql(
            &developer(),
            "mutation($input: CreateMiniProgramVersionInput!) { createMiniProgramVersion(input: $input) { miniProgramVersion { id } } }",
            json!({ "input": { "miniProgramId": program_id, "version": version } }),
        )
        .await;
    response.data()["createMiniProgramVersion"]["miniProgramVersion"]["id"]
        .as_str()
        .expect("version id")
        .to_owned()
}

pub const UPDATE_MODE: &str = "mutation($input: UpdateModeInput!) {
    updateMode(input: $input) {
        miniProgram { id updateMode revision }
        previousMode changed
        affectedVersions { id version status updateMode updateModeSource }
    }
}";

pub async fn update_mode(server: &TestServer, token: &str, program_id: &str, mode: &str) -> Gql {
    server
        .gql(
            token,
            UPDATE_MODE,
            json!({ "input": { "miniProgramId": program_id, "mode": mode } }),
        )
        .await
}

pub const SUBMIT: &str = "mutation($id: ID!) {
    submitVersionForReleaseApproval(input: { versionId: $id }) {
        miniProgramVersion { id version status updateMode updateModeSource submittedAt }
    }
}";

pub async fn submit(server: &TestServer, token: &str, version_id: &str) -> Gql {
    server.gql(token, SUBMIT, json!({ "id": version_id })).await
}

/// Approves or rejects a version waiting for approval, with the comment "ok".
pub async fn decide(server: &TestServer, token: &str, version: &str, decision: &str) {
    server
        .gql(
            token,
            "mutation($id: ID!, $d: ReleaseDecision!) { decideRelease(input: { versionId: $id, decision: $d, comment: \"ok\" }) { miniProgramVersion { id } } }",
            json!({ "id": version, "d": decision }),
        )
        .await
        .data();
}

pub const RELEASE: &str = "mutation($id: ID!, $g: Int) {
    releaseVersion(input: { versionId: $id, grayPercentage: $g }) { miniProgramVersion { id } }
}";

/// Releases a version as a workspace admin: to `gray` percent, or fully.
pub async fn release(server: &TestServer, version: &str, gray: Option<i32>) {
    server
        .gql(&admin(), RELEASE, json!({ "id": version, "g": gray }))
        .await
        .data();
}

/// What a program looks like now: mode, revision and history, as an admin
/// reads them. Refusal tests compare it before and after.
pub async fn program_state(server: &TestServer, program_id: &str) -> Value {
    program_state_as(server, &admin(), program_id).await
}

/// A program's state as read with `token`.
pub async fn program_state_as(server: &TestServer, token: &str, program_id: &str) -> Value {
    let response = server
        .gql(
            token,
            "query($id: ID!) { miniProgram(id: $id) {
                updateMode revision updatedAt
                updateModeHistory(first: 100) { totalCount nodes { previousMode mode changedBy revision changedAt } }
                versions(first: 100) { totalCount nodes { id version status updateMode updateModeSource submittedAt grayPercentage decidedAt decidedBy decisionComment releasedAt } }
            } }",
            json!({ "id": program_id }),
        )
        .await;
    response.data()["miniProgram"].clone()
}

/// Polls `check` until it gives a value or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: String,
    pub status: u16,
}

impl Received {
    pub fn webhook_id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }

    /// The body, after checking the signature as any Standard Webhooks
    /// library does.
    pub fn verified(&self, secret: &str) -> Value {
        standardwebhooks::Webhook::new(secret)
            .expect("a Standard Webhooks secret")
            .verify(self.body.as_bytes(), &self.headers)
            .expect("a valid signature");
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: std::sync::Mutex<Vec<Received>>,
    failures_left: std::sync::atomic::AtomicUsize,
}

/// A webhook receiver on 127.0.0.1, as a partner would run one.
pub struct Receiver {
    pub url: String,
    state: std::sync::Arc<ReceiverState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(address: std::net::SocketAddr) -> Receiver {
        use axum::routing::post;
        let state = std::sync::Arc::new(ReceiverState::default());
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route(
                "/hooks",
                post(
                    |axum::extract::State(state): axum::extract::State<
                        std::sync::Arc<ReceiverState>,
                    >,
                     headers: http::HeaderMap,
                     body: String| async move {
                        use std::sync::atomic::Ordering;
                        let failing = state
                            .failures_left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                                left.checked_sub(1)
                            })
                            .is_ok();
                        let status = if failing { 500 } else { 204 };
                        state.received.lock().unwrap().push(Received {
                            headers,
                            body,
                            status,
                        });
                        http::StatusCode::from_u16(status).unwrap()
                    },
                ),
            )
            // A redirect to the real endpoint, which senders must not follow.
            .route(
                "/moved",
                post(|| async {
                    (
                        http::StatusCode::TEMPORARY_REDIRECT,
                        [(http::header::LOCATION, "/hooks")],
                    )
                }),
            )
            .with_state(state.clone());
        let stop = serve_in_background(listener, app);
        Receiver {
            url,
            state,
            stop: Some(stop),
        }
    }

    /// Answers the next `count` requests with HTTP 500.
    pub fn fail_next(&self, count: usize) {
        self.state
            .failures_left
            .store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every request so far, answered or not.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The requests answered with success.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.status < 300)
            .collect()
    }

    /// Waits until `count` requests were answered with success.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        eventually(
            Duration::from_secs(30),
            &format!("{count} deliveries"),
            || async {
                let delivered = self.delivered();
                (delivered.len() >= count).then_some(delivered)
            },
        )
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub const REGISTER: &str = "mutation($input: RegisterReleaseIntegrationInput!) {
    registerReleaseIntegration(input: $input) { integration { id name url events active } secret }
}";

/// Registers an integration for every event; returns its id and secret.
pub async fn register_integration(server: &TestServer, url: &str) -> (String, String) {
    let events = [
        "UPDATE_MODE_CHANGED",
        "VERSION_SUBMITTED_FOR_RELEASE_APPROVAL",
        "VERSION_APPROVED",
        "VERSION_REJECTED",
        "VERSION_RELEASED",
        "VERSION_OFFLINE",
    ];
    let response = server
        .gql(
            &admin(),
            REGISTER,
            json!({ "input": { "name": "Review desk", "url": url, "events": events } }),
        )
        .await;
    let created = &response.data()["registerReleaseIntegration"];
    (
        created["integration"]["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// The delivery log of an integration, oldest first.
pub async fn deliveries(server: &TestServer, integration: &str) -> Vec<Value> {
    let response = server
        .gql(
            &admin(),
            "{ releaseIntegrations { id deliveries(first: 100) { nodes { eventId eventType status attempts lastError nextAttemptAt deliveredAt } } } }",
            json!({}),
        )
        .await;
    let integrations = response.data()["releaseIntegrations"]
        .as_array()
        .unwrap()
        .clone();
    let integration = integrations
        .into_iter()
        .find(|i| i["id"] == integration)
        .expect("the integration");
    let mut nodes = integration["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    nodes.reverse();
    nodes
}
