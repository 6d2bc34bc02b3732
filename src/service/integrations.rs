//! Release-approval integrations: a workspace admin registers the partner
//! systems that receive signed webhooks, and reads their delivery logs.

use super::page::{Page, PageRequest, not_a_cursor};
use super::{Actor, ServiceError, Services, require};
use crate::db::audit_log;
use crate::db::hook_deliveries;
use crate::db::release_integrations::{self as repository, IntegrationUpdate, NewIntegration};
use crate::domain::{
    AuditAction, AuditContext, DeliveryRecord, DeliveryStatus, EventType, Principal,
    ReleaseIntegration, validate_event_selection, validate_name, validate_webhook_url,
};
use crate::hooks::webhooks::new_secret;

const INTEGRATION: &str = "release integration";

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
    events: &[EventType],
) -> Result<WithSecret, ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let secret = new_secret();
    let integration = NewIntegration {
        workspace_id: principal.workspace_id.clone(),
        name: validate_name(name)?,
        url: validate_webhook_url(url, services.targets)?,
        events: validate_event_selection(events)?,
        secret: secret.clone(),
    };
    let audit = actor.audit(AuditAction::RegisterReleaseIntegration);
    let committed = services
        .db
        .write(async |tx| {
            let name = integration.name.text.clone();
            let integration = repository::insert(tx, integration)
                .await
                .map_err(ServiceError::name_taken(INTEGRATION, &name))?;
            audit_log::record(tx, &audit, None, Some(&integration)).await?;
            Ok::<_, ServiceError>(integration)
        })
        .await?;
    let integration = services.after_commit(committed).await;
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
        name: change.name.as_deref().map(validate_name).transpose()?,
        url: change
            .url
            .as_deref()
            .map(|url| validate_webhook_url(url, services.targets))
            .transpose()?,
        events: change
            .events
            .as_deref()
            .map(validate_event_selection)
            .transpose()?,
        active: change.active,
        secret: None,
    };
    change_integration(
        services,
        principal,
        id,
        update,
        &actor.audit(AuditAction::UpdateReleaseIntegration),
    )
    .await
}

async fn change_integration(
    services: &Services,
    principal: &Principal,
    id: &str,
    update: IntegrationUpdate,
    audit: &AuditContext,
) -> Result<ReleaseIntegration, ServiceError> {
    let committed = services
        .db
        .write(async |tx| {
            let before = repository::lock(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound(INTEGRATION))?;
            let renamed = update.name.as_ref().map(|name| name.text.clone());
            let after =
                repository::update(tx, id, update)
                    .await
                    .map_err(|error| match &renamed {
                        Some(name) => ServiceError::name_taken(INTEGRATION, name)(error),
                        None => error.into(),
                    })?;
            audit_log::record(tx, audit, Some(&before), Some(&after)).await?;
            Ok::<_, ServiceError>(after)
        })
        .await?;
    Ok(services.after_commit(committed).await)
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
    let integration = change_integration(
        services,
        principal,
        id,
        update,
        &actor.audit(AuditAction::RotateReleaseIntegrationSecret),
    )
    .await?;
    Ok(WithSecret {
        integration,
        secret,
    })
}

pub async fn delete(services: &Services, actor: Actor<'_>, id: &str) -> Result<(), ServiceError> {
    let principal = actor.principal;
    require_admin(principal)?;
    let audit = actor.audit(AuditAction::DeleteReleaseIntegration);
    let committed = services
        .db
        .write(async |tx| {
            let before = repository::lock(tx, &principal.workspace_id, id)
                .await?
                .ok_or(ServiceError::NotFound("release integration"))?;
            repository::delete(tx, id).await?;
            audit_log::record(tx, &audit, Some(&before), None).await?;
            Ok::<_, ServiceError>(())
        })
        .await?;
    services.after_commit(committed).await;
    Ok(())
}

/// The integration's deliveries, newest event first.
pub async fn deliveries(
    services: &Services,
    principal: &Principal,
    integration: &ReleaseIntegration,
    page: &PageRequest,
) -> Result<Page<DeliveryRecord>, ServiceError> {
    require_own(principal, integration)?;
    // The cursor is the event's id, which the page shows anyway, not the
    // event's place in the outbox, which counts every workspace's events.
    let window = page.window::<String>()?;
    let records = services
        .db
        .read(async |conn| {
            let before = match &window.after {
                Some(event_id) => Some(
                    hook_deliveries::position(conn, &integration.id, event_id)
                        .await?
                        .ok_or_else(not_a_cursor)?,
                ),
                None => None,
            };
            Ok::<_, ServiceError>(
                hook_deliveries::list_for_integration(conn, &integration.id, before, window.fetch)
                    .await?,
            )
        })
        .await?;
    Ok(window.page(records, |record| record.event_id.clone()))
}

pub async fn delivery_count(
    services: &Services,
    principal: &Principal,
    integration: &ReleaseIntegration,
) -> Result<i64, ServiceError> {
    require_own(principal, integration)?;
    services
        .db
        .read(async |conn| Ok(hook_deliveries::count_for_integration(conn, &integration.id).await?))
        .await
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
    let audit = actor.audit(AuditAction::RedeliverHookEvent);
    let committed = services
        .db
        .write(async |tx| {
            repository::lock(tx, &principal.workspace_id, integration_id)
                .await?
                .ok_or(ServiceError::NotFound("release integration"))?;
            let before = hook_deliveries::find_for_integration(tx, integration_id, event_id)
                .await?
                .ok_or(ServiceError::NotFound("delivery"))?;
            hook_deliveries::reschedule(tx, integration_id, before.event_sequence).await?;
            let after = hook_deliveries::find_for_integration(tx, integration_id, event_id)
                .await?
                .ok_or(ServiceError::NotFound("delivery"))?;
            audit_log::record(tx, &audit, Some(&before), Some(&after)).await?;
            Ok::<_, ServiceError>(after)
        })
        .await?;
    Ok(services.after_commit(committed).await)
}

/// How many deliveries are in each status, over every workspace: for the
/// operator's metrics, never shown to a tenant.
pub async fn delivery_counts(
    services: &Services,
) -> Result<Vec<(DeliveryStatus, i64)>, ServiceError> {
    services
        .db
        .read(async |conn| Ok(hook_deliveries::count_by_status(conn).await?))
        .await
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
