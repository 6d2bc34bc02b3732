//! The `mini_programs` table: programs, their global update mode and revision.

use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

use super::audit_log;
use super::launch_policies::{PolicyChange, PolicySignal};
use super::outbox::{EventSink, announce};
use super::rows::{MiniProgramRow, UpdateModeChangeRow, new_id, now, search_form};
use super::schema::{mini_program_versions, mini_programs, update_mode_changes};
use super::versions::versions_with_global_mode;
use super::{Database, SqliteConnection, StorageError, rows};
use crate::domain::{
    AuditContext, DomainEvent, MiniProgram, MiniProgramChannel, MiniProgramType,
    MiniProgramVersion, NewMiniProgram, RuleViolation, UpdateMode, UpdateModeDecision,
    UpdateTimers, VersionStatus,
};

/// Which programs of a workspace a listing shows; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct ProgramFilter {
    pub program_type: Option<MiniProgramType>,
    pub channel: Option<MiniProgramChannel>,
    pub update_mode: Option<UpdateMode>,
    /// Matched case-insensitively anywhere in the name.
    pub name_contains: Option<String>,
}

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

/// What a change of the global update mode did, read in its transaction.
#[derive(Debug, Clone)]
pub struct UpdateModeOutcome {
    pub program: MiniProgram,
    pub decision: UpdateModeDecision,
    /// The program's New Version Created versions, which execute the mode now.
    pub affected_versions: Vec<MiniProgramVersion>,
}

