//! Where SQLite and PostgreSQL differ, in one place: how a write
//! transaction begins, how rows are locked (`FOR UPDATE` against the
//! immediate transaction's database lock), how other processes are told of
//! a commit (`pg_notify` against nothing), and the statement that claims due
//! deliveries. Everything else
//! is written once, in `on_backend!` bodies.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, TransactionManager};

use chrono::NaiveDateTime;

use super::rows::{IntegrationRow, MiniProgramRow};
use super::schema::{mini_programs, release_integrations, rollouts, scheduled_update_mode_changes};
use super::{Conn, SqliteConnection};

/// Keeps only the first pending delivery of each (target, program) pair, so
/// that each target sees a program's events in the order they committed.
macro_rules! first_pending_of_its_program {
    () => {
        "NOT EXISTS (
          SELECT 1 FROM hook_deliveries e
          WHERE e.target = d.target AND e.mini_program_id = d.mini_program_id
            AND e.status = 'PENDING' AND e.event_sequence < d.event_sequence)"
    };
}

/// Claims due deliveries: takes the lease and counts the attempt. The
/// placeholders and the row locking differ between the backends.
macro_rules! claim_sql {
    (owner: $owner:literal, until: $until:literal, at: $at:literal, at: $at_again:literal, limit: $limit:literal, locking: $locking:literal) => {
        concat!(
            "UPDATE hook_deliveries SET lease_owner = ",
            $owner,
            ", lease_expires_at = ",
            $until,
            ", attempts = attempts + 1 WHERE id IN (
                SELECT d.id FROM hook_deliveries d
                WHERE d.status = 'PENDING' AND d.next_attempt_at <= ",
            $at,
            "
                  AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ",
            $at_again,
            ")
                  AND ",
            first_pending_of_its_program!(),
            "
                ORDER BY d.event_sequence
                LIMIT ",
            $limit,
            " ",
            $locking,
            ")
            RETURNING id"
        )
    };
}

#[diesel::dsl::auto_type]
fn due_rollouts(at: NaiveDateTime, limit: i64) -> _ {
    let running: &'static str = crate::domain::RolloutStatus::Running.as_str();
    rollouts::table
        .filter(rollouts::status.eq(running))
        .filter(rollouts::next_advance_at.le(at))
        .filter(
            rollouts::lease_expires_at
                .is_null()
                .or(rollouts::lease_expires_at.le(at)),
        )
        .order(rollouts::next_advance_at.asc())
        .limit(limit)
        .select(rollouts::id)
}

#[diesel::dsl::auto_type]
fn due_windows(at: NaiveDateTime, limit: i64) -> _ {
    scheduled_update_mode_changes::table
        .filter(scheduled_update_mode_changes::due_at.le(at))
        .filter(
            scheduled_update_mode_changes::lease_expires_at
                .is_null()
                .or(scheduled_update_mode_changes::lease_expires_at.le(at)),
        )
        .order(scheduled_update_mode_changes::due_at.asc())
        .limit(limit)
        .select(scheduled_update_mode_changes::id)
}

/// A backend's connection, with what it does its own way.
pub(super) trait Dialect: AsyncConnection + Send {
    fn as_conn(&mut self) -> Conn<'_>;

    /// The claim statement, with its binds in one order for both: owner,
    /// lease end, now, now again, limit.
    const CLAIM_DUE: &'static str;

    /// Begins a transaction in which reads are followed by writes without
    /// another writer slipping in between.
    fn begin_write(&mut self) -> impl Future<Output = QueryResult<()>> + Send;

    /// Tells every process listening on `channel`, once the transaction
    /// commits.
    fn notify(
        &mut self,
        channel: &'static str,
        payload: String,
    ) -> impl Future<Output = QueryResult<()>> + Send;

