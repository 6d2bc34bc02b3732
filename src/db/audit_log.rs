//! The `audit_records` table: written by every write transaction of the API
//! with the change it makes, so a change is never committed without its
//! record, and read back newest first.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::now;
use super::schema::audit_records;
use super::{Conn, StorageError, Tx};
use crate::domain::{AuditAction, AuditContext, AuditFilter, AuditRecord, Audited};

/// Records a change of one target on the transaction that makes it.
pub async fn record<T: Audited>(
    tx: &mut Tx<'_>,
    context: &AuditContext,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<(), StorageError> {
    let Some(target) = after.or(before) else {
        return Ok(());
    };
    let snapshot = |state: Option<&T>| state.map(|state| state.snapshot().to_string());
    let row = NewRecord {
        id: format!("{:032x}", rand::random::<u128>()),
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
    on_backend!(tx, |conn| {
        diesel::insert_into(audit_records::table)
            .values(&row)
            .execute(conn)
            .await?;
    });
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = audit_records)]
struct NewRecord {
    id: String,
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_records)]
struct RecordRow {
    id: String,
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
            id: row.id,
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

/// Where the workspace's record `id` stands in the log, to list the records
/// before it; `None` when the workspace has no such record.
pub async fn position(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<i64>, StorageError> {
    Ok(on_backend!(conn, |conn| {
        audit_records::table
            .filter(audit_records::workspace_id.eq(workspace_id))
            .filter(audit_records::id.eq(id))
            .select(audit_records::sequence)
            .first::<i64>(conn)
            .await
            .optional()?
    }))
}

/// Up to `limit` records of a workspace before `before`, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRecord>, StorageError> {
    let rows: Vec<RecordRow> = on_backend!(conn, |conn| {
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
    conn: &mut Conn<'_>,
    workspace_id: &str,
    filter: &AuditFilter,
) -> Result<i64, StorageError> {
    Ok(on_backend!(conn, |conn| {
        filtered!(workspace_id, filter)
            .count()
            .get_result::<i64>(conn)
            .await?
    }))
}
