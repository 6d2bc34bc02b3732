//! Three `serve` processes on one PostgreSQL database behave as one service
//! under mixed traffic: every acknowledged change is seen by every process,
//! revisions and history agree, and every hook event reaches an integration
//! exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const PROGRAMS: usize = 6;
const WORKERS: usize = 12;
const ROUNDS: usize = 8;

const STATE: &str = "query($id: ID!) { miniProgram(id: $id) {
    updateMode revision
    updateModeHistory(first: 100) { totalCount nodes { revision previousMode mode changedBy } }
    versions(first: 100) { totalCount nodes { id version status updateMode } }
} }";

const LAUNCH: &str = "query($id: ID!) { launchPolicy(miniProgramId: $id, deviceId: \"device-1\", cachedVersion: \"0.0.1\", cacheAgeSeconds: 60) {
    action updateMode targetVersion
} }";

async fn state(server: &TestServer, program: &str) -> Value {
    server
        .gql(&admin(), STATE, json!({ "id": program }))
        .await
        .data()["miniProgram"]
        .clone()
}

/// One client's work: through one process, change a program's mode with the
/// revision it read from another process (and retry on a conflict), and
/// take a version through its lifecycle. Returns the acknowledged changes.
async fn client(
    servers: Arc<Vec<TestServer>>,
    programs: Arc<Vec<String>>,
    worker: usize,
) -> Vec<(String, i64, String)> {
    let mut acknowledged = Vec::new();
    let modes = ["ASYNC", "SYNC", "DEFAULT"];
    for round in 0..ROUNDS {
        let writer = &servers[(worker + round) % servers.len()];
        let reader = &servers[(worker + round + 1) % servers.len()];
        let program = &programs[(worker * 7 + round) % programs.len()];
        loop {
            // The mode after the one read: a change unless another client
            // got there first, which the revision tells.
            let current = state(reader, program).await;
            let revision = current["revision"].as_i64().unwrap();
            let at = modes
                .iter()
                .position(|mode| current["updateMode"] == *mode)
                .unwrap();
            let mode = modes[(at + 1) % modes.len()];
            let response = writer
                .gql(&admin(), UPDATE_MODE, json!({ "input": { "miniProgramId": program, "mode": mode, "expectedRevision": revision } }))
                .await;
            if response.body.get("errors").is_some() {
                assert_eq!(response.code(), "CONFLICT", "{}", response.body);
                continue;
            }
            let payload = &response.data()["updateMode"];
            if payload["changed"] == true {
                let revision = payload["miniProgram"]["revision"].as_i64().unwrap();
                acknowledged.push((program.clone(), revision, mode.to_owned()));
            }
            break;
        }
        if round % 4 == 0 {
            release_a_version(writer, reader, program).await;
        }
        reader.gql(&viewer(), "{ miniPrograms(first: 20) { nodes { id updateMode versions(first: 5) { nodes { id } } } } }", json!({})).await.data();
    }
    acknowledged
}

