//! Write transactions that serialize conflicting writers on both backends.

use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection, TransactionManager};

use super::{SqliteConnection, StorageError};

/// A connection that can open a transaction in which reads are followed by
/// writes without another writer slipping in between.
pub trait WriteConnection: AsyncConnection + Send {
    fn begin_write(&mut self) -> impl Future<Output = QueryResult<()>> + Send;
}

impl WriteConnection for AsyncPgConnection {
    /// PostgreSQL locks rows as the transaction touches them (`FOR UPDATE`).
    async fn begin_write(&mut self) -> QueryResult<()> {
        <Self as AsyncConnection>::TransactionManager::begin_transaction(self).await
    }
}

impl WriteConnection for SqliteConnection {
    /// SQLite's default deferred transaction fails with "database is locked"
    /// when it upgrades from read to write under contention; `IMMEDIATE` takes
    /// the write lock at once and waits for it within the busy timeout.
    async fn begin_write(&mut self) -> QueryResult<()> {
        self.spawn_blocking(|conn| {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                conn,
                "BEGIN IMMEDIATE",
            )
        })
        .await
    }
}

/// Ends the transaction that `begin_write` opened: commits an `Ok` outcome,
/// rolls back an `Err` one.
pub async fn finish<C, R>(conn: &mut C, outcome: Result<R, StorageError>) -> Result<R, StorageError>
where
    C: WriteConnection,
{
    match outcome {
        Ok(value) => {
            C::TransactionManager::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback_error) = C::TransactionManager::rollback_transaction(conn).await {
                // The pool discards a connection left inside a transaction, so
                // the caller's error is the one worth reporting.
                tracing::warn!(error = %rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}
