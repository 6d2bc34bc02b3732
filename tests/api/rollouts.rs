//! Rollout plans: a first step at once, later steps applied by the server
//! itself on schedule through the same path as `releaseVersion`, pause,
//! resume and cancel, and every refusal changing nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

pub const START: &str = "mutation($id: ID!, $steps: [RolloutStepInput!]!) {
    startRollout(input: { versionId: $id, steps: $steps }) {
        miniProgramVersion { id status grayPercentage rollout { status currentStep } }
    }
}";

pub const VERSION: &str = "query($id: ID!) { miniProgramVersion(id: $id) {
    id version status grayPercentage offlineReason
    rollout { status currentStep nextAdvanceAt pausedReason startedBy steps { percentage holdSeconds reachedAt } }
} }";

/// Steps as the API takes them, from (percentage, hold seconds) pairs.
pub fn steps(pairs: &[(i32, i32)]) -> Value {
    pairs
        .iter()
        .map(|(percentage, hold)| json!({ "percentage": percentage, "holdSeconds": hold }))
        .collect()
}

pub async fn start_rollout(
    server: &TestServer,
    token: &str,
    version: &str,
    pairs: &[(i32, i32)],
) -> Gql {
    server
        .gql(
            token,
            START,
            json!({ "id": version, "steps": steps(pairs) }),
        )
        .await
}

pub async fn version_state(server: &TestServer, version: &str) -> Value {
    server
        .gql(&admin(), VERSION, json!({ "id": version }))
        .await
        .data()["miniProgramVersion"]
        .clone()
}

/// Waits until the version's plan is in `status`, and returns the version.
pub async fn wait_for_plan(server: &TestServer, version: &str, status: &str) -> Value {
    eventually(
        Duration::from_secs(30),
        &format!("the plan to be {status}"),
        || async {
            let state = version_state(server, version).await;
            (state["rollout"]["status"] == status).then_some(state)
        },
    )
    .await
}

/// An APPROVED version of a new program, with the program's id.
pub async fn approved_version(server: &TestServer, name: &str, number: &str) -> (String, String) {
    let program = create_dsl_program(server, name).await;
    let version = create_version(server, &program, number).await;
    submit(server, &developer(), &version).await.data();
    decide(server, &approver(), &version, "APPROVE").await;
    (program, version)
}

fn at(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .unwrap_or_else(|| panic!("not a date-time: {value}"))
        .with_timezone(&Utc)
}

async fn audit_actions(server: &TestServer, target: &str) -> Vec<(String, String)> {
    let response = server
        .gql(
            &admin(),
            "query($t: ID!) { auditLog(first: 100, filter: { targetId: $t }) { nodes { action actor } } }",
            json!({ "t": target }),
        )
        .await;
    response.data()["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["action"].as_str().unwrap().to_owned(),
                node["actor"].as_str().unwrap().to_owned(),
            )
        })
        .rev()
        .collect()
}

