//! Application services: one module per use case family. Each operation
//! checks who may do it (before looking at the input), validates the input
//! with the domain's rules, and runs the storage work in one transaction.

pub mod demo;
mod error;
pub mod mini_programs;
pub mod page;
pub mod versions;

pub use error::ServiceError;

use crate::domain::Principal;

/// Refuses principals that hold no role of the workspace.
fn require_reader(principal: &Principal) -> Result<(), ServiceError> {
    if principal.may_read() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "the token grants no role in this workspace",
        ))
    }
}
