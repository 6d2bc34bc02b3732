//! Update-mode windows: "SYNC during the campaign weekend, then back to
//! what it was". A window changes the global mode at its start, exactly as
//! `updateMode` does, and changes it back at its end unless someone changed
//! the mode meanwhile.

use chrono::{DateTime, Duration, Utc};

use super::update_mode::program_locks;
use super::{MiniProgram, RuleViolation, UpdateMode, UpdateModeChange};

named_enum! {
    /// Where a window stands.
    pub enum ScheduledChangeStatus {
        /// Waiting for its start.
        Scheduled => "SCHEDULED",
        /// Started, waiting for its end.
        Active => "ACTIVE",
        /// Its change (and revert, if it has an end) applied.
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
        /// Its revert did not apply: the mode was changed during the window.
        Skipped => "SKIPPED",
    }
}

/// A window of a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledUpdateModeChange {
    pub id: String,
    pub mini_program_id: String,
    pub workspace_id: String,
    pub mode: UpdateMode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: ScheduledChangeStatus,
    /// The mode the start replaced, which the end restores.
    pub revert_to: Option<UpdateMode>,
    /// The program's revision right after the start: a later change of the
    /// mode means someone changed it during the window.
    pub started_revision: Option<i32>,
    pub created_by: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The furthest ahead a window may start.
pub const MAX_LEAD_DAYS: i64 = 366;

impl ScheduledUpdateModeChange {
    /// Whether the window still holds its time (SCHEDULED or ACTIVE).
    pub fn pending(&self) -> bool {
        matches!(
            self.status,
            ScheduledChangeStatus::Scheduled | ScheduledChangeStatus::Active
        )
    }

    /// When the scheduler next acts on it: its start, then its end.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            ScheduledChangeStatus::Scheduled => Some(self.starts_at),
            ScheduledChangeStatus::Active => self.ends_at,
            _ => None,
        }
    }

    /// The span it holds: a window without an end holds its instant.
    fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.starts_at, self.ends_at.unwrap_or(self.starts_at))
    }

    /// The window once its start applied: `previous` is the mode it
    /// replaced and `revision` the program's revision after it.
    pub fn started(mut self, previous: UpdateMode, revision: i32) -> Self {
        self.revert_to = Some(previous);
        self.started_revision = Some(revision);
        self.status = if self.ends_at.is_some() {
            ScheduledChangeStatus::Active
        } else {
            ScheduledChangeStatus::Completed
        };
        self
    }

    /// How the window ends, at its end or when an active one is cancelled:
    /// the mode to restore, or why nothing is restored.
    pub fn ending(&self, latest_change: Option<&UpdateModeChange>) -> Ending {
        let changed_meanwhile = latest_change.filter(|change| {
            self.started_revision
                .is_some_and(|started| change.revision > started)
        });
        match (changed_meanwhile, self.revert_to) {
            (Some(change), _) => Ending::Skip(format!(
                "not reverted: {} changed the mode to {} at {}",
                change.changed_by,
                change.mode,
                change.changed_at.to_rfc3339()
            )),
            (None, Some(mode)) => Ending::Revert(mode),
            (None, None) => Ending::Skip("not reverted: the window never started".into()),
        }
    }
}

/// What the end of a window does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Revert(UpdateMode),
    /// Nothing changes; the note says why.
    Skip(String),
}

/// A window as requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedWindow {
    pub mode: UpdateMode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Checks a new window of `program` at `now` against its pending ones.
