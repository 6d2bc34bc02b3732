//! Release gates over HTTP: a `release.check` POSTed to each active gate of
//! the workspace, signed as webhooks are, and its answer read. Every gate
//! is asked at once, before the write transaction; one refusal refuses.

use chrono::{SecondsFormat, Utc};
use futures_util::future::join_all;
use serde_json::json;

use super::webhooks::WebhookSender;
use crate::domain::{GateRefusal, ReleaseCheck, read_answer};

/// The most of a gate's answer that is read: an allow or a refusal with a
/// short reason fits many times over.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A gate as it is asked: its name, where it listens, its signing secret.
pub struct GateTarget<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub secret: &'a str,
}

/// Asks release gates; one client for the process, with the gate timeout
/// (`RELEASE_GATE_TIMEOUT_MS`) on every request.
#[derive(Clone)]
pub struct ReleaseGates {
    sender: WebhookSender,
}

impl ReleaseGates {
    pub fn new(sender: WebhookSender) -> Self {
        Self { sender }
    }

    /// Asks every gate about `check`: the first refusal, in the order the
    /// gates are given, if any gate refuses.
    pub async fn ask_all(
        &self,
        gates: &[GateTarget<'_>],
        check: &ReleaseCheck,
    ) -> Result<(), GateRefusal> {
        let answers = join_all(gates.iter().map(|gate| self.ask(gate, check))).await;
        answers.into_iter().collect()
    }

    async fn ask(&self, gate: &GateTarget<'_>, check: &ReleaseCheck) -> Result<(), GateRefusal> {
        let refused = |reason: String| GateRefusal {
            gate: gate.name.to_owned(),
            reason,
            retry_after: None,
        };
        let id = format!("chk_{}", uuid::Uuid::now_v7().simple());
        let body = json!({
            "type": "release.check",
            "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": check,
        })
        .to_string();
        let mut response = self
            .sender
            .post_signed(gate.url, gate.secret, &id, body)
            .await
            .map_err(refused)?;
        let status = response.status().as_u16();
        let mut answer = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if answer.len() + chunk.len() <= MAX_ANSWER_BYTES => {
                    answer.extend_from_slice(&chunk);
                }
                Ok(Some(_)) => return Err(refused("the gate's answer is too long".into())),
                Ok(None) => break,
                Err(error) if error.is_timeout() => {
                    return Err(refused("the gate did not answer in time".into()));
                }
                Err(_) => return Err(refused("the gate's answer broke off".into())),
            }
        }
        read_answer(gate.name, status, &answer)
    }
}
