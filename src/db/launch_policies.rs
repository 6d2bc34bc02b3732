//! What launch answers are computed from: each program's global mode,
//! timers and released versions, and the active client keys. Changes to any
//! of it raise the program's policy revision and, on PostgreSQL, notify
//! every process in the same transaction (NOTIFY is sent on commit).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::dialect::Dialect;
use super::rows::{parse, version_number};
use super::schema::{client_keys, mini_program_versions, mini_programs};
use super::{Conn, StorageError, Tx};
use crate::domain::{
    LaunchPolicy, ReleasedTarget, UpdateMode, UpdateTimers, VersionNumber, VersionStatus,
};
use crate::launch::change::{CHANNEL, PolicyChange};

/// Records a change of what launch answers are computed from, on the
/// transaction that makes it: a program's policy revision grows, and every
/// process is told once it commits.
pub async fn changed(tx: &mut Tx<'_>, change: PolicyChange) -> Result<(), StorageError> {
    on_backend!(tx, |conn| {
        let revision = match &change {
            PolicyChange::Program(id) => diesel::update(mini_programs::table.find(id))
                .set(mini_programs::policy_revision.eq(mini_programs::policy_revision + 1))
                .returning(mini_programs::policy_revision)
                .get_result::<i32>(conn)
                .await
                .optional()?,
            PolicyChange::ClientKeys => None,
        };
        conn.notify(CHANNEL, change.to_payload(revision)).await?;
    });
    tx.changed_policy(change);
    Ok(())
}

type ProgramColumns = (String, String, String, i32, i32, i32, Option<String>);
type ReleasedColumns = (
    String,
    String,
    i32,
    i32,
    i32,
    Option<String>,
    Option<i32>,
    Option<String>,
);

/// How many programs there are, to size the snapshot once.
pub async fn count(conn: &mut Conn<'_>) -> Result<i64, StorageError> {
    Ok(on_backend!(conn, |conn| {
        mini_programs::table.count().get_result(conn).await?
    }))
}

/// The policy revision of every program, to tell which policies moved.
pub async fn revisions(conn: &mut Conn<'_>) -> Result<Vec<(String, i32)>, StorageError> {
    Ok(on_backend!(conn, |conn| {
        mini_programs::table
            .select((mini_programs::id, mini_programs::policy_revision))
            .load(conn)
            .await?
    }))
}

/// Which programs' policies to read.
#[derive(Clone, Copy)]
enum Programs<'a> {
    Ids(&'a [&'a str]),
    /// Up to `limit` programs in the order of their ids, after `after`.
    Page {
        after: Option<&'a str>,
        limit: i64,
    },
}

/// The policy of one program, if it exists.
pub async fn load(
    conn: &mut Conn<'_>,
    program_id: &str,
) -> Result<Option<LaunchPolicy>, StorageError> {
    Ok(load_where(conn, Programs::Ids(&[program_id])).await?.pop())
}

/// The policies of the programs of `ids` that exist, in as many reads as
/// keep each under SQLite's limit of bound values.
pub async fn load_each(
    conn: &mut Conn<'_>,
    ids: &[&str],
) -> Result<Vec<LaunchPolicy>, StorageError> {
    let mut policies = Vec::with_capacity(ids.len());
    for some in ids.chunks(1_000) {
        policies.extend(load_where(conn, Programs::Ids(some)).await?);
    }
    Ok(policies)
}

/// The policies of up to `limit` programs in the order of their ids, after
/// `after`: the snapshot is read a page at a time, so that the rows read
/// are never held all at once beside it.
pub async fn load_page(
    conn: &mut Conn<'_>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<LaunchPolicy>, StorageError> {
    load_where(conn, Programs::Page { after, limit }).await
}

