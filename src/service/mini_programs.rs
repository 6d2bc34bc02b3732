//! Mini programs: reading them, creating them, changing their update mode.

use super::page::{Page, PageRequest};
use super::{Actor, ServiceError, Services, require, require_reader};
use crate::db::mini_programs::{self as repository, ProgramKey};
use crate::db::program_pages::{self, PageQuery, VersionList};
use crate::db::{Tx, audit_log, launch_policies, outbox, update_mode_changes, versions};
use crate::domain::{
    AuditAction, AuditContext, DomainEvent, MiniProgram, MiniProgramChannel, MiniProgramType,
    NewMiniProgram, Principal, ProgramFilter, UpdateMode, UpdateModeChange, UpdateModeDecision,
    UpdateModeOutcome, VersionNumber, VersionStatus, VersionSummary, decide_update_mode_change,
    validate_name,
};
use crate::launch::PolicyChange;

/// A program of the principal's workspace, if there is one with this id.
pub async fn find(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<Option<MiniProgram>, ServiceError> {
    require_reader(principal)?;
    services
        .db
        .read(async |conn| Ok(repository::find(conn, &principal.workspace_id, id).await?))
        .await
}

/// A version list that a listed page shows under each of its programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownList {
    /// Empty means every status.
    pub statuses: Vec<VersionStatus>,
    /// As the list asks: `None` is the default size.
    pub first: Option<i32>,
    /// Whether each program's count of such versions is shown.
    pub counted: bool,
}

/// What a listed page shows besides its programs, so that it is read with
/// them.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub total: bool,
    pub lists: Vec<ShownList>,
}

/// A page of programs with what it shows, in the order of `Shown::lists`.
pub struct ListedPage {
    pub programs: Page<ListedProgram>,
    /// How many programs pass the filter, when shown and read with the page.
    pub total: Option<i64>,
    /// The lists read with the page; those of `Shown::lists` that ask for a
    /// size out of range are left to be refused on their own.
    pub lists: Vec<ShownList>,
}

/// A listed program with the first page of each list read with it.
pub struct ListedProgram {
    pub program: MiniProgram,
    pub versions: Vec<Page<VersionSummary>>,
    pub counts: Vec<Option<i64>>,
}

pub async fn list(
    services: &Services,
    principal: &Principal,
    filter: &ProgramFilter,
    page: &PageRequest,
    shown: &Shown,
) -> Result<ListedPage, ServiceError> {
    read_page(services, principal, None, filter, page, shown).await
}

/// A program of the principal's workspace with what its page shows, read
/// together; an empty page when there is none with this id.
pub async fn find_shown(
    services: &Services,
    principal: &Principal,
    id: &str,
    shown: &Shown,
) -> Result<ListedPage, ServiceError> {
    let one = PageRequest {
        first: Some(1),
        after: None,
    };
    read_page(
        services,
        principal,
        Some(id),
        &ProgramFilter::default(),
        &one,
        shown,
    )
    .await
}

async fn read_page(
    services: &Services,
    principal: &Principal,
    id: Option<&str>,
    filter: &ProgramFilter,
    page: &PageRequest,
    shown: &Shown,
) -> Result<ListedPage, ServiceError> {
    require_reader(principal)?;
    let window = page.window::<ProgramKey>()?;
    let (lists, windows): (Vec<ShownList>, Vec<_>) = shown
        .lists
        .iter()
        .filter_map(|list| {
            let request = PageRequest {
                first: list.first,
                after: None,
            };
            let window = request.window::<VersionNumber>().ok()?;
            Some((list.clone(), window))
        })
        .unzip();
    let stored_lists: Vec<VersionList> = lists
        .iter()
        .zip(&windows)
        .map(|(list, window)| VersionList {
            statuses: list.statuses.clone(),
            per_program: window.fetch,
            counted: list.counted,
        })
        .collect();
    let read = services
        .db
        .read(async |conn| {
            let query = PageQuery {
                workspace_id: &principal.workspace_id,
                id,
                filter,
                after: window.after.as_ref(),
                limit: window.fetch,
                total: shown.total,
                lists: &stored_lists,
            };
            Ok::<_, ServiceError>(program_pages::read(conn, query).await?)
        })
        .await?;
    let programs = read
        .programs
        .into_iter()
        .map(|listed| ListedProgram {
            versions: listed
                .versions
                .into_iter()
                .zip(&windows)
                .map(|(versions, window)| window.page(versions, |version| version.number))
                .collect(),
            counts: listed.counts,
            program: listed.program,
        })
        .collect();
    Ok(ListedPage {
        programs: window.page(programs, |listed| ProgramKey::of(&listed.program)),
        total: read.total,
        lists,
    })
}

