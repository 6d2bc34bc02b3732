//! GraphQL for release control: rollout plans, rollbacks and release gates.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::acting;
use super::caller;
use super::scalars::DateTime;
use super::types::MiniProgramVersion;
use crate::domain::{self, RequestedStep};
use crate::service::{gates, rollouts, versions};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::RolloutStatus")]
pub enum RolloutStatus {
    /// Advancing on schedule.
    Running,
    /// Holding its share until resumed.
    Paused,
    /// Its last step, the full release, applied.
    Completed,
    /// Stopped for good; the share it reached stays.
    Cancelled,
}

/// One step of a plan.
#[derive(SimpleObject)]
pub struct RolloutStep {
    /// The share of devices the step releases to; 100 is the full release.
    percentage: i32,
    /// How long the share stays at this step before the next one applies.
    hold_seconds: i32,
    /// When the step applied; null while it is ahead.
    reached_at: Option<DateTime>,
}

/// A plan that raises a version's share of devices step by step, each step
/// applied by the server itself through the same rules, gates, hooks,
/// events and audit as `releaseVersion`.
pub struct Rollout(pub domain::Rollout);

#[Object]
impl Rollout {
    async fn status(&self) -> RolloutStatus {
        self.0.status.into()
    }

    async fn steps(&self) -> Vec<RolloutStep> {
        self.0
            .steps
            .iter()
            .map(|step| RolloutStep {
                percentage: step.percentage,
                hold_seconds: step.hold_seconds,
                reached_at: step.reached_at.map(Into::into),
            })
            .collect()
    }

    /// The index of the step in force.
    async fn current_step(&self) -> i32 {
        i32::try_from(self.0.current_step).unwrap_or(i32::MAX)
    }

    /// When the next step is due; null unless RUNNING with a step left.
    async fn next_advance_at(&self) -> Option<DateTime> {
        self.0.next_advance_at.map(Into::into)
    }

    /// Why the plan paused: the admin's reason, or the refusal of a gate or
    /// a release rule.
    async fn paused_reason(&self) -> Option<&str> {
        self.0.paused_reason.as_deref()
    }

    /// The subject who started the plan; each step is done as them.
    async fn started_by(&self) -> &str {
        &self.0.started_by
    }
}

#[derive(InputObject)]
pub struct RolloutStepInput {
    /// 1 to 100, above the previous step's; the last step is 100.
    percentage: i32,
    /// 0 to 2,592,000 (30 days): how long the share stays at this step
    /// before the next one applies. Unused on the last step.
    hold_seconds: i32,
}

#[derive(InputObject)]
pub struct StartRolloutInput {
    version_id: ID,
    /// 1 to 20 steps; the first applies at once.
    steps: Vec<RolloutStepInput>,
}

#[derive(InputObject)]
pub struct PauseRolloutInput {
    version_id: ID,
    /// Why; 1 to 500 characters.
    reason: String,
}

#[derive(InputObject)]
pub struct ResumeRolloutInput {
    version_id: ID,
}

#[derive(InputObject)]
pub struct CancelRolloutInput {
    version_id: ID,
}

#[derive(SimpleObject)]
pub struct RolloutPayload {
    mini_program_version: MiniProgramVersion,
}

impl From<domain::MiniProgramVersion> for RolloutPayload {
    fn from(version: domain::MiniProgramVersion) -> Self {
        Self {
            mini_program_version: MiniProgramVersion::from(version),
        }
    }
}

#[derive(InputObject)]
pub struct RollBackReleaseInput {
    mini_program_id: ID,
    /// Why; 1 to 500 characters, kept as the version's `offlineReason`.
    reason: String,
}

#[derive(SimpleObject)]
pub struct RollBackReleasePayload {
    /// The version taken offline; it is never served again.
    rolled_back: MiniProgramVersion,
    /// The version devices get now: the full release the rolled-back one
    /// replaced, or the full release that keeps serving; null if none.
    restored: Option<MiniProgramVersion>,
}

/// A partner system asked, before any share of devices changes, whether it may.
pub struct ReleaseGate(pub domain::ReleaseGate);

