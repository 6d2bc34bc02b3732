//! The `scheduled_update_mode_changes` table: update-mode windows, and the
//! leases under which one process at a time applies a window's start or end.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::dialect::Dialect;
use super::rows::{WindowRow, now, utc};
use super::schema::scheduled_update_mode_changes as windows;
use super::{Conn, StorageError, Tx};
use crate::domain::ScheduledUpdateModeChange;

const PENDING: [&str; 2] = ["SCHEDULED", "ACTIVE"];

pub async fn insert(
    tx: &mut Tx<'_>,
    window: &ScheduledUpdateModeChange,
) -> Result<(), StorageError> {
    let row = WindowRow::of(window);
    on_backend!(tx, |conn| {
        diesel::insert_into(windows::table)
            .values(&row)
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Writes the window as it now is, and gives up any lease on it.
pub async fn save(tx: &mut Tx<'_>, window: &ScheduledUpdateModeChange) -> Result<(), StorageError> {
    let row = WindowRow::of(window);
    on_backend!(tx, |conn| {
        diesel::update(windows::table.find(&window.id))
            .set((
                &row,
                windows::lease_owner.eq(None::<String>),
                windows::lease_expires_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// The SCHEDULED and ACTIVE windows of a program, soonest first.
pub async fn pending(
    conn: &mut Conn<'_>,
    program_id: &str,
) -> Result<Vec<ScheduledUpdateModeChange>, StorageError> {
    let rows: Vec<WindowRow> = on_backend!(conn, |conn| {
        windows::table
            .filter(windows::mini_program_id.eq(program_id))
            .filter(windows::status.eq_any(PENDING))
            .order((windows::starts_at.asc(), windows::id.asc()))
            .select(WindowRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter()
        .map(ScheduledUpdateModeChange::try_from)
        .collect()
}

/// A window of the workspace.
pub async fn find(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ScheduledUpdateModeChange>, StorageError> {
    let row: Option<WindowRow> = on_backend!(conn, |conn| {
        windows::table
            .find(id)
            .filter(windows::workspace_id.eq(workspace_id))
            .select(WindowRow::as_select())
            .first(conn)
            .await
            .optional()?
    });
    row.map(ScheduledUpdateModeChange::try_from).transpose()
}

/// Takes the lease on up to `limit` windows whose start or end is due, for
/// `owner` and the length of `lease`: the ids taken.
pub async fn claim_due(
    tx: &mut Tx<'_>,
    owner: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<String>, StorageError> {
    let at = now();
    let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    Ok(on_backend!(tx, |conn| {
        let ids = conn.lock_due_windows(at, limit).await?;
        if !ids.is_empty() {
            diesel::update(windows::table.filter(windows::id.eq_any(&ids)))
                .set((
                    windows::lease_owner.eq(owner),
                    windows::lease_expires_at.eq(until),
                ))
                .execute(conn)
                .await?;
        }
        ids
    }))
}

/// A window whose lease `owner` holds (or held last, if no one took it over).
pub async fn claimed(
    conn: &mut Conn<'_>,
    id: &str,
    owner: &str,
) -> Result<Option<ScheduledUpdateModeChange>, StorageError> {
    let row: Option<WindowRow> = on_backend!(conn, |conn| {
        windows::table
            .find(id)
            .filter(windows::lease_owner.eq(owner))
            .select(WindowRow::as_select())
            .first(conn)
            .await
            .optional()?
    });
    row.map(ScheduledUpdateModeChange::try_from).transpose()
}

/// When the next start or end of a window that no process holds is due.
pub async fn next_due(conn: &mut Conn<'_>) -> Result<Option<DateTime<Utc>>, StorageError> {
    let at = now();
    let due: Option<chrono::NaiveDateTime> = on_backend!(conn, |conn| {
        windows::table
            .filter(
                windows::lease_expires_at
                    .is_null()
                    .or(windows::lease_expires_at.le(at)),
            )
            .select(diesel::dsl::min(windows::due_at))
            .first(conn)
            .await?
    });
    Ok(due.map(utc))
}