pub fn plan_window(
    program: &MiniProgram,
    requested: RequestedWindow,
    now: DateTime<Utc>,
    pending: &[ScheduledUpdateModeChange],
) -> Result<(), RuleViolation> {
    let locks = program_locks(program);
    if !locks.is_empty() {
        return Err(RuleViolation::UpdateModeLocked(locks));
    }
    if requested.starts_at <= now {
        return Err(RuleViolation::invalid_input(
            "startsAt",
            "must be in the future",
        ));
    }
    if requested.starts_at > now + Duration::days(MAX_LEAD_DAYS) {
        return Err(RuleViolation::invalid_input(
            "startsAt",
            "must be within a year",
        ));
    }
    if let Some(ends_at) = requested.ends_at
        && ends_at <= requested.starts_at
    {
        return Err(RuleViolation::invalid_input(
            "endsAt",
            "must be after startsAt",
        ));
    }
    let (start, end) = (
        requested.starts_at,
        requested.ends_at.unwrap_or(requested.starts_at),
    );
    if let Some(other) = pending.iter().find(|other| {
        let (other_start, other_end) = other.span();
        other.pending() && start <= other_end && other_start <= end
    }) {
        return Err(RuleViolation::WindowOverlaps {
            id: other.id.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MiniProgramChannel, MiniProgramType};

    fn program(channel: MiniProgramChannel) -> MiniProgram {
        MiniProgram {
            id: "p1".into(),
            workspace_id: "acme".into(),
            name: "Shop".into(),
            program_type: MiniProgramType::Dsl,
            channel,
            update_mode: UpdateMode::Default,
            revision: 4,
            timers: Default::default(),
            minimum_version: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn window(start_in: i64, end_in: Option<i64>, now: DateTime<Utc>) -> ScheduledUpdateModeChange {
        ScheduledUpdateModeChange {
            id: "w1".into(),
            mini_program_id: "p1".into(),
            workspace_id: "acme".into(),
            mode: UpdateMode::Sync,
            starts_at: now + Duration::hours(start_in),
            ends_at: end_in.map(|hours| now + Duration::hours(hours)),
            status: ScheduledChangeStatus::Scheduled,
            revert_to: None,
            started_revision: None,
            created_by: "alice".into(),
            note: None,
            created_at: now,
        }
    }

    fn requested(start_in: i64, end_in: Option<i64>, now: DateTime<Utc>) -> RequestedWindow {
        RequestedWindow {
            mode: UpdateMode::Sync,
            starts_at: now + Duration::hours(start_in),
            ends_at: end_in.map(|hours| now + Duration::hours(hours)),
        }
    }

    #[test]
    fn a_window_starts_ahead_within_a_year_ends_after_it_starts_and_overlaps_nothing() {
        let now = Utc::now();
        let shop = program(MiniProgramChannel::Workspace);
        assert!(plan_window(&shop, requested(1, Some(2), now), now, &[]).is_ok());
        assert!(plan_window(&shop, requested(1, None, now), now, &[]).is_ok());
        for (bad, field) in [
            (requested(0, None, now), "startsAt"),
            (requested(-1, Some(2), now), "startsAt"),
            (requested(24 * 367, None, now), "startsAt"),
            (requested(2, Some(2), now), "endsAt"),
            (requested(2, Some(1), now), "endsAt"),
        ] {
            assert!(
                matches!(plan_window(&shop, bad, now, &[]), Err(RuleViolation::InvalidInput { field: f, .. }) if f == field),
                "{bad:?}"
            );
        }
        let existing = [window(10, Some(20), now)];
        for overlapping in [
            requested(5, Some(10), now),
            requested(15, None, now),
            requested(20, Some(30), now),
            requested(1, Some(40), now),
        ] {
            assert!(
                matches!(
                    plan_window(&shop, overlapping, now, &existing),
                    Err(RuleViolation::WindowOverlaps { .. })
                ),
                "{overlapping:?}"
            );
        }
        assert!(plan_window(&shop, requested(21, Some(30), now), now, &existing).is_ok());
        let mut cancelled = window(10, Some(20), now);
        cancelled.status = ScheduledChangeStatus::Cancelled;
        assert!(plan_window(&shop, requested(15, None, now), now, &[cancelled]).is_ok());
        assert!(matches!(
            plan_window(
                &program(MiniProgramChannel::AlipayPlus),
                requested(1, None, now),
                now,
                &[]
            ),
            Err(RuleViolation::UpdateModeLocked(_))
        ));
    }

    #[test]
    fn the_end_reverts_unless_the_mode_changed_during_the_window() {
        let now = Utc::now();
        let started = window(1, Some(2), now).started(UpdateMode::Async, 5);
        assert_eq!(started.status, ScheduledChangeStatus::Active);
        assert_eq!(started.due_at(), started.ends_at);
        let own = UpdateModeChange {
            mini_program_id: "p1".into(),
            previous_mode: UpdateMode::Async,
            mode: UpdateMode::Sync,
            changed_by: "alice".into(),
            changed_at: now,
            revision: 5,
        };
        assert_eq!(
            started.ending(Some(&own)),
            Ending::Revert(UpdateMode::Async)
        );
        let later = UpdateModeChange {
            revision: 7,
            changed_by: "bob".into(),
            mode: UpdateMode::Default,
            ..own
        };
        match started.ending(Some(&later)) {
            Ending::Skip(note) => {
                assert!(note.contains("bob") && note.contains("DEFAULT"), "{note}")
            }
            other => panic!("{other:?}"),
        }
        let once = window(1, None, now).started(UpdateMode::Async, 5);
        assert_eq!(once.status, ScheduledChangeStatus::Completed);
        assert_eq!(once.due_at(), None);
    }
}
