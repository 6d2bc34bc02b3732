//! Signed launch answers: an Ed25519 detached JWS over the exact body,
//! verified here with an independent JWS implementation (jsonwebtoken)
//! against the published JWKS; a changed byte fails; a rotation publishes
//! both keys and signs with the new one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};

use crate::common::identity_provider::fixture;
use crate::common::*;
use crate::on_both_backends;
use crate::rollback::released_version;

struct Signed {
    status: u16,
    etag: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

async fn get_launch(server: &TestServer, key: &str, program: &str, etag: Option<&str>) -> Signed {
    let mut request = server
        .http()
        .get(format!("{}/v1/launch/{program}", server.url))
        .query(&[("deviceId", "device-1"), ("cachedVersion", "1.0.0")])
        .header("x-client-key", key);
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Signed {
        status: response.status().as_u16(),
        etag: header("etag"),
        signature: header("x-launch-signature"),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn published_keys(server: &TestServer) -> JwkSet {
    let response = server
        .http()
        .get(format!("{}/v1/launch/keys", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    response.json().await.unwrap()
}

/// Verifies `signature` (`header..signature`) over `body` as a device would,
/// with the key of its `kid` from `keys`: the `kid` when it verifies.
fn verify(keys: &JwkSet, signature: &str, body: &[u8]) -> Option<String> {
    let (header, rest) = signature.split_once("..")?;
    let protected: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    assert_eq!(protected["alg"], "EdDSA");
    let kid = protected["kid"].as_str()?.to_owned();
    let jwk = keys.find(&kid)?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(body));
    jsonwebtoken::crypto::verify(rest, signing_input.as_bytes(), &key, Algorithm::EdDSA)
        .ok()?
        .then_some(kid)
}

fn signing(current: &str, previous: Option<&str>) -> Settings {
    let mut env = vec![("LAUNCH_SIGNING_KEY_FILE".to_owned(), fixture(current))];
    if let Some(previous) = previous {
        env.push((
            "LAUNCH_SIGNING_PREVIOUS_KEY_FILE".to_owned(),
            fixture(previous),
        ));
    }
    Settings {
        env,
        ..Settings::default()
    }
}

on_both_backends! {
    async fn answers_are_signed_and_verify_with_the_published_key(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, signing("ed25519.key.pem", None)).await;
        let program = create_dsl_program(&server, "Mall").await;
        released_version(&server, &program, "1.1.0", None).await;
        let key = create_client_key(&server, &admin()).await;
        let keys = published_keys(&server).await;
        assert_eq!(keys.keys.len(), 1);

        let before = chrono::Utc::now() - chrono::Duration::seconds(1);
        let answer = get_launch(&server, &key, &program, None).await;
        assert_eq!(answer.status, 200);
        let signature = answer.signature.expect("x-launch-signature");
        let kid = verify(&keys, &signature, &answer.body).expect("a valid signature");
        assert_eq!(keys.keys[0].common.key_id.as_deref(), Some(kid.as_str()));
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        let issued = chrono::DateTime::parse_from_rfc3339(body["issuedAt"].as_str().unwrap()).unwrap();
        assert!(issued >= before && issued <= chrono::Utc::now(), "{issued}");
        assert_eq!(body["targetVersion"], "1.1.0");

        // One changed byte, or another answer's signature, fails.
        let mut tampered = answer.body.clone();
        let at = tampered.iter().position(|&b| b == b'1').unwrap();
        tampered[at] = b'2';
        assert!(verify(&keys, &signature, &tampered).is_none());
        let (header, _) = signature.split_once("..").unwrap();
        assert!(verify(&keys, &format!("{header}..{}", URL_SAFE_NO_PAD.encode([0u8; 64])), &answer.body).is_none());

        // A 304 carries no signature.
        let again = get_launch(&server, &key, &program, answer.etag.as_deref()).await;
        assert_eq!(again.status, 304);
        assert!(again.signature.is_none());
    }

    async fn a_rotation_publishes_both_keys_and_signs_with_the_new_one(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, signing("ed25519.key.pem", None)).await;
        let program = create_dsl_program(&server, "Mall").await;
        released_version(&server, &program, "1.1.0", None).await;
        let key = create_client_key(&server, &admin()).await;
        let old = get_launch(&server, &key, &program, None).await;
        let old_kid = published_keys(&server).await.keys[0].common.key_id.clone().unwrap();
        drop(server);

        let server = TestServer::start_on(&db, signing("launch-next.key.pem", Some("ed25519.key.pem"))).await;
        let keys = published_keys(&server).await;
        let kids: Vec<String> = keys.keys.iter().map(|k| k.common.key_id.clone().unwrap()).collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[1], old_kid, "the previous key is still published");
        let new = get_launch(&server, &key, &program, None).await;
        assert_eq!(verify(&keys, new.signature.as_deref().unwrap(), &new.body), Some(kids[0].clone()));
        assert_eq!(verify(&keys, old.signature.as_deref().unwrap(), &old.body), Some(old_kid));
    }

    async fn without_a_key_answers_are_unsigned_and_no_key_is_published(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        released_version(&server, &program, "1.1.0", None).await;
        let key = create_client_key(&server, &admin()).await;
        let answer = get_launch(&server, &key, &program, None).await;
        assert!(answer.signature.is_none());
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert!(body.get("issuedAt").is_none());
        assert_eq!(serde_json::to_value(published_keys(&server).await).unwrap(), json!({ "keys": [] }));
    }
}

#[test]
fn a_signing_key_that_is_not_ed25519_or_a_lone_previous_key_is_refused_at_start() {
    let said = refused_start(&[("LAUNCH_SIGNING_KEY_FILE", &fixture("rsa.key.pem"))]);
    assert!(said.contains("not an Ed25519 private key"), "{said}");
    let said = refused_start(&[("LAUNCH_SIGNING_KEY_FILE", "/no/such/key.pem")]);
    assert!(said.contains("cannot read"), "{said}");
    let said = refused_start(&[(
        "LAUNCH_SIGNING_PREVIOUS_KEY_FILE",
        &fixture("ed25519.key.pem"),
    )]);
    assert!(said.contains("LAUNCH_SIGNING_KEY_FILE"), "{said}");
}
