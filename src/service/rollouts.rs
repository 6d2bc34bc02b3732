//! Rollout plans: a workspace admin starts, pauses, resumes or cancels a
//! plan, and the scheduler applies each step as it falls due. Every step is
//! a release like `releaseVersion`: the release gates first, then one
//! transaction with the release rule, guard hooks, events, audit and launch
//! refresh, done as the plan's starter.

use chrono::Utc;

use super::versions::apply;
use super::{Actor, ServiceError, Services, gates, require, require_reader};
use crate::db::versions as versions_repository;
use crate::db::{Tx, audit_log, outbox, rollouts as repository};
use crate::domain::{
    AuditAction, AuditContext, DomainEvent, GateRefusal, MiniProgramVersion, Principal,
    RequestedStep, Rollout, RolloutStatus, RuleViolation, gray_share, plan_release, plan_rollout,
    validate_reason,
};

fn require_release_manager(principal: &Principal) -> Result<(), ServiceError> {
    require(
        principal.may_release(),
        "only a WORKSPACE_ADMIN may manage rollout plans",
    )
}

/// The latest plan of a version, if it ever had one.
pub async fn latest(
    services: &Services,
    principal: &Principal,
    version: &MiniProgramVersion,
) -> Result<Option<Rollout>, ServiceError> {
    require_reader(principal)?;
    let plan = services
        .db
        .read(async |conn| repository::latest(conn, &[&version.id]).await)
        .await?
        .pop();
    Ok(plan.filter(|plan| plan.workspace_id == principal.workspace_id))
}

