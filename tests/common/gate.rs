//! A release gate on 127.0.0.1, as a partner's health or approval system
//! would run one: it records each `release.check` and answers as the test
//! says (allow, refuse, ask to be asked later, answer garbage, or stall),
//! and the gate steps around it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::receiver::{Received, serve_in_background};
use super::server::TestServer;
use super::tokens::admin;
use super::wait::eventually;

/// How the gate answers a check.
#[derive(Debug, Clone)]
pub enum Verdict {
    Allow,
    Refuse(&'static str),
    /// Refuses, asking to be asked again after this many seconds.
    RefuseFor(&'static str, u64),
    /// HTTP 200 with a body that is not an answer.
    Garbage,
    /// An HTTP status other than 200, with an allowing body.
    Status(u16),
    /// Answers only after this long: past the server's gate timeout.
    Stall(Duration),
}

#[derive(Default)]
struct GateState {
    checks: Mutex<Vec<Received>>,
    /// Verdicts for the next checks, in order; then `otherwise`.
    next: Mutex<VecDeque<Verdict>>,
    otherwise: Mutex<Option<Verdict>>,
}

pub struct Gate {
    pub url: String,
    state: Arc<GateState>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Gate {
    /// A gate that answers `otherwise` to every check not given a verdict
    /// of its own.
    pub async fn start(otherwise: Verdict) -> Gate {
        let state = Arc::new(GateState::default());
        *state.otherwise.lock().unwrap() = Some(otherwise);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the gate");
        let url = format!("http://{}/checks", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/checks", axum::routing::post(answer))
            .with_state(state.clone());
        Gate {
            url,
            state,
            _stop: serve_in_background(listener, app),
        }
    }

    /// Answers the next checks with `verdicts`, in order.
    pub fn answer_next(&self, verdicts: &[Verdict]) {
        self.state
            .next
            .lock()
            .unwrap()
            .extend(verdicts.iter().cloned());
    }

    /// Every check received so far.
    pub fn checks(&self) -> Vec<Received> {
        self.state.checks.lock().unwrap().clone()
    }

    /// Waits until `count` checks arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        eventually(
            Duration::from_secs(30),
            &format!("{count} gate checks"),
            || async {
                let checks = self.checks();
                (checks.len() >= count).then_some(checks)
            },
        )
        .await
    }
}

async fn answer(
    State(state): State<Arc<GateState>>,
    headers: http::HeaderMap,
    body: String,
) -> axum::response::Response {
    let verdict = state
        .next
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| state.otherwise.lock().unwrap().clone())
        .unwrap_or(Verdict::Allow);
    let status = match verdict {
        Verdict::Status(status) => status,
        _ => 200,
    };
    state.checks.lock().unwrap().push(Received {
        headers,
        body,
        status,
    });
    let answer = match verdict {
        Verdict::Allow | Verdict::Status(_) => json!({ "allow": true }),
        Verdict::Refuse(reason) => json!({ "allow": false, "reason": reason }),
        Verdict::RefuseFor(reason, seconds) => {
            json!({ "allow": false, "reason": reason, "retryAfterSeconds": seconds })
        }
        Verdict::Garbage => return (http::StatusCode::OK, "allow=yes").into_response(),
        Verdict::Stall(time) => {
            tokio::time::sleep(time).await;
            json!({ "allow": true })
        }
    };
    (
        http::StatusCode::from_u16(status).unwrap(),
        axum::Json(answer),
    )
        .into_response()
}

pub const REGISTER_GATE: &str = "mutation($input: RegisterReleaseGateInput!) {
    registerReleaseGate(input: $input) { gate { id name url active createdAt } secret }
}";

/// Registers a gate named `name` at `url`; returns its id and secret.
pub async fn register_gate(server: &TestServer, name: &str, url: &str) -> (String, String) {
    let response = server
        .gql(
            &admin(),
            REGISTER_GATE,
            json!({ "input": { "name": name, "url": url } }),
        )
        .await;
    let created = &response.data()["registerReleaseGate"];
    (
        created["gate"]["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// A check's `data`, after verifying its signature with the gate's secret.
pub fn check_data(check: &Received, secret: &str) -> Value {
    let body = check.verified(secret);
    assert_eq!(body["type"], "release.check");
    assert!(body["timestamp"].is_string());
    body["data"].clone()
}
