//! The `check_in_hours` table: device check-ins per program, hour and kind.
//! Processes add to a row, never overwrite it: the count is incremented in
//! SQL, and the sketch is merged while the increment holds the row's lock.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::{now, parse, utc};
use super::schema::check_in_hours as hours;
use super::{Conn, StorageError, Tx};
use crate::domain::{
    CacheAge, CheckInGroup, CheckInKind, DeviceSketch, LaunchAction, VersionNumber,
};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = hours, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct CheckInRow {
    mini_program_id: String,
    hour: NaiveDateTime,
    cached_version: String,
    action: String,
    gray: bool,
    cache_age: String,
    check_ins: i64,
    devices: Vec<u8>,
    updated_at: NaiveDateTime,
}

/// The stored key of a kind: no cached version is stored as ''.
fn stored_version(kind: &CheckInKind) -> String {
    kind.cached_version
        .map_or_else(String::new, |version| version.to_string())
}

#[diesel::dsl::auto_type]
fn row_of<'a>(mini_program_id: &'a str, kind: &'a CheckInKind, version: &'a str) -> _ {
    let hour: NaiveDateTime = kind.hour.naive_utc();
    let action: &'static str = kind.action.as_str();
    let gray: bool = kind.gray;
    let cache_age: &'static str = kind.cache_age.as_str();
    hours::table
        .filter(hours::mini_program_id.eq(mini_program_id))
        .filter(hours::hour.eq(hour))
        .filter(hours::cached_version.eq(version))
        .filter(hours::action.eq(action))
        .filter(hours::gray.eq(gray))
        .filter(hours::cache_age.eq(cache_age))
}

/// Adds `check_ins` and `devices` to the program's row of `kind`. Callers
/// that add several rows in one transaction add them in key order, so that
/// two processes flushing at once never wait on each other in a circle.
pub async fn add(
    tx: &mut Tx<'_>,
    mini_program_id: &str,
    kind: &CheckInKind,
    check_ins: u64,
    devices: &DeviceSketch,
) -> Result<(), StorageError> {
    let version = stored_version(kind);
    let count = i64::try_from(check_ins).unwrap_or(i64::MAX);
    let at = now();
    let row = CheckInRow {
        mini_program_id: mini_program_id.to_owned(),
        hour: kind.hour.naive_utc(),
        cached_version: version.clone(),
        action: kind.action.as_str().to_owned(),
        gray: kind.gray,
        cache_age: kind.cache_age.as_str().to_owned(),
        check_ins: count,
        devices: devices.to_bytes(),
        updated_at: at,
    };
    let inserted = on_backend!(tx, |conn| {
        diesel::insert_into(hours::table)
            .values(&row)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?
    });
    if inserted == 1 {
        return Ok(());
    }
    // The increment locks the row until the transaction ends, so the
    // sketch read with it is merged and written back by this process alone.
    let stored: Vec<u8> = on_backend!(tx, |conn| {
        diesel::update(row_of(mini_program_id, kind, &version))
            .set((
                hours::check_ins.eq(hours::check_ins + count),
                hours::updated_at.eq(at),
            ))
            .returning(hours::devices)
            .get_result(conn)
            .await?
    });
    let mut merged = stored_sketch(&stored)?;
    merged.merge(devices);
    let bytes = merged.to_bytes();
    on_backend!(tx, |conn| {
        diesel::update(row_of(mini_program_id, kind, &version))
            .set(hours::devices.eq(&bytes))
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// The program's check-ins from `first_hour` on.
pub async fn since(
    conn: &mut Conn<'_>,
    mini_program_id: &str,
    first_hour: DateTime<Utc>,
) -> Result<Vec<CheckInGroup>, StorageError> {
    let first_hour = first_hour.naive_utc();
    let rows: Vec<CheckInRow> = on_backend!(conn, |conn| {
        hours::table
            .filter(hours::mini_program_id.eq(mini_program_id))
            .filter(hours::hour.ge(first_hour))
            .select(CheckInRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter().map(CheckInGroup::try_from).collect()
}

/// Deletes the hours before `first_kept`; returns how many rows went.
pub async fn delete_before(
    tx: &mut Tx<'_>,
    first_kept: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let first_kept = first_kept.naive_utc();
    let deleted = on_backend!(tx, |conn| {
        diesel::delete(hours::table.filter(hours::hour.lt(first_kept)))
            .execute(conn)
            .await?
    });
    Ok(deleted)
}

fn stored_sketch(bytes: &[u8]) -> Result<DeviceSketch, StorageError> {
    DeviceSketch::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        what: "device sketch",
        value: error.to_string(),
    })
}

impl TryFrom<CheckInRow> for CheckInGroup {
    type Error = StorageError;

    fn try_from(row: CheckInRow) -> Result<Self, StorageError> {
        let cached_version = if row.cached_version.is_empty() {
            None
        } else {
            Some(
                VersionNumber::parse(&row.cached_version).map_err(|_| StorageError::Corrupt {
                    what: "cached version",
                    value: row.cached_version.clone(),
                })?,
            )
        };
        Ok(Self {
            kind: CheckInKind {
                hour: utc(row.hour),
                cached_version,
                action: parse("launch action", &row.action, LaunchAction::from_name)?,
                gray: row.gray,
                cache_age: parse("cache age", &row.cache_age, CacheAge::from_name)?,
            },
            check_ins: u64::try_from(row.check_ins).unwrap_or(0),
            devices: stored_sketch(&row.devices)?,
            updated_at: utc(row.updated_at),
        })
    }
}
