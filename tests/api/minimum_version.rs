//! The minimum usable version: set among released versions, no newer than
//! the full release, refused as `updateMode` is where the mode is locked or
//! the revision stale, announced and audited, and in every launch answer:
//! a device below it downloads the target first, whatever the mode.

use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;
use crate::rollback::released_version;

const SET: &str = "mutation($id: ID!, $v: String, $r: Int) {
    setMinimumVersion(input: { miniProgramId: $id, version: $v, expectedRevision: $r }) {
        miniProgram { id minimumVersion revision }
    }
}";

async fn set(
    server: &TestServer,
    token: &str,
    program: &str,
    version: Option<&str>,
    revision: Option<i64>,
) -> Gql {
    server
        .gql(
            token,
            SET,
            json!({ "id": program, "v": version, "r": revision }),
        )
        .await
}

async fn launch_answer(server: &TestServer, key: &str, program: &str, cached: &str) -> Value {
    let response = server
        .http()
        .get(format!("{}/v1/launch/{program}", server.url))
        .query(&[
            ("deviceId", "device-1"),
            ("cachedVersion", cached),
            ("cacheAgeSeconds", "5"),
        ])
        .header("x-client-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn preview(server: &TestServer, program: &str, cached: &str) -> Value {
    server
        .gql(
            &viewer(),
            "query($id: ID!, $c: String) { launchPolicy(miniProgramId: $id, deviceId: \"device-1\", cachedVersion: $c, cacheAgeSeconds: 5) { action targetVersion minimumVersion } }",
            json!({ "id": program, "c": cached }),
        )
        .await
        .data()["launchPolicy"]
        .clone()
}

/// An ASYNC program with 1.0.0 and 1.1.0 fully released (in turn) and
/// 1.2.0 on a gray share.
async fn program_with_releases(server: &TestServer) -> String {
    let program = create_dsl_program(server, "Mall").await;
    update_mode(server, &admin(), &program, "ASYNC")
        .await
        .data();
    released_version(server, &program, "1.0.0", None).await;
    released_version(server, &program, "1.1.0", None).await;
    released_version(server, &program, "1.2.0", Some(1)).await;
    program
}

on_both_backends! {
    async fn the_floor_sends_older_caches_to_download_first_whatever_the_mode(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, Settings::with_env(&[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")])).await;
        let receiver = Receiver::start().await;
        let response = server.gql(&admin(), REGISTER, json!({ "input": { "name": "Desk", "url": receiver.url, "events": ["MINIMUM_VERSION_CHANGED"] } })).await;
        let secret = response.data()["registerReleaseIntegration"]["secret"].as_str().unwrap().to_owned();
        let program = program_with_releases(&server).await;
        let key = create_client_key(&server, &admin()).await;
        let before = launch_answer(&server, &key, &program, "1.0.0").await;
        assert_eq!(before["minimumVersion"], Value::Null);
        assert_eq!(before["action"], "ASYNC_DOWNLOAD");
        let revision = program_state(&server, &program).await["revision"].as_i64().unwrap();

        let set_floor = set(&server, &admin(), &program, Some("1.1.0"), Some(revision)).await;
        let changed = &set_floor.data()["setMinimumVersion"]["miniProgram"];
        assert_eq!(changed["minimumVersion"], "1.1.0");
        assert_eq!(changed["revision"], revision + 1);
        let answer = launch_answer(&server, &key, &program, "1.0.0").await;
        assert_eq!((&answer["action"], &answer["targetVersion"], &answer["minimumVersion"]), (&json!("SYNC_DOWNLOAD"), &json!("1.1.0"), &json!("1.1.0")));
        assert!(answer["policyRevision"].as_i64().unwrap() > before["policyRevision"].as_i64().unwrap());
        assert_eq!(launch_answer(&server, &key, &program, "1.1.0").await["action"], "NONE");
        assert_eq!(preview(&server, &program, "1.0.0").await, json!({ "action": "SYNC_DOWNLOAD", "targetVersion": "1.1.0", "minimumVersion": "1.1.0" }));

        let event = receiver.wait_for(1).await[0].verified(&secret);
        assert_eq!(event["type"], "minimum_version.changed");
        assert_eq!(event["data"]["minimumVersion"], "1.1.0");
        assert_eq!(event["data"]["previousMinimumVersion"], Value::Null);
        assert_eq!(event["data"]["revision"], revision + 1);
        let audit = server.gql(&admin(), "query($t: ID!) { auditLog(first: 5, filter: { targetId: $t, actions: [SET_MINIMUM_VERSION] }) { nodes { actor before after } } }", json!({ "t": program })).await;
        let record = &audit.data()["auditLog"]["nodes"][0];
        assert_eq!(record["before"]["minimumVersion"], Value::Null);
        assert_eq!(record["after"]["minimumVersion"], "1.1.0");

        // The same floor again writes nothing; null clears it.
        let same = set(&server, &admin(), &program, Some("1.1.0"), None).await;
        assert_eq!(same.data()["setMinimumVersion"]["miniProgram"]["revision"], revision + 1);
        let cleared = set(&server, &admin(), &program, None, None).await;
        assert_eq!(cleared.data()["setMinimumVersion"]["miniProgram"]["minimumVersion"], Value::Null);
        let answer = launch_answer(&server, &key, &program, "1.0.0").await;
        assert_eq!((&answer["action"], &answer["minimumVersion"]), (&json!("ASYNC_DOWNLOAD"), &Value::Null));
        let event = receiver.wait_for(2).await[1].verified(&secret);
        assert_eq!(event["data"]["previousMinimumVersion"], "1.1.0");
        assert_eq!(event["data"]["minimumVersion"], Value::Null);
        // An offline version that was released is a valid floor.
        let floor = set(&server, &admin(), &program, Some("1.0.0"), None).await;
        assert_eq!(floor.data()["setMinimumVersion"]["miniProgram"]["minimumVersion"], "1.0.0");
    }

    async fn refused_floors_change_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = program_with_releases(&server).await;
        let created = create_version(&server, &program, "1.3.0").await;
        assert!(!created.is_empty());
        let before = program_state(&server, &program).await;
        let revision = before["revision"].as_i64().unwrap();
        type Refusal = (String, Option<&'static str>, Option<i64>, &'static str, Option<&'static str>);
        let refusals: [Refusal; 8] = [
            (developer(), Some("1.0.0"), None, "FORBIDDEN", None),
            (viewer(), Some("1.0.0"), None, "FORBIDDEN", None),
            (token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]), Some("1.0.0"), None, "NOT_FOUND", None),
            (admin(), Some("1.0.0"), Some(revision - 1), "CONFLICT", None),
            (admin(), Some("1.2.0"), None, "BAD_USER_INPUT", Some("version")),
            (admin(), Some("1.3.0"), None, "BAD_USER_INPUT", Some("version")),
            (admin(), Some("0.9.0"), None, "BAD_USER_INPUT", Some("version")),
            (admin(), Some("one"), None, "BAD_USER_INPUT", Some("version")),
        ];
        for (token, version, expected, code, field) in &refusals {
            let refused = set(&server, token, &program, *version, *expected).await;
            assert_eq!(refused.code(), *code, "{version:?}: {}", refused.body);
            if let Some(field) = field {
                assert_eq!(refused.error()["extensions"]["field"], *field);
            }
        }
        assert_eq!(program_state(&server, &program).await, before);
        assert_eq!(preview(&server, &program, "1.0.0").await["minimumVersion"], Value::Null);

        for (program_type, channel) in [("H5", "WORKSPACE"), ("DSL", "ALIPAY_PLUS")] {
            let locked = create_program(&server, &format!("{program_type} {channel}"), program_type, channel).await;
            let refused = set(&server, &admin(), &locked, None, None).await;
            assert_eq!(refused.code(), "UPDATE_MODE_LOCKED");
        }
        let nothing = create_dsl_program(&server, "Empty").await;
        assert_eq!(set(&server, &admin(), &nothing, Some("1.0.0"), None).await.code(), "BAD_USER_INPUT");
    }
}

/// Two processes on one PostgreSQL database: a floor set through one is in
/// the other's launch answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn every_process_answers_with_the_floor() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&db, Settings::default()).await;
    let second = TestServer::start_on(&db, Settings::default()).await;
    let program = program_with_releases(&first).await;
    let key = create_client_key(&first, &admin()).await;
    set(&first, &admin(), &program, Some("1.1.0"), None)
        .await
        .data();
    let set_at = std::time::Instant::now();
    eventually(
        std::time::Duration::from_secs(10),
        "the floor on the second process",
        || async {
            let answer = launch_answer(&second, &key, &program, "1.0.0").await;
            (answer["minimumVersion"] == "1.1.0" && answer["action"] == "SYNC_DOWNLOAD")
                .then_some(())
        },
    )
    .await;
    assert!(
        set_at.elapsed() < std::time::Duration::from_secs(1),
        "took {:?}",
        set_at.elapsed()
    );
}
