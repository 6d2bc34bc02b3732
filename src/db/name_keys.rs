//! Fills the `name_key` column (migration 2026-12-02-000010) of rows written
//! before it existed, or by an older server during a rolling upgrade. The
//! key is `domain::name_key`, which SQL cannot compute on both backends.
//!
//! Rows are taken oldest first. Older rows may already hold two names that
//! the key now counts as one ("Shop" and "SHOP"): the oldest keeps the key,
//! and a later one gets a key no name can have (its id after a control
//! character), so existing data stays as it was and new names are checked.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::{client_keys, mini_programs, release_integrations};
use super::{Database, StorageError};
use crate::domain::name_key;

/// Names may not hold control characters, so no real key contains it.
const APART: char = '\u{1}';

macro_rules! fill_table {
    ($db:expr, $table:ident) => {{
        let rows: Vec<(String, String)> = $db
            .read(async |conn| {
                Ok::<_, StorageError>(on_backend!(conn, |conn| {
                    $table::table
                        .filter($table::name_key.is_null())
                        .order(($table::created_at.asc(), $table::id.asc()))
                        .select(($table::id, $table::name))
                        .load(conn)
                        .await?
                }))
            })
            .await?;
        let filled = rows.len();
        for (id, name) in rows {
            let key = name_key(&name);
            let set = |key: String| {
                let id = id.clone();
                async move |tx: &mut super::Tx<'_>| {
                    on_backend!(tx, |conn| {
                        diesel::update(
                            $table::table
                                .filter($table::id.eq(&id))
                                .filter($table::name_key.is_null()),
                        )
                        .set($table::name_key.eq(&key))
                        .execute(conn)
                        .await?
                    });
                    Ok::<_, StorageError>(())
                }
            };
            match $db.write(set(key.clone())).await {
                Ok(committed) => committed.owing_nothing(),
                Err(error) if error.is_unique_violation() => {
                    let apart = format!("{key}{APART}{id}");
                    $db.write(set(apart)).await?.owing_nothing();
                }
                Err(error) => return Err(error),
            }
        }
        filled
    }};
}

/// Fills every missing key; answers how many rows it filled.
pub(super) async fn fill_missing(db: &Database) -> Result<usize, StorageError> {
    let programs = fill_table!(db, mini_programs);
    let integrations = fill_table!(db, release_integrations);
    let keys = fill_table!(db, client_keys);
    Ok(programs + integrations + keys)
}
