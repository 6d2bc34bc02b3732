use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::domain::{DomainEvent, EventData, EventType};

/// The PostgreSQL channel on which each committed event's sequence is announced.
pub const EVENTS_CHANNEL: &str = "update_mode_events";

/// An event as the outbox stores it.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub id: String,
    pub event_type: EventType,
    pub workspace_id: String,
    pub mini_program_id: String,
    pub occurred_at: DateTime<Utc>,
    /// The event's `data` object, serialized once so that every attempt
    /// sends the same bytes.
    pub data: String,
    /// The in-process notify hooks that take this event.
    pub hook_targets: Vec<String>,
}

/// An event as it committed.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub sequence: i64,
    pub id: String,
    pub event_type: EventType,
    pub workspace_id: String,
    pub mini_program_id: String,
    pub occurred_at: DateTime<Utc>,
    /// `EventData` as JSON, kept as it was written so that every attempt
    /// sends the same bytes.
    pub data: String,
}

impl StoredEvent {
    pub fn data(&self) -> Result<EventData, serde_json::Error> {
        serde_json::from_str(&self.data)
    }
}

/// An event as plugins and webhook receivers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    /// Unique; webhooks send it as `webhook-id` on every attempt.
    pub id: String,
    pub event_type: EventType,
    pub timestamp: DateTime<Utc>,
    pub workspace_id: String,
    pub mini_program_id: String,
    /// `EventData`, as JSON objects are read by plugins and receivers.
    pub data: Value,
}

impl HookEvent {
    /// The event of a change about to commit.
    pub fn new(event: &DomainEvent) -> Self {
        HookEvent {
            id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
            event_type: event.event_type,
            // Stored to the microsecond, so that every attempt sends the same body.
            timestamp: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
            workspace_id: event.workspace_id.clone(),
            mini_program_id: event.mini_program_id.clone(),
            data: serde_json::to_value(EventData::of(event)).unwrap_or_default(),
        }
    }

    /// The event as the outbox gave it back.
    pub(crate) fn from_stored(event: &StoredEvent) -> Result<Self, serde_json::Error> {
        Ok(HookEvent {
            id: event.id.clone(),
            event_type: event.event_type,
            timestamp: event.occurred_at,
            workspace_id: event.workspace_id.clone(),
            mini_program_id: event.mini_program_id.clone(),
            data: serde_json::to_value(event.data()?)?,
        })
    }

    /// The JSON body of a webhook: `{ "type", "timestamp", "data" }`.
    pub fn body(&self) -> String {
        json!({
            "type": self.event_type.as_str(),
            "timestamp": self.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true),
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventVersion, UpdateMode, VersionStatus};

    #[test]
    fn the_body_carries_type_timestamp_and_data() {
        let event = HookEvent::new(&DomainEvent {
            event_type: EventType::VersionReleased,
            workspace_id: "acme".into(),
            mini_program_id: "p1".into(),
            actor: "alice".into(),
            update_mode: UpdateMode::Sync,
            previous_mode: None,
            revision: None,
            version: Some(EventVersion {
                id: "v1".into(),
                number: "1.2.0".into(),
                status: VersionStatus::GrayRelease,
                gray_percentage: Some(10),
            }),
            comment: None,
            reason: None,
            minimum_version: None,
        });
        let body: Value = serde_json::from_str(&event.body()).unwrap();
        assert_eq!(body["type"], "version.released");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            body["data"],
            json!({
                "workspaceId": "acme", "miniProgramId": "p1", "actor": "alice", "updateMode": "SYNC",
                "versionId": "v1", "version": "1.2.0", "status": "GRAY_RELEASE", "grayPercentage": 10,
            })
        );
        assert!(event.id.starts_with("evt_"));
    }
}
