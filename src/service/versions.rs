//! Versions of mini programs: reading, creating, submitting them for release
//! approval, and the release steps that follow.

use super::mini_programs::require_visible;
use super::page::{Page, PageRequest};
use super::{ServiceError, require_reader};
use crate::db::Database;
use crate::db::versions::{self as repository, NewVersion, VersionTransition};
use crate::domain::{
    self, MiniProgram, MiniProgramVersion, Principal, ReleaseDecision, ReleaseState, RuleViolation,
    VersionChange, VersionNumber, VersionStatus, check_new_version_number, check_submission,
    plan_offline, plan_release, validate_description,
};

/// A version of a program of the principal's workspace, if there is one with this id.
pub async fn find(
    db: &Database,
    principal: &Principal,
    id: &str,
) -> Result<Option<MiniProgramVersion>, ServiceError> {
    require_reader(principal)?;
    Ok(repository::find(db, &principal.workspace_id, id).await?)
}

/// Versions of a program, newest version number first.
pub async fn list(
    db: &Database,
    principal: &Principal,
    program: &MiniProgram,
    statuses: &[VersionStatus],
    page: &PageRequest,
) -> Result<Page<MiniProgramVersion>, ServiceError> {
    require_visible(principal, program)?;
    let window = page.window::<VersionNumber>()?;
    let versions = repository::list(db, &program.id, statuses, window.after, window.fetch).await?;
    Ok(window.page(versions, |version| version.number))
}

pub async fn count(
    db: &Database,
    principal: &Principal,
    program: &MiniProgram,
    statuses: &[VersionStatus],
) -> Result<i64, ServiceError> {
    require_visible(principal, program)?;
    Ok(repository::count(db, &program.id, statuses).await?)
}

pub struct CreateVersion {
    pub mini_program_id: String,
    pub version: String,
    pub description: Option<String>,
}

pub async fn create(
    db: &Database,
    principal: &Principal,
    input: CreateVersion,
) -> Result<MiniProgramVersion, ServiceError> {
    if !principal.may_create_version() {
        return Err(ServiceError::Forbidden(
            "only a WORKSPACE_ADMIN or DEVELOPER may create versions",
        ));
    }
    let version = NewVersion {
        number: VersionNumber::parse(&input.version)?,
        description: validate_description(input.description.as_deref())?,
    };
    let requested = version.number;
    repository::create(
        db,
        &principal.workspace_id,
        &input.mini_program_id,
        version,
        |latest| check_new_version_number(requested, latest),
    )
    .await?
    .ok_or(ServiceError::NotFound("mini program"))
}

/// Submits a version for release approval, fixing the program's current
/// global update mode on it.
pub async fn submit_for_release_approval(
    db: &Database,
    principal: &Principal,
    id: &str,
) -> Result<MiniProgramVersion, ServiceError> {
    if !principal.may_submit_version() {
        return Err(ServiceError::Forbidden(
            "only a WORKSPACE_ADMIN or DEVELOPER may submit versions for release approval",
        ));
    }
    repository::submit_for_release_approval(db, &principal.workspace_id, id, check_submission)
        .await?
        .ok_or(ServiceError::NotFound("version"))
}

/// Approves or rejects a version waiting for release approval.
/// RELEASE_APPROVER or WORKSPACE_ADMIN.
pub async fn decide_release(
    db: &Database,
    principal: &Principal,
    id: &str,
    decision: ReleaseDecision,
    comment: Option<&str>,
) -> Result<VersionTransition, ServiceError> {
    if !principal.may_decide_release() {
        return Err(ServiceError::Forbidden(
            "only a RELEASE_APPROVER or WORKSPACE_ADMIN may approve or reject versions",
        ));
    }
    let comment = comment.map(str::to_owned);
    transition(db, principal, id, move |version, _| {
        domain::decide_release(version, decision, comment.as_deref())
    })
    .await
}

/// Releases an approved or gray version to `gray_percentage` of devices, or
/// to all of them. WORKSPACE_ADMIN.
pub async fn release(
    db: &Database,
    principal: &Principal,
    id: &str,
    gray_percentage: Option<i32>,
) -> Result<VersionTransition, ServiceError> {
    if !principal.may_release() {
        return Err(ServiceError::Forbidden(
            "only a WORKSPACE_ADMIN may release versions",
        ));
    }
    transition(db, principal, id, move |version, state| {
        plan_release(version, gray_percentage, state)
    })
    .await
}

/// Takes a released version offline. WORKSPACE_ADMIN.
pub async fn take_offline(
    db: &Database,
    principal: &Principal,
    id: &str,
) -> Result<VersionTransition, ServiceError> {
    if !principal.may_release() {
        return Err(ServiceError::Forbidden(
            "only a WORKSPACE_ADMIN may take versions offline",
        ));
    }
    transition(db, principal, id, |version, _| plan_offline(version)).await
}

async fn transition(
    db: &Database,
    principal: &Principal,
    id: &str,
    decide: impl FnOnce(&MiniProgramVersion, &ReleaseState) -> Result<VersionChange, RuleViolation>
    + Send,
) -> Result<VersionTransition, ServiceError> {
    repository::transition(db, &principal.workspace_id, id, &principal.subject, decide)
        .await?
        .ok_or(ServiceError::NotFound("version"))
}
