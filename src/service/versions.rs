//! Versions of mini programs: reading, creating, submitting them for release
//! approval, and the release steps that follow.

use std::collections::HashMap;

use super::mini_programs::require_visible;
use super::page::{Page, PageRequest};
use super::{Actor, ServiceError, Services, require, require_reader};
use crate::db::versions::{self as repository, NewVersion};
use crate::db::{audit_log, launch_policies, mini_programs, outbox};
use crate::domain::{
    self, AuditAction, DomainEvent, MiniProgram, MiniProgramVersion, Principal, ReleaseDecision,
    ReleaseState, RuleViolation, VersionChange, VersionNumber, VersionStatus, VersionTransition,
    check_new_version_number, check_submission, plan_offline, plan_release, validate_description,
};
use crate::launch::PolicyChange;

/// A version of a program of the principal's workspace, if there is one with this id.
pub async fn find(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<Option<MiniProgramVersion>, ServiceError> {
    require_reader(principal)?;
    services
        .db
        .read(async |conn| Ok(repository::find(conn, &principal.workspace_id, id).await?))
        .await
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
    let versions = services
        .db
        .read(async |conn| {
            repository::list(conn, &program.id, statuses, window.after, window.fetch).await
        })
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
    services
        .db
        .read(async |conn| Ok(repository::count(conn, &program.id, statuses).await?))
        .await
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
    let versions = services
        .db
        .read(async |conn| repository::newest_of_programs(conn, &ids, statuses, window.fetch).await)
        .await?;
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
    let counted = services
        .db
        .read(async |conn| repository::count_of_programs(conn, &ids, statuses).await)
        .await?;
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
    let audit = actor.audit(AuditAction::CreateMiniProgramVersion);
    let committed = services
        .db
        .write(async |tx| {
            let program = mini_programs::lock(tx, &principal.workspace_id, &input.mini_program_id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            let latest = repository::latest_number(tx, &program.id).await?;
            check_new_version_number(version.number, latest)?;
            let created = repository::insert(tx, &program, version).await?;
            let vetted = services.hooks.vet(announced(principal, [&created])).await?;
            outbox::append(tx, &vetted).await?;
            audit_log::record(tx, &audit, None, Some(&created)).await?;
            Ok::<_, ServiceError>(created)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Submits a version for release approval, fixing the program's current
/// global update mode on it. The program's lock makes that mode the one of
/// this instant: a concurrent change of the mode commits entirely before or
/// after.
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
    let audit = actor.audit(AuditAction::SubmitVersionForReleaseApproval);
    let committed = services
        .db
        .write(async |tx| {
            let (program, version) = repository::lock(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let pending = repository::pending_number(tx, &program.id).await?;
            check_submission(&version, pending)?;
            let submitted = repository::mark_submitted(tx, &program, id).await?;
            let vetted = services
                .hooks
                .vet(announced(principal, [&submitted]))
                .await?;
            outbox::append(tx, &vetted).await?;
            audit_log::record(tx, &audit, Some(&version), Some(&submitted)).await?;
            Ok::<_, ServiceError>(submitted)
        })
        .await?;
    Ok(services.after_commit(committed).await)
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

/// A release step: the version and its program's release state are read
/// under the program's lock, `decide` plans the step, and the versions it
/// supersedes go offline with it.
async fn transition(
    services: &Services,
    actor: Actor<'_>,
    action: AuditAction,
    id: &str,
    decide: impl FnOnce(&MiniProgramVersion, &ReleaseState) -> Result<VersionChange, RuleViolation>
    + Send,
) -> Result<VersionTransition, ServiceError> {
    let principal = actor.principal;
    let audit = actor.audit(action);
    let committed = services
        .db
        .write(async |tx| {
            let (program, version) = repository::lock(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let state = repository::release_state(tx, &program.id).await?;
            let change = decide(&version, &state)?;
            let superseded: Vec<&str> = change.supersedes.iter().map(|v| v.id.as_str()).collect();
            let superseded_before = repository::by_ids(tx, &superseded).await?;
            repository::apply_change(tx, &version, &change, &principal.subject).await?;
            if change.changes_launch_policy() {
                launch_policies::changed(tx, PolicyChange::Program(program.id.clone())).await?;
            }
            let mut changed = repository::by_ids(
                tx,
                &std::iter::once(id).chain(superseded).collect::<Vec<_>>(),
            )
            .await?;
            let position = changed
                .iter()
                .position(|changed| changed.id == id)
                .ok_or(ServiceError::NotFound("version"))?;
            let transition = VersionTransition {
                version: changed.swap_remove(position),
                superseded: changed,
            };
            let events = announced(
                principal,
                std::iter::once(&transition.version).chain(&transition.superseded),
            );
            let vetted = services.hooks.vet(events).await?;
            outbox::append(tx, &vetted).await?;
            audit_log::record(tx, &audit, Some(&version), Some(&transition.version)).await?;
            for before in &superseded_before {
                let after = transition
                    .superseded
                    .iter()
                    .find(|after| after.id == before.id);
                audit_log::record(tx, &audit, Some(before), after).await?;
            }
            Ok::<_, ServiceError>(transition)
        })
        .await?;
    Ok(services.after_commit(committed).await)
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
