//! GraphQL faces of the domain's enums; the variants are the domain's.

use async_graphql::Enum;

use crate::domain;

/// What the super app does at a cold start when a newer released version may exist.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::UpdateMode")]
pub enum UpdateMode {
    /// Start from the cache before the async update time, update in the
    /// background between the two times, update before starting after the
    /// sync update time.
    Default,
    /// Start from the cache and download the new version in the background.
    Async,
    /// Check at every open and download the new version before starting.
    Sync,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::MiniProgramType")]
pub enum MiniProgramType {
    /// Built with the mini program DSL and shipped as a cached package.
    Dsl,
    /// A web mini program loaded from the web.
    H5,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::MiniProgramChannel")]
pub enum MiniProgramChannel {
    /// Created and released in this workspace.
    Workspace,
    /// Synced in from the Alipay+ channel, which owns its release settings.
    AlipayPlus,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::VersionStatus")]
pub enum VersionStatus {
    NewVersionCreated,
    PendingApproval,
    Approved,
    Rejected,
    GrayRelease,
    FullRelease,
    Offline,
}

/// A lifecycle step; see `MiniProgramVersion.availableActions`.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::VersionAction")]
pub enum VersionAction {
    /// `submitVersionForReleaseApproval`
    SubmitForReleaseApproval,
    /// `decideRelease` with APPROVE
    Approve,
    /// `decideRelease` with REJECT
    Reject,
    /// `releaseVersion`, to a share of devices or to all of them
    Release,
    /// `takeVersionOffline`
    TakeOffline,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::UpdateModeSource")]
pub enum UpdateModeSource {
    /// New Version Created: the version will execute the program's global mode.
    Pending,
    /// Fixed when the version was submitted for release approval.
    Released,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::UpdateModeLock")]
pub enum UpdateModeLock {
    /// Only a WORKSPACE_ADMIN may change the update mode.
    NotAdmin,
    /// Update modes apply to DSL mini programs only.
    NotDsl,
    /// The Alipay+ channel owns the release settings of this mini program.
    AlipayPlusChannel,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Role")]
pub enum Role {
    WorkspaceAdmin,
    Developer,
    Viewer,
    ReleaseApprover,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::ReleaseDecision")]
pub enum ReleaseDecision {
    /// The version may be released.
    Approve,
    /// The version may not be released.
    Reject,
}

/// What happened; webhooks carry it as `type` in lower case with dots, e.g.
/// `version.submitted_for_release_approval`.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::EventType")]
pub enum HookEventType {
    UpdateModeChanged,
    /// A version was created in NEW_VERSION_CREATED.
    VersionCreated,
    VersionSubmittedForReleaseApproval,
    VersionApproved,
    VersionRejected,
    VersionReleased,
    VersionOffline,
    /// A rollout plan stopped advancing (paused by hand, or refused by a
    /// release gate or a release rule); the event carries the reason.
    RolloutPaused,
    /// A rollout plan's last step, the full release, applied.
    RolloutCompleted,
    /// A program's minimum usable version was set or cleared.
    MinimumVersionChanged,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::DeliveryStatus")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Every attempt failed; `redeliverHookEvent` tries again.
    Failed,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::LaunchAction")]
pub enum LaunchAction {
    /// Start the cached package.
    None,
    /// Download the target before starting.
    SyncDownload,
    /// Start the cached package, download the target in the background.
    AsyncDownload,
}

/// A kind of request that the caller's roles allow; see `Viewer.capabilities`.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::Capability")]
pub enum Capability {
    /// Read the workspace: its programs, versions, history, launch answers.
    Read,
    /// `createMiniProgram`
    CreateMiniProgram,
    /// `updateMode` and `setUpdateTimers`, where the program allows it (see
    /// `MiniProgram.updateModeLocks`).
    ChangeUpdateMode,
    /// `createMiniProgramVersion`
    CreateVersion,
    /// `submitVersionForReleaseApproval`
    SubmitVersion,
    /// `decideRelease`
    DecideRelease,
    /// `releaseVersion` and `takeVersionOffline`
    Release,
    /// Release integrations, their deliveries, and client keys.
    ManageIntegrations,
    /// `auditLog`
    ReadAuditLog,
}
