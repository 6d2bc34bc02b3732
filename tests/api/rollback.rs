//! Rollback: the newest release goes offline for good with its reason, the
//! full release it replaced serves again, integrations hear of both, and
//! launch answers follow at once.

use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;
use crate::rollouts::{approved_version, start_rollout, version_state};

pub const ROLL_BACK: &str = "mutation($id: ID!, $r: String!) {
    rollBackRelease(input: { miniProgramId: $id, reason: $r }) {
        rolledBack { id version status offlineReason rollout { status } }
        restored { id version status }
    }
}";

pub async fn roll_back(server: &TestServer, token: &str, program: &str, reason: &str) -> Gql {
    server
        .gql(token, ROLL_BACK, json!({ "id": program, "r": reason }))
        .await
}

/// Approves and releases a new version of `program` to `gray` percent, or fully.
pub async fn released_version(
    server: &TestServer,
    program: &str,
    number: &str,
    gray: Option<i32>,
) -> String {
    let version = create_version(server, program, number).await;
    submit(server, &developer(), &version).await.data();
    decide(server, &approver(), &version, "APPROVE").await;
    release(server, &version, gray).await;
    version
}

/// A device's launch answer: (targetVersion, action).
pub async fn launch(server: &TestServer, key: &str, program: &str, cached: &str) -> (Value, Value) {
    let response = server
        .http()
        .get(format!("{}/v1/launch/{program}", server.url))
        .query(&[
            ("deviceId", "device-1"),
            ("cachedVersion", cached),
            ("cacheAgeSeconds", "10"),
        ])
        .header("x-client-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (body["targetVersion"].clone(), body["action"].clone())
}

on_both_backends! {
    async fn a_rollback_restores_the_full_release_it_replaced_and_devices_follow(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, Settings::with_env(&[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")])).await;
        let receiver = Receiver::start().await;
        let (_, secret) = register_integration(&server, &receiver.url).await;
        let program = create_dsl_program(&server, "Mall").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let first = released_version(&server, &program, "1.0.0", None).await;
        let second = released_version(&server, &program, "1.1.0", None).await;
        let key = create_client_key(&server, &admin()).await;
        assert_eq!(launch(&server, &key, &program, "1.0.0").await, (json!("1.1.0"), json!("ASYNC_DOWNLOAD")));
        let history_before = program_state(&server, &program).await["updateModeHistory"].clone();

        let rolled = roll_back(&server, &admin(), &program, " checkout crashes ").await;
        let payload = &rolled.data()["rollBackRelease"];
        assert_eq!(payload["rolledBack"]["id"], second);
        assert_eq!(payload["rolledBack"]["status"], "OFFLINE");
        assert_eq!(payload["rolledBack"]["offlineReason"], "checkout crashes");
        assert_eq!(payload["restored"], json!({ "id": first, "version": "1.0.0", "status": "FULL_RELEASE" }));
        // Devices get the restored version; one that has the rolled-back
        // version cached replaces it before starting, whatever the mode.
        assert_eq!(launch(&server, &key, &program, "1.1.0").await, (json!("1.0.0"), json!("SYNC_DOWNLOAD")));
        assert_eq!(launch(&server, &key, &program, "1.0.0").await, (json!("1.0.0"), json!("NONE")));
        assert_eq!(program_state(&server, &program).await["updateModeHistory"], history_before);

        // Integrations hear of both versions: the rolled-back one offline,
        // the restored one released (again).
        let announced = |receiver: &Receiver, kind: &str, version: &str| {
            receiver
                .delivered()
                .iter()
                .map(|r| r.verified(&secret))
                .filter(|b| b["type"] == kind && b["data"]["versionId"] == version)
                .count()
        };
        eventually(std::time::Duration::from_secs(30), "the rollback's events", || async {
            (announced(&receiver, "version.offline", &second) == 1
                && announced(&receiver, "version.released", &first) == 2)
                .then_some(())
        })
        .await;

        // A later release replaces the restored one; the rolled-back one is
        // still never served.
        let third = released_version(&server, &program, "1.2.0", None).await;
        assert_eq!(launch(&server, &key, &program, "1.1.0").await, (json!("1.2.0"), json!("SYNC_DOWNLOAD")));
        assert_eq!(launch(&server, &key, &program, "1.0.0").await, (json!("1.2.0"), json!("ASYNC_DOWNLOAD")));
        // Rolling back again restores what 1.2.0 replaced: 1.0.0.
        let again = roll_back(&server, &admin(), &program, "still broken").await;
        assert_eq!(again.data()["rollBackRelease"]["rolledBack"]["id"], third);
        assert_eq!(again.data()["rollBackRelease"]["restored"]["id"], first);
        // And once more: 1.0.0 replaced nothing, so nothing is left.
        let last = roll_back(&server, &admin(), &program, "pull it all").await;
        assert_eq!(last.data()["rollBackRelease"]["rolledBack"]["id"], first);
        assert_eq!(last.data()["rollBackRelease"]["restored"], Value::Null);
        assert_eq!(launch(&server, &key, &program, "1.0.0").await.0, Value::Null);
        let nothing = roll_back(&server, &admin(), &program, "again").await;
        assert_eq!(nothing.code(), "INVALID_TRANSITION");
    }

    async fn a_rolled_back_gray_release_leaves_the_full_release_serving_and_ends_its_plan(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        let full = released_version(&server, &program, "1.0.0", None).await;
        let version = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &version).await.data();
        decide(&server, &approver(), &version, "APPROVE").await;
        start_rollout(&server, &admin(), &version, &[(20, 3600), (100, 0)]).await.data();
        let key = create_client_key(&server, &admin()).await;

        let rolled = roll_back(&server, &admin(), &program, "error rate").await;
        let payload = &rolled.data()["rollBackRelease"];
        assert_eq!(payload["rolledBack"]["id"], version);
        assert_eq!(payload["rolledBack"]["rollout"]["status"], "CANCELLED");
        assert_eq!(payload["restored"], json!({ "id": full, "version": "1.0.0", "status": "FULL_RELEASE" }));
        assert_eq!(version_state(&server, &version).await["offlineReason"], "error rate");
        assert_eq!(launch(&server, &key, &program, "1.1.0").await, (json!("1.0.0"), json!("SYNC_DOWNLOAD")));
    }

    async fn refused_rollbacks_change_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let (program, _) = approved_version(&server, "Mall", "1.0.0").await;
        let before = program_state(&server, &program).await;
        assert_eq!(roll_back(&server, &admin(), &program, "nothing out").await.code(), "INVALID_TRANSITION");
        released_version(&server, &program, "1.1.0", None).await;
        let before_release = program_state(&server, &program).await;
        assert_ne!(before, before_release);
        for (token, reason, code) in [
            (developer(), "bad", "FORBIDDEN"),
            (approver(), "bad", "FORBIDDEN"),
            (viewer(), "bad", "FORBIDDEN"),
            (token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]), "bad", "NOT_FOUND"),
            (admin(), "  ", "BAD_USER_INPUT"),
        ] {
            let refused = roll_back(&server, &token, &program, reason).await;
            assert_eq!(refused.code(), code, "{}", refused.body);
        }
        let long = "x".repeat(501);
        let refused = roll_back(&server, &admin(), &program, &long).await;
        assert_eq!(refused.error()["extensions"]["field"], "reason");
        assert_eq!(roll_back(&server, &admin(), "no-such-program", "x").await.code(), "NOT_FOUND");
        assert_eq!(program_state(&server, &program).await, before_release);
    }
}

/// Two processes on one PostgreSQL database: a rollback through one is in
/// the other's launch answers within the same second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn every_process_answers_launches_with_the_restored_version_within_a_second() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&db, Settings::default()).await;
    let second = TestServer::start_on(&db, Settings::default()).await;
    let program = create_dsl_program(&first, "Mall").await;
    released_version(&first, &program, "1.0.0", None).await;
    released_version(&first, &program, "1.1.0", None).await;
    let key = create_client_key(&first, &admin()).await;
    eventually(
        std::time::Duration::from_secs(10),
        "the second process to serve 1.1.0",
        || async { (launch(&second, &key, &program, "1.0.0").await.0 == "1.1.0").then_some(()) },
    )
    .await;
    roll_back(&first, &admin(), &program, "crashes")
        .await
        .data();
    let rolled_back = std::time::Instant::now();
    eventually(
        std::time::Duration::from_secs(10),
        "the second process to serve 1.0.0",
        || async {
            (launch(&second, &key, &program, "1.1.0").await
                == (json!("1.0.0"), json!("SYNC_DOWNLOAD")))
                .then_some(())
        },
    )
    .await;
    let took = rolled_back.elapsed();
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
}
