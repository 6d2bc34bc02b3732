//! The `mini_program_versions` table: versions, their status and the update
//! mode fixed on them at submission.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

use diesel::sql_types::{Array, BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;

use super::rows::{VersionRow, new_id, now, version_from_row};
use super::schema::{mini_program_versions, mini_programs, version_replacements};
use super::{Conn, StorageError, Tx, mini_programs as programs};
use crate::domain::{
    MiniProgram, MiniProgramVersion, ReleaseState, ReleasedVersion, VersionChange, VersionNumber,
    VersionStatus,
};

/// Versions with their program's global mode, which the unsubmitted ones show.
macro_rules! versions_with_global_mode {
    () => {
        mini_program_versions::table
            .inner_join(mini_programs::table)
            .select((
                mini_program_versions::all_columns,
                mini_programs::update_mode,
            ))
    };
}

/// Version numbers of a program, newest first.
macro_rules! newest_first {
    () => {
        (
            mini_program_versions::major.desc(),
            mini_program_versions::minor.desc(),
            mini_program_versions::patch.desc(),
        )
    };
}

/// Finds a version of the workspace, locks its program for the rest of the
/// transaction and reads both as they are under the lock.
pub async fn lock(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<(MiniProgram, MiniProgramVersion)>, StorageError> {
    let program_id: Option<String> = on_backend!(tx, |conn| {
        mini_program_versions::table
            .inner_join(mini_programs::table)
            .filter(mini_program_versions::id.eq(id))
            .filter(mini_programs::workspace_id.eq(workspace_id))
            .select(mini_program_versions::mini_program_id)
            .first::<String>(conn)
            .await
            .optional()?
    });
    let Some(program_id) = program_id else {
        return Ok(None);
    };
    let Some(program) = programs::lock(tx, workspace_id, &program_id).await? else {
        return Ok(None);
    };
    let row = on_backend!(tx, |conn| {
        versions_with_global_mode!()
            .filter(mini_program_versions::id.eq(id))
            .first(conn)
            .await?
    });
    Ok(Some((program, version_from_row(row)?)))
}

/// The columns of a version number, read as `(i32, i32, i32)`.
macro_rules! number_columns {
    () => {
        (
            mini_program_versions::major,
            mini_program_versions::minor,
            mini_program_versions::patch,
        )
    };
}

fn version_number((major, minor, patch): (i32, i32, i32)) -> VersionNumber {
    VersionNumber {
        major,
        minor,
        patch,
    }
}

/// A version as a user creates it: New Version Created, no mode fixed yet.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub number: VersionNumber,
    pub description: Option<String>,
}

pub async fn find(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<MiniProgramVersion>, StorageError> {
    let row = on_backend!(conn, |conn| {
        versions_with_global_mode!()
            .filter(mini_program_versions::id.eq(id))
            .filter(mini_programs::workspace_id.eq(workspace_id))
            .first(conn)
            .await
            .optional()?
    });
    row.map(version_from_row).transpose()
}

/// Up to `limit` versions of a program older than `after`, newest first,
/// only those in `statuses` when it is not empty.
pub async fn list(
    conn: &mut Conn<'_>,
    program_id: &str,
    statuses: &[VersionStatus],
    after: Option<VersionNumber>,
    limit: i64,
) -> Result<Vec<MiniProgramVersion>, StorageError> {
    let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    let rows = on_backend!(conn, |conn| {
        let mut query = versions_with_global_mode!()
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .into_boxed();
        if !statuses.is_empty() {
            query = query.filter(mini_program_versions::status.eq_any(&statuses));
        }
        if let Some(after) = after {
            use mini_program_versions::{major, minor, patch};
            query = query.filter(
                major.lt(after.major).or(major.eq(after.major).and(
                    minor
                        .lt(after.minor)
                        .or(minor.eq(after.minor).and(patch.lt(after.patch))),
                )),
            );
        }
        query.order(newest_first!()).limit(limit).load(conn).await?
    });
    rows.into_iter().map(version_from_row).collect()
}

/// The newest `per_program` versions of each program, in statuses (all when
/// empty): one statement for the ids, ranked per program by a window
/// function, and one to read them, however many programs there are. Sorted
/// by program, then newest first.
pub async fn newest_of_programs(
    conn: &mut Conn<'_>,
    program_ids: &[&str],
    statuses: &[VersionStatus],
    per_program: i64,
) -> Result<Vec<MiniProgramVersion>, StorageError> {
    if program_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ranking = NewestPerProgram::new(program_ids, statuses, per_program);
    let rows = on_backend!(conn, |conn| {
        let ids: Vec<String> = ranking.clone().load(conn).await?;
        versions_with_global_mode!()
            .filter(mini_program_versions::id.eq_any(&ids))
            .order((
                mini_program_versions::mini_program_id.asc(),
                mini_program_versions::major.desc(),
                mini_program_versions::minor.desc(),
                mini_program_versions::patch.desc(),
            ))
            .load(conn)
            .await?
    });
    rows.into_iter().map(version_from_row).collect()
}

/// How many versions in statuses (all when empty) each program has; programs
/// without any are left out.
pub async fn count_of_programs(
    conn: &mut Conn<'_>,
    program_ids: &[&str],
    statuses: &[VersionStatus],
) -> Result<Vec<(String, i64)>, StorageError> {
    let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    Ok(on_backend!(conn, |conn| {
        let mut query = mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq_any(program_ids))
            .group_by(mini_program_versions::mini_program_id)
            .select((
                mini_program_versions::mini_program_id,
                diesel::dsl::count_star(),
            ))
            .into_boxed();
        if !statuses.is_empty() {
            query = query.filter(mini_program_versions::status.eq_any(&statuses));
        }
        query.load(conn).await?
    }))
}

/// The ids of the newest versions of each program. A query type of its own
/// rather than `sql_query`, so that its prepared statement is cached per
/// connection like diesel's own queries, and so that each backend gets the
/// statement its planner serves best.
#[derive(Debug, Clone, QueryId)]
struct NewestPerProgram {
    programs: Vec<String>,
    /// Empty means every status.
    statuses: Vec<String>,
    /// The same lists as JSON arrays, the list parameter SQLite reads.
    programs_json: String,
    statuses_json: String,
    per_program: i64,
}

impl NewestPerProgram {
    fn new(programs: &[&str], statuses: &[VersionStatus], per_program: i64) -> Self {
        let programs: Vec<String> = programs.iter().map(|&id| id.to_owned()).collect();
        let statuses: Vec<String> = statuses
            .iter()
            .map(|status| status.as_str().to_owned())
            .collect();
        Self {
            programs_json: serde_json::to_string(&programs).unwrap_or_default(),
            statuses_json: serde_json::to_string(&statuses).unwrap_or_default(),
            programs,
            statuses,
            per_program,
        }
    }
}

impl Query for NewestPerProgram {
    type SqlType = Text;
}

/// On PostgreSQL, a LATERAL join reads each program's newest versions
/// straight off the (program, major, minor, patch) index, backwards: the
/// work per program does not grow with how many versions it has.
impl QueryFragment<Pg> for NewestPerProgram {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT v.id FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.programs)?;
        out.push_sql(
            ") AS p(id) CROSS JOIN LATERAL (SELECT id FROM mini_program_versions \
             WHERE mini_program_id = p.id AND (cardinality(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql(") = 0 OR status = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql(")) ORDER BY major DESC, minor DESC, patch DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.per_program)?;
        out.push_sql(") v");
        Ok(())
    }
}

