//! Rollout plans: a version's share of devices grows step by step on a
//! schedule, each step going through the same release rule as a manual
//! release. The rules here decide what a plan may be and where it goes
//! next; the scheduler only applies what they say.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MiniProgramVersion, RuleViolation, VersionStatus};

named_enum! {
    /// Where a plan stands.
    pub enum RolloutStatus {
        /// Advancing on schedule.
        Running => "RUNNING",
        /// Holding its share until resumed.
        Paused => "PAUSED",
        /// Its last step, the full release, applied.
        Completed => "COMPLETED",
        /// Stopped for good; the share it reached stays.
        Cancelled => "CANCELLED",
    }
}

pub const MAX_STEPS: usize = 20;
/// Thirty days: a longer hold is a plan nobody watches.
pub const MAX_HOLD_SECONDS: i32 = 2_592_000;
pub const MAX_REASON_CHARS: usize = 500;

/// One step of a plan: the share it releases to, how long the share stays
/// there before the next step, and when it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStep {
    pub percentage: i32,
    pub hold_seconds: i32,
    pub reached_at: Option<DateTime<Utc>>,
}

/// A rollout plan of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub id: String,
    pub version_id: String,
    pub mini_program_id: String,
    pub workspace_id: String,
    pub status: RolloutStatus,
    pub steps: Vec<RolloutStep>,
    /// The index of the step in force.
    pub current_step: usize,
    /// When the next step is due; set only while RUNNING with a step left.
    pub next_advance_at: Option<DateTime<Utc>>,
    pub paused_reason: Option<String>,
    /// The subject who started the plan: each step is done as them.
    pub started_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Rollout {
    /// The step after the one in force, with its index.
    pub fn next_step(&self) -> Option<(usize, &RolloutStep)> {
        let index = self.current_step + 1;
        self.steps.get(index).map(|step| (index, step))
    }

    /// The plan once step `index` was reached at `at`: the next step falls
    /// due after this step's hold; the last step completes the plan.
    pub fn reached(mut self, index: usize, at: DateTime<Utc>) -> Self {
        self.current_step = index;
        if let Some(step) = self.steps.get_mut(index) {
            step.reached_at = Some(at);
        }
        self.next_advance_at = None;
        if index + 1 >= self.steps.len() {
            self.status = RolloutStatus::Completed;
        } else {
            self.next_advance_at = Some(at + hold(&self.steps[index]));
        }
        self.updated_at = at;
        self
    }

    /// Stops advancing, keeping the share.
    pub fn pause(mut self, reason: String, at: DateTime<Utc>) -> Result<Self, RuleViolation> {
        self.require(&[RolloutStatus::Running], "paused")?;
        self.status = RolloutStatus::Paused;
        self.paused_reason = Some(reason);
        self.next_advance_at = None;
        self.updated_at = at;
        Ok(self)
    }

    /// Advances again; the hold of the step in force counts from now.
    pub fn resume(mut self, at: DateTime<Utc>) -> Result<Self, RuleViolation> {
        self.require(&[RolloutStatus::Paused], "resumed")?;
        self.status = RolloutStatus::Running;
        self.paused_reason = None;
        self.next_advance_at = self
            .steps
            .get(self.current_step)
            .filter(|_| self.next_step().is_some())
            .map(|step| at + hold(step));
        self.updated_at = at;
        Ok(self)
    }

    /// Stops the plan for good.
    pub fn cancel(mut self, at: DateTime<Utc>) -> Result<Self, RuleViolation> {
        self.require(
            &[RolloutStatus::Running, RolloutStatus::Paused],
            "cancelled",
        )?;
        self.status = RolloutStatus::Cancelled;
        self.next_advance_at = None;
        self.updated_at = at;
        Ok(self)
    }

    /// Tries the next step again after `delay`, still RUNNING: a gate asked
    /// for it.
    pub fn retry_after(mut self, delay: chrono::Duration, at: DateTime<Utc>) -> Self {
        self.next_advance_at = Some(at + delay);
        self.updated_at = at;
        self
    }

    fn require(
        &self,
        allowed: &[RolloutStatus],
        action: &'static str,
    ) -> Result<(), RuleViolation> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(RuleViolation::RolloutNotInStatus {
                status: self.status,
                action,
            })
        }
    }
}

