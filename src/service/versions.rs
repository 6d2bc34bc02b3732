//! Versions of mini programs: reading, creating, submitting them for release
//! approval, and the release steps that follow.

use std::collections::HashMap;

use chrono::Utc;

use super::mini_programs::require_visible;
use super::page::{Page, PageRequest};
use super::{Actor, ServiceError, Services, gates, require, require_reader};
use crate::db::versions::{self as repository, NewVersion};
use crate::db::{Tx, audit_log, launch_policies, mini_programs, outbox, rollouts};
use crate::domain::{
    self, AuditAction, AuditContext, DomainEvent, MiniProgram, MiniProgramVersion, Principal,
    ReleaseDecision, ReleaseState, Rollout, RuleViolation, VersionChange, VersionNumber,
    VersionStatus, VersionTransition, check_new_version_number, check_submission, plan_offline,
    plan_release, plan_restore, plan_rollback, plan_rolled_back, validate_description,
    validate_reason,
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

/// The whole records of versions listed under `programs` (read as
/// summaries with their page), read together.
pub async fn listed(
    services: &Services,
    principal: &Principal,
    programs: &[MiniProgram],
    ids: &[&str],
) -> Result<Vec<MiniProgramVersion>, ServiceError> {
    let program_ids = visible_ids(principal, programs)?;
    let versions = services
        .db
        .read(async |conn| Ok::<_, ServiceError>(repository::by_ids(conn, ids).await?))
        .await?;
    Ok(versions
        .into_iter()
        .filter(|version| program_ids.contains(&version.mini_program_id.as_str()))
        .collect())
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
            let vetted = services
                .hooks
                .vet(announced(
                    &principal.workspace_id,
                    &principal.subject,
                    [&created],
                ))
                .await?;
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
                .vet(announced(
                    &principal.workspace_id,
                    &principal.subject,
                    [&submitted],
                ))
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
        actor.audit(AuditAction::DecideRelease),
        id,
        move |version, _, _| domain::decide_release(version, decision, comment.as_deref()),
    )
    .await
}

/// Releases an approved or gray version to `gray_percentage` of devices, or
/// to all of them. WORKSPACE_ADMIN. The release gates are asked first; the
/// transaction then checks that the version did not change meanwhile.
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
    let workspace = &principal.workspace_id;
    // The rules first, on what is there now, so that a release they refuse
    // asks no gate.
    let asked = services
        .db
        .read(async |conn| {
            let version = repository::find(conn, workspace, id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let state = repository::release_state(conn, &version.mini_program_id).await?;
            let in_force = rollouts::in_force(conn, &[id]).await?;
            check_release(&version, gray_percentage, &state, in_force.first())?;
            Ok::<_, ServiceError>(version)
        })
        .await?;
    let to = gray_percentage.unwrap_or(100);
    gates::ask(services, workspace, &asked, to, None)
        .await?
        .map_err(gates::refused)?;
    transition(
        services,
        actor.audit(AuditAction::ReleaseVersion),
        id,
        move |version, state, in_force| {
            if version.status != asked.status || version.gray_percentage != asked.gray_percentage {
                return Err(RuleViolation::ChangedMeanwhile);
            }
            check_release(version, gray_percentage, state, in_force)
        },
    )
    .await
}

/// A manual release is refused while a rollout plan holds the version.
fn check_release(
    version: &MiniProgramVersion,
    gray_percentage: Option<i32>,
    state: &ReleaseState,
    in_force: Option<&Rollout>,
) -> Result<VersionChange, RuleViolation> {
    if let Some(rollout) = in_force {
        return Err(RuleViolation::RolloutInForce {
            status: rollout.status,
        });
    }
    plan_release(version, gray_percentage, state)
}

/// Takes a released version offline, cancelling its rollout plan if it has
/// one in force. WORKSPACE_ADMIN.
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
        actor.audit(AuditAction::TakeVersionOffline),
        id,
        |version, _, _| plan_offline(version),
    )
    .await
}

