//! The `hook_deliveries` table: claiming due deliveries (shared by every
//! process on one database), recording their outcome, and the delivery log.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel_async::RunQueryDsl;

use super::dialect::Dialect;
use super::rows::{self, DeliveryRow, EventRow, now, stored_event, utc};
use super::schema::{hook_deliveries, hook_events, release_integrations};
use super::{Conn, StorageError, Tx};
use crate::domain::{DeliveryRecord, DeliveryStatus};
use crate::hooks::event::StoredEvent;

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

/// The claim statement of the connection's backend.
fn claim_statement<C: Dialect>(_: &C) -> &'static str {
    C::CLAIM_DUE
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Claims up to `limit` due deliveries for `owner` for the length of `lease`.
pub async fn claim(
    tx: &mut Tx<'_>,
    owner: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<ClaimedDelivery>, StorageError> {
    let at = now();
    let lease_until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    type Claimed = (DeliveryRow, EventRow, Option<(String, String, bool)>);
    let claimed: Vec<Claimed> = on_backend!(tx, |conn| {
        let ids: Vec<String> = diesel::sql_query(claim_statement(conn))
            .bind::<Text, _>(owner)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(at)
            .bind::<Timestamp, _>(at)
            .bind::<BigInt, _>(limit)
            .load::<ClaimedId>(conn)
            .await?
            .into_iter()
            .map(|claimed| claimed.id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        hook_deliveries::table
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
            .await?
    });
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
                event: stored_event(event)?,
            })
        })
        .collect()
}

/// Records the outcomes of attempts, by delivery id, of the deliveries
/// whose lease `owner` still holds.
pub async fn complete(
    tx: &mut Tx<'_>,
    owner: &str,
    outcomes: &[(String, AttemptOutcome)],
) -> Result<(), StorageError> {
    let at = now();
    for (id, outcome) in outcomes {
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
        on_backend!(tx, |conn| {
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
    }
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
pub async fn next_due(conn: &mut Conn<'_>) -> Result<Option<DateTime<Utc>>, StorageError> {
    let next: NextDue = on_backend!(conn, |conn| diesel::sql_query(NEXT_DUE)
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

/// Where the integration's delivery of event `event_id` stands in its log,
/// to list the ones before it; `None` when it has no such delivery.
pub async fn position(
    conn: &mut Conn<'_>,
    integration_id: &str,
    event_id: &str,
) -> Result<Option<i64>, StorageError> {
    Ok(on_backend!(conn, |conn| {
        hook_deliveries::table
            .inner_join(hook_events::table)
            .filter(hook_deliveries::integration_id.eq(integration_id))
            .filter(hook_events::id.eq(event_id))
            .select(hook_deliveries::event_sequence)
            .first::<i64>(conn)
            .await
            .optional()?
    }))
}

/// Up to `limit` deliveries of an integration before event `before`, newest first.
pub async fn list_for_integration(
    conn: &mut Conn<'_>,
    integration_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeliveryRecord>, StorageError> {
    let rows: Vec<(DeliveryRow, EventRow)> = on_backend!(conn, |conn| {
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
    conn: &mut Conn<'_>,
    integration_id: &str,
) -> Result<i64, StorageError> {
    Ok(on_backend!(conn, |conn| {
        hook_deliveries::table
            .filter(hook_deliveries::integration_id.eq(integration_id))
            .count()
            .get_result::<i64>(conn)
            .await?
    }))
}

/// An integration's delivery of an event, if there is one.
pub async fn find_for_integration(
    conn: &mut Conn<'_>,
    integration_id: &str,
    event_id: &str,
) -> Result<Option<DeliveryRecord>, StorageError> {
    let row: Option<(DeliveryRow, EventRow)> = on_backend!(conn, |conn| {
        hook_deliveries::table
            .inner_join(hook_events::table)
            .filter(hook_deliveries::integration_id.eq(integration_id))
            .filter(hook_events::id.eq(event_id))
            .select((DeliveryRow::as_select(), EventRow::as_select()))
            .first::<(DeliveryRow, EventRow)>(conn)
            .await
            .optional()?
    });
    row.map(|(delivery, event)| record_from(delivery, event))
        .transpose()
}

/// Schedules an integration's delivery of the event with `event_sequence`
/// again, from its first attempt.
pub async fn reschedule(
    tx: &mut Tx<'_>,
    integration_id: &str,
    event_sequence: i64,
) -> Result<(), StorageError> {
    let at = now();
    on_backend!(tx, |conn| {
        diesel::update(
            hook_deliveries::table
                .filter(hook_deliveries::integration_id.eq(integration_id))
                .filter(hook_deliveries::event_sequence.eq(event_sequence)),
        )
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
    });
    tx.deliveries_due();
    Ok(())
}

/// How many deliveries are in each status, over all processes.
pub async fn count_by_status(
    conn: &mut Conn<'_>,
) -> Result<Vec<(DeliveryStatus, i64)>, StorageError> {
    let rows: Vec<(String, i64)> = on_backend!(conn, |conn| {
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
