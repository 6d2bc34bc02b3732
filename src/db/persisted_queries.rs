//! The `persisted_queries` table: GraphQL documents by the SHA-256 of their
//! text. A hash names one document forever, so rows are only ever added.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::now;
use super::schema::persisted_queries;
use super::{Conn, StorageError};

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

/// Keeps `document` under `hash`; a document registered before stays as it is.
pub async fn save(conn: &mut Conn<'_>, hash: &str, document: &str) -> Result<(), StorageError> {
    on_backend!(conn, |conn| {
        diesel::insert_into(persisted_queries::table)
            .values((
                persisted_queries::hash.eq(hash),
                persisted_queries::document.eq(document),
                persisted_queries::created_at.eq(now()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    });
    Ok(())
}
