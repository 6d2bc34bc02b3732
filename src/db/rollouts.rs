//! The `rollouts` table: rollout plans, and the leases under which one
//! process at a time applies a plan's due step.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::rows::{RolloutRow, now, utc};
use super::schema::rollouts;
use super::{Conn, StorageError, Tx};
use crate::domain::{Rollout, RolloutStatus};

const IN_FORCE: [&str; 2] = ["RUNNING", "PAUSED"];

pub async fn insert(tx: &mut Tx<'_>, rollout: &Rollout) -> Result<(), StorageError> {
    let row = RolloutRow::of(rollout)?;
    on_backend!(tx, |conn| {
        diesel::insert_into(rollouts::table)
            .values(&row)
            .execute(conn)
            .await?;
    });
    tx.schedule_changed();
    Ok(())
}

/// Writes the plan as it now is, and gives up any lease on it.
pub async fn save(tx: &mut Tx<'_>, rollout: &Rollout) -> Result<(), StorageError> {
    let row = RolloutRow::of(rollout)?;
    on_backend!(tx, |conn| {
        diesel::update(rollouts::table.find(&rollout.id))
            .set((
                &row,
                rollouts::lease_owner.eq(None::<String>),
                rollouts::lease_expires_at.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn)
            .await?;
    });
    tx.schedule_changed();
    Ok(())
}

/// The plan in force (RUNNING or PAUSED) of each of `version_ids` that has one.
pub async fn in_force(
    conn: &mut Conn<'_>,
    version_ids: &[&str],
) -> Result<Vec<Rollout>, StorageError> {
    let rows: Vec<RolloutRow> = on_backend!(conn, |conn| {
        rollouts::table
            .filter(rollouts::version_id.eq_any(version_ids))
            .filter(rollouts::status.eq_any(IN_FORCE))
            .select(RolloutRow::as_select())
            .load(conn)
            .await?
    });
    rows.into_iter().map(Rollout::try_from).collect()
}

/// The latest plan of each of `version_ids` that has one.
pub async fn latest(
    conn: &mut Conn<'_>,
    version_ids: &[&str],
) -> Result<Vec<Rollout>, StorageError> {
    let rows: Vec<RolloutRow> = on_backend!(conn, |conn| {
        rollouts::table
            .filter(rollouts::version_id.eq_any(version_ids))
            .order((
                rollouts::version_id.asc(),
                rollouts::created_at.desc(),
                rollouts::id.desc(),
            ))
            .select(RolloutRow::as_select())
            .load(conn)
            .await?
    });
    let mut latest: Vec<Rollout> = Vec::new();
    for row in rows {
        if latest
            .last()
            .is_none_or(|last| last.version_id != row.version_id)
        {
            latest.push(Rollout::try_from(row)?);
        }
    }
    Ok(latest)
}

leased_work!(
    rollouts,
    lock_due_rollouts,
    RolloutRow,
    Rollout,
    "running plans whose next step"
);

/// When the next step of any running plan that no process holds is due.
pub async fn next_due(conn: &mut Conn<'_>) -> Result<Option<DateTime<Utc>>, StorageError> {
    let running = RolloutStatus::Running.as_str();
    let at = now();
    let due: Option<chrono::NaiveDateTime> = on_backend!(conn, |conn| {
        rollouts::table
            .filter(rollouts::status.eq(running))
            .filter(
                rollouts::lease_expires_at
                    .is_null()
                    .or(rollouts::lease_expires_at.le(at)),
            )
            .select(diesel::dsl::min(rollouts::next_advance_at))
            .first(conn)
            .await?
    });
    Ok(due.map(utc))
}
