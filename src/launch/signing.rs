//! Signed launch answers: a compact JWS with a detached payload (RFC 7515
//! appendix F, `header..signature`), EdDSA over the exact body bytes, so
//! that a super app fetching its policy through proxies or CDNs can check
//! that the answer is ours; the body's `issuedAt` lets it refuse one older
//! than an answer it has seen. The public keys are served as a JWKS.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::sync::lock;

/// Answers signed within one second repeat, byte for byte, for every device
/// told the same thing: their signatures are kept for that second, up to
/// this many.
const CACHED_PER_SECOND: usize = 4096;

struct Key {
    signing: SigningKey,
    kid: String,
    /// `base64url(header)`, the same for every answer.
    header: String,
}

impl Key {
    fn load(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|error| {
            format!(
                "{} is not an Ed25519 private key in PKCS#8 PEM: {error}",
                path.display()
            )
        })?;
        let kid = thumbprint(&signing);
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "EdDSA", "kid": kid }).to_string());
        Ok(Key {
            signing,
            kid,
            header,
        })
    }

    fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": public_x(&self.signing),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

fn public_x(key: &SigningKey) -> String {
    URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())
}

/// The key's RFC 7638 thumbprint: the same `kid` on every process and
/// after restarts, without a setting to keep in step.
fn thumbprint(key: &SigningKey) -> String {
    let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, public_x(key));
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes()))
}

pub struct LaunchSigner {
    current: Key,
    previous: Option<Key>,
    /// The second the cached signatures were made in, and them by body.
    cache: Mutex<(i64, HashMap<Vec<u8>, String>)>,
}

impl LaunchSigner {
    /// The signer of `LAUNCH_SIGNING_KEY_FILE`, publishing
    /// `LAUNCH_SIGNING_PREVIOUS_KEY_FILE` beside it during a rotation.
    pub fn load(current: &Path, previous: Option<&Path>) -> Result<Self, String> {
        Ok(LaunchSigner {
            current: Key::load(current)?,
            previous: previous.map(Key::load).transpose()?,
            cache: Mutex::new((0, HashMap::new())),
        })
    }

    /// The `x-launch-signature` of `body`, issued in `second` (Unix time).
    pub fn sign(&self, body: &[u8], second: i64) -> String {
        {
            let mut cache = lock(&self.cache);
            if cache.0 != second {
                *cache = (second, HashMap::new());
            }
            if let Some(signature) = cache.1.get(body) {
                return signature.clone();
            }
        }
        // Signed outside the lock, so that answers of other bodies do not
        // wait for this one.
        let key = &self.current;
        let signing_input = format!("{}.{}", key.header, URL_SAFE_NO_PAD.encode(body));
        let signature = key.signing.sign(signing_input.as_bytes());
        let jws = format!(
            "{}..{}",
            key.header,
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        );
        let mut cache = lock(&self.cache);
        if cache.0 == second && cache.1.len() < CACHED_PER_SECOND {
            cache.1.insert(body.to_vec(), jws.clone());
        }
        jws
    }

    /// The public keys as a JWKS: the signing key first, then the one being
    /// rotated away from.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = std::iter::once(&self.current)
            .chain(&self.previous)
            .map(Key::jwk)
            .collect();
        json!({ "keys": keys })
    }
}
