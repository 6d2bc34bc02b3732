//! The keys that tokens may be signed with, read from what an identity
//! provider publishes: a PEM public key or a JSON Web Key Set.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// The public-key algorithms a key may verify.
pub const PUBLIC_KEY_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// One key and the one algorithm it verifies: the algorithm a token names in
/// its header only selects a key, it never changes how the key is used.
#[derive(Clone)]
pub struct VerificationKey {
    /// The `kid` that selects this key; a key without one serves tokens of
    /// its algorithm whatever `kid` they name.
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

impl VerificationKey {
    pub fn secret(secret: &[u8]) -> Self {
        Self {
            kid: None,
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(secret),
        }
    }

    /// A PEM public key: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        if String::from_utf8_lossy(pem).contains("PRIVATE KEY-----") {
            return Err("this is a private key; configure the provider's public key".into());
        }
        let (algorithm, key) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            (Algorithm::RS256, key)
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            (Algorithm::ES256, key)
        } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            (Algorithm::EdDSA, key)
        } else {
            return Err("not a PEM RSA, EC P-256 or Ed25519 public key".into());
        };
        Ok(Self {
            kid: None,
            algorithm,
            key,
        })
    }

    /// The signing keys of a JWKS document. Keys for encryption, of other
    /// types or curves, and symmetric keys (which a published set must never
    /// hold) are left out; a document with no usable key is refused.
    pub fn from_jwks(document: &[u8]) -> Result<Vec<Self>, String> {
        // Each key is read on its own: one key of a kind unknown here must
        // not hide the others.
        let set: KeySetDocument = serde_json::from_slice(document)
            .map_err(|error| format!("not a JWKS document: {error}"))?;
        let keys: Vec<Self> = set
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
            .filter_map(|jwk| signing_key(&jwk))
            .collect();
        if keys.is_empty() {
            return Err("the JWKS document has no RS256, ES256 or EdDSA signing key".into());
        }
        Ok(keys)
    }
}

#[derive(serde::Deserialize)]
struct KeySetDocument {
    keys: Vec<serde_json::Value>,
}

fn signing_key(jwk: &Jwk) -> Option<VerificationKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let natural = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(params) if params.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(params) if params.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    let algorithm = match jwk.common.key_algorithm {
        None => natural,
        Some(KeyAlgorithm::RS256) if natural == Algorithm::RS256 => Algorithm::RS256,
        Some(KeyAlgorithm::RS384) if natural == Algorithm::RS256 => Algorithm::RS384,
        Some(KeyAlgorithm::RS512) if natural == Algorithm::RS256 => Algorithm::RS512,
        Some(KeyAlgorithm::PS256) if natural == Algorithm::RS256 => Algorithm::PS256,
        Some(KeyAlgorithm::ES256) if natural == Algorithm::ES256 => Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) if natural == Algorithm::EdDSA => Algorithm::EdDSA,
        Some(_) => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerificationKey {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
    }

    #[test]
    fn pem_keys_verify_their_own_algorithm() {
        for (file, algorithm) in [
            ("rsa.pub.pem", Algorithm::RS256),
            ("ec.pub.pem", Algorithm::ES256),
            ("ed25519.pub.pem", Algorithm::EdDSA),
        ] {
            let key = VerificationKey::from_pem(&fixture(file)).unwrap();
            assert_eq!(key.algorithm, algorithm, "{file}");
            assert_eq!(key.kid, None);
        }
        assert!(
            VerificationKey::from_pem(
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
            )
            .is_err()
        );
        assert!(VerificationKey::from_pem(&fixture("rsa.key.pem")).is_err());
    }

    #[test]
    fn a_jwks_yields_its_signing_keys_by_kid() {
        let keys = VerificationKey::from_jwks(&fixture("jwks.json")).unwrap();
        let found: Vec<(Option<&str>, Algorithm)> = keys
            .iter()
            .map(|key| (key.kid.as_deref(), key.algorithm))
            .collect();
        assert_eq!(
            found,
            [
                (Some("rsa-1"), Algorithm::RS256),
                (Some("ec-1"), Algorithm::ES256),
                (Some("ed-1"), Algorithm::EdDSA),
            ]
        );
    }

    #[test]
    fn symmetric_encryption_and_mismatched_keys_are_left_out() {
        let rsa: serde_json::Value = serde_json::from_slice(&fixture("rsa-next.jwk.json")).unwrap();
        let with = |changes: serde_json::Value| {
            let mut key = rsa.clone();
            for (name, value) in changes.as_object().unwrap() {
                key[name] = value.clone();
            }
            key
        };
        let document = serde_json::json!({ "keys": [
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" },
            with(serde_json::json!({ "kid": "enc", "use": "enc" })),
            with(serde_json::json!({ "kid": "confused", "alg": "HS256" })),
            with(serde_json::json!({ "kid": "kept" })),
        ]});
        let keys = VerificationKey::from_jwks(document.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("kept"));

        let symmetric_only = serde_json::json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] });
        assert!(VerificationKey::from_jwks(symmetric_only.to_string().as_bytes()).is_err());
        assert!(VerificationKey::from_jwks(b"<html>").is_err());
    }
}
