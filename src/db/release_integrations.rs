//! The `release_integrations` table: a workspace's webhook receivers.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::dialect::Dialect;
use super::rows::{IntegrationRow, join_event_types, new_id, now};
use super::schema::release_integrations;
use super::{Conn, StorageError, Tx};
use crate::domain::{EventType, Name, ReleaseIntegration};

pub struct NewIntegration {
    pub workspace_id: String,
    pub name: Name,
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: String,
}

/// Fields to change; `None` keeps the current value.
#[derive(Default)]
pub struct IntegrationUpdate {
    pub name: Option<Name>,
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub active: Option<bool>,
    pub secret: Option<String>,
}

#[diesel::dsl::auto_type]
fn of_workspace<'a>(workspace_id: &'a str, id: &'a str) -> _ {
    release_integrations::table
        .filter(release_integrations::id.eq(id))
        .filter(release_integrations::workspace_id.eq(workspace_id))
}

pub async fn insert(
    tx: &mut Tx<'_>,
    integration: NewIntegration,
) -> Result<ReleaseIntegration, StorageError> {
    let at = now();
    let row = IntegrationRow {
        id: new_id(),
        workspace_id: integration.workspace_id,
        name: integration.name.text,
        url: integration.url,
        events: join_event_types(&integration.events),
        active: true,
        secret: integration.secret,
        created_at: at,
        updated_at: at,
    };
    on_backend!(tx, |conn| {
        diesel::insert_into(release_integrations::table)
            .values((
                &row,
                release_integrations::name_key.eq(&integration.name.key),
            ))
            .execute(conn)
            .await?;
    });
    ReleaseIntegration::try_from(row)
}

pub async fn list(
    conn: &mut Conn<'_>,
    workspace_id: &str,
) -> Result<Vec<ReleaseIntegration>, StorageError> {
    let rows: Vec<IntegrationRow> = on_backend!(conn, |conn| {
        release_integrations::table
            .filter(release_integrations::workspace_id.eq(workspace_id))
            .order((
                release_integrations::created_at.asc(),
                release_integrations::id.asc(),
            ))
            .select(IntegrationRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter().map(ReleaseIntegration::try_from).collect()
}

pub async fn find(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ReleaseIntegration>, StorageError> {
    let row: Option<IntegrationRow> = on_backend!(conn, |conn| {
        of_workspace(workspace_id, id)
            .select(IntegrationRow::as_select())
            .first(conn)
            .await
            .optional()?
    });
    row.map(ReleaseIntegration::try_from).transpose()
}

/// Reads an integration of the workspace and locks it for the rest of the
/// transaction.
pub async fn lock(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ReleaseIntegration>, StorageError> {
    let row = on_backend!(tx, |conn| conn.lock_integration(workspace_id, id).await?);
    row.map(ReleaseIntegration::try_from).transpose()
}

/// Applies `update` to an integration.
pub async fn update(
    tx: &mut Tx<'_>,
    id: &str,
    update: IntegrationUpdate,
) -> Result<ReleaseIntegration, StorageError> {
    let events = update.events.as_deref().map(join_event_types);
    let row = on_backend!(tx, |conn| {
        diesel::update(release_integrations::table.find(id))
            .set((
                update.name.as_ref().map(|name| {
                    (
                        release_integrations::name.eq(&name.text),
                        release_integrations::name_key.eq(&name.key),
                    )
                }),
                update
                    .url
                    .as_ref()
                    .map(|url| release_integrations::url.eq(url)),
                events
                    .as_ref()
                    .map(|events| release_integrations::events.eq(events)),
                update
                    .active
                    .map(|active| release_integrations::active.eq(active)),
                update
                    .secret
                    .as_ref()
                    .map(|secret| release_integrations::secret.eq(secret)),
                release_integrations::updated_at.eq(now()),
            ))
            .returning(IntegrationRow::as_returning())
            .get_result(conn)
            .await?
    });
    ReleaseIntegration::try_from(row)
}

/// Deletes an integration with its delivery log.
pub async fn delete(tx: &mut Tx<'_>, id: &str) -> Result<(), StorageError> {
    on_backend!(tx, |conn| {
        diesel::delete(release_integrations::table.find(id))
            .execute(conn)
            .await?;
    });
    Ok(())
}
