//! The `release_gates` table: the partner systems a workspace asks before a
//! share of devices changes.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::{GateRow, new_id, now};
use super::schema::release_gates;
use super::{Conn, StorageError, Tx};
use crate::domain::{Name, ReleaseGate};

pub struct NewGate {
    pub workspace_id: String,
    pub name: Name,
    pub url: String,
    pub secret: String,
}

/// A gate with the secret its checks are signed with.
pub struct GateWithSecret {
    pub gate: ReleaseGate,
    pub secret: String,
}

pub async fn insert(tx: &mut Tx<'_>, gate: NewGate) -> Result<ReleaseGate, StorageError> {
    let row = GateRow {
        id: new_id(),
        workspace_id: gate.workspace_id,
        name: gate.name.text,
        name_key: gate.name.key,
        url: gate.url,
        active: true,
        secret: gate.secret,
        created_at: now(),
    };
    on_backend!(tx, |conn| {
        diesel::insert_into(release_gates::table)
            .values(&row)
            .execute(conn)
            .await?;
    });
    Ok(ReleaseGate::from(row))
}

/// The workspace's gates, oldest first.
pub async fn list(
    conn: &mut Conn<'_>,
    workspace_id: &str,
) -> Result<Vec<ReleaseGate>, StorageError> {
    Ok(with_secrets(conn, workspace_id)
        .await?
        .into_iter()
        .map(|gate| gate.gate)
        .collect())
}

/// The workspace's active gates with their secrets, oldest first: the
/// ones a change of a share asks.
pub async fn active(
    conn: &mut Conn<'_>,
    workspace_id: &str,
) -> Result<Vec<GateWithSecret>, StorageError> {
    let mut gates = with_secrets(conn, workspace_id).await?;
    gates.retain(|gate| gate.gate.active);
    Ok(gates)
}

async fn with_secrets(
    conn: &mut Conn<'_>,
    workspace_id: &str,
) -> Result<Vec<GateWithSecret>, StorageError> {
    let rows: Vec<GateRow> = on_backend!(conn, |conn| {
        release_gates::table
            .filter(release_gates::workspace_id.eq(workspace_id))
            .order((release_gates::created_at.asc(), release_gates::id.asc()))
            .select(GateRow::as_select())
            .load(conn)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|row| GateWithSecret {
            secret: row.secret.clone(),
            gate: ReleaseGate::from(row),
        })
        .collect())
}

/// Deletes a gate of the workspace; what it was, if there was one.
pub async fn delete(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ReleaseGate>, StorageError> {
    let deleted: Option<GateRow> = on_backend!(tx, |conn| {
        diesel::delete(
            release_gates::table
                .filter(release_gates::id.eq(id))
                .filter(release_gates::workspace_id.eq(workspace_id)),
        )
        .returning(GateRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
    });
    Ok(deleted.map(ReleaseGate::from))
}
