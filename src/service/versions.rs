//! Versions of mini programs: reading, creating, submitting them for release
//! approval, and the release steps that follow.

use std::collections::HashMap;

use super::mini_programs::require_visible;
use super::page::{Page, PageRequest};
use super::{Actor, ServiceError, Services, require, require_reader};
use crate::db::launch_policies::PolicyChange;
use crate::db::versions::{self as repository, NewVersion, VersionTransition};
use crate::domain::{
    self, AuditAction, DomainEvent, MiniProgram, MiniProgramVersion, Principal, ReleaseDecision,
    ReleaseState, RuleViolation, VersionChange, VersionNumber, VersionStatus,
    check_new_version_number, check_submission, plan_offline, plan_release, validate_description,
};

/// A version of a program of the principal's workspace, if there is one with this id.
pub async fn find(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<Option<MiniProgramVersion>, ServiceError> {
    require_reader(principal)?;
    Ok(repository::find(&services.db, &principal.workspace_id, id).await?)
}

/// Versions of a program, newest version number first.
pub async fn list(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
    statuses: &[VersionStatus],
    page: &PageRequest,
) -> Result<Page<MiniProgramVersion>, ServiceError> {
    require_visible(principal, program)?;
    let window = page.window::<VersionNumber>()?;
    let versions = repository::list(
        &services.db,
        &program.id,
        statuses,
        window.after,
        window.fetch,
    )
    .await?;
    Ok(window.page(versions, |version| version.number))
}

pub async fn count(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
    statuses: &[VersionStatus],
) -> Result<i64, ServiceError> {
    require_visible(principal, program)?;
    Ok(repository::count(&services.db, &program.id, statuses).await?)
}

/// The first page of versions of each of `programs`, newest first, read
/// together: what a listing of programs shows under each of them.
pub async fn first_pages(
    services: &Services,
    principal: &Principal,
    programs: &[MiniProgram],
    statuses: &[VersionStatus],
    first: Option<i32>,
) -> Result<HashMap<String, Page<MiniProgramVersion>>, ServiceError> {
    let ids = visible_ids(principal, programs)?;
    let window = PageRequest { first, after: None }.window::<VersionNumber>()?;
    let versions =
        repository::newest_of_programs(&services.db, &ids, statuses, window.fetch).await?;
    let mut by_program: HashMap<String, Vec<MiniProgramVersion>> =
        ids.iter().map(|&id| (id.to_owned(), Vec::new())).collect();
    for version in versions {
        if let Some(versions) = by_program.get_mut(&version.mini_program_id) {
            versions.push(version);
        }
    }
    Ok(by_program
        .into_iter()
        .map(|(id, versions)| (id, window.page(versions, |version| version.number)))
        .collect())
}

/// How many versions in `statuses` each of `programs` has, counted together.
pub async fn counts(
    services: &Services,
    principal: &Principal,
    programs: &[MiniProgram],
    statuses: &[VersionStatus],
) -> Result<HashMap<String, i64>, ServiceError> {
    let ids = visible_ids(principal, programs)?;
    let counted = repository::count_of_programs(&services.db, &ids, statuses).await?;
    let mut counts: HashMap<String, i64> = ids.iter().map(|&id| (id.to_owned(), 0)).collect();
    counts.extend(counted);
    Ok(counts)
}

/// The ids of programs read together, each of which the principal may see.
fn visible_ids<'a>(
    principal: &Principal,
    programs: &'a [MiniProgram],
) -> Result<Vec<&'a str>, ServiceError> {
    programs
        .iter()
        .map(|program| require_visible(principal, program).map(|()| program.id.as_str()))
        .collect()
}

pub struct CreateVersion {
    pub mini_program_id: String,
    pub version: String,
    pub description: Option<String>,
}

