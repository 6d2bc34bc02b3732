//! Device check-ins: every launch answer counts one, so that release
//! managers see which versions devices run and what a change would do
//! before they make it. Check-ins are kept per program and hour in groups
//! of the same kind (cached version, action answered, gray group, cache
//! age against the sync timer): an exact count, and the distinct devices
//! as a HyperLogLog sketch of the device ids' hashes, which merges across
//! processes and hours.

use std::collections::hash_map::DefaultHasher;

use cardinality_estimator::CardinalityEstimator;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use super::{
    CacheAge, LaunchAction, LaunchDecision, LaunchPolicy, LaunchRequest, ReleasedTarget,
    RuleViolation, UpdateMode, VersionNumber, decide_action,
};

/// 2^14 registers: a standard error of 0.81%, so estimates stay well within
/// 3% of the truth; exact up to 128 devices, then 12 KiB at most.
const PRECISION: usize = 14;
const REGISTER_BITS: usize = 6;
/// The first byte of a stored sketch: its encoding.
const SKETCH_FORMAT: u8 = 1;
/// The bits of the estimator's `data` that name its representation.
const REPRESENTATION_TAG: usize = 0b11;
/// The longest window a reader may ask for: the default retention.
pub const MAX_WINDOW_HOURS: i32 = 720;

/// The hasher type is unused: devices are inserted by their own hash.
type Estimator = CardinalityEstimator<u64, DefaultHasher, PRECISION, REGISTER_BITS>;

/// The distinct devices of a group, as a mergeable estimate.
#[derive(Clone, Default)]
pub struct DeviceSketch(Estimator);

impl std::fmt::Debug for DeviceSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceSketch(~{})", self.devices())
    }
}

impl PartialEq for DeviceSketch {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// A stored sketch that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable device sketch: {0}")]
pub struct SketchError(String);

impl DeviceSketch {
    pub fn insert(&mut self, device: DeviceHash) {
        self.0.insert_hash(device.0);
    }

    pub fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0);
    }

    /// The estimated number of distinct devices.
    pub fn devices(&self) -> u64 {
        u64::try_from(self.0.estimate()).unwrap_or(u64::MAX)
    }

    /// The stored form: a format byte, then the estimator's own serde form,
    /// `(data, registers)`. Beside registers, `data` also holds their heap
    /// address, of which only the representation tag (the low two bits) is
    /// read back: the address is dropped, so the same devices store the same
    /// bytes and no address of this process is written out.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![SKETCH_FORMAT];
        // Serializing into a Vec cannot fail, nor reading back what it wrote.
        if let Ok(encoded) = postcard::to_allocvec(&self.0)
            && let Ok((data, registers)) =
                postcard::from_bytes::<(usize, Option<Vec<u32>>)>(&encoded)
        {
            let data = if registers.is_some() {
                data & REPRESENTATION_TAG
            } else {
                data
            };
            if let Ok(encoded) = postcard::to_allocvec(&(data, registers)) {
                bytes.extend(encoded);
            }
        }
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        match bytes.split_first() {
            Some((&SKETCH_FORMAT, encoded)) => postcard::from_bytes(encoded)
                .map(Self)
                .map_err(|error| SketchError(error.to_string())),
            Some((format, _)) => Err(SketchError(format!("unknown format {format}"))),
            None => Err(SketchError("empty".into())),
        }
    }
}

/// What a sketch keeps of a device: 64 bits of SHA-256 of
/// `{miniProgramId}:{deviceId}`, the bytes after those of the gray bucket,
/// so that a sketch of one gray group is not skewed by the bucket's bits,
/// and a device cannot be followed from one program to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceHash(u64);

impl DeviceHash {
    pub fn of(mini_program_id: &str, device_id: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(mini_program_id.as_bytes())
            .chain_update(b":")
            .chain_update(device_id.as_bytes())
            .finalize();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[8..16]);
        Self(u64::from_be_bytes(bytes))
    }
}

/// The kind of a check-in: what is counted together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckInKind {
    /// The start of the hour (UTC).
    pub hour: DateTime<Utc>,
    /// None: nothing cached (a first open).
    pub cached_version: Option<VersionNumber>,
    pub action: LaunchAction,
    /// Whether the device was sent to the gray version.
    pub gray: bool,
    /// Its cache age against the program's timers, what DEFAULT decides by.
    pub cache_age: CacheAge,
}

