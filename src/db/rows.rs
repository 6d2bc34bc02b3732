//! Table rows as diesel reads and writes them, and their conversion to the
//! domain types. Enums are stored by their wire names.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;

use super::StorageError;
use super::schema::{
    hook_deliveries, hook_events, mini_program_versions, mini_programs, release_gates,
    release_integrations, rollouts, scheduled_update_mode_changes, update_mode_changes,
};
use crate::domain::{
    DeliveryStatus, EventType, MiniProgram, MiniProgramChannel, MiniProgramType,
    MiniProgramVersion, ReleaseDecisionRecord, ReleaseGate, ReleaseIntegration, Rollout,
    RolloutStatus, RolloutStep, ScheduledChangeStatus, ScheduledUpdateModeChange, UpdateMode,
    UpdateModeChange, UpdateTimers, VersionNumber, VersionStatus,
};
use crate::hooks::event::StoredEvent;

/// The current time as stored: UTC, to the microsecond that PostgreSQL keeps,
/// so that a value reads back the same on both backends.
pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

pub(super) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(super) fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

pub(super) fn parse<T>(
    what: &'static str,
    value: &str,
    from_name: fn(&str) -> Option<T>,
) -> Result<T, StorageError> {
    from_name(value).ok_or_else(|| StorageError::Corrupt {
        what,
        value: value.to_owned(),
    })
}

#[derive(Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = mini_programs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(super) struct MiniProgramRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub search_name: String,
    pub program_type: String,
    pub channel: String,
    pub update_mode: String,
    pub revision: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub async_update_seconds: i32,
    pub sync_update_seconds: i32,
    pub policy_revision: i32,
    pub minimum_version: Option<String>,
}

impl TryFrom<MiniProgramRow> for MiniProgram {
    type Error = StorageError;

