//! Automatic persisted queries (the protocol Apollo clients speak) and the
//! allow-list that partner tokens are held to.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;
use crate::on_both_backends;

const VIEWER: &str = "query Viewer { viewer { subject } }";

fn sha256(document: &str) -> String {
    Sha256::digest(document.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs a request body as is.
async fn post(server: &TestServer, token: &str, body: Value) -> Gql {
    let response = server
        .http()
        .post(format!("{}/graphql", server.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

/// Sends only the hash of `document`, over GET as Apollo clients may.
async fn get_by_hash(server: &TestServer, token: &str, document: &str) -> Gql {
    let response = server
        .http()
        .get(format!("{}/graphql", server.url))
        .query(&[("extensions", persisted(&sha256(document)).to_string())])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

fn manifest(dir: &std::path::Path, documents: &[&str]) -> String {
    let operations: Vec<Value> = documents
        .iter()
        .map(|body| json!({ "id": sha256(body), "name": "op", "type": "query", "body": body }))
        .collect();
    let path = dir.join("manifest.json");
    std::fs::write(
        &path,
        json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": operations }).to_string(),
    )
    .unwrap();
    path.display().to_string()
}

on_both_backends! {
    async fn a_document_sent_once_is_then_run_by_its_hash_from_any_process(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let first = TestServer::start_on(&db, Settings::default()).await;
        let second = TestServer::start_on(&db, Settings::default()).await;
        let hash = sha256(VIEWER);

        let unknown = post(&first, &admin(), json!({ "extensions": persisted(&hash) })).await;
        assert_eq!(unknown.status, 200);
        assert_eq!(unknown.code(), "PERSISTED_QUERY_NOT_FOUND");
        assert_eq!(unknown.body["errors"][0]["message"], "PersistedQueryNotFound");

        let registered = post(&first, &admin(), json!({ "query": VIEWER, "extensions": persisted(&hash) })).await;
        assert_eq!(registered.data()["viewer"]["subject"], "workspace_admin-user");
        for server in [&first, &second] {
            let by_hash = post(server, &viewer(), json!({ "extensions": persisted(&hash) })).await;
            assert_eq!(by_hash.data()["viewer"]["subject"], "viewer-user");
            let over_get = get_by_hash(server, &viewer(), VIEWER).await;
            assert_eq!(over_get.data()["viewer"]["subject"], "viewer-user");
        }
    }

    async fn a_workspace_cannot_learn_what_another_has_sent(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        // A document with a literal that only its sender should know of.
        let document = "{ miniPrograms(filter: { nameContains: \"Project Nightjar\" }) { totalCount } }";
        let hash = sha256(document);
        let registered = post(&server, &admin(), json!({ "query": document, "extensions": persisted(&hash) })).await;
        assert_eq!(registered.data()["miniPrograms"]["totalCount"], 0);
        let outsider = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        let probe = post(&server, &outsider, json!({ "extensions": persisted(&hash) })).await;
        assert_eq!(probe.code(), "PERSISTED_QUERY_NOT_FOUND", "as if nobody had sent it");
        assert_eq!(get_by_hash(&server, &outsider, document).await.code(), "PERSISTED_QUERY_NOT_FOUND");
        // The sender's workspace still runs it by its hash.
        let by_hash = post(&server, &viewer(), json!({ "extensions": persisted(&hash) })).await;
        assert_eq!(by_hash.data()["miniPrograms"]["totalCount"], 0);
    }

    async fn persisted_documents_get_every_check_a_sent_one_gets(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        // A hash that is not the document's is refused, and registers nothing.
        let other = sha256("{ __typename }");
        let mismatch = post(&server, &admin(), json!({ "query": VIEWER, "extensions": persisted(&other) })).await;
        assert_eq!((mismatch.status, mismatch.code()), (400, "PERSISTED_QUERY_HASH_MISMATCH"));
        let still_unknown = post(&server, &admin(), json!({ "extensions": persisted(&other) })).await;
        assert_eq!(still_unknown.code(), "PERSISTED_QUERY_NOT_FOUND");

        let version_two = post(&server, &admin(), json!({ "query": VIEWER, "extensions": { "persistedQuery": { "version": 2, "sha256Hash": sha256(VIEWER) } } })).await;
        assert_eq!((version_two.status, version_two.code()), (400, "PERSISTED_QUERY_NOT_SUPPORTED"));

        // A mutation known by its hash is still refused over GET.
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;
        let mutation = format!("mutation {{ updateMode(input: {{ miniProgramId: \"{program}\", mode: SYNC, expectedRevision: 99 }}) {{ changed }} }}");
        let registered = post(&server, &admin(), json!({ "query": mutation, "extensions": persisted(&sha256(&mutation)) })).await;
        assert_eq!(registered.code(), "CONFLICT");
        let over_get = get_by_hash(&server, &admin(), &mutation).await;
        assert_eq!((over_get.status, over_get.code()), (405, "METHOD_NOT_ALLOWED"));

        // A document too deep to parse safely is refused before it could be
        // registered (registering parses it).
        let deep = format!("{{ miniPrograms(filter: {}1{}) {{ totalCount }} }}", "[".repeat(5_000), "]".repeat(5_000));
        let refused = post(&server, &admin(), json!({ "query": deep, "extensions": persisted(&sha256(&deep)) })).await;
        assert_eq!(refused.code(), "GRAPHQL_PARSE_FAILED");
        let unknown = post(&server, &admin(), json!({ "extensions": persisted(&sha256(&deep)) })).await;
        assert_eq!(unknown.code(), "PERSISTED_QUERY_NOT_FOUND");

        // The alias cap applies to a document run by its hash.
        let aliases: String = (0..101).map(|n| format!("a{n}: __typename ")).collect();
        let many = format!("{{ {aliases} }}");
        let sent = post(&server, &admin(), json!({ "query": many, "extensions": persisted(&sha256(&many)) })).await;
        assert_eq!(sent.code(), "GRAPHQL_VALIDATION_FAILED");
        let by_hash = post(&server, &admin(), json!({ "extensions": persisted(&sha256(&many)) })).await;
        assert_eq!(by_hash.code(), "GRAPHQL_VALIDATION_FAILED");

        assert_eq!(program_state(&server, &program).await, before);
    }

    async fn partner_tokens_run_only_the_allow_listed_operations(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let manifest = manifest(db.dir(), &[VIEWER]);
        let settings = Settings { env: vec![("GRAPHQL_ALLOWLIST_FILE".into(), manifest)], ..Settings::default() };
        let server = TestServer::start_on(&db, settings).await;
        let program = create_dsl_program(&server, "Shop").await;
        let version = create_version(&server, &program, "1.0.0").await;
        submit(&server, &developer(), &version).await.data();
        let before = program_state(&server, &program).await;

        // Listed: by hash (no registration needed) or as text.
        let by_hash = post(&server, &approver(), json!({ "extensions": persisted(&sha256(VIEWER)) })).await;
        assert_eq!(by_hash.data()["viewer"]["subject"], "release_approver-user");
        let as_text = server.gql(&approver(), VIEWER, json!({})).await;
        assert_eq!(as_text.data()["viewer"]["subject"], "release_approver-user");

        // Not listed: refused before it runs, however it is sent.
        let decision = "mutation($id: ID!) { decideRelease(input: { versionId: $id, decision: APPROVE }) { miniProgramVersion { status } } }";
        let refused = server.gql(&approver(), decision, json!({ "id": version })).await;
        assert_eq!((refused.status, refused.code()), (403, "OPERATION_NOT_ALLOWED"));
        let registered = post(&server, &approver(), json!({ "query": decision, "variables": { "id": version }, "extensions": persisted(&sha256(decision)) })).await;
        assert_eq!(registered.code(), "OPERATION_NOT_ALLOWED");
        assert_eq!(program_state(&server, &program).await, before);

        // Other roles are not held to the list.
        let unlisted = server.gql(&admin(), "{ miniPrograms(first: 1) { totalCount } }", json!({})).await;
        assert_eq!(unlisted.data()["miniPrograms"]["totalCount"], 1);
    }

    async fn documents_nobody_used_within_the_time_to_live_are_removed(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings {
            env: vec![("PERSISTED_QUERY_TTL_DAYS".into(), "30".into())],
            ..Settings::default()
        };
        let server = TestServer::start_on(&db, settings.clone()).await;
        let (stale, recent, new) = (
            "query Stale { viewer { subject } }",
            "query Recent { viewer { subject } }",
            "query New { viewer { subject } }",
        );
        for document in [stale, recent] {
            let registered = post(&server, &viewer(), json!({ "query": document, "extensions": persisted(&sha256(document)) })).await;
            assert!(registered.data()["viewer"]["subject"].is_string());
        }
        db.execute(&format!(
            "UPDATE persisted_queries SET last_used_at = '2000-01-01 00:00:00' WHERE document = '{stale}'"
        ))
        .await;
        let days_ago = if db.is_postgres() { "now() - INTERVAL '29 days'" } else { "datetime('now', '-29 days')" };
        db.execute(&format!(
            "UPDATE persisted_queries SET last_used_at = {days_ago} WHERE document = '{recent}'"
        ))
        .await;
        // Registering is what grows the table, and what sweeps it.
        post(&server, &viewer(), json!({ "query": new, "extensions": persisted(&sha256(new)) })).await.data();
        drop(server);
        // A new process has no cache: it reads what the table holds.
        let server = TestServer::start_on(&db, settings).await;
        assert_eq!(get_by_hash(&server, &viewer(), stale).await.code(), "PERSISTED_QUERY_NOT_FOUND");
        for document in [recent, new] {
            assert!(get_by_hash(&server, &viewer(), document).await.data()["viewer"]["subject"].is_string(), "{document}");
        }
    }
}

#[test]
fn a_manifest_whose_ids_are_not_the_hashes_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.json");
    let operations =
        json!([{ "id": "0".repeat(64), "name": "op", "type": "query", "body": VIEWER }]);
    std::fs::write(
        &path,
        json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": operations }).to_string(),
    )
    .unwrap();
    let stderr = refused_start(&[
        ("JWT_SECRET", SECRET),
        ("GRAPHQL_ALLOWLIST_FILE", path.to_str().unwrap()),
    ]);
    assert!(stderr.contains("GRAPHQL_ALLOWLIST_FILE"), "{stderr}");
    assert!(stderr.contains("SHA-256"), "{stderr}");
}
