//! The release steps after submission: approval or rejection, gray and full
//! release, taking a version offline. Each rule turns a version and its
//! program's release state into the change to write, or refuses it.

use super::{MiniProgramVersion, Principal, RuleViolation, VersionNumber, VersionStatus};

named_enum! {
    /// A release-approval integration's answer.
    pub enum ReleaseDecision {
        Approve => "APPROVE",
        Reject => "REJECT",
    }
}

named_enum! {
    /// A lifecycle step that a principal may take on a version now.
    pub enum VersionAction {
        SubmitForReleaseApproval => "SUBMIT_FOR_RELEASE_APPROVAL",
        Approve => "APPROVE",
        Reject => "REJECT",
        /// To a share of devices or to all of them.
        Release => "RELEASE",
        TakeOffline => "TAKE_OFFLINE",
    }
}

/// The steps that the principal's roles and the version's status allow, so
/// that a client offers only those. A step may still be refused for what
/// the program's other versions are (one waits for approval already, a
/// newer one is released): the refusal says why.
pub fn available_actions(principal: &Principal, status: VersionStatus) -> Vec<VersionAction> {
    let mut actions = Vec::new();
    match status {
        VersionStatus::NewVersionCreated if principal.may_submit_version() => {
            actions.push(VersionAction::SubmitForReleaseApproval);
        }
        VersionStatus::PendingApproval if principal.may_decide_release() => {
            actions.extend([VersionAction::Approve, VersionAction::Reject]);
        }
        VersionStatus::Approved if principal.may_release() => {
            actions.push(VersionAction::Release);
        }
        VersionStatus::GrayRelease if principal.may_release() => {
            actions.extend([VersionAction::Release, VersionAction::TakeOffline]);
        }
        VersionStatus::FullRelease if principal.may_release() => {
            actions.push(VersionAction::TakeOffline);
        }
        _ => {}
    }
    actions
}

/// A release step and the versions it took offline, as committed.
#[derive(Debug, Clone)]
pub struct VersionTransition {
    pub version: MiniProgramVersion,
    pub superseded: Vec<MiniProgramVersion>,
}

/// A version of the program that is out on devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedVersion {
    pub id: String,
    pub number: VersionNumber,
}

/// What a program has released right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseState {
    pub full: Option<ReleasedVersion>,
    pub gray: Option<ReleasedVersion>,
}

/// The change a release step makes to a version (and to the versions it
/// supersedes). A version's fixed update mode is never part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChange {
    pub status: VersionStatus,
    pub gray_percentage: Option<i32>,
    /// Set for approvals and rejections: the decision's comment.
    pub decision: Option<Option<String>>,
    /// Whether this step releases the version.
    pub releases: bool,
    /// Versions that this step takes offline.
    pub supersedes: Vec<ReleasedVersion>,
    /// For a full release: the previous full release, which a rollback of
    /// this version restores.
    pub replaces: Option<ReleasedVersion>,
    /// Set when a rollback takes the version offline: why.
    pub offline_reason: Option<String>,
}

impl VersionChange {
    /// Whether the step changes what devices are told at launch: releases
    /// and offline steps do, decisions do not.
    pub fn changes_launch_policy(&self) -> bool {
        self.releases || self.status == VersionStatus::Offline
    }
}

pub const MAX_COMMENT_CHARS: usize = 2000;

fn require_status(
    version: &MiniProgramVersion,
    allowed: &[VersionStatus],
    action: &'static str,
) -> Result<(), RuleViolation> {
    if allowed.contains(&version.status) {
        Ok(())
    } else {
        Err(RuleViolation::InvalidTransition {
            status: version.status,
            action,
        })
    }
}

