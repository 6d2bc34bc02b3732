//! Client keys: how super apps identify their workspace on launch requests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::{Actor, ServiceError, Services, require};
use crate::db::client_keys as repository;
use crate::db::launch_policies::PolicyChange;
use crate::domain::{AuditAction, ClientKey, Principal, client_key_hash, validate_program_name};

fn require_admin(principal: &Principal) -> Result<(), ServiceError> {
    require(
        principal.may_manage_integrations(),
        "only a WORKSPACE_ADMIN may manage client keys",
    )
}

/// Creates a key; the key itself is returned here only.
pub async fn create(
    services: &Services,
    actor: Actor<'_>,
    name: &str,
) -> Result<(ClientKey, String), ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let name = validate_program_name(name)?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("umk_{}", URL_SAFE_NO_PAD.encode(secret));
    let client_key = repository::insert(
        &services.db,
        &principal.workspace_id,
        &name,
        &client_key_hash(&key),
        &actor.audit(AuditAction::CreateClientKey),
    )
    .await?;
    services.launch.committed(PolicyChange::ClientKeys).await;
    Ok((client_key, key))
}

pub async fn list(
    services: &Services,
    principal: &Principal,
) -> Result<Vec<ClientKey>, ServiceError> {
    require_admin(principal)?;
    Ok(repository::list(&services.db, &principal.workspace_id).await?)
}

/// Revokes a key: every process refuses it once the change reaches it.
pub async fn revoke(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
) -> Result<ClientKey, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let audit = actor.audit(AuditAction::RevokeClientKey);
    let key = repository::revoke(&services.db, &principal.workspace_id, id, &audit)
        .await?
        .ok_or(ServiceError::NotFound("client key"))?;
    services.launch.committed(PolicyChange::ClientKeys).await;
    Ok(key)
}
