//! Release gates: partner health or approval systems asked, before any share
//! of devices changes, whether it may. What they are sent and how their
//! answers read; a gate fails closed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A gate of a workspace. Its signing secret is not part of it: it is shown
/// once, at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseGate {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub url: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// The change a gate is asked about: the `data` of a `release.check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseCheck {
    pub mini_program_id: String,
    pub version_id: String,
    pub version: String,
    pub from_percentage: i32,
    pub to_percentage: i32,
    /// The plan's step index, for a step of a rollout.
    pub rollout_step: Option<usize>,
}

/// A gate's refusal, as the caller and the plan see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateRefusal {
    pub gate: String,
    pub reason: String,
    /// The gate asked to be asked again after this long.
    pub retry_after: Option<Duration>,
}

/// The longest wait a gate may ask for before it is asked again.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 86_400;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    allow: bool,
    reason: Option<String>,
    retry_after_seconds: Option<u64>,
}

/// Reads a gate's answer: `200` with `{"allow": true}` allows; anything
/// else refuses, with the gate's reason where it gave one.
pub fn read_answer(gate: &str, status: u16, body: &[u8]) -> Result<(), GateRefusal> {
    let refused = |reason: String, retry_after: Option<Duration>| GateRefusal {
        gate: gate.to_owned(),
        reason,
        retry_after,
    };
    if status != 200 {
        return Err(refused(format!("the gate answered HTTP {status}"), None));
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|_| {
        refused(
            "the gate's answer is not {\"allow\": true|false}".into(),
            None,
        )
    })?;
    if answer.allow {
        return Ok(());
    }
    let reason = answer
        .reason
        .map(|reason| reason.trim().chars().take(500).collect::<String>())
        .filter(|reason| !reason.is_empty())
        .unwrap_or_else(|| "refused without a reason".into());
    let retry_after = answer
        .retry_after_seconds
        .map(|seconds| Duration::from_secs(seconds.clamp(1, MAX_RETRY_AFTER_SECONDS)));
    Err(refused(reason, retry_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_allow_allows() {
        assert!(read_answer("health", 200, br#"{"allow": true}"#).is_ok());
        let refusal = read_answer(
            "health",
            200,
            br#"{"allow": false, "reason": "crash rate 3%", "retryAfterSeconds": 30}"#,
        )
        .unwrap_err();
        assert_eq!(refusal.gate, "health");
        assert_eq!(refusal.reason, "crash rate 3%");
        assert_eq!(refusal.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(
            read_answer("health", 200, br#"{"allow": false}"#)
                .unwrap_err()
                .retry_after,
            None
        );
        for (status, body) in [
            (200, &b""[..]),
            (200, b"allow"),
            (200, br#"{"allow": "yes"}"#),
            (200, br#"{"ok": true}"#),
            (204, b""),
            (500, br#"{"allow": true}"#),
            (302, br#"{"allow": true}"#),
        ] {
            assert!(read_answer("health", status, body).is_err(), "{status}");
        }
    }
}
