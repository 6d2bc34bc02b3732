//! The outbox: events written in the transaction of the change that caused
//! them, each with one pending delivery per target, so that an acknowledged
//! change always produces its deliveries and a rolled-back one never does.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::dialect::Dialect;
use super::rows::{DeliveryRow, new_id};
use super::schema::{hook_deliveries, hook_events, release_integrations};
use super::{StorageError, Tx};
use crate::domain::DeliveryStatus;
use crate::hooks::event::{EVENTS_CHANNEL, OutboxEvent};

pub(super) fn hook_target(name: &str) -> String {
    format!("hook:{name}")
}

pub(super) fn integration_target(id: &str) -> String {
    format!("integration:{id}")
}

/// Appends vetted events with their deliveries, on the change's own
/// transaction; each is announced to every process once it commits.
pub async fn append(tx: &mut Tx<'_>, events: &[OutboxEvent]) -> Result<(), StorageError> {
    if events.is_empty() {
        return Ok(());
    }
    on_backend!(tx, |conn| {
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
                .get_result(conn)
                .await?;
            conn.notify(EVENTS_CHANNEL, sequence.to_string()).await?;
            // Event type names contain `_`, which LIKE reads as "any one
            // character"; no other type name matches that way.
            let subscribed = format!("%,{},%", event.event_type.as_str());
            let integrations: Vec<String> = release_integrations::table
                .filter(release_integrations::workspace_id.eq(&event.workspace_id))
                .filter(release_integrations::active.eq(true))
                .filter(release_integrations::events.like(subscribed))
                .select(release_integrations::id)
                .load(conn)
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
                .chain(
                    integrations
                        .into_iter()
                        .map(|id| pending(integration_target(&id), Some(id))),
                );
            // One statement per row: SQLite has no DEFAULT keyword for
            // the NULL columns of a multi-row insert.
            for delivery in deliveries {
                diesel::insert_into(hook_deliveries::table)
                    .values(&delivery)
                    .execute(conn)
                    .await?;
            }
        }
    });
    tx.deliveries_due();
    Ok(())
}
