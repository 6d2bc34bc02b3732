use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

/// Sends an update-mode change with `authorization` as the header value (or
/// none) and checks it is refused with 401 and the Bearer challenge.
async fn assert_refused(server: &TestServer, program_id: &str, authorization: Option<String>) {
    let mut request = server
        .http()
        .post(format!("{}/graphql", server.url))
        .json(&json!({
            "query": UPDATE_MODE,
            "variables": { "input": { "miniProgramId": program_id, "mode": "SYNC" } },
        }));
    if let Some(value) = &authorization {
        request = request.header("Authorization", value);
    }
    let response = Gql::read(request.send().await.unwrap()).await;
    assert_eq!(response.status, 401, "{authorization:?}: {}", response.body);
    let challenge = response.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert_eq!(response.code(), "UNAUTHENTICATED", "{authorization:?}");
    assert!(response.body.get("data").is_none());
}

fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}

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

/// `alg: none`: a header and payload without a signature.
fn unsigned(claims: &Value) -> String {
    use base64::Engine as _;
    let encode = |value: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    };
    format!(
        "{}.{}.",
        encode(&json!({ "alg": "none", "typ": "JWT" })),
        encode(claims)
    )
}

on_both_backends! {
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
            bearer(unsigned(&claims(WORKSPACE, &["WORKSPACE_ADMIN"]))),
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
