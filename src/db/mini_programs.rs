//! The `mini_programs` table: programs, their global update mode and revision.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

use super::dialect::Dialect;
use super::rows::{MiniProgramRow, UpdateModeChangeRow, new_id, now, search_form};
use super::schema::{mini_programs, update_mode_changes};
use super::{Conn, StorageError, Tx};
use crate::domain::{
    MiniProgram, NewMiniProgram, ProgramFilter, UpdateMode, UpdateTimers, VersionNumber,
};

/// Position in the listing order (case-insensitive name, then id), for
/// keyset pagination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramKey {
    pub name: String,
    pub id: String,
}

impl ProgramKey {
    pub fn of(program: &MiniProgram) -> Self {
        Self {
            name: search_form(&program.name),
            id: program.id.clone(),
        }
    }
}

#[diesel::dsl::auto_type]
fn in_workspace<'a>(workspace_id: &'a str, id: &'a str) -> _ {
    mini_programs::table
        .filter(mini_programs::id.eq(id))
        .filter(mini_programs::workspace_id.eq(workspace_id))
}

/// Reads a program of the workspace and locks it for the rest of the transaction.
pub async fn lock(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<MiniProgram>, StorageError> {
    let row = on_backend!(tx, |conn| conn.lock_program(workspace_id, id).await?);
    row.map(MiniProgram::try_from).transpose()
}

/// The workspace's programs that pass `filter`, as a boxed query per backend.
macro_rules! filtered_programs {
    ($workspace_id:expr, $filter:expr) => {{
        let filter: &ProgramFilter = $filter;
        let mut query = mini_programs::table
            .filter(mini_programs::workspace_id.eq($workspace_id))
            .into_boxed();
        if let Some(program_type) = filter.program_type {
            query = query.filter(mini_programs::program_type.eq(program_type.as_str()));
        }
        if let Some(channel) = filter.channel {
            query = query.filter(mini_programs::channel.eq(channel.as_str()));
        }
        if let Some(mode) = filter.update_mode {
            query = query.filter(mini_programs::update_mode.eq(mode.as_str()));
        }
        if let Some(text) = &filter.name_contains {
            query = query.filter(
                mini_programs::search_name
                    .like(contains_pattern(text))
                    .escape('\\'),
            );
        }
        query
    }};
}

/// A LIKE pattern that matches `text` literally anywhere.
pub(super) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in search_form(text).chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub async fn find(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<MiniProgram>, StorageError> {
    let row = on_backend!(conn, |conn| {
        in_workspace(workspace_id, id)
            .select(MiniProgramRow::as_select())
            .first(conn)
            .await
            .optional()?
    });
    row.map(MiniProgram::try_from).transpose()
}

pub async fn count(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    filter: &ProgramFilter,
) -> Result<i64, StorageError> {
    Ok(on_backend!(conn, |conn| {
        filtered_programs!(workspace_id, filter)
            .count()
            .get_result::<i64>(conn)
            .await?
    }))
}

/// Creates a program at `DEFAULT`, revision 1. A name whose key is already
/// used in the workspace fails as a unique violation.
pub async fn insert(tx: &mut Tx<'_>, program: NewMiniProgram) -> Result<MiniProgram, StorageError> {
    let at = now();
    let row = MiniProgramRow {
        id: new_id(),
        search_name: search_form(&program.name.text),
        workspace_id: program.workspace_id,
        name: program.name.text,
        program_type: program.program_type.as_str().to_owned(),
        channel: program.channel.as_str().to_owned(),
        update_mode: UpdateMode::Default.as_str().to_owned(),
        revision: 1,
        created_at: at,
        updated_at: at,
        async_update_seconds: UpdateTimers::default().async_update_seconds,
        sync_update_seconds: UpdateTimers::default().sync_update_seconds,
        policy_revision: 1,
        minimum_version: None,
    };
    let inserted = on_backend!(tx, |conn| {
        diesel::insert_into(mini_programs::table)
            .values((&row, mini_programs::name_key.eq(&program.name.key)))
            .returning(MiniProgramRow::as_returning())
            .get_result(conn)
            .await?
    });
    MiniProgram::try_from(inserted)
}

/// Sets the global update mode at `revision` and keeps the history entry
/// of the change.
pub async fn change_update_mode(
    tx: &mut Tx<'_>,
    program: &MiniProgram,
    previous_mode: UpdateMode,
    mode: UpdateMode,
    revision: i32,
    changed_by: &str,
) -> Result<MiniProgram, StorageError> {
    let at = now();
    let row = on_backend!(tx, |conn| {
        diesel::insert_into(update_mode_changes::table)
            .values(UpdateModeChangeRow {
                mini_program_id: program.id.clone(),
                revision,
                previous_mode: previous_mode.as_str().to_owned(),
                mode: mode.as_str().to_owned(),
                changed_by: changed_by.to_owned(),
                changed_at: at,
            })
            .execute(conn)
            .await?;
        diesel::update(mini_programs::table.find(&program.id))
            .set((
                mini_programs::update_mode.eq(mode.as_str()),
                mini_programs::revision.eq(revision),
                mini_programs::updated_at.eq(at),
            ))
            .returning(MiniProgramRow::as_returning())
            .get_result(conn)
            .await?
    });
    MiniProgram::try_from(row)
}

/// Sets (or clears) a program's minimum usable version at `revision`.
pub async fn set_minimum_version(
    tx: &mut Tx<'_>,
    program: &MiniProgram,
    version: Option<VersionNumber>,
    revision: i32,
) -> Result<MiniProgram, StorageError> {
    let row = on_backend!(tx, |conn| {
        diesel::update(mini_programs::table.find(&program.id))
            .set((
                mini_programs::minimum_version.eq(version.map(|v| v.to_string())),
                mini_programs::revision.eq(revision),
                mini_programs::updated_at.eq(now()),
            ))
            .returning(MiniProgramRow::as_returning())
            .get_result(conn)
            .await?
    });
    MiniProgram::try_from(row)
}

/// Sets a program's update timers and raises its revision.
pub async fn set_timers(
    tx: &mut Tx<'_>,
    program: &MiniProgram,
    timers: UpdateTimers,
) -> Result<MiniProgram, StorageError> {
    let row = on_backend!(tx, |conn| {
        diesel::update(mini_programs::table.find(&program.id))
            .set((
                mini_programs::async_update_seconds.eq(timers.async_update_seconds),
                mini_programs::sync_update_seconds.eq(timers.sync_update_seconds),
                mini_programs::revision.eq(program.revision + 1),
                mini_programs::updated_at.eq(now()),
            ))
            .returning(MiniProgramRow::as_returning())
            .get_result(conn)
            .await?
    });
    MiniProgram::try_from(row)
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(contains_pattern("Shop"), "%shop%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern("' OR 1=1--"), "%' or 1=1--%");
    }
}
