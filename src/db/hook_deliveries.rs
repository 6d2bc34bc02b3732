//! The `hook_deliveries` table: claiming due deliveries (shared by every
//! process on one database), recording their outcome, and the delivery log.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::audit_log;
use super::rows::{self, DeliveryRow, EventRow, now, utc};
use super::schema::{hook_deliveries, hook_events, release_integrations};
use super::{Database, SqliteConnection, StorageError};
use crate::domain::{AuditContext, DeliveryStatus, EventType};

/// An event as it is delivered.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub sequence: i64,
    pub id: String,
    pub event_type: EventType,
    pub workspace_id: String,
    pub mini_program_id: String,
    pub occurred_at: DateTime<Utc>,
    pub data: String,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StorageError;

    fn try_from(row: EventRow) -> Result<Self, StorageError> {
        Ok(StoredEvent {
            event_type: rows::event_type(&row.event_type)?,
            sequence: row.sequence,
            id: row.id,
            workspace_id: row.workspace_id,
            mini_program_id: row.mini_program_id,
            occurred_at: utc(row.occurred_at),
            data: row.data,
        })
    }
}

/// Where a claimed delivery goes.
#[derive(Debug, Clone)]
pub enum DeliveryTarget {
    /// An in-process notify hook, by name.
    Hook(String),
    /// A release integration as it is now; inactive ones are not sent to.
    Integration {
        id: String,
        url: String,
        secret: String,
        active: bool,
    },
}

/// A delivery this process holds the lease on.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    /// Counting this one.
    pub attempt: i32,
    pub target: DeliveryTarget,
    pub event: StoredEvent,
}

/// What became of an attempt.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt { at: DateTime<Utc>, error: String },
    Failed { error: String },
}

/// A line of an integration's delivery log.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: EventType,
    pub event_sequence: i64,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Keeps only the first pending delivery of each (target, program) pair, so
/// that each target sees a program's events in the order they committed.
macro_rules! first_pending_of_its_program {
    () => {
        "NOT EXISTS (
          SELECT 1 FROM hook_deliveries e
          WHERE e.target = d.target AND e.mini_program_id = d.mini_program_id
            AND e.status = 'PENDING' AND e.event_sequence < d.event_sequence)"
    };
}

/// Claims due deliveries: takes the lease and counts the attempt. The
/// placeholders and the row locking differ between the backends.
macro_rules! claim_sql {
    (owner: $owner:literal, until: $until:literal, at: $at:literal, at: $at_again:literal, limit: $limit:literal, locking: $locking:literal) => {
        concat!(
            "UPDATE hook_deliveries SET lease_owner = ",
            $owner,
            ", lease_expires_at = ",
            $until,
            ", attempts = attempts + 1 WHERE id IN (
                SELECT d.id FROM hook_deliveries d
                WHERE d.status = 'PENDING' AND d.next_attempt_at <= ",
            $at,
            "
                  AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ",
            $at_again,
            ")
                  AND ",
            first_pending_of_its_program!(),
            "
                ORDER BY d.event_sequence
                LIMIT ",
            $limit,
            " ",
            $locking,
            ")
            RETURNING id"
        )
    };
}

/// The claim statement of a backend, with its binds in one order for both:
/// owner, lease end, now, now again, limit.
trait ClaimDue {
    const CLAIM: &'static str;
}

impl ClaimDue for AsyncPgConnection {
    /// Rows another process is claiming are skipped, not waited for.
    const CLAIM: &'static str = claim_sql!(owner: "$1", until: "$2", at: "$3", at: "$4", limit: "$5", locking: "FOR UPDATE SKIP LOCKED");
}

impl ClaimDue for SqliteConnection {
    /// The immediate transaction already excludes other writers.
    const CLAIM: &'static str =
        claim_sql!(owner: "?", until: "?", at: "?", at: "?", limit: "?", locking: "");
}

/// Runs the backend's claim statement on the transaction's connection.
macro_rules! claim_due {
    ($conn:expr, $owner:expr, $at:expr, $lease_until:expr, $limit:expr) => {{
        fn statement<C: ClaimDue>(_: &C) -> &'static str {
            C::CLAIM
        }
        diesel::sql_query(statement(&*$conn))
            .bind::<Text, _>($owner)
            .bind::<Timestamp, _>($lease_until)
            .bind::<Timestamp, _>($at)
            .bind::<Timestamp, _>($at)
            .bind::<BigInt, _>($limit)
            .load::<ClaimedId>($conn)
            .await?
    }};
}

