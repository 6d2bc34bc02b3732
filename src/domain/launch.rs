//! What a super app does when a user opens a mini program: which version to
//! run and how to update to it, decided from the program's released versions,
//! its update timers and what the device has cached.

use sha2::{Digest, Sha256};

use super::{RuleViolation, UpdateMode, VersionNumber};

named_enum! {
    /// What the device does at this cold start.
    pub enum LaunchAction {
        /// Start the cached package; nothing to download.
        None => "NONE",
        /// Download the target before starting (first open, SYNC, an old
        /// cache under DEFAULT, or a rollback).
        SyncDownload => "SYNC_DOWNLOAD",
        /// Start the cached package and download the target in the background.
        AsyncDownload => "ASYNC_DOWNLOAD",
    }
}

pub const DEFAULT_ASYNC_UPDATE_SECONDS: i32 = 3600;
pub const DEFAULT_SYNC_UPDATE_SECONDS: i32 = 864_000;
/// A year: longer timers are a typo, not a policy.
pub const MAX_UPDATE_SECONDS: i32 = 366 * 24 * 3600;

/// The two timers a device counts from its first open or last update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateTimers {
    pub async_update_seconds: i32,
    pub sync_update_seconds: i32,
}

impl Default for UpdateTimers {
    fn default() -> Self {
        Self {
            async_update_seconds: DEFAULT_ASYNC_UPDATE_SECONDS,
            sync_update_seconds: DEFAULT_SYNC_UPDATE_SECONDS,
        }
    }
}

impl UpdateTimers {
    pub fn new(async_update_seconds: i32, sync_update_seconds: i32) -> Result<Self, RuleViolation> {
        for (field, value) in [
            ("asyncUpdateSeconds", async_update_seconds),
            ("syncUpdateSeconds", sync_update_seconds),
        ] {
            if !(1..=MAX_UPDATE_SECONDS).contains(&value) {
                return Err(RuleViolation::invalid_input(
                    field,
                    format!("must be between 1 and {MAX_UPDATE_SECONDS} seconds"),
                ));
            }
        }
        if async_update_seconds >= sync_update_seconds {
            return Err(RuleViolation::invalid_input(
                "asyncUpdateSeconds",
                "must be shorter than syncUpdateSeconds",
            ));
        }
        Ok(Self {
            async_update_seconds,
            sync_update_seconds,
        })
    }

    /// Where a cache of this age stands against the timers. An unknown
    /// age counts as due: the device asked, so it is not known to be fresh.
    pub fn cache_age(&self, cache_age_seconds: Option<u64>) -> CacheAge {
        let reached = |timer: i32| {
            cache_age_seconds.is_some_and(|age| age >= u64::try_from(timer).unwrap_or(0))
        };
        if reached(self.sync_update_seconds) {
            CacheAge::Stale
        } else if cache_age_seconds.is_none() || reached(self.async_update_seconds) {
            CacheAge::Due
        } else {
            CacheAge::Fresh
        }
    }

    /// An age in `class`, for replaying the rules on a class of caches.
    pub fn age_in(&self, class: CacheAge) -> u64 {
        let seconds = match class {
            CacheAge::Fresh => 0,
            CacheAge::Due => self.async_update_seconds,
            CacheAge::Stale => self.sync_update_seconds,
        };
        u64::try_from(seconds).unwrap_or(0)
    }
}

named_enum! {
    /// A cache's age against the program's two timers: what DEFAULT decides by.
    pub enum CacheAge {
        /// Younger than the async timer: started as it is, not updated.
        Fresh => "FRESH",
        /// Past the async timer (or of unknown age): updated in the background.
        Due => "DUE",
        /// At or past the sync timer: updated before starting.
        Stale => "STALE",
    }
}

/// A released version as devices are sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleasedTarget {
    pub number: VersionNumber,
    /// The mode the version was released with.
    pub update_mode: UpdateMode,
}

