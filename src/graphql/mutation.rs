use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::acting;
use super::enums::{MiniProgramChannel, MiniProgramType, ReleaseDecision, UpdateMode};
use super::types::{MiniProgram, MiniProgramVersion};
use crate::domain::UpdateModeDecision;
use crate::domain::VersionTransition;
use crate::service::mini_programs::{self, CreateMiniProgram};
use crate::service::versions::{self, CreateVersion};

#[derive(Default)]
pub struct ProgramMutation;

#[derive(InputObject)]
pub struct CreateMiniProgramInput {
    /// Unique in the workspace; 1 to 100 characters.
    name: String,
    #[graphql(name = "type")]
    program_type: MiniProgramType,
    #[graphql(default_with = "MiniProgramChannel::Workspace")]
    channel: MiniProgramChannel,
}

#[derive(SimpleObject)]
pub struct CreateMiniProgramPayload {
    mini_program: MiniProgram,
}

#[derive(InputObject)]
pub struct CreateMiniProgramVersionInput {
    mini_program_id: ID,
    /// MAJOR.MINOR.PATCH, greater than every existing version of the program.
    version: String,
    description: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateMiniProgramVersionPayload {
    mini_program_version: MiniProgramVersion,
}

#[derive(InputObject)]
pub struct UpdateModeInput {
    mini_program_id: ID,
    mode: UpdateMode,
    /// The `revision` the caller last saw; the change is refused with
    /// CONFLICT when the program changed since.
    expected_revision: Option<i32>,
}

#[derive(SimpleObject)]
pub struct UpdateModePayload {
    mini_program: MiniProgram,
    /// The global mode before this request.
    previous_mode: UpdateMode,
    /// False when the mode already was the requested one; nothing was written then.
    changed: bool,
    /// The program's New Version Created versions, which now will execute the mode.
    affected_versions: Vec<MiniProgramVersion>,
}

#[derive(InputObject)]
pub struct SubmitVersionInput {
    version_id: ID,
}

#[derive(SimpleObject)]
pub struct SubmitVersionPayload {
    mini_program_version: MiniProgramVersion,
}

#[derive(InputObject)]
pub struct DecideReleaseInput {
    version_id: ID,
    decision: ReleaseDecision,
    /// Why; shown to the version's developers. At most 2000 characters.
    comment: Option<String>,
}

#[derive(InputObject)]
pub struct ReleaseVersionInput {
    version_id: ID,
    /// 1 to 99 releases to that share of devices (it may only grow); null or
    /// 100 releases to all devices.
    gray_percentage: Option<i32>,
}

#[derive(InputObject)]
pub struct TakeVersionOfflineInput {
    version_id: ID,
}

/// The version after a release step.
#[derive(SimpleObject)]
pub struct VersionTransitionPayload {
    mini_program_version: MiniProgramVersion,
    /// Versions that this step took offline (the previous full release, a
    /// superseded gray release).
    offline_versions: Vec<MiniProgramVersion>,
}

impl From<VersionTransition> for VersionTransitionPayload {
    fn from(transition: VersionTransition) -> Self {
        Self {
            mini_program_version: MiniProgramVersion::from(transition.version),
            offline_versions: transition
                .superseded
                .into_iter()
                .map(MiniProgramVersion::from)
                .collect(),
        }
    }
}

#[Object]
impl ProgramMutation {
    /// Creates a mini program at update mode DEFAULT. WORKSPACE_ADMIN only.
    async fn create_mini_program(
        &self,
        ctx: &Context<'_>,
        input: CreateMiniProgramInput,
    ) -> async_graphql::Result<CreateMiniProgramPayload> {
        let (services, actor) = acting(ctx)?;
        let input = CreateMiniProgram {
            name: input.name,
            program_type: input.program_type.into(),
            channel: input.channel.into(),
        };
        let program = mini_programs::create(services, actor, input).await?;
        Ok(CreateMiniProgramPayload {
            mini_program: MiniProgram::from(program),
        })
    }

