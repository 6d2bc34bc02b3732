use serde_json::json;

use crate::common::*;
use crate::on_both_backends;

on_both_backends! {
    async fn a_tenant_neither_sees_nor_touches_another_tenants_programs(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let version = create_version(&server, &program, "1.0.0").await;
        let before = program_state(&server, &program).await;
        let intruder = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);

        let response = server
            .gql(
                &intruder,
                "query($p: ID!, $v: ID!) { miniProgram(id: $p) { id } miniProgramVersion(id: $v) { id } miniPrograms { totalCount nodes { id } } }",
                json!({ "p": program, "v": version }),
            )
            .await;
        assert_eq!(
            response.data(),
            &json!({ "miniProgram": null, "miniProgramVersion": null, "miniPrograms": { "totalCount": 0, "nodes": [] } })
        );

        assert_eq!(update_mode(&server, &intruder, &program, "SYNC").await.code(), "NOT_FOUND");
        assert_eq!(submit(&server, &intruder, &version).await.code(), "NOT_FOUND");
        let response = server
            .gql(
                &intruder,
                "mutation($input: CreateMiniProgramVersionInput!) { createMiniProgramVersion(input: $input) { miniProgramVersion { id } } }",
                json!({ "input": { "miniProgramId": program, "version": "9.0.0" } }),
            )
            .await;
        assert_eq!(response.code(), "NOT_FOUND");
        assert_eq!(program_state(&server, &program).await, before);

        // The same name is free in another workspace.
        let response = server
            .gql(
                &intruder,
                "mutation { createMiniProgram(input: { name: \"Shop\", type: DSL }) { miniProgram { id } } }",
                json!({}),
            )
            .await;
        assert_ne!(response.data()["createMiniProgram"]["miniProgram"]["id"], json!(program));
        let response = server.gql(&viewer(), "{ miniPrograms { totalCount } }", json!({})).await;
        assert_eq!(response.data()["miniPrograms"]["totalCount"], 1);
    }
}
