//! An identity provider for the tests: the fixture key pairs, tokens signed
//! with them, and a JWKS endpoint whose key set, availability and fetch count
//! the test controls.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::gql::Gql;
use super::receiver::serve_in_background;
use super::server::TestServer;
use super::steps::UPDATE_MODE;

pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("read a key fixture")
}

/// A token signed with the private key of `key_file` (e.g. `rsa.key.pem`).
pub fn sign_with_key(
    algorithm: Algorithm,
    key_file: &str,
    kid: Option<&str>,
    claims: &Value,
) -> String {
    let pem = read(key_file);
    let key = match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .expect("a fixture private key");
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).expect("sign token")
}

/// A token with the given header and claims and a signature of raw bytes.
pub fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        encode(&serde_json::to_vec(header).unwrap()),
        encode(&serde_json::to_vec(claims).unwrap()),
        encode(signature)
    )
}

/// The fixture JWKS (`rsa-1`, `ec-1`, `ed-1`).
pub fn published_keys() -> Value {
    serde_json::from_slice(&read("jwks.json")).expect("jwks fixture")
}

/// The JWK of the key a rotation adds (`rsa-2`).
pub fn next_key() -> Value {
    serde_json::from_slice(&read("rsa-next.jwk.json")).expect("jwk fixture")
}

#[derive(Default)]
struct KeyServerState {
    document: Mutex<Value>,
    down: AtomicBool,
    fetches: AtomicUsize,
}

/// `GET /jwks.json` on 127.0.0.1, stopped when dropped.
pub struct KeyServer {
    pub url: String,
    state: Arc<KeyServerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl KeyServer {
    pub async fn start(document: Value) -> KeyServer {
        let state = Arc::new(KeyServerState {
            document: Mutex::new(document),
            ..KeyServerState::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the key server");
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route(
                "/jwks.json",
                axum::routing::get(
                    |axum::extract::State(state): axum::extract::State<Arc<KeyServerState>>| async move {
                        state.fetches.fetch_add(1, Ordering::SeqCst);
                        if state.down.load(Ordering::SeqCst) {
                            return (http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({})));
                        }
                        let document = state.document.lock().unwrap().clone();
                        (http::StatusCode::OK, axum::Json(document))
                    },
                ),
            )
            .with_state(state.clone());
        let stop = serve_in_background(listener, app);
        KeyServer {
            url,
            state,
            stop: Some(stop),
        }
    }

    pub fn publish(&self, document: Value) {
        *self.state.document.lock().unwrap() = document;
    }

    /// Answers 503 from now on, or serves again.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends an update-mode change with `authorization` as the header value (or
/// none) and checks it is refused with 401 and the Bearer challenge.
pub async fn assert_refused(server: &TestServer, program_id: &str, authorization: Option<String>) {
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
    let response = request.send().await.unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let response = Gql::read(response).await;
    assert_eq!(response.status, 401, "{authorization:?}: {}", response.body);
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert_eq!(response.code(), "UNAUTHENTICATED", "{authorization:?}");
    assert!(response.body.get("data").is_none());
}

pub fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}
