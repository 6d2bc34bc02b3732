use chrono::{DateTime, Utc};

use super::{
    MiniProgram, MiniProgramChannel, MiniProgramType, MiniProgramVersion, Principal, RuleViolation,
};

named_enum! {
    /// What the super app does at a cold start when a newer version may exist.
    pub enum UpdateMode {
        Default => "DEFAULT",
        Async => "ASYNC",
        Sync => "SYNC",
    }
}

named_enum! {
    /// Where the update mode shown on a version comes from.
    pub enum UpdateModeSource {
        /// Not yet submitted: the version will execute the program's global mode.
        Pending => "PENDING",
        /// Fixed when the version was submitted for release approval.
        Released => "RELEASED",
    }
}

named_enum! {
    /// A reason why the update mode of a program cannot be changed by someone.
    pub enum UpdateModeLock {
        NotAdmin => "NOT_ADMIN",
        NotDsl => "NOT_DSL",
        AlipayPlusChannel => "ALIPAY_PLUS_CHANNEL",
    }
}

/// One accepted change of a program's global update mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateModeChange {
    pub mini_program_id: String,
    pub previous_mode: UpdateMode,
    pub mode: UpdateMode,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    /// The program's revision that this change produced.
    pub revision: i32,
}

/// Every reason the principal may not change the program's update mode;
/// empty when it may.
pub fn update_mode_locks(principal: &Principal, program: &MiniProgram) -> Vec<UpdateModeLock> {
    let mut locks = Vec::new();
    if !principal.may_change_update_mode() {
        locks.push(UpdateModeLock::NotAdmin);
    }
    locks.extend(program_locks(program));
    locks
}

/// The locks that come from the program itself, whoever asks.
pub(super) fn program_locks(program: &MiniProgram) -> Vec<UpdateModeLock> {
    let mut locks = Vec::new();
    if program.program_type != MiniProgramType::Dsl {
        locks.push(UpdateModeLock::NotDsl);
    }
    if program.channel == MiniProgramChannel::AlipayPlus {
        locks.push(UpdateModeLock::AlipayPlusChannel);
    }
    locks
}

/// What a change of the global update mode did, read in its transaction.
#[derive(Debug, Clone)]
pub struct UpdateModeOutcome {
    pub program: MiniProgram,
    pub decision: UpdateModeDecision,
    /// The program's New Version Created versions, which execute the mode now.
    pub affected_versions: Vec<MiniProgramVersion>,
}

/// What to do with a request to set the global update mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateModeDecision {
    /// The program already has this mode: nothing is written.
    Unchanged,
    /// Store the new mode at the next revision and record the change.
    Change {
        previous_mode: UpdateMode,
        mode: UpdateMode,
        revision: i32,
    },
}

/// Decides a change of the global update mode of `program`, whose state was
/// read under the lock that the change will be written with. The caller has
/// already checked that the principal is a workspace admin.
pub fn decide_update_mode_change(
    program: &MiniProgram,
    mode: UpdateMode,
    expected_revision: Option<i32>,
) -> Result<UpdateModeDecision, RuleViolation> {
    let locks = program_locks(program);
    if !locks.is_empty() {
        return Err(RuleViolation::UpdateModeLocked(locks));
    }
    if let Some(expected) = expected_revision
        && expected != program.revision
    {
        return Err(RuleViolation::StaleRevision {
            expected,
            current: program.revision,
        });
    }
    if program.update_mode == mode {
        return Ok(UpdateModeDecision::Unchanged);
    }
    Ok(UpdateModeDecision::Change {
        previous_mode: program.update_mode,
        mode,
        revision: program.revision + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::domain::principal::principal_with;

    fn program(program_type: MiniProgramType, channel: MiniProgramChannel) -> MiniProgram {
        let now = Utc::now();
        MiniProgram {
            id: "p1".into(),
            workspace_id: "acme".into(),
            name: "Shop".into(),
            program_type,
            channel,
            update_mode: UpdateMode::Default,
            revision: 3,
            timers: Default::default(),
            minimum_version: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn dsl() -> MiniProgram {
        program(MiniProgramType::Dsl, MiniProgramChannel::Workspace)
    }

    #[test]
    fn an_admin_may_edit_a_workspace_dsl_program() {
        assert!(update_mode_locks(&principal_with(&[Role::WorkspaceAdmin]), &dsl()).is_empty());
    }

    #[test]
    fn every_lock_reason_is_listed() {
        let viewer = principal_with(&[Role::Viewer]);
        let h5_alipay = program(MiniProgramType::H5, MiniProgramChannel::AlipayPlus);
        assert_eq!(
            update_mode_locks(&viewer, &h5_alipay),
            vec![
                UpdateModeLock::NotAdmin,
                UpdateModeLock::NotDsl,
                UpdateModeLock::AlipayPlusChannel
            ]
        );
        let admin = principal_with(&[Role::WorkspaceAdmin]);
        assert_eq!(
            update_mode_locks(
                &admin,
                &program(MiniProgramType::Dsl, MiniProgramChannel::AlipayPlus)
            ),
            vec![UpdateModeLock::AlipayPlusChannel]
        );
        assert_eq!(
            update_mode_locks(
                &admin,
                &program(MiniProgramType::H5, MiniProgramChannel::Workspace)
            ),
            vec![UpdateModeLock::NotDsl]
        );
    }

    #[test]
    fn a_new_mode_raises_the_revision_by_one() {
        assert_eq!(
            decide_update_mode_change(&dsl(), UpdateMode::Sync, None),
            Ok(UpdateModeDecision::Change {
                previous_mode: UpdateMode::Default,
                mode: UpdateMode::Sync,
                revision: 4
            })
        );
    }

    #[test]
    fn the_current_mode_again_changes_nothing() {
        assert_eq!(
            decide_update_mode_change(&dsl(), UpdateMode::Default, Some(3)),
            Ok(UpdateModeDecision::Unchanged)
        );
    }

    #[test]
    fn a_stale_expected_revision_is_refused() {
        assert_eq!(
            decide_update_mode_change(&dsl(), UpdateMode::Async, Some(2)),
            Err(RuleViolation::StaleRevision {
                expected: 2,
                current: 3
            })
        );
    }

    #[test]
    fn locked_programs_are_refused_before_anything_else() {
        let h5 = program(MiniProgramType::H5, MiniProgramChannel::Workspace);
        assert_eq!(
            decide_update_mode_change(&h5, UpdateMode::Async, Some(99)),
            Err(RuleViolation::UpdateModeLocked(vec![
                UpdateModeLock::NotDsl
            ]))
        );
    }
}