/// Creates, submits, approves and releases a version; steps another client
/// got ahead of (a higher number created, a version already pending, a newer
/// one released) are refused and the rest skipped.
async fn release_a_version(writer: &TestServer, reader: &TestServer, program: &str) {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let number = format!("1.{}.0", NEXT.fetch_add(1, Ordering::SeqCst));
    let created = writer
        .gql(&developer(), "mutation($input: CreateMiniProgramVersionInput!) { createMiniProgramVersion(input: $input) { miniProgramVersion { id } } }", json!({ "input": { "miniProgramId": program, "version": number } }))
        .await;
    if created.body.get("errors").is_some() {
        assert_eq!(created.code(), "BAD_USER_INPUT", "{}", created.body);
        return;
    }
    let version = created.data()["createMiniProgramVersion"]["miniProgramVersion"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let submitted = submit(reader, &developer(), &version).await;
    if submitted.body.get("errors").is_some() {
        assert_eq!(submitted.code(), "CONFLICT", "{}", submitted.body);
        return;
    }
    decide(writer, &approver(), &version, "APPROVE").await;
    let released = reader
        .gql(&admin(), "mutation($id: ID!) { releaseVersion(input: { versionId: $id }) { miniProgramVersion { status } } }", json!({ "id": version }))
        .await;
    if released.body.get("errors").is_some() {
        assert_eq!(released.code(), "CONFLICT", "{}", released.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn three_processes_on_one_database_behave_as_one_service() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let settings = Settings {
        env: vec![
            ("WEBHOOK_ALLOW_PRIVATE_TARGETS".into(), "true".into()),
            ("HOOK_POLL_INTERVAL_MS".into(), "200".into()),
            ("DATABASE_POOL_SIZE".into(), "4".into()),
        ],
        ..Settings::default()
    };
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(TestServer::start_on(&db, settings.clone()).await);
    }
    let receiver = Receiver::start().await;
    let (integration, secret) = register_integration(&servers[0], &receiver.url).await;
    let mut programs = Vec::new();
    for n in 0..PROGRAMS {
        programs.push(create_dsl_program(&servers[n % 3], &format!("Program {n}")).await);
    }
    let servers = Arc::new(servers);
    let programs = Arc::new(programs);

    let clients: Vec<_> = (0..WORKERS)
        .map(|worker| tokio::spawn(client(servers.clone(), programs.clone(), worker)))
        .collect();
    let mut acknowledged = Vec::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    assert_eq!(
        acknowledged.len(),
        WORKERS * ROUNDS,
        "each round changed the mode once"
    );

    // Every process shows the same state, and it holds every acknowledged change.
    for program in programs.iter() {
        let seen: Vec<Value> =
            futures_util::future::join_all(servers.iter().map(|server| state(server, program)))
                .await;
        assert!(
            seen.iter().all(|state| state == &seen[0]),
            "processes disagree on {program}"
        );
        let history = seen[0]["updateModeHistory"]["nodes"].as_array().unwrap();
        let revisions: Vec<i64> = history
            .iter()
            .map(|change| change["revision"].as_i64().unwrap())
            .collect();
        let expected: Vec<i64> = (2..=seen[0]["revision"].as_i64().unwrap()).rev().collect();
        assert_eq!(
            revisions, expected,
            "one history entry per revision, no gaps"
        );
        for pair in history.windows(2) {
            assert_eq!(
                pair[0]["previousMode"], pair[1]["mode"],
                "each change starts where the last one ended"
            );
        }
        let mine: BTreeMap<i64, String> = acknowledged
            .iter()
            .filter(|(id, _, _)| id == program)
            .map(|(_, revision, mode)| (*revision, mode.clone()))
            .collect();
        assert_eq!(
            mine.len(),
            history.len(),
            "every change acknowledged exactly once"
        );
        for change in history {
            assert_eq!(
                mine[&change["revision"].as_i64().unwrap()],
                change["mode"].as_str().unwrap()
            );
        }
        // The launch snapshots of all processes follow.
        let released = seen[0]["versions"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|version| version["status"] == "FULL_RELEASE")
            .map_or(Value::Null, |version| version["version"].clone());
        let released = &released;
        eventually(
            Duration::from_secs(5),
            "every process's launch answer to agree",
            || async {
                let answers: Vec<Value> =
                    futures_util::future::join_all(servers.iter().map(|server| async move {
                        server
                            .gql(&admin(), LAUNCH, json!({ "id": program }))
                            .await
                            .data()["launchPolicy"]
                            .clone()
                    }))
                    .await;
                (answers.iter().all(|answer| answer == &answers[0])
                    && &answers[0]["targetVersion"] == released)
                    .then_some(())
            },
        )
        .await;
    }

    // Every event reaches the integration exactly once, whichever process delivered it.
    let events = servers[1]
        .gql(
            &admin(),
            "{ releaseIntegrations { id deliveries(first: 1) { totalCount } } }",
            json!({}),
        )
        .await;
    let listed = &events.data()["releaseIntegrations"][0];
    assert_eq!(listed["id"], integration.as_str());
    let total = listed["deliveries"]["totalCount"].as_u64().unwrap() as usize;
    let delivered = receiver.wait_for(total).await;
    // A delivery is claimed, and its attempt counted, before it is sent:
    // once every one is recorded as delivered (the receiver has a request
    // a moment before its sender records the answer), each was claimed
    // once, by one process, and none is on its way a second time.
    let log = eventually(
        Duration::from_secs(10),
        "every delivery to be recorded",
        || async {
            let log = deliveries(&servers[2], &integration).await;
            log.iter()
                .all(|entry| entry["status"] == "DELIVERED")
                .then_some(log)
        },
    )
    .await;
    assert_eq!(log.len(), total);
    for entry in &log {
        assert_eq!(
            (&entry["status"], &entry["attempts"]),
            (&json!("DELIVERED"), &json!(1)),
            "{entry}"
        );
    }
    let delivered_now = receiver.delivered();
    assert_eq!(delivered_now.len(), total, "no event delivered twice");
    let ids: BTreeSet<String> = delivered.iter().map(Received::webhook_id).collect();
    assert_eq!(ids.len(), total);
    let mode_changes = delivered_now
        .iter()
        .filter(|received| received.verified(&secret)["type"] == "update_mode.changed")
        .count();
    assert_eq!(
        mode_changes,
        acknowledged.len(),
        "one event per acknowledged change"
    );
}