/// A release step: the version, its program's release state and its plan
/// in force are read under the program's lock, and `decide` plans the step.
async fn transition(
    services: &Services,
    audit: AuditContext,
    id: &str,
    decide: impl FnOnce(
        &MiniProgramVersion,
        &ReleaseState,
        Option<&Rollout>,
    ) -> Result<VersionChange, RuleViolation>
    + Send,
) -> Result<VersionTransition, ServiceError> {
    let committed = services
        .db
        .write(async |tx| {
            let (_, version) = repository::lock(tx, &audit.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let state = repository::release_state(tx, &version.mini_program_id).await?;
            let in_force = rollouts::in_force(tx, &[id]).await?;
            let change = decide(&version, &state, in_force.first())?;
            apply(tx, services, &audit, &version, change).await
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Writes a planned release step of `version` (read under its program's
/// lock) and everything that goes with it: the versions it supersedes go
/// offline, plans of versions that went offline are cancelled, the launch
/// policy moves, and the events are vetted, kept for delivery and audited.
pub(super) async fn apply(
    tx: &mut Tx<'_>,
    services: &Services,
    audit: &AuditContext,
    version: &MiniProgramVersion,
    change: VersionChange,
) -> Result<VersionTransition, ServiceError> {
    let superseded: Vec<&str> = change.supersedes.iter().map(|v| v.id.as_str()).collect();
    let superseded_before = repository::by_ids(tx, &superseded).await?;
    repository::apply_change(tx, version, &change, &audit.actor).await?;
    if change.changes_launch_policy() {
        launch_policies::changed(tx, PolicyChange::Program(version.mini_program_id.clone()))
            .await?;
    }
    let mut changed = repository::by_ids(
        tx,
        &std::iter::once(version.id.as_str())
            .chain(superseded)
            .collect::<Vec<_>>(),
    )
    .await?;
    let position = changed
        .iter()
        .position(|changed| changed.id == version.id)
        .ok_or(ServiceError::NotFound("version"))?;
    let transition = VersionTransition {
        version: changed.swap_remove(position),
        superseded: changed,
    };
    let events = announced(
        &audit.workspace_id,
        &audit.actor,
        std::iter::once(&transition.version).chain(&transition.superseded),
    );
    let vetted = services.hooks.vet(events).await?;
    outbox::append(tx, &vetted).await?;
    audit_log::record(tx, audit, Some(version), Some(&transition.version)).await?;
    for before in &superseded_before {
        let after = transition
            .superseded
            .iter()
            .find(|after| after.id == before.id);
        audit_log::record(tx, audit, Some(before), after).await?;
    }
    let offline: Vec<&str> = std::iter::once(&transition.version)
        .chain(&transition.superseded)
        .filter(|version| version.status == VersionStatus::Offline)
        .map(|version| version.id.as_str())
        .collect();
    if !offline.is_empty() {
        for plan in rollouts::in_force(tx, &offline).await? {
            let cancelled = plan.clone().cancel(Utc::now())?;
            rollouts::save(tx, &cancelled).await?;
            audit_log::record(tx, audit, Some(&plan), Some(&cancelled)).await?;
        }
    }
    Ok(transition)
}

/// What a rollback gave: the version taken offline, and the version that
/// serves the program's devices now.
pub struct RolledBack {
    pub rolled_back: MiniProgramVersion,
    pub restored: Option<MiniProgramVersion>,
}

/// Rolls back the program's newest release: its gray release if it has
/// one, else its full release, goes offline for `reason` and is never
/// served again; a rolled-back full release gives way to the full release
/// it replaced. WORKSPACE_ADMIN. No gate is asked: a rollback is how a
/// release manager stops harm.
pub async fn roll_back(
    services: &Services,
    actor: Actor<'_>,
    mini_program_id: &str,
    reason: &str,
) -> Result<RolledBack, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_release(),
        "only a WORKSPACE_ADMIN may roll back releases",
    )?;
    let reason = validate_reason(reason)?;
    let audit = actor.audit(AuditAction::RollBackRelease);
    let committed = services
        .db
        .write(async |tx| {
            let program = mini_programs::lock(tx, &principal.workspace_id, mini_program_id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            let state = repository::release_state(tx, &program.id).await?;
            let rollback = plan_rollback(&state)?;
            let replaced = if rollback.was_full {
                repository::replaced_by(tx, &rollback.rolled_back.id).await?
            } else {
                None
            };
            let mut versions = repository::by_ids(
                tx,
                &std::iter::once(rollback.rolled_back.id.as_str())
                    .chain(replaced.as_deref())
                    .chain(state.full.as_ref().map(|full| full.id.as_str()))
                    .collect::<Vec<_>>(),
            )
            .await?;
            let take = |versions: &mut Vec<MiniProgramVersion>, id: &str| {
                versions
                    .iter()
                    .position(|version| version.id == id)
                    .map(|position| versions.swap_remove(position))
            };
            let newest = take(&mut versions, &rollback.rolled_back.id)
                .ok_or(ServiceError::NotFound("version"))?;
            let rolled_back = apply(
                tx,
                services,
                &audit,
                &newest,
                plan_rolled_back(&newest, reason)?,
            )
            .await?
            .version;
            let restored = match replaced.and_then(|id| take(&mut versions, &id)) {
                Some(replaced) => match plan_restore(&replaced) {
                    Some(change) => Some(
                        apply(tx, services, &audit, &replaced, change)
                            .await?
                            .version,
                    ),
                    None => None,
                },
                None if rollback.was_full => None,
                // A rolled-back gray release leaves the full release serving.
                None => state
                    .full
                    .as_ref()
                    .and_then(|full| take(&mut versions, &full.id)),
            };
            Ok::<_, ServiceError>(RolledBack {
                rolled_back,
                restored,
            })
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// The events of versions that reached their current status.
fn announced<'a>(
    workspace_id: &str,
    actor: &str,
    versions: impl IntoIterator<Item = &'a MiniProgramVersion>,
) -> Vec<DomainEvent> {
    versions
        .into_iter()
        .map(|version| DomainEvent::version_reached_status(workspace_id, actor, version))
        .collect()
}
