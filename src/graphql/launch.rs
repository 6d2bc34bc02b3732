//! GraphQL for the device-facing side: launch previews, update timers and
//! client keys.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::enums::{LaunchAction, UpdateMode};
use super::scalars::DateTime;
use super::types::MiniProgram;
use super::{acting, caller};
use crate::domain;
use crate::service::{client_keys, launch};

/// What a device would be told when it opens the program (the answer of
/// `GET /v1/launch/{miniProgramId}`).
#[derive(SimpleObject)]
pub struct LaunchPolicy {
    mini_program_id: ID,
    /// Null when nothing is released for this device.
    target_version: Option<String>,
    /// The target's fixed mode; the global mode when there is no target.
    update_mode: UpdateMode,
    action: LaunchAction,
    async_update_seconds: i32,
    sync_update_seconds: i32,
    /// Whether the target is a gray version for this device.
    gray_release: bool,
    /// No device may start an older version: one below it downloads the
    /// target first, whatever the mode.
    minimum_version: Option<String>,
    policy_revision: i32,
    /// The rules that produced this answer, in order, in words: the gray
    /// group, the target, the mode and why it applies, the cache age
    /// against the timers, the minimum version and rollbacks.
    reasons: Vec<String>,
}

/// A key a super app sends as `x-client-key`.
pub struct ClientKey(domain::ClientKey);

#[Object]
impl ClientKey {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When it stopped being accepted.
    async fn revoked_at(&self) -> Option<DateTime> {
        self.0.revoked_at.map(Into::into)
    }
}

#[derive(InputObject)]
pub struct SetUpdateTimersInput {
    mini_program_id: ID,
    /// Seconds after which a DEFAULT program updates in the background; shorter than the sync time.
    async_update_seconds: i32,
    /// Seconds after which a DEFAULT program updates before starting.
    sync_update_seconds: i32,
}

#[derive(SimpleObject)]
pub struct SetUpdateTimersPayload {
    mini_program: MiniProgram,
}

#[derive(InputObject)]
pub struct SetMinimumVersionInput {
    mini_program_id: ID,
    /// A version of the program that is or was released, no newer than its
    /// full release; null clears the floor.
    version: Option<String>,
    /// The `revision` the caller last saw; the change is refused with
    /// CONFLICT when the program changed since.
    expected_revision: Option<i32>,
}

#[derive(SimpleObject)]
pub struct SetMinimumVersionPayload {
    mini_program: MiniProgram,
}

#[derive(InputObject)]
pub struct CreateClientKeyInput {
    name: String,
}

/// A new key with the key itself, shown only here.
#[derive(SimpleObject)]
pub struct CreateClientKeyPayload {
    client_key: ClientKey,
    key: String,
}

#[derive(InputObject)]
pub struct RevokeClientKeyInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeClientKeyPayload {
    client_key: ClientKey,
}

#[derive(Default)]
pub struct LaunchQuery;

#[Object]
impl LaunchQuery {
    /// The launch answer a device would get now, for tools and previews.
    async fn launch_policy(
        &self,
        ctx: &Context<'_>,
        mini_program_id: ID,
        device_id: String,
        cached_version: Option<String>,
        cache_age_seconds: Option<i32>,
    ) -> async_graphql::Result<LaunchPolicy> {
        let (services, principal) = caller(ctx)?;
        let (decision, reasons) = launch::preview(
            services,
            principal,
            &mini_program_id,
            &device_id,
            cached_version.as_deref(),
            cache_age_seconds,
        )
        .await?;
        Ok(LaunchPolicy {
            mini_program_id,
            target_version: decision.target_version.map(|version| version.to_string()),
            update_mode: decision.update_mode.into(),
            action: decision.action.into(),
            async_update_seconds: decision.timers.async_update_seconds,
            sync_update_seconds: decision.timers.sync_update_seconds,
            gray_release: decision.gray_release,
            minimum_version: decision.minimum_version.map(|version| version.to_string()),
            policy_revision: decision.policy_revision,
            reasons,
        })
    }

    /// The workspace's client keys, revoked ones included. WORKSPACE_ADMIN only.
    async fn client_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ClientKey>> {
        let (services, principal) = caller(ctx)?;
        let keys = client_keys::list(services, principal).await?;
        Ok(keys.into_iter().map(ClientKey).collect())
    }
}

#[derive(Default)]
pub struct LaunchMutation;

#[Object]
impl LaunchMutation {
    /// Sets the minimum usable version of a program: a device with an older
    /// version cached downloads the target before starting, whatever the
    /// mode. Null clears it. WORKSPACE_ADMIN, for DSL programs of the
    /// WORKSPACE channel.
    async fn set_minimum_version(
        &self,
        ctx: &Context<'_>,
        input: SetMinimumVersionInput,
    ) -> async_graphql::Result<SetMinimumVersionPayload> {
        let (services, actor) = acting(ctx)?;
        let program = launch::set_minimum_version(
            services,
            actor,
            &input.mini_program_id,
            input.version.as_deref(),
            input.expected_revision,
        )
        .await?;
        Ok(SetMinimumVersionPayload {
            mini_program: MiniProgram::from(program),
        })
    }

    /// Sets the two timers a super app counts for a program. WORKSPACE_ADMIN,
    /// for DSL programs of the WORKSPACE channel.
    async fn set_update_timers(
        &self,
        ctx: &Context<'_>,
        input: SetUpdateTimersInput,
    ) -> async_graphql::Result<SetUpdateTimersPayload> {
        let (services, actor) = acting(ctx)?;
        let program = launch::set_update_timers(
            services,
            actor,
            &input.mini_program_id,
            input.async_update_seconds,
            input.sync_update_seconds,
        )
        .await?;
        Ok(SetUpdateTimersPayload {
            mini_program: MiniProgram::from(program),
        })
    }

    /// Creates a client key for super apps. WORKSPACE_ADMIN only.
    async fn create_client_key(
        &self,
        ctx: &Context<'_>,
        input: CreateClientKeyInput,
    ) -> async_graphql::Result<CreateClientKeyPayload> {
        let (services, actor) = acting(ctx)?;
        let (client_key, key) = client_keys::create(services, actor, &input.name).await?;
        Ok(CreateClientKeyPayload {
            client_key: ClientKey(client_key),
            key,
        })
    }

    /// Revokes a client key; launch requests with it are refused from then on.
    async fn revoke_client_key(
        &self,
        ctx: &Context<'_>,
        input: RevokeClientKeyInput,
    ) -> async_graphql::Result<RevokeClientKeyPayload> {
        let (services, actor) = acting(ctx)?;
        let client_key = client_keys::revoke(services, actor, &input.id).await?;
        Ok(RevokeClientKeyPayload {
            client_key: ClientKey(client_key),
        })
    }
}
