use super::{RolloutStatus, ScheduledChangeStatus, UpdateModeLock, VersionNumber, VersionStatus};

/// A business rule that a requested change would break. Every variant is the
/// caller's to fix; none of them means the platform failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleViolation {
    #[error("{field}: {message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    /// `kind` says what is named: "mini program", "release integration"...
    #[error("the workspace already has a {kind} named {name:?}, ignoring case and width")]
    NameTaken { kind: &'static str, name: String },
    #[error("the update mode of this mini program cannot be changed")]
    UpdateModeLocked(Vec<UpdateModeLock>),
    #[error("the mini program changed since revision {expected} (now at revision {current})")]
    StaleRevision { expected: i32, current: i32 },
    #[error("version {version} already waits for release approval")]
    AnotherVersionPending { version: VersionNumber },
    #[error("version {requested} must be greater than the latest version {latest}")]
    VersionNotGreater {
        requested: VersionNumber,
        latest: VersionNumber,
    },
    #[error("version {version} is already fully released; an older one cannot replace it")]
    NewerVersionReleased { version: VersionNumber },
    #[error("refused by the {hook} hook: {reason}")]
    Vetoed { hook: String, reason: String },
    #[error("a version in status {status} cannot be {action}")]
    InvalidTransition {
        status: VersionStatus,
        action: &'static str,
    },
    #[error(
        "the version's rollout plan is {status}; a plan in force is paused, resumed or cancelled instead"
    )]
    RolloutInForce { status: RolloutStatus },
    #[error("a rollout plan in status {status} cannot be {action}")]
    RolloutNotInStatus {
        status: RolloutStatus,
        action: &'static str,
    },
    #[error("the mini program has no released version to roll back")]
    NothingReleased,
    #[error("the version changed while the release gates were asked; try again")]
    ChangedMeanwhile,
    #[error("the window overlaps the program's scheduled or active window {id}")]
    WindowOverlaps { id: String },
    #[error("a window in status {status} cannot be cancelled")]
    WindowNotPending { status: ScheduledChangeStatus },
}

impl RuleViolation {
    pub(crate) fn invalid_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            message: message.into(),
        }
    }
}
