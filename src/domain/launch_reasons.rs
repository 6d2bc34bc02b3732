//! Why a device gets its launch answer, in the words of a release manager:
//! the rules of `decide_launch` in the order they applied.

use super::{
    CacheAge, LaunchDecision, LaunchPolicy, LaunchRequest, LaunchRule, ReleasedTarget, UpdateMode,
    gray_bucket,
};

/// The rules that produced `decision` for `request`, in order: the gray
/// group, the target, the mode, the rule that settled the action (with the
/// cache age against the timers), then the minimum version and rollbacks.
pub fn launch_reasons(
    policy: &LaunchPolicy,
    request: &LaunchRequest,
    decision: &LaunchDecision,
) -> Vec<String> {
    let target = policy.target(decision.gray_release);
    let mut reasons = vec![gray_reason(policy, request, decision.gray_release)];
    reasons.push(match target {
        Some(target) if decision.gray_release => {
            format!("The target is the gray version {}.", target.number)
        }
        Some(target) => format!("The target is the full release {}.", target.number),
        None => "Nothing is released to this device: it starts what it has.".to_owned(),
    });
    reasons.push(mode_reason(policy, target));
    if let Some(target) = target {
        reasons.push(rule_reason(policy, request, decision, target));
    }
    let cached = request.cached_version;
    if let (Some(floor), Some(cached)) = (policy.minimum_version, cached) {
        if cached >= floor {
            reasons.push(format!(
                "The minimum version {floor} does not apply: the cached {cached} is not below it."
            ));
        }
    }
    if !policy.rolled_back.is_empty() && decision.rule != LaunchRule::RolledBack {
        let versions: Vec<String> = policy.rolled_back.iter().map(ToString::to_string).collect();
        reasons.push(format!(
            "Rolled back and never started again: {}.",
            versions.join(", ")
        ));
    }
    reasons
}

fn gray_reason(policy: &LaunchPolicy, request: &LaunchRequest, in_group: bool) -> String {
    let Some((gray, percentage)) = policy.gray else {
        return "No version is in gray release: every device is sent to the full release."
            .to_owned();
    };
    let bucket = gray_bucket(&policy.mini_program_id, &request.device_id);
    let limit = i64::from(percentage) * 100;
    let verdict = if in_group {
        "below that, so this device is in the gray group"
    } else {
        "not below that, so this device is not in the gray group"
    };
    format!(
        "This device's gray bucket is {bucket} of 10,000; {} is gray-released to {percentage}% \
         (buckets below {limit}): {verdict}.",
        gray.number
    )
}

fn mode_reason(policy: &LaunchPolicy, target: Option<ReleasedTarget>) -> String {
    let global = policy.global_update_mode;
    match target {
        None => format!("The mode is the global mode, {global}, since nothing is released."),
        Some(target) if target.update_mode == global => format!(
            "The mode is {global}: {} was released with it, and it is also the global mode.",
            target.number
        ),
        Some(target) => format!(
            "The mode is {}: {} was released with it. The global mode, {global}, applies to \
             versions submitted from now on.",
            target.update_mode, target.number
        ),
    }
}

fn rule_reason(
    policy: &LaunchPolicy,
    request: &LaunchRequest,
    decision: &LaunchDecision,
    target: ReleasedTarget,
) -> String {
    let version = target.number;
    let cached = request
        .cached_version
        .map_or_else(String::new, |cached| cached.to_string());
    match decision.rule {
        LaunchRule::NothingReleased => "Nothing is released: there is nothing to do.".to_owned(),
        LaunchRule::FirstOpen => format!(
            "Nothing is cached (a first open), so the device downloads {version} before \
             starting, whatever the mode."
        ),
        LaunchRule::CachedIsTarget => {
            format!("The cached version is the target, {version}: the device starts it as it is.")
        }
        LaunchRule::NewerThanTarget => format!(
            "The cached {cached} is newer than the target: it was taken offline, so the device \
             downloads {version} before starting."
        ),
        LaunchRule::BelowMinimum(floor) => format!(
            "The cached {cached} is below the minimum version {floor}, so the device downloads \
             {version} before starting, whatever the mode."
        ),
        LaunchRule::RolledBack => format!(
            "The cached {cached} was rolled back and is never started again, so the device \
             downloads {version} before starting, whatever the mode."
        ),
        LaunchRule::Mode => match target.update_mode {
            UpdateMode::Sync => format!(
                "Under SYNC the device downloads {version} before starting, whatever its cache age."
            ),
            UpdateMode::Async => format!(
                "Under ASYNC the device starts the cached {cached} and downloads {version} in \
                 the background, whatever its cache age."
            ),
            UpdateMode::Default => default_reason(policy, request, &cached, version),
        },
    }
}

