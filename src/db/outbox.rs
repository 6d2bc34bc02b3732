//! The outbox: events written in the transaction of the change that caused
//! them, each with one pending delivery per target, so that an acknowledged
//! change always produces its deliveries and a rolled-back one never does.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::hook_events::CHANNEL;
use super::rows::{DeliveryRow, new_id};
use super::schema::{hook_deliveries, hook_events, release_integrations};
use super::{SqliteConnection, StorageError};
use crate::domain::{DeliveryStatus, DomainEvent, EventType, RuleViolation};

/// How a write transaction hands its events over before it commits.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    /// Vets the events of a change (a refusal rolls the change back) and
    /// prepares them for the outbox.
    async fn vet(&self, events: Vec<DomainEvent>) -> Result<Vec<OutboxEvent>, RuleViolation>;
}

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

pub(super) fn hook_target(name: &str) -> String {
    format!("hook:{name}")
}

pub(super) fn integration_target(id: &str) -> String {
    format!("integration:{id}")
}

/// Hands a change's events to the sink and records what it accepted, on the
/// change's own transaction; a veto fails the transaction.
pub(super) async fn announce<C: Outbox + Send>(
    conn: &mut C,
    sink: &dyn EventSink,
    events: Vec<DomainEvent>,
) -> Result<(), StorageError> {
    if events.is_empty() {
        return Ok(());
    }
    let vetted = sink.vet(events).await?;
    conn.record(&vetted).await
}

/// Tells live subscribers of every process about an event, once it commits.
trait EventSignal {
    fn event_recorded(&mut self, sequence: i64) -> impl Future<Output = QueryResult<()>> + Send;
}

impl EventSignal for AsyncPgConnection {
    /// NOTIFY is delivered on commit, in commit order, to every listening
    /// process; a rolled-back change sends nothing.
    async fn event_recorded(&mut self, sequence: i64) -> QueryResult<()> {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(sequence.to_string())
            .execute(self)
            .await?;
        Ok(())
    }
}

impl EventSignal for SqliteConnection {
    /// SQLite serves one process, whose feed reads new events after each commit.
    async fn event_recorded(&mut self, _sequence: i64) -> QueryResult<()> {
        Ok(())
    }
}

/// Records events with their deliveries on the transaction's connection.
pub(super) trait Outbox {
    fn record(
        &mut self,
        events: &[OutboxEvent],
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}

impl_for_each_backend! {
    impl Outbox {
        async fn record(&mut self, events: &[OutboxEvent]) -> Result<(), StorageError> {
            for event in events {
                let sequence: i64 = diesel::insert_into(hook_events::table)
                    .values((
                        hook_events::id.eq(&event.id),
                        hook_events::event_type.eq(event.event_type.as_str()),
                        hook_events::workspace_id.eq(&event.workspace_id),
                        hook_events::mini_program_id.eq(&event.mini_program_id),
                        hook_events::occurred_at.eq(event.occurred_at.naive_utc()),
                        hook_events::data.eq(&event.data),
                    ))
                    .returning(hook_events::sequence)
                    .get_result(self)
                    .await?;
                self.event_recorded(sequence).await?;
                // Event type names contain `_`, which LIKE reads as "any one
                // character"; no other type name matches that way.
                let subscribed = format!("%,{},%", event.event_type.as_str());
                let integrations: Vec<String> = release_integrations::table
                    .filter(release_integrations::workspace_id.eq(&event.workspace_id))
                    .filter(release_integrations::active.eq(true))
                    .filter(release_integrations::events.like(subscribed))
                    .select(release_integrations::id)
                    .load(self)
                    .await?;
                let now = event.occurred_at.naive_utc();
                let pending = |target: String, integration_id: Option<String>| DeliveryRow {
                    id: new_id(),
                    event_sequence: sequence,
                    mini_program_id: event.mini_program_id.clone(),
                    target,
                    integration_id,
                    status: DeliveryStatus::Pending.as_str().to_owned(),
                    attempts: 0,
                    next_attempt_at: now,
                    last_error: None,
                    delivered_at: None,
                    lease_owner: None,
                    lease_expires_at: None,
                };
                let deliveries = event
                    .hook_targets
                    .iter()
                    .map(|name| pending(hook_target(name), None))
                    .chain(integrations.into_iter().map(|id| pending(integration_target(&id), Some(id))));
                // One statement per row: SQLite has no DEFAULT keyword for
                // the NULL columns of a multi-row insert.
                for delivery in deliveries {
                    diesel::insert_into(hook_deliveries::table)
                        .values(&delivery)
                        .execute(self)
                        .await?;
                }
            }
            Ok(())
        }
    }
}