/// SQLite has no LATERAL: the versions of the listed programs, found through
/// the program index, are ranked by a window function.
impl QueryFragment<Sqlite> for NewestPerProgram {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(
            "SELECT id FROM (SELECT v.id, ROW_NUMBER() OVER (PARTITION BY v.mini_program_id \
             ORDER BY v.major DESC, v.minor DESC, v.patch DESC) AS position \
             FROM mini_program_versions v \
             WHERE v.mini_program_id IN (SELECT value FROM json_each(",
        );
        out.push_bind_param::<Text, _>(&self.programs_json)?;
        out.push_sql(")) AND (json_array_length(");
        out.push_bind_param::<Text, _>(&self.statuses_json)?;
        out.push_sql(") = 0 OR v.status IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.statuses_json)?;
        out.push_sql(")))) ranked WHERE position <= ");
        out.push_bind_param::<BigInt, _>(&self.per_program)?;
        Ok(())
    }
}

pub async fn count(
    conn: &mut Conn<'_>,
    program_id: &str,
    statuses: &[VersionStatus],
) -> Result<i64, StorageError> {
    let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    Ok(on_backend!(conn, |conn| {
        let mut query = mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .into_boxed();
        if !statuses.is_empty() {
            query = query.filter(mini_program_versions::status.eq_any(&statuses));
        }
        query.count().get_result::<i64>(conn).await?
    }))
}