/// Approves or rejects a version that waits for approval.
pub fn decide_release(
    version: &MiniProgramVersion,
    decision: ReleaseDecision,
    comment: Option<&str>,
) -> Result<VersionChange, RuleViolation> {
    require_status(
        version,
        &[VersionStatus::PendingApproval],
        "approved or rejected",
    )?;
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(RuleViolation::invalid_input(
            "comment",
            format!("must be at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    Ok(VersionChange {
        status: match decision {
            ReleaseDecision::Approve => VersionStatus::Approved,
            ReleaseDecision::Reject => VersionStatus::Rejected,
        },
        gray_percentage: None,
        decision: Some(comment.map(str::to_owned)),
        releases: false,
        supersedes: Vec::new(),
        replaces: None,
        offline_reason: None,
    })
}

/// Releases an approved or gray version: to a growing share of devices
/// (1 to 99), or to all of them (`None` or 100). A full release takes the
/// previous full release offline; any release takes another gray version
/// offline, since a program has one gray group at a time.
pub fn plan_release(
    version: &MiniProgramVersion,
    gray_percentage: Option<i32>,
    state: &ReleaseState,
) -> Result<VersionChange, RuleViolation> {
    require_status(
        version,
        &[VersionStatus::Approved, VersionStatus::GrayRelease],
        "released",
    )?;
    let gray_percentage = match gray_percentage {
        None | Some(100) => None,
        Some(p @ 1..=99) => Some(p),
        Some(_) => {
            return Err(RuleViolation::invalid_input(
                "grayPercentage",
                "must be between 1 and 99 for a gray release, or 100 (or null) for a full release",
            ));
        }
    };
    if let (Some(current), Some(requested)) = (version.gray_percentage, gray_percentage)
        && requested <= current
    {
        return Err(RuleViolation::invalid_input(
            "grayPercentage",
            format!("may only grow: the version is released to {current}%"),
        ));
    }
    if let Some(full) = &state.full
        && full.id != version.id
        && full.number > version.number
    {
        return Err(RuleViolation::NewerVersionReleased {
            version: full.number,
        });
    }
    let mut supersedes: Vec<ReleasedVersion> = state
        .gray
        .iter()
        .filter(|gray| gray.id != version.id)
        .cloned()
        .collect();
    let replaces = state
        .full
        .as_ref()
        .filter(|full| gray_percentage.is_none() && full.id != version.id)
        .cloned();
    supersedes.extend(replaces.iter().cloned());
    Ok(VersionChange {
        status: if gray_percentage.is_some() {
            VersionStatus::GrayRelease
        } else {
            VersionStatus::FullRelease
        },
        gray_percentage,
        decision: None,
        releases: true,
        supersedes,
        replaces,
        offline_reason: None,
    })
}

/// What a rollback takes offline: the program's newest released version,
/// its gray release if it has one, else its full release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub rolled_back: ReleasedVersion,
    /// Whether it is the full release, so the one it replaced comes back.
    pub was_full: bool,
}

pub fn plan_rollback(state: &ReleaseState) -> Result<Rollback, RuleViolation> {
    match (&state.gray, &state.full) {
        (Some(gray), _) => Ok(Rollback {
            rolled_back: gray.clone(),
            was_full: false,
        }),
        (None, Some(full)) => Ok(Rollback {
            rolled_back: full.clone(),
            was_full: true,
        }),
        (None, None) => Err(RuleViolation::NothingReleased),
    }
}

/// Takes the version a rollback names offline, for `reason`.
pub fn plan_rolled_back(
    version: &MiniProgramVersion,
    reason: String,
) -> Result<VersionChange, RuleViolation> {
    Ok(VersionChange {
        offline_reason: Some(reason),
        ..plan_offline(version)?
    })
}

/// Brings back the full release that a rolled-back full release replaced:
/// it went offline only because it was replaced, never by a rollback of
/// its own.
pub fn plan_restore(version: &MiniProgramVersion) -> Option<VersionChange> {
    (version.status == VersionStatus::Offline
        && version.offline_reason.is_none()
        && version.released_at.is_some())
    .then(|| VersionChange {
        status: VersionStatus::FullRelease,
        gray_percentage: None,
        decision: None,
        releases: true,
        supersedes: Vec::new(),
        replaces: None,
        offline_reason: None,
    })
}

