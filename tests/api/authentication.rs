use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::identity_provider::*;
use crate::common::*;
use crate::on_both_backends;

fn without(claim: &str) -> Value {
    let mut claims = claims(WORKSPACE, &["WORKSPACE_ADMIN"]);
    claims.as_object_mut().unwrap().remove(claim);
    claims
}

fn with(claim: &str, value: Value) -> Value {
    let mut claims = claims(WORKSPACE, &["WORKSPACE_ADMIN"]);
    claims[claim] = value;
    claims
}

/// A header and payload with an empty signature.
fn unsigned(alg: &str, claims: &Value) -> String {
    forge(&json!({ "alg": alg, "typ": "JWT" }), claims, b"")
}

/// A token validly signed with the suite's secret under `header`.
fn signed_under(header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap()
}

on_both_backends! {
    async fn a_refused_token_is_told_its_real_fault_and_changes_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;
        let admin_claims = claims(WORKSPACE, &["WORKSPACE_ADMIN"]);
        let critical = |names: &[&str]| {
            let mut header = Header::new(Algorithm::HS256);
            header.crit = Some(names.iter().map(|name| (*name).to_owned()).collect());
            signed_under(&header, &admin_claims)
        };
        let cases = [
            (unsigned("none", &admin_claims), "unsigned tokens (alg none) are not accepted"),
            (unsigned("nOnE", &admin_claims), "unsigned tokens (alg none) are not accepted"),
            // RFC 7515 §4.1.11: we understand no extension, so any `crit` is refused,
            // also one naming a registered claim or an empty list.
            (critical(&["b64"]), "the crit header names extensions this server does not understand"),
            (critical(&["exp"]), "the crit header names extensions this server does not understand"),
            (critical(&[]), "the crit header names extensions this server does not understand"),
            (sign(&with("iss", json!(42))), "the iss claim must be a string"),
            // jsonwebtoken alone would take an array holding our issuer.
            (sign(&with("iss", json!([ISSUER]))), "the iss claim must be a string"),
            (sign(&with("iss", json!("https://evil.example.test"))), "wrong issuer"),
            (sign(&without("iss")), "missing iss claim"),
            (sign(&with("aud", json!({ "name": AUDIENCE }))), "the aud claim must be a string or an array of strings"),
            (sign(&with("exp", json!("tomorrow"))), "the exp claim must be a number"),
            (sign(&without("exp")), "missing exp claim"),
            (forge(&json!({ "typ": "JWT" }), &admin_claims, b""), "the header names no algorithm (alg)"),
        ];
        for (token, message) in cases {
            let response = server.gql(&token, "{ viewer { subject } }", json!({})).await;
            assert_eq!(response.status, 401, "{message}: {}", response.body);
            assert_eq!(response.code(), "UNAUTHENTICATED", "{message}");
            assert_eq!(response.error()["message"], format!("invalid token: {message}"));
            assert_refused(&server, &program, bearer(token)).await;
        }
        // The same claims under a plain header, and an audience list naming
        // us, are accepted: the refusals above are for the header or claim named.
        let listed = with("aud", json!(["another-api", AUDIENCE]));
        for token in [signed_under(&Header::new(Algorithm::HS256), &admin_claims), sign(&listed)] {
            let response = server.gql(&token, "{ viewer { subject } }", json!({})).await;
            assert_eq!(response.data()["viewer"]["subject"], "workspace_admin-user");
        }
        assert_eq!(program_state(&server, &program).await, before);
    }

    async fn requests_without_a_valid_token_are_refused_and_change_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;
        let now = jsonwebtoken::get_current_timestamp();

        let refused = [
            None,
            Some("Basic YWRtaW46YWRtaW4=".to_owned()),
            Some("Bearer".to_owned()),
            Some(admin()),
            bearer("not.a.token".into()),
            bearer("two.parts".into()),
            bearer("a.b!!.c".into()),
            bearer(unsigned("none", &claims(WORKSPACE, &["WORKSPACE_ADMIN"]))),
            bearer(unsigned("None", &claims(WORKSPACE, &["WORKSPACE_ADMIN"]))),
            bearer(unsigned("NONE", &claims(WORKSPACE, &["WORKSPACE_ADMIN"]))),
            bearer(unsigned("HS256", &claims(WORKSPACE, &["WORKSPACE_ADMIN"]))),
            // Longer than any real token: refused before it is decoded.
            bearer(sign(&with("padding", json!("x".repeat(10_000))))),
            bearer(sign_with(Algorithm::HS256, b"another-secret-that-is-long-enough-000", &claims(WORKSPACE, &["WORKSPACE_ADMIN"]))),
            bearer(sign_with(Algorithm::HS512, SECRET.as_bytes(), &claims(WORKSPACE, &["WORKSPACE_ADMIN"]))),
            bearer(sign(&with("exp", json!(now - 3600)))),
            bearer(sign(&with("nbf", json!(now + 3600)))),
            bearer(sign(&with("iss", json!("https://evil.example.test")))),
            bearer(sign(&with("aud", json!("another-api")))),
            bearer(sign(&without("iss"))),
            bearer(sign(&without("aud"))),
            bearer(sign(&without("exp"))),
            bearer(sign(&without("sub"))),
            bearer(sign(&without("workspace_id"))),
            bearer(sign(&with("workspace_id", json!(42)))),
            bearer(sign(&with("workspace_id", json!("")))),
            bearer(sign(&with("roles", json!("WORKSPACE_ADMIN")))),
        ];
        for authorization in refused {
            assert_refused(&server, &program, authorization).await;
        }
        // A tampered payload keeps the old signature.
        let token = admin();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&claims(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"])).unwrap())
        };
        assert_refused(&server, &program, bearer(parts.join("."))).await;

        // A token in the query string is not a credential.
        let response = server
            .http()
            .post(format!("{}/graphql?access_token={}", server.url, admin()))
            .json(&json!({
                "query": UPDATE_MODE,
                "variables": { "input": { "miniProgramId": program, "mode": "SYNC" } },
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);

        // A header too large for the server is refused before any handler.
        let response = server
            .http()
            .post(format!("{}/graphql", server.url))
            .header("Authorization", format!("Bearer {}", "x".repeat(1024 * 1024)))
            .json(&json!({ "query": "{ viewer { subject } }" }))
            .send()
            .await;
        match response {
            Ok(response) => assert_eq!(response.status(), 431),
            Err(error) => panic!("the server dropped the connection instead of answering 431: {error}"),
        }

        assert_eq!(program_state(&server, &program).await, before);
    }

    async fn the_token_names_subject_workspace_and_known_roles(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let mut claims = claims(WORKSPACE, &["DEVELOPER", "VIEWER"]);
        claims["sub"] = json!("dana");
        claims["roles"] = json!(["DEVELOPER", "VIEWER", "SUPERUSER", 7]);
        let response = server.gql(&sign(&claims), "{ viewer { subject workspaceId roles } }", json!({})).await;
        assert_eq!(
            response.data()["viewer"],
            json!({ "subject": "dana", "workspaceId": WORKSPACE, "roles": ["DEVELOPER", "VIEWER"] })
        );
    }

    async fn a_providers_claim_names_and_role_names_are_configurable(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings {
            env: vec![
                ("JWT_WORKSPACE_CLAIM".into(), "tenant".into()),
                ("JWT_ROLES_CLAIM".into(), "realm_access.roles".into()),
                ("JWT_ROLE_MAP".into(), "release-manager=WORKSPACE_ADMIN,reviewer=RELEASE_APPROVER".into()),
                ("JWT_LEEWAY_SECONDS".into(), "0".into()),
            ],
            ..Settings::default()
        };
        let server = TestServer::start_on(&db, settings).await;
        let now = jsonwebtoken::get_current_timestamp();
        let keycloak = |roles: Value, exp: u64| {
            sign(&json!({
                "sub": "kc-7", "tenant": WORKSPACE, "realm_access": { "roles": roles },
                "iss": ISSUER, "aud": AUDIENCE, "exp": exp,
            }))
        };
        let response = server
            .gql(&keycloak(json!(["release-manager", "offline_access"]), now + 600), "{ viewer { subject workspaceId roles } }", json!({}))
            .await;
        assert_eq!(response.data()["viewer"], json!({ "subject": "kc-7", "workspaceId": WORKSPACE, "roles": ["WORKSPACE_ADMIN"] }));
        let response = server.gql(&keycloak(json!(["reviewer"]), now + 600), "{ viewer { roles } }", json!({})).await;
        assert_eq!(response.data()["viewer"]["roles"], json!(["RELEASE_APPROVER"]));
        // The default claim names no longer name the workspace.
        assert_eq!(server.gql(&admin(), "{ viewer { subject } }", json!({})).await.status, 401);
        // With no leeway, a token that expired a few seconds ago is refused.
        assert_eq!(server.gql(&keycloak(json!(["reviewer"]), now - 5), "{ viewer { roles } }", json!({})).await.status, 401);
    }

    async fn the_workspace_claim_may_be_nested_under_a_namespaced_claim(backend: Backend) {
        // Auth0 style: one claim named by a URL, its dots part of its name,
        // holding the tenant and the roles.
        const NAMESPACE: &str = "https://update-mode.example/claims";
        let db = TestDatabase::create(backend).await;
        let settings = Settings {
            env: vec![
                ("JWT_WORKSPACE_CLAIM".into(), format!("{NAMESPACE}.tenant")),
                ("JWT_ROLES_CLAIM".into(), format!("{NAMESPACE}.roles")),
            ],
            ..Settings::default()
        };
        let server = TestServer::start_on(&db, settings).await;
        let namespaced = |inside: Value| {
            let mut claims = without("workspace_id");
            claims.as_object_mut().unwrap().remove("roles");
            claims[NAMESPACE] = inside;
            sign(&claims)
        };
        let response = server
            .gql(&namespaced(json!({ "tenant": WORKSPACE, "roles": ["DEVELOPER"] })), "{ viewer { workspaceId roles } }", json!({}))
            .await;
        assert_eq!(response.data()["viewer"], json!({ "workspaceId": WORKSPACE, "roles": ["DEVELOPER"] }));

        // Without the nested claim: the refusal a token without a workspace always got.
        let refusal = format!("invalid token: the {NAMESPACE}.tenant claim must be a non-empty string");
        for missing in [namespaced(json!({ "roles": ["DEVELOPER"] })), namespaced(json!({ "tenant": 7 })), admin()] {
            let response = server.gql(&missing, "{ viewer { workspaceId } }", json!({})).await;
            assert_eq!(response.status, 401);
            assert_eq!(response.code(), "UNAUTHENTICATED");
            assert_eq!(response.error()["message"], refusal);
            let challenged = server
                .http()
                .post(format!("{}/graphql", server.url))
                .bearer_auth(&missing)
                .json(&json!({ "query": "{ viewer { workspaceId } }" }))
                .send()
                .await
                .unwrap();
            assert_eq!(challenged.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
        }
    }

    async fn a_token_without_known_roles_reads_nothing_but_itself(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        create_dsl_program(&server, "Shop").await;
        let roleless = token(WORKSPACE, &["AUDITOR"]);
        let response = server.gql(&roleless, "{ viewer { roles } }", json!({})).await;
        assert_eq!(response.data()["viewer"]["roles"], json!([]));
        let response = server.gql(&roleless, "{ miniPrograms { totalCount } }", json!({})).await;
        assert_eq!(response.code(), "FORBIDDEN");
    }
}
