//! Pure types and rules of the update-mode business: who may do what, which
//! update mode a version executes, how versions move through their lifecycle.
//! Nothing here does I/O, so every rule is unit-tested next to its code.

/// Declares a closed set of names with their wire spelling, used the same way
/// in tokens, storage and error extensions.
macro_rules! named_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_name(&name).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {}: {name}", stringify!($name)))
                })
            }
        }
    };
}

mod address;
mod audit;
mod capability;
mod check_in;
mod client_key;
mod error;
mod event;
mod gate;
mod integration;
mod launch;
mod launch_reasons;
mod lifecycle;
mod mini_program;
mod minimum_version;
mod name;
mod principal;
mod rollout;
mod update_mode;
mod version;
mod window;

pub use address::{TargetPolicy, literal_address};
pub use audit::{AuditAction, AuditContext, AuditFilter, AuditRecord, Audited};
pub use capability::Capability;
pub use check_in::{
    ActionCounts, Adoption, AdoptionPoint, AdoptionWindow, CheckInGroup, CheckInKind, DeviceHash,
    DeviceSketch, MinimumVersionImpact, SketchError, VersionAdoption, adoption, adoption_series,
    hour_of, minimum_version_impact, update_mode_impact,
};
pub use client_key::{ClientKey, client_key_hash, sha256_hex};
pub use error::RuleViolation;
pub use event::{DeliveryStatus, DomainEvent, EventData, EventType, EventVersion};
pub use gate::{GateRefusal, ReleaseCheck, ReleaseGate, read_answer};
pub use integration::{
    DeliveryRecord, ReleaseIntegration, validate_event_selection, validate_webhook_url,
};
pub use launch::{
    CacheAge, LaunchAction, LaunchDecision, LaunchPolicy, LaunchRequest, LaunchRule,
    ReleasedTarget, UpdateTimers, decide_action, decide_launch, gray_bucket, in_gray_group,
};
pub use launch_reasons::launch_reasons;
pub use lifecycle::{
    ReleaseDecision, ReleaseState, ReleasedVersion, Rollback, VersionAction, VersionChange,
    VersionTransition, available_actions, decide_release, plan_offline, plan_release, plan_restore,
    plan_rollback, plan_rolled_back,
};
pub use mini_program::{
    MiniProgram, MiniProgramChannel, MiniProgramType, NewMiniProgram, ProgramFilter,
};
pub use minimum_version::{MinimumVersionDecision, decide_minimum_version};
pub use name::{Name, name_key, validate_name};
pub use principal::{Principal, Role};
pub use rollout::{
    RequestedStep, Rollout, RolloutStatus, RolloutStep, gray_share, plan_rollout, validate_reason,
};
pub use update_mode::{
    UpdateMode, UpdateModeChange, UpdateModeDecision, UpdateModeLock, UpdateModeOutcome,
    UpdateModeSource, decide_update_mode_change, update_mode_locks,
};
pub use version::{
    MiniProgramVersion, ReleaseDecisionRecord, VersionNumber, VersionStatus, VersionSummary,
    check_new_version_number, check_submission, validate_description,
};
pub use window::{
    Ending, RequestedWindow, ScheduledChangeStatus, ScheduledUpdateModeChange, plan_window,
};