impl CheckInKind {
    pub fn of(request: &LaunchRequest, decision: &LaunchDecision, at: DateTime<Utc>) -> Self {
        Self {
            hour: hour_of(at),
            cached_version: request.cached_version,
            action: decision.action,
            gray: decision.gray_release,
            cache_age: decision.timers.cache_age(request.cache_age_seconds),
        }
    }
}

/// The start of the hour `at` falls in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// The check-ins of one kind of one program.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckInGroup {
    pub kind: CheckInKind,
    pub check_ins: u64,
    pub devices: DeviceSketch,
    /// When a flush last added to it.
    pub updated_at: DateTime<Utc>,
}

/// The last `hours` hours, the current one included: 1 to 720.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdoptionWindow {
    hours: i32,
}

impl AdoptionWindow {
    pub fn new(since_hours: i32) -> Result<Self, RuleViolation> {
        if !(1..=MAX_WINDOW_HOURS).contains(&since_hours) {
            return Err(RuleViolation::invalid_input(
                "sinceHours",
                format!("must be between 1 and {MAX_WINDOW_HOURS}"),
            ));
        }
        Ok(Self { hours: since_hours })
    }

    /// The first hour in the window.
    pub fn first_hour(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        hour_of(now) - TimeDelta::hours(i64::from(self.hours - 1))
    }
}

/// Check-ins and devices of one version; `version` None is first opens.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionAdoption {
    pub version: Option<VersionNumber>,
    pub check_ins: u64,
    pub devices: u64,
    /// Of all the devices seen, 0 to 1.
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Adoption {
    pub check_ins: u64,
    pub devices: u64,
    /// Most devices first.
    pub versions: Vec<VersionAdoption>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The groups' check-ins by the version devices had cached. A device that
/// updated within the window is counted under each version it reported.
pub fn adoption(groups: &[CheckInGroup]) -> Adoption {
    let mut everyone = DeviceSketch::default();
    let mut by_version: Vec<(Option<VersionNumber>, u64, DeviceSketch)> = Vec::new();
    for group in groups {
        everyone.merge(&group.devices);
        let version = group.kind.cached_version;
        match by_version.iter_mut().find(|(seen, ..)| *seen == version) {
            Some((_, check_ins, devices)) => {
                *check_ins += group.check_ins;
                devices.merge(&group.devices);
            }
            None => by_version.push((version, group.check_ins, group.devices.clone())),
        }
    }
    let check_ins = groups.iter().map(|group| group.check_ins).sum();
    let devices = everyone.devices().min(check_ins);
    let mut versions: Vec<VersionAdoption> = by_version
        .into_iter()
        .map(|(version, check_ins, sketch)| {
            // An estimate never shows more devices than answers given.
            let version_devices = sketch.devices().min(devices).min(check_ins);
            VersionAdoption {
                version,
                check_ins,
                devices: version_devices,
                share: share(version_devices, devices),
            }
        })
        .collect();
    versions.sort_by(|a, b| b.devices.cmp(&a.devices).then(b.version.cmp(&a.version)));
    Adoption {
        check_ins,
        devices,
        versions,
        updated_at: groups.iter().map(|group| group.updated_at).max(),
    }
}

/// The distinct devices of one version in one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptionPoint {
    pub hour: DateTime<Utc>,
    pub version: Option<VersionNumber>,
    pub devices: u64,
}

/// Devices per hour and version, oldest hour first, then by version.
pub fn adoption_series(groups: &[CheckInGroup]) -> Vec<AdoptionPoint> {
    let mut sorted: Vec<&CheckInGroup> = groups.iter().collect();
    sorted.sort_by_key(|group| (group.kind.hour, group.kind.cached_version));
    let mut points: Vec<(DateTime<Utc>, Option<VersionNumber>, DeviceSketch)> = Vec::new();
    for group in sorted {
        let key = (group.kind.hour, group.kind.cached_version);
        match points.last_mut() {
            Some((hour, version, devices)) if (*hour, *version) == key => {
                devices.merge(&group.devices)
            }
            _ => points.push((key.0, key.1, group.devices.clone())),
        }
    }
    points
        .into_iter()
        .map(|(hour, version, devices)| AdoptionPoint {
            hour,
            version,
            devices: devices.devices(),
        })
        .collect()
}