#[Object]
impl ReleaseGate {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Where `release.check` requests are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn active(&self) -> bool {
        self.0.active
    }

    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

#[derive(InputObject)]
pub struct RegisterReleaseGateInput {
    /// 1 to 100 characters; shown as `extensions.hook` when the gate refuses.
    name: String,
    /// An absolute http(s) URL, checked as webhook targets are.
    url: String,
}

/// A gate with the secret its checks are signed with; the secret is shown
/// only now.
#[derive(SimpleObject)]
pub struct ReleaseGateWithSecret {
    gate: ReleaseGate,
    /// `whsec_…`: verify each check's `webhook-signature` with it.
    secret: String,
}

#[derive(InputObject)]
pub struct DeleteReleaseGateInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteReleaseGatePayload {
    id: ID,
}

#[derive(Default)]
pub struct ReleaseControlQuery;

#[Object]
impl ReleaseControlQuery {
    /// The workspace's release gates, oldest first. WORKSPACE_ADMIN only.
    async fn release_gates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ReleaseGate>> {
        let (services, principal) = caller(ctx)?;
        let gates = gates::list(services, principal).await?;
        Ok(gates.into_iter().map(ReleaseGate).collect())
    }
}

#[derive(Default)]
pub struct ReleaseControlMutation;

#[Object]
impl ReleaseControlMutation {
    /// Starts a rollout plan for an APPROVED or GRAY_RELEASE version: its
    /// first step applies at once, the others each after the previous
    /// step's hold. WORKSPACE_ADMIN.
    async fn start_rollout(
        &self,
        ctx: &Context<'_>,
        input: StartRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let (services, actor) = acting(ctx)?;
        let steps: Vec<RequestedStep> = input
            .steps
            .iter()
            .map(|step| RequestedStep {
                percentage: step.percentage,
                hold_seconds: step.hold_seconds,
            })
            .collect();
        Ok(rollouts::start(services, actor, &input.version_id, &steps)
            .await?
            .into())
    }

    /// Stops a RUNNING plan where it is. WORKSPACE_ADMIN.
    async fn pause_rollout(
        &self,
        ctx: &Context<'_>,
        input: PauseRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let (services, actor) = acting(ctx)?;
        Ok(
            rollouts::pause(services, actor, &input.version_id, &input.reason)
                .await?
                .into(),
        )
    }

    /// Advances a PAUSED plan again; the hold of its current step counts
    /// from now. WORKSPACE_ADMIN.
    async fn resume_rollout(
        &self,
        ctx: &Context<'_>,
        input: ResumeRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let (services, actor) = acting(ctx)?;
        Ok(rollouts::resume(services, actor, &input.version_id)
            .await?
            .into())
    }

    /// Stops a plan for good; the share it reached stays, and the version
    /// can then be released or taken offline by hand. WORKSPACE_ADMIN.
    async fn cancel_rollout(
        &self,
        ctx: &Context<'_>,
        input: CancelRolloutInput,
    ) -> async_graphql::Result<RolloutPayload> {
        let (services, actor) = acting(ctx)?;
        Ok(rollouts::cancel(services, actor, &input.version_id)
            .await?
            .into())
    }

    /// Rolls back the program's newest release (its GRAY_RELEASE version if
    /// any, else its FULL_RELEASE one): it goes OFFLINE for good, and a
    /// rolled-back full release gives way to the one it replaced.
    /// WORKSPACE_ADMIN.
    async fn roll_back_release(
        &self,
        ctx: &Context<'_>,
        input: RollBackReleaseInput,
    ) -> async_graphql::Result<RollBackReleasePayload> {
        let (services, actor) = acting(ctx)?;
        let outcome =
            versions::roll_back(services, actor, &input.mini_program_id, &input.reason).await?;
        Ok(RollBackReleasePayload {
            rolled_back: MiniProgramVersion::from(outcome.rolled_back),
            restored: outcome.restored.map(MiniProgramVersion::from),
        })
    }

    /// Registers a gate asked before every change of a share of devices.
    /// WORKSPACE_ADMIN.
    async fn register_release_gate(
        &self,
        ctx: &Context<'_>,
        input: RegisterReleaseGateInput,
    ) -> async_graphql::Result<ReleaseGateWithSecret> {
        let (services, actor) = acting(ctx)?;
        let registered = gates::register(services, actor, &input.name, &input.url).await?;
        Ok(ReleaseGateWithSecret {
            gate: ReleaseGate(registered.gate),
            secret: registered.secret,
        })
    }

    /// Deletes a gate; changes no longer ask it. WORKSPACE_ADMIN.
    async fn delete_release_gate(
        &self,
        ctx: &Context<'_>,
        input: DeleteReleaseGateInput,
    ) -> async_graphql::Result<DeleteReleaseGatePayload> {
        let (services, actor) = acting(ctx)?;
        gates::delete(services, actor, &input.id).await?;
        Ok(DeleteReleaseGatePayload { id: input.id })
    }
}
