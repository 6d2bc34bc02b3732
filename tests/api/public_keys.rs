//! Tokens signed with a provider's private keys: a PEM public key, a JWKS
//! file and a JWKS URL (cached, refreshed on rotation and on a timer, and
//! surviving the provider's outages).

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::common::identity_provider::*;
use crate::common::*;
use crate::on_both_backends;

fn keys(name: &str, value: String) -> Settings {
    Settings {
        jwt_keys: Some((name.into(), value)),
        ..Settings::default()
    }
}

fn admin_claims() -> Value {
    claims(WORKSPACE, &["WORKSPACE_ADMIN"])
}

async fn subject(server: &TestServer, token: &str) -> Gql {
    server.gql(token, "{ viewer { subject } }", json!({})).await
}

on_both_backends! {
    async fn rs256_es256_and_eddsa_tokens_are_chosen_by_kid_from_a_jwks_file(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, keys("JWT_JWKS_FILE", fixture("jwks.json"))).await;
        for (algorithm, key, kid) in [
            (Algorithm::RS256, "rsa.key.pem", "rsa-1"),
            (Algorithm::ES256, "ec.key.pem", "ec-1"),
            (Algorithm::EdDSA, "ed25519.key.pem", "ed-1"),
        ] {
            let token = sign_with_key(algorithm, key, Some(kid), &admin_claims());
            let response = subject(&server, &token).await;
            assert_eq!(response.status, 200, "{kid}: {}", response.body);
            assert_eq!(response.data()["viewer"]["subject"], "workspace_admin-user");
        }
        let admin = sign_with_key(Algorithm::RS256, "rsa.key.pem", Some("rsa-1"), &admin_claims());
        let program = create_program_as(&server, &admin, "Shop", "DSL", "WORKSPACE").await;
        let before = program_state_as(&server, &admin, &program).await;
        let now = jsonwebtoken::get_current_timestamp();
        let rsa = |claims: &Value| bearer(sign_with_key(Algorithm::RS256, "rsa.key.pem", Some("rsa-1"), claims));
        let changed = |name: &str, value: Value| {
            let mut claims = admin_claims();
            claims[name] = value;
            claims
        };
        let without = |name: &str| {
            let mut claims = admin_claims();
            claims.as_object_mut().unwrap().remove(name);
            claims
        };
        let public_pem = std::fs::read(fixture("rsa.pub.pem")).unwrap();
        let attacker_jwk = {
            let mut jwk = next_key();
            jwk["kid"] = json!("attacker");
            jwk
        };
        let refused = [
            // The right key id with another key's signature or algorithm.
            bearer(sign_with_key(Algorithm::ES256, "ec.key.pem", Some("rsa-1"), &admin_claims())),
            bearer(sign_with_key(Algorithm::RS256, "attacker.key.pem", Some("rsa-1"), &admin_claims())),
            // Key confusion: HMAC keyed with the public key.
            bearer(sign_with(Algorithm::HS256, &public_pem, &admin_claims())),
            bearer(forge(&json!({ "alg": "HS256", "kid": "rsa-1" }), &admin_claims(), b"\x01")),
            bearer(forge(&json!({ "alg": "none", "kid": "rsa-1" }), &admin_claims(), b"")),
            bearer(forge(&json!({ "alg": "RS256", "kid": "rsa-1" }), &admin_claims(), b"")),
            // ECDSA with r = s = 0 (the "psychic signature").
            bearer(forge(&json!({ "alg": "ES256", "kid": "ec-1" }), &admin_claims(), &[0; 64])),
            // Unknown key ids, and ones shaped like paths or SQL.
            bearer(sign_with_key(Algorithm::RS256, "rsa.key.pem", Some("rsa-9"), &admin_claims())),
            bearer(sign_with_key(Algorithm::RS256, "rsa.key.pem", Some("../../dev/null"), &admin_claims())),
            bearer(sign_with_key(Algorithm::RS256, "rsa.key.pem", Some("' OR 1=1--"), &admin_claims())),
            // Keys offered by the token itself are never used.
            bearer(sign_attacker_with_header(json!({ "jku": "http://127.0.0.1:1/jwks.json" }))),
            bearer(sign_attacker_with_header(json!({ "x5u": "http://127.0.0.1:1/cert.pem" }))),
            bearer(sign_attacker_with_header(json!({ "jwk": attacker_jwk }))),
            // Claims, checked as with a shared secret.
            rsa(&changed("exp", json!(now - 3600))),
            rsa(&changed("nbf", json!(now + 3600))),
            rsa(&changed("iss", json!("https://evil.example.test"))),
            rsa(&changed("aud", json!("another-api"))),
            rsa(&changed("workspace_id", json!(["acme"]))),
            rsa(&without("sub")),
            rsa(&without("exp")),
            rsa(&without("workspace_id")),
        ];
        for authorization in refused {
            assert_refused(&server, &program, authorization).await;
        }
        assert_eq!(program_state_as(&server, &admin, &program).await, before);
    }

    async fn a_pem_public_key_verifies_its_providers_tokens(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, keys("JWT_PUBLIC_KEY_FILE", fixture("ec.pub.pem"))).await;
        // One key: a token may name any key id, or none.
        for kid in [None, Some("whatever-the-provider-calls-it")] {
            let token = sign_with_key(Algorithm::ES256, "ec.key.pem", kid, &admin_claims());
            assert_eq!(subject(&server, &token).await.status, 200, "{kid:?}");
        }
        let program = create_program_as(&server, &sign_with_key(Algorithm::ES256, "ec.key.pem", None, &admin_claims()), "Shop", "DSL", "WORKSPACE").await;
        let pem = std::fs::read(fixture("ec.pub.pem")).unwrap();
        for authorization in [
            bearer(sign_with(Algorithm::HS256, &pem, &admin_claims())),
            bearer(sign_with_key(Algorithm::RS256, "rsa.key.pem", None, &admin_claims())),
            bearer(token(WORKSPACE, &["WORKSPACE_ADMIN"])),
        ] {
            assert_refused(&server, &program, authorization).await;
        }
        // The token command cannot mint tokens for a provider's keys.
        let output = server_command(&db, &keys("JWT_PUBLIC_KEY_FILE", fixture("ec.pub.pem")))
            .args(["token", "--workspace", WORKSPACE, "--role", "VIEWER"])
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("identity provider"));
    }
}