/// Each group with the devices whose last report it holds, estimated
/// through the sketches: groups are taken from the newest hour back, and a
/// group is credited with how much it grows the union of the groups taken
/// before it. Within an hour, whose order of reports is not kept, the
/// smallest group goes first, so that small groups are counted most
/// precisely. The credits add up to the estimate of all distinct devices.
pub fn last_reports(groups: &[CheckInGroup]) -> Vec<(&CheckInGroup, u64)> {
    let mut newest_first: Vec<(&CheckInGroup, u64)> = groups
        .iter()
        .map(|group| (group, group.devices.devices()))
        .collect();
    newest_first.sort_by(|(a, a_devices), (b, b_devices)| {
        b.kind
            .hour
            .cmp(&a.kind.hour)
            .then(a_devices.cmp(b_devices))
            .then(b.kind.cmp(&a.kind))
    });
    let mut seen = DeviceSketch::default();
    let mut counted = 0;
    newest_first
        .into_iter()
        .map(|(group, _)| {
            seen.merge(&group.devices);
            let now_seen = seen.devices().max(counted);
            let credit = now_seen - counted;
            counted = now_seen;
            (group, credit)
        })
        .collect()
}

/// `part` of `whole`, 0 to 1.
pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).min(1.0)
    }
}

/// What the devices seen would be told under a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionCounts {
    pub devices: u64,
    /// Every action, in the order of `LaunchAction::ALL`.
    pub by_action: Vec<(LaunchAction, u64)>,
}

/// Counts each device once, by its last report, under the action
/// `decide` gives its group.
pub fn count_actions(
    groups: &[CheckInGroup],
    mut decide: impl FnMut(&CheckInKind) -> LaunchAction,
) -> ActionCounts {
    let mut by_action: Vec<(LaunchAction, u64)> = LaunchAction::ALL
        .iter()
        .map(|action| (*action, 0))
        .collect();
    let mut devices = 0;
    for (group, credit) in last_reports(groups) {
        let action = decide(&group.kind);
        if let Some((_, count)) = by_action.iter_mut().find(|(a, _)| *a == action) {
            *count += credit;
        }
        devices += credit;
    }
    ActionCounts { devices, by_action }
}