/// Claims up to `limit` due deliveries for `owner` for the length of `lease`.
pub async fn claim(
    db: &Database,
    owner: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, StorageError> {
    let at = now();
    let lease_until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    type Claimed = (DeliveryRow, EventRow, Option<(String, String, bool)>);
    let claimed: Vec<Claimed> = in_write_transaction!(db, |conn| {
        let ids: Vec<String> = claim_due!(conn, owner, at, lease_until, limit)
            .into_iter()
            .map(|claimed| claimed.id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(hook_deliveries::table
            .inner_join(hook_events::table)
            .left_join(release_integrations::table)
            .filter(hook_deliveries::id.eq_any(&ids))
            .order(hook_events::sequence.asc())
            .select((
                DeliveryRow::as_select(),
                EventRow::as_select(),
                (
                    release_integrations::url,
                    release_integrations::secret,
                    release_integrations::active,
                )
                    .nullable(),
            ))
            .load(conn)
            .await?)
    })?;
    claimed
        .into_iter()
        .map(|(delivery, event, integration)| {
            let target = match (delivery.integration_id, integration) {
                (Some(id), Some((url, secret, active))) => DeliveryTarget::Integration {
                    id,
                    url,
                    secret,
                    active,
                },
                _ => DeliveryTarget::Hook(
                    delivery
                        .target
                        .strip_prefix("hook:")
                        .unwrap_or(&delivery.target)
                        .to_owned(),
                ),
            };
            Ok(ClaimedDelivery {
                id: delivery.id,
                attempt: delivery.attempts,
                target,
                event: StoredEvent::try_from(event)?,
            })
        })
        .collect()
}

/// Records the outcome of an attempt, if `owner` still holds the lease.
pub async fn complete(
    db: &Database,
    id: &str,
    owner: &str,
    outcome: AttemptOutcome,
) -> Result<(), StorageError> {
    let at = now();
    let (status, next_attempt_at, delivered_at, last_error) = match outcome {
        AttemptOutcome::Delivered => (DeliveryStatus::Delivered, at, Some(at), None),
        AttemptOutcome::RetryAt { at: retry, error } => (
            DeliveryStatus::Pending,
            retry.naive_utc(),
            None,
            Some(error),
        ),
        AttemptOutcome::Failed { error } => (DeliveryStatus::Failed, at, None, Some(error)),
    };
    with_connection!(db, |conn| {
        diesel::update(
            hook_deliveries::table
                .filter(hook_deliveries::id.eq(id))
                .filter(hook_deliveries::lease_owner.eq(owner)),
        )
        .set((
            hook_deliveries::status.eq(status.as_str()),
            hook_deliveries::next_attempt_at.eq(next_attempt_at),
            hook_deliveries::delivered_at.eq(delivered_at),
            hook_deliveries::last_error.eq(last_error),
            hook_deliveries::lease_owner.eq(None::<String>),
            hook_deliveries::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .await?;
    });
    Ok(())
}

#[derive(QueryableByName)]
struct NextDue {
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamp>)]
    due: Option<NaiveDateTime>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamp>)]
    lease: Option<NaiveDateTime>,
}

/// Only the first pending delivery of each (target, program) can be claimed;
/// a leased one becomes claimable when its lease runs out. Plain SQL that
/// both backends read alike.
const NEXT_DUE: &str = concat!(
    "SELECT MIN(CASE WHEN d.lease_expires_at IS NULL THEN d.next_attempt_at END) AS due,
            MIN(d.lease_expires_at) AS lease
     FROM hook_deliveries d
     WHERE d.status = 'PENDING' AND ",
    first_pending_of_its_program!()
);

/// When the next delivery can be claimed, if any is pending.
pub async fn next_due(db: &Database) -> Result<Option<DateTime<Utc>>, StorageError> {
    let next: NextDue = with_connection!(db, |conn| diesel::sql_query(NEXT_DUE)
        .get_result(conn)
        .await?);
    Ok(match (next.due, next.lease) {
        (Some(due), Some(lease)) => Some(utc(due.min(lease))),
        (due, lease) => due.or(lease).map(utc),
    })
}

