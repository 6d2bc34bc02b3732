//! Update-mode windows: a workspace admin schedules a change of the global
//! mode that ends by itself, or cancels it; the scheduler applies each start
//! and end as it falls due, through the same path as `updateMode`, done as
//! the window's creator.

use chrono::Utc;

use super::mini_programs::{apply_update_mode, require_visible};
use super::{Actor, ServiceError, Services, require};
use crate::db::{
    Tx, audit_log, mini_programs, scheduled_update_modes as repository, update_mode_changes,
};
use crate::domain::{
    AuditAction, AuditContext, Ending, MiniProgram, Principal, RequestedWindow, RuleViolation,
    ScheduledChangeStatus, ScheduledUpdateModeChange, decide_update_mode_change, plan_window,
};

fn require_admin(principal: &Principal) -> Result<(), ServiceError> {
    require(
        principal.may_change_update_mode(),
        "only a WORKSPACE_ADMIN may schedule update modes",
    )
}

/// The program's SCHEDULED and ACTIVE windows, soonest first.
pub async fn pending(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
) -> Result<Vec<ScheduledUpdateModeChange>, ServiceError> {
    require_visible(principal, program)?;
    services
        .db
        .read(async |conn| Ok(repository::pending(conn, &program.id).await?))
        .await
}

pub async fn schedule(
    services: &Services,
    actor: Actor<'_>,
    mini_program_id: &str,
    requested: RequestedWindow,
) -> Result<ScheduledUpdateModeChange, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let audit = actor.audit(AuditAction::ScheduleUpdateMode);
    let committed = services
        .db
        .write(async |tx| {
            let program = mini_programs::lock(tx, &principal.workspace_id, mini_program_id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            let pending = repository::pending(tx, &program.id).await?;
            let now = Utc::now();
            plan_window(&program, requested, now, &pending)?;
            let window = ScheduledUpdateModeChange {
                id: uuid::Uuid::now_v7().to_string(),
                mini_program_id: program.id.clone(),
                workspace_id: program.workspace_id.clone(),
                mode: requested.mode,
                starts_at: requested.starts_at,
                ends_at: requested.ends_at,
                status: ScheduledChangeStatus::Scheduled,
                revert_to: None,
                started_revision: None,
                created_by: principal.subject.clone(),
                note: None,
                created_at: now,
            };
            repository::insert(tx, &window).await?;
            audit_log::record(tx, &audit, None, Some(&window)).await?;
            Ok::<_, ServiceError>(window)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Drops a SCHEDULED window; an ACTIVE one ends at once, reverting the mode
/// unless it was changed during the window.
pub async fn cancel(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
) -> Result<ScheduledUpdateModeChange, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let audit = actor.audit(AuditAction::CancelScheduledUpdateMode);
    let committed = services
        .db
        .write(async |tx| {
            let found = repository::find(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("scheduled update mode change"))?;
            let program = mini_programs::lock(tx, &principal.workspace_id, &found.mini_program_id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            // Read again under the program's lock, which every change of a
            // window holds.
            let before = repository::find(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("scheduled update mode change"))?;
            let after = match before.status {
                ScheduledChangeStatus::Scheduled => ScheduledUpdateModeChange {
                    status: ScheduledChangeStatus::Cancelled,
                    ..before.clone()
                },
                ScheduledChangeStatus::Active => {
                    let ended = end(tx, services, &audit, &program, before.clone()).await?;
                    ScheduledUpdateModeChange {
                        status: ScheduledChangeStatus::Cancelled,
                        ..ended
                    }
                }
                status => {
                    return Err(RuleViolation::WindowNotPending { status }.into());
                }
            };
            repository::save(tx, &after).await?;
            audit_log::record(tx, &audit, Some(&before), Some(&after)).await?;
            Ok::<_, ServiceError>(after)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Applies the due start or end of a window whose lease `owner` holds.
/// Whether it applied anything: another process may have taken it over.
pub async fn apply_due(services: &Services, owner: &str, id: &str) -> Result<bool, ServiceError> {
    let Some(claimed) = services
        .db
        .read(async |conn| Ok::<_, ServiceError>(repository::claimed(conn, id, owner).await?))
        .await?
    else {
        return Ok(false);
    };
    let audit = AuditContext {
        workspace_id: claimed.workspace_id.clone(),
        actor: claimed.created_by.clone(),
        request_id: None,
        action: AuditAction::ApplyScheduledUpdateMode,
    };
    let committed = services
        .db
        .write(async |tx| {
            let program = mini_programs::lock(tx, &claimed.workspace_id, &claimed.mini_program_id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            // Under the lock: still ours, and still due at the time claimed.
            let Some(before) = repository::claimed(tx, id, owner)
                .await?
                .filter(|window| window.due_at().is_some_and(|due| due <= Utc::now()))
                .filter(|window| window.status == claimed.status)
            else {
                return Ok(false);
            };
            let after = match before.status {
                ScheduledChangeStatus::Scheduled => {
                    let decision = decide_update_mode_change(&program, before.mode, None)?;
                    let changed =
                        apply_update_mode(tx, services, &audit, &program, decision).await?;
                    before
                        .clone()
                        .started(program.update_mode, changed.revision)
                }
                ScheduledChangeStatus::Active => {
                    let ended = end(tx, services, &audit, &program, before.clone()).await?;
                    ScheduledUpdateModeChange {
                        status: if ended.note.is_some() {
                            ScheduledChangeStatus::Skipped
                        } else {
                            ScheduledChangeStatus::Completed
                        },
                        ..ended
                    }
                }
                _ => return Ok(false),
            };
            repository::save(tx, &after).await?;
            audit_log::record(tx, &audit, Some(&before), Some(&after)).await?;
            Ok::<_, ServiceError>(true)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Ends an active window of `program` (read under its lock): the mode goes
/// back to what the start replaced, unless someone changed it during the
/// window; then nothing changes and the note says who did, and when.
async fn end(
    tx: &mut Tx<'_>,
    services: &Services,
    audit: &AuditContext,
    program: &MiniProgram,
    window: ScheduledUpdateModeChange,
) -> Result<ScheduledUpdateModeChange, ServiceError> {
    let latest = update_mode_changes::list(tx, &program.id, None, 1).await?;
    match window.ending(latest.first()) {
        Ending::Revert(mode) => {
            let decision = decide_update_mode_change(program, mode, None)?;
            apply_update_mode(tx, services, audit, program, decision).await?;
            Ok(window)
        }
        Ending::Skip(note) => Ok(ScheduledUpdateModeChange {
            note: Some(note),
            ..window
        }),
    }
}