pub async fn create(
    services: &Services,
    actor: Actor<'_>,
    input: CreateVersion,
) -> Result<MiniProgramVersion, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_create_version(),
        "only a WORKSPACE_ADMIN or DEVELOPER may create versions",
    )?;
    let version = NewVersion {
        number: VersionNumber::parse(&input.version)?,
        description: validate_description(input.description.as_deref())?,
    };
    let requested = version.number;
    let version = repository::create(
        &services.db,
        &input.mini_program_id,
        version,
        |latest| check_new_version_number(requested, latest),
        services.hooks.as_ref(),
        |version| announced(principal, [version]),
        &actor.audit(AuditAction::CreateMiniProgramVersion),
    )
    .await?
    .ok_or(ServiceError::NotFound("mini program"))?;
    services.hooks.committed();
    Ok(version)
}

/// Submits a version for release approval, fixing the program's current
/// global update mode on it.
pub async fn submit_for_release_approval(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
) -> Result<MiniProgramVersion, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_submit_version(),
        "only a WORKSPACE_ADMIN or DEVELOPER may submit versions for release approval",
    )?;
    let version = repository::submit_for_release_approval(
        &services.db,
        &principal.workspace_id,
        id,
        check_submission,
        services.hooks.as_ref(),
        |version| announced(principal, [version]),
        &actor.audit(AuditAction::SubmitVersionForReleaseApproval),
    )
    .await?
    .ok_or(ServiceError::NotFound("version"))?;
    services.hooks.committed();
    Ok(version)
}

/// Approves or rejects a version waiting for release approval.
/// RELEASE_APPROVER or WORKSPACE_ADMIN.
pub async fn decide_release(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
    decision: ReleaseDecision,
    comment: Option<&str>,
) -> Result<VersionTransition, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_decide_release(),
        "only a RELEASE_APPROVER or WORKSPACE_ADMIN may approve or reject versions",
    )?;
    let comment = comment.map(str::to_owned);
    transition(
        services,
        actor,
        AuditAction::DecideRelease,
        id,
        move |version, _| domain::decide_release(version, decision, comment.as_deref()),
    )
    .await
}

/// Releases an approved or gray version to `gray_percentage` of devices, or
/// to all of them. WORKSPACE_ADMIN.
pub async fn release(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
    gray_percentage: Option<i32>,
) -> Result<VersionTransition, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_release(),
        "only a WORKSPACE_ADMIN may release versions",
    )?;
    transition(
        services,
        actor,
        AuditAction::ReleaseVersion,
        id,
        move |version, state| plan_release(version, gray_percentage, state),
    )
    .await
}

/// Takes a released version offline. WORKSPACE_ADMIN.
pub async fn take_offline(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
) -> Result<VersionTransition, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_release(),
        "only a WORKSPACE_ADMIN may take versions offline",
    )?;
    transition(
        services,
        actor,
        AuditAction::TakeVersionOffline,
        id,
        |version, _| plan_offline(version),
    )
    .await
}

async fn transition(
    services: &Services,
    actor: Actor<'_>,
    action: AuditAction,
    id: &str,
    decide: impl FnOnce(&MiniProgramVersion, &ReleaseState) -> Result<VersionChange, RuleViolation>
    + Send,
) -> Result<VersionTransition, ServiceError> {
    let principal = actor.principal;
    let transition = repository::transition(
        &services.db,
        id,
        decide,
        services.hooks.as_ref(),
        |transition| {
            announced(
                principal,
                std::iter::once(&transition.version).chain(&transition.superseded),
            )
        },
        &actor.audit(action),
    )
    .await?
    .ok_or(ServiceError::NotFound("version"))?;
    services.hooks.committed();
    // Decisions change no launch answer; releases and offline steps do.
    let released = matches!(
        transition.version.status,
        VersionStatus::GrayRelease | VersionStatus::FullRelease | VersionStatus::Offline
    );
    if released {
        let program = transition.version.mini_program_id.clone();
        services
            .launch
            .committed(PolicyChange::Program(program))
            .await;
    }
    Ok(transition)
}

/// The events of versions that reached their current status.
fn announced<'a>(
    principal: &Principal,
    versions: impl IntoIterator<Item = &'a MiniProgramVersion>,
) -> Vec<DomainEvent> {
    versions
        .into_iter()
        .map(|version| {
            DomainEvent::version_reached_status(
                &principal.workspace_id,
                &principal.subject,
                version,
            )
        })
        .collect()
}
