//! The audit log: every accepted mutation of the workspace, newest first.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object};

use super::caller;
use super::connection::{ListConnection, TotalCount, connection, page_cost};
use super::scalars::DateTime;
use crate::domain;
use crate::service::audit_log;
use crate::service::page::PageRequest;

/// What an accepted mutation did: the mutation's name.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::AuditAction")]
pub enum AuditAction {
    CreateMiniProgram,
    UpdateMode,
    SetUpdateTimers,
    CreateMiniProgramVersion,
    SubmitVersionForReleaseApproval,
    DecideRelease,
    ReleaseVersion,
    TakeVersionOffline,
    RegisterReleaseIntegration,
    UpdateReleaseIntegration,
    RotateReleaseIntegrationSecret,
    DeleteReleaseIntegration,
    RedeliverHookEvent,
    CreateClientKey,
    RevokeClientKey,
    StartRollout,
    PauseRollout,
    ResumeRollout,
    CancelRollout,
    /// A step that a rollout plan applied by itself, done as the plan's starter.
    AdvanceRollout,
    RollBackRelease,
    RegisterReleaseGate,
    DeleteReleaseGate,
    SetMinimumVersion,
    ScheduleUpdateMode,
    CancelScheduledUpdateMode,
    /// A window's start or end that the server applied by itself, done as
    /// the window's creator.
    ApplyScheduledUpdateMode,
}

/// Narrows the audit log; every field given must match.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Any of these actions.
    actions: Option<Vec<AuditAction>>,
    /// The subject of the token that acted.
    actor: Option<String>,
    /// The changed object's id.
    target_id: Option<ID>,
}

impl From<AuditLogFilter> for domain::AuditFilter {
    fn from(filter: AuditLogFilter) -> Self {
        domain::AuditFilter {
            actions: filter
                .actions
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            actor: filter.actor,
            target_id: filter.target_id.map(|id| id.0),
        }
    }
}

/// One change made by an accepted mutation.
pub struct AuditRecord(domain::AuditRecord);

#[Object]
impl AuditRecord {
    async fn action(&self) -> AuditAction {
        self.0.action.into()
    }

    /// The subject of the token that acted.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// `MiniProgram`, `MiniProgramVersion`, `ReleaseIntegration`,
    /// `ClientKey` or `HookDelivery`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }

    /// The changed object's id (for a hook delivery, its event's id).
    async fn target_id(&self) -> ID {
        ID(self.0.target_id.clone())
    }

    /// The `x-request-id` of the request that made the change.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The object before the change; null for one the mutation created.
    /// Secrets and key hashes are never recorded.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }

    /// The object after the change; null for one the mutation deleted.
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }

    async fn recorded_at(&self) -> DateTime {
        self.0.recorded_at.into()
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Every change made by accepted mutations in the caller's workspace,
    /// newest first. WORKSPACE_ADMIN only.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "1 to 100; null means 20")] first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditLogFilter>,
    ) -> async_graphql::Result<ListConnection<AuditRecord>> {
        let (services, principal) = caller(ctx)?;
        let filter = domain::AuditFilter::from(filter.unwrap_or_default());
        let page =
            audit_log::list(services, principal, &filter, &PageRequest { first, after }).await?;
        Ok(connection(
            page,
            AuditRecord,
            TotalCount::AuditRecords(filter),
        ))
    }
}
