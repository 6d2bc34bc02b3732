//! The audit trail: one record per accepted mutation, naming who did what to
//! which target, through which request, with the target before and after.

use chrono::{DateTime, Utc};

named_enum! {
    /// What an accepted mutation did; the names are the GraphQL mutations'.
    pub enum AuditAction {
        CreateMiniProgram => "CREATE_MINI_PROGRAM",
        UpdateMode => "UPDATE_MODE",
        SetUpdateTimers => "SET_UPDATE_TIMERS",
        CreateMiniProgramVersion => "CREATE_MINI_PROGRAM_VERSION",
        SubmitVersionForReleaseApproval => "SUBMIT_VERSION_FOR_RELEASE_APPROVAL",
        DecideRelease => "DECIDE_RELEASE",
        ReleaseVersion => "RELEASE_VERSION",
        TakeVersionOffline => "TAKE_VERSION_OFFLINE",
        RegisterReleaseIntegration => "REGISTER_RELEASE_INTEGRATION",
        UpdateReleaseIntegration => "UPDATE_RELEASE_INTEGRATION",
        RotateReleaseIntegrationSecret => "ROTATE_RELEASE_INTEGRATION_SECRET",
        DeleteReleaseIntegration => "DELETE_RELEASE_INTEGRATION",
        RedeliverHookEvent => "REDELIVER_HOOK_EVENT",
        CreateClientKey => "CREATE_CLIENT_KEY",
        RevokeClientKey => "REVOKE_CLIENT_KEY",
    }
}

/// Who acts, in which workspace, through which request, doing what: written
/// with every change it makes.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub workspace_id: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub action: AuditAction,
}

/// One recorded change of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub sequence: i64,
    pub workspace_id: String,
    pub actor: String,
    pub action: AuditAction,
    pub target_type: String,
    pub target_id: String,
    pub request_id: Option<String>,
    /// The target as it was; `None` for what the mutation created.
    pub before: Option<serde_json::Value>,
    /// The target as it became; `None` for what the mutation deleted.
    pub after: Option<serde_json::Value>,
    pub recorded_at: DateTime<Utc>,
}

/// Which records a reader wants; empty parts select everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actions: Vec<AuditAction>,
    pub actor: Option<String>,
    pub target_id: Option<String>,
}