    fn try_from(row: MiniProgramRow) -> Result<Self, StorageError> {
        Ok(MiniProgram {
            program_type: parse(
                "program type",
                &row.program_type,
                MiniProgramType::from_name,
            )?,
            channel: parse("channel", &row.channel, MiniProgramChannel::from_name)?,
            update_mode: parse("update mode", &row.update_mode, UpdateMode::from_name)?,
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            revision: row.revision,
            timers: UpdateTimers {
                async_update_seconds: row.async_update_seconds,
                sync_update_seconds: row.sync_update_seconds,
            },
            minimum_version: row
                .minimum_version
                .as_deref()
                .map(version_number)
                .transpose()?,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
    }
}

/// A version number as stored in text.
pub(super) fn version_number(text: &str) -> Result<VersionNumber, StorageError> {
    VersionNumber::parse(text).map_err(|_| StorageError::Corrupt {
        what: "version number",
        value: text.to_owned(),
    })
}

/// The lowercased form that name searches compare against.
pub(super) fn search_form(text: &str) -> String {
    text.to_lowercase()
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = mini_program_versions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(super) struct VersionRow {
    pub id: String,
    pub mini_program_id: String,
    pub major: i32,
    pub minor: i32,
    pub patch: i32,
    pub description: Option<String>,
    pub status: String,
    pub update_mode: Option<String>,
    pub created_at: NaiveDateTime,
    pub submitted_at: Option<NaiveDateTime>,
    pub gray_percentage: Option<i32>,
    pub decided_at: Option<NaiveDateTime>,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    pub released_at: Option<NaiveDateTime>,
    pub offline_reason: Option<String>,
}

/// A version row with its program's global mode, as every version query reads it.
pub(super) type VersionWithGlobalMode = (VersionRow, String);

pub(super) fn version_from_row(
    (row, program_update_mode): VersionWithGlobalMode,
) -> Result<MiniProgramVersion, StorageError> {
    Ok(MiniProgramVersion {
        number: VersionNumber {
            major: row.major,
            minor: row.minor,
            patch: row.patch,
        },
        status: parse("version status", &row.status, VersionStatus::from_name)?,
        fixed_update_mode: row
            .update_mode
            .as_deref()
            .map(|mode| parse("update mode", mode, UpdateMode::from_name))
            .transpose()?,
        program_update_mode: parse("update mode", &program_update_mode, UpdateMode::from_name)?,
        decision: match (row.decided_by, row.decided_at) {
            (Some(decided_by), Some(decided_at)) => Some(ReleaseDecisionRecord {
                decided_by,
                decided_at: utc(decided_at),
                comment: row.decision_comment,
            }),
            _ => None,
        },
        id: row.id,
        mini_program_id: row.mini_program_id,
        description: row.description,
        created_at: utc(row.created_at),
        submitted_at: row.submitted_at.map(utc),
        gray_percentage: row.gray_percentage,
        released_at: row.released_at.map(utc),
        offline_reason: row.offline_reason,
    })
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = update_mode_changes, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(super) struct UpdateModeChangeRow {
    pub mini_program_id: String,
    pub revision: i32,
    pub previous_mode: String,
    pub mode: String,
    pub changed_by: String,
    pub changed_at: NaiveDateTime,
}

impl TryFrom<UpdateModeChangeRow> for UpdateModeChange {
    type Error = StorageError;

    fn try_from(row: UpdateModeChangeRow) -> Result<Self, StorageError> {
        Ok(UpdateModeChange {
            previous_mode: parse("update mode", &row.previous_mode, UpdateMode::from_name)?,
            mode: parse("update mode", &row.mode, UpdateMode::from_name)?,
            mini_program_id: row.mini_program_id,
            changed_by: row.changed_by,
            changed_at: utc(row.changed_at),
            revision: row.revision,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = hook_deliveries, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(super) struct DeliveryRow {
    pub id: String,
    pub event_sequence: i64,
    pub mini_program_id: String,
    pub target: String,
    pub integration_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = hook_events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(super) struct EventRow {
    pub sequence: i64,
    pub id: String,
    pub event_type: String,
    pub workspace_id: String,
    pub mini_program_id: String,
    pub occurred_at: NaiveDateTime,
    pub data: String,
}

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = release_integrations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(super) struct IntegrationRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub url: String,
    pub events: String,
    pub active: bool,
    pub secret: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub(super) fn event_type(value: &str) -> Result<EventType, StorageError> {
    parse("event type", value, EventType::from_name)
}

pub(super) fn delivery_status(value: &str) -> Result<DeliveryStatus, StorageError> {
    parse("delivery status", value, DeliveryStatus::from_name)
}

/// Event types stored as ",a,b," so that a LIKE on ",a," matches exactly.
pub(super) fn join_event_types(types: &[EventType]) -> String {
    let mut joined = String::from(",");
    for event_type in types {
        joined.push_str(event_type.as_str());
        joined.push(',');
    }
    joined
}

pub(super) fn split_event_types(joined: &str) -> Result<Vec<EventType>, StorageError> {
    joined
        .split(',')
        .filter(|name| !name.is_empty())
        .map(event_type)
        .collect()
}

impl TryFrom<IntegrationRow> for ReleaseIntegration {
    type Error = StorageError;

    fn try_from(row: IntegrationRow) -> Result<Self, StorageError> {
        Ok(ReleaseIntegration {
            events: split_event_types(&row.events)?,
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            url: row.url,
            active: row.active,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = rollouts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_null = true)]
pub(super) struct RolloutRow {
    pub id: String,
    pub version_id: String,
    pub mini_program_id: String,
    pub workspace_id: String,
    pub status: String,
    pub steps: String,
    pub current_step: i32,
    pub next_advance_at: Option<NaiveDateTime>,
    pub paused_reason: Option<String>,
    pub started_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl RolloutRow {
    pub(super) fn of(rollout: &Rollout) -> Result<Self, StorageError> {
        Ok(RolloutRow {
            id: rollout.id.clone(),
            version_id: rollout.version_id.clone(),
            mini_program_id: rollout.mini_program_id.clone(),
            workspace_id: rollout.workspace_id.clone(),
            status: rollout.status.as_str().to_owned(),
            steps: serde_json::to_string(&rollout.steps).map_err(|error| {
                StorageError::Corrupt {
                    what: "rollout steps",
                    value: error.to_string(),
                }
            })?,
            current_step: i32::try_from(rollout.current_step).unwrap_or(i32::MAX),
            next_advance_at: rollout.next_advance_at.map(|at| at.naive_utc()),
            paused_reason: rollout.paused_reason.clone(),
            started_by: rollout.started_by.clone(),
            created_at: rollout.created_at.naive_utc(),
            updated_at: rollout.updated_at.naive_utc(),
        })
    }
}

impl TryFrom<RolloutRow> for Rollout {
    type Error = StorageError;

    fn try_from(row: RolloutRow) -> Result<Self, StorageError> {
        let steps: Vec<RolloutStep> =
            serde_json::from_str(&row.steps).map_err(|_| StorageError::Corrupt {
                what: "rollout steps",
                value: row.steps.clone(),
            })?;
        Ok(Rollout {
            status: parse("rollout status", &row.status, RolloutStatus::from_name)?,
            steps,
            current_step: usize::try_from(row.current_step).unwrap_or(0),
            id: row.id,
            version_id: row.version_id,
            mini_program_id: row.mini_program_id,
            workspace_id: row.workspace_id,
            next_advance_at: row.next_advance_at.map(utc),
            paused_reason: row.paused_reason,
            started_by: row.started_by,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = scheduled_update_mode_changes, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_null = true)]
pub(super) struct WindowRow {
    pub id: String,
    pub mini_program_id: String,
    pub workspace_id: String,
    pub mode: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: Option<NaiveDateTime>,
    pub status: String,
    pub revert_to: Option<String>,
    pub started_revision: Option<i32>,
    pub created_by: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
    pub due_at: Option<NaiveDateTime>,
}

impl WindowRow {
    pub(super) fn of(window: &ScheduledUpdateModeChange) -> Self {
        WindowRow {
            id: window.id.clone(),
            mini_program_id: window.mini_program_id.clone(),
            workspace_id: window.workspace_id.clone(),
            mode: window.mode.as_str().to_owned(),
            starts_at: window.starts_at.naive_utc(),
            ends_at: window.ends_at.map(|at| at.naive_utc()),
            status: window.status.as_str().to_owned(),
            revert_to: window.revert_to.map(|mode| mode.as_str().to_owned()),
            started_revision: window.started_revision,
            created_by: window.created_by.clone(),
            note: window.note.clone(),
            created_at: window.created_at.naive_utc(),
            due_at: window.due_at().map(|at| at.naive_utc()),
        }
    }
}

impl TryFrom<WindowRow> for ScheduledUpdateModeChange {
    type Error = StorageError;

    fn try_from(row: WindowRow) -> Result<Self, StorageError> {
        Ok(ScheduledUpdateModeChange {
            mode: parse("update mode", &row.mode, UpdateMode::from_name)?,
            status: parse(
                "window status",
                &row.status,
                ScheduledChangeStatus::from_name,
            )?,
            revert_to: row
                .revert_to
                .as_deref()
                .map(|mode| parse("update mode", mode, UpdateMode::from_name))
                .transpose()?,
            id: row.id,
            mini_program_id: row.mini_program_id,
            workspace_id: row.workspace_id,
            starts_at: utc(row.starts_at),
            ends_at: row.ends_at.map(utc),
            started_revision: row.started_revision,
            created_by: row.created_by,
            note: row.note,
            created_at: utc(row.created_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = release_gates, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(super) struct GateRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub name_key: String,
    pub url: String,
    pub active: bool,
    pub secret: String,
    pub created_at: NaiveDateTime,
}

impl From<GateRow> for ReleaseGate {
    fn from(row: GateRow) -> Self {
        ReleaseGate {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            url: row.url,
            active: row.active,
            created_at: utc(row.created_at),
        }
    }
}

/// A committed event as the outbox stored it.
pub(super) fn stored_event(row: EventRow) -> Result<StoredEvent, StorageError> {
    Ok(StoredEvent {
        event_type: event_type(&row.event_type)?,
        sequence: row.sequence,
        id: row.id,
        workspace_id: row.workspace_id,
        mini_program_id: row.mini_program_id,
        occurred_at: utc(row.occurred_at),
        data: row.data,
    })
}
