//! The `client_keys` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::{new_id, now, utc};
use super::schema::client_keys;
use super::{Conn, StorageError, Tx};
use crate::domain::{ClientKey, Name};

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
    tx: &mut Tx<'_>,
    workspace_id: &str,
    name: &Name,
    key_hash: &str,
) -> Result<ClientKey, StorageError> {
    let (id, created_at) = (new_id(), now());
    on_backend!(tx, |conn| {
        diesel::insert_into(client_keys::table)
            .values((
                client_keys::id.eq(&id),
                client_keys::workspace_id.eq(workspace_id),
                client_keys::name.eq(&name.text),
                client_keys::name_key.eq(&name.key),
                client_keys::key_hash.eq(key_hash),
                client_keys::created_at.eq(created_at),
            ))
            .execute(conn)
            .await?;
    });
    Ok(key_from((
        id,
        workspace_id.to_owned(),
        name.text.clone(),
        created_at,
        None,
    )))
}

pub async fn list(conn: &mut Conn<'_>, workspace_id: &str) -> Result<Vec<ClientKey>, StorageError> {
    let rows: Vec<KeyColumns> = on_backend!(conn, |conn| {
        client_keys::table
            .filter(client_keys::workspace_id.eq(workspace_id))
            .order((client_keys::created_at.asc(), client_keys::id.asc()))
            .select(key_columns!())
            .load(conn)
            .await?
    });
    Ok(rows.into_iter().map(key_from).collect())
}

pub async fn find(
    conn: &mut Conn<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ClientKey>, StorageError> {
    let row: Option<KeyColumns> = on_backend!(conn, |conn| {
        client_keys::table
            .filter(client_keys::id.eq(id))
            .filter(client_keys::workspace_id.eq(workspace_id))
            .select(key_columns!())
            .first(conn)
            .await
            .optional()?
    });
    Ok(row.map(key_from))
}

/// Revokes a key, unless it already is.
pub async fn revoke(tx: &mut Tx<'_>, key: &ClientKey) -> Result<ClientKey, StorageError> {
    let at = now();
    let row: KeyColumns = on_backend!(tx, |conn| {
        let target = client_keys::table.filter(client_keys::id.eq(&key.id));
        diesel::update(target.filter(client_keys::revoked_at.is_null()))
            .set(client_keys::revoked_at.eq(at))
            .execute(conn)
            .await?;
        target.select(key_columns!()).first(conn).await?
    });
    Ok(key_from(row))
}
