//! Client keys: how super apps identify their workspace on launch requests.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::{Actor, ServiceError, Services, require};
use crate::db::client_keys as repository;
use crate::db::{audit_log, launch_policies};
use crate::domain::{AuditAction, ClientKey, Principal, client_key_hash, validate_name};
use crate::launch::PolicyChange;

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
    let name = validate_name(name)?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("umk_{}", URL_SAFE_NO_PAD.encode(secret));
    let audit = actor.audit(AuditAction::CreateClientKey);
    let committed = services
        .db
        .write(async |tx| {
            let client_key =
                repository::insert(tx, &principal.workspace_id, &name, &client_key_hash(&key))
                    .await
                    .map_err(ServiceError::name_taken("client key", &name.text))?;
            launch_policies::changed(tx, PolicyChange::ClientKeys).await?;
            audit_log::record(tx, &audit, None, Some(&client_key)).await?;
            Ok::<_, ServiceError>(client_key)
        })
        .await?;
    Ok((services.after_commit(committed).await, key))
}

pub async fn list(
    services: &Services,
    principal: &Principal,
) -> Result<Vec<ClientKey>, ServiceError> {
    require_admin(principal)?;
    services
        .db
        .read(async |conn| Ok(repository::list(conn, &principal.workspace_id).await?))
        .await
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
    let committed = services
        .db
        .write(async |tx| {
            let before = repository::find(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("client key"))?;
            let after = repository::revoke(tx, &before).await?;
            launch_policies::changed(tx, PolicyChange::ClientKeys).await?;
            audit_log::record(tx, &audit, Some(&before), Some(&after)).await?;
            Ok::<_, ServiceError>(after)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}