fn default_reason(
    policy: &LaunchPolicy,
    request: &LaunchRequest,
    cached: &str,
    version: super::VersionNumber,
) -> String {
    let timers = policy.timers;
    let async_timer = seconds(timers.age_in(CacheAge::Due));
    let sync_timer = seconds(timers.age_in(CacheAge::Stale));
    let Some(age) = request.cache_age_seconds else {
        return format!(
            "Under DEFAULT with no cache age reported, the device starts the cached {cached} and \
             downloads {version} in the background."
        );
    };
    let age_text = seconds(age);
    match timers.cache_age(Some(age)) {
        CacheAge::Fresh => format!(
            "Under DEFAULT the cache age, {age_text}, is below the async timer ({async_timer}), \
             so the device starts the cached {cached} without updating it yet."
        ),
        CacheAge::Due => format!(
            "Under DEFAULT the cache age, {age_text}, is past the async timer ({async_timer}) \
             and below the sync timer ({sync_timer}), so the device starts the cached {cached} \
             and downloads {version} in the background."
        ),
        CacheAge::Stale => format!(
            "Under DEFAULT the cache age, {age_text}, is at or past the sync timer \
             ({sync_timer}), so the device downloads {version} before starting."
        ),
    }
}

/// Seconds as a release manager reads them: `45 s`, `1h 30m`, `10days`.
fn seconds(count: u64) -> String {
    if count < 60 {
        format!("{count} s")
    } else {
        humantime::format_duration(std::time::Duration::from_secs(count)).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LaunchAction, UpdateTimers, VersionNumber, decide_launch};

    fn v(text: &str) -> VersionNumber {
        VersionNumber::parse(text).unwrap()
    }

    fn policy() -> LaunchPolicy {
        LaunchPolicy {
            mini_program_id: "p1".into(),
            workspace_id: "acme".into(),
            global_update_mode: UpdateMode::Sync,
            timers: UpdateTimers::default(),
            full: Some(ReleasedTarget {
                number: v("1.0.0"),
                update_mode: UpdateMode::Default,
            }),
            gray: Some((
                ReleasedTarget {
                    number: v("1.1.0"),
                    update_mode: UpdateMode::Default,
                },
                20,
            )),
            minimum_version: Some(v("0.9.0")),
            rolled_back: vec![v("0.9.5")],
            revision: 3,
        }
    }

    fn explain(policy: &LaunchPolicy, cached: Option<&str>, age: Option<u64>) -> Vec<String> {
        // device-1's bucket in p1 is 2361: outside a 20% gray group.
        let request = LaunchRequest {
            device_id: "device-1".into(),
            cached_version: cached.map(v),
            cache_age_seconds: age,
        };
        let decision = decide_launch(policy, &request);
        launch_reasons(policy, &request, &decision)
    }

    #[test]
    fn the_reasons_follow_the_rules_in_order() {
        let reasons = explain(&policy(), Some("0.9.2"), Some(5400));
        assert_eq!(
            reasons,
            [
                "This device's gray bucket is 2361 of 10,000; 1.1.0 is gray-released to 20% \
                 (buckets below 2000): not below that, so this device is not in the gray group.",
                "The target is the full release 1.0.0.",
                "The mode is DEFAULT: 1.0.0 was released with it. The global mode, SYNC, applies \
                 to versions submitted from now on.",
                "Under DEFAULT the cache age, 1h 30m, is past the async timer (1h) and below the \
                 sync timer (10days), so the device starts the cached 0.9.2 and downloads 1.0.0 \
                 in the background.",
                "The minimum version 0.9.0 does not apply: the cached 0.9.2 is not below it.",
                "Rolled back and never started again: 0.9.5.",
            ]
        );
    }

    #[test]
    fn the_deciding_rule_is_named() {
        let cases = [
            (Some("0.8.0"), "below the minimum version 0.9.0"),
            (Some("0.9.5"), "was rolled back"),
            (Some("1.0.0"), "the device starts it as it is"),
            (Some("1.2.0"), "newer than the target"),
            (None, "a first open"),
        ];
        for (cached, words) in cases {
            let reasons = explain(&policy(), cached, Some(1));
            assert!(
                reasons.iter().any(|reason| reason.contains(words)),
                "{cached:?}: {reasons:?}"
            );
        }
        let stale = explain(&policy(), Some("0.9.2"), Some(864_000));
        assert!(stale[3].contains("at or past the sync timer"), "{stale:?}");
        let fresh = explain(&policy(), Some("0.9.2"), Some(60));
        assert!(
            fresh[3].contains("1m, is below the async timer"),
            "{fresh:?}"
        );
    }

    #[test]
    fn a_device_of_the_gray_group_is_told_so() {
        let mut everyone = policy();
        everyone.gray = everyone.gray.map(|(target, _)| (target, 100));
        let reasons = explain(&everyone, Some("1.0.0"), None);
        assert!(reasons[0].ends_with("so this device is in the gray group."));
        assert_eq!(reasons[1], "The target is the gray version 1.1.0.");
        let request = LaunchRequest {
            device_id: "device-1".into(),
            cached_version: Some(v("1.0.0")),
            cache_age_seconds: None,
        };
        assert_eq!(
            decide_launch(&everyone, &request).action,
            LaunchAction::AsyncDownload
        );
    }

    #[test]
    fn nothing_released_says_so() {
        let mut empty = policy();
        empty.full = None;
        empty.gray = None;
        empty.minimum_version = None;
        empty.rolled_back.clear();
        assert_eq!(
            explain(&empty, None, None),
            [
                "No version is in gray release: every device is sent to the full release.",
                "Nothing is released to this device: it starts what it has.",
                "The mode is the global mode, SYNC, since nothing is released.",
            ]
        );
    }
}
