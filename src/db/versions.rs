//! The `mini_program_versions` table: versions, their status and the update
//! mode fixed on them at submission.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::{VersionRow, new_id, now, version_from_row};
use super::schema::{mini_program_versions, mini_programs};
use super::{Database, StorageError, mini_programs as programs};
use crate::domain::{MiniProgramVersion, RuleViolation, UpdateMode, VersionNumber, VersionStatus};

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
pub(super) use versions_with_global_mode;

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

/// A version as a user creates it: New Version Created, no mode fixed yet.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub number: VersionNumber,
    pub description: Option<String>,
}

pub async fn find(
    db: &Database,
    workspace_id: &str,
    id: &str,
) -> Result<Option<MiniProgramVersion>, StorageError> {
    let row = with_connection!(db, |conn| {
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
    db: &Database,
    program_id: &str,
    statuses: &[VersionStatus],
    after: Option<VersionNumber>,
    limit: i64,
) -> Result<Vec<MiniProgramVersion>, StorageError> {
    let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    let rows = with_connection!(db, |conn| {
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

pub async fn count(
    db: &Database,
    program_id: &str,
    statuses: &[VersionStatus],
) -> Result<i64, StorageError> {
    let statuses: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
    Ok(with_connection!(db, |conn| {
        let mut query = mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(program_id))
            .into_boxed();
        if !statuses.is_empty() {
            query = query.filter(mini_program_versions::status.eq_any(&statuses));
        }
        query.count().get_result::<i64>(conn).await?
    }))
}

/// Creates a version of a program of the workspace once `check` accepts its
/// number against the latest existing one, read under the program's lock.
/// `None` when the workspace has no such program.
pub async fn create(
    db: &Database,
    workspace_id: &str,
    program_id: &str,
    version: NewVersion,
    check: impl FnOnce(Option<VersionNumber>) -> Result<(), RuleViolation> + Send,
) -> Result<Option<MiniProgramVersion>, StorageError> {
    in_write_transaction!(db, |conn| {
        let Some(program) = programs::lock(conn, workspace_id, program_id).await? else {
            return Ok(None);
        };
        let latest = mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(&program.id))
            .order(newest_first!())
            .select((
                mini_program_versions::major,
                mini_program_versions::minor,
                mini_program_versions::patch,
            ))
            .first::<(i32, i32, i32)>(conn)
            .await
            .optional()?
            .map(|(major, minor, patch)| VersionNumber {
                major,
                minor,
                patch,
            });
        check(latest)?;
        let row = VersionRow {
            id: new_id(),
            mini_program_id: program.id,
            major: version.number.major,
            minor: version.number.minor,
            patch: version.number.patch,
            description: version.description,
            status: VersionStatus::NewVersionCreated.as_str().to_owned(),
            update_mode: None,
            created_at: now(),
            submitted_at: None,
        };
        diesel::insert_into(mini_program_versions::table)
            .values(&row)
            .execute(conn)
            .await?;
        version_from_row((row, program.update_mode.as_str().to_owned())).map(Some)
    })
}

/// Submits a version for release approval once `check` accepts it, given the
/// version waiting for approval, if any. The program's lock makes the global
/// mode fixed on the version the one of this instant: a concurrent change of
/// the mode commits entirely before or after. `None` when the workspace has
/// no such version.
pub async fn submit_for_release_approval(
    db: &Database,
    workspace_id: &str,
    id: &str,
    check: impl FnOnce(&MiniProgramVersion, Option<VersionNumber>) -> Result<(), RuleViolation> + Send,
) -> Result<Option<MiniProgramVersion>, StorageError> {
    in_write_transaction!(db, |conn| {
        let Some(program_id) = mini_program_versions::table
            .inner_join(mini_programs::table)
            .filter(mini_program_versions::id.eq(id))
            .filter(mini_programs::workspace_id.eq(workspace_id))
            .select(mini_program_versions::mini_program_id)
            .first::<String>(conn)
            .await
            .optional()?
        else {
            return Ok(None);
        };
        let Some(program) = programs::lock(conn, workspace_id, &program_id).await? else {
            return Ok(None);
        };
        let version = version_from_row(
            versions_with_global_mode!()
                .filter(mini_program_versions::id.eq(id))
                .first(conn)
                .await?,
        )?;
        let pending = mini_program_versions::table
            .filter(mini_program_versions::mini_program_id.eq(&program.id))
            .filter(mini_program_versions::status.eq(VersionStatus::PendingApproval.as_str()))
            .select((
                mini_program_versions::major,
                mini_program_versions::minor,
                mini_program_versions::patch,
            ))
            .first::<(i32, i32, i32)>(conn)
            .await
            .optional()?
            .map(|(major, minor, patch)| VersionNumber {
                major,
                minor,
                patch,
            });
        check(&version, pending)?;
        let row = diesel::update(mini_program_versions::table.find(id))
            .set((
                mini_program_versions::status.eq(VersionStatus::PendingApproval.as_str()),
                mini_program_versions::update_mode.eq(program.update_mode.as_str()),
                mini_program_versions::submitted_at.eq(now()),
            ))
            .returning(VersionRow::as_returning())
            .get_result(conn)
            .await?;
        version_from_row((row, program.update_mode.as_str().to_owned())).map(Some)
    })
}

/// A version as it stands in another system, brought in past the lifecycle
/// (the demo data of a fresh installation).
#[derive(Debug, Clone)]
pub struct ImportedVersion {
    pub number: VersionNumber,
    pub description: Option<String>,
    pub status: VersionStatus,
    /// Set for every status but New Version Created.
    pub fixed_update_mode: Option<UpdateMode>,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
}

pub async fn import(
    db: &Database,
    program_id: &str,
    version: ImportedVersion,
) -> Result<(), StorageError> {
    let row = VersionRow {
        id: new_id(),
        mini_program_id: program_id.to_owned(),
        major: version.number.major,
        minor: version.number.minor,
        patch: version.number.patch,
        description: version.description,
        status: version.status.as_str().to_owned(),
        update_mode: version
            .fixed_update_mode
            .map(|mode| mode.as_str().to_owned()),
        created_at: version.created_at.naive_utc(),
        submitted_at: version.submitted_at.map(|at| at.naive_utc()),
    };
    with_connection!(db, |conn| {
        diesel::insert_into(mini_program_versions::table)
            .values(&row)
            .execute(conn)
            .await?;
    });
    Ok(())
}