fn hold(step: &RolloutStep) -> chrono::Duration {
    chrono::Duration::seconds(i64::from(step.hold_seconds))
}

/// A step as a caller asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedStep {
    pub percentage: i32,
    pub hold_seconds: i32,
}

/// Checks a new plan for a version: the version may be released now, and
/// the steps grow strictly from above its current share to 100.
pub fn plan_rollout(
    version: &MiniProgramVersion,
    requested: &[RequestedStep],
) -> Result<Vec<RolloutStep>, RuleViolation> {
    if !matches!(
        version.status,
        VersionStatus::Approved | VersionStatus::GrayRelease
    ) {
        return Err(RuleViolation::InvalidTransition {
            status: version.status,
            action: "rolled out",
        });
    }
    let invalid = |message: String| RuleViolation::invalid_input("steps", message);
    if requested.is_empty() || requested.len() > MAX_STEPS {
        return Err(invalid(format!("a plan has 1 to {MAX_STEPS} steps")));
    }
    let mut below = version.gray_percentage.unwrap_or(0);
    for (index, step) in requested.iter().enumerate() {
        if !(1..=100).contains(&step.percentage) {
            return Err(invalid(format!(
                "step {index}: percentage must be between 1 and 100"
            )));
        }
        if step.percentage <= below {
            return Err(invalid(if index == 0 {
                format!("step 0: percentage must be above the version's current share of {below}%")
            } else {
                format!("step {index}: percentage must be above the previous step's {below}%")
            }));
        }
        if !(0..=MAX_HOLD_SECONDS).contains(&step.hold_seconds) {
            return Err(invalid(format!(
                "step {index}: holdSeconds must be between 0 and {MAX_HOLD_SECONDS}"
            )));
        }
        below = step.percentage;
    }
    if below != 100 {
        return Err(invalid(
            "the last step must release to 100% of devices".into(),
        ));
    }
    Ok(requested
        .iter()
        .map(|step| RolloutStep {
            percentage: step.percentage,
            hold_seconds: step.hold_seconds,
            reached_at: None,
        })
        .collect())
}