/// Starts a plan: its first step applies at once, as `releaseVersion`
/// would, and the scheduler applies the others.
pub async fn start(
    services: &Services,
    actor: Actor<'_>,
    version_id: &str,
    steps: &[RequestedStep],
) -> Result<MiniProgramVersion, ServiceError> {
    let principal = actor.principal;
    require_release_manager(principal)?;
    let workspace = &principal.workspace_id;
    // The rules first, on what is there now, so that a plan they refuse asks
    // no gate.
    let (asked, planned) = services
        .db
        .read(async |conn| {
            let version = versions_repository::find(conn, workspace, version_id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let planned = plan_rollout(&version, steps)?;
            if let Some(plan) = repository::in_force(conn, &[version_id]).await?.first() {
                return Err(RuleViolation::RolloutInForce {
                    status: plan.status,
                }
                .into());
            }
            let state = versions_repository::release_state(conn, &version.mini_program_id).await?;
            plan_release(&version, gray_share(planned[0].percentage), &state)?;
            Ok::<_, ServiceError>((version, planned))
        })
        .await?;
    let first = planned[0].percentage;
    gates::ask(services, workspace, &asked, first, Some(0))
        .await?
        .map_err(gates::refused)?;
    let audit = actor.audit(AuditAction::StartRollout);
    let committed = services
        .db
        .write(async |tx| {
            let (_, version) = versions_repository::lock(tx, workspace, version_id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            if version.status != asked.status || version.gray_percentage != asked.gray_percentage {
                return Err(RuleViolation::ChangedMeanwhile.into());
            }
            if let Some(plan) = repository::in_force(tx, &[version_id]).await?.first() {
                return Err(RuleViolation::RolloutInForce {
                    status: plan.status,
                }
                .into());
            }
            let state = versions_repository::release_state(tx, &version.mini_program_id).await?;
            let change = plan_release(&version, gray_share(first), &state)?;
            let released = apply(tx, services, &audit, &version, change).await?.version;
            let at = Utc::now();
            let plan = Rollout {
                id: uuid::Uuid::now_v7().to_string(),
                version_id: version.id.clone(),
                mini_program_id: version.mini_program_id.clone(),
                workspace_id: workspace.clone(),
                status: RolloutStatus::Running,
                steps: planned,
                current_step: 0,
                next_advance_at: None,
                paused_reason: None,
                started_by: principal.subject.clone(),
                created_at: at,
                updated_at: at,
            }
            .reached(0, at);
            repository::insert(tx, &plan).await?;
            audit_log::record(tx, &audit, None, Some(&plan)).await?;
            announce_stop(tx, services, &audit, &released, &plan).await?;
            Ok::<_, ServiceError>(released)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Stops a running plan where it is, for `reason`.
pub async fn pause(
    services: &Services,
    actor: Actor<'_>,
    version_id: &str,
    reason: &str,
) -> Result<MiniProgramVersion, ServiceError> {
    require_release_manager(actor.principal)?;
    let reason = validate_reason(reason)?;
    change_plan(
        services,
        actor.audit(AuditAction::PauseRollout),
        version_id,
        move |plan| plan.pause(reason, Utc::now()),
    )
    .await
}

/// Advances a paused plan again; the hold of its current step counts from now.
pub async fn resume(
    services: &Services,
    actor: Actor<'_>,
    version_id: &str,
) -> Result<MiniProgramVersion, ServiceError> {
    require_release_manager(actor.principal)?;
    change_plan(
        services,
        actor.audit(AuditAction::ResumeRollout),
        version_id,
        |plan| plan.resume(Utc::now()),
    )
    .await
}

/// Stops a plan for good; the share it reached stays.
pub async fn cancel(
    services: &Services,
    actor: Actor<'_>,
    version_id: &str,
) -> Result<MiniProgramVersion, ServiceError> {
    require_release_manager(actor.principal)?;
    change_plan(
        services,
        actor.audit(AuditAction::CancelRollout),
        version_id,
        |plan| plan.cancel(Utc::now()),
    )
    .await
}

/// Changes the version's latest plan under its program's lock.
async fn change_plan(
    services: &Services,
    audit: AuditContext,
    version_id: &str,
    decide: impl FnOnce(Rollout) -> Result<Rollout, RuleViolation> + Send,
) -> Result<MiniProgramVersion, ServiceError> {
    let committed = services
        .db
        .write(async |tx| {
            let (_, version) = versions_repository::lock(tx, &audit.workspace_id, version_id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let before = repository::latest(tx, &[version_id])
                .await?
                .pop()
                .ok_or(ServiceError::NotFound("rollout plan"))?;
            let after = decide(before.clone())?;
            repository::save(tx, &after).await?;
            audit_log::record(tx, &audit, Some(&before), Some(&after)).await?;
            announce_stop(tx, services, &audit, &version, &after).await?;
            Ok::<_, ServiceError>(version)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// Tells integrations that a plan paused or completed.
async fn announce_stop(
    tx: &mut Tx<'_>,
    services: &Services,
    audit: &AuditContext,
    version: &MiniProgramVersion,
    plan: &Rollout,
) -> Result<(), ServiceError> {
    let paused_for = match plan.status {
        RolloutStatus::Paused => plan.paused_reason.as_deref(),
        RolloutStatus::Completed => None,
        RolloutStatus::Running | RolloutStatus::Cancelled => return Ok(()),
    };
    let event =
        DomainEvent::rollout_stopped(&audit.workspace_id, &audit.actor, version, paused_for);
    let vetted = services.hooks.vet(vec![event]).await?;
    outbox::append(tx, &vetted).await?;
    Ok(())
}

/// What became of a due step.
#[derive(Debug, PartialEq, Eq)]
pub enum Advanced {
    /// The step applied.
    Applied,
    /// A gate or a rule refused the step: the plan paused, or waits to try
    /// again.
    Refused,
    /// Another process, or a change made meanwhile, holds the plan now.
    Skipped,
}

/// Applies the next step of a plan whose lease `owner` holds: asks the
/// gates, then applies the step as the plan's starter. A refusal pauses
/// the plan, unless the gate asked to be asked again later.
pub async fn advance(
    services: &Services,
    owner: &str,
    rollout_id: &str,
) -> Result<Advanced, ServiceError> {
    let claimed = services
        .db
        .read(async |conn| {
            let Some(plan) = repository::claimed(conn, rollout_id, owner).await? else {
                return Ok(None);
            };
            let version =
                versions_repository::find(conn, &plan.workspace_id, &plan.version_id).await?;
            Ok::<_, ServiceError>(version.map(|version| (plan, version)))
        })
        .await?;
    let Some((plan, asked)) = claimed else {
        return Ok(Advanced::Skipped);
    };
    let Some((index, step)) = plan
        .next_step()
        .filter(|_| plan.status == RolloutStatus::Running)
        .map(|(index, step)| (index, step.percentage))
    else {
        return Ok(Advanced::Skipped);
    };
    let audit = AuditContext {
        workspace_id: plan.workspace_id.clone(),
        actor: plan.started_by.clone(),
        request_id: None,
        action: AuditAction::AdvanceRollout,
    };
    let refusal = gates::ask(services, &plan.workspace_id, &asked, step, Some(index)).await?;
    if let Err(refusal) = refusal {
        return stop(services, owner, &plan, &audit, Stop::Gate(refusal)).await;
    }
    let attempt = services
        .db
        .write(async |tx| {
            let (_, version) = versions_repository::lock(tx, &plan.workspace_id, &plan.version_id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let Some(current) = still_claimed(tx, &plan, owner).await? else {
                return Ok(Advanced::Skipped);
            };
            if version.status != asked.status || version.gray_percentage != asked.gray_percentage {
                return Err(RuleViolation::ChangedMeanwhile.into());
            }
            let state = versions_repository::release_state(tx, &version.mini_program_id).await?;
            let change = plan_release(&version, gray_share(step), &state)?;
            let released = apply(tx, services, &audit, &version, change).await?.version;
            let reached = current.clone().reached(index, Utc::now());
            repository::save(tx, &reached).await?;
            audit_log::record(tx, &audit, Some(&current), Some(&reached)).await?;
            announce_stop(tx, services, &audit, &released, &reached).await?;
            Ok::<_, ServiceError>(Advanced::Applied)
        })
        .await;
    match attempt {
        Ok(committed) => Ok(services.after_commit(committed).await),
        Err(ServiceError::Rule(RuleViolation::ChangedMeanwhile)) => {
            stop(services, owner, &plan, &audit, Stop::Retry).await
        }
        Err(ServiceError::Rule(violation)) => {
            stop(services, owner, &plan, &audit, Stop::Rule(violation)).await
        }
        Err(error) => Err(error),
    }
}

/// Why a due step did not apply.
enum Stop {
    Gate(GateRefusal),
    Rule(RuleViolation),
    /// The version changed between the gates' answer and the transaction:
    /// ask again at once.
    Retry,
}

/// The gap before a step is tried again after the version changed under it.
const RETRY_AFTER_CHANGE: chrono::Duration = chrono::Duration::seconds(1);

/// Records a refused step: the plan waits and tries again, or pauses with
/// the reason, announced to integrations.
async fn stop(
    services: &Services,
    owner: &str,
    plan: &Rollout,
    audit: &AuditContext,
    why: Stop,
) -> Result<Advanced, ServiceError> {
    let committed = services
        .db
        .write(async |tx| {
            let (_, version) = versions_repository::lock(tx, &plan.workspace_id, &plan.version_id)
                .await?
                .ok_or(ServiceError::NotFound("version"))?;
            let Some(current) = still_claimed(tx, plan, owner).await? else {
                return Ok(Advanced::Skipped);
            };
            let at = Utc::now();
            let after = match &why {
                Stop::Gate(GateRefusal {
                    retry_after: Some(delay),
                    ..
                }) => current.clone().retry_after(
                    chrono::Duration::from_std(*delay).unwrap_or(RETRY_AFTER_CHANGE),
                    at,
                ),
                Stop::Retry => current.clone().retry_after(RETRY_AFTER_CHANGE, at),
                Stop::Gate(refusal) => current.clone().pause(
                    format!(
                        "refused by the release gate {}: {}",
                        refusal.gate, refusal.reason
                    ),
                    at,
                )?,
                Stop::Rule(violation) => current.clone().pause(violation.to_string(), at)?,
            };
            repository::save(tx, &after).await?;
            audit_log::record(tx, audit, Some(&current), Some(&after)).await?;
            announce_stop(tx, services, audit, &version, &after).await?;
            Ok::<_, ServiceError>(Advanced::Refused)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// The plan as it is under the program's lock, if `owner` still holds it at
/// the step it was claimed at: otherwise another process took it over, or
/// someone paused or cancelled it meanwhile.
async fn still_claimed(
    tx: &mut Tx<'_>,
    plan: &Rollout,
    owner: &str,
) -> Result<Option<Rollout>, ServiceError> {
    Ok(repository::claimed(tx, &plan.id, owner)
        .await?
        .filter(|current| {
            current.status == RolloutStatus::Running && current.current_step == plan.current_step
        }))
}
