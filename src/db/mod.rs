//! Storage: the connection pool for SQLite or PostgreSQL, the embedded
//! migrations, and one repository module per table. Repositories only store:
//! they take a connection or a transaction from `Database::read` or
//! `Database::write`, and `on_backend!` expands each query body for both
//! backends, so no query is written twice; where the backends differ is in
//! `dialect`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::Connection as _;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::FutureExt;

#[macro_use]
mod connection;
#[macro_use]
mod dialect;
#[macro_use]
mod leases;

pub mod audit_log;
pub mod check_ins;
pub mod client_keys;
mod error;
pub mod hook_deliveries;
pub mod hook_events;
pub mod launch_policies;
mod migrations;
pub mod mini_programs;
mod name_keys;
pub mod outbox;
pub mod persisted_queries;
pub mod program_pages;
pub mod rate_limits;
pub mod release_gates;
pub mod release_integrations;
pub mod rollouts;
mod rows;
pub mod scheduled_update_modes;
pub mod schema;
pub mod update_mode_changes;
pub mod versions;

pub use connection::{Committed, Conn, Owed, Tx};
pub use error::StorageError;

/// SQLite through diesel's synchronous driver, run on tokio's blocking pool.
pub type SqliteConnection = SyncConnectionWrapper<diesel::SqliteConnection>;

/// How long a SQLite writer waits for another one before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

#[derive(Clone)]
pub enum Pools {
    Sqlite {
        pool: Pool<SqliteConnection>,
        /// SQLite has one writer; its busy handler retries a waiting writer
        /// after sleeps of up to 100 ms, so under steady writes a writer
        /// could lose the race for seconds. The writers of this process take
        /// turns here instead, first come first served, and only a writer of
        /// another process is left to the busy timeout.
        writer: Arc<tokio::sync::Mutex<()>>,
    },
    Postgres(Pool<AsyncPgConnection>),
}

/// Where the data lives, as named by `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite database file.
    Sqlite(String),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                format!(
                    "unsupported database URL {:?}: use sqlite://PATH or postgres://...",
                    redact(url)
                )
            })?;
        if path.is_empty() {
            return Err("the SQLite URL names no file (sqlite://PATH)".into());
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// The location without a password, for logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite file {path}"),
            Self::Postgres(url) => format!("PostgreSQL {}", redact(url)),
        }
    }
}

/// Hides the password of a URL like `postgres://user:secret@host/db`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The application's database: a pool of connections to one backend.
#[derive(Clone)]
pub struct Database {
    pools: Pools,
    location: Arc<DatabaseLocation>,
    statements: Arc<AtomicU64>,
}

/// A snapshot of the connection pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub max: usize,
    pub in_use: usize,
    pub idle: usize,
    pub waiting: usize,
}

