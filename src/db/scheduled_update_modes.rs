//! The `scheduled_update_mode_changes` table: update-mode windows, and the
//! leases under which one process at a time applies a window's start or end.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

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
    tx.schedule_changed();
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
    tx.schedule_changed();
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

leased_work!(
    windows,
    lock_due_windows,
    WindowRow,
    ScheduledUpdateModeChange,
    "update-mode windows whose start or end"
);

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