/// Reads a program for a write that depends on what it reads.
pub(super) trait LockProgram {
    fn lock_program(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> impl Future<Output = QueryResult<Option<MiniProgramRow>>> + Send;
}

impl LockProgram for AsyncPgConnection {
    async fn lock_program(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<MiniProgramRow>> {
        in_workspace(workspace_id, id)
            .select(MiniProgramRow::as_select())
            .for_update()
            .first(self)
            .await
            .optional()
    }
}

impl LockProgram for SqliteConnection {
    /// The `IMMEDIATE` transaction already holds the database's write lock.
    async fn lock_program(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<MiniProgramRow>> {
        in_workspace(workspace_id, id)
            .select(MiniProgramRow::as_select())
            .first(self)
            .await
            .optional()
    }
}

#[diesel::dsl::auto_type]
fn in_workspace<'a>(workspace_id: &'a str, id: &'a str) -> _ {
    mini_programs::table
        .filter(mini_programs::id.eq(id))
        .filter(mini_programs::workspace_id.eq(workspace_id))
}

/// Reads a program of the workspace and locks it for the rest of the transaction.
pub(super) async fn lock<C: LockProgram>(
    conn: &mut C,
    workspace_id: &str,
    id: &str,
) -> Result<Option<MiniProgram>, StorageError> {
    conn.lock_program(workspace_id, id)
        .await?
        .map(MiniProgram::try_from)
        .transpose()
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
fn contains_pattern(text: &str) -> String {
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
    db: &Database,
    workspace_id: &str,
    id: &str,
) -> Result<Option<MiniProgram>, StorageError> {
    let row = with_connection!(db, |conn| {
        in_workspace(workspace_id, id)
            .select(MiniProgramRow::as_select())
            .first(conn)
            .await
            .optional()?
    });
    row.map(MiniProgram::try_from).transpose()
}

/// Up to `limit` programs after `after`, ordered by name (ignoring case)
/// then id.
pub async fn list(
    db: &Database,
    workspace_id: &str,
    filter: &ProgramFilter,
    after: Option<&ProgramKey>,
    limit: i64,
) -> Result<Vec<MiniProgram>, StorageError> {
    let rows: Vec<MiniProgramRow> = with_connection!(db, |conn| {
        let mut query = filtered_programs!(workspace_id, filter);
        if let Some(after) = after {
            query = query.filter(
                mini_programs::search_name
                    .gt(&after.name)
                    .or(mini_programs::search_name
                        .eq(&after.name)
                        .and(mini_programs::id.gt(&after.id))),
            );
        }
        query
            .order((mini_programs::search_name.asc(), mini_programs::id.asc()))
            .limit(limit)
            .select(MiniProgramRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter().map(MiniProgram::try_from).collect()
}

pub async fn count(
    db: &Database,
    workspace_id: &str,
    filter: &ProgramFilter,
) -> Result<i64, StorageError> {
    Ok(with_connection!(db, |conn| {
        filtered_programs!(workspace_id, filter)
            .count()
            .get_result::<i64>(conn)
            .await?
    }))
}

/// Creates a program at `DEFAULT`, revision 1. A name already used in the
/// workspace is refused.
pub async fn insert(
    db: &Database,
    program: NewMiniProgram,
    audit: &AuditContext,
) -> Result<MiniProgram, StorageError> {
    let at = now();
    let row = MiniProgramRow {
        id: new_id(),
        search_name: search_form(&program.name),
        workspace_id: program.workspace_id,
        name: program.name,
        program_type: program.program_type.as_str().to_owned(),
        channel: program.channel.as_str().to_owned(),
        update_mode: UpdateMode::Default.as_str().to_owned(),
        revision: 1,
        created_at: at,
        updated_at: at,
        async_update_seconds: UpdateTimers::default().async_update_seconds,
        sync_update_seconds: UpdateTimers::default().sync_update_seconds,
        policy_revision: 1,
    };
    let inserted = in_write_transaction!(db, |conn| {
        let inserted = diesel::insert_into(mini_programs::table)
            .values(&row)
            .returning(MiniProgramRow::as_returning())
            .get_result(conn)
            .await?;
        let program = MiniProgram::try_from(inserted)?;
        conn.policy_changed(&PolicyChange::Program(row.id.clone()))
            .await?;
        audit_log::record(conn, audit, None, Some(&program)).await?;
        Ok(program)
    });
    match inserted {
        Ok(program) => Ok(program),
        Err(error) if error.is_unique_violation() => {
            Err(RuleViolation::NameTaken { name: row.name }.into())
        }
        Err(error) => Err(error),
    }
}

/// Changes the global update mode as `decide` rules on the locked program of
/// the acting workspace:
/// the new mode, the next revision and a history entry are written together,
/// with the events the change announces, or nothing is. `None` when the
/// workspace has no such program.
pub async fn change_update_mode(
    db: &Database,
    id: &str,
    decide: impl FnOnce(&MiniProgram) -> Result<UpdateModeDecision, RuleViolation> + Send,
    sink: &dyn EventSink,
    events: impl FnOnce(&UpdateModeOutcome) -> Vec<DomainEvent> + Send,
    audit: &AuditContext,
) -> Result<Option<UpdateModeOutcome>, StorageError> {
    in_write_transaction!(db, |conn| {
        let Some(before) = lock(conn, &audit.workspace_id, id).await? else {
            return Ok(None);
        };
        let decision = decide(&before)?;
        let program = match decision {
            UpdateModeDecision::Unchanged => before.clone(),
            UpdateModeDecision::Change {
                previous_mode,
                mode,
                revision,
            } => {
                let at = now();
                diesel::insert_into(update_mode_changes::table)
                    .values(UpdateModeChangeRow {
                        mini_program_id: before.id.clone(),
                        revision,
                        previous_mode: previous_mode.as_str().to_owned(),
                        mode: mode.as_str().to_owned(),
                        changed_by: audit.actor.clone(),
                        changed_at: at,
                    })
                    .execute(conn)
                    .await?;
                let row = diesel::update(mini_programs::table.find(&before.id))
                    .set((
                        mini_programs::update_mode.eq(mode.as_str()),
                        mini_programs::revision.eq(revision),
                        mini_programs::updated_at.eq(at),
                    ))
                    .returning(MiniProgramRow::as_returning())
                    .get_result(conn)
                    .await?;
                conn.policy_changed(&PolicyChange::Program(row.id.clone()))
                    .await?;
                MiniProgram::try_from(row)?
            }
        };
        let affected = versions_with_global_mode!()
            .filter(mini_program_versions::mini_program_id.eq(&program.id))
            .filter(mini_program_versions::status.eq(VersionStatus::NewVersionCreated.as_str()))
            .order((
                mini_program_versions::major.desc(),
                mini_program_versions::minor.desc(),
                mini_program_versions::patch.desc(),
            ))
            .load(conn)
            .await?;
        let affected_versions = affected
            .into_iter()
            .map(rows::version_from_row)
            .collect::<Result<_, _>>()?;
        let outcome = UpdateModeOutcome {
            program,
            decision,
            affected_versions,
        };
        announce(conn, sink, events(&outcome)).await?;
        audit_log::record(conn, audit, Some(&before), Some(&outcome.program)).await?;
        Ok(Some(outcome))
    })
}

/// Sets a program's update timers once `check` accepts the change for the
/// locked program; raises its revision. `None` when the workspace has no
/// such program.
pub async fn set_timers(
    db: &Database,
    workspace_id: &str,
    id: &str,
    timers: UpdateTimers,
    check: impl FnOnce(&MiniProgram) -> Result<(), RuleViolation> + Send,
    audit: &AuditContext,
) -> Result<Option<MiniProgram>, StorageError> {
    in_write_transaction!(db, |conn| {
        let Some(program) = lock(conn, workspace_id, id).await? else {
            return Ok(None);
        };
        check(&program)?;
        diesel::update(mini_programs::table.find(&program.id))
            .set((
                mini_programs::async_update_seconds.eq(timers.async_update_seconds),
                mini_programs::sync_update_seconds.eq(timers.sync_update_seconds),
                mini_programs::revision.eq(program.revision + 1),
                mini_programs::updated_at.eq(now()),
            ))
            .execute(conn)
            .await?;
        conn.policy_changed(&PolicyChange::Program(program.id.clone()))
            .await?;
        let row = in_workspace(workspace_id, id)
            .select(MiniProgramRow::as_select())
            .first(conn)
            .await?;
        let after = MiniProgram::try_from(row)?;
        audit_log::record(conn, audit, Some(&program), Some(&after)).await?;
        Ok(Some(after))
    })
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
