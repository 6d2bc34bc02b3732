//! The console's files as HTTP serves them: the page and its scripts with
//! their types and security headers, revalidation, and the development
//! token of `config.json`. (The console itself is driven in a browser by
//! tests/console.)

use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
};
use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
        .get(format!("{}{path}", server.url))
        .send()
        .await
        .expect("a response")
}

on_both_backends! {
    async fn the_console_is_served_with_its_security_headers(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let moved = get(&server, "/console").await;
        assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(moved.headers()[LOCATION], "/console/");

        let page = get(&server, "/console/").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        let html = page.text().await.unwrap();
        assert!(html.contains("./js/app.js"), "the page loads its scripts");

        let script = get(&server, "/console/js/app.js").await;
        assert_eq!(script.status(), StatusCode::OK);
        assert_eq!(script.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(script.headers()[CACHE_CONTROL], "no-cache");
        let etag = script.headers()[ETAG].clone();
        let again = server
            .http()
            .get(format!("{}/console/js/app.js", server.url))
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(again.bytes().await.unwrap().is_empty());

        assert_eq!(get(&server, "/console/js/nope.js").await.status(), StatusCode::NOT_FOUND);
        for escape in ["/console/..%2FCargo.toml", "/console/js/..%2F..%2FCargo.toml", "/console/%2Fetc%2Fpasswd"] {
            assert_eq!(get(&server, escape).await.status(), StatusCode::NOT_FOUND, "{escape}");
        }

        // Without development mode there is no token to fill in.
        let config: Value = get(&server, "/console/config.json").await.json().await.unwrap();
        assert_eq!(config, json!({ "devToken": null }));
    }

    async fn in_development_mode_the_console_gets_a_working_demo_token(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, Settings { dev_mode: true, ..Settings::default() }).await;
        assert!(server.stdout.iter().any(|line| line.contains(&format!("{}/console/", server.url))));
        let response = get(&server, "/console/config.json").await;
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        let config: Value = response.json().await.unwrap();
        let token = config["devToken"].as_str().expect("a development token");
        let viewer = server.gql(token, "{ viewer { workspaceId roles } }", json!({})).await;
        assert_eq!(viewer.data()["viewer"], json!({ "workspaceId": "demo", "roles": ["WORKSPACE_ADMIN"] }));
    }
}