async fn load_where(
    conn: &mut Conn<'_>,
    which: Programs<'_>,
) -> Result<Vec<LaunchPolicy>, StorageError> {
    let (programs, released): (Vec<ProgramColumns>, Vec<ReleasedColumns>) =
        on_backend!(conn, |conn| {
            let mut programs = mini_programs::table
                .select((
                    mini_programs::id,
                    mini_programs::workspace_id,
                    mini_programs::update_mode,
                    mini_programs::async_update_seconds,
                    mini_programs::sync_update_seconds,
                    mini_programs::policy_revision,
                    mini_programs::minimum_version,
                ))
                .into_boxed();
            let mut released = mini_program_versions::table
                .filter(
                    mini_program_versions::status
                        .eq_any([
                            VersionStatus::FullRelease.as_str(),
                            VersionStatus::GrayRelease.as_str(),
                        ])
                        .or(mini_program_versions::offline_reason.is_not_null()),
                )
                .select((
                    mini_program_versions::mini_program_id,
                    mini_program_versions::status,
                    mini_program_versions::major,
                    mini_program_versions::minor,
                    mini_program_versions::patch,
                    mini_program_versions::update_mode,
                    mini_program_versions::gray_percentage,
                    mini_program_versions::offline_reason,
                ))
                .into_boxed();
            match which {
                Programs::Ids([id]) => {
                    programs = programs.filter(mini_programs::id.eq(*id));
                    released = released.filter(mini_program_versions::mini_program_id.eq(*id));
                }
                Programs::Ids(ids) => {
                    programs = programs.filter(mini_programs::id.eq_any(ids));
                    released = released.filter(mini_program_versions::mini_program_id.eq_any(ids));
                }
                Programs::Page { after, limit } => {
                    programs = programs.order(mini_programs::id).limit(limit);
                    if let Some(after) = after {
                        programs = programs.filter(mini_programs::id.gt(after));
                        released =
                            released.filter(mini_program_versions::mini_program_id.gt(after));
                    }
                }
            }
            let programs: Vec<ProgramColumns> = programs.load(conn).await?;
            let last = programs.last().map(|(id, ..)| id.clone());
            if let (Programs::Page { .. }, Some(last)) = (which, last) {
                // The page's programs are every id up to its last.
                released = released.filter(mini_program_versions::mini_program_id.le(last));
            }
            let released = if programs.is_empty() {
                Vec::new()
            } else {
                released.load(conn).await?
            };
            (programs, released)
        });
    let mut policies: std::collections::HashMap<String, LaunchPolicy> = programs
        .into_iter()
        .map(
            |(id, workspace_id, mode, async_seconds, sync_seconds, revision, floor)| {
                Ok((
                    id.clone(),
                    LaunchPolicy {
                        mini_program_id: id,
                        workspace_id,
                        global_update_mode: parse("update mode", &mode, UpdateMode::from_name)?,
                        timers: UpdateTimers {
                            async_update_seconds: async_seconds,
                            sync_update_seconds: sync_seconds,
                        },
                        full: None,
                        gray: None,
                        rolled_back: Vec::new(),
                        minimum_version: floor.as_deref().map(version_number).transpose()?,
                        revision,
                    },
                ))
            },
        )
        .collect::<Result<_, StorageError>>()?;
    for (program_id, status, major, minor, patch, mode, gray_percentage, offline_reason) in released
    {
        let Some(policy) = policies.get_mut(&program_id) else {
            continue;
        };
        let number = VersionNumber {
            major,
            minor,
            patch,
        };
        if offline_reason.is_some() {
            policy.rolled_back.push(number);
            continue;
        }
        let target = ReleasedTarget {
            number,
            update_mode: parse(
                "update mode",
                mode.as_deref().unwrap_or_default(),
                UpdateMode::from_name,
            )?,
        };
        if status == VersionStatus::FullRelease.as_str() {
            policy.full = Some(target);
        } else {
            policy.gray = Some((target, gray_percentage.unwrap_or(0)));
        }
    }
    Ok(policies.into_values().collect())
}

/// The hashes of the keys that are not revoked, with their workspaces.
pub async fn active_client_keys(
    conn: &mut Conn<'_>,
) -> Result<Vec<(String, String)>, StorageError> {
    Ok(on_backend!(conn, |conn| {
        client_keys::table
            .filter(client_keys::revoked_at.is_null())
            .select((client_keys::key_hash, client_keys::workspace_id))
            .load(conn)
            .await?
    }))
}