/// What the devices seen would be told if the program's targets (its full
/// release and its gray version, to the same devices) were released with
/// `mode`: each device once, by the version and cache age it last reported.
pub fn update_mode_impact(
    policy: &LaunchPolicy,
    mode: UpdateMode,
    groups: &[CheckInGroup],
) -> ActionCounts {
    let with_mode = |target: ReleasedTarget| ReleasedTarget {
        update_mode: mode,
        ..target
    };
    let under = LaunchPolicy {
        full: policy.full.map(with_mode),
        gray: policy
            .gray
            .map(|(target, share)| (with_mode(target), share)),
        ..policy.clone()
    };
    count_actions(groups, |kind| {
        let age = policy.timers.age_in(kind.cache_age);
        decide_action(
            &under,
            under.target(kind.gray),
            kind.cached_version,
            Some(age),
        )
        .0
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct MinimumVersionImpact {
    pub devices_below: u64,
    pub share: f64,
}

/// The devices whose last reported version is older than `floor`, and
/// their share of all devices seen (first opens included).
pub fn minimum_version_impact(
    groups: &[CheckInGroup],
    floor: VersionNumber,
) -> MinimumVersionImpact {
    let mut devices = 0;
    let mut devices_below = 0;
    for (group, credit) in last_reports(groups) {
        devices += credit;
        if group
            .kind
            .cached_version
            .is_some_and(|cached| cached < floor)
        {
            devices_below += credit;
        }
    }
    MinimumVersionImpact {
        devices_below,
        share: share(devices_below, devices),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> VersionNumber {
        VersionNumber::parse(text).unwrap()
    }

    fn at(hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 12, 3, hour, 0, 0).unwrap()
    }

    fn group(hour: u32, version: Option<&str>, devices: std::ops::Range<u32>) -> CheckInGroup {
        let mut sketch = DeviceSketch::default();
        for device in devices.clone() {
            sketch.insert(DeviceHash::of("p1", &format!("device-{device}")));
        }
        CheckInGroup {
            kind: CheckInKind {
                hour: at(hour),
                cached_version: version.map(v),
                action: LaunchAction::AsyncDownload,
                gray: false,
                cache_age: CacheAge::Due,
            },
            check_ins: u64::from(devices.len() as u32) * 2,
            devices: sketch,
            updated_at: at(hour),
        }
    }

    fn within(estimate: u64, truth: u64, tolerance: f64) -> bool {
        (estimate as f64 - truth as f64).abs() <= truth as f64 * tolerance
    }

    #[test]
    fn small_populations_are_counted_exactly_and_large_ones_within_a_percent() {
        for devices in [0, 1, 2, 3, 100, 128] {
            assert_eq!(
                group(1, None, 0..devices).devices.devices(),
                u64::from(devices)
            );
        }
        for devices in [1_000, 5_000, 40_000, 250_000] {
            let estimate = group(1, None, 0..devices).devices.devices();
            assert!(
                within(estimate, u64::from(devices), 0.02),
                "{devices}: {estimate}"
            );
        }
    }

    #[test]
    fn sketches_survive_storage_and_merge_as_unions() {
        for devices in [0, 2, 50, 20_000] {
            let original = group(1, None, 0..devices).devices;
            let stored = DeviceSketch::from_bytes(&original.to_bytes()).unwrap();
            assert_eq!(stored, original);
            let twin = group(1, None, 0..devices).devices;
            assert_eq!(twin.to_bytes(), original.to_bytes(), "{devices}");
        }
        let mut union = group(1, None, 0..6_000).devices;
        union.merge(&group(2, None, 3_000..9_000).devices);
        assert!(within(union.devices(), 9_000, 0.02), "{}", union.devices());
        assert!(DeviceSketch::from_bytes(&[]).is_err());
        assert!(DeviceSketch::from_bytes(&[9, 1, 2]).is_err());
        assert!(DeviceSketch::from_bytes(&[SKETCH_FORMAT, 255]).is_err());
    }

    #[test]
    fn adoption_counts_check_ins_exactly_and_shares_devices() {
        let groups = [
            group(1, Some("1.0.0"), 0..3_000),
            group(2, Some("1.1.0"), 3_000..10_000),
            group(2, None, 10_000..10_050),
        ];
        let seen = adoption(&groups);
        assert_eq!(seen.check_ins, 20_100);
        assert!(within(seen.devices, 10_050, 0.02));
        let versions: Vec<_> = seen.versions.iter().map(|v| v.version).collect();
        assert_eq!(versions, [Some(v("1.1.0")), Some(v("1.0.0")), None]);
        assert_eq!(seen.versions[2].devices, 50, "exact when small");
        assert!((seen.versions[0].share - 0.7).abs() < 0.02);
        assert_eq!(seen.updated_at, Some(at(2)));
        assert_eq!(adoption(&[]).devices, 0);
    }

    #[test]
    fn the_series_merges_groups_of_the_same_hour_and_version() {
        let mut stale = group(1, Some("1.0.0"), 50..100);
        stale.kind.cache_age = CacheAge::Stale;
        let series = adoption_series(&[
            group(2, Some("1.0.0"), 0..10),
            group(1, Some("1.0.0"), 0..100),
            stale,
        ]);
        assert_eq!(
            series,
            [
                AdoptionPoint {
                    hour: at(1),
                    version: Some(v("1.0.0")),
                    devices: 100
                },
                AdoptionPoint {
                    hour: at(2),
                    version: Some(v("1.0.0")),
                    devices: 10
                },
            ]
        );
    }

    #[test]
    fn a_device_is_credited_to_its_last_report() {
        // 0..40 moved from 1.0.0 (hour 1) to 1.1.0 (hour 2).
        let groups = [
            group(1, Some("1.0.0"), 0..100),
            group(2, Some("1.1.0"), 0..40),
        ];
        let below = minimum_version_impact(&groups, v("1.1.0"));
        assert_eq!(below.devices_below, 60);
        assert!((below.share - 0.6).abs() < 1e-9);
        let counts = count_actions(&groups, |kind| {
            if kind.cached_version == Some(v("1.1.0")) {
                LaunchAction::None
            } else {
                LaunchAction::SyncDownload
            }
        });
        assert_eq!(counts.devices, 100);
        assert_eq!(
            counts.by_action,
            [
                (LaunchAction::None, 40),
                (LaunchAction::SyncDownload, 60),
                (LaunchAction::AsyncDownload, 0)
            ]
        );
    }

    #[test]
    fn credits_of_large_disjoint_groups_stay_within_three_percent_of_the_whole() {
        let sizes = [6_000, 2_500, 1_200, 300];
        let mut start = 0;
        let groups: Vec<CheckInGroup> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let g = group(1, Some(&format!("1.{i}.0")), start..start + size);
                start += size;
                g
            })
            .collect();
        let total: u32 = sizes.iter().sum();
        for (group, credit) in last_reports(&groups) {
            let truth = group.check_ins / 2;
            assert!(
                (credit as f64 - truth as f64).abs() <= f64::from(total) * 0.03,
                "{:?}: {credit} for {truth}",
                group.kind.cached_version
            );
        }
    }

    #[test]
    fn windows_are_one_to_720_hours() {
        assert!(AdoptionWindow::new(0).is_err());
        assert!(AdoptionWindow::new(721).is_err());
        let day = AdoptionWindow::new(24).unwrap();
        let now = at(23) + TimeDelta::minutes(30);
        assert_eq!(day.first_hour(now), at(0));
        assert_eq!(AdoptionWindow::new(1).unwrap().first_hour(now), at(23));
    }

    #[test]
    fn a_device_hashes_apart_in_each_program() {
        assert_ne!(
            DeviceHash::of("p1", "device-1"),
            DeviceHash::of("p2", "device-1")
        );
        // Bytes 8..16 of SHA-256("p1:device-1"), computed apart; bytes
        // 0..8, the gray bucket's, are 0xecb756158d4127b9.
        assert_eq!(DeviceHash::of("p1", "device-1").0, 0xf1f9_999a_f72e_d8af);
    }

    #[test]
    fn the_impact_of_a_mode_follows_the_launch_rules() {
        use crate::domain::UpdateTimers;
        let policy = LaunchPolicy {
            mini_program_id: "p1".into(),
            workspace_id: "acme".into(),
            global_update_mode: UpdateMode::Default,
            timers: UpdateTimers::default(),
            full: Some(ReleasedTarget {
                number: v("2.0.0"),
                update_mode: UpdateMode::Default,
            }),
            gray: None,
            minimum_version: None,
            rolled_back: Vec::new(),
            revision: 1,
        };
        let mut stale = group(1, Some("1.0.0"), 1_000..1_100);
        stale.kind.cache_age = CacheAge::Stale;
        let groups = [
            group(1, Some("1.0.0"), 0..1_000),
            stale,
            group(1, Some("2.0.0"), 2_000..2_010),
            group(1, None, 3_000..3_005),
        ];
        let total = 1_115.0;
        let expect = |mode, expected: [(LaunchAction, u64); 3]| {
            let counts = update_mode_impact(&policy, mode, &groups).by_action;
            for ((action, count), (expected_action, truth)) in counts.iter().zip(expected) {
                assert_eq!(*action, expected_action);
                assert!(
                    (*count as f64 - truth as f64).abs() <= total * 0.03,
                    "{mode:?}: {counts:?}"
                );
            }
        };
        use LaunchAction::{AsyncDownload, None as Start, SyncDownload};
        expect(
            UpdateMode::Default,
            [(Start, 10), (SyncDownload, 105), (AsyncDownload, 1_000)],
        );
        expect(
            UpdateMode::Sync,
            [(Start, 10), (SyncDownload, 1_105), (AsyncDownload, 0)],
        );
        expect(
            UpdateMode::Async,
            [(Start, 10), (SyncDownload, 5), (AsyncDownload, 1_100)],
        );
    }
}
