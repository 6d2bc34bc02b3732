use serde_json::json;

use crate::common::*;
use crate::on_both_backends;

on_both_backends! {
    async fn health_and_readiness_answer(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        for path in ["/healthz", "/readyz"] {
            let response = server.http().get(format!("{}{path}", server.url)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
        }
    }

    async fn queries_run_over_get_but_mutations_do_not(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;

        let query = format!("{{ miniProgram(id: \"{program}\") {{ name updateMode }} }}");
        let response = server
            .http()
            .get(format!("{}/graphql", server.url))
            .query(&[("query", query.as_str())])
            .bearer_auth(admin())
            .send()
            .await
            .unwrap();
        let response = Gql::read(response).await;
        assert_eq!(response.data()["miniProgram"], json!({ "name": "Shop", "updateMode": "DEFAULT" }));

        // `operationName` picks one of several operations, as over POST.
        let several = format!("query Name {{ miniProgram(id: \"{program}\") {{ name }} }} query Mode {{ miniProgram(id: \"{program}\") {{ updateMode }} }}");
        for (name, expected) in [("Name", json!({ "name": "Shop" })), ("Mode", json!({ "updateMode": "DEFAULT" }))] {
            let response = server
                .http()
                .get(format!("{}/graphql", server.url))
                .query(&[("query", several.as_str()), ("operationName", name)])
                .bearer_auth(admin())
                .send()
                .await
                .unwrap();
            assert_eq!(Gql::read(response).await.data()["miniProgram"], expected, "{name}");
        }
        let response = server
            .http()
            .get(format!("{}/graphql", server.url))
            .query(&[("query", several.as_str()), ("operationName", "Missing")])
            .bearer_auth(admin())
            .send()
            .await
            .unwrap();
        assert_eq!(Gql::read(response).await.code(), "BAD_REQUEST");

        let mutation = format!(
            "mutation {{ updateMode(input: {{ miniProgramId: \"{program}\", mode: SYNC }}) {{ changed }} }}"
        );
        let response = server
            .http()
            .get(format!("{}/graphql", server.url))
            .query(&[("query", mutation.as_str())])
            .bearer_auth(admin())
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], "POST");
        let response = Gql::read(response).await;
        assert_eq!(response.status, 405);
        assert_eq!(response.code(), "METHOD_NOT_ALLOWED");
        assert_eq!(program_state(&server, &program).await, before);
    }

    async fn malformed_requests_get_coded_errors(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let response = server
            .http()
            .post(format!("{}/graphql", server.url))
            .bearer_auth(admin())
            .header("content-type", "application/json")
            .body("{ not json")
            .send()
            .await
            .unwrap();
        let response = Gql::read(response).await;
        assert_eq!(response.status, 400);
        assert_eq!(response.code(), "BAD_REQUEST");

        let response = server.gql(&admin(), "{ miniPrograms { ", json!({})).await;
        assert_eq!(response.code(), "GRAPHQL_PARSE_FAILED");

        let response = server.gql(&admin(), "{ miniPrograms { noSuchField } }", json!({})).await;
        assert_eq!(response.code(), "GRAPHQL_VALIDATION_FAILED");

        let response = server
            .gql(&admin(), "query($n: Int) { miniPrograms(first: $n) { totalCount } }", json!({ "n": "many" }))
            .await;
        assert!(
            ["GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"].contains(&response.code()),
            "{}",
            response.body
        );
    }

    async fn requests_are_logged_with_an_id_and_without_secrets(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings { env: vec![("LOG_FORMAT".into(), "json".into())], ..Settings::default() };
        let server = TestServer::start_on(&db, settings).await;
        let program = create_dsl_program(&server, "Shop").await;
        let token = admin();
        let response = server
            .http()
            .post(format!("{}/graphql", server.url))
            .bearer_auth(&token)
            .header("x-request-id", "req-42")
            .json(&json!({
                "query": "mutation ChangeMode($id: ID!) { updateMode(input: { miniProgramId: $id, mode: SYNC }) { changed } }",
                "operationName": "ChangeMode",
                "variables": { "id": program },
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "req-42");
        let refused = server
            .http()
            .post(format!("{}/graphql", server.url))
            .bearer_auth(viewer())
            .json(&json!({ "query": UPDATE_MODE, "variables": { "input": { "miniProgramId": program, "mode": "ASYNC" } } }))
            .send()
            .await
            .unwrap();
        let generated = refused.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(!generated.is_empty() && generated != "req-42", "{generated}");
        // A document refused before it runs is still named in the log.
        let broken = server
            .http()
            .post(format!("{}/graphql", server.url))
            .bearer_auth(admin())
            .header("x-request-id", "req-broken")
            .json(&json!({ "query": "query Broken {", "operationName": "Broken" }))
            .send()
            .await
            .unwrap();
        assert_eq!(Gql::read(broken).await.code(), "GRAPHQL_PARSE_FAILED");

        let log = eventually(std::time::Duration::from_secs(5), "the log lines", || async {
            let log = server.log();
            (log.contains("req-42") && log.contains(&generated) && log.contains("req-broken")).then_some(log)
        })
        .await;
        let lines: Vec<serde_json::Value> = log.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
        let answered = |id: &str| {
            lines
                .iter()
                .find(|line| line["span"]["request_id"] == id && line["fields"]["message"] == "answered")
                .unwrap_or_else(|| panic!("no line for {id} in {log}"))
                .clone()
        };
        let line = answered("req-42");
        assert_eq!(line["span"]["subject"], "workspace_admin-user");
        assert_eq!(line["span"]["workspace"], WORKSPACE);
        assert_eq!(line["span"]["operation"], "ChangeMode");
        assert_eq!(line["span"]["outcome"], "ok");
        assert_eq!(line["fields"]["status"], 200);
        assert!(line["fields"]["duration_ms"].is_number());
        assert_eq!(answered(&generated)["span"]["outcome"], "FORBIDDEN");
        assert_eq!(answered("req-broken")["span"]["operation"], "Broken");
        for secret in [token.as_str(), SECRET, program.as_str()] {
            assert!(!log.contains(secret), "the log carries {secret}");
        }
    }

    async fn metrics_describe_requests_the_pool_and_deliveries(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let change = json!({
            "query": "mutation ChangeMode($id: ID!) { updateMode(input: { miniProgramId: $id, mode: SYNC }) { changed } }",
            "operationName": "ChangeMode",
            "variables": { "id": program },
        });
        let response = server.http().post(format!("{}/graphql", server.url)).bearer_auth(admin()).json(&change).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let refused = update_mode(&server, &viewer(), &program, "ASYNC").await;
        assert_eq!(refused.code(), "FORBIDDEN");
        let unauthenticated = server.http().post(format!("{}/graphql", server.url)).json(&change).send().await.unwrap();
        assert_eq!(unauthenticated.status(), 401);

        let response = server.http().get(format!("{}/metrics", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = response.text().await.unwrap();
        for expected in [
            "update_mode_requests_total{route=\"/graphql\",operation=\"ChangeMode\",outcome=\"ok\"} 1",
            "update_mode_requests_total{route=\"/graphql\",operation=\"\",outcome=\"FORBIDDEN\"} 1",
            "update_mode_errors_total{code=\"FORBIDDEN\"} 1",
            "update_mode_errors_total{code=\"401\"} 1",
            "update_mode_request_duration_seconds_bucket{le=\"+Inf\"}",
            "update_mode_db_connections{state=\"max\"} 10",
            "update_mode_db_waiting 0",
            "update_mode_hook_deliveries{status=\"FAILED\"} 0",
        ] {
            assert!(text.contains(expected), "missing {expected} in\n{text}");
        }
        assert!(!text.contains(&program), "no identifiers in labels");
    }

    async fn graphiql_is_served_when_enabled_without_a_token(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings { env: vec![("GRAPHIQL_ENABLED".into(), "true".into())], ..Settings::default() };
        let server = TestServer::start_on(&db, settings).await;
        let response = server.http().get(format!("{}/graphiql", server.url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(page.contains("graphiql"), "{page}");
        assert!(page.contains("/graphiql/start.js"), "{page}");
        let start = server.http().get(format!("{}/graphiql/start.js", server.url)).send().await.unwrap().text().await.unwrap();
        assert!(start.contains("/graphql"), "GraphiQL talks to the API");
        assert!(!page.contains("Bearer"), "a token outside development mode");
    }

    async fn internal_errors_say_nothing_of_the_inside(backend: Backend) {
        let (server, db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        // A value the application never writes, past the CHECK constraint.
        let corrupt = format!("UPDATE mini_programs SET update_mode = 'TURBO' WHERE id = '{program}'");
        if db.is_postgres() {
            db.execute("ALTER TABLE mini_programs DROP CONSTRAINT mini_programs_update_mode_check").await;
            db.execute(&corrupt).await;
        } else {
            db.execute(&format!("PRAGMA ignore_check_constraints = ON; {corrupt};")).await;
        }
        let response = server
            .gql(&viewer(), "query($id: ID!) { miniProgram(id: $id) { updateMode } }", json!({ "id": program }))
            .await;
        assert_eq!(response.code(), "INTERNAL_SERVER_ERROR");
        assert_eq!(response.error()["message"], "internal server error");
        let body = response.body.to_string();
        for secret in ["TURBO", "mini_programs", "update_mode", "diesel", "src/"] {
            assert!(!body.contains(secret), "{secret} leaked: {body}");
        }
        assert!(server.log().contains("TURBO"), "the log keeps the detail");
    }
}

#[test]
fn the_committed_schema_is_the_served_one() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_update-mode"))
        .arg("schema")
        .output()
        .expect("update-mode schema");
    assert!(output.status.success());
    let generated = String::from_utf8(output.stdout).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        generated == committed,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn the_cli_mints_tokens_with_the_configured_secret() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_update-mode"))
        .args([
            "token",
            "--workspace",
            "acme",
            "--role",
            "VIEWER",
            "--subject",
            "ops",
            "--ttl",
            "2h",
        ])
        .env("JWT_SECRET", SECRET)
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .output()
        .expect("update-mode token");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        token.trim(),
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("a valid token")
    .claims;
    assert_eq!(claims["sub"], "ops");
    assert_eq!(claims["workspace_id"], "acme");
    assert_eq!(claims["roles"], json!(["VIEWER"]));
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 7200);
}

#[test]
fn a_short_secret_stops_the_server_with_the_reason() {
    let stderr = refused_start(&[("JWT_SECRET", "too-short")]);
    assert!(stderr.contains("at least 32"), "{stderr}");
}

/// A plugin extension with a bug: it panics while `viewer` resolves.
struct PanicsOnViewer;

impl async_graphql::extensions::ExtensionFactory for PanicsOnViewer {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(PanicsOnViewer)
    }
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for PanicsOnViewer {
    async fn resolve(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        info: async_graphql::extensions::ResolveInfo<'_>,
        next: async_graphql::extensions::NextResolve<'_>,
    ) -> async_graphql::ServerResult<Option<async_graphql::Value>> {
        if info.path_node.field_name() == "viewer" {
            panic!("bug in a plugin at /home/build/src/plugin.rs");
        }
        next.run(ctx, info).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_only_its_own_request() {
    let db = TestDatabase::create(Backend::Sqlite).await;
    let plugins = update_mode::app::Plugins {
        extensions: vec![std::sync::Arc::new(PanicsOnViewer)],
        ..update_mode::app::Plugins::default()
    };
    let server = InProcessServer::start(&db, Settings::default(), plugins).await;
    let program = create_dsl_program(&server, "Shop").await;

    let token = admin();
    let (panicked, changed) = tokio::join!(
        server.gql(&token, "{ viewer { subject } }", json!({})),
        update_mode(&server, &token, &program, "SYNC"),
    );
    assert_eq!(panicked.status, 500);
    assert_eq!(panicked.code(), "INTERNAL_SERVER_ERROR");
    let body = panicked.body.to_string();
    assert!(
        !body.contains("plugin.rs") && !body.contains("bug"),
        "{body}"
    );
    assert_eq!(changed.data()["updateMode"]["changed"], true);

    // The server goes on answering.
    let after = server
        .gql(&admin(), "{ miniPrograms { totalCount } }", json!({}))
        .await;
    assert_eq!(after.data()["miniPrograms"]["totalCount"], 1);
    let health = server
        .http()
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