/// A token signed with the attacker's key, offering that key (or where to
/// find it) in its header.
fn sign_attacker_with_header(extra: Value) -> String {
    let token = sign_with_key(
        Algorithm::RS256,
        "attacker.key.pem",
        Some("attacker"),
        &admin_claims(),
    );
    let (header, rest) = token.split_once('.').unwrap();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header: Value = serde_json::from_slice(&engine.decode(header).unwrap()).unwrap();
    for (name, value) in extra.as_object().unwrap() {
        header[name] = value.clone();
    }
    // The signature no longer covers the header, which does not matter: no
    // key of ours could verify it either way.
    format!(
        "{}.{rest}",
        engine.encode(serde_json::to_vec(&header).unwrap())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_url_is_refetched_for_a_rotated_key_and_outlives_the_providers_outage() {
    let provider = KeyServer::start(published_keys()).await;
    let db = TestDatabase::create(Backend::Sqlite).await;
    let mut settings = keys("JWT_JWKS_URL", provider.url.clone());
    settings
        .env
        .push(("JWT_JWKS_COOLDOWN_SECONDS".into(), "3600".into()));
    let server = TestServer::start_on(&db, settings).await;
    assert_eq!(provider.fetches(), 1, "fetched once at start");

    let current = sign_with_key(
        Algorithm::RS256,
        "rsa.key.pem",
        Some("rsa-1"),
        &admin_claims(),
    );
    assert_eq!(subject(&server, &current).await.status, 200);
    assert_eq!(
        provider.fetches(),
        1,
        "a known key is served from the cache"
    );

    // The provider rotates: a token names a key the cache does not hold yet.
    let mut rotated = published_keys();
    rotated["keys"].as_array_mut().unwrap().push(next_key());
    provider.publish(rotated);
    let next = sign_with_key(
        Algorithm::RS256,
        "rsa-next.key.pem",
        Some("rsa-2"),
        &admin_claims(),
    );
    assert_eq!(subject(&server, &next).await.status, 200);
    assert_eq!(provider.fetches(), 2);

    // Made-up key ids do not make the server hammer the provider.
    for n in 0..20 {
        let made_up = sign_with_key(
            Algorithm::RS256,
            "rsa.key.pem",
            Some(&format!("kid-{n}")),
            &admin_claims(),
        );
        assert_eq!(subject(&server, &made_up).await.status, 401);
    }
    assert!(provider.fetches() <= 3, "{} fetches", provider.fetches());

    // The provider goes down: cached keys keep working.
    provider.set_down(true);
    assert_eq!(subject(&server, &current).await.status, 200);
    assert_eq!(subject(&server, &next).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_url_unreachable_at_start_and_a_revoked_key_are_caught_up_on_the_timer() {
    let provider = KeyServer::start(published_keys()).await;
    provider.set_down(true);
    let db = TestDatabase::create(Backend::Sqlite).await;
    let mut settings = keys("JWT_JWKS_URL", provider.url.clone());
    settings
        .env
        .push(("JWT_JWKS_REFRESH_SECONDS".into(), "1".into()));
    let server = TestServer::start_on(&db, settings).await;
    let token = sign_with_key(
        Algorithm::EdDSA,
        "ed25519.key.pem",
        Some("ed-1"),
        &admin_claims(),
    );
    assert_eq!(subject(&server, &token).await.status, 401, "no keys yet");
    assert_eq!(
        server
            .gql(&token, "{ viewer { subject } }", json!({}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );

    provider.set_down(false);
    eventually(
        Duration::from_secs(10),
        "the key set to be fetched",
        || async { (subject(&server, &token).await.status == 200).then_some(()) },
    )
    .await;

    // The provider withdraws the Ed25519 key.
    let mut revoked = published_keys();
    revoked["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|key| key["kid"] != "ed-1");
    provider.publish(revoked);
    eventually(
        Duration::from_secs(10),
        "the withdrawn key to be dropped",
        || async { (subject(&server, &token).await.status == 401).then_some(()) },
    )
    .await;
}
