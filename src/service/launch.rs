//! What a device would be told at launch (the preview for tools and the
//! console), and the update timers that go into it.

use super::{Actor, ServiceError, Services, require, require_reader};
use crate::db::launch_policies::{self, PolicyChange};
use crate::db::mini_programs as repository;
use crate::domain::{
    AuditAction, LaunchDecision, LaunchRequest, MiniProgram, Principal, RuleViolation,
    UpdateTimers, decide_launch, update_mode_locks,
};

/// The answer a device would get now, read from the database rather than
/// from the snapshot, with the same rules.
pub async fn preview(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
    device_id: &str,
    cached_version: Option<&str>,
    cache_age_seconds: Option<i32>,
) -> Result<LaunchDecision, ServiceError> {
    require_reader(principal)?;
    let cache_age_seconds = cache_age_seconds
        .map(|age| {
            u64::try_from(age).map_err(|_| {
                RuleViolation::invalid_input("cacheAgeSeconds", "must not be negative")
            })
        })
        .transpose()?;
    let request = LaunchRequest::new(device_id, cached_version, cache_age_seconds)?;
    let policy = launch_policies::load(&services.db, Some(mini_program_id))
        .await?
        .pop()
        .filter(|policy| policy.workspace_id == principal.workspace_id)
        .ok_or(ServiceError::NotFound("mini program"))?;
    Ok(decide_launch(&policy, &request))
}

/// Sets a program's update timers. WORKSPACE_ADMIN, for the programs whose
/// update mode they may change.
pub async fn set_update_timers(
    services: &Services,
    actor: Actor<'_>,
    mini_program_id: &str,
    async_update_seconds: i32,
    sync_update_seconds: i32,
) -> Result<MiniProgram, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_change_update_mode(),
        "only a WORKSPACE_ADMIN may set update timers",
    )?;
    let timers = UpdateTimers::new(async_update_seconds, sync_update_seconds)?;
    let program = repository::set_timers(
        &services.db,
        &principal.workspace_id,
        mini_program_id,
        timers,
        |program| match update_mode_locks(principal, program) {
            locks if locks.is_empty() => Ok(()),
            locks => Err(RuleViolation::UpdateModeLocked(locks)),
        },
        &actor.audit(AuditAction::SetUpdateTimers),
    )
    .await?
    .ok_or(ServiceError::NotFound("mini program"))?;
    services
        .launch
        .committed(PolicyChange::Program(program.id.clone()))
        .await;
    Ok(program)
}
