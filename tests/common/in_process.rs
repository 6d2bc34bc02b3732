//! A server in the test's own runtime, built through the library entry
//! point and plugin interface that an embedding application would use, so
//! that the test can add plugins and count the SQL statements it runs.

use std::ops::Deref;
use std::time::Duration;

use super::database::TestDatabase;
use super::server::{Settings, TestServer};
use super::tokens::{AUDIENCE, ISSUER, SECRET};
use super::wait::eventually;

/// Derefs to a `TestServer`, so every helper that takes one takes it too.
pub struct InProcessServer {
    server: TestServer,
    database: update_mode::db::Database,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl InProcessServer {
    pub async fn start(
        db: &TestDatabase,
        settings: Settings,
        plugins: update_mode::app::Plugins,
    ) -> InProcessServer {
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
        // Check-ins flush and prune in the background: statement counts
        // keep them out of the way unless a test sets its own interval.
        if !settings
            .env
            .iter()
            .any(|(name, _)| name == "CHECKIN_FLUSH_SECONDS")
        {
            args.extend(["--checkin-flush-seconds", "3600"].map(String::from));
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
        InProcessServer {
            server: TestServer {
                url,
                stdout: Vec::new(),
                child: None,
                // It logs to the test's own output.
                log: db.dir().join("in-process.log"),
                http: reqwest::Client::new(),
            },
            database,
            stop: Some(stop),
        }
    }

    /// How many SQL statements the server has run, once background work
    /// (deliveries, snapshot refreshes after notifications) has settled.
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

    /// How many SQL statements the server has run.
    pub fn statements_executed(&self) -> u64 {
        self.database.statements_executed()
    }
}

impl Deref for InProcessServer {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
