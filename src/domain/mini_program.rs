use chrono::{DateTime, Utc};

use super::{Name, UpdateMode, UpdateTimers, VersionNumber};

named_enum! {
    /// How a mini program is built; update modes only apply to DSL packages.
    pub enum MiniProgramType {
        Dsl => "DSL",
        H5 => "H5",
    }
}

named_enum! {
    /// Where a mini program is released from.
    pub enum MiniProgramChannel {
        Workspace => "WORKSPACE",
        AlipayPlus => "ALIPAY_PLUS",
    }
}

/// A mini program of one workspace, with its global update mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniProgram {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub program_type: MiniProgramType,
    pub channel: MiniProgramChannel,
    pub update_mode: UpdateMode,
    /// Raised by one on every accepted change, so clients can detect stale edits.
    pub revision: i32,
    /// What the super app counts before checking for a new version.
    pub timers: UpdateTimers,
    /// No device may start an older version: one that has one cached
    /// downloads the target first.
    pub minimum_version: Option<VersionNumber>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which programs of a workspace a listing shows; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct ProgramFilter {
    pub program_type: Option<MiniProgramType>,
    pub channel: Option<MiniProgramChannel>,
    pub update_mode: Option<UpdateMode>,
    /// Matched case-insensitively anywhere in the name.
    pub name_contains: Option<String>,
}

/// A mini program about to be created; new programs start at `DEFAULT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMiniProgram {
    pub workspace_id: String,
    pub name: Name,
    pub program_type: MiniProgramType,
    pub channel: MiniProgramChannel,
}
