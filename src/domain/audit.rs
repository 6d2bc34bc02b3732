//! The audit trail: one record per accepted mutation, naming who did what to
//! which target, through which request, with the target before and after.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    ClientKey, DeliveryRecord, MiniProgram, MiniProgramVersion, ReleaseGate, ReleaseIntegration,
    Rollout, ScheduledUpdateModeChange,
};

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
        StartRollout => "START_ROLLOUT",
        PauseRollout => "PAUSE_ROLLOUT",
        ResumeRollout => "RESUME_ROLLOUT",
        CancelRollout => "CANCEL_ROLLOUT",
        /// A step that a rollout plan applied by itself, done as the plan's starter.
        AdvanceRollout => "ADVANCE_ROLLOUT",
        RollBackRelease => "ROLL_BACK_RELEASE",
        RegisterReleaseGate => "REGISTER_RELEASE_GATE",
        DeleteReleaseGate => "DELETE_RELEASE_GATE",
        SetMinimumVersion => "SET_MINIMUM_VERSION",
        ScheduleUpdateMode => "SCHEDULE_UPDATE_MODE",
        CancelScheduledUpdateMode => "CANCEL_SCHEDULED_UPDATE_MODE",
        /// A window's start or end that the server applied by itself, done
        /// as the window's creator.
        ApplyScheduledUpdateMode => "APPLY_SCHEDULED_UPDATE_MODE",
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
    /// Random: it names the record (a page cursor) and says nothing else.
    pub id: String,
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

/// What the audit trail shows of a target: its state as the API shows it,
/// never a secret or a key hash.
pub trait Audited {
    const TYPE: &'static str;
    fn audit_id(&self) -> String;
    fn snapshot(&self) -> Value;
}

impl Audited for MiniProgram {
    const TYPE: &'static str = "MiniProgram";
    fn audit_id(&self) -> String {
        self.id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.program_type.as_str(),
            "channel": self.channel.as_str(),
            "updateMode": self.update_mode.as_str(),
            "revision": self.revision,
            "asyncUpdateSeconds": self.timers.async_update_seconds,
            "syncUpdateSeconds": self.timers.sync_update_seconds,
            "minimumVersion": self.minimum_version.map(|version| version.to_string()),
        })
    }
}

impl Audited for MiniProgramVersion {
    const TYPE: &'static str = "MiniProgramVersion";
    fn audit_id(&self) -> String {
        self.id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "miniProgramId": self.mini_program_id,
            "version": self.number.to_string(),
            "status": self.status.as_str(),
            "fixedUpdateMode": self.fixed_update_mode.map(|mode| mode.as_str()),
            "grayPercentage": self.gray_percentage,
            "decidedBy": self.decision.as_ref().map(|decision| &decision.decided_by),
            "decisionComment": self.decision.as_ref().and_then(|decision| decision.comment.as_ref()),
            "offlineReason": self.offline_reason,
        })
    }
}

impl Audited for ReleaseIntegration {
    const TYPE: &'static str = "ReleaseIntegration";
    fn audit_id(&self) -> String {
        self.id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "name": self.name,
            "url": self.url,
            "events": self.events.iter().map(|event| event.as_str()).collect::<Vec<_>>(),
            "active": self.active,
            "updatedAt": self.updated_at.to_rfc3339(),
        })
    }
}

impl Audited for Rollout {
    const TYPE: &'static str = "Rollout";
    fn audit_id(&self) -> String {
        self.id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "versionId": self.version_id,
            "status": self.status.as_str(),
            "steps": self.steps,
            "currentStep": self.current_step,
            "nextAdvanceAt": self.next_advance_at.map(|at| at.to_rfc3339()),
            "pausedReason": self.paused_reason,
            "startedBy": self.started_by,
        })
    }
}

impl Audited for ScheduledUpdateModeChange {
    const TYPE: &'static str = "ScheduledUpdateModeChange";
    fn audit_id(&self) -> String {
        self.id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "miniProgramId": self.mini_program_id,
            "mode": self.mode.as_str(),
            "startsAt": self.starts_at.to_rfc3339(),
            "endsAt": self.ends_at.map(|at| at.to_rfc3339()),
            "status": self.status.as_str(),
            "revertTo": self.revert_to.map(|mode| mode.as_str()),
            "note": self.note,
        })
    }
}

impl Audited for ReleaseGate {
    const TYPE: &'static str = "ReleaseGate";
    fn audit_id(&self) -> String {
        self.id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "name": self.name,
            "url": self.url,
            "active": self.active,
        })
    }
}

impl Audited for ClientKey {
    const TYPE: &'static str = "ClientKey";
    fn audit_id(&self) -> String {
        self.id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "name": self.name,
            "revokedAt": self.revoked_at.map(|at| at.to_rfc3339()),
        })
    }
}

impl Audited for DeliveryRecord {
    const TYPE: &'static str = "HookDelivery";
    fn audit_id(&self) -> String {
        self.event_id.clone()
    }
    fn snapshot(&self) -> Value {
        json!({
            "eventType": self.event_type.as_str(),
            "status": self.status.as_str(),
            "attempts": self.attempts,
        })
    }
}