/// A reason given for a pause or a rollback: trimmed, 1 to 500 characters.
pub fn validate_reason(text: &str) -> Result<String, RuleViolation> {
    let reason = text.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(RuleViolation::invalid_input(
            "reason",
            format!("must be 1 to {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.to_owned())
}

/// The share a release to `percentage` asks of the release rule: a gray
/// share, or the full release at 100.
pub fn gray_share(percentage: i32) -> Option<i32> {
    (percentage < 100).then_some(percentage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{UpdateMode, VersionNumber};

    fn version(status: VersionStatus, gray: Option<i32>) -> MiniProgramVersion {
        MiniProgramVersion {
            id: "v1".into(),
            mini_program_id: "p1".into(),
            number: VersionNumber::parse("1.0.0").unwrap(),
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

    fn steps(pairs: &[(i32, i32)]) -> Vec<RequestedStep> {
        pairs
            .iter()
            .map(|&(percentage, hold_seconds)| RequestedStep {
                percentage,
                hold_seconds,
            })
            .collect()
    }

    fn rollout(pairs: &[(i32, i32)]) -> Rollout {
        let at = Utc::now();
        Rollout {
            id: "r1".into(),
            version_id: "v1".into(),
            mini_program_id: "p1".into(),
            workspace_id: "acme".into(),
            status: RolloutStatus::Running,
            steps: plan_rollout(&version(VersionStatus::Approved, None), &steps(pairs)).unwrap(),
            current_step: 0,
            next_advance_at: None,
            paused_reason: None,
            started_by: "alice".into(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_plan_grows_strictly_from_the_current_share_to_100() {
        let approved = version(VersionStatus::Approved, None);
        assert_eq!(
            plan_rollout(&approved, &steps(&[(1, 60), (50, 0), (100, 0)]))
                .unwrap()
                .len(),
            3
        );
        assert!(plan_rollout(&approved, &steps(&[(100, 0)])).is_ok());
        for bad in [
            vec![],
            vec![(10, 0)],
            vec![(0, 0), (100, 0)],
            vec![(10, 0), (10, 0), (100, 0)],
            vec![(20, 0), (10, 0), (100, 0)],
            vec![(10, -1), (100, 0)],
            vec![(10, MAX_HOLD_SECONDS + 1), (100, 0)],
            vec![(10, 0), (101, 0)],
        ] {
            assert!(
                matches!(
                    plan_rollout(&approved, &steps(&bad)),
                    Err(RuleViolation::InvalidInput { field: "steps", .. })
                ),
                "{bad:?}"
            );
        }
        let many: Vec<(i32, i32)> = (1..=21).map(|p| (p, 0)).chain([(100, 0)]).collect();
        assert!(plan_rollout(&approved, &steps(&many)).is_err());
        let gray = version(VersionStatus::GrayRelease, Some(20));
        assert!(plan_rollout(&gray, &steps(&[(20, 0), (100, 0)])).is_err());
        assert!(plan_rollout(&gray, &steps(&[(21, 0), (100, 0)])).is_ok());
    }

    #[test]
    fn only_versions_that_may_be_released_are_rolled_out() {
        for status in [
            VersionStatus::NewVersionCreated,
            VersionStatus::PendingApproval,
            VersionStatus::Rejected,
            VersionStatus::FullRelease,
            VersionStatus::Offline,
        ] {
            assert!(matches!(
                plan_rollout(&version(status, None), &steps(&[(100, 0)])),
                Err(RuleViolation::InvalidTransition { .. })
            ));
        }
    }

    #[test]
    fn each_step_holds_its_share_before_the_next_and_the_last_completes() {
        let start = Utc::now();
        let plan = rollout(&[(10, 60), (50, 120), (100, 0)]).reached(0, start);
        assert_eq!(plan.status, RolloutStatus::Running);
        assert_eq!(
            plan.next_advance_at,
            Some(start + chrono::Duration::seconds(60))
        );
        assert_eq!(plan.next_step().map(|(index, _)| index), Some(1));
        let later = start + chrono::Duration::seconds(60);
        let plan = plan.reached(1, later);
        assert_eq!(plan.steps[plan.current_step].percentage, 50);
        assert_eq!(
            plan.next_advance_at,
            Some(later + chrono::Duration::seconds(120))
        );
        let plan = plan.reached(2, later);
        assert_eq!(plan.status, RolloutStatus::Completed);
        assert_eq!(plan.next_advance_at, None);
        assert!(plan.steps.iter().all(|step| step.reached_at.is_some()));
    }

    #[test]
    fn a_resumed_plan_counts_its_hold_from_the_resumption() {
        let start = Utc::now();
        let plan = rollout(&[(10, 60), (100, 0)]).reached(0, start);
        let paused = plan.pause("error rate".into(), start).unwrap();
        assert_eq!(paused.next_advance_at, None);
        assert!(paused.clone().pause("again".into(), start).is_err());
        let resumed_at = start + chrono::Duration::seconds(3600);
        let resumed = paused.resume(resumed_at).unwrap();
        assert_eq!(resumed.paused_reason, None);
        assert_eq!(
            resumed.next_advance_at,
            Some(resumed_at + chrono::Duration::seconds(60))
        );
        assert!(resumed.clone().resume(resumed_at).is_err());
        let cancelled = resumed.cancel(resumed_at).unwrap();
        assert_eq!(cancelled.status, RolloutStatus::Cancelled);
        assert!(cancelled.clone().cancel(resumed_at).is_err());
        assert!(cancelled.resume(resumed_at).is_err());
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(
            validate_reason("  crash rate up ").unwrap(),
            "crash rate up"
        );
        assert!(validate_reason("   ").is_err());
        assert!(validate_reason(&"x".repeat(MAX_REASON_CHARS + 1)).is_err());
        assert_eq!(gray_share(100), None);
        assert_eq!(gray_share(40), Some(40));
    }
}
