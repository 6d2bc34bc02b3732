use chrono::{DateTime, Utc};

use super::{RuleViolation, UpdateMode, UpdateTimers, VersionNumber};

named_enum! {
    /// How a mini program is built; update modes only apply to DSL packages.
    pub enum MiniProgramType {
        Dsl => "DSL",
        H5 => "H5",
    }
}

named_enum! {
    /// Where a mini program is released from.
    pub enum MiniProgramChannel {
        Workspace => "WORKSPACE",
        AlipayPlus => "ALIPAY_PLUS",
    }
}

/// A mini program of one workspace, with its global update mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiniProgram {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub program_type: MiniProgramType,
    pub channel: MiniProgramChannel,
    pub update_mode: UpdateMode,
    /// Raised by one on every accepted change, so clients can detect stale edits.
    pub revision: i32,
    /// What the super app counts before checking for a new version.
    pub timers: UpdateTimers,
    /// No device may start an older version: one that has one cached
    /// downloads the target first.
    pub minimum_version: Option<VersionNumber>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which programs of a workspace a listing shows; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct ProgramFilter {
    pub program_type: Option<MiniProgramType>,
    pub channel: Option<MiniProgramChannel>,
    pub update_mode: Option<UpdateMode>,
    /// Matched case-insensitively anywhere in the name.
    pub name_contains: Option<String>,
}

/// A mini program about to be created; new programs start at `DEFAULT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMiniProgram {
    pub workspace_id: String,
    pub name: String,
    pub program_type: MiniProgramType,
    pub channel: MiniProgramChannel,
}

pub const MAX_NAME_CHARS: usize = 100;

/// Trims the name and checks it is something a console can show.
pub fn validate_program_name(name: &str) -> Result<String, RuleViolation> {
    let name = name.trim();
    if name.is_empty() {
        return Err(RuleViolation::invalid_input("name", "must not be blank"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(RuleViolation::invalid_input(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(RuleViolation::invalid_input(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(validate_program_name("  Shop  ").unwrap(), "Shop");
    }

    #[test]
    fn blank_long_and_control_names_are_refused() {
        for bad in ["", "   ", "a\nb", "tab\there"] {
            assert!(validate_program_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_program_name(&"x".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(validate_program_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
    }
}
