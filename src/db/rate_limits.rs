//! The `mutation_rate_windows` table: how many mutations each principal made
//! in each minute, counted in the database so that every process sees the
//! same count.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::schema::mutation_rate_windows;
use super::{Conn, StorageError, Tx};

/// Counts one more mutation of `principal` in the minute starting at
/// `window_start`, and returns the minute's count so far.
pub async fn count_mutation(
    tx: &mut Tx<'_>,
    principal: &str,
    window_start: DateTime<Utc>,
) -> Result<i32, StorageError> {
    let window_start = window_start.naive_utc();
    let count: i32 = on_backend!(tx, |conn| {
        diesel::insert_into(mutation_rate_windows::table)
            .values((
                mutation_rate_windows::principal.eq(principal),
                mutation_rate_windows::window_start.eq(window_start),
                mutation_rate_windows::count.eq(1),
            ))
            .on_conflict((
                mutation_rate_windows::principal,
                mutation_rate_windows::window_start,
            ))
            .do_update()
            .set(mutation_rate_windows::count.eq(mutation_rate_windows::count + 1))
            .returning(mutation_rate_windows::count)
            .get_result(conn)
            .await?
    });
    if count == 1 {
        // A principal's first mutation of a minute clears out old minutes,
        // so the table holds about one row per active principal.
        let expired = window_start - chrono::Duration::minutes(2);
        on_backend!(tx, |conn| {
            diesel::delete(
                mutation_rate_windows::table
                    .filter(mutation_rate_windows::window_start.lt(expired)),
            )
            .execute(conn)
            .await?;
        });
    }
    Ok(count)
}

/// How many mutations `principal` made in the minute starting at
/// `window_start` (0 when none, or when that minute was cleared out).
pub async fn count_in(
    conn: &mut Conn<'_>,
    principal: &str,
    window_start: DateTime<Utc>,
) -> Result<i32, StorageError> {
    let window_start = window_start.naive_utc();
    let count: Option<i32> = on_backend!(conn, |conn| {
        mutation_rate_windows::table
            .filter(mutation_rate_windows::principal.eq(principal))
            .filter(mutation_rate_windows::window_start.eq(window_start))
            .select(mutation_rate_windows::count)
            .first(conn)
            .await
            .optional()?
    });
    Ok(count.unwrap_or(0))
}
