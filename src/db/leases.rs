//! Work that falls due and is done by one process at a time: a table with
//! `id`, `lease_owner` and `lease_expires_at` columns, whose due rows a
//! `Dialect` method finds and locks. `leased_work!` writes the two queries
//! every such table needs, once.

/// Defines `claim_due` (take the lease on due rows) and `claimed` (a row
/// whose lease an owner holds) for `$table`, read as `$row` into `$item`.
macro_rules! leased_work {
    ($table:ident, $lock:ident, $row:ty, $item:ty, $what:literal) => {
        #[doc = concat!("Takes the lease on up to `limit` ", $what, " that are due, for `owner` and the length of `lease`: the ids taken.")]
        pub async fn claim_due(
            tx: &mut $crate::db::Tx<'_>,
            owner: &str,
            lease: std::time::Duration,
            limit: i64,
        ) -> Result<Vec<String>, $crate::db::StorageError> {
            use $crate::db::dialect::Dialect as _;
            let at = $crate::db::rows::now();
            let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
            Ok(on_backend!(tx, |conn| {
                let ids = conn.$lock(at, limit).await?;
                if !ids.is_empty() {
                    diesel::update($table::table.filter($table::id.eq_any(&ids)))
                        .set((
                            $table::lease_owner.eq(owner),
                            $table::lease_expires_at.eq(until),
                        ))
                        .execute(conn)
                        .await?;
                }
                ids
            }))
        }

        #[doc = concat!("One of the ", $what, " whose lease `owner` holds (or held last, if no one took it over).")]
        pub async fn claimed(
            conn: &mut $crate::db::Conn<'_>,
            id: &str,
            owner: &str,
        ) -> Result<Option<$item>, $crate::db::StorageError> {
            let row: Option<$row> = on_backend!(conn, |conn| {
                $table::table
                    .find(id)
                    .filter($table::lease_owner.eq(owner))
                    .select(<$row>::as_select())
                    .first(conn)
                    .await
                    .optional()?
            });
            row.map(<$item>::try_from).transpose()
        }
    };
}
