use futures_util::future::join_all;
use serde_json::json;

use crate::common::*;
use crate::on_both_backends;

const LOCKS: &str =
    "query($id: ID!) { miniProgram(id: $id) { updateModeEditable updateModeLocks } }";

on_both_backends! {
    async fn an_admin_changes_the_global_mode_and_history_records_it(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;

        let response = update_mode(&server, &admin(), &program, "ASYNC").await;
        let payload = &response.data()["updateMode"];
        assert_eq!(payload["changed"], true);
        assert_eq!(payload["previousMode"], "DEFAULT");
        assert_eq!(payload["miniProgram"]["updateMode"], "ASYNC");
        assert_eq!(payload["miniProgram"]["revision"], 2);

        let response = update_mode(&server, &admin(), &program, "SYNC").await;
        assert_eq!(response.data()["updateMode"]["previousMode"], "ASYNC");

        let state = program_state(&server, &program).await;
        assert_eq!(state["updateMode"], "SYNC");
        assert_eq!(state["revision"], 3);
        let history = &state["updateModeHistory"];
        assert_eq!(history["totalCount"], 2);
        let entries = history["nodes"].as_array().unwrap();
        assert_eq!(
            entries.iter().map(|e| (e["previousMode"].clone(), e["mode"].clone(), e["revision"].clone())).collect::<Vec<_>>(),
            [(json!("ASYNC"), json!("SYNC"), json!(3)), (json!("DEFAULT"), json!("ASYNC"), json!(2))],
            "newest first"
        );
        assert_eq!(entries[0]["changedBy"], "workspace_admin-user");
        assert!(entries[0]["changedAt"].as_str().unwrap() >= entries[1]["changedAt"].as_str().unwrap());
    }

    async fn setting_the_current_mode_again_writes_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let before = program_state(&server, &program).await;

        let response = update_mode(&server, &admin(), &program, "ASYNC").await;
        let payload = &response.data()["updateMode"];
        assert_eq!(payload["changed"], false);
        assert_eq!(payload["previousMode"], "ASYNC");
        assert_eq!(payload["miniProgram"]["revision"], 2);
        assert_eq!(program_state(&server, &program).await, before);
    }

    async fn a_stale_expected_revision_is_refused(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let change = |mode: &str, revision: i32| {
            json!({ "input": { "miniProgramId": program, "mode": mode, "expectedRevision": revision } })
        };
        // Two admins read revision 1; the first one's change lands.
        let response = server.gql(&admin(), UPDATE_MODE, change("ASYNC", 1)).await;
        assert_eq!(response.data()["updateMode"]["miniProgram"]["revision"], 2);
        let before = program_state(&server, &program).await;

        let response = server.gql(&admin(), UPDATE_MODE, change("SYNC", 1)).await;
        assert_eq!(response.code(), "CONFLICT");
        assert_eq!(response.error()["extensions"]["currentRevision"], 2);
        // Even "no change" is refused when the caller's view is stale.
        let response = server.gql(&admin(), UPDATE_MODE, change("ASYNC", 1)).await;
        assert_eq!(response.code(), "CONFLICT");
        assert_eq!(program_state(&server, &program).await, before);

        let response = server.gql(&admin(), UPDATE_MODE, change("SYNC", 2)).await;
        assert_eq!(response.data()["updateMode"]["miniProgram"]["revision"], 3);
    }

    async fn only_admins_change_the_mode(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;
        for token in [developer(), viewer(), approver(), token(WORKSPACE, &["DEVELOPER", "VIEWER"])] {
            let response = update_mode(&server, &token, &program, "SYNC").await;
            assert_eq!(response.code(), "FORBIDDEN");
        }
        // Authorization comes first: a viewer learns nothing about the id either.
        let response = update_mode(&server, &viewer(), "no-such-program", "SYNC").await;
        assert_eq!(response.code(), "FORBIDDEN");
        assert_eq!(program_state(&server, &program).await, before);

        let response = server.gql(&developer(), LOCKS, json!({ "id": program })).await;
        assert_eq!(
            response.data()["miniProgram"],
            json!({ "updateModeEditable": false, "updateModeLocks": ["NOT_ADMIN"] })
        );
    }

    async fn h5_and_alipay_plus_programs_are_locked(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let cases = [
            ("Web", "H5", "WORKSPACE", json!(["NOT_DSL"])),
            ("Synced", "DSL", "ALIPAY_PLUS", json!(["ALIPAY_PLUS_CHANNEL"])),
            ("Synced web", "H5", "ALIPAY_PLUS", json!(["NOT_DSL", "ALIPAY_PLUS_CHANNEL"])),
        ];
        for (name, program_type, channel, locks) in cases {
            let program = create_program(&server, name, program_type, channel).await;
            let before = program_state(&server, &program).await;
            let response = update_mode(&server, &admin(), &program, "SYNC").await;
            assert_eq!(response.code(), "UPDATE_MODE_LOCKED", "{name}");
            assert_eq!(response.error()["extensions"]["locks"], locks, "{name}");
            assert_eq!(program_state(&server, &program).await, before, "{name}");

            let response = server.gql(&admin(), LOCKS, json!({ "id": program })).await;
            assert_eq!(response.data()["miniProgram"], json!({ "updateModeEditable": false, "updateModeLocks": locks }));
            let mut viewer_locks = vec![json!("NOT_ADMIN")];
            viewer_locks.extend(locks.as_array().unwrap().iter().cloned());
            let response = server.gql(&viewer(), LOCKS, json!({ "id": program })).await;
            assert_eq!(response.data()["miniProgram"]["updateModeLocks"], json!(viewer_locks));
        }
    }

    async fn an_unknown_program_is_not_found(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let response = update_mode(&server, &admin(), "no-such-program", "SYNC").await;
        assert_eq!(response.code(), "NOT_FOUND");
    }

    async fn new_versions_follow_the_change_and_are_listed(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let submitted = create_version(&server, &program, "1.0.0").await;
        submit(&server, &developer(), &submitted).await.data();
        let first_new = create_version(&server, &program, "1.1.0").await;
        let second_new = create_version(&server, &program, "1.10.0").await;

        let response = update_mode(&server, &admin(), &program, "SYNC").await;
        let affected = &response.data()["updateMode"]["affectedVersions"];
        assert_eq!(
            affected,
            &json!([
                { "id": second_new, "version": "1.10.0", "status": "NEW_VERSION_CREATED", "updateMode": "SYNC", "updateModeSource": "PENDING" },
                { "id": first_new, "version": "1.1.0", "status": "NEW_VERSION_CREATED", "updateMode": "SYNC", "updateModeSource": "PENDING" },
            ])
        );
        let response = server
            .gql(&viewer(), "query($id: ID!) { miniProgramVersion(id: $id) { status updateMode updateModeSource } }", json!({ "id": submitted }))
            .await;
        assert_eq!(
            response.data()["miniProgramVersion"],
            json!({ "status": "PENDING_APPROVAL", "updateMode": "DEFAULT", "updateModeSource": "RELEASED" }),
            "a submitted version keeps the mode it was submitted with"
        );
    }

    async fn concurrent_changes_keep_revisions_and_history_consistent(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let modes = ["ASYNC", "SYNC", "DEFAULT"];
        let requests = (0..50).map(|i| {
            let server = &server;
            let program = &program;
            async move { update_mode(server, &admin(), program, modes[i % 3]).await }
        });
        let responses = join_all(requests).await;
        let mut changed = 0;
        let mut revisions = Vec::new();
        for response in &responses {
            let payload = &response.data()["updateMode"];
            if payload["changed"].as_bool().unwrap() {
                changed += 1;
                revisions.push(payload["miniProgram"]["revision"].as_i64().unwrap());
            }
        }
        revisions.sort_unstable();
        assert_eq!(revisions, (2..2 + changed).collect::<Vec<i64>>(), "each change got its own revision");

        let state = program_state(&server, &program).await;
        assert_eq!(state["revision"], 1 + changed);
        assert_eq!(state["updateModeHistory"]["totalCount"], changed);
        let history = state["updateModeHistory"]["nodes"].as_array().unwrap();
        assert_eq!(history.len() as i64, changed);
        assert_eq!(history[0]["mode"], state["updateMode"]);
        for pair in history.windows(2) {
            // Newest first: each change starts from the mode the one before it set.
            assert_eq!(pair[0]["previousMode"], pair[1]["mode"]);
            assert_eq!(pair[0]["revision"].as_i64().unwrap(), pair[1]["revision"].as_i64().unwrap() + 1);
            assert_ne!(pair[0]["previousMode"], pair[0]["mode"]);
        }
        assert_eq!(history.last().unwrap()["previousMode"], "DEFAULT");
    }
}
