use std::fmt;

use chrono::{DateTime, Utc};

use super::{RuleViolation, UpdateMode, UpdateModeSource};

named_enum! {
    /// Where a version stands in its release lifecycle.
    pub enum VersionStatus {
        NewVersionCreated => "NEW_VERSION_CREATED",
        PendingApproval => "PENDING_APPROVAL",
        Approved => "APPROVED",
        Rejected => "REJECTED",
        GrayRelease => "GRAY_RELEASE",
        FullRelease => "FULL_RELEASE",
        Offline => "OFFLINE",
    }
}

/// A `MAJOR.MINOR.PATCH` version number, ordered numerically (1.10.0 > 1.9.0).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct VersionNumber {
    pub major: i32,
    pub minor: i32,
    pub patch: i32,
}

impl VersionNumber {
    /// Parses the strict form: three decimal numbers without signs, spaces or
    /// leading zeros, each fitting the storage column.
    pub fn parse(text: &str) -> Result<Self, RuleViolation> {
        let invalid = || {
            RuleViolation::invalid_input(
                "version",
                format!("{text:?} is not a MAJOR.MINOR.PATCH version number (e.g. 1.4.0)"),
            )
        };
        let mut parts = text.split('.');
        let mut next = || -> Result<i32, RuleViolation> {
            let part = parts.next().ok_or_else(invalid)?;
            let well_formed = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            if !well_formed {
                return Err(invalid());
            }
            part.parse().map_err(|_| invalid())
        };
        let number = VersionNumber {
            major: next()?,
            minor: next()?,
            patch: next()?,
        };
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(number)
    }
}

impl fmt::Display for VersionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One version of a mini program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniProgramVersion {
    pub id: String,
    pub mini_program_id: String,
    pub number: VersionNumber,
    pub description: Option<String>,
    pub status: VersionStatus,
    /// The global mode of the instant the version was submitted for release
    /// approval; `None` while it is New Version Created.
    pub fixed_update_mode: Option<UpdateMode>,
    /// The program's global update mode, read together with the version.
    pub program_update_mode: UpdateMode,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The share of devices, 1 to 99, that a gray release reaches.
    pub gray_percentage: Option<i32>,
    pub decision: Option<ReleaseDecisionRecord>,
    /// When the version was first released (gray or full).
    pub released_at: Option<DateTime<Utc>>,
    /// Why a rollback took the version offline; such a version is never
    /// served again.
    pub offline_reason: Option<String>,
}

/// Who approved or rejected a version, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDecisionRecord {
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
    pub comment: Option<String>,
}

impl MiniProgramVersion {
    /// The share of devices the version reaches now, 0 to 100.
    pub fn share(&self) -> i32 {
        match self.status {
            VersionStatus::FullRelease => 100,
            VersionStatus::GrayRelease => self.gray_percentage.unwrap_or(0),
            _ => 0,
        }
    }

    /// The mode this version shows: the global mode it will execute until it
    /// is submitted, the mode it was released with from then on.
    pub fn update_mode(&self) -> (UpdateMode, UpdateModeSource) {
        shown_update_mode(self.fixed_update_mode, self.program_update_mode)
    }
}

/// What a listed page shows of a version under its program: its number,
/// status and mode, without the rest of its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSummary {
    pub id: String,
    pub mini_program_id: String,
    pub number: VersionNumber,
    pub status: VersionStatus,
    pub fixed_update_mode: Option<UpdateMode>,
    pub program_update_mode: UpdateMode,
}

impl VersionSummary {
    pub fn update_mode(&self) -> (UpdateMode, UpdateModeSource) {
        shown_update_mode(self.fixed_update_mode, self.program_update_mode)
    }
}

fn shown_update_mode(
    fixed: Option<UpdateMode>,
    program: UpdateMode,
) -> (UpdateMode, UpdateModeSource) {
    match fixed {
        Some(mode) => (mode, UpdateModeSource::Released),
        None => (program, UpdateModeSource::Pending),
    }
}

/// A new version number must be greater than every existing one.
pub fn check_new_version_number(
    requested: VersionNumber,
    latest: Option<VersionNumber>,
) -> Result<(), RuleViolation> {
    match latest {
        Some(latest) if requested <= latest => {
            Err(RuleViolation::VersionNotGreater { requested, latest })
        }
        _ => Ok(()),
    }
}

pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// Trims the description; a blank one is no description.
pub fn validate_description(description: Option<&str>) -> Result<Option<String>, RuleViolation> {
    let Some(description) = description.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(RuleViolation::invalid_input(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(Some(description.to_owned()))
}

/// A version may be submitted for release approval only while New Version
/// Created, and only when no other version of its program is pending.
pub fn check_submission(
    version: &MiniProgramVersion,
    pending: Option<VersionNumber>,
) -> Result<(), RuleViolation> {
    if version.status != VersionStatus::NewVersionCreated {
        return Err(RuleViolation::InvalidTransition {
            status: version.status,
            action: "submitted for release approval",
        });
    }
    if let Some(version) = pending {
        return Err(RuleViolation::AnotherVersionPending { version });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> VersionNumber {
        VersionNumber::parse(text).unwrap()
    }

    fn version(status: VersionStatus, fixed: Option<UpdateMode>) -> MiniProgramVersion {
        with_global(status, fixed, UpdateMode::Default)
    }

    fn with_global(
        status: VersionStatus,
        fixed: Option<UpdateMode>,
        global: UpdateMode,
    ) -> MiniProgramVersion {
        MiniProgramVersion {
            id: "v1".into(),
            mini_program_id: "p1".into(),
            number: v("1.0.0"),
            description: None,
            status,
            fixed_update_mode: fixed,
            program_update_mode: global,
            created_at: Utc::now(),
            submitted_at: None,
            gray_percentage: None,
            decision: None,
            released_at: None,
            offline_reason: None,
        }
    }

    #[test]
    fn version_numbers_parse_strictly() {
        assert_eq!(
            v("1.10.0"),
            VersionNumber {
                major: 1,
                minor: 10,
                patch: 0
            }
        );
        assert_eq!(v("0.0.0").to_string(), "0.0.0");
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "1.2.x",
            "01.2.3",
            "1.02.3",
            "-1.2.3",
            "+1.2.3",
            " 1.2.3",
            "1..3",
            "1.2.3-beta",
            "99999999999.0.0",
            "１.2.3",
        ] {
            assert!(VersionNumber::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn version_numbers_order_numerically() {
        assert!(v("1.10.0") > v("1.9.0"));
        assert!(v("2.0.0") > v("1.99.99"));
        assert!(v("1.0.1") > v("1.0.0"));
    }

    #[test]
    fn a_new_version_must_be_greater_than_the_latest() {
        assert!(check_new_version_number(v("1.0.0"), None).is_ok());
        assert!(check_new_version_number(v("1.10.0"), Some(v("1.9.0"))).is_ok());
        assert_eq!(
            check_new_version_number(v("1.9.0"), Some(v("1.9.0"))),
            Err(RuleViolation::VersionNotGreater {
                requested: v("1.9.0"),
                latest: v("1.9.0")
            })
        );
        assert!(check_new_version_number(v("1.8.5"), Some(v("1.9.0"))).is_err());
    }

    #[test]
    fn an_unsubmitted_version_follows_the_global_mode() {
        for &global in UpdateMode::ALL {
            let created = with_global(VersionStatus::NewVersionCreated, None, global);
            assert_eq!(created.update_mode(), (global, UpdateModeSource::Pending));
        }
    }

    #[test]
    fn a_submitted_version_keeps_the_mode_it_was_released_with() {
        for &global in UpdateMode::ALL {
            let released = with_global(VersionStatus::FullRelease, Some(UpdateMode::Async), global);
            assert_eq!(
                released.update_mode(),
                (UpdateMode::Async, UpdateModeSource::Released)
            );
        }
    }

    #[test]
    fn only_new_versions_are_submitted() {
        assert!(check_submission(&version(VersionStatus::NewVersionCreated, None), None).is_ok());
        for &status in &VersionStatus::ALL[1..] {
            assert_eq!(
                check_submission(&version(status, Some(UpdateMode::Default)), None),
                Err(RuleViolation::InvalidTransition {
                    status,
                    action: "submitted for release approval"
                })
            );
        }
    }

    #[test]
    fn only_one_version_waits_for_approval() {
        assert_eq!(
            check_submission(
                &version(VersionStatus::NewVersionCreated, None),
                Some(v("0.9.0"))
            ),
            Err(RuleViolation::AnotherVersionPending {
                version: v("0.9.0")
            })
        );
    }

    #[test]
    fn descriptions_are_trimmed_and_bounded() {
        assert_eq!(validate_description(None), Ok(None));
        assert_eq!(validate_description(Some("  ")), Ok(None));
        assert_eq!(validate_description(Some(" fix ")), Ok(Some("fix".into())));
        assert!(validate_description(Some(&"x".repeat(MAX_DESCRIPTION_CHARS + 1))).is_err());
    }
}