fn with_private_targets() -> Settings {
    Settings::with_env(&[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")])
}

const ALL_EVENTS: [&str; 4] = [
    "VERSION_RELEASED",
    "VERSION_OFFLINE",
    "ROLLOUT_PAUSED",
    "ROLLOUT_COMPLETED",
];

async fn register_for(server: &TestServer, url: &str, events: &[&str]) -> String {
    let response = server
        .gql(
            &admin(),
            REGISTER,
            json!({ "input": { "name": "Release desk", "url": url, "events": events } }),
        )
        .await;
    response.data()["registerReleaseIntegration"]["secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

on_both_backends! {
    async fn a_plan_applies_its_first_step_at_once_and_the_rest_by_itself_on_schedule(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, with_private_targets()).await;
        let receiver = Receiver::start().await;
        let secret = register_for(&server, &receiver.url, &ALL_EVENTS).await;
        let (_, version) = approved_version(&server, "Mall", "1.0.0").await;

        let started = start_rollout(&server, &admin(), &version, &[(10, 1), (50, 1), (100, 0)]).await;
        let payload = &started.data()["startRollout"]["miniProgramVersion"];
        assert_eq!(payload["status"], "GRAY_RELEASE");
        assert_eq!(payload["grayPercentage"], 10);
        assert_eq!(payload["rollout"], json!({ "status": "RUNNING", "currentStep": 0 }));
        let state = version_state(&server, &version).await;
        let plan = &state["rollout"];
        assert_eq!(plan["startedBy"], "workspace_admin-user");
        assert_eq!(plan["pausedReason"], Value::Null);
        let first_reached = at(&plan["steps"][0]["reachedAt"]);
        assert_eq!(at(&plan["nextAdvanceAt"]), first_reached + chrono::Duration::seconds(1));
        assert_eq!(plan["steps"][1]["reachedAt"], Value::Null);

        let done = wait_for_plan(&server, &version, "COMPLETED").await;
        assert_eq!(done["status"], "FULL_RELEASE");
        assert_eq!(done["grayPercentage"], Value::Null);
        let plan = &done["rollout"];
        assert_eq!(plan["currentStep"], 2);
        assert_eq!(plan["nextAdvanceAt"], Value::Null);
        // Each step applied within 2 s of when it fell due.
        for step in 1..3 {
            let previous = at(&plan["steps"][step - 1]["reachedAt"]);
            let hold = plan["steps"][step - 1]["holdSeconds"].as_i64().unwrap();
            let reached = at(&plan["steps"][step]["reachedAt"]);
            let late = reached - (previous + chrono::Duration::seconds(hold));
            assert!(late >= chrono::Duration::zero(), "step {step} applied early: {plan}");
            assert!(late <= chrono::Duration::seconds(2), "step {step} applied {late} late: {plan}");
        }

        // Every step is a release as releaseVersion makes one, done as the
        // plan's starter: events, and the audit log.
        let delivered = receiver.wait_for(4).await;
        let bodies: Vec<Value> = delivered.iter().map(|r| r.verified(&secret)).collect();
        let released: Vec<(String, Value)> = bodies
            .iter()
            .filter(|b| b["type"] == "version.released")
            .map(|b| (b["data"]["status"].as_str().unwrap().to_owned(), b["data"]["grayPercentage"].clone()))
            .collect();
        assert_eq!(released, [
            ("GRAY_RELEASE".to_owned(), json!(10)),
            ("GRAY_RELEASE".to_owned(), json!(50)),
            ("FULL_RELEASE".to_owned(), Value::Null),
        ]);
        let completed = bodies.iter().find(|b| b["type"] == "rollout.completed").expect("rollout.completed");
        assert_eq!(completed["data"]["versionId"], version);
        assert_eq!(completed["data"]["actor"], "workspace_admin-user");
        let actions = audit_actions(&server, &version).await;
        assert_eq!(actions, [
            ("CREATE_MINI_PROGRAM_VERSION".to_owned(), "developer-user".to_owned()),
            ("SUBMIT_VERSION_FOR_RELEASE_APPROVAL".to_owned(), "developer-user".to_owned()),
            ("DECIDE_RELEASE".to_owned(), "release_approver-user".to_owned()),
            ("START_ROLLOUT".to_owned(), "workspace_admin-user".to_owned()),
            ("ADVANCE_ROLLOUT".to_owned(), "workspace_admin-user".to_owned()),
            ("ADVANCE_ROLLOUT".to_owned(), "workspace_admin-user".to_owned()),
        ]);
    }

    async fn a_one_step_plan_is_a_full_release_and_completes_at_once(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let (_, version) = approved_version(&server, "Mall", "1.0.0").await;
        let started = start_rollout(&server, &admin(), &version, &[(100, 0)]).await;
        assert_eq!(started.data()["startRollout"]["miniProgramVersion"]["rollout"]["status"], "COMPLETED");
        assert_eq!(version_state(&server, &version).await["status"], "FULL_RELEASE");
    }

    async fn refused_plans_change_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let (program, version) = approved_version(&server, "Mall", "1.0.0").await;
        let before = program_state(&server, &program).await;
        type Refusal = (String, Vec<(i32, i32)>, &'static str, Option<&'static str>);
        let refusals: Vec<Refusal> = vec![
            (developer(), vec![(10, 0), (100, 0)], "FORBIDDEN", None),
            (approver(), vec![(10, 0), (100, 0)], "FORBIDDEN", None),
            (token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]), vec![(10, 0), (100, 0)], "NOT_FOUND", None),
            (admin(), vec![], "BAD_USER_INPUT", Some("steps")),
            (admin(), vec![(10, 0)], "BAD_USER_INPUT", Some("steps")),
            (admin(), vec![(0, 0), (100, 0)], "BAD_USER_INPUT", Some("steps")),
            (admin(), vec![(20, 0), (20, 0), (100, 0)], "BAD_USER_INPUT", Some("steps")),
            (admin(), vec![(50, 0), (20, 0), (100, 0)], "BAD_USER_INPUT", Some("steps")),
            (admin(), vec![(10, -1), (100, 0)], "BAD_USER_INPUT", Some("steps")),
            (admin(), vec![(10, 2_592_001), (100, 0)], "BAD_USER_INPUT", Some("steps")),
            (admin(), vec![(10, 0), (101, 0)], "BAD_USER_INPUT", Some("steps")),
            (admin(), (1..=20).map(|p| (p, 0)).chain([(100, 0)]).collect(), "BAD_USER_INPUT", Some("steps")),
        ];
        for (token, pairs, code, field) in &refusals {
            let refused = start_rollout(&server, token, &version, pairs).await;
            assert_eq!(refused.code(), *code, "{pairs:?}: {}", refused.body);
            if let Some(field) = field {
                assert_eq!(refused.error()["extensions"]["field"], *field);
            }
        }
        assert_eq!(program_state(&server, &program).await, before);
        let created = create_version(&server, &program, "1.1.0").await;
        let before = program_state(&server, &program).await;
        let refused = start_rollout(&server, &admin(), &created, &[(10, 0), (100, 0)]).await;
        assert_eq!(refused.code(), "INVALID_TRANSITION");
        let unknown = start_rollout(&server, &admin(), "no-such-version", &[(100, 0)]).await;
        assert_eq!(unknown.code(), "NOT_FOUND");
        assert_eq!(program_state(&server, &program).await, before);
        assert_eq!(version_state(&server, &version).await["rollout"], Value::Null);

        // A second plan, and a manual release, while one is in force.
        start_rollout(&server, &admin(), &version, &[(10, 3600), (100, 0)]).await.data();
        let during = program_state(&server, &program).await;
        let second = start_rollout(&server, &admin(), &version, &[(20, 0), (100, 0)]).await;
        assert_eq!(second.code(), "CONFLICT");
        let manual = server.gql(&admin(), RELEASE, json!({ "id": version, "g": 30 })).await;
        assert_eq!(manual.code(), "CONFLICT", "{}", manual.body);
        assert_eq!(manual.error()["extensions"]["rolloutStatus"], "RUNNING");
        assert_eq!(program_state(&server, &program).await, during);
        // A gray version's plan starts above its share.
        let gray_program = create_dsl_program(&server, "Gray").await;
        let gray = create_version(&server, &gray_program, "2.0.0").await;
        submit(&server, &developer(), &gray).await.data();
        decide(&server, &approver(), &gray, "APPROVE").await;
        release(&server, &gray, Some(30)).await;
        let below = start_rollout(&server, &admin(), &gray, &[(30, 0), (100, 0)]).await;
        assert_eq!(below.code(), "BAD_USER_INPUT");
        assert!(below.error()["message"].as_str().unwrap().contains("30%"), "{}", below.body);
        start_rollout(&server, &admin(), &gray, &[(40, 3600), (100, 0)]).await.data();
        assert_eq!(version_state(&server, &gray).await["grayPercentage"], 40);
    }

    async fn a_paused_plan_holds_its_share_and_a_resumed_one_counts_its_hold_from_then(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, with_private_targets()).await;
        let receiver = Receiver::start().await;
        let secret = register_for(&server, &receiver.url, &["ROLLOUT_PAUSED"]).await;
        let (program, version) = approved_version(&server, "Mall", "1.0.0").await;
        start_rollout(&server, &admin(), &version, &[(5, 3600), (100, 0)]).await.data();

        let pause = "mutation($id: ID!, $r: String!) { pauseRollout(input: { versionId: $id, reason: $r }) { miniProgramVersion { grayPercentage rollout { status pausedReason nextAdvanceAt } } } }";
        let before = program_state(&server, &program).await;
        for (token, reason, code) in [(developer(), "x", "FORBIDDEN"), (admin(), "   ", "BAD_USER_INPUT")] {
            let refused = server.gql(&token, pause, json!({ "id": version, "r": reason })).await;
            assert_eq!(refused.code(), code);
        }
        assert_eq!(version_state(&server, &version).await["rollout"]["status"], "RUNNING");
        let paused = server.gql(&admin(), pause, json!({ "id": version, "r": " crash rate up " })).await;
        let paused = &paused.data()["pauseRollout"]["miniProgramVersion"];
        assert_eq!(paused["grayPercentage"], 5);
        assert_eq!(paused["rollout"], json!({ "status": "PAUSED", "pausedReason": "crash rate up", "nextAdvanceAt": null }));
        assert_eq!(program_state(&server, &program).await, before, "the share stays");
        let again = server.gql(&admin(), pause, json!({ "id": version, "r": "again" })).await;
        assert_eq!(again.code(), "INVALID_TRANSITION");
        let event = receiver.wait_for(1).await[0].verified(&secret);
        assert_eq!(event["type"], "rollout.paused");
        assert_eq!(event["data"]["reason"], "crash rate up");
        assert_eq!(event["data"]["versionId"], version);

        let resume = "mutation($id: ID!) { resumeRollout(input: { versionId: $id }) { miniProgramVersion { rollout { status pausedReason nextAdvanceAt } } } }";
        let asked = Utc::now();
        let resumed = server.gql(&admin(), resume, json!({ "id": version })).await;
        let plan = &resumed.data()["resumeRollout"]["miniProgramVersion"]["rollout"];
        assert_eq!(plan["status"], "RUNNING");
        assert_eq!(plan["pausedReason"], Value::Null);
        let next = at(&plan["nextAdvanceAt"]);
        let hold = chrono::Duration::seconds(3600);
        assert!(next >= asked + hold - chrono::Duration::seconds(1) && next <= Utc::now() + hold, "{plan}");
        assert_eq!(server.gql(&admin(), resume, json!({ "id": version })).await.code(), "INVALID_TRANSITION");

        let cancel = "mutation($id: ID!) { cancelRollout(input: { versionId: $id }) { miniProgramVersion { status grayPercentage rollout { status nextAdvanceAt } } } }";
        assert_eq!(server.gql(&viewer(), cancel, json!({ "id": version })).await.code(), "FORBIDDEN");
        let cancelled = server.gql(&admin(), cancel, json!({ "id": version })).await;
        assert_eq!(
            cancelled.data()["cancelRollout"]["miniProgramVersion"],
            json!({ "status": "GRAY_RELEASE", "grayPercentage": 5, "rollout": { "status": "CANCELLED", "nextAdvanceAt": null } })
        );
        assert_eq!(server.gql(&admin(), cancel, json!({ "id": version })).await.code(), "INVALID_TRANSITION");
        assert_eq!(server.gql(&admin(), resume, json!({ "id": version })).await.code(), "INVALID_TRANSITION");
        // Once cancelled, the version is released by hand again.
        release(&server, &version, None).await;
        assert_eq!(version_state(&server, &version).await["status"], "FULL_RELEASE");
        let other = create_version(&server, &program, "1.1.0").await;
        assert_eq!(server.gql(&admin(), pause, json!({ "id": other, "r": "x" })).await.code(), "NOT_FOUND");
    }

    async fn taking_a_version_offline_or_superseding_it_cancels_its_plan(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let (program, version) = approved_version(&server, "Mall", "1.0.0").await;
        start_rollout(&server, &admin(), &version, &[(5, 3600), (100, 0)]).await.data();
        server
            .gql(&admin(), "mutation($id: ID!) { takeVersionOffline(input: { versionId: $id }) { miniProgramVersion { id } } }", json!({ "id": version }))
            .await
            .data();
        let state = version_state(&server, &version).await;
        assert_eq!(state["status"], "OFFLINE");
        assert_eq!(state["rollout"]["status"], "CANCELLED");

        // Any release takes another gray version offline: its plan ends too.
        let gray = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &gray).await.data();
        decide(&server, &approver(), &gray, "APPROVE").await;
        start_rollout(&server, &admin(), &gray, &[(5, 3600), (100, 0)]).await.data();
        let newer = create_version(&server, &program, "1.2.0").await;
        submit(&server, &developer(), &newer).await.data();
        decide(&server, &approver(), &newer, "APPROVE").await;
        release(&server, &newer, None).await;
        let state = version_state(&server, &gray).await;
        assert_eq!(state["status"], "OFFLINE");
        assert_eq!(state["rollout"]["status"], "CANCELLED");
    }

    async fn a_step_that_fell_due_while_no_process_ran_applies_at_the_next_start(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let mut server = TestServer::start_on(&db, Settings::default()).await;
        let (_, version) = approved_version(&server, "Mall", "1.0.0").await;
        start_rollout(&server, &admin(), &version, &[(10, 1), (100, 0)]).await.data();
        let due = at(&version_state(&server, &version).await["rollout"]["nextAdvanceAt"]);
        server.kill();
        // Wait out the step's time with no process running.
        let until_due = (due - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(until_due + Duration::from_millis(500)).await;
        let restarted = Utc::now();
        let server = TestServer::start_on(&db, Settings::default()).await;
        let done = wait_for_plan(&server, &version, "COMPLETED").await;
        let reached = at(&done["rollout"]["steps"][1]["reachedAt"]);
        assert!(reached >= restarted, "applied by the new process");
        assert!(reached - restarted <= chrono::Duration::seconds(5), "applied soon after the start");
    }
}