/// Everything a launch answer of one program depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPolicy {
    pub mini_program_id: String,
    pub workspace_id: String,
    pub global_update_mode: UpdateMode,
    pub timers: UpdateTimers,
    pub full: Option<ReleasedTarget>,
    /// The gray version and the share of devices it reaches.
    pub gray: Option<(ReleasedTarget, i32)>,
    /// The minimum usable version: a device with an older one cached
    /// downloads the target before starting, whatever the mode.
    pub minimum_version: Option<VersionNumber>,
    /// Versions that a rollback took offline: a device that has one cached
    /// downloads the target before starting, whatever the mode.
    pub rolled_back: Vec<VersionNumber>,
    /// Raised whenever any of the above changes.
    pub revision: i32,
}

/// What the device told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchRequest {
    pub device_id: String,
    pub cached_version: Option<VersionNumber>,
    pub cache_age_seconds: Option<u64>,
}

impl LaunchRequest {
    /// Checks the device's input: an opaque id of 1 to 128 visible ASCII
    /// characters, a version number, a number of seconds.
    pub fn parse(
        device_id: Option<&str>,
        cached_version: Option<&str>,
        cache_age_seconds: Option<&str>,
    ) -> Result<Self, RuleViolation> {
        let cache_age_seconds = cache_age_seconds
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    RuleViolation::invalid_input(
                        "cacheAgeSeconds",
                        "must be a whole number of seconds",
                    )
                })
            })
            .transpose()?;
        Self::new(
            device_id.unwrap_or_default(),
            cached_version,
            cache_age_seconds,
        )
    }

    /// The same checks for input that arrives typed (the GraphQL preview).
    pub fn new(
        device_id: &str,
        cached_version: Option<&str>,
        cache_age_seconds: Option<u64>,
    ) -> Result<Self, RuleViolation> {
        if device_id.is_empty()
            || device_id.len() > 128
            || !device_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(RuleViolation::invalid_input(
                "deviceId",
                "must be 1 to 128 visible ASCII characters",
            ));
        }
        let cached_version = cached_version
            .map(|text| {
                VersionNumber::parse(text).map_err(|_| {
                    RuleViolation::invalid_input("cachedVersion", "must be MAJOR.MINOR.PATCH")
                })
            })
            .transpose()?;
        Ok(Self {
            device_id: device_id.to_owned(),
            cached_version,
            cache_age_seconds,
        })
    }
}

/// The answer to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchDecision {
    pub target_version: Option<VersionNumber>,
    pub update_mode: UpdateMode,
    pub action: LaunchAction,
    /// The rule that settled `action`.
    pub rule: LaunchRule,
    pub timers: UpdateTimers,
    /// Whether the target is a gray version for this device.
    pub gray_release: bool,
    pub minimum_version: Option<VersionNumber>,
    pub policy_revision: i32,
}

