//! Release gates: registered by admins, asked with a signed `release.check`
//! before any share of devices changes, failing closed; a refused manual
//! release changes nothing, and a refused rollout step pauses its plan or
//! waits as the gate asks.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;
use crate::rollouts::{approved_version, start_rollout, version_state, wait_for_plan};

/// A short gate timeout, so that a stalling gate is cut in the test's time.
fn settings() -> Settings {
    Settings::with_env(&[
        ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
        ("RELEASE_GATE_TIMEOUT_MS", "500"),
    ])
}

async fn started(backend: Backend) -> (TestServer, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    let server = TestServer::start_on(&db, settings()).await;
    (server, db)
}

const GATES: &str = "{ releaseGates { id name url active createdAt } }";
const DELETE: &str = "mutation($id: ID!) { deleteReleaseGate(input: { id: $id }) { id } }";

on_both_backends! {
    async fn admins_register_list_and_delete_gates_and_others_are_refused(backend: Backend) {
        let (server, _db) = started(backend).await;
        let (id, secret) = register_gate(&server, "Crash monitor", "https://health.example/checks").await;
        assert!(secret.starts_with("whsec_"));
        let listed = server.gql(&admin(), GATES, json!({})).await;
        let gates = listed.data()["releaseGates"].as_array().unwrap().clone();
        assert_eq!(gates.len(), 1);
        assert_eq!(gates[0]["name"], "Crash monitor");
        assert_eq!(gates[0]["url"], "https://health.example/checks");
        assert_eq!(gates[0]["active"], true);
        assert!(gates[0].get("secret").is_none());

        for token in [developer(), viewer(), approver()] {
            assert_eq!(server.gql(&token, GATES, json!({})).await.code(), "FORBIDDEN");
            let refused = server.gql(&token, REGISTER_GATE, json!({ "input": { "name": "x", "url": "https://x.example/" } })).await;
            assert_eq!(refused.code(), "FORBIDDEN");
            assert_eq!(server.gql(&token, DELETE, json!({ "id": id })).await.code(), "FORBIDDEN");
        }
        for (name, url, field) in [
            ("Bad", "ftp://x.example/", "url"),
            ("Bad", "not a url", "url"),
            ("Bad", "https://user:pw@x.example/", "url"),
            ("", "https://x.example/", "name"),
        ] {
            let refused = server.gql(&admin(), REGISTER_GATE, json!({ "input": { "name": name, "url": url } })).await;
            assert_eq!(refused.code(), "BAD_USER_INPUT", "{url}");
            assert_eq!(refused.error()["extensions"]["field"], field);
        }
        let same = server.gql(&admin(), REGISTER_GATE, json!({ "input": { "name": "CRASH ｍonitor", "url": "https://x.example/" } })).await;
        assert_eq!(same.code(), "CONFLICT", "names compare ignoring case and width: {}", same.body);
        assert_eq!(same.error()["extensions"]["field"], "name");
        let other = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        assert_eq!(server.gql(&other, DELETE, json!({ "id": id })).await.code(), "NOT_FOUND");
        assert_eq!(server.gql(&other, GATES, json!({})).await.data()["releaseGates"], json!([]));
        assert_eq!(server.gql(&admin(), GATES, json!({})).await.data()["releaseGates"].as_array().unwrap().len(), 1);

        let deleted = server.gql(&admin(), DELETE, json!({ "id": id })).await;
        assert_eq!(deleted.data()["deleteReleaseGate"]["id"], id);
        assert_eq!(server.gql(&admin(), GATES, json!({})).await.data()["releaseGates"], json!([]));
        assert_eq!(server.gql(&admin(), DELETE, json!({ "id": id })).await.code(), "NOT_FOUND");
    }

    async fn every_change_of_a_share_asks_each_gate_with_a_signed_check(backend: Backend) {
        let (server, _db) = started(backend).await;
        let gate = Gate::start(Verdict::Allow).await;
        let second = Gate::start(Verdict::Allow).await;
        let (_, secret) = register_gate(&server, "Crash monitor", &gate.url).await;
        register_gate(&server, "Approvals", &second.url).await;
        let (program, version) = approved_version(&server, "Mall", "1.0.0").await;

        release(&server, &version, Some(10)).await;
        release(&server, &version, Some(30)).await;
        release(&server, &version, None).await;
        let checks = gate.wait_for(3).await;
        let data: Vec<Value> = checks.iter().map(|check| check_data(check, &secret)).collect();
        assert_eq!(data[0], json!({
            "miniProgramId": program, "versionId": version, "version": "1.0.0",
            "fromPercentage": 0, "toPercentage": 10, "rolloutStep": null,
        }));
        assert_eq!((&data[1]["fromPercentage"], &data[1]["toPercentage"]), (&json!(10), &json!(30)));
        assert_eq!((&data[2]["fromPercentage"], &data[2]["toPercentage"]), (&json!(30), &json!(100)));
        assert_eq!(second.checks().len(), 3, "every gate is asked");
        assert!(checks[0].headers["webhook-id"].to_str().unwrap().starts_with("chk_"));

        // A decision, or taking a version offline, changes no share: no check.
        let (_, other) = approved_version(&server, "Shop", "2.0.0").await;
        start_rollout(&server, &admin(), &other, &[(100, 0)]).await.data();
        let checks = gate.wait_for(4).await;
        assert_eq!(check_data(&checks[3], &secret)["rolloutStep"], 0);
        server.gql(&admin(), "mutation($id: ID!) { takeVersionOffline(input: { versionId: $id }) { miniProgramVersion { id } } }", json!({ "id": version })).await.data();
        // The next share change is the next check: nothing came in between.
        let (_, third) = approved_version(&server, "Cafe", "3.0.0").await;
        release(&server, &third, Some(1)).await;
        let checks = gate.wait_for(5).await;
        assert_eq!(checks.len(), 5);
        assert_eq!(check_data(&checks[4], &secret)["versionId"], third);
    }

    async fn a_gate_that_refuses_stalls_or_answers_garbage_refuses_a_release_and_nothing_changes(backend: Backend) {
        let (server, _db) = started(backend).await;
        let gate = Gate::start(Verdict::Allow).await;
        register_gate(&server, "Crash monitor", &gate.url).await;
        let (program, version) = approved_version(&server, "Mall", "1.0.0").await;
        let before = program_state(&server, &program).await;
        let refusals = [
            (Verdict::Refuse("crash rate 3% over 1%"), "crash rate 3% over 1%"),
            (Verdict::RefuseFor("error budget spent", 60), "error budget spent"),
            (Verdict::Garbage, "not {\"allow\""),
            (Verdict::Status(503), "HTTP 503"),
            (Verdict::Stall(Duration::from_secs(5)), "in time"),
        ];
        for (verdict, reason) in refusals {
            gate.answer_next(std::slice::from_ref(&verdict));
            let refused = server.gql(&admin(), RELEASE, json!({ "id": version, "g": 10 })).await;
            assert_eq!(refused.code(), "HOOK_REJECTED", "{verdict:?}: {}", refused.body);
            assert_eq!(refused.error()["extensions"]["hook"], "Crash monitor");
            let message = refused.error()["message"].as_str().unwrap();
            assert!(message.contains(reason), "{verdict:?}: {message}");
            assert_eq!(program_state(&server, &program).await, before, "{verdict:?}");
        }
        // Nothing listening at all: refused too.
        let gone = Gate::start(Verdict::Allow).await;
        let gone_url = gone.url.clone();
        drop(gone);
        register_gate(&server, "Approvals", &gone_url).await;
        gate.answer_next(&[Verdict::Allow]);
        let refused = server.gql(&admin(), RELEASE, json!({ "id": version, "g": 10 })).await;
        assert_eq!(refused.code(), "HOOK_REJECTED", "{}", refused.body);
        assert_eq!(refused.error()["extensions"]["hook"], "Approvals");
        let refused = start_rollout(&server, &admin(), &version, &[(10, 0), (100, 0)]).await;
        assert_eq!(refused.code(), "HOOK_REJECTED");
        assert_eq!(program_state(&server, &program).await, before);
        assert_eq!(version_state(&server, &version).await["rollout"], Value::Null);
        // Invalid input is refused before any gate is asked.
        let asked = gate.checks().len();
        let invalid = server.gql(&admin(), RELEASE, json!({ "id": version, "g": 0 })).await;
        assert_eq!(invalid.code(), "BAD_USER_INPUT");
        let created = create_version(&server, &program, "1.1.0").await;
        assert_eq!(server.gql(&admin(), RELEASE, json!({ "id": created, "g": 10 })).await.code(), "INVALID_TRANSITION");
        assert_eq!(gate.checks().len(), asked);
    }

    async fn a_refused_rollout_step_pauses_its_plan_with_the_reason(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, settings()).await;
        let receiver = Receiver::start().await;
        let response = server.gql(&admin(), REGISTER, json!({ "input": { "name": "Desk", "url": receiver.url, "events": ["ROLLOUT_PAUSED"] } })).await;
        let secret = response.data()["registerReleaseIntegration"]["secret"].as_str().unwrap().to_owned();
        let gate = Gate::start(Verdict::Allow).await;
        register_gate(&server, "Crash monitor", &gate.url).await;
        let (_, version) = approved_version(&server, "Mall", "1.0.0").await;
        gate.answer_next(&[Verdict::Allow, Verdict::Refuse("crash rate 3%")]);
        start_rollout(&server, &admin(), &version, &[(10, 1), (100, 0)]).await.data();
        let paused = wait_for_plan(&server, &version, "PAUSED").await;
        assert_eq!(paused["grayPercentage"], 10, "the share stays");
        assert_eq!(paused["rollout"]["currentStep"], 0);
        let reason = paused["rollout"]["pausedReason"].as_str().unwrap();
        assert!(reason.contains("Crash monitor") && reason.contains("crash rate 3%"), "{reason}");
        let event = receiver.wait_for(1).await[0].verified(&secret);
        assert_eq!(event["type"], "rollout.paused");
        assert_eq!(event["data"]["reason"], reason);
        assert_eq!(gate.checks().len(), 2);
    }

    async fn a_step_refused_with_retry_after_stays_running_and_is_asked_again(backend: Backend) {
        let (server, _db) = started(backend).await;
        let gate = Gate::start(Verdict::Allow).await;
        let (_, secret) = register_gate(&server, "Crash monitor", &gate.url).await;
        let (_, version) = approved_version(&server, "Mall", "1.0.0").await;
        gate.answer_next(&[Verdict::Allow, Verdict::RefuseFor("warming up", 1)]);
        start_rollout(&server, &admin(), &version, &[(10, 0), (100, 0)]).await.data();
        let checks = gate.wait_for(2).await;
        let state = version_state(&server, &version).await;
        assert!(
            state["rollout"]["status"] == "RUNNING" || state["rollout"]["status"] == "COMPLETED",
            "{state}"
        );
        let done = wait_for_plan(&server, &version, "COMPLETED").await;
        assert_eq!(done["status"], "FULL_RELEASE");
        let checks_after = gate.checks();
        assert_eq!(checks_after.len(), 3, "asked again once");
        let refused = check_data(&checks[1], &secret);
        let retried = check_data(&checks_after[2], &secret);
        assert_eq!(refused["rolloutStep"], 1);
        assert_eq!(retried["rolloutStep"], 1);
        let gap = checks_after[2].headers["webhook-timestamp"].to_str().unwrap().parse::<i64>().unwrap()
            - checks[1].headers["webhook-timestamp"].to_str().unwrap().parse::<i64>().unwrap();
        assert!(gap >= 1, "asked again only after the delay the gate gave");
    }
}