/// Counts the statements a connection runs, through diesel's instrumentation.
struct StatementCounter(Arc<AtomicU64>);

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Database {
    /// Builds the pool; connections are opened on first use.
    pub fn connect(location: DatabaseLocation, pool_size: usize) -> Result<Self, StorageError> {
        let statements = Arc::new(AtomicU64::new(0));
        let pools = match &location {
            DatabaseLocation::Sqlite(path) => {
                if let Some(folder) = Path::new(path)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(folder).map_err(|error| {
                        StorageError::Unavailable(format!(
                            "cannot create {}: {error}",
                            folder.display()
                        ))
                    })?;
                }
                let mut config = pool_config();
                let counter = statements.clone();
                config.custom_setup = Box::new(move |path| {
                    let counter = counter.clone();
                    async move {
                        let mut conn = open_sqlite(path.to_owned()).await?;
                        conn.set_instrumentation(StatementCounter(counter));
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::new_with_config(path, config);
                Pools::Sqlite {
                    pool: build_pool(manager, pool_size)?,
                    writer: Arc::default(),
                }
            }
            DatabaseLocation::Postgres(url) => {
                let mut config = pool_config();
                let counter = statements.clone();
                config.custom_setup = Box::new(move |url| {
                    let counter = counter.clone();
                    async move {
                        let mut conn = AsyncPgConnection::establish(url).await?;
                        conn.set_instrumentation(StatementCounter(counter));
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::new_with_config(url, config);
                Pools::Postgres(build_pool(manager, pool_size)?)
            }
        };
        Ok(Self {
            pools,
            location: Arc::new(location),
            statements,
        })
    }

    /// How the pool's connections are used right now.
    pub fn pool_status(&self) -> PoolStatus {
        let status = match &self.pools {
            Pools::Sqlite { pool, .. } => pool.status(),
            Pools::Postgres(pool) => pool.status(),
        };
        PoolStatus {
            max: status.max_size,
            in_use: status.size.saturating_sub(status.available),
            idle: status.available,
            waiting: status.waiting,
        }
    }

    /// How many statements this process has run on the pool so far.
    pub fn statements_executed(&self) -> u64 {
        AtomicU64::load(&self.statements, Ordering::Relaxed)
    }

    pub fn location(&self) -> &DatabaseLocation {
        &self.location
    }

    fn pool(&self) -> &Pools {
        &self.pools
    }

    /// Succeeds when a connection can run a statement.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.read(async |conn| {
            on_backend!(conn, |conn| {
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
                    .get_result::<i32>(conn)
                    .await?;
            });
            Ok(())
        })
        .await
    }

    /// Applies the embedded migrations that this database has not seen yet and
    /// returns their names; then fills the name keys SQL could not compute.
    pub async fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let applied = migrations::run_pending(&self.location).await?;
        let filled = name_keys::fill_missing(self).await?;
        if filled > 0 {
            tracing::info!(rows = filled, "filled the name keys of existing rows");
        }
        Ok(applied)
    }
}

/// Connections are not pinged when checked out: that was one more round trip
/// per use. A connection whose server went away reports itself broken and is
/// dropped, or fails the one statement that finds out (SERVICE_UNAVAILABLE).
fn pool_config<C: AsyncConnection + 'static>() -> ManagerConfig<C> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config
}

fn build_pool<C>(
    manager: AsyncDieselConnectionManager<C>,
    size: usize,
) -> Result<Pool<C>, StorageError>
where
    C: diesel_async::pooled_connection::PoolableConnection + 'static,
    AsyncDieselConnectionManager<C>:
        deadpool::managed::Manager<Type = C, Error = diesel_async::pooled_connection::PoolError>,
{
    Pool::builder(manager)
        .max_size(size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .build()
        .map_err(|error| StorageError::Unavailable(error.to_string()))
}

/// Opens a SQLite connection set up for concurrent use: WAL lets readers run
/// beside the one writer, the busy timeout makes writers queue instead of
/// failing, and foreign keys are off by default in SQLite.
async fn open_sqlite(path: String) -> diesel::ConnectionResult<SqliteConnection> {
    let conn = tokio::task::spawn_blocking(move || diesel::SqliteConnection::establish(&path))
        .await
        .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))??;
    let mut conn = SqliteConnection::new(conn);
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;"
    ))
    .await
    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            DatabaseLocation::parse("sqlite://data/update-mode.db"),
            Ok(DatabaseLocation::Sqlite("data/update-mode.db".into()))
        );
        assert_eq!(
            DatabaseLocation::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseLocation::Sqlite("/tmp/x.db".into()))
        );
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db"] {
            assert_eq!(
                DatabaseLocation::parse(url),
                Ok(DatabaseLocation::Postgres(url.into()))
            );
        }
        assert!(DatabaseLocation::parse("mysql://h/db").is_err());
        assert!(DatabaseLocation::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_stay_out_of_descriptions() {
        let location = DatabaseLocation::parse("postgres://app:s3cret@db:5432/prod").unwrap();
        assert_eq!(
            location.describe(),
            "PostgreSQL postgres://app:***@db:5432/prod"
        );
        assert!(
            !format!(
                "{:?}",
                DatabaseLocation::parse("mysql://a:s3cret@h").unwrap_err()
            )
            .contains("s3cret")
        );
    }
}
