//! What a device would be told at launch (the preview for tools and the
//! console), and the update timers and minimum usable version that go
//! into it.

use super::{Actor, ServiceError, Services, require, require_reader};
use crate::db::{audit_log, launch_policies, mini_programs, outbox, versions};
use crate::domain::{
    AuditAction, DomainEvent, LaunchDecision, LaunchRequest, MiniProgram, MinimumVersionDecision,
    Principal, RuleViolation, UpdateTimers, decide_launch, decide_minimum_version, launch_reasons,
    update_mode_locks,
};
use crate::launch::PolicyChange;

/// The answer a device would get now, read from the database rather than
/// from the snapshot, with the same rules, and the reasons for it.
pub async fn preview(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
    device_id: &str,
    cached_version: Option<&str>,
    cache_age_seconds: Option<i32>,
) -> Result<(LaunchDecision, Vec<String>), ServiceError> {
    require_reader(principal)?;
    let cache_age_seconds = cache_age_seconds
        .map(|age| {
            u64::try_from(age).map_err(|_| {
                RuleViolation::invalid_input("cacheAgeSeconds", "must not be negative")
            })
        })
        .transpose()?;
    let request = LaunchRequest::new(device_id, cached_version, cache_age_seconds)?;
    let policy = services
        .db
        .read(async |conn| launch_policies::load(conn, mini_program_id).await)
        .await?
        .filter(|policy| policy.workspace_id == principal.workspace_id)
        .ok_or(ServiceError::NotFound("mini program"))?;
    let decision = decide_launch(&policy, &request);
    let reasons = launch_reasons(&policy, &request, &decision);
    Ok((decision, reasons))
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
    let audit = actor.audit(AuditAction::SetUpdateTimers);
    let committed = services
        .db
        .write(async |tx| {
            let before = mini_programs::lock(tx, &principal.workspace_id, mini_program_id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            let locks = update_mode_locks(principal, &before);
            if !locks.is_empty() {
                return Err(RuleViolation::UpdateModeLocked(locks).into());
            }
            let program = mini_programs::set_timers(tx, &before, timers).await?;
            launch_policies::changed(tx, PolicyChange::Program(program.id.clone())).await?;
            audit_log::record(tx, &audit, Some(&before), Some(&program)).await?;
            Ok::<_, ServiceError>(program)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Sets (or, with `None`, clears) a program's minimum usable version: no
/// device may start an older one. WORKSPACE_ADMIN, for the programs whose
/// update mode they may change; see `decide_minimum_version`.
pub async fn set_minimum_version(
    services: &Services,
    actor: Actor<'_>,
    mini_program_id: &str,
    version: Option<&str>,
    expected_revision: Option<i32>,
) -> Result<MiniProgram, ServiceError> {
    let principal = actor.principal;
    require(
        principal.may_change_update_mode(),
        "only a WORKSPACE_ADMIN may set the minimum version",
    )?;
    let audit = actor.audit(AuditAction::SetMinimumVersion);
    let committed = services
        .db
        .write(async |tx| {
            let before = mini_programs::lock(tx, &principal.workspace_id, mini_program_id)
                .await?
                .ok_or(ServiceError::NotFound("mini program"))?;
            let released = versions::released_numbers(tx, &before.id).await?;
            let full = versions::release_state(tx, &before.id)
                .await?
                .full
                .map(|full| full.number);
            let decision =
                decide_minimum_version(&before, version, expected_revision, &released, full)?;
            let MinimumVersionDecision::Change {
                previous,
                version,
                revision,
            } = decision
            else {
                return Ok(before);
            };
            let program =
                mini_programs::set_minimum_version(tx, &before, version, revision).await?;
            launch_policies::changed(tx, PolicyChange::Program(program.id.clone())).await?;
            let event =
                DomainEvent::minimum_version_changed(&program, &principal.subject, previous);
            let vetted = services.hooks.vet(vec![event]).await?;
            outbox::append(tx, &vetted).await?;
            audit_log::record(tx, &audit, Some(&before), Some(&program)).await?;
            Ok::<_, ServiceError>(program)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}
