//! The real `update-mode serve` process on 127.0.0.1:0 for one test, with
//! the suite's JWT settings and nothing from the environment, and a GraphQL
//! client for it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use super::database::{Backend, TestDatabase};
use super::gql::Gql;
use super::tokens::{AUDIENCE, ISSUER, SECRET};

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

/// A running server, stopped when dropped: a process, or (see `in_process`)
/// a server in the test's own runtime.
pub struct TestServer {
    pub url: String,
    /// What the process printed before it said where it listens.
    pub stdout: Vec<String>,
    pub(super) child: Option<Child>,
    pub(super) log: PathBuf,
    pub(super) http: reqwest::Client,
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
            log,
            http: reqwest::Client::new(),
        }
    }

    /// Kills the server process at once (SIGKILL): no shutdown, no cleanup.
    pub fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the server logged so far.
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
        // A failing test shows what its server said.
        if std::thread::panicking() {
            eprintln!(
                "server {} printed:\n{}\nand logged:\n{}",
                self.url,
                self.stdout.join("\n"),
                self.log()
            );
        }
    }
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
