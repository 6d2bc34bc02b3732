//! The facts that the platform announces to hooks and integrations once a
//! change commits, derived purely from what the change did.

use serde::{Deserialize, Serialize};

use super::{MiniProgram, MiniProgramVersion, UpdateMode, VersionNumber, VersionStatus};

named_enum! {
    /// What happened; the wire names are those of the webhook `type` field.
    pub enum EventType {
        UpdateModeChanged => "update_mode.changed",
        VersionCreated => "version.created",
        VersionSubmittedForReleaseApproval => "version.submitted_for_release_approval",
        VersionApproved => "version.approved",
        VersionRejected => "version.rejected",
        VersionReleased => "version.released",
        VersionOffline => "version.offline",
        /// A rollout plan stopped advancing: paused by hand, or refused by
        /// a release gate or a release rule.
        RolloutPaused => "rollout.paused",
        /// A rollout plan's last step, the full release, applied.
        RolloutCompleted => "rollout.completed",
        /// A program's minimum usable version was set or cleared.
        MinimumVersionChanged => "minimum_version.changed",
    }
}

named_enum! {
    /// Where the delivery of one event to one target stands.
    pub enum DeliveryStatus {
        /// Waiting for its first or next attempt.
        Pending => "PENDING",
        Delivered => "DELIVERED",
        /// Every attempt failed; `redeliverHookEvent` tries again.
        Failed => "FAILED",
    }
}

/// An event about to be recorded with the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainEvent {
    pub event_type: EventType,
    pub workspace_id: String,
    pub mini_program_id: String,
    /// The subject of the token that made the change.
    pub actor: String,
    /// The global mode for `update_mode.changed` and `version.created` (the
    /// mode a new version will execute); the version's fixed mode otherwise.
    pub update_mode: UpdateMode,
    pub previous_mode: Option<UpdateMode>,
    /// For `update_mode.changed`: the program's revision the change produced.
    pub revision: Option<i32>,
    pub version: Option<EventVersion>,
    pub comment: Option<String>,
    /// Why a rollout plan paused.
    pub reason: Option<String>,
    /// For `minimum_version.changed`: the floor before and after (`None`
    /// when there is none).
    pub minimum_version: Option<(Option<VersionNumber>, Option<VersionNumber>)>,
}

/// The `data` of an event, as the outbox stores it, webhooks send it and the
/// live feed reads it: `workspaceId`, `miniProgramId`, `actor`,
/// `updateMode`, and where they apply `previousMode`, `revision`,
/// `versionId`, `version`, `status`, `grayPercentage`, `comment`, `reason`,
/// `previousMinimumVersion` and `minimumVersion` (null when cleared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    pub workspace_id: String,
    pub mini_program_id: String,
    pub actor: String,
    pub update_mode: UpdateMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_mode: Option<UpdateMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VersionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gray_percentage: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_minimum_version: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_version: Option<Option<String>>,
}

impl EventData {
    pub fn of(event: &DomainEvent) -> Self {
        let version = event.version.as_ref();
        EventData {
            workspace_id: event.workspace_id.clone(),
            mini_program_id: event.mini_program_id.clone(),
            actor: event.actor.clone(),
            update_mode: event.update_mode,
            previous_mode: event.previous_mode,
            revision: event.revision,
            version_id: version.map(|version| version.id.clone()),
            version: version.map(|version| version.number.clone()),
            status: version.map(|version| version.status),
            gray_percentage: version.and_then(|version| version.gray_percentage),
            comment: event.comment.clone(),
            reason: event.reason.clone(),
            previous_minimum_version: event
                .minimum_version
                .map(|(previous, _)| previous.map(|v| v.to_string())),
            minimum_version: event
                .minimum_version
                .map(|(_, floor)| floor.map(|v| v.to_string())),
        }
    }
}

/// The version an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventVersion {
    pub id: String,
    pub number: String,
    pub status: VersionStatus,
    pub gray_percentage: Option<i32>,
}

impl DomainEvent {
    pub fn update_mode_changed(
        workspace_id: &str,
        mini_program_id: &str,
        actor: &str,
        previous_mode: UpdateMode,
        mode: UpdateMode,
        revision: i32,
    ) -> Self {
        DomainEvent {
            event_type: EventType::UpdateModeChanged,
            workspace_id: workspace_id.to_owned(),
            mini_program_id: mini_program_id.to_owned(),
            actor: actor.to_owned(),
            update_mode: mode,
            previous_mode: Some(previous_mode),
            revision: Some(revision),
            version: None,
            comment: None,
            reason: None,
            minimum_version: None,
        }
    }

    /// The floor of `program` (as changed) moved from `previous`.
    pub fn minimum_version_changed(
        program: &MiniProgram,
        actor: &str,
        previous: Option<VersionNumber>,
    ) -> Self {
        DomainEvent {
            event_type: EventType::MinimumVersionChanged,
            workspace_id: program.workspace_id.clone(),
            mini_program_id: program.id.clone(),
            actor: actor.to_owned(),
            update_mode: program.update_mode,
            previous_mode: None,
            revision: Some(program.revision),
            version: None,
            comment: None,
            reason: None,
            minimum_version: Some((previous, program.minimum_version)),
        }
    }

