//! Release gates: a workspace admin registers the partner systems asked
//! before any share of devices changes, and every such change asks them
//! first, before its write transaction (never while a lock is held).

use super::{Actor, ServiceError, Services, require};
use crate::db::audit_log;
use crate::db::release_gates::{self as repository, NewGate};
use crate::domain::{
    AuditAction, GateRefusal, MiniProgramVersion, Principal, ReleaseCheck, ReleaseGate,
    RuleViolation, validate_name, validate_webhook_url,
};
use crate::hooks::gates::GateTarget;
use crate::hooks::webhooks::new_secret;

/// A gate with its signing secret, shown only at registration.
pub struct WithSecret {
    pub gate: ReleaseGate,
    pub secret: String,
}

fn require_admin(principal: &Principal) -> Result<(), ServiceError> {
    require(
        principal.may_manage_integrations(),
        "only a WORKSPACE_ADMIN may manage release gates",
    )
}

pub async fn list(
    services: &Services,
    principal: &Principal,
) -> Result<Vec<ReleaseGate>, ServiceError> {
    require_admin(principal)?;
    services
        .db
        .read(async |conn| Ok(repository::list(conn, &principal.workspace_id).await?))
        .await
}

pub async fn register(
    services: &Services,
    actor: Actor<'_>,
    name: &str,
    url: &str,
) -> Result<WithSecret, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let secret = new_secret();
    let gate = NewGate {
        workspace_id: principal.workspace_id.clone(),
        name: validate_name(name)?,
        url: validate_webhook_url(url, services.targets)?,
        secret: secret.clone(),
    };
    let audit = actor.audit(AuditAction::RegisterReleaseGate);
    let name = gate.name.text.clone();
    let committed = services
        .db
        .write(async |tx| {
            let gate = repository::insert(tx, gate)
                .await
                .map_err(ServiceError::name_taken("release gate", &name))?;
            audit_log::record(tx, &audit, None, Some(&gate)).await?;
            Ok::<_, ServiceError>(gate)
        })
        .await?;
    let gate = services.after_commit(committed).await;
    Ok(WithSecret { gate, secret })
}

pub async fn delete(services: &Services, actor: Actor<'_>, id: &str) -> Result<(), ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let audit = actor.audit(AuditAction::DeleteReleaseGate);
    let committed = services
        .db
        .write(async |tx| {
            let deleted = repository::delete(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("release gate"))?;
            audit_log::record(tx, &audit, Some(&deleted), None).await?;
            Ok::<_, ServiceError>(())
        })
        .await?;
    services.after_commit(committed).await;
    Ok(())
}

/// Asks every active gate of the version's workspace whether its share may
/// go from what it is to `to_percentage`: the first refusal, if any.
pub(super) async fn ask(
    services: &Services,
    workspace_id: &str,
    version: &MiniProgramVersion,
    to_percentage: i32,
    rollout_step: Option<usize>,
) -> Result<Result<(), GateRefusal>, ServiceError> {
    let gates = services
        .db
        .read(async |conn| repository::active(conn, workspace_id).await)
        .await?;
    if gates.is_empty() {
        return Ok(Ok(()));
    }
    let targets: Vec<GateTarget<'_>> = gates
        .iter()
        .map(|gate| GateTarget {
            name: &gate.gate.name,
            url: &gate.gate.url,
            secret: &gate.secret,
        })
        .collect();
    let check = ReleaseCheck {
        mini_program_id: version.mini_program_id.clone(),
        version_id: version.id.clone(),
        version: version.number.to_string(),
        from_percentage: version.share(),
        to_percentage,
        rollout_step,
    };
    Ok(services.gates.ask_all(&targets, &check).await)
}

/// A refusal of a change made by hand: nothing changes, and the caller is
/// told which gate refused and why.
pub(super) fn refused(refusal: GateRefusal) -> RuleViolation {
    RuleViolation::Vetoed {
        hook: refusal.gate,
        reason: refusal.reason,
    }
}
