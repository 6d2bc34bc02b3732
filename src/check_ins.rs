//! Device check-ins, counted at the launch endpoint's speed: each launch
//! answer adds to this process's tally in memory (no SQL on the launch
//! path), and a flusher adds the tally to the database every
//! `CHECKIN_FLUSH_SECONDS` and at a graceful stop. Counts are increments
//! and sketches merge, so processes add up; a process that crashes loses
//! at most the check-ins since its last flush.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::oneshot;

use crate::db::{Committed, Database, StorageError, check_ins};
use crate::domain::{CheckInKind, DeviceHash, DeviceSketch, LaunchDecision, LaunchRequest};
use crate::sync::lock;

/// How often old hours are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Tally {
    check_ins: u64,
    devices: DeviceSketch,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.check_ins += other.check_ins;
        self.devices.merge(&other.devices);
    }
}

/// Per program, per kind of check-in.
type Tallies = HashMap<String, HashMap<CheckInKind, Tally>>;

/// This process's check-ins since its last flush.
pub struct CheckIns {
    counting: bool,
    pending: Mutex<Tallies>,
}

impl CheckIns {
    /// `counting` off: `count` does nothing.
    pub fn new(counting: bool) -> Self {
        Self {
            counting,
            pending: Mutex::default(),
        }
    }

    /// Counts one launch answer of the program.
    pub fn count(&self, mini_program_id: &str, request: &LaunchRequest, decision: &LaunchDecision) {
        self.count_at(Utc::now(), mini_program_id, request, decision);
    }

    /// Counts one launch answer given at `at` (the demo's past answers).
    pub fn count_at(
        &self,
        at: DateTime<Utc>,
        mini_program_id: &str,
        request: &LaunchRequest,
        decision: &LaunchDecision,
    ) {
        if !self.counting {
            return;
        }
        let kind = CheckInKind::of(request, decision, at);
        let device = DeviceHash::of(mini_program_id, &request.device_id);
        let mut pending = lock(&self.pending);
        // Looked up by reference first: the id is copied once per flush
        // interval, not once per answer.
        let program = if let Some(program) = pending.get_mut(mini_program_id) {
            program
        } else {
            pending.entry(mini_program_id.to_owned()).or_default()
        };
        let tally = program.entry(kind).or_default();
        tally.check_ins += 1;
        tally.devices.insert(device);
    }

    /// Adds everything counted so far to the database; returns the number
    /// of check-ins added. What cannot be written is kept for the next
    /// flush.
    pub async fn flush(&self, db: &Database) -> Result<u64, StorageError> {
        let taken = std::mem::take(&mut *lock(&self.pending));
        if taken.is_empty() {
            return Ok(0);
        }
        let mut rows: Vec<(&String, &CheckInKind, &Tally)> = taken
            .iter()
            .flat_map(|(program, kinds)| {
                kinds
                    .iter()
                    .map(move |(kind, tally)| (program, kind, tally))
            })
            .collect();
        // One order for every process: concurrent flushes lock rows in turn.
        rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let written = db
            .write(async |tx| {
                for (program, kind, tally) in &rows {
                    check_ins::add(tx, program, kind, tally.check_ins, &tally.devices).await?;
                }
                Ok::<_, StorageError>(())
            })
            .await;
        match written.map(Committed::owing_nothing) {
            Ok(()) => Ok(rows.iter().map(|(_, _, tally)| tally.check_ins).sum()),
            Err(error) => {
                self.put_back(taken);
                Err(error)
            }
        }
    }

    fn put_back(&self, taken: Tallies) {
        let mut pending = lock(&self.pending);
        for (program, kinds) in taken {
            let into = pending.entry(program).or_default();
            for (kind, tally) in kinds {
                into.entry(kind).or_default().add(&tally);
            }
        }
    }
}

/// Flushes a process's check-ins on a schedule and deletes hours past the
/// retention, until told to stop, then flushes once more.
pub struct Flusher {
    pub check_ins: Arc<CheckIns>,
    pub db: Database,
    pub every: Duration,
    pub retention_days: u32,
}

impl Flusher {
    pub async fn run(self, mut stop: oneshot::Receiver<()>) {
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(self.every) => false,
                _ = &mut stop => true,
            };
            self.flush().await;
            if stopping {
                return;
            }
            if tokio::time::Instant::now() >= next_prune {
                self.prune().await;
                next_prune += PRUNE_EVERY;
            }
        }
    }

    async fn flush(&self) {
        match self.check_ins.flush(&self.db).await {
            Ok(0) => {}
            Ok(added) => tracing::debug!(added, "flushed check-ins"),
            Err(error) => tracing::warn!(%error, "cannot flush check-ins; kept for the next flush"),
        }
    }

    /// Deleting is the same in every process, so any of them may do it.
    async fn prune(&self) {
        let first_kept =
            crate::domain::hour_of(Utc::now()) - TimeDelta::days(i64::from(self.retention_days));
        let deleted = self
            .db
            .write(async |tx| check_ins::delete_before(tx, first_kept).await)
            .await
            .map(Committed::owing_nothing);
        match deleted {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "deleted check-ins past their retention"),
            Err(error) => tracing::warn!(%error, "cannot delete old check-ins"),
        }
    }
}
