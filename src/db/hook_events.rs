//! The outbox's events read back in commit order, for live subscribers: on
//! PostgreSQL by the sequence each notification names, on SQLite (one
//! writer at a time, so sequence order is commit order) after the last one
//! seen.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::{EventRow, stored_event};
use super::schema::hook_events;
use super::{Conn, StorageError};
use crate::hooks::event::StoredEvent;

/// The sequence of the newest event; 0 when there is none.
pub async fn latest_sequence(conn: &mut Conn<'_>) -> Result<i64, StorageError> {
    let latest: Option<i64> = on_backend!(conn, |conn| {
        hook_events::table
            .select(diesel::dsl::max(hook_events::sequence))
            .first(conn)
            .await?
    });
    Ok(latest.unwrap_or(0))
}

/// Up to `limit` events after `sequence`, oldest first.
pub async fn after(
    conn: &mut Conn<'_>,
    sequence: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, StorageError> {
    let rows: Vec<EventRow> = on_backend!(conn, |conn| {
        hook_events::table
            .filter(hook_events::sequence.gt(sequence))
            .order(hook_events::sequence.asc())
            .limit(limit)
            .select(EventRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter().map(stored_event).collect()
}

/// The event with this sequence, if it committed.
pub async fn by_sequence(
    conn: &mut Conn<'_>,
    sequence: i64,
) -> Result<Option<StoredEvent>, StorageError> {
    let row: Option<EventRow> = on_backend!(conn, |conn| {
        hook_events::table
            .filter(hook_events::sequence.eq(sequence))
            .select(EventRow::as_select())
            .first(conn)
            .await
            .optional()?
    });
    row.map(stored_event).transpose()
}