/// Three processes on one PostgreSQL database: each step of one plan is
/// applied once, whichever process claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn three_processes_apply_each_step_of_a_plan_exactly_once() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let servers = futures_util::future::join_all(
        (0..3).map(|_| TestServer::start_on(&db, with_private_targets())),
    )
    .await;
    let gate = Gate::start(Verdict::Allow).await;
    let (_, secret) = register_gate(&servers[0], "Step counter", &gate.url).await;
    let (_, version) = approved_version(&servers[1], "Mall", "1.0.0").await;
    start_rollout(
        &servers[2],
        &admin(),
        &version,
        &[(10, 1), (20, 1), (30, 0), (40, 1), (100, 0)],
    )
    .await
    .data();
    let done = wait_for_plan(&servers[0], &version, "COMPLETED").await;
    assert_eq!(done["status"], "FULL_RELEASE");
    let asked: Vec<Value> = gate
        .checks()
        .iter()
        .map(|check| check_data(check, &secret)["rolloutStep"].clone())
        .collect();
    assert_eq!(
        asked,
        [json!(0), json!(1), json!(2), json!(3), json!(4)],
        "each step asked once"
    );
    let advances = audit_actions(&servers[1], &version)
        .await
        .into_iter()
        .filter(|(action, _)| action == "ADVANCE_ROLLOUT")
        .count();
    assert_eq!(advances, 4, "each later step applied once");
    for server in &servers {
        assert_eq!(
            version_state(server, &version).await["status"],
            "FULL_RELEASE"
        );
    }
}

/// A process killed with its plan's step ahead: another process on the same
/// PostgreSQL database applies the step on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn a_step_of_a_killed_process_is_applied_by_another_on_time() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let mut first = TestServer::start_on(&db, Settings::default()).await;
    let second = TestServer::start_on(&db, Settings::default()).await;
    let (_, version) = approved_version(&first, "Mall", "1.0.0").await;
    start_rollout(&first, &admin(), &version, &[(10, 2), (100, 0)])
        .await
        .data();
    first.kill();
    let done = wait_for_plan(&second, &version, "COMPLETED").await;
    let steps = &done["rollout"]["steps"];
    let late =
        at(&steps[1]["reachedAt"]) - (at(&steps[0]["reachedAt"]) + chrono::Duration::seconds(2));
    assert!(late <= chrono::Duration::seconds(2), "applied {late} late");
}
