//! The two ways into the database: `Database::read` lends a connection to
//! read on and `Database::write` a write transaction, the only way to write.
//! Repository functions take either (`&mut Conn` for reads, `&mut Tx` for
//! writes), never the pool, so that several of them compose inside one
//! caller's transaction, and SQLite's writers take their turns.

use std::ops::{Deref, DerefMut};

use diesel_async::{AsyncPgConnection, TransactionManager};

use super::dialect::Dialect;
use super::{Database, Pools, SqliteConnection, StorageError};
use crate::launch::PolicyChange;
use crate::send_body::SendBody;

/// A connection of the database's backend.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut AsyncPgConnection),
}

/// Runs `$body` with `$conn` bound to the backend connection of a `Conn`
/// (or of a `Tx`, through its `Conn`). The body is written once and
/// compiled once per backend.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {{
        let conn: &mut $crate::db::Conn<'_> = $conn;
        match conn {
            $crate::db::Conn::Sqlite($c) => {
                let $c: &mut $crate::db::SqliteConnection = $c;
                $body
            }
            $crate::db::Conn::Postgres($c) => {
                let $c: &mut diesel_async::AsyncPgConnection = $c;
                $body
            }
        }
    }};
}

/// A write transaction: a connection on which reads are followed by writes
/// without another writer slipping in between. It keeps what the writes
/// owe after the commit, so that no use case can forget it.
pub struct Tx<'a> {
    conn: Conn<'a>,
    owed: Owed,
}

impl<'a> Deref for Tx<'a> {
    type Target = Conn<'a>;
    fn deref(&self) -> &Conn<'a> {
        &self.conn
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl Tx<'_> {
    /// Notes that deliveries are due once the transaction commits: events
    /// were appended, or a delivery was scheduled again.
    pub(super) fn deliveries_due(&mut self) {
        self.owed.deliveries_due = true;
    }

    /// Notes that work the scheduler applies by itself (a rollout step, a
    /// window) was planned or moved.
    pub(super) fn schedule_changed(&mut self) {
        self.owed.schedule_changed = true;
    }

    /// Notes a change of what launch answers are computed from.
    pub(super) fn changed_policy(&mut self, change: PolicyChange) {
        if !self.owed.policy_changes.contains(&change) {
            self.owed.policy_changes.push(change);
        }
    }
}

/// What a commit owes this process, which other processes learn through
/// the database or at their next poll.
#[derive(Debug, Default)]
pub struct Owed {
    /// Events were appended or a delivery was scheduled: wake the dispatcher
    /// and the live feed.
    pub deliveries_due: bool,
    /// Wake the scheduler.
    pub schedule_changed: bool,
    /// Refresh the launch snapshot for these.
    pub policy_changes: Vec<PolicyChange>,
}

impl Owed {
    fn is_nothing(&self) -> bool {
        !self.deliveries_due && !self.schedule_changed && self.policy_changes.is_empty()
    }
}

/// What a committed write transaction gave, with what it owes after the
/// commit: `Services::after_commit` pays that and hands the value over.
#[must_use = "after_commit wakes the dispatcher and the scheduler, refreshes launch answers and feeds live subscribers"]
pub struct Committed<T> {
    value: T,
    owed: Owed,
}

impl<T> Committed<T> {
    /// The value, and what the commit owes.
    pub fn into_parts(self) -> (T, Owed) {
        (self.value, self.owed)
    }

    /// The value of a write that appended no event, planned nothing and
    /// changed no launch policy (bookkeeping), so that its commit owes
    /// nothing.
    pub fn owing_nothing(self) -> T {
        debug_assert!(
            self.owed.is_nothing(),
            "a write that owes after its commit must go through after_commit"
        );
        self.value
    }
}

