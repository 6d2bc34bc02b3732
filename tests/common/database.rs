//! The database of one test: a fresh SQLite file, or a fresh PostgreSQL
//! database on `TEST_DATABASE_URL` that is dropped after the test, and the
//! macro that runs each test on both.

use std::path::Path;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

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
    /// The server's admin URL and the database's name, when this test
    /// created the database there and must drop it.
    created_on: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("update-mode.db").display());
                TestDatabase {
                    url,
                    created_on: None,
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
                let mut database = TestDatabase::at(replace_database(&admin_url, &name));
                database.created_on = Some((admin_url, name));
                database
            }
        }
    }

    /// A database that exists already (e.g. on a server of the test's own,
    /// see `own_postgres`), left in place afterwards.
    pub fn at(url: String) -> Self {
        TestDatabase {
            url,
            created_on: None,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// Runs SQL straight on the database, past the application, to set up
    /// states that the API would never produce.
    pub async fn execute(&self, sql: &str) {
        if self.is_postgres() {
            let mut conn = AsyncPgConnection::establish(&self.url)
                .await
                .expect("connect");
            diesel::sql_query(sql)
                .execute(&mut conn)
                .await
                .expect("execute");
        } else {
            use diesel::Connection as _;
            use diesel::connection::SimpleConnection as _;
            let path = self.url.trim_start_matches("sqlite://");
            let mut conn = diesel::SqliteConnection::establish(path).expect("open");
            conn.batch_execute(sql).expect("execute");
        }
    }

    /// A folder that lives as long as the database (for DATA_DIR and logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.created_on.take() else {
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