fn record_from(delivery: DeliveryRow, event: EventRow) -> Result<DeliveryRecord, StorageError> {
    let status = rows::delivery_status(&delivery.status)?;
    Ok(DeliveryRecord {
        event_type: rows::event_type(&event.event_type)?,
        event_id: event.id,
        event_sequence: event.sequence,
        attempts: delivery.attempts,
        last_error: delivery.last_error,
        next_attempt_at: (status == DeliveryStatus::Pending).then(|| utc(delivery.next_attempt_at)),
        delivered_at: delivery.delivered_at.map(utc),
        status,
    })
}

/// Up to `limit` deliveries of an integration before event `before`, newest first.
pub async fn list_for_integration(
    db: &Database,
    integration_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRecord>, StorageError> {
    let rows: Vec<(DeliveryRow, EventRow)> = with_connection!(db, |conn| {
        let mut query = hook_deliveries::table
            .inner_join(hook_events::table)
            .filter(hook_deliveries::integration_id.eq(integration_id))
            .into_boxed();
        if let Some(before) = before {
            query = query.filter(hook_deliveries::event_sequence.lt(before));
        }
        query
            .order(hook_deliveries::event_sequence.desc())
            .limit(limit)
            .select((DeliveryRow::as_select(), EventRow::as_select()))
            .load(conn)
            .await?
    });
    rows.into_iter()
        .map(|(delivery, event)| record_from(delivery, event))
        .collect()
}

pub async fn count_for_integration(
    db: &Database,
    integration_id: &str,
) -> Result<i64, StorageError> {
    Ok(with_connection!(db, |conn| {
        hook_deliveries::table
            .filter(hook_deliveries::integration_id.eq(integration_id))
            .count()
            .get_result::<i64>(conn)
            .await?
    }))
}

/// Schedules the delivery of an event to an integration again, from its
/// first attempt. `None` when there is no such delivery.
pub async fn redeliver(
    db: &Database,
    integration_id: &str,
    event_id: &str,
    audit: &AuditContext,
) -> Result<Option<DeliveryRecord>, StorageError> {
    let at = now();
    in_write_transaction!(db, |conn| {
        let Some(sequence) = hook_events::table
            .filter(hook_events::id.eq(event_id))
            .select(hook_events::sequence)
            .first::<i64>(conn)
            .await
            .optional()?
        else {
            return Ok(None);
        };
        let of_event = hook_deliveries::table
            .filter(hook_deliveries::integration_id.eq(integration_id))
            .filter(hook_deliveries::event_sequence.eq(sequence));
        let read = async |conn: &mut _| {
            hook_deliveries::table
                .inner_join(hook_events::table)
                .filter(hook_deliveries::integration_id.eq(integration_id))
                .filter(hook_deliveries::event_sequence.eq(sequence))
                .select((DeliveryRow::as_select(), EventRow::as_select()))
                .first::<(DeliveryRow, EventRow)>(conn)
                .await
                .optional()
        };
        let Some((delivery, event)) = read(&mut *conn).await? else {
            return Ok(None);
        };
        let before = record_from(delivery, event)?;
        diesel::update(of_event)
            .set((
                hook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                hook_deliveries::attempts.eq(0),
                hook_deliveries::next_attempt_at.eq(at),
                hook_deliveries::last_error.eq(None::<String>),
                hook_deliveries::delivered_at.eq(None::<NaiveDateTime>),
                hook_deliveries::lease_owner.eq(None::<String>),
                hook_deliveries::lease_expires_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .await?;
        let Some((delivery, event)) = read(&mut *conn).await? else {
            return Ok(None);
        };
        let after = record_from(delivery, event)?;
        audit_log::record(conn, audit, Some(&before), Some(&after)).await?;
        Ok(Some(after))
    })
}

/// How many deliveries are in each status, over all processes.
pub async fn count_by_status(db: &Database) -> Result<Vec<(DeliveryStatus, i64)>, StorageError> {
    let rows: Vec<(String, i64)> = with_connection!(db, |conn| {
        hook_deliveries::table
            .group_by(hook_deliveries::status)
            .select((hook_deliveries::status, diesel::dsl::count_star()))
            .load(conn)
            .await?
    });
    let counted: std::collections::HashMap<String, i64> = rows.into_iter().collect();
    Ok(DeliveryStatus::ALL
        .iter()
        .map(|&status| (status, counted.get(status.as_str()).copied().unwrap_or(0)))
        .collect())
}
