//! The `update_mode_changes` table: one entry per accepted change of a
//! program's global update mode, keyed by the revision it produced.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::UpdateModeChangeRow;
use super::schema::update_mode_changes;
use super::{Conn, StorageError};
use crate::domain::UpdateModeChange;

/// Up to `limit` changes of a program before revision `before`, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    program_id: &str,
    before: Option<i32>,
    limit: i64,
) -> Result<Vec<UpdateModeChange>, StorageError> {
    let rows: Vec<UpdateModeChangeRow> = on_backend!(conn, |conn| {
        let mut query = update_mode_changes::table
            .filter(update_mode_changes::mini_program_id.eq(program_id))
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(update_mode_changes::revision.lt(before));
        }
        query
            .order(update_mode_changes::revision.desc())
            .limit(limit)
            .select(UpdateModeChangeRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter().map(UpdateModeChange::try_from).collect()
}

pub async fn count(conn: &mut Conn<'_>, program_id: &str) -> Result<i64, StorageError> {
    Ok(on_backend!(conn, |conn| {
        update_mode_changes::table
            .filter(update_mode_changes::mini_program_id.eq(program_id))
            .count()
            .get_result::<i64>(conn)
            .await?
    }))
}
