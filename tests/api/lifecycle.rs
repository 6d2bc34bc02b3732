use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

const VERSION_FIELDS: &str = "id version status updateMode updateModeSource grayPercentage decidedAt decidedBy decisionComment releasedAt";

fn decide_query() -> String {
    format!(
        "mutation($id: ID!, $decision: ReleaseDecision!, $comment: String) {{
            decideRelease(input: {{ versionId: $id, decision: $decision, comment: $comment }}) {{
                miniProgramVersion {{ {VERSION_FIELDS} }} offlineVersions {{ id }} }} }}"
    )
}

fn release_query() -> String {
    format!(
        "mutation($id: ID!, $gray: Int) {{
            releaseVersion(input: {{ versionId: $id, grayPercentage: $gray }}) {{
                miniProgramVersion {{ {VERSION_FIELDS} }} offlineVersions {{ id version status updateMode }} }} }}"
    )
}

fn offline_query() -> String {
    format!(
        "mutation($id: ID!) {{ takeVersionOffline(input: {{ versionId: $id }}) {{
            miniProgramVersion {{ {VERSION_FIELDS} }} offlineVersions {{ id }} }} }}"
    )
}

async fn decide(
    server: &TestServer,
    token: &str,
    id: &str,
    decision: &str,
    comment: Option<&str>,
) -> Gql {
    server
        .gql(
            token,
            &decide_query(),
            json!({ "id": id, "decision": decision, "comment": comment }),
        )
        .await
}

async fn release(server: &TestServer, token: &str, id: &str, gray: Option<i32>) -> Gql {
    server
        .gql(token, &release_query(), json!({ "id": id, "gray": gray }))
        .await
}

async fn offline(server: &TestServer, token: &str, id: &str) -> Gql {
    server
        .gql(token, &offline_query(), json!({ "id": id }))
        .await
}

fn version_of<'a>(response: &'a Gql, mutation: &str) -> &'a Value {
    &response.data()[mutation]["miniProgramVersion"]
}

/// A version of `program` taken to APPROVED, submitted under the current global mode.
async fn approved_version(server: &TestServer, program: &str, number: &str) -> String {
    let id = create_version(server, program, number).await;
    submit(server, &developer(), &id).await.data();
    decide(server, &approver(), &id, "APPROVE", None)
        .await
        .data();
    id
}