/// Takes a released version offline.
pub fn plan_offline(version: &MiniProgramVersion) -> Result<VersionChange, RuleViolation> {
    require_status(
        version,
        &[VersionStatus::GrayRelease, VersionStatus::FullRelease],
        "taken offline",
    )?;
    Ok(VersionChange {
        status: VersionStatus::Offline,
        gray_percentage: version.gray_percentage,
        decision: None,
        releases: false,
        supersedes: Vec::new(),
        replaces: None,
        offline_reason: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UpdateMode;
    use chrono::Utc;

    fn version(status: VersionStatus, number: &str, gray: Option<i32>) -> MiniProgramVersion {
        MiniProgramVersion {
            id: format!("v{number}"),
            mini_program_id: "p1".into(),
            number: VersionNumber::parse(number).unwrap(),
            description: None,
            status,
            fixed_update_mode: Some(UpdateMode::Async),
            program_update_mode: UpdateMode::Default,
            created_at: Utc::now(),
            submitted_at: Some(Utc::now()),
            gray_percentage: gray,
            decision: None,
            released_at: None,
            offline_reason: None,
        }
    }

    #[test]
    fn each_role_is_offered_the_steps_it_may_take_in_each_status() {
        use crate::domain::Role;
        use crate::domain::principal::principal_with;
        use VersionAction::*;
        let admin = principal_with(&[Role::WorkspaceAdmin]);
        let developer = principal_with(&[Role::Developer]);
        let approver = principal_with(&[Role::ReleaseApprover]);
        let viewer = principal_with(&[Role::Viewer]);
        let offered = available_actions;
        assert_eq!(
            offered(&developer, VersionStatus::NewVersionCreated),
            [SubmitForReleaseApproval]
        );
        assert_eq!(
            offered(&admin, VersionStatus::NewVersionCreated),
            [SubmitForReleaseApproval]
        );
        assert_eq!(
            offered(&approver, VersionStatus::PendingApproval),
            [Approve, Reject]
        );
        assert!(offered(&developer, VersionStatus::PendingApproval).is_empty());
        assert_eq!(offered(&admin, VersionStatus::Approved), [Release]);
        assert_eq!(
            offered(&admin, VersionStatus::GrayRelease),
            [Release, TakeOffline]
        );
        assert_eq!(offered(&admin, VersionStatus::FullRelease), [TakeOffline]);
        assert!(offered(&admin, VersionStatus::Offline).is_empty());
        assert!(offered(&admin, VersionStatus::Rejected).is_empty());
        for status in VersionStatus::ALL {
            assert!(offered(&viewer, *status).is_empty(), "{status:?}");
        }
    }

    fn released(number: &str) -> ReleasedVersion {
        ReleasedVersion {
            id: format!("v{number}"),
            number: VersionNumber::parse(number).unwrap(),
        }
    }

    #[test]
    fn only_pending_versions_are_decided() {
        let pending = version(VersionStatus::PendingApproval, "1.0.0", None);
        let change = decide_release(&pending, ReleaseDecision::Approve, Some("  ok  ")).unwrap();
        assert_eq!(change.status, VersionStatus::Approved);
        assert_eq!(change.decision, Some(Some("ok".into())));
        let change = decide_release(&pending, ReleaseDecision::Reject, None).unwrap();
        assert_eq!(change.status, VersionStatus::Rejected);
        assert_eq!(change.decision, Some(None));
        for &status in VersionStatus::ALL {
            if status != VersionStatus::PendingApproval {
                assert!(matches!(
                    decide_release(
                        &version(status, "1.0.0", None),
                        ReleaseDecision::Approve,
                        None
                    ),
                    Err(RuleViolation::InvalidTransition { .. })
                ));
            }
        }
        let long = "x".repeat(MAX_COMMENT_CHARS + 1);
        assert!(decide_release(&pending, ReleaseDecision::Reject, Some(&long)).is_err());
    }

    #[test]
    fn gray_percentages_only_grow_and_100_is_a_full_release() {
        let approved = version(VersionStatus::Approved, "1.1.0", None);
        let state = ReleaseState::default();
        assert_eq!(
            plan_release(&approved, Some(10), &state).unwrap().status,
            VersionStatus::GrayRelease
        );
        for full in [None, Some(100)] {
            let change = plan_release(&approved, full, &state).unwrap();
            assert_eq!(change.status, VersionStatus::FullRelease);
            assert_eq!(change.gray_percentage, None);
        }
        for bad in [0, -5, 101] {
            assert!(plan_release(&approved, Some(bad), &state).is_err(), "{bad}");
        }
        let gray = version(VersionStatus::GrayRelease, "1.1.0", Some(20));
        assert_eq!(
            plan_release(&gray, Some(50), &state)
                .unwrap()
                .gray_percentage,
            Some(50)
        );
        assert!(plan_release(&gray, Some(20), &state).is_err());
        assert!(plan_release(&gray, Some(5), &state).is_err());
        assert_eq!(
            plan_release(&gray, None, &state).unwrap().status,
            VersionStatus::FullRelease
        );
    }

    #[test]
    fn a_full_release_supersedes_the_previous_one_and_any_other_gray() {
        let approved = version(VersionStatus::Approved, "1.2.0", None);
        let state = ReleaseState {
            full: Some(released("1.0.0")),
            gray: Some(released("1.1.0")),
        };
        let change = plan_release(&approved, None, &state).unwrap();
        assert_eq!(
            change.supersedes,
            vec![released("1.1.0"), released("1.0.0")]
        );
        let change = plan_release(&approved, Some(5), &state).unwrap();
        assert_eq!(
            change.supersedes,
            vec![released("1.1.0")],
            "the full release stays for the others"
        );
    }

    #[test]
    fn a_version_older_than_the_full_release_is_not_released() {
        let approved = version(VersionStatus::Approved, "1.0.0", None);
        let state = ReleaseState {
            full: Some(released("1.1.0")),
            gray: None,
        };
        assert!(matches!(
            plan_release(&approved, None, &state),
            Err(RuleViolation::NewerVersionReleased { .. })
        ));
    }

    #[test]
    fn only_released_versions_go_offline() {
        for status in [VersionStatus::GrayRelease, VersionStatus::FullRelease] {
            assert_eq!(
                plan_offline(&version(status, "1.0.0", None))
                    .unwrap()
                    .status,
                VersionStatus::Offline
            );
        }
        for status in [
            VersionStatus::NewVersionCreated,
            VersionStatus::PendingApproval,
            VersionStatus::Approved,
            VersionStatus::Rejected,
            VersionStatus::Offline,
        ] {
            assert!(plan_offline(&version(status, "1.0.0", None)).is_err());
        }
    }

    #[test]
    fn a_full_release_remembers_the_one_it_replaces() {
        let approved = version(VersionStatus::Approved, "1.2.0", None);
        let state = ReleaseState {
            full: Some(released("1.0.0")),
            gray: Some(released("1.1.0")),
        };
        assert_eq!(
            plan_release(&approved, None, &state).unwrap().replaces,
            Some(released("1.0.0"))
        );
        assert_eq!(
            plan_release(&approved, Some(5), &state).unwrap().replaces,
            None
        );
    }

    #[test]
    fn a_rollback_takes_the_newest_release_and_restores_only_a_replaced_one() {
        let both = ReleaseState {
            full: Some(released("1.0.0")),
            gray: Some(released("1.1.0")),
        };
        assert_eq!(
            plan_rollback(&both).unwrap(),
            Rollback {
                rolled_back: released("1.1.0"),
                was_full: false
            }
        );
        let full = ReleaseState {
            full: Some(released("1.0.0")),
            gray: None,
        };
        assert!(plan_rollback(&full).unwrap().was_full);
        assert_eq!(
            plan_rollback(&ReleaseState::default()),
            Err(RuleViolation::NothingReleased)
        );
        let full_release = version(VersionStatus::FullRelease, "1.0.0", None);
        let change = plan_rolled_back(&full_release, "crash".into()).unwrap();
        assert_eq!(change.status, VersionStatus::Offline);
        assert_eq!(change.offline_reason.as_deref(), Some("crash"));
        let mut replaced = version(VersionStatus::Offline, "0.9.0", None);
        assert!(plan_restore(&replaced).is_none(), "never released");
        replaced.released_at = Some(Utc::now());
        assert_eq!(
            plan_restore(&replaced).unwrap().status,
            VersionStatus::FullRelease
        );
        replaced.offline_reason = Some("rolled back before".into());
        assert!(plan_restore(&replaced).is_none());
    }

    #[test]
    fn release_steps_never_touch_the_fixed_mode() {
        // VersionChange has no mode field: the rule holds by construction.
        let gray = version(VersionStatus::GrayRelease, "1.0.0", Some(10));
        let change = plan_offline(&gray).unwrap();
        assert_eq!(change.gray_percentage, Some(10));
    }
}
