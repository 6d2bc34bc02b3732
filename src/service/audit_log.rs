//! Reading the audit trail of a workspace. Records are written by the
//! repositories, in the transaction of each change.

use super::page::{Page, PageRequest, not_a_cursor};
use super::{ServiceError, Services, require};
use crate::db::audit_log as repository;
use crate::domain::{AuditFilter, AuditRecord, Principal};

fn require_admin(principal: &Principal) -> Result<(), ServiceError> {
    require(
        principal.may_read_audit_log(),
        "only a WORKSPACE_ADMIN may read the audit log",
    )
}

/// The workspace's records that pass `filter`, newest first.
pub async fn list(
    services: &Services,
    principal: &Principal,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditRecord>, ServiceError> {
    require_admin(principal)?;
    // The cursor is a record's random id, not its place in the log, which
    // counts every workspace's changes; it is looked up in this workspace.
    let window = page.window::<String>()?;
    let records = services
        .db
        .read(async |conn| {
            let before = match &window.after {
                Some(id) => Some(
                    repository::position(conn, &principal.workspace_id, id)
                        .await?
                        .ok_or_else(not_a_cursor)?,
                ),
                None => None,
            };
            Ok::<_, ServiceError>(
                repository::list(conn, &principal.workspace_id, filter, before, window.fetch)
                    .await?,
            )
        })
        .await?;
    Ok(window.page(records, |record| record.id.clone()))
}

pub async fn count(
    services: &Services,
    principal: &Principal,
    filter: &AuditFilter,
) -> Result<i64, ServiceError> {
    require_admin(principal)?;
    services
        .db
        .read(async |conn| Ok(repository::count(conn, &principal.workspace_id, filter).await?))
        .await
}