/// The newest version number of a program, if it has any version.
pub async fn latest_number(
    conn: &mut Conn<'_>,
    program_id: &str,
) -> Result<Option<VersionNumber>, StorageError> {
    let latest = on_backend!(conn, |conn| {
        mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .order(newest_first!())
            .select(number_columns!())
            .first::<(i32, i32, i32)>(conn)
            .await
            .optional()?
    });
    Ok(latest.map(version_number))
}

/// The number of the program's version waiting for release approval, if any.
pub async fn pending_number(
    conn: &mut Conn<'_>,
    program_id: &str,
) -> Result<Option<VersionNumber>, StorageError> {
    let pending = on_backend!(conn, |conn| {
        mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .filter(mini_program_versions::status.eq(VersionStatus::PendingApproval.as_str()))
            .select(number_columns!())
            .first::<(i32, i32, i32)>(conn)
            .await
            .optional()?
    });
    Ok(pending.map(version_number))
}

/// The program's New Version Created versions, newest first: they execute
/// its global mode.
pub async fn following_global_mode(
    conn: &mut Conn<'_>,
    program_id: &str,
) -> Result<Vec<MiniProgramVersion>, StorageError> {
    let rows = on_backend!(conn, |conn| {
        versions_with_global_mode!()
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .filter(mini_program_versions::status.eq(VersionStatus::NewVersionCreated.as_str()))
            .order(newest_first!())
            .load(conn)
            .await?
    });
    rows.into_iter().map(version_from_row).collect()
}

/// The program's full and gray releases.
pub async fn release_state(
    conn: &mut Conn<'_>,
    program_id: &str,
) -> Result<ReleaseState, StorageError> {
    let released: Vec<(String, String, i32, i32, i32)> = on_backend!(conn, |conn| {
        mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .filter(mini_program_versions::status.eq_any([
                VersionStatus::FullRelease.as_str(),
                VersionStatus::GrayRelease.as_str(),
            ]))
            .select((
                mini_program_versions::id,
                mini_program_versions::status,
                mini_program_versions::major,
                mini_program_versions::minor,
                mini_program_versions::patch,
            ))
            .load(conn)
            .await?
    });
    let mut state = ReleaseState::default();
    for (id, status, major, minor, patch) in released {
        let released = ReleasedVersion {
            id,
            number: version_number((major, minor, patch)),
        };
        if status == VersionStatus::FullRelease.as_str() {
            state.full = Some(released);
        } else {
            state.gray = Some(released);
        }
    }
    Ok(state)
}

/// Versions by id, as they are now.
pub async fn by_ids(
    conn: &mut Conn<'_>,
    ids: &[&str],
) -> Result<Vec<MiniProgramVersion>, StorageError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = on_backend!(conn, |conn| {
        versions_with_global_mode!()
            .filter(mini_program_versions::id.eq_any(ids))
            .load(conn)
            .await?
    });
    rows.into_iter().map(version_from_row).collect()
}

/// The numbers of the program's versions that are or were released.
pub async fn released_numbers(
    conn: &mut Conn<'_>,
    program_id: &str,
) -> Result<Vec<VersionNumber>, StorageError> {
    let numbers: Vec<(i32, i32, i32)> = on_backend!(conn, |conn| {
        mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .filter(mini_program_versions::released_at.is_not_null())
            .select((
                mini_program_versions::major,
                mini_program_versions::minor,
                mini_program_versions::patch,
            ))
            .load(conn)
            .await?
    });
    Ok(numbers.into_iter().map(version_number).collect())
}