    /// Reads a program of the workspace and locks it until the transaction
    /// ends.
    fn lock_program(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> impl Future<Output = QueryResult<Option<MiniProgramRow>>> + Send;

    /// Reads an integration of the workspace and locks it until the
    /// transaction ends.
    fn lock_integration(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> impl Future<Output = QueryResult<Option<IntegrationRow>>> + Send;

    /// The ids of running plans whose next step is due at `at` and that no
    /// process holds, locked until the transaction ends.
    fn lock_due_rollouts(
        &mut self,
        at: NaiveDateTime,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<String>>> + Send;

    /// The ids of update-mode windows whose start or end is due at `at`
    /// and that no process holds, locked until the transaction ends.
    fn lock_due_windows(
        &mut self,
        at: NaiveDateTime,
        limit: i64,
    ) -> impl Future<Output = QueryResult<Vec<String>>> + Send;
}

#[diesel::dsl::auto_type]
fn program_of<'a>(workspace_id: &'a str, id: &'a str) -> _ {
    mini_programs::table
        .filter(mini_programs::id.eq(id))
        .filter(mini_programs::workspace_id.eq(workspace_id))
}

#[diesel::dsl::auto_type]
fn integration_of<'a>(workspace_id: &'a str, id: &'a str) -> _ {
    release_integrations::table
        .filter(release_integrations::id.eq(id))
        .filter(release_integrations::workspace_id.eq(workspace_id))
}

impl Dialect for AsyncPgConnection {
    fn as_conn(&mut self) -> Conn<'_> {
        Conn::Postgres(self)
    }

    /// Rows another process is claiming are skipped, not waited for.
    const CLAIM_DUE: &'static str = claim_sql!(owner: "$1", until: "$2", at: "$3", at: "$4", limit: "$5", locking: "FOR UPDATE SKIP LOCKED");

    /// PostgreSQL locks rows as the transaction reads them (`lock_rows`).
    async fn begin_write(&mut self) -> QueryResult<()> {
        <Self as AsyncConnection>::TransactionManager::begin_transaction(self).await
    }

    /// NOTIFY is delivered on commit, in commit order, to every listening
    /// process; a rolled-back transaction sends nothing.
    async fn notify(&mut self, channel: &'static str, payload: String) -> QueryResult<()> {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(channel)
            .bind::<diesel::sql_types::Text, _>(payload)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn lock_program(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<MiniProgramRow>> {
        program_of(workspace_id, id)
            .select(MiniProgramRow::as_select())
            .for_update()
            .first(self)
            .await
            .optional()
    }

    async fn lock_integration(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<IntegrationRow>> {
        integration_of(workspace_id, id)
            .select(IntegrationRow::as_select())
            .for_update()
            .first(self)
            .await
            .optional()
    }

    /// Plans another process is claiming are skipped, not waited for.
    async fn lock_due_rollouts(
        &mut self,
        at: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<String>> {
        due_rollouts(at, limit)
            .for_update()
            .skip_locked()
            .load(self)
            .await
    }

    /// Windows another process is claiming are skipped, not waited for.
    async fn lock_due_windows(
        &mut self,
        at: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<String>> {
        due_windows(at, limit)
            .for_update()
            .skip_locked()
            .load(self)
            .await
    }
}

impl Dialect for SqliteConnection {
    fn as_conn(&mut self) -> Conn<'_> {
        Conn::Sqlite(self)
    }

    /// The immediate transaction already excludes other writers.
    const CLAIM_DUE: &'static str =
        claim_sql!(owner: "?", until: "?", at: "?", at: "?", limit: "?", locking: "");

    /// SQLite's default deferred transaction fails with "database is locked"
    /// when it upgrades from read to write under contention; `IMMEDIATE`
    /// takes the write lock at once and waits for it within the busy
    /// timeout.
    async fn begin_write(&mut self) -> QueryResult<()> {
        self.spawn_blocking(|conn| {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                conn,
                "BEGIN IMMEDIATE",
            )
        })
        .await
    }

    /// SQLite serves one process, which reads what changed after its own
    /// commits.
    async fn notify(&mut self, _channel: &'static str, _payload: String) -> QueryResult<()> {
        Ok(())
    }

    /// The `IMMEDIATE` transaction already holds the database's write lock.
    async fn lock_program(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<MiniProgramRow>> {
        program_of(workspace_id, id)
            .select(MiniProgramRow::as_select())
            .first(self)
            .await
            .optional()
    }

    /// The `IMMEDIATE` transaction already holds the database's write lock.
    async fn lock_integration(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<IntegrationRow>> {
        integration_of(workspace_id, id)
            .select(IntegrationRow::as_select())
            .first(self)
            .await
            .optional()
    }

    /// The `IMMEDIATE` transaction already holds the database's write lock.
    async fn lock_due_rollouts(
        &mut self,
        at: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<String>> {
        due_rollouts(at, limit).load(self).await
    }

    /// The `IMMEDIATE` transaction already holds the database's write lock.
    async fn lock_due_windows(
        &mut self,
        at: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<String>> {
        due_windows(at, limit).load(self).await
    }
}
