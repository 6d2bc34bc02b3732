use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

const CREATE: &str = "mutation($input: CreateMiniProgramVersionInput!) {
    createMiniProgramVersion(input: $input) {
        miniProgramVersion { id version description status updateMode updateModeSource createdAt submittedAt miniProgram { name } }
    }
}";

const VERSIONS: &str = "query($id: ID!, $status: [VersionStatus!], $first: Int, $after: String) {
    miniProgram(id: $id) {
        versions(first: $first, after: $after, status: $status) {
            totalCount
            pageInfo { hasNextPage endCursor }
            nodes { version status updateMode updateModeSource }
        }
    }
}";

fn create_input(program: &str, version: &str) -> Value {
    json!({ "input": { "miniProgramId": program, "version": version, "description": "  Notes  " } })
}

async fn version_numbers(server: &TestServer, program: &str, status: Value) -> Vec<String> {
    let response = server
        .gql(
            &viewer(),
            VERSIONS,
            json!({ "id": program, "status": status, "first": 100 }),
        )
        .await;
    response.data()["miniProgram"]["versions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["version"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn developers_and_admins_create_versions_that_follow_the_global_mode(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();

        for (token, number) in [(developer(), "1.0.0"), (admin(), "1.0.1")] {
            let response = server.gql(&token, CREATE, create_input(&program, number)).await;
            let version = &response.data()["createMiniProgramVersion"]["miniProgramVersion"];
            assert_eq!(version["version"], number);
            assert_eq!(version["description"], "Notes");
            assert_eq!(version["status"], "NEW_VERSION_CREATED");
            assert_eq!(version["updateMode"], "ASYNC");
            assert_eq!(version["updateModeSource"], "PENDING");
            assert_eq!(version["submittedAt"], Value::Null);
            assert_eq!(version["miniProgram"]["name"], "Shop");
        }
        // "You can still edit the update mode of the current version."
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let response = server.gql(&viewer(), VERSIONS, json!({ "id": program })).await;
        for version in response.data()["miniProgram"]["versions"]["nodes"].as_array().unwrap() {
            assert_eq!(version["updateMode"], "SYNC");
            assert_eq!(version["updateModeSource"], "PENDING");
        }
    }

    async fn viewers_and_approvers_do_not_create_versions(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        for token in [viewer(), approver()] {
            let response = server.gql(&token, CREATE, create_input(&program, "1.0.0")).await;
            assert_eq!(response.code(), "FORBIDDEN");
            // Authorization before validation.
            let response = server.gql(&token, CREATE, create_input(&program, "bogus")).await;
            assert_eq!(response.code(), "FORBIDDEN");
        }
        assert_eq!(program_state(&server, &program).await["versions"]["totalCount"], 0);
    }

    async fn version_numbers_are_strict_and_increasing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        for number in ["1.9.0", "1.10.0"] {
            create_version(&server, &program, number).await;
        }
        for bad in ["", "1", "1.2", "v1.2.3", "1.2.3.4", "01.2.3", "1.2.-3", "1.2.3-beta", "99999999999.0.0"] {
            let response = server.gql(&developer(), CREATE, create_input(&program, bad)).await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "{bad:?}");
            assert_eq!(response.error()["extensions"]["field"], "version");
        }
        for not_greater in ["1.10.0", "1.9.5", "0.1.0"] {
            let response = server.gql(&developer(), CREATE, create_input(&program, not_greater)).await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "{not_greater}");
            assert_eq!(response.error()["extensions"]["latestVersion"], "1.10.0");
        }
        let long = json!({ "input": { "miniProgramId": program, "version": "2.0.0", "description": "x".repeat(2001) } });
        let response = server.gql(&developer(), CREATE, long).await;
        assert_eq!(response.error()["extensions"]["field"], "description");
        let response = server.gql(&developer(), CREATE, create_input("no-such-program", "9.0.0")).await;
        assert_eq!(response.code(), "NOT_FOUND");

        assert_eq!(version_numbers(&server, &program, Value::Null).await, ["1.10.0", "1.9.0"]);
        create_version(&server, &program, "2.0.0").await;
    }

    async fn versions_list_newest_first_in_pages_and_by_status(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let numbers = ["0.9.9", "1.0.0", "1.2.0", "1.10.0", "2.0.0"];
        let mut ids = Vec::new();
        for number in numbers {
            ids.push(create_version(&server, &program, number).await);
        }
        submit(&server, &developer(), &ids[1]).await.data();

        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let response = server.gql(&viewer(), VERSIONS, json!({ "id": program, "first": 2, "after": after })).await;
            let versions = &response.data()["miniProgram"]["versions"];
            assert_eq!(versions["totalCount"], 5);
            seen.extend(versions["nodes"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap().to_owned()));
            if !versions["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = Some(versions["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
        }
        assert_eq!(seen, ["2.0.0", "1.10.0", "1.2.0", "1.0.0", "0.9.9"]);
        assert_eq!(version_numbers(&server, &program, json!(["PENDING_APPROVAL"])).await, ["1.0.0"]);
        assert_eq!(
            version_numbers(&server, &program, json!(["NEW_VERSION_CREATED", "FULL_RELEASE"])).await,
            ["2.0.0", "1.10.0", "1.2.0", "0.9.9"]
        );
        assert_eq!(version_numbers(&server, &program, json!([])).await.len(), 5);
    }

    async fn submission_fixes_the_global_mode_of_that_moment(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let version = create_version(&server, &program, "1.0.0").await;

        let response = submit(&server, &developer(), &version).await;
        let submitted = &response.data()["submitVersionForReleaseApproval"]["miniProgramVersion"];
        assert_eq!(submitted["status"], "PENDING_APPROVAL");
        assert_eq!(submitted["updateMode"], "ASYNC");
        assert_eq!(submitted["updateModeSource"], "RELEASED");
        assert!(submitted["submittedAt"].is_string());

        // A later change of the global mode never touches it.
        for mode in ["SYNC", "DEFAULT"] {
            update_mode(&server, &admin(), &program, mode).await.data();
        }
        let state = program_state(&server, &program).await;
        let version_state = &state["versions"]["nodes"][0];
        assert_eq!(version_state["updateMode"], "ASYNC");
        assert_eq!(version_state["updateModeSource"], "RELEASED");
        assert_eq!(state["updateMode"], "DEFAULT");
    }

    async fn only_one_version_waits_for_approval(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let first = create_version(&server, &program, "1.0.0").await;
        let second = create_version(&server, &program, "1.1.0").await;
        submit(&server, &admin(), &first).await.data();
        let before = program_state(&server, &program).await;

        let response = submit(&server, &developer(), &second).await;
        assert_eq!(response.code(), "CONFLICT");
        assert_eq!(response.error()["extensions"]["pendingVersion"], "1.0.0");

        let response = submit(&server, &developer(), &first).await;
        assert_eq!(response.code(), "INVALID_TRANSITION");
        assert_eq!(response.error()["extensions"]["status"], "PENDING_APPROVAL");

        for token in [viewer(), approver()] {
            assert_eq!(submit(&server, &token, &second).await.code(), "FORBIDDEN");
        }
        assert_eq!(submit(&server, &developer(), "no-such-version").await.code(), "NOT_FOUND");
        assert_eq!(program_state(&server, &program).await, before);
    }

    async fn concurrent_submissions_let_exactly_one_through(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let mut versions = Vec::new();
        for i in 0..8 {
            versions.push(create_version(&server, &program, &format!("1.{i}.0")).await);
        }
        let token = developer();
        let responses = join_all(versions.iter().map(|id| submit(&server, &token, id))).await;
        let accepted = responses.iter().filter(|r| r.body.get("errors").is_none()).count();
        assert_eq!(accepted, 1);
        for refused in responses.iter().filter(|r| r.body.get("errors").is_some()) {
            assert_eq!(refused.code(), "CONFLICT");
        }
        assert_eq!(version_numbers(&server, &program, json!(["PENDING_APPROVAL"])).await.len(), 1);
    }

    async fn submission_and_mode_changes_serialize(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let version = create_version(&server, &program, "1.0.0").await;
        let modes = ["ASYNC", "SYNC", "DEFAULT"];
        let changes = (0..20).map(|i| {
            let server = &server;
            let program = &program;
            async move {
                update_mode(server, &admin(), program, modes[i % 3]).await.data();
            }
        });
        let submission = async { submit(&server, &developer(), &version).await };
        let (_, submitted) = tokio::join!(join_all(changes), submission);
        let submitted = &submitted.data()["submitVersionForReleaseApproval"]["miniProgramVersion"];
        let submitted_at = submitted["submittedAt"].as_str().unwrap();

        // The fixed mode is the global mode left by the last change committed
        // before the submission, never one from a change after it.
        let state = program_state(&server, &program).await;
        let history = state["updateModeHistory"]["nodes"].as_array().unwrap();
        let mode_then = history
            .iter()
            .find(|change| change["changedAt"].as_str().unwrap() <= submitted_at)
            .map_or(json!("DEFAULT"), |change| change["mode"].clone());
        assert_eq!(submitted["updateMode"], mode_then, "history: {history:?}, submitted at {submitted_at}");
    }
}
