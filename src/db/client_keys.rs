//! The `client_keys` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::audit_log;
use super::launch_policies::{PolicyChange, PolicySignal};
use super::rows::{new_id, now, utc};
use super::schema::client_keys;
use super::{Database, StorageError};
use crate::domain::{AuditContext, ClientKey};

type KeyColumns = (String, String, String, NaiveDateTime, Option<NaiveDateTime>);

fn key_from((id, workspace_id, name, created_at, revoked_at): KeyColumns) -> ClientKey {
    ClientKey {
        id,
        workspace_id,
        name,
        created_at: utc(created_at),
        revoked_at: revoked_at.map(utc),
    }
}

macro_rules! key_columns {
    () => {
        (
            client_keys::id,
            client_keys::workspace_id,
            client_keys::name,
            client_keys::created_at,
            client_keys::revoked_at,
        )
    };
}

pub async fn insert(
    db: &Database,
    workspace_id: &str,
    name: &str,
    key_hash: &str,
    audit: &AuditContext,
) -> Result<ClientKey, StorageError> {
    let (id, created_at) = (new_id(), now());
    let key = key_from((
        id.clone(),
        workspace_id.to_owned(),
        name.to_owned(),
        created_at,
        None,
    ));
    in_write_transaction!(db, |conn| {
        diesel::insert_into(client_keys::table)
            .values((
                client_keys::id.eq(&id),
                client_keys::workspace_id.eq(workspace_id),
                client_keys::name.eq(name),
                client_keys::key_hash.eq(key_hash),
                client_keys::created_at.eq(created_at),
            ))
            .execute(conn)
            .await?;
        conn.policy_changed(&PolicyChange::ClientKeys).await?;
        audit_log::record(conn, audit, None, Some(&key)).await
    })?;
    Ok(key)
}

pub async fn list(db: &Database, workspace_id: &str) -> Result<Vec<ClientKey>, StorageError> {
    let rows: Vec<KeyColumns> = with_connection!(db, |conn| {
        client_keys::table
            .filter(client_keys::workspace_id.eq(workspace_id))
            .order((client_keys::created_at.asc(), client_keys::id.asc()))
            .select(key_columns!())
            .load(conn)
            .await?
    });
    Ok(rows.into_iter().map(key_from).collect())
}

/// Revokes a key (again, harmlessly, if it already is); `None` when the
/// workspace has no such key.
pub async fn revoke(
    db: &Database,
    workspace_id: &str,
    id: &str,
    audit: &AuditContext,
) -> Result<Option<ClientKey>, StorageError> {
    let at = now();
    in_write_transaction!(db, |conn| {
        let target = client_keys::table
            .filter(client_keys::id.eq(id))
            .filter(client_keys::workspace_id.eq(workspace_id));
        let Some(before) = target
            .select(key_columns!())
            .first(conn)
            .await
            .optional()?
            .map(key_from)
        else {
            return Ok(None);
        };
        diesel::update(target.filter(client_keys::revoked_at.is_null()))
            .set(client_keys::revoked_at.eq(at))
            .execute(conn)
            .await?;
        conn.policy_changed(&PolicyChange::ClientKeys).await?;
        let after = key_from(target.select(key_columns!()).first(conn).await?);
        audit_log::record(conn, audit, Some(&before), Some(&after)).await?;
        Ok(Some(after))
    })
}
