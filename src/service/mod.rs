//! Application services: one module per use case family. Each operation
//! checks who may do it (before looking at the input), validates the input
//! with the domain's rules, and runs the storage work in one transaction.

pub mod demo;
mod error;
pub mod integrations;
pub mod mini_programs;
pub mod page;
pub mod versions;

pub use error::ServiceError;

use std::sync::Arc;

use crate::db::Database;
use crate::domain::Principal;
use crate::hooks::HookRegistry;

/// What the use cases work with: the database, and the hooks that vet and
/// hear about changes.
#[derive(Clone)]
pub struct Services {
    pub db: Database,
    pub hooks: Arc<HookRegistry>,
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
