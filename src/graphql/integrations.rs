//! GraphQL for release-approval integrations and their delivery logs.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::connection::{ListConnection, TotalCount, connection, page_cost};
use super::enums::{DeliveryStatus, HookEventType};
use super::scalars::DateTime;
use super::{acting, caller};
use crate::domain;
use crate::domain::DeliveryRecord;
use crate::service::integrations::{self, ChangeIntegration, WithSecret};
use crate::service::page::PageRequest;

/// A partner system that receives signed webhooks for a workspace's events.
pub struct ReleaseIntegration(pub domain::ReleaseIntegration);

#[Object]
impl ReleaseIntegration {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Where webhooks are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn events(&self) -> Vec<HookEventType> {
        self.0.events.iter().map(|&event| event.into()).collect()
    }

    /// An inactive integration receives nothing new.
    async fn active(&self) -> bool {
        self.0.active
    }

    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// The delivery log, newest event first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "1 to 100; null means 20")] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ListConnection<HookDelivery>> {
        let (services, principal) = caller(ctx)?;
        let page =
            integrations::deliveries(services, principal, &self.0, &PageRequest { first, after })
                .await?;
        Ok(connection(
            page,
            HookDelivery::from,
            TotalCount::Deliveries(self.0.clone()),
        ))
    }
}

/// The delivery of one event to one integration.
#[derive(SimpleObject)]
pub struct HookDelivery {
    /// The event's id, sent as `webhook-id` on every attempt.
    event_id: ID,
    event_type: HookEventType,
    status: DeliveryStatus,
    attempts: i32,
    last_error: Option<String>,
    /// When the next attempt is due, while PENDING.
    next_attempt_at: Option<DateTime>,
    delivered_at: Option<DateTime>,
}

impl From<DeliveryRecord> for HookDelivery {
    fn from(record: DeliveryRecord) -> Self {
        Self {
            event_id: ID(record.event_id),
            event_type: record.event_type.into(),
            status: record.status.into(),
            attempts: record.attempts,
            last_error: record.last_error,
            next_attempt_at: record.next_attempt_at.map(Into::into),
            delivered_at: record.delivered_at.map(Into::into),
        }
    }
}

#[derive(InputObject)]
pub struct RegisterReleaseIntegrationInput {
    name: String,
    /// An http or https URL.
    url: String,
    /// At least one.
    events: Vec<HookEventType>,
}

/// An integration with its signing secret (`whsec_...`). The secret is shown
/// only here; keep it to verify the `webhook-signature` header.
#[derive(SimpleObject)]
pub struct ReleaseIntegrationWithSecret {
    integration: ReleaseIntegration,
    secret: String,
}

impl From<WithSecret> for ReleaseIntegrationWithSecret {
    fn from(created: WithSecret) -> Self {
        Self {
            integration: ReleaseIntegration(created.integration),
            secret: created.secret,
        }
    }
}

#[derive(InputObject)]
pub struct UpdateReleaseIntegrationInput {
    id: ID,
    name: Option<String>,
    url: Option<String>,
    events: Option<Vec<HookEventType>>,
    active: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateReleaseIntegrationPayload {
    integration: ReleaseIntegration,
}

#[derive(InputObject)]
pub struct ReleaseIntegrationIdInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteReleaseIntegrationPayload {
    deleted_integration_id: ID,
}

#[derive(InputObject)]
pub struct RedeliverHookEventInput {
    integration_id: ID,
    event_id: ID,
}

#[derive(SimpleObject)]
pub struct RedeliverHookEventPayload {
    delivery: HookDelivery,
}

#[derive(Default)]
pub struct IntegrationQuery;

#[Object]
impl IntegrationQuery {
    /// The workspace's release-approval integrations. WORKSPACE_ADMIN only.
    async fn release_integrations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ReleaseIntegration>> {
        let (services, principal) = caller(ctx)?;
        let list = integrations::list(services, principal).await?;
        Ok(list.into_iter().map(ReleaseIntegration).collect())
    }
}

#[derive(Default)]
pub struct IntegrationMutation;

#[Object]
impl IntegrationMutation {
    /// Registers a partner system for signed webhooks. WORKSPACE_ADMIN only.
    async fn register_release_integration(
        &self,
        ctx: &Context<'_>,
        input: RegisterReleaseIntegrationInput,
    ) -> async_graphql::Result<ReleaseIntegrationWithSecret> {
        let (services, actor) = acting(ctx)?;
        let events: Vec<domain::EventType> = input.events.into_iter().map(Into::into).collect();
        let created =
            integrations::register(services, actor, &input.name, &input.url, &events).await?;
        Ok(created.into())
    }

    /// Changes what is given; an inactive integration receives nothing new.
    async fn update_release_integration(
        &self,
        ctx: &Context<'_>,
        input: UpdateReleaseIntegrationInput,
    ) -> async_graphql::Result<UpdateReleaseIntegrationPayload> {
        let (services, actor) = acting(ctx)?;
        let change = ChangeIntegration {
            name: input.name,
            url: input.url,
            events: input
                .events
                .map(|events| events.into_iter().map(Into::into).collect()),
            active: input.active,
        };
        let integration = integrations::update(services, actor, &input.id, change).await?;
        Ok(UpdateReleaseIntegrationPayload {
            integration: ReleaseIntegration(integration),
        })
    }

    /// Replaces the signing secret and shows the new one, once.
    async fn rotate_release_integration_secret(
        &self,
        ctx: &Context<'_>,
        input: ReleaseIntegrationIdInput,
    ) -> async_graphql::Result<ReleaseIntegrationWithSecret> {
        let (services, actor) = acting(ctx)?;
        Ok(integrations::rotate_secret(services, actor, &input.id)
            .await?
            .into())
    }

    /// Deletes an integration with its delivery log.
    async fn delete_release_integration(
        &self,
        ctx: &Context<'_>,
        input: ReleaseIntegrationIdInput,
    ) -> async_graphql::Result<DeleteReleaseIntegrationPayload> {
        let (services, actor) = acting(ctx)?;
        integrations::delete(services, actor, &input.id).await?;
        Ok(DeleteReleaseIntegrationPayload {
            deleted_integration_id: input.id,
        })
    }

    /// Delivers an event to an integration again, from a first attempt (for a
    /// FAILED delivery, or one the receiver lost).
    async fn redeliver_hook_event(
        &self,
        ctx: &Context<'_>,
        input: RedeliverHookEventInput,
    ) -> async_graphql::Result<RedeliverHookEventPayload> {
        let (services, actor) = acting(ctx)?;
        let record =
            integrations::redeliver(services, actor, &input.integration_id, &input.event_id)
                .await?;
        Ok(RedeliverHookEventPayload {
            delivery: record.into(),
        })
    }
}
