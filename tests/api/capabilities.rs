//! `Viewer.capabilities`: what the caller's roles allow, for clients that
//! offer only what a user may do. Each capability listed is exactly what
//! the API then allows, and each one left out is refused.

use serde_json::json;

use crate::common::*;
use crate::on_both_backends;

const EVERY: [&str; 9] = [
    "READ",
    "CREATE_MINI_PROGRAM",
    "CHANGE_UPDATE_MODE",
    "CREATE_VERSION",
    "SUBMIT_VERSION",
    "DECIDE_RELEASE",
    "RELEASE",
    "MANAGE_INTEGRATIONS",
    "READ_AUDIT_LOG",
];

async fn capabilities(server: &TestServer, token: &str) -> Vec<String> {
    let response = server
        .gql(token, "{ viewer { capabilities } }", json!({}))
        .await;
    serde_json::from_value(response.data()["viewer"]["capabilities"].clone()).unwrap()
}

/// Tries one request of the capability's kind with `token`, on data made
/// for it; whether the API allowed it (any refusal but FORBIDDEN fails).
async fn allowed(server: &TestServer, token: &str, capability: &str, n: usize) -> bool {
    let name = format!("{capability} {n}");
    let setup = |kind: &'static str| {
        let name = format!("{kind} {name}");
        async move { create_dsl_program(server, &name).await }
    };
    let response = match capability {
        "READ" => server.gql(token, "{ miniPrograms { totalCount } }", json!({})).await,
        "CREATE_MINI_PROGRAM" => {
            server
                .gql(
                    token,
                    "mutation($input: CreateMiniProgramInput!) { createMiniProgram(input: $input) { miniProgram { id } } }",
                    json!({ "input": { "name": format!("Probe {n}"), "type": "DSL", "channel": "WORKSPACE" } }),
                )
                .await
        }
        "CHANGE_UPDATE_MODE" => update_mode(server, token, &setup("Mode").await, "SYNC").await,
        "CREATE_VERSION" => {
            let program = setup("Versions").await;
            server
                .gql(
                    token,
                    "mutation($input: CreateMiniProgramVersionInput!) { createMiniProgramVersion(input: $input) { miniProgramVersion { id } } }",
                    json!({ "input": { "miniProgramId": program, "version": "1.0.0" } }),
                )
                .await
        }
        "SUBMIT_VERSION" => {
            let version = create_version(server, &setup("Submit").await, "1.0.0").await;
            submit(server, token, &version).await
        }
        "DECIDE_RELEASE" => {
            let version = create_version(server, &setup("Decide").await, "1.0.0").await;
            submit(server, &developer(), &version).await.data();
            server
                .gql(
                    token,
                    "mutation($id: ID!) { decideRelease(input: { versionId: $id, decision: APPROVE }) { miniProgramVersion { id } } }",
                    json!({ "id": version }),
                )
                .await
        }
        "RELEASE" => {
            let version = create_version(server, &setup("Release").await, "1.0.0").await;
            submit(server, &developer(), &version).await.data();
            decide(server, &approver(), &version, "APPROVE").await;
            server.gql(token, RELEASE, json!({ "id": version, "g": 10 })).await
        }
        "MANAGE_INTEGRATIONS" => {
            server
                .gql(token, "{ releaseIntegrations { id } clientKeys { id } }", json!({}))
                .await
        }
        "READ_AUDIT_LOG" => server.gql(token, "{ auditLog { totalCount } }", json!({})).await,
        other => panic!("no probe for {other}"),
    };
    match response.body.get("errors") {
        None => true,
        Some(_) => {
            assert_eq!(
                response.code(),
                "FORBIDDEN",
                "{capability}: {}",
                response.body
            );
            false
        }
    }
}

fn with_roles(roles: &[&str], subject: &str) -> String {
    let mut claims = claims(WORKSPACE, roles);
    claims["sub"] = json!(subject);
    sign(&claims)
}

on_both_backends! {
    async fn each_role_may_do_exactly_what_its_capabilities_say(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let roles: [(&[&str], &[&str]); 7] = [
            (&["WORKSPACE_ADMIN"], &EVERY),
            (&["DEVELOPER"], &["READ", "CREATE_VERSION", "SUBMIT_VERSION"]),
            (&["RELEASE_APPROVER"], &["READ", "DECIDE_RELEASE"]),
            (&["VIEWER"], &["READ"]),
            (&["DEVELOPER", "RELEASE_APPROVER"], &["READ", "CREATE_VERSION", "SUBMIT_VERSION", "DECIDE_RELEASE"]),
            (&["VIEWER", "WORKSPACE_ADMIN"], &EVERY),
            // Unknown role names grant nothing.
            (&["AUDITOR"], &[]),
        ];
        for (n, (roles, expected)) in roles.into_iter().enumerate() {
            let token = with_roles(roles, &format!("user-{n}"));
            let listed = capabilities(&server, &token).await;
            assert_eq!(listed, expected, "{roles:?}");
            for capability in EVERY {
                assert_eq!(
                    allowed(&server, &token, capability, n).await,
                    listed.iter().any(|c| c == capability),
                    "{roles:?} and {capability}"
                );
            }
        }
    }
}