    /// Creates a version in status NEW_VERSION_CREATED. WORKSPACE_ADMIN or DEVELOPER.
    async fn create_mini_program_version(
        &self,
        ctx: &Context<'_>,
        input: CreateMiniProgramVersionInput,
    ) -> async_graphql::Result<CreateMiniProgramVersionPayload> {
        let (services, actor) = acting(ctx)?;
        let input = CreateVersion {
            mini_program_id: input.mini_program_id.0,
            version: input.version,
            description: input.description,
        };
        let version = versions::create(services, actor, input).await?;
        Ok(CreateMiniProgramVersionPayload {
            mini_program_version: MiniProgramVersion::from(version),
        })
    }

    /// Sets the global update mode of a DSL mini program of the WORKSPACE
    /// channel. WORKSPACE_ADMIN only. It takes effect with a version when that
    /// version is submitted for release approval.
    async fn update_mode(
        &self,
        ctx: &Context<'_>,
        input: UpdateModeInput,
    ) -> async_graphql::Result<UpdateModePayload> {
        let (services, actor) = acting(ctx)?;
        let outcome = mini_programs::change_update_mode(
            services,
            actor,
            &input.mini_program_id,
            input.mode.into(),
            input.expected_revision,
        )
        .await?;
        let (previous_mode, changed) = match outcome.decision {
            UpdateModeDecision::Unchanged => (outcome.program.update_mode, false),
            UpdateModeDecision::Change { previous_mode, .. } => (previous_mode, true),
        };
        Ok(UpdateModePayload {
            mini_program: MiniProgram::from(outcome.program),
            previous_mode: previous_mode.into(),
            changed,
            affected_versions: outcome
                .affected_versions
                .into_iter()
                .map(MiniProgramVersion::from)
                .collect(),
        })
    }

    /// Submits a NEW_VERSION_CREATED version for release approval and fixes
    /// the program's global update mode of this instant on it.
    /// WORKSPACE_ADMIN or DEVELOPER.
    async fn submit_version_for_release_approval(
        &self,
        ctx: &Context<'_>,
        input: SubmitVersionInput,
    ) -> async_graphql::Result<SubmitVersionPayload> {
        let (services, actor) = acting(ctx)?;
        let version =
            versions::submit_for_release_approval(services, actor, &input.version_id).await?;
        Ok(SubmitVersionPayload {
            mini_program_version: MiniProgramVersion::from(version),
        })
    }

    /// Approves or rejects a PENDING_APPROVAL version. RELEASE_APPROVER or
    /// WORKSPACE_ADMIN.
    async fn decide_release(
        &self,
        ctx: &Context<'_>,
        input: DecideReleaseInput,
    ) -> async_graphql::Result<VersionTransitionPayload> {
        let (services, actor) = acting(ctx)?;
        let transition = versions::decide_release(
            services,
            actor,
            &input.version_id,
            input.decision.into(),
            input.comment.as_deref(),
        )
        .await?;
        Ok(transition.into())
    }

    /// Releases an APPROVED or GRAY_RELEASE version, to a share of devices or
    /// to all; a full release takes the previous full release OFFLINE.
    /// WORKSPACE_ADMIN.
    async fn release_version(
        &self,
        ctx: &Context<'_>,
        input: ReleaseVersionInput,
    ) -> async_graphql::Result<VersionTransitionPayload> {
        let (services, actor) = acting(ctx)?;
        let transition =
            versions::release(services, actor, &input.version_id, input.gray_percentage).await?;
        Ok(transition.into())
    }

    /// Takes a GRAY_RELEASE or FULL_RELEASE version OFFLINE. WORKSPACE_ADMIN.
    async fn take_version_offline(
        &self,
        ctx: &Context<'_>,
        input: TakeVersionOfflineInput,
    ) -> async_graphql::Result<VersionTransitionPayload> {
        let (services, actor) = acting(ctx)?;
        let transition = versions::take_offline(services, actor, &input.version_id).await?;
        Ok(transition.into())
    }
}