/// The device's place among the program's devices, 0 to 9999: the first
/// eight bytes of SHA-256(`{miniProgramId}:{deviceId}`), big-endian, modulo
/// 10 000. A device is in the gray group when its place is below
/// `grayPercentage` x 100, so raising the percentage only adds devices, and
/// every process gives the same device the same answer.
pub fn gray_bucket(mini_program_id: &str, device_id: &str) -> u64 {
    let digest = Sha256::digest(format!("{mini_program_id}:{device_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 10_000
}

pub fn in_gray_group(mini_program_id: &str, device_id: &str, gray_percentage: i32) -> bool {
    gray_bucket(mini_program_id, device_id) < u64::try_from(gray_percentage).unwrap_or(0) * 100
}

/// The rule that settled a launch action, so that a preview can say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchRule {
    NothingReleased,
    FirstOpen,
    CachedIsTarget,
    /// The cached version is newer than the target: it was taken offline.
    NewerThanTarget,
    BelowMinimum(VersionNumber),
    RolledBack,
    /// The target's mode decided (SYNC, ASYNC, or DEFAULT and the cache age).
    Mode,
}

/// What a device with `cached_version` and `cache_age_seconds` does when
/// sent to `target`: the action and the rule that settled it. Shared by
/// launch answers and by the impact previews, which ask it for the
/// versions and cache ages devices reported.
pub fn decide_action(
    policy: &LaunchPolicy,
    target: Option<ReleasedTarget>,
    cached_version: Option<VersionNumber>,
    cache_age_seconds: Option<u64>,
) -> (LaunchAction, LaunchRule) {
    let Some(target) = target else {
        return (LaunchAction::None, LaunchRule::NothingReleased);
    };
    let Some(cached) = cached_version else {
        return (LaunchAction::SyncDownload, LaunchRule::FirstOpen);
    };
    if cached == target.number {
        return (LaunchAction::None, LaunchRule::CachedIsTarget);
    }
    // The cached version was taken offline: roll back before starting.
    if cached > target.number {
        return (LaunchAction::SyncDownload, LaunchRule::NewerThanTarget);
    }
    // Below the floor: never started again.
    if let Some(floor) = policy.minimum_version.filter(|floor| cached < *floor) {
        return (LaunchAction::SyncDownload, LaunchRule::BelowMinimum(floor));
    }
    // A rolled-back version is never started again.
    if policy.rolled_back.contains(&cached) {
        return (LaunchAction::SyncDownload, LaunchRule::RolledBack);
    }
    let action = match target.update_mode {
        UpdateMode::Sync => LaunchAction::SyncDownload,
        UpdateMode::Async => LaunchAction::AsyncDownload,
        UpdateMode::Default => match policy.timers.cache_age(cache_age_seconds) {
            // Before the async time the device starts its cache unchecked.
            CacheAge::Fresh => LaunchAction::None,
            CacheAge::Due => LaunchAction::AsyncDownload,
            CacheAge::Stale => LaunchAction::SyncDownload,
        },
    };
    (action, LaunchRule::Mode)
}

/// Whether the device's bucket is in the gray group of the program's gray
/// version.
pub fn in_gray_release(policy: &LaunchPolicy, device_id: &str) -> bool {
    policy.gray.is_some_and(|(_, percentage)| {
        in_gray_group(&policy.mini_program_id, device_id, percentage)
    })
}

impl LaunchPolicy {
    /// The version a device is sent to: the gray version for a device of
    /// the gray group, else the full release.
    pub fn target(&self, in_gray_group: bool) -> Option<ReleasedTarget> {
        self.gray
            .filter(|_| in_gray_group)
            .map(|(target, _)| target)
            .or(self.full)
    }
}

/// Decides what a device does at a cold start.
pub fn decide_launch(policy: &LaunchPolicy, request: &LaunchRequest) -> LaunchDecision {
    let gray_release = in_gray_release(policy, &request.device_id);
    let target = policy.target(gray_release);
    let (action, rule) = decide_action(
        policy,
        target,
        request.cached_version,
        request.cache_age_seconds,
    );
    LaunchDecision {
        target_version: target.map(|t| t.number),
        update_mode: target.map_or(policy.global_update_mode, |t| t.update_mode),
        action,
        rule,
        timers: policy.timers,
        gray_release,
        minimum_version: policy.minimum_version,
        policy_revision: policy.revision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> VersionNumber {
        VersionNumber::parse(text).unwrap()
    }

    fn policy(
        full: Option<(&str, UpdateMode)>,
        gray: Option<(&str, UpdateMode, i32)>,
    ) -> LaunchPolicy {
        LaunchPolicy {
            mini_program_id: "p1".into(),
            workspace_id: "acme".into(),
            global_update_mode: UpdateMode::Sync,
            timers: UpdateTimers::default(),
            full: full.map(|(n, mode)| ReleasedTarget {
                number: v(n),
                update_mode: mode,
            }),
            gray: gray.map(|(n, mode, p)| {
                (
                    ReleasedTarget {
                        number: v(n),
                        update_mode: mode,
                    },
                    p,
                )
            }),
            rolled_back: Vec::new(),
            minimum_version: None,
            revision: 7,
        }
    }

    fn request(cached: Option<&str>, age: Option<u64>) -> LaunchRequest {
        LaunchRequest {
            device_id: "device-1".into(),
            cached_version: cached.map(v),
            cache_age_seconds: age,
        }
    }

    fn action(policy: &LaunchPolicy, cached: Option<&str>, age: Option<u64>) -> LaunchAction {
        decide_launch(policy, &request(cached, age)).action
    }

    #[test]
    fn nothing_released_means_nothing_to_do() {
        let decision = decide_launch(&policy(None, None), &request(None, None));
        assert_eq!(decision.action, LaunchAction::None);
        assert_eq!(decision.target_version, None);
        assert_eq!(decision.update_mode, UpdateMode::Sync, "the global mode");
    }

    #[test]
    fn a_first_open_downloads_before_starting() {
        for mode in [UpdateMode::Default, UpdateMode::Async, UpdateMode::Sync] {
            assert_eq!(
                action(&policy(Some(("1.0.0", mode)), None), None, None),
                LaunchAction::SyncDownload
            );
        }
    }

    #[test]
    fn a_rolled_back_cache_is_replaced_before_starting_whatever_the_mode() {
        for mode in [UpdateMode::Default, UpdateMode::Async, UpdateMode::Sync] {
            let mut restored = policy(Some(("1.0.0", mode)), None);
            restored.rolled_back = vec![v("1.1.0")];
            assert_eq!(
                action(&restored, Some("1.1.0"), Some(1)),
                LaunchAction::SyncDownload
            );
            // A newer release after the rollback still replaces it at once.
            let mut newer = policy(Some(("1.2.0", mode)), None);
            newer.rolled_back = vec![v("1.1.0")];
            assert_eq!(
                action(&newer, Some("1.1.0"), Some(1)),
                LaunchAction::SyncDownload
            );
        }
    }

    #[test]
    fn a_cache_below_the_minimum_version_is_replaced_before_starting() {
        for mode in [UpdateMode::Default, UpdateMode::Async, UpdateMode::Sync] {
            let mut floored = policy(Some(("1.5.0", mode)), None);
            floored.minimum_version = Some(v("1.4.2"));
            assert_eq!(
                action(&floored, Some("1.4.1"), Some(1)),
                LaunchAction::SyncDownload
            );
            let at_floor = action(&floored, Some("1.4.2"), Some(1));
            assert_eq!(
                at_floor,
                action(&policy(Some(("1.5.0", mode)), None), Some("1.4.2"), Some(1)),
                "at the floor the mode decides"
            );
            assert_eq!(
                decide_launch(&floored, &request(None, None)).minimum_version,
                Some(v("1.4.2"))
            );
        }
    }

    #[test]
    fn the_cached_target_starts_as_is() {
        for mode in [UpdateMode::Default, UpdateMode::Async, UpdateMode::Sync] {
            assert_eq!(
                action(
                    &policy(Some(("1.0.0", mode)), None),
                    Some("1.0.0"),
                    Some(99_999_999)
                ),
                LaunchAction::None
            );
        }
    }

    #[test]
    fn each_mode_updates_an_older_cache_its_way() {
        let sync = policy(Some(("1.1.0", UpdateMode::Sync)), None);
        assert_eq!(
            action(&sync, Some("1.0.0"), Some(1)),
            LaunchAction::SyncDownload
        );
        let async_ = policy(Some(("1.1.0", UpdateMode::Async)), None);
        assert_eq!(
            action(&async_, Some("1.0.0"), Some(99_999_999)),
            LaunchAction::AsyncDownload
        );
        let default = policy(Some(("1.1.0", UpdateMode::Default)), None);
        assert_eq!(
            action(&default, Some("1.0.0"), None),
            LaunchAction::AsyncDownload
        );
        assert_eq!(
            action(&default, Some("1.0.0"), Some(3599)),
            LaunchAction::None,
            "before the async time the cache starts unchecked"
        );
        assert_eq!(
            action(&default, Some("1.0.0"), Some(3600)),
            LaunchAction::AsyncDownload
        );
        assert_eq!(
            action(&default, Some("1.0.0"), Some(5400)),
            LaunchAction::AsyncDownload
        );
        assert_eq!(
            action(&default, Some("1.0.0"), Some(863_999)),
            LaunchAction::AsyncDownload
        );
        assert_eq!(
            action(&default, Some("1.0.0"), Some(864_000)),
            LaunchAction::SyncDownload
        );
    }

    #[test]
    fn a_newer_cache_than_the_target_is_rolled_back() {
        let async_ = policy(Some(("1.0.0", UpdateMode::Async)), None);
        assert_eq!(
            action(&async_, Some("1.1.0"), Some(1)),
            LaunchAction::SyncDownload
        );
    }

    #[test]
    fn the_gray_group_gets_the_gray_version_with_its_mode() {
        let everyone = policy(
            Some(("1.0.0", UpdateMode::Default)),
            Some(("1.1.0", UpdateMode::Sync, 99)),
        );
        let in_group = (0..1000)
            .map(|i| format!("device-{i}"))
            .find(|id| in_gray_group("p1", id, 99))
            .unwrap();
        let decision = decide_launch(
            &everyone,
            &LaunchRequest {
                device_id: in_group,
                cached_version: Some(v("1.0.0")),
                cache_age_seconds: None,
            },
        );
        assert!(decision.gray_release);
        assert_eq!(decision.target_version, Some(v("1.1.0")));
        assert_eq!(decision.update_mode, UpdateMode::Sync);
        assert_eq!(decision.action, LaunchAction::SyncDownload);
    }

    #[test]
    fn gray_groups_have_the_asked_size_and_only_grow() {
        let devices: Vec<String> = (0..100_000).map(|i| format!("device-{i:06}")).collect();
        for percentage in [1, 10, 25, 50, 99] {
            let members = devices
                .iter()
                .filter(|d| in_gray_group("prog-7", d, percentage))
                .count();
            let share = members as f64 / devices.len() as f64 * 100.0;
            assert!(
                (share - f64::from(percentage)).abs() <= 0.5,
                "{percentage}% gave {share:.2}%"
            );
        }
        for device in devices.iter().take(5000) {
            if in_gray_group("prog-7", device, 10) {
                assert!(in_gray_group("prog-7", device, 11));
            }
        }
    }

    #[test]
    fn the_bucket_is_the_documented_hash() {
        // Computed independently (Python's hashlib) and pinned, so that SDKs
        // and tools reproducing the formula agree, and a change cannot go unnoticed.
        assert_eq!(gray_bucket("p1", "device-1"), 2361);
        assert_ne!(gray_bucket("p1", "device-1"), gray_bucket("p2", "device-1"));
    }

    #[test]
    fn device_input_is_checked() {
        assert!(LaunchRequest::parse(Some("abc-123_XYZ"), Some("1.2.0"), Some("5400")).is_ok());
        for bad in [None, Some(""), Some("has space"), Some("ünicode")] {
            assert!(LaunchRequest::parse(bad, None, None).is_err(), "{bad:?}");
        }
        assert!(LaunchRequest::parse(Some(&"x".repeat(129)), None, None).is_err());
        assert!(LaunchRequest::parse(Some(&"x".repeat(128)), None, None).is_ok());
        assert!(LaunchRequest::parse(Some("d"), Some("1.2"), None).is_err());
        assert!(LaunchRequest::parse(Some("d"), None, Some("-5")).is_err());
        assert!(LaunchRequest::parse(Some("d"), None, Some("soon")).is_err());
    }

    #[test]
    fn timers_must_be_ordered_and_bounded() {
        assert!(UpdateTimers::new(60, 3600).is_ok());
        assert!(UpdateTimers::new(3600, 3600).is_err());
        assert!(UpdateTimers::new(0, 3600).is_err());
        assert!(UpdateTimers::new(60, MAX_UPDATE_SECONDS + 1).is_err());
    }
}