on_both_backends! {
    async fn a_version_goes_from_approval_to_gray_to_full_release_keeping_its_mode(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let first = approved_version(&server, &program, "1.0.0").await;
        release(&server, &admin(), &first, None).await.data();

        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let second = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &second).await.data();
        update_mode(&server, &admin(), &program, "ASYNC").await.data();

        let response = decide(&server, &approver(), &second, "APPROVE", Some("  Looks good  ")).await;
        let version = version_of(&response, "decideRelease");
        assert_eq!(version["status"], "APPROVED");
        assert_eq!(version["updateMode"], "SYNC");
        assert_eq!(version["decidedBy"], "release_approver-user");
        assert_eq!(version["decisionComment"], "Looks good");
        assert!(version["decidedAt"].is_string());
        assert_eq!(version["releasedAt"], Value::Null);

        let response = release(&server, &admin(), &second, Some(10)).await;
        let version = version_of(&response, "releaseVersion");
        assert_eq!((version["status"].clone(), version["grayPercentage"].clone()), (json!("GRAY_RELEASE"), json!(10)));
        assert_eq!(version["updateMode"], "SYNC");
        let released_at = version["releasedAt"].clone();
        assert!(released_at.is_string());
        assert_eq!(response.data()["releaseVersion"]["offlineVersions"], json!([]), "the full release stays");

        let response = release(&server, &admin(), &second, Some(50)).await;
        assert_eq!(version_of(&response, "releaseVersion")["grayPercentage"], 50);

        let response = release(&server, &admin(), &second, Some(100)).await;
        let version = version_of(&response, "releaseVersion");
        assert_eq!(version["status"], "FULL_RELEASE");
        assert_eq!(version["grayPercentage"], Value::Null);
        assert_eq!(version["updateMode"], "SYNC");
        assert_eq!(version["updateModeSource"], "RELEASED");
        assert_eq!(version["releasedAt"], released_at, "first released at the gray release");
        assert_eq!(version["decisionComment"], "Looks good");
        assert_eq!(
            response.data()["releaseVersion"]["offlineVersions"],
            json!([{ "id": first, "version": "1.0.0", "status": "OFFLINE", "updateMode": "DEFAULT" }])
        );

        let response = offline(&server, &admin(), &second).await;
        assert_eq!(version_of(&response, "takeVersionOffline")["status"], "OFFLINE");
        assert_eq!(version_of(&response, "takeVersionOffline")["updateMode"], "SYNC");
    }

    async fn a_rejected_version_stays_rejected(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let version = create_version(&server, &program, "1.0.0").await;
        submit(&server, &developer(), &version).await.data();
        let response = decide(&server, &admin(), &version, "REJECT", Some("Crashes on start")).await;
        let rejected = version_of(&response, "decideRelease");
        assert_eq!(rejected["status"], "REJECTED");
        assert_eq!(rejected["decisionComment"], "Crashes on start");
        let before = program_state(&server, &program).await;
        for response in [
            decide(&server, &admin(), &version, "APPROVE", None).await,
            release(&server, &admin(), &version, None).await,
            offline(&server, &admin(), &version).await,
            submit(&server, &developer(), &version).await,
        ] {
            assert_eq!(response.code(), "INVALID_TRANSITION");
            assert_eq!(response.error()["extensions"]["status"], "REJECTED");
        }
        assert_eq!(program_state(&server, &program).await, before);
        // The next version may be submitted now.
        let next = create_version(&server, &program, "1.0.1").await;
        submit(&server, &developer(), &next).await.data();
    }

    async fn release_steps_are_refused_out_of_order_or_role(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let new = create_version(&server, &program, "1.0.0").await;
        let before = program_state(&server, &program).await;

        let response = decide(&server, &approver(), &new, "APPROVE", None).await;
        assert_eq!(response.code(), "INVALID_TRANSITION");
        assert_eq!(response.error()["extensions"]["status"], "NEW_VERSION_CREATED");
        assert_eq!(release(&server, &admin(), &new, None).await.code(), "INVALID_TRANSITION");
        assert_eq!(offline(&server, &admin(), &new).await.code(), "INVALID_TRANSITION");

        submit(&server, &developer(), &new).await.data();
        let before_decision = program_state(&server, &program).await;
        for token in [developer(), viewer()] {
            assert_eq!(decide(&server, &token, &new, "APPROVE", None).await.code(), "FORBIDDEN");
        }
        let long = "x".repeat(2001);
        let response = decide(&server, &approver(), &new, "APPROVE", Some(&long)).await;
        assert_eq!(response.code(), "BAD_USER_INPUT");
        assert_eq!(response.error()["extensions"]["field"], "comment");
        assert_eq!(program_state(&server, &program).await, before_decision);

        decide(&server, &approver(), &new, "APPROVE", None).await.data();
        for token in [approver(), developer(), viewer()] {
            assert_eq!(release(&server, &token, &new, None).await.code(), "FORBIDDEN");
            assert_eq!(offline(&server, &token, &new).await.code(), "FORBIDDEN");
        }
        for bad in [0, -1, 101] {
            let response = release(&server, &admin(), &new, Some(bad)).await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "{bad}");
            assert_eq!(response.error()["extensions"]["field"], "grayPercentage");
        }
        release(&server, &admin(), &new, Some(30)).await.data();
        let before_shrink = program_state(&server, &program).await;
        for smaller in [30, 10] {
            assert_eq!(release(&server, &admin(), &new, Some(smaller)).await.code(), "BAD_USER_INPUT");
        }
        assert_eq!(program_state(&server, &program).await, before_shrink);
        assert_ne!(before_shrink, before);

        assert_eq!(decide(&server, &approver(), "nope", "APPROVE", None).await.code(), "NOT_FOUND");
        assert_eq!(release(&server, &admin(), "nope", None).await.code(), "NOT_FOUND");
        let intruder = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        assert_eq!(offline(&server, &intruder, &new).await.code(), "NOT_FOUND");
        assert_eq!(release(&server, &intruder, &new, None).await.code(), "NOT_FOUND");
        assert_eq!(program_state(&server, &program).await, before_shrink);
    }

    async fn a_new_gray_release_supersedes_the_old_gray_and_a_full_release_the_old_full(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let old = approved_version(&server, &program, "1.0.0").await;
        let newer = approved_version(&server, &program, "1.1.0").await;
        release(&server, &admin(), &old, Some(10)).await.data();

        let response = release(&server, &admin(), &newer, Some(20)).await;
        assert_eq!(response.data()["releaseVersion"]["offlineVersions"][0]["id"], json!(old));
        release(&server, &admin(), &newer, None).await.data();

        let after_offline = approved_version(&server, &program, "1.2.0").await;
        offline(&server, &admin(), &newer).await.data();
        release(&server, &admin(), &after_offline, None).await.data();
        let latest = approved_version(&server, &program, "1.3.0").await;
        release(&server, &admin(), &latest, None).await.data();
        // 1.2.0 went offline when 1.3.0 was fully released.
        let state = program_state(&server, &program).await;
        let statuses: Vec<(String, String)> = state["versions"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["version"].as_str().unwrap().to_owned(), v["status"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("1.3.0".into(), "FULL_RELEASE".into()),
                ("1.2.0".into(), "OFFLINE".into()),
                ("1.1.0".into(), "OFFLINE".into()),
                ("1.0.0".into(), "OFFLINE".into()),
            ]
        );
    }

    async fn an_approved_version_older_than_the_full_release_is_not_released(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let older = approved_version(&server, &program, "1.0.0").await;
        let newer = approved_version(&server, &program, "1.1.0").await;
        release(&server, &admin(), &newer, None).await.data();
        let before = program_state(&server, &program).await;
        let response = release(&server, &admin(), &older, None).await;
        assert_eq!(response.code(), "CONFLICT");
        assert_eq!(response.error()["extensions"]["releasedVersion"], "1.1.0");
        assert_eq!(program_state(&server, &program).await, before);
    }
}
