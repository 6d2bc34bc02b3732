//! Application services: one module per use case family. A use case reads
//! as its steps: authorize (before looking at the input), validate, then one
//! write transaction { lock, domain decision, writes, guard hooks vet,
//! outbox append, audit record }, then `after_commit`.

pub mod adoption;
pub mod audit_log;
pub mod client_keys;
pub mod demo;
mod error;
pub mod gates;
pub mod integrations;
pub mod launch;
pub mod live;
pub mod mini_programs;
pub mod page;
pub mod persisted_queries;
pub mod rate_limit;
pub mod rollouts;
pub mod update_mode_windows;
pub mod versions;

pub use error::ServiceError;

use std::sync::Arc;

use tokio::sync::watch;

use crate::db::{Committed, Database};
use crate::domain::{AuditAction, AuditContext, Principal, TargetPolicy};
use crate::hooks::HookRegistry;
use crate::hooks::gates::ReleaseGates;
use crate::launch::LaunchPolicies;
use crate::live::LiveEvents;

/// What the use cases work with: the database, the hooks that vet and hear
/// about changes, the release gates asked before a share changes, the
/// launch snapshot that changes must refresh, the live events that
/// subscribers hear, and where partner URLs may point.
#[derive(Clone)]
pub struct Services {
    pub db: Database,
    pub hooks: Arc<HookRegistry>,
    pub gates: ReleaseGates,
    pub launch: Arc<LaunchPolicies>,
    pub live: Arc<LiveEvents>,
    pub targets: TargetPolicy,
    /// Ticks when a commit of this process planned or moved work that the
    /// scheduler applies by itself.
    pub schedule: Arc<watch::Sender<u64>>,
}

impl Services {
    /// Pays what a committed change owes, in one place: wakes the
    /// dispatcher and the live feed when deliveries are due, and refreshes
    /// this process's launch snapshot for each policy it changed (other
    /// processes hear of both through the database).
    pub async fn after_commit<T>(&self, committed: Committed<T>) -> T {
        let (value, owed) = committed.into_parts();
        if owed.deliveries_due {
            self.hooks.committed();
        }
        if owed.schedule_changed {
            self.schedule
                .send_modify(|changes| *changes = changes.wrapping_add(1));
        }
        for change in owed.policy_changes {
            self.launch.committed(change).await;
        }
        value
    }
}

/// A principal acting through one request: mutations are done, and
/// audited, as this.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub principal: &'a Principal,
    /// The request's `x-request-id`, kept in the audit record.
    pub request_id: Option<&'a str>,
}

impl Actor<'_> {
    fn audit(&self, action: AuditAction) -> AuditContext {
        AuditContext {
            workspace_id: self.principal.workspace_id.clone(),
            actor: self.principal.subject.clone(),
            request_id: self.request_id.map(str::to_owned),
            action,
        }
    }
}

/// Refuses, with `reason`, what the principal may not do.
fn require(permitted: bool, reason: &'static str) -> Result<(), ServiceError> {
    if permitted {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(reason))
    }
}

/// Refuses principals that hold no role of the workspace.
fn require_reader(principal: &Principal) -> Result<(), ServiceError> {
    require(
        principal.may_read(),
        "the token grants no role in this workspace",
    )
}
