//! Reading the audit trail of a workspace. Records are written by the
//! repositories, in the transaction of each change.

use super::page::{Page, PageRequest};
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
    let window = page.window::<i64>()?;
    let records = services
        .db
        .read(async |conn| {
            repository::list(
                conn,
                &principal.workspace_id,
                filter,
                window.after,
                window.fetch,
            )
            .await
        })
        .await?;
    Ok(window.page(records, |record| record.sequence))
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
