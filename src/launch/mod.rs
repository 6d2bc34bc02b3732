//! Launch answers for super apps, served from memory: a snapshot of every
//! program's launch policy and of the active client keys, refreshed when a
//! change commits (in this process directly, in others through PostgreSQL
//! notifications), so that a launch request runs no SQL.

pub mod change;
mod follower;
mod limit;
mod signing;

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

pub use change::PolicyChange;
pub use follower::follow_changes;
pub use limit::LaunchLimiter;
pub use signing::LaunchSigner;

use crate::db::launch_policies;
use crate::db::{Database, StorageError};
use crate::domain::{LaunchDecision, LaunchPolicy, LaunchRequest, client_key_hash, decide_launch};
use crate::sync::{read, write};

/// Why a launch request gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchRefusal {
    /// The client key is missing, unknown or revoked.
    UnknownKey,
    /// The key's workspace has no such program.
    NoSuchProgram,
}

pub struct LaunchPolicies {
    db: Database,
    programs: RwLock<HashMap<String, LaunchPolicy>>,
    /// Active client keys by hash, with their workspace.
    keys: RwLock<HashMap<String, String>>,
}

impl LaunchPolicies {
    pub async fn load(db: Database) -> Result<Self, StorageError> {
        let policies = Self {
            db,
            programs: RwLock::default(),
            keys: RwLock::default(),
        };
        policies.reload_all().await?;
        Ok(policies)
    }

    /// The workspace of an active client key.
    pub fn authenticate(&self, client_key: Option<&str>) -> Result<String, LaunchRefusal> {
        let hash = client_key_hash(client_key.ok_or(LaunchRefusal::UnknownKey)?);
        read(&self.keys)
            .get(&hash)
            .cloned()
            .ok_or(LaunchRefusal::UnknownKey)
    }

    /// What a device of `workspace` does when it opens the program.
    pub fn answer(
        &self,
        workspace: &str,
        mini_program_id: &str,
        request: &LaunchRequest,
    ) -> Result<LaunchDecision, LaunchRefusal> {
        let programs = read(&self.programs);
        let policy = programs
            .get(mini_program_id)
            .filter(|policy| policy.workspace_id == workspace)
            .ok_or(LaunchRefusal::NoSuchProgram)?;
        Ok(decide_launch(policy, request))
    }

    /// Reads everything: at start, before the first answer.
    async fn reload_all(&self) -> Result<(), StorageError> {
        let (programs, keys) = self
            .db
            .read(async |conn| {
                let programs = launch_policies::load(conn, None).await?;
                Ok::<_, StorageError>((programs, launch_policies::active_client_keys(conn).await?))
            })
            .await?;
        *write(&self.programs) = programs
            .into_iter()
            .map(|policy| (policy.mini_program_id.clone(), policy))
            .collect();
        *write(&self.keys) = keys.into_iter().collect();
        Ok(())
    }

    /// Catches up with what may have been missed (notifications lost while
    /// disconnected, or never sent): reads every program's policy revision
    /// and only the policies that moved, so the snapshot is never held
    /// twice; returns how many were read.
    pub async fn resync(&self) -> Result<usize, StorageError> {
        let revisions = self
            .db
            .read(async |conn| launch_policies::revisions(conn).await)
            .await?;
        let stale: Vec<String> = {
            let programs = read(&self.programs);
            let current: HashSet<&str> = revisions.iter().map(|(id, _)| id.as_str()).collect();
            let moved = revisions
                .iter()
                .filter(|(id, revision)| {
                    programs
                        .get(id)
                        .is_none_or(|policy| policy.revision < *revision)
                })
                .map(|(id, _)| id.as_str());
            // Programs gone since; read again below rather than dropped, in
            // case one was created after the revisions were read.
            let gone = programs
                .keys()
                .map(String::as_str)
                .filter(|id| !current.contains(id));
            moved.chain(gone).map(str::to_owned).collect()
        };
        let stale: Vec<&str> = stale.iter().map(String::as_str).collect();
        let (policies, keys) = self
            .db
            .read(async |conn| {
                let policies = launch_policies::load_each(conn, &stale).await?;
                Ok::<_, StorageError>((policies, launch_policies::active_client_keys(conn).await?))
            })
            .await?;
        let mut programs = write(&self.programs);
        let found: HashSet<&str> = policies
            .iter()
            .map(|policy| policy.mini_program_id.as_str())
            .collect();
        for id in stale.iter().filter(|id| !found.contains(*id)) {
            programs.remove(*id);
        }
        for policy in policies {
            keep_newer(&mut programs, policy);
        }
        drop(programs);
        *write(&self.keys) = keys.into_iter().collect();
        Ok(stale.len())
    }

    /// Reads again what a committed change touched, unless the snapshot
    /// already holds the policy revision the change committed.
    pub async fn refresh(
        &self,
        change: &PolicyChange,
        revision: Option<i32>,
    ) -> Result<(), StorageError> {
        match change {
            PolicyChange::Program(id) => {
                let held = read(&self.programs).get(id).map(|policy| policy.revision);
                if held
                    .zip(revision)
                    .is_some_and(|(held, committed)| held >= committed)
                {
                    return Ok(());
                }
                let policy = self
                    .db
                    .read(async |conn| launch_policies::load(conn, Some(id)).await)
                    .await?
                    .pop();
                let mut programs = write(&self.programs);
                match policy {
                    Some(policy) => keep_newer(&mut programs, policy),
                    None => {
                        programs.remove(id);
                    }
                }
            }
            PolicyChange::ClientKeys => {
                let keys = self
                    .db
                    .read(async |conn| launch_policies::active_client_keys(conn).await)
                    .await?;
                *write(&self.keys) = keys.into_iter().collect();
            }
        }
        Ok(())
    }

    /// Refreshes after a commit of this process; a failure only delays the
    /// change until the next reload, since the commit stands.
    pub async fn committed(&self, change: PolicyChange) {
        if let Err(error) = self.refresh(&change, None).await {
            tracing::warn!(%error, ?change, "cannot refresh the launch snapshot");
        }
    }
}

/// Keeps `policy` unless the snapshot holds a later revision of it: reads
/// that overlap (a refresh and a resync) may finish out of order.
fn keep_newer(programs: &mut HashMap<String, LaunchPolicy>, policy: LaunchPolicy) {
    match programs.get_mut(&policy.mini_program_id) {
        Some(held) if held.revision > policy.revision => {}
        Some(held) => *held = policy,
        None => {
            programs.insert(policy.mini_program_id.clone(), policy);
        }
    }
}
