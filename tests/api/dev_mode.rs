use std::collections::BTreeSet;

use serde_json::json;

use crate::common::*;
use crate::on_both_backends;

const DEMO: &str = "{ miniPrograms { totalCount nodes { name type channel versions { nodes { status offlineReason rollout { status } } } } } }";

/// The token that a development start prints: the line after its announcement.
fn printed_token(server: &TestServer) -> String {
    let announcement = server
        .stdout
        .iter()
        .position(|line| line.starts_with("WORKSPACE_ADMIN token for workspace \"demo\""))
        .unwrap_or_else(|| panic!("no token printed: {:?}", server.stdout));
    server.stdout[announcement + 1].clone()
}

on_both_backends! {
    async fn development_mode_prints_a_working_token_and_seeds_a_demo(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings { dev_mode: true, ..Settings::default() };
        let server = TestServer::start_on(&db, settings.clone()).await;
        assert!(server.stdout.iter().any(|line| line.contains(&format!("{}/graphiql", server.url))));
        let token = printed_token(&server);

        let response = server.gql(&token, "{ viewer { workspaceId roles } }", json!({})).await;
        assert_eq!(response.data()["viewer"], json!({ "workspaceId": "demo", "roles": ["WORKSPACE_ADMIN"] }));
        let response = server.gql(&token, DEMO, json!({})).await;
        let programs = &response.data()["miniPrograms"];
        assert_eq!(programs["totalCount"], 5);
        let nodes = programs["nodes"].as_array().unwrap();
        let kinds: BTreeSet<(String, String)> = nodes
            .iter()
            .map(|p| (p["type"].as_str().unwrap().to_owned(), p["channel"].as_str().unwrap().to_owned()))
            .collect();
        assert!(kinds.contains(&("DSL".into(), "WORKSPACE".into())));
        assert!(kinds.contains(&("H5".into(), "WORKSPACE".into())));
        assert!(kinds.contains(&("DSL".into(), "ALIPAY_PLUS".into())));
        let statuses: BTreeSet<&str> = nodes
            .iter()
            .flat_map(|p| p["versions"]["nodes"].as_array().unwrap())
            .map(|v| v["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.len(), 7, "every status: {statuses:?}");
        let versions: Vec<&serde_json::Value> = nodes
            .iter()
            .flat_map(|p| p["versions"]["nodes"].as_array().unwrap())
            .collect();
        assert!(versions.iter().any(|v| v["rollout"]["status"] == "RUNNING"), "a rollout in progress");
        assert!(versions.iter().any(|v| v["offlineReason"].is_string()), "a rolled-back version");

        let page = server.http().get(format!("{}/graphiql", server.url)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#""authorization":"Bearer ey"#), "GraphiQL opens with a token");
        assert!(!page.contains("unpkg.com") && page.contains("/graphiql/vendor/graphiql.min.js"), "served by the server itself");
        let start = server.http().get(format!("{}/graphiql/start.js", server.url)).send().await.unwrap().text().await.unwrap();
        assert!(start.contains("subscriptionUrl") && start.contains("wsConnectionParams"), "and subscribes with it");
        let licence = server.http().get(format!("{}/graphiql/vendor/LICENSE.graphiql.txt", server.url)).send().await.unwrap();
        assert_eq!(licence.status(), 200, "its licences are served alongside");

        // A restart keeps the secret (the printed token still works) and seeds nothing twice.
        drop(server);
        let server = TestServer::start_on(&db, settings).await;
        let response = server.gql(&token, DEMO, json!({})).await;
        assert_eq!(response.data()["miniPrograms"]["totalCount"], 5);
    }

    async fn a_configured_secret_seeds_and_prints_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        assert!(server.stdout.is_empty(), "printed {:?}", server.stdout);
        let response = server.gql(&token("demo", &["VIEWER"]), "{ miniPrograms { totalCount } }", json!({})).await;
        assert_eq!(response.data()["miniPrograms"]["totalCount"], 0);
    }
}