pub async fn count(
    services: &Services,
    principal: &Principal,
    filter: &ProgramFilter,
) -> Result<i64, ServiceError> {
    require_reader(principal)?;
    services
        .db
        .read(async |conn| Ok(repository::count(conn, &principal.workspace_id, filter).await?))
        .await
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
        name: validate_name(&input.name)?,
        program_type: input.program_type,
        channel: input.channel,
    };
    let audit = actor.audit(AuditAction::CreateMiniProgram);
    let committed = services
        .db
        .write(async |tx| {
            let name = program.name.text.clone();
            let program = repository::insert(tx, program)
                .await
                .map_err(ServiceError::name_taken("mini program", &name))?;
            launch_policies::changed(tx, PolicyChange::Program(program.id.clone())).await?;
            audit_log::record(tx, &audit, None, Some(&program)).await?;
            Ok::<_, ServiceError>(program)
        })
        .await?;
    Ok(services.after_commit(committed).await)
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
    let audit = actor.audit(AuditAction::UpdateMode);
    let committed = services
        .db
        .write(async |tx| {
            let before = repository::lock(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            let decision = decide_update_mode_change(&before, mode, expected_revision)?;
            let program = apply_update_mode(tx, services, &audit, &before, decision).await?;
            let affected_versions = versions::following_global_mode(tx, &program.id).await?;
            Ok::<_, ServiceError>(UpdateModeOutcome {
                program,
                decision,
                affected_versions,
            })
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Writes a decided change of the global mode of `before` (read under its
/// lock) as `audit.actor`: the history entry, the launch policy, the
/// `update_mode.changed` event and the audit record. By hand or by a window.
pub(super) async fn apply_update_mode(
    tx: &mut Tx<'_>,
    services: &Services,
    audit: &AuditContext,
    before: &MiniProgram,
    decision: UpdateModeDecision,
) -> Result<MiniProgram, ServiceError> {
    let UpdateModeDecision::Change {
        previous_mode,
        mode,
        revision,
    } = decision
    else {
        audit_log::record(tx, audit, Some(before), Some(before)).await?;
        return Ok(before.clone());
    };
    let program =
        repository::change_update_mode(tx, before, previous_mode, mode, revision, &audit.actor)
            .await?;
    launch_policies::changed(tx, PolicyChange::Program(program.id.clone())).await?;
    let event = DomainEvent::update_mode_changed(
        &audit.workspace_id,
        &program.id,
        &audit.actor,
        previous_mode,
        mode,
        program.revision,
    );
    let vetted = services.hooks.vet(vec![event]).await?;
    outbox::append(tx, &vetted).await?;
    audit_log::record(tx, audit, Some(before), Some(&program)).await?;
    Ok(program)
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
    let changes = services
        .db
        .read(async |conn| {
            update_mode_changes::list(conn, &program.id, window.after, window.fetch).await
        })
        .await?;
    Ok(window.page(changes, |change| change.revision))
}

pub async fn history_count(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
) -> Result<i64, ServiceError> {
    require_visible(principal, program)?;
    services
        .db
        .read(async |conn| Ok(update_mode_changes::count(conn, &program.id).await?))
        .await
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
