//! Mini programs: reading them, creating them, changing their update mode.

use super::page::{Page, PageRequest};
use super::{Actor, ServiceError, Services, require, require_reader};
use crate::db::launch_policies::PolicyChange;
use crate::db::mini_programs::{self as repository, ProgramFilter, ProgramKey, UpdateModeOutcome};
use crate::db::update_mode_changes;
use crate::domain::{
    AuditAction, DomainEvent, MiniProgram, MiniProgramChannel, MiniProgramType, NewMiniProgram,
    Principal, UpdateMode, UpdateModeChange, UpdateModeDecision, decide_update_mode_change,
    validate_program_name,
};

/// A program of the principal's workspace, if there is one with this id.
pub async fn find(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<Option<MiniProgram>, ServiceError> {
    require_reader(principal)?;
    Ok(repository::find(&services.db, &principal.workspace_id, id).await?)
}

pub async fn list(
    services: &Services,
    principal: &Principal,
    filter: &ProgramFilter,
    page: &PageRequest,
) -> Result<Page<MiniProgram>, ServiceError> {
    require_reader(principal)?;
    let window = page.window::<ProgramKey>()?;
    let programs = repository::list(
        &services.db,
        &principal.workspace_id,
        filter,
        window.after.as_ref(),
        window.fetch,
    )
    .await?;
    Ok(window.page(programs, ProgramKey::of))
}

pub async fn count(
    services: &Services,
    principal: &Principal,
    filter: &ProgramFilter,
) -> Result<i64, ServiceError> {
    require_reader(principal)?;
    Ok(repository::count(&services.db, &principal.workspace_id, filter).await?)
}

pub struct CreateMiniProgram {
    pub name: String,
    pub program_type: MiniProgramType,
    pub channel: MiniProgramChannel,
}

pub async fn create(
    services: &Services,
    actor: Actor<'_>,
    input: CreateMiniProgram,
) -> Result<MiniProgram, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_create_mini_program(),
        "only a WORKSPACE_ADMIN may create mini programs",
    )?;
    let program = NewMiniProgram {
        workspace_id: principal.workspace_id.clone(),
        name: validate_program_name(&input.name)?,
        program_type: input.program_type,
        channel: input.channel,
    };
    let program = repository::insert(
        &services.db,
        program,
        &actor.audit(AuditAction::CreateMiniProgram),
    )
    .await?;
    services
        .launch
        .committed(PolicyChange::Program(program.id.clone()))
        .await;
    Ok(program)
}

/// Sets the global update mode of a program; see `decide_update_mode_change`.
pub async fn change_update_mode(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
    mode: UpdateMode,
    expected_revision: Option<i32>,
) -> Result<UpdateModeOutcome, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_change_update_mode(),
        "only a WORKSPACE_ADMIN may change the update mode",
    )?;
    let outcome = repository::change_update_mode(
        &services.db,
        id,
        |program| decide_update_mode_change(program, mode, expected_revision),
        services.hooks.as_ref(),
        |outcome| match outcome.decision {
            UpdateModeDecision::Unchanged => Vec::new(),
            UpdateModeDecision::Change {
                previous_mode,
                mode,
                ..
            } => vec![DomainEvent::update_mode_changed(
                &principal.workspace_id,
                &outcome.program.id,
                &principal.subject,
                previous_mode,
                mode,
                outcome.program.revision,
            )],
        },
        &actor.audit(AuditAction::UpdateMode),
    )
    .await?
    .ok_or(ServiceError::NotFound("mini program"))?;
    services.hooks.committed();
    if outcome.decision != UpdateModeDecision::Unchanged {
        services
            .launch
            .committed(PolicyChange::Program(outcome.program.id.clone()))
            .await;
    }
    Ok(outcome)
}

/// The update mode changes of a program, newest first.
pub async fn history(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
    page: &PageRequest,
) -> Result<Page<UpdateModeChange>, ServiceError> {
    require_visible(principal, program)?;
    let window = page.window::<i32>()?;
    let changes =
        update_mode_changes::list(&services.db, &program.id, window.after, window.fetch).await?;
    Ok(window.page(changes, |change| change.revision))
}

pub async fn history_count(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
) -> Result<i64, ServiceError> {
    require_visible(principal, program)?;
    Ok(update_mode_changes::count(&services.db, &program.id).await?)
}

/// A program read for one principal is only ever shown to that workspace.
pub(super) fn require_visible(
    principal: &Principal,
    program: &MiniProgram,
) -> Result<(), ServiceError> {
    require_reader(principal)?;
    if program.workspace_id == principal.workspace_id {
        Ok(())
    } else {
        Err(ServiceError::NotFound("mini program"))
    }
}
