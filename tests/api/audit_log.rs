//! The audit log: one record per change made by an accepted mutation, in the
//! change's own transaction; nothing for a refused one.

use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

const AUDIT_LOG: &str = "query($first: Int, $after: String, $filter: AuditLogFilter) {
    auditLog(first: $first, after: $after, filter: $filter) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { action actor targetType targetId requestId before after recordedAt }
    }
}";

async fn audit_log(server: &TestServer, token: &str, variables: Value) -> Gql {
    server.gql(token, AUDIT_LOG, variables).await
}

async fn records(server: &TestServer, filter: Value) -> Vec<Value> {
    let response = audit_log(server, &admin(), json!({ "first": 100, "filter": filter })).await;
    response.data()["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// A mutation sent with its own request id.
async fn mutate(
    server: &TestServer,
    token: &str,
    request_id: &str,
    query: &str,
    variables: Value,
) -> Gql {
    let response = server
        .http()
        .post(format!("{}/graphql", server.url))
        .bearer_auth(token)
        .header("x-request-id", request_id)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

on_both_backends! {
    async fn every_accepted_mutation_is_recorded_with_who_what_and_the_states(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings { env: vec![("WEBHOOK_ALLOW_PRIVATE_TARGETS".into(), "true".into())], ..Settings::default() };
        let server = TestServer::start_on(&db, settings).await;
        let receiver = Receiver::start().await;

        let (integration, secret) = register_integration(&server, &receiver.url).await;
        let program = create_dsl_program(&server, "Shop").await;
        let changed = mutate(&server, &admin(), "req-update-mode", UPDATE_MODE, json!({ "input": { "miniProgramId": program, "mode": "SYNC" } })).await;
        changed.data();
        mutate(&server, &admin(), "req-timers", "mutation($id: ID!) { setUpdateTimers(input: { miniProgramId: $id, asyncUpdateSeconds: 60, syncUpdateSeconds: 600 }) { miniProgram { id } } }", json!({ "id": program })).await.data();
        let first = create_version(&server, &program, "1.0.0").await;
        submit(&server, &developer(), &first).await.data();
        decide(&server, &approver(), &first, "APPROVE").await;
        release(&server, &first, None).await;
        let second = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &second).await.data();
        decide(&server, &approver(), &second, "APPROVE").await;
        release(&server, &second, None).await;
        mutate(&server, &admin(), "req-offline", "mutation($id: ID!) { takeVersionOffline(input: { versionId: $id }) { mini_program_version: miniProgramVersion { status } } }", json!({ "id": second })).await.data();
        receiver.wait_for(1).await;
        let event_id = deliveries(&server, &integration).await[0]["eventId"].clone();
        server.gql(&admin(), "mutation($i: ID!, $e: ID!) { redeliverHookEvent(input: { integrationId: $i, eventId: $e }) { delivery { status } } }", json!({ "i": integration, "e": event_id })).await.data();
        server.gql(&admin(), "mutation($i: ID!) { updateReleaseIntegration(input: { id: $i, active: false }) { integration { id } } }", json!({ "i": integration })).await.data();
        let rotated = server.gql(&admin(), "mutation($i: ID!) { rotateReleaseIntegrationSecret(input: { id: $i }) { secret } }", json!({ "i": integration })).await;
        let new_secret = rotated.data()["rotateReleaseIntegrationSecret"]["secret"].as_str().unwrap().to_owned();
        server.gql(&admin(), "mutation($i: ID!) { deleteReleaseIntegration(input: { id: $i }) { deletedIntegrationId } }", json!({ "i": integration })).await.data();
        let created = server.gql(&admin(), "mutation { createClientKey(input: { name: \"ios\" }) { clientKey { id } key } }", json!({})).await;
        let key_id = created.data()["createClientKey"]["clientKey"]["id"].as_str().unwrap().to_owned();
        let key = created.data()["createClientKey"]["key"].as_str().unwrap().to_owned();
        server.gql(&admin(), "mutation($id: ID!) { revokeClientKey(input: { id: $id }) { clientKey { id } } }", json!({ "id": key_id })).await.data();

        let log = records(&server, json!(null)).await;
        let actions: Vec<&str> = log.iter().rev().map(|record| record["action"].as_str().unwrap()).collect();
        assert_eq!(actions, [
            "REGISTER_RELEASE_INTEGRATION",
            "CREATE_MINI_PROGRAM",
            "UPDATE_MODE",
            "SET_UPDATE_TIMERS",
            "CREATE_MINI_PROGRAM_VERSION",
            "SUBMIT_VERSION_FOR_RELEASE_APPROVAL",
            "DECIDE_RELEASE",
            "RELEASE_VERSION",
            "CREATE_MINI_PROGRAM_VERSION",
            "SUBMIT_VERSION_FOR_RELEASE_APPROVAL",
            "DECIDE_RELEASE",
            // The full release of 1.1.0 and the 1.0.0 it took offline.
            "RELEASE_VERSION",
            "RELEASE_VERSION",
            "TAKE_VERSION_OFFLINE",
            "REDELIVER_HOOK_EVENT",
            "UPDATE_RELEASE_INTEGRATION",
            "ROTATE_RELEASE_INTEGRATION_SECRET",
            "DELETE_RELEASE_INTEGRATION",
            "CREATE_CLIENT_KEY",
            "REVOKE_CLIENT_KEY",
        ]);

        let update = log.iter().find(|record| record["action"] == "UPDATE_MODE").unwrap();
        assert_eq!(update["actor"], "workspace_admin-user");
        assert_eq!(update["requestId"], "req-update-mode");
        assert_eq!((update["targetType"].as_str(), update["targetId"].as_str()), (Some("MiniProgram"), Some(program.as_str())));
        assert_eq!((&update["before"]["updateMode"], &update["after"]["updateMode"]), (&json!("DEFAULT"), &json!("SYNC")));
        assert_eq!((&update["before"]["revision"], &update["after"]["revision"]), (&json!(1), &json!(2)));

        let superseded = log.iter().find(|record| record["action"] == "RELEASE_VERSION" && record["targetId"] == first.as_str() && record["after"]["status"] == "OFFLINE").unwrap();
        assert_eq!(superseded["before"]["status"], "FULL_RELEASE");
        let created = log.iter().find(|record| record["action"] == "CREATE_MINI_PROGRAM").unwrap();
        assert_eq!(created["before"], Value::Null);
        assert_eq!(created["after"]["updateMode"], "DEFAULT");
        let deleted = log.iter().find(|record| record["action"] == "DELETE_RELEASE_INTEGRATION").unwrap();
        assert_eq!((&deleted["before"]["active"], &deleted["after"]), (&json!(false), &Value::Null));
        assert!(log.iter().all(|record| record["requestId"].as_str().is_some_and(|id| !id.is_empty())), "generated ids are recorded too");

        // No secret or key reaches the log.
        let text = serde_json::to_string(&log).unwrap();
        for secret in [&secret, &new_secret, &key] {
            assert!(!text.contains(secret.as_str()), "a secret in the audit log");
        }
    }

    async fn refused_mutations_leave_no_record(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let alipay = create_program(&server, "Partner", "DSL", "ALIPAY_PLUS").await;
        let before = records(&server, json!(null)).await;

        let forbidden = update_mode(&server, &developer(), &program, "SYNC").await;
        assert_eq!(forbidden.code(), "FORBIDDEN");
        let locked = update_mode(&server, &admin(), &alipay, "SYNC").await;
        assert_eq!(locked.code(), "UPDATE_MODE_LOCKED");
        let stale = server.gql(&admin(), UPDATE_MODE, json!({ "input": { "miniProgramId": program, "mode": "SYNC", "expectedRevision": 7 } })).await;
        assert_eq!(stale.code(), "CONFLICT");
        let taken = server.gql(&admin(), "mutation { createMiniProgram(input: { name: \"Shop\", type: DSL, channel: WORKSPACE }) { miniProgram { id } } }", json!({})).await;
        assert_eq!(taken.code(), "CONFLICT");
        let version = create_version(&server, &program, "1.0.0").await;
        submit(&server, &developer(), &version).await.data();

        let after = records(&server, json!(null)).await;
        let new: Vec<&str> = after[..after.len() - before.len()].iter().map(|record| record["action"].as_str().unwrap()).collect();
        assert_eq!(new, ["SUBMIT_VERSION_FOR_RELEASE_APPROVAL", "CREATE_MINI_PROGRAM_VERSION"], "only the accepted ones");
    }

    async fn only_a_workspace_admin_reads_only_their_workspaces_log(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        update_mode(&server, &admin(), &program, "SYNC").await.data();

        for token in [developer(), viewer(), approver()] {
            assert_eq!(audit_log(&server, &token, json!({})).await.code(), "FORBIDDEN");
        }
        let other = audit_log(&server, &token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]), json!({})).await;
        assert_eq!(other.data()["auditLog"]["totalCount"], 0);

        // Filters, and pages that follow each other.
        let updates = records(&server, json!({ "actions": ["UPDATE_MODE"] })).await;
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0]["after"]["updateMode"], "SYNC", "newest first");
        assert_eq!(records(&server, json!({ "actor": "nobody" })).await.len(), 0);
        assert_eq!(records(&server, json!({ "targetId": program })).await.len(), 3);
        let page = audit_log(&server, &admin(), json!({ "first": 2 })).await;
        let page = &page.data()["auditLog"];
        assert_eq!((page["totalCount"].as_i64(), page["pageInfo"]["hasNextPage"].as_bool()), (Some(3), Some(true)));
        let cursor = page["pageInfo"]["endCursor"].as_str().unwrap();
        let rest = audit_log(&server, &admin(), json!({ "first": 2, "after": cursor })).await;
        let rest = rest.data()["auditLog"]["nodes"].as_array().unwrap().clone();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0]["action"], "CREATE_MINI_PROGRAM");
    }

    async fn cursors_name_a_record_and_count_nothing(backend: Backend) {
        use base64::Engine as _;
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let other_admin = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        let foreign = server
            .gql(&other_admin, "mutation { createMiniProgram(input: { name: \"Elsewhere\", type: DSL }) { miniProgram { id } } }", json!({}))
            .await;
        let foreign = foreign.data()["createMiniProgram"]["miniProgram"]["id"].as_str().unwrap().to_owned();
        for mode in ["SYNC", "ASYNC", "SYNC"] {
            update_mode(&server, &other_admin, &foreign, mode).await.data();
        }
        update_mode(&server, &admin(), &program, "SYNC").await.data();

        let page = audit_log(&server, &admin(), json!({ "first": 1 })).await;
        let cursor = page.data()["auditLog"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
        let decoded: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&cursor).unwrap()).unwrap();
        let id = decoded.as_str().unwrap_or_else(|| panic!("a cursor names a record, not a place: {decoded}"));
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "a random id: {id}");
        let rest = audit_log(&server, &admin(), json!({ "first": 10, "after": cursor })).await;
        let actions: Vec<Value> = rest.data()["auditLog"]["nodes"].as_array().unwrap().iter().map(|node| node["action"].clone()).collect();
        assert_eq!(actions, [json!("UPDATE_MODE"), json!("CREATE_MINI_PROGRAM")], "the other workspace's records are not on the way");

        // Another workspace's cursor, and a place in the old numeric form, name nothing here.
        let theirs = audit_log(&server, &other_admin, json!({ "first": 1 })).await;
        let theirs = theirs.data()["auditLog"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
        let numeric = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("5");
        for after in [theirs, numeric] {
            let refused = audit_log(&server, &admin(), json!({ "first": 10, "after": after })).await;
            assert_eq!(refused.code(), "BAD_USER_INPUT", "{after}");
            assert_eq!(refused.error()["extensions"]["field"], "after");
        }
    }
}
