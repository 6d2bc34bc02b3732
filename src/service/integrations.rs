//! Release-approval integrations: a workspace admin registers the partner
//! systems that receive signed webhooks, and reads their delivery logs.

use super::page::{Page, PageRequest};
use super::{Actor, ServiceError, Services, require};
use crate::db::hook_deliveries::{self, DeliveryRecord};
use crate::db::release_integrations::{self as repository, IntegrationUpdate, NewIntegration};
use crate::domain::{
    AuditAction, EventType, Principal, ReleaseIntegration, validate_event_selection,
    validate_program_name, validate_webhook_url,
};
use crate::hooks::webhooks::new_secret;

/// An integration with its signing secret, shown only at creation and rotation.
pub struct WithSecret {
    pub integration: ReleaseIntegration,
    pub secret: String,
}

fn require_admin(principal: &Principal) -> Result<(), ServiceError> {
    require(
        principal.may_manage_integrations(),
        "only a WORKSPACE_ADMIN may manage release integrations",
    )
}

pub async fn list(
    services: &Services,
    principal: &Principal,
) -> Result<Vec<ReleaseIntegration>, ServiceError> {
    require_admin(principal)?;
    Ok(repository::list(&services.db, &principal.workspace_id).await?)
}

pub async fn register(
    services: &Services,
    actor: Actor<'_>,
    name: &str,
    url: &str,
    events: &[EventType],
) -> Result<WithSecret, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let secret = new_secret();
    let integration = NewIntegration {
        workspace_id: principal.workspace_id.clone(),
        name: validate_program_name(name)?,
        url: validate_webhook_url(url)?,
        events: validate_event_selection(events)?,
        secret: secret.clone(),
    };
    let integration = repository::insert(
        &services.db,
        integration,
        &actor.audit(AuditAction::RegisterReleaseIntegration),
    )
    .await?;
    Ok(WithSecret {
        integration,
        secret,
    })
}

/// What to change; `None` keeps the current value.
#[derive(Default)]
pub struct ChangeIntegration {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub active: Option<bool>,
}

pub async fn update(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
    change: ChangeIntegration,
) -> Result<ReleaseIntegration, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let update = IntegrationUpdate {
        name: change
            .name
            .as_deref()
            .map(validate_program_name)
            .transpose()?,
        url: change
            .url
            .as_deref()
            .map(validate_webhook_url)
            .transpose()?,
        events: change
            .events
            .as_deref()
            .map(validate_event_selection)
            .transpose()?,
        active: change.active,
        secret: None,
    };
    repository::update(
        &services.db,
        &principal.workspace_id,
        id,
        update,
        &actor.audit(AuditAction::UpdateReleaseIntegration),
    )
    .await?
    .ok_or(ServiceError::NotFound("release integration"))
}

/// Replaces the signing secret; deliveries from now on use the new one.
pub async fn rotate_secret(
    services: &Services,
    actor: Actor<'_>,
    id: &str,
) -> Result<WithSecret, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let secret = new_secret();
    let update = IntegrationUpdate {
        secret: Some(secret.clone()),
        ..IntegrationUpdate::default()
    };
    let integration = repository::update(
        &services.db,
        &principal.workspace_id,
        id,
        update,
        &actor.audit(AuditAction::RotateReleaseIntegrationSecret),
    )
    .await?
    .ok_or(ServiceError::NotFound("release integration"))?;
    Ok(WithSecret {
        integration,
        secret,
    })
}

pub async fn delete(services: &Services, actor: Actor<'_>, id: &str) -> Result<(), ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let audit = actor.audit(AuditAction::DeleteReleaseIntegration);
    if repository::delete(&services.db, &principal.workspace_id, id, &audit).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound("release integration"))
    }
}

/// The integration's deliveries, newest event first.
pub async fn deliveries(
    services: &Services,
    principal: &Principal,
    integration: &ReleaseIntegration,
    page: &PageRequest,
) -> Result<Page<DeliveryRecord>, ServiceError> {
    require_own(principal, integration)?;
    let window = page.window::<i64>()?;
    let records = hook_deliveries::list_for_integration(
        &services.db,
        &integration.id,
        window.after,
        window.fetch,
    )
    .await?;
    Ok(window.page(records, |record| record.event_sequence))
}

pub async fn delivery_count(
    services: &Services,
    principal: &Principal,
    integration: &ReleaseIntegration,
) -> Result<i64, ServiceError> {
    require_own(principal, integration)?;
    Ok(hook_deliveries::count_for_integration(&services.db, &integration.id).await?)
}

/// Delivers an event to an integration again, from a first attempt.
pub async fn redeliver(
    services: &Services,
    actor: Actor<'_>,
    integration_id: &str,
    event_id: &str,
) -> Result<DeliveryRecord, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    repository::find(&services.db, &principal.workspace_id, integration_id)
        .await?
        .ok_or(ServiceError::NotFound("release integration"))?;
    let audit = actor.audit(AuditAction::RedeliverHookEvent);
    let record = hook_deliveries::redeliver(&services.db, integration_id, event_id, &audit)
        .await?
        .ok_or(ServiceError::NotFound("delivery"))?;
    services.hooks.committed();
    Ok(record)
}

fn require_own(
    principal: &Principal,
    integration: &ReleaseIntegration,
) -> Result<(), ServiceError> {
    require_admin(principal)?;
    if integration.workspace_id == principal.workspace_id {
        Ok(())
    } else {
        Err(ServiceError::NotFound("release integration"))
    }
}
