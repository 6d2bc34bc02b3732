use diesel_async::AsyncMigrationHarness;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DatabaseLocation, SqliteConnection, StorageError, open_sqlite};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Any constant works, as long as every process uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x7570_6461_7465_6d6f; // "updatemo"

pub(super) async fn run_pending(location: &DatabaseLocation) -> Result<Vec<String>, StorageError> {
    match location {
        DatabaseLocation::Sqlite(path) => {
            let conn: SqliteConnection = open_sqlite(path.clone()).await?;
            apply(conn, SQLITE_MIGRATIONS).await.map(|(names, _)| names)
        }
        DatabaseLocation::Postgres(url) => {
            let mut conn = AsyncPgConnection::establish(url).await?;
            // Several processes may start at once against one database: the
            // advisory lock lets one migrate while the others wait, after
            // which they find nothing pending.
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .execute(&mut conn)
                .await?;
            let (names, mut conn) = apply(conn, POSTGRES_MIGRATIONS).await?;
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .execute(&mut conn)
                .await?;
            Ok(names)
        }
    }
}

async fn apply<C>(conn: C, migrations: EmbeddedMigrations) -> Result<(Vec<String>, C), StorageError>
where
    C: AsyncConnection + 'static,
    AsyncMigrationHarness<C>: MigrationHarness<C::Backend>,
{
    // The harness blocks the current worker thread while it runs.
    let mut harness = AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(migrations)
        .map_err(|error| StorageError::Migration(error.to_string()))?
        .into_iter()
        .map(|version| version.to_string())
        .collect();
    Ok((applied, harness.into_inner()))
}
