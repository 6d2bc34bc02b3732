//! The `release_integrations` table: a workspace's webhook receivers.

use diesel::prelude::*;
use diesel::result::QueryResult;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::audit_log;
use super::rows::{IntegrationRow, join_event_types, new_id, now};
use super::schema::release_integrations;
use super::{Database, SqliteConnection, StorageError};
use crate::domain::{AuditContext, EventType, ReleaseIntegration};

pub struct NewIntegration {
    pub workspace_id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: String,
}

/// Fields to change; `None` keeps the current value.
#[derive(Default)]
pub struct IntegrationUpdate {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub active: Option<bool>,
    pub secret: Option<String>,
}

pub async fn insert(
    db: &Database,
    integration: NewIntegration,
    audit: &AuditContext,
) -> Result<ReleaseIntegration, StorageError> {
    let at = now();
    let row = IntegrationRow {
        id: new_id(),
        workspace_id: integration.workspace_id,
        name: integration.name,
        url: integration.url,
        events: join_event_types(&integration.events),
        active: true,
        secret: integration.secret,
        created_at: at,
        updated_at: at,
    };
    let integration = ReleaseIntegration::try_from(row.clone())?;
    in_write_transaction!(db, |conn| {
        diesel::insert_into(release_integrations::table)
            .values(&row)
            .execute(conn)
            .await?;
        audit_log::record(conn, audit, None, Some(&integration)).await
    })?;
    Ok(integration)
}

pub async fn list(
    db: &Database,
    workspace_id: &str,
) -> Result<Vec<ReleaseIntegration>, StorageError> {
    let rows: Vec<IntegrationRow> = with_connection!(db, |conn| {
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
    db: &Database,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ReleaseIntegration>, StorageError> {
    let row: Option<IntegrationRow> = with_connection!(db, |conn| {
        of_workspace(workspace_id, id)
            .select(IntegrationRow::as_select())
            .first(conn)
            .await
            .optional()?
    });
    row.map(ReleaseIntegration::try_from).transpose()
}

/// Applies `update`; `None` when the workspace has no such integration.
pub async fn update(
    db: &Database,
    workspace_id: &str,
    id: &str,
    update: IntegrationUpdate,
    audit: &AuditContext,
) -> Result<Option<ReleaseIntegration>, StorageError> {
    let events = update.events.as_deref().map(join_event_types);
    in_write_transaction!(db, |conn| {
        let Some(before) = conn.lock_integration(workspace_id, id).await? else {
            return Ok(None);
        };
        let before = ReleaseIntegration::try_from(before)?;
        let row = diesel::update(release_integrations::table.find(id))
            .set((
                update
                    .name
                    .as_ref()
                    .map(|name| release_integrations::name.eq(name)),
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
            .await?;
        let after = ReleaseIntegration::try_from(row)?;
        audit_log::record(conn, audit, Some(&before), Some(&after)).await?;
        Ok(Some(after))
    })
}

/// Deletes an integration with its delivery log; whether there was one.
pub async fn delete(
    db: &Database,
    workspace_id: &str,
    id: &str,
    audit: &AuditContext,
) -> Result<bool, StorageError> {
    in_write_transaction!(db, |conn| {
        let Some(before) = conn.lock_integration(workspace_id, id).await? else {
            return Ok(false);
        };
        let before = ReleaseIntegration::try_from(before)?;
        diesel::delete(release_integrations::table.find(id))
            .execute(conn)
            .await?;
        audit_log::record::<_, ReleaseIntegration>(conn, audit, Some(&before), None).await?;
        Ok(true)
    })
}

/// Reads an integration for a write whose audit record shows it as it was.
trait LockIntegration {
    fn lock_integration(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> impl Future<Output = QueryResult<Option<IntegrationRow>>> + Send;
}

#[diesel::dsl::auto_type]
fn of_workspace<'a>(workspace_id: &'a str, id: &'a str) -> _ {
    release_integrations::table
        .filter(release_integrations::id.eq(id))
        .filter(release_integrations::workspace_id.eq(workspace_id))
}

impl LockIntegration for AsyncPgConnection {
    async fn lock_integration(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<IntegrationRow>> {
        of_workspace(workspace_id, id)
            .select(IntegrationRow::as_select())
            .for_update()
            .first(self)
            .await
            .optional()
    }
}

impl LockIntegration for SqliteConnection {
    /// The `IMMEDIATE` transaction already holds the database's write lock.
    async fn lock_integration(
        &mut self,
        workspace_id: &str,
        id: &str,
    ) -> QueryResult<Option<IntegrationRow>> {
        of_workspace(workspace_id, id)
            .select(IntegrationRow::as_select())
            .first(self)
            .await
            .optional()
    }
}
