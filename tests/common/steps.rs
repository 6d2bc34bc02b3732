//! The domain's steps through the API, as the tests' setups take them:
//! create programs, versions and client keys, change the update mode,
//! submit, decide, release, and read a program's whole state.

use serde_json::{Value, json};

use super::gql::Gql;
use super::server::TestServer;
use super::tokens::{admin, developer};

/// Creates a program through the API and returns its id.
pub async fn create_program(
    server: &TestServer,
    name: &str,
    program_type: &str,
    channel: &str,
) -> String {
    create_program_as(server, &admin(), name, program_type, channel).await
}

pub async fn create_program_as(
    server: &TestServer,
    token: &str,
    name: &str,
    program_type: &str,
    channel: &str,
) -> String {
    let response = server
        .gql(
            token,
            "mutation($input: CreateMiniProgramInput!) { createMiniProgram(input: $input) { miniProgram { id } } }",
            json!({ "input": { "name": name, "type": program_type, "channel": channel } }),
        )
        .await;
    response.data()["createMiniProgram"]["miniProgram"]["id"]
        .as_str()
        .expect("program id")
        .to_owned()
}

pub async fn create_dsl_program(server: &TestServer, name: &str) -> String {
    create_program(server, name, "DSL", "WORKSPACE").await
}

/// Creates a version through the API and returns its id.
pub async fn create_version(server: &TestServer, program_id: &str, version: &str) -> String {
    let response = server
        .gql(
            &developer(),
            "mutation($input: CreateMiniProgramVersionInput!) { createMiniProgramVersion(input: $input) { miniProgramVersion { id } } }",
            json!({ "input": { "miniProgramId": program_id, "version": version } }),
        )
        .await;
    response.data()["createMiniProgramVersion"]["miniProgramVersion"]["id"]
        .as_str()
        .expect("version id")
        .to_owned()
}

pub const UPDATE_MODE: &str = "mutation($input: UpdateModeInput!) {
    updateMode(input: $input) {
        miniProgram { id updateMode revision }
        previousMode changed
        affectedVersions { id version status updateMode updateModeSource }
    }
}";

pub async fn update_mode(server: &TestServer, token: &str, program_id: &str, mode: &str) -> Gql {
    server
        .gql(
            token,
            UPDATE_MODE,
            json!({ "input": { "miniProgramId": program_id, "mode": mode } }),
        )
        .await
}

pub const SUBMIT: &str = "mutation($id: ID!) {
    submitVersionForReleaseApproval(input: { versionId: $id }) {
        miniProgramVersion { id version status updateMode updateModeSource submittedAt }
    }
}";

pub async fn submit(server: &TestServer, token: &str, version_id: &str) -> Gql {
    server.gql(token, SUBMIT, json!({ "id": version_id })).await
}

/// Approves or rejects a version waiting for approval, with the comment "ok".
pub async fn decide(server: &TestServer, token: &str, version: &str, decision: &str) {
    server
        .gql(
            token,
            "mutation($id: ID!, $d: ReleaseDecision!) { decideRelease(input: { versionId: $id, decision: $d, comment: \"ok\" }) { miniProgramVersion { id } } }",
            json!({ "id": version, "d": decision }),
        )
        .await
        .data();
}

/// Creates a client key named "app" in the token's workspace and returns
/// the key that devices send.
pub async fn create_client_key(server: &TestServer, token: &str) -> String {
    let response = server
        .gql(
            token,
            "mutation { createClientKey(input: { name: \"app\" }) { key } }",
            json!({}),
        )
        .await;
    response.data()["createClientKey"]["key"]
        .as_str()
        .expect("a client key")
        .to_owned()
}

pub const RELEASE: &str = "mutation($id: ID!, $g: Int) {
    releaseVersion(input: { versionId: $id, grayPercentage: $g }) { miniProgramVersion { id } }
}";

/// Releases a version as a workspace admin: to `gray` percent, or fully.
pub async fn release(server: &TestServer, version: &str, gray: Option<i32>) {
    server
        .gql(&admin(), RELEASE, json!({ "id": version, "g": gray }))
        .await
        .data();
}

/// What a program looks like now: mode, revision and history, as an admin
/// reads them. Refusal tests compare it before and after.
pub async fn program_state(server: &TestServer, program_id: &str) -> Value {
    program_state_as(server, &admin(), program_id).await
}

/// A program's state as read with `token`.
pub async fn program_state_as(server: &TestServer, token: &str, program_id: &str) -> Value {
    let response = server
        .gql(
            token,
            "query($id: ID!) { miniProgram(id: $id) {
                updateMode revision updatedAt
                updateModeHistory(first: 100) { totalCount nodes { previousMode mode changedBy revision changedAt } }
                versions(first: 100) { totalCount nodes { id version status updateMode updateModeSource submittedAt grayPercentage decidedAt decidedBy decisionComment releasedAt } }
            } }",
            json!({ "id": program_id }),
        )
        .await;
    response.data()["miniProgram"].clone()
}
