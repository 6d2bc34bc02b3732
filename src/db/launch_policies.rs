//! What launch answers are computed from: each program's global mode,
//! timers and released versions, and the active client keys. Changes to any
//! of it raise the program's policy revision and, on PostgreSQL, notify
//! every process in the same transaction (NOTIFY is sent on commit).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::rows::parse;
use super::schema::{client_keys, mini_program_versions, mini_programs};
use super::{Database, SqliteConnection, StorageError};
use crate::domain::{
    LaunchPolicy, ReleasedTarget, UpdateMode, UpdateTimers, VersionNumber, VersionStatus,
};

/// The channel on which processes hear about launch policy changes.
pub const CHANNEL: &str = "update_mode_launch_policy";

/// What changed, as announced on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    Program(String),
    ClientKeys,
}

impl PolicyChange {
    pub fn to_payload(&self) -> String {
        match self {
            PolicyChange::Program(id) => format!("program:{id}"),
            PolicyChange::ClientKeys => "client_keys".to_owned(),
        }
    }

    pub fn from_payload(payload: &str) -> Option<Self> {
        match payload.split_once(':') {
            Some(("program", id)) => Some(PolicyChange::Program(id.to_owned())),
            _ if payload == "client_keys" => Some(PolicyChange::ClientKeys),
            _ => None,
        }
    }
}

/// Records a policy change on the transaction that makes it.
pub(super) trait PolicySignal {
    fn policy_changed(
        &mut self,
        change: &PolicyChange,
    ) -> impl Future<Output = QueryResult<()>> + Send;
}

macro_rules! raise_revision {
    ($conn:expr, $change:expr) => {
        if let PolicyChange::Program(id) = $change {
            diesel::update(mini_programs::table.find(id))
                .set(mini_programs::policy_revision.eq(mini_programs::policy_revision + 1))
                .execute($conn)
                .await?;
        }
    };
}

impl PolicySignal for AsyncPgConnection {
    async fn policy_changed(&mut self, change: &PolicyChange) -> QueryResult<()> {
        raise_revision!(self, change);
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(change.to_payload())
            .execute(self)
            .await?;
        Ok(())
    }
}

impl PolicySignal for SqliteConnection {
    /// SQLite serves one process, which refreshes itself after the commit.
    async fn policy_changed(&mut self, change: &PolicyChange) -> QueryResult<()> {
        raise_revision!(self, change);
        Ok(())
    }
}

type ProgramColumns = (String, String, String, i32, i32, i32);
type ReleasedColumns = (String, String, i32, i32, i32, Option<String>, Option<i32>);

/// The policies of every program, or of one.
pub async fn load(
    db: &Database,
    program_id: Option<&str>,
) -> Result<Vec<LaunchPolicy>, StorageError> {
    let (programs, released): (Vec<ProgramColumns>, Vec<ReleasedColumns>) =
        with_connection!(db, |conn| {
            let mut programs = mini_programs::table
                .select((
                    mini_programs::id,
                    mini_programs::workspace_id,
                    mini_programs::update_mode,
                    mini_programs::async_update_seconds,
                    mini_programs::sync_update_seconds,
                    mini_programs::policy_revision,
                ))
                .into_boxed();
            let mut released = mini_program_versions::table
                .filter(mini_program_versions::status.eq_any([
                    VersionStatus::FullRelease.as_str(),
                    VersionStatus::GrayRelease.as_str(),
                ]))
                .select((
                    mini_program_versions::mini_program_id,
                    mini_program_versions::status,
                    mini_program_versions::major,
                    mini_program_versions::minor,
                    mini_program_versions::patch,
                    mini_program_versions::update_mode,
                    mini_program_versions::gray_percentage,
                ))
                .into_boxed();
            if let Some(id) = program_id {
                programs = programs.filter(mini_programs::id.eq(id));
                released = released.filter(mini_program_versions::mini_program_id.eq(id));
            }
            (programs.load(conn).await?, released.load(conn).await?)
        });
    let mut policies: std::collections::HashMap<String, LaunchPolicy> = programs
        .into_iter()
        .map(
            |(id, workspace_id, mode, async_seconds, sync_seconds, revision)| {
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
                        revision,
                    },
                ))
            },
        )
        .collect::<Result<_, StorageError>>()?;
    for (program_id, status, major, minor, patch, mode, gray_percentage) in released {
        let Some(policy) = policies.get_mut(&program_id) else {
            continue;
        };
        let target = ReleasedTarget {
            number: VersionNumber {
                major,
                minor,
                patch,
            },
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
pub async fn active_client_keys(db: &Database) -> Result<Vec<(String, String)>, StorageError> {
    Ok(with_connection!(db, |conn| {
        client_keys::table
            .filter(client_keys::revoked_at.is_null())
            .select((client_keys::key_hash, client_keys::workspace_id))
            .load(conn)
            .await?
    }))
}
