//! The minimum usable version of a program: a floor below which no device
//! may start, set among versions that were released and never above the
//! current full release, so that a device always has something to get.

use super::update_mode::program_locks;
use super::{MiniProgram, RuleViolation, VersionNumber};

/// What to do with a request to set (or clear) the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinimumVersionDecision {
    /// The floor already is the requested one; nothing is written.
    Unchanged,
    Change {
        previous: Option<VersionNumber>,
        version: Option<VersionNumber>,
        /// The program's revision after the change.
        revision: i32,
    },
}

/// Decides a change of the floor: the program's update mode must be
/// editable, `expected_revision` (when given) current, and the version one
/// of `released` no newer than the full release.
pub fn decide_minimum_version(
    program: &MiniProgram,
    requested: Option<&str>,
    expected_revision: Option<i32>,
    released: &[VersionNumber],
    full_release: Option<VersionNumber>,
) -> Result<MinimumVersionDecision, RuleViolation> {
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
    let version = requested.map(VersionNumber::parse).transpose()?;
    if let Some(version) = version {
        if !released.contains(&version) {
            return Err(RuleViolation::invalid_input(
                "version",
                format!("{version} is not a version of this program that is or was released"),
            ));
        }
        match full_release {
            Some(full) if version <= full => {}
            Some(full) => {
                return Err(RuleViolation::invalid_input(
                    "version",
                    format!("{version} is newer than the full release {full}"),
                ));
            }
            None => {
                return Err(RuleViolation::invalid_input(
                    "version",
                    "the program has no full release for devices below the floor to get",
                ));
            }
        }
    }
    if version == program.minimum_version {
        return Ok(MinimumVersionDecision::Unchanged);
    }
    Ok(MinimumVersionDecision::Change {
        previous: program.minimum_version,
        version,
        revision: program.revision + 1,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{MiniProgramChannel, MiniProgramType, UpdateMode, UpdateModeLock};

    fn v(text: &str) -> VersionNumber {
        VersionNumber::parse(text).unwrap()
    }

    fn program(channel: MiniProgramChannel, floor: Option<&str>) -> MiniProgram {
        MiniProgram {
            id: "p1".into(),
            workspace_id: "acme".into(),
            name: "Shop".into(),
            program_type: MiniProgramType::Dsl,
            channel,
            update_mode: UpdateMode::Default,
            revision: 4,
            timers: Default::default(),
            minimum_version: floor.map(v),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_floor_is_a_released_version_no_newer_than_the_full_release() {
        let shop = program(MiniProgramChannel::Workspace, None);
        let released = [v("1.0.0"), v("1.1.0"), v("1.2.0")];
        let full = Some(v("1.1.0"));
        assert_eq!(
            decide_minimum_version(&shop, Some("1.0.0"), Some(4), &released, full),
            Ok(MinimumVersionDecision::Change {
                previous: None,
                version: Some(v("1.0.0")),
                revision: 5
            })
        );
        assert!(decide_minimum_version(&shop, Some("1.1.0"), None, &released, full).is_ok());
        for bad in ["1.2.0", "0.9.0", "1.0", "latest"] {
            assert!(
                matches!(
                    decide_minimum_version(&shop, Some(bad), None, &released, full),
                    Err(RuleViolation::InvalidInput {
                        field: "version",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert!(decide_minimum_version(&shop, Some("1.0.0"), None, &released, None).is_err());
    }

    #[test]
    fn clearing_or_repeating_the_floor_and_the_usual_locks() {
        let floored = program(MiniProgramChannel::Workspace, Some("1.0.0"));
        let released = [v("1.0.0")];
        assert_eq!(
            decide_minimum_version(&floored, Some("1.0.0"), None, &released, Some(v("1.0.0"))),
            Ok(MinimumVersionDecision::Unchanged)
        );
        assert_eq!(
            decide_minimum_version(&floored, None, None, &released, None),
            Ok(MinimumVersionDecision::Change {
                previous: Some(v("1.0.0")),
                version: None,
                revision: 5
            })
        );
        assert_eq!(
            decide_minimum_version(&floored, None, Some(3), &released, None),
            Err(RuleViolation::StaleRevision {
                expected: 3,
                current: 4
            })
        );
        let partner = program(MiniProgramChannel::AlipayPlus, None);
        assert_eq!(
            decide_minimum_version(&partner, None, None, &released, None),
            Err(RuleViolation::UpdateModeLocked(vec![
                UpdateModeLock::AlipayPlusChannel
            ]))
        );
    }
}