    /// The event of a version that reached its current status: created,
    /// or a step of its lifecycle.
    pub fn version_reached_status(
        workspace_id: &str,
        actor: &str,
        version: &MiniProgramVersion,
    ) -> Self {
        let event_type = match version.status {
            VersionStatus::NewVersionCreated => EventType::VersionCreated,
            VersionStatus::PendingApproval => EventType::VersionSubmittedForReleaseApproval,
            VersionStatus::Approved => EventType::VersionApproved,
            VersionStatus::Rejected => EventType::VersionRejected,
            VersionStatus::GrayRelease | VersionStatus::FullRelease => EventType::VersionReleased,
            VersionStatus::Offline => EventType::VersionOffline,
        };
        let comment = match event_type {
            EventType::VersionApproved | EventType::VersionRejected => {
                version.decision.as_ref().and_then(|d| d.comment.clone())
            }
            _ => None,
        };
        DomainEvent {
            event_type,
            workspace_id: workspace_id.to_owned(),
            mini_program_id: version.mini_program_id.clone(),
            actor: actor.to_owned(),
            update_mode: version.update_mode().0,
            previous_mode: None,
            revision: None,
            version: Some(EventVersion {
                id: version.id.clone(),
                number: version.number.to_string(),
                status: version.status,
                gray_percentage: version.gray_percentage,
            }),
            comment,
            reason: None,
            minimum_version: None,
        }
    }

    /// The event of a rollout plan of `version` that paused for `reason`,
    /// or completed.
    pub fn rollout_stopped(
        workspace_id: &str,
        actor: &str,
        version: &MiniProgramVersion,
        paused_for: Option<&str>,
    ) -> Self {
        DomainEvent {
            event_type: match paused_for {
                Some(_) => EventType::RolloutPaused,
                None => EventType::RolloutCompleted,
            },
            reason: paused_for.map(str::to_owned),
            ..Self::version_reached_status(workspace_id, actor, version)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{ReleaseDecisionRecord, VersionNumber};

    fn version(status: VersionStatus) -> MiniProgramVersion {
        MiniProgramVersion {
            id: "v1".into(),
            mini_program_id: "p1".into(),
            number: VersionNumber::parse("1.2.0").unwrap(),
            description: None,
            status,
            fixed_update_mode: Some(UpdateMode::Sync),
            program_update_mode: UpdateMode::Default,
            created_at: Utc::now(),
            submitted_at: Some(Utc::now()),
            gray_percentage: Some(10),
            decision: Some(ReleaseDecisionRecord {
                decided_by: "bot".into(),
                decided_at: Utc::now(),
                comment: Some("fine".into()),
            }),
            released_at: None,
            offline_reason: None,
        }
    }

    #[test]
    fn each_status_after_submission_has_its_event_with_the_fixed_mode() {
        let expected = [
            (
                VersionStatus::PendingApproval,
                EventType::VersionSubmittedForReleaseApproval,
            ),
            (VersionStatus::Approved, EventType::VersionApproved),
            (VersionStatus::Rejected, EventType::VersionRejected),
            (VersionStatus::GrayRelease, EventType::VersionReleased),
            (VersionStatus::FullRelease, EventType::VersionReleased),
            (VersionStatus::Offline, EventType::VersionOffline),
        ];
        for (status, event_type) in expected {
            let event = DomainEvent::version_reached_status("acme", "alice", &version(status));
            assert_eq!(event.event_type, event_type);
            assert_eq!(event.update_mode, UpdateMode::Sync);
            assert_eq!(event.version.unwrap().number, "1.2.0");
        }
    }

    #[test]
    fn a_created_version_announces_the_global_mode_it_will_execute() {
        let mut created = version(VersionStatus::NewVersionCreated);
        created.fixed_update_mode = None;
        let event = DomainEvent::version_reached_status("acme", "alice", &created);
        assert_eq!(event.event_type, EventType::VersionCreated);
        assert_eq!(event.update_mode, UpdateMode::Default);
    }

    #[test]
    fn only_decisions_carry_the_comment() {
        let approved =
            DomainEvent::version_reached_status("acme", "a", &version(VersionStatus::Approved));
        assert_eq!(approved.comment.as_deref(), Some("fine"));
        let released =
            DomainEvent::version_reached_status("acme", "a", &version(VersionStatus::FullRelease));
        assert_eq!(released.comment, None);
    }

    #[test]
    fn rollout_events_name_the_version_and_a_pause_its_reason() {
        let gray = version(VersionStatus::GrayRelease);
        let paused = DomainEvent::rollout_stopped("acme", "alice", &gray, Some("gate says no"));
        assert_eq!(paused.event_type, EventType::RolloutPaused);
        assert_eq!(paused.reason.as_deref(), Some("gate says no"));
        assert_eq!(paused.version.unwrap().id, "v1");
        let full = version(VersionStatus::FullRelease);
        let completed = DomainEvent::rollout_stopped("acme", "alice", &full, None);
        assert_eq!(completed.event_type, EventType::RolloutCompleted);
        assert_eq!(EventData::of(&completed).reason, None);
    }

    #[test]
    fn wire_names_are_dotted() {
        assert_eq!(
            EventType::VersionSubmittedForReleaseApproval.as_str(),
            "version.submitted_for_release_approval"
        );
        assert_eq!(
            EventType::from_name("update_mode.changed"),
            Some(EventType::UpdateModeChanged)
        );
    }
}
