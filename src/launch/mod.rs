//! Launch answers for super apps, served from memory: a snapshot of every
//! program's launch policy and of the active client keys, refreshed when a
//! change commits (in this process directly, in others through PostgreSQL
//! notifications), so that a launch request runs no SQL.

pub mod change;
mod follower;
mod limit;
mod signing;

use std::collections::HashMap;
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

    /// Reads everything again: at start, and after notifications may have been missed.
    pub async fn reload_all(&self) -> Result<(), StorageError> {
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

    /// Reads again what a committed change touched.
    pub async fn refresh(&self, change: &PolicyChange) -> Result<(), StorageError> {
        match change {
            PolicyChange::Program(id) => {
                let policy = self
                    .db
                    .read(async |conn| launch_policies::load(conn, Some(id)).await)
                    .await?
                    .pop();
                let mut programs = write(&self.programs);
                match policy {
                    Some(policy) => programs.insert(id.clone(), policy),
                    None => programs.remove(id),
                };
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
        if let Err(error) = self.refresh(&change).await {
            tracing::warn!(%error, ?change, "cannot refresh the launch snapshot");
        }
    }
}