impl Database {
    /// Runs `body` on a pooled connection.
    pub async fn read<T, E, F>(&self, body: F) -> Result<T, E>
    where
        for<'r, 'c> F: SendBody<&'r mut Conn<'c>, Result<T, E>, Fut: Send>,
        E: From<StorageError>,
    {
        match self.pool() {
            Pools::Sqlite { pool, .. } => {
                let mut pooled = pool.get().await.map_err(StorageError::from)?;
                body(&mut Conn::Sqlite(&mut pooled)).await
            }
            Pools::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err(StorageError::from)?;
                body(&mut Conn::Postgres(&mut pooled)).await
            }
        }
    }

    /// Runs `body` in a write transaction: committed when it gives `Ok`,
    /// rolled back when it gives `Err`, so a refused change writes nothing.
    pub async fn write<T, E, F>(&self, body: F) -> Result<Committed<T>, E>
    where
        for<'r, 'c> F: SendBody<&'r mut Tx<'c>, Result<T, E>, Fut: Send>,
        E: From<StorageError>,
    {
        match self.pool() {
            Pools::Sqlite { pool, writer } => {
                // The turn is taken before the connection, so that writers
                // waiting for it leave the pool's connections to readers.
                let _turn = writer.lock().await;
                let mut pooled = pool.get().await.map_err(StorageError::from)?;
                transaction(&mut *pooled, body).await
            }
            Pools::Postgres(pool) => {
                let mut pooled = pool.get().await.map_err(StorageError::from)?;
                transaction(&mut *pooled, body).await
            }
        }
    }
}

async fn transaction<C, T, E, F>(conn: &mut C, body: F) -> Result<Committed<T>, E>
where
    C: Dialect,
    for<'r, 'x> F: SendBody<&'r mut Tx<'x>, Result<T, E>, Fut: Send>,
    E: From<StorageError>,
{
    conn.begin_write().await.map_err(StorageError::from)?;
    let mut tx = Tx {
        conn: conn.as_conn(),
        owed: Owed::default(),
    };
    let outcome = body(&mut tx).await;
    let Tx { owed, .. } = tx;
    match outcome {
        Ok(value) => {
            C::TransactionManager::commit_transaction(conn)
                .await
                .map_err(StorageError::from)?;
            Ok(Committed { value, owed })
        }
        Err(error) => {
            if let Err(rollback_error) = C::TransactionManager::rollback_transaction(conn).await {
                // The pool discards a connection left inside a transaction,
                // so the caller's error is the one worth reporting.
                tracing::warn!(error = %rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::super::{Database, DatabaseLocation, StorageError};

    async fn write(db: &Database, sql: &'static str) {
        use diesel_async::RunQueryDsl;
        db.write(async |tx| {
            on_backend!(tx, |conn| {
                diesel::sql_query(sql).execute(conn).await?;
            });
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap()
        .owing_nothing();
    }

    /// SQLite's busy handler leaves a waiting writer asleep (up to 100 ms a
    /// time) while writers that come later take the lock, so under steady
    /// writes an updateMode could wait for seconds. Here a writer waits only
    /// for the writers that came before it.
    #[tokio::test]
    async fn sqlite_writers_take_turns_in_the_order_they_came() {
        const WRITERS: usize = 3;
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("turns.db").display().to_string();
        let db = Database::connect(DatabaseLocation::Sqlite(path), WRITERS + 1).unwrap();
        write(&db, "CREATE TABLE turns (turn INTEGER PRIMARY KEY)").await;

        let (committed, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let steady: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (db, committed, stop) = (db.clone(), committed.clone(), stop.clone());
                tokio::spawn(async move {
                    // Bounded, so that a starved writer fails the test
                    // instead of hanging it.
                    for _ in 0..2_000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        write(&db, "INSERT INTO turns DEFAULT VALUES").await;
                        committed.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        // Once the steady writers have the lock busy.
        while committed.load(Ordering::Relaxed) < 50 {
            tokio::task::yield_now().await;
        }
        // Any one turn could go right by luck; ten in a row do not.
        for _ in 0..10 {
            let before = committed.load(Ordering::Relaxed);
            write(&db, "INSERT INTO turns DEFAULT VALUES").await;
            let meanwhile = committed.load(Ordering::Relaxed) - before;
            // At most one write of each steady writer was ahead of it, and
            // one more of each may have been counted late.
            assert!(
                meanwhile <= 2 * WRITERS,
                "{meanwhile} later writes went first"
            );
        }
        stop.store(true, Ordering::Relaxed);
        for writer in steady {
            writer.await.unwrap();
        }
    }
}
