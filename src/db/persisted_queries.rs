//! The `persisted_queries` table: GraphQL documents by the SHA-256 of their
//! text. A hash names one document forever; documents nobody used for a
//! while are removed.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::now;
use super::schema::persisted_queries;
use super::{Conn, StorageError, Tx};

pub async fn find(conn: &mut Conn<'_>, hash: &str) -> Result<Option<String>, StorageError> {
    Ok(on_backend!(conn, |conn| {
        persisted_queries::table
            .find(hash)
            .select(persisted_queries::document)
            .first(conn)
            .await
            .optional()?
    }))
}

/// Keeps `document` under `hash`, used now; a document registered before
/// stays as it is.
pub async fn save(tx: &mut Tx<'_>, hash: &str, document: &str) -> Result<(), StorageError> {
    on_backend!(tx, |conn| {
        diesel::insert_into(persisted_queries::table)
            .values((
                persisted_queries::hash.eq(hash),
                persisted_queries::document.eq(document),
                persisted_queries::created_at.eq(now()),
                persisted_queries::last_used_at.eq(now()),
            ))
            .on_conflict(persisted_queries::hash)
            .do_update()
            .set(persisted_queries::last_used_at.eq(now()))
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Notes that the document under `hash` was used now.
pub async fn touch(tx: &mut Tx<'_>, hash: &str) -> Result<(), StorageError> {
    on_backend!(tx, |conn| {
        diesel::update(persisted_queries::table.find(hash))
            .set(persisted_queries::last_used_at.eq(now()))
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// Removes the documents last used before `before`.
pub async fn remove_unused(
    tx: &mut Tx<'_>,
    before: chrono::NaiveDateTime,
) -> Result<usize, StorageError> {
    Ok(on_backend!(tx, |conn| {
        diesel::delete(persisted_queries::table.filter(persisted_queries::last_used_at.lt(before)))
            .execute(conn)
            .await?
    }))
}