/// The full release that `id` replaced when it was fully released.
pub async fn replaced_by(conn: &mut Conn<'_>, id: &str) -> Result<Option<String>, StorageError> {
    Ok(on_backend!(conn, |conn| {
        version_replacements::table
            .find(id)
            .select(version_replacements::replaced_version_id)
            .first::<String>(conn)
            .await
            .optional()?
    }))
}

/// Creates a version of the program: New Version Created, no mode fixed yet.
pub async fn insert(
    tx: &mut Tx<'_>,
    program: &MiniProgram,
    version: NewVersion,
) -> Result<MiniProgramVersion, StorageError> {
    let row = VersionRow {
        id: new_id(),
        mini_program_id: program.id.clone(),
        major: version.number.major,
        minor: version.number.minor,
        patch: version.number.patch,
        description: version.description,
        status: VersionStatus::NewVersionCreated.as_str().to_owned(),
        update_mode: None,
        created_at: now(),
        submitted_at: None,
        gray_percentage: None,
        decided_at: None,
        decided_by: None,
        decision_comment: None,
        released_at: None,
        offline_reason: None,
    };
    on_backend!(tx, |conn| {
        diesel::insert_into(mini_program_versions::table)
            .values(&row)
            .execute(conn)
            .await?;
    });
    version_from_row((row, program.update_mode.as_str().to_owned()))
}

/// Marks a version as waiting for release approval, with the program's
/// global mode of this instant fixed on it.
pub async fn mark_submitted(
    tx: &mut Tx<'_>,
    program: &MiniProgram,
    id: &str,
) -> Result<MiniProgramVersion, StorageError> {
    let row = on_backend!(tx, |conn| {
        diesel::update(mini_program_versions::table.find(id))
            .set((
                mini_program_versions::status.eq(VersionStatus::PendingApproval.as_str()),
                mini_program_versions::update_mode.eq(program.update_mode.as_str()),
                mini_program_versions::submitted_at.eq(now()),
            ))
            .returning(VersionRow::as_returning())
            .get_result(conn)
            .await?
    });
    version_from_row((row, program.update_mode.as_str().to_owned()))
}

/// Writes a release step on `version`, decided by `decided_by` when it is a
/// decision, and takes the versions it supersedes offline.
pub async fn apply_change(
    tx: &mut Tx<'_>,
    version: &MiniProgramVersion,
    change: &VersionChange,
    decided_by: &str,
) -> Result<(), StorageError> {
    let at = now();
    let (decided_at, decided_by, decision_comment) = match &change.decision {
        Some(comment) => (Some(at), Some(decided_by.to_owned()), comment.clone()),
        None => (
            version.decision.as_ref().map(|d| d.decided_at.naive_utc()),
            version.decision.as_ref().map(|d| d.decided_by.clone()),
            version.decision.as_ref().and_then(|d| d.comment.clone()),
        ),
    };
    let released_at = match version.released_at {
        Some(at) => Some(at.naive_utc()),
        None if change.releases => Some(at),
        None => None,
    };
    let superseded: Vec<&str> = change.supersedes.iter().map(|v| v.id.as_str()).collect();
    on_backend!(tx, |conn| {
        diesel::update(mini_program_versions::table.find(&version.id))
            .set((
                mini_program_versions::status.eq(change.status.as_str()),
                mini_program_versions::gray_percentage.eq(change.gray_percentage),
                mini_program_versions::decided_at.eq(decided_at),
                mini_program_versions::decided_by.eq(&decided_by),
                mini_program_versions::decision_comment.eq(&decision_comment),
                mini_program_versions::released_at.eq(released_at),
                mini_program_versions::offline_reason.eq(&change.offline_reason),
            ))
            .execute(conn)
            .await?;
        if let Some(replaced) = &change.replaces {
            diesel::insert_into(version_replacements::table)
                .values((
                    version_replacements::version_id.eq(&version.id),
                    version_replacements::replaced_version_id.eq(&replaced.id),
                ))
                .execute(conn)
                .await?;
        }
        if !superseded.is_empty() {
            diesel::update(
                mini_program_versions::table.filter(mini_program_versions::id.eq_any(&superseded)),
            )
            .set(mini_program_versions::status.eq(VersionStatus::Offline.as_str()))
            .execute(conn)
            .await?;
        }
    });
    Ok(())
}
