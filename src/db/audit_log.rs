//! The `audit_records` table: written by every write transaction of the API
//! with the change it makes, so a change is never committed without its
//! record, and read back newest first.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use super::hook_deliveries::DeliveryRecord;
use super::rows::now;
use super::schema::audit_records;
use super::{Database, StorageError};
use crate::domain::{
    AuditAction, AuditContext, AuditFilter, AuditRecord, ClientKey, MiniProgram,
    MiniProgramVersion, ReleaseIntegration,
};

/// What the audit trail shows of a target: its state as the API shows it,
/// never a secret or a key hash.
pub(super) trait Audited {
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

/// Records a change of one target on the transaction that makes it.
pub(super) async fn record<C: AuditTrail + Send, T: Audited>(
    conn: &mut C,
    context: &AuditContext,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), StorageError> {
    let Some(target) = after.or(before) else {
        return Ok(());
    };
    let snapshot = |state: Option<&T>| state.map(|state| state.snapshot().to_string());
    let row = NewRecord {
        workspace_id: context.workspace_id.clone(),
        actor: context.actor.clone(),
        action: context.action.as_str().to_owned(),
        target_type: T::TYPE.to_owned(),
        target_id: target.audit_id(),
        request_id: context.request_id.clone(),
        before_state: snapshot(before),
        after_state: snapshot(after),
        recorded_at: now(),
    };
    conn.append(&row).await
}

#[derive(Insertable)]
#[diesel(table_name = audit_records)]
pub(super) struct NewRecord {
    workspace_id: String,
    actor: String,
    action: String,
    target_type: String,
    target_id: String,
    request_id: Option<String>,
    before_state: Option<String>,
    after_state: Option<String>,
    recorded_at: NaiveDateTime,
}

/// Appends records on the transaction's connection.
pub(super) trait AuditTrail {
    fn append(&mut self, row: &NewRecord) -> impl Future<Output = Result<(), StorageError>> + Send;
}

impl_for_each_backend! {
    impl AuditTrail {
        async fn append(&mut self, row: &NewRecord) -> Result<(), StorageError> {
            diesel::insert_into(audit_records::table)
                .values(row)
                .execute(self)
                .await?;
            Ok(())
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_records)]
struct RecordRow {
    sequence: i64,
    workspace_id: String,
    actor: String,
    action: String,
    target_type: String,
    target_id: String,
    request_id: Option<String>,
    before_state: Option<String>,
    after_state: Option<String>,
    recorded_at: NaiveDateTime,
}

impl TryFrom<RecordRow> for AuditRecord {
    type Error = StorageError;

    fn try_from(row: RecordRow) -> Result<Self, Self::Error> {
        let action = AuditAction::from_name(&row.action).ok_or_else(|| StorageError::Corrupt {
            what: "audit action",
            value: row.action.clone(),
        })?;
        let state = |text: Option<String>| {
            text.map(|text| {
                serde_json::from_str(&text).map_err(|_| StorageError::Corrupt {
                    what: "audit snapshot",
                    value: text,
                })
            })
            .transpose()
        };
        Ok(AuditRecord {
            sequence: row.sequence,
            workspace_id: row.workspace_id,
            actor: row.actor,
            action,
            target_type: row.target_type,
            target_id: row.target_id,
            request_id: row.request_id,
            before: state(row.before_state)?,
            after: state(row.after_state)?,
            recorded_at: row.recorded_at.and_utc(),
        })
    }
}

macro_rules! filtered {
    ($workspace_id:expr, $filter:expr) => {{
        let mut query = audit_records::table
            .filter(audit_records::workspace_id.eq($workspace_id))
            .into_boxed();
        if !$filter.actions.is_empty() {
            let actions: Vec<&str> = $filter
                .actions
                .iter()
                .map(|action| action.as_str())
                .collect();
            query = query.filter(audit_records::action.eq_any(actions));
        }
        if let Some(actor) = &$filter.actor {
            query = query.filter(audit_records::actor.eq(actor));
        }
        if let Some(target_id) = &$filter.target_id {
            query = query.filter(audit_records::target_id.eq(target_id));
        }
        query
    }};
}

/// Up to `limit` records of a workspace before `before`, newest first.
pub async fn list(
    db: &Database,
    workspace_id: &str,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRecord>, StorageError> {
    let rows: Vec<RecordRow> = with_connection!(db, |conn| {
        let mut query = filtered!(workspace_id, filter);
        if let Some(before) = before {
            query = query.filter(audit_records::sequence.lt(before));
        }
        query
            .order(audit_records::sequence.desc())
            .limit(limit)
            .select(RecordRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter().map(AuditRecord::try_from).collect()
}

pub async fn count(
    db: &Database,
    workspace_id: &str,
    filter: &AuditFilter,
) -> Result<i64, StorageError> {
    Ok(with_connection!(db, |conn| {
        filtered!(workspace_id, filter)
            .count()
            .get_result::<i64>(conn)
            .await?
    }))
}
