use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::ClaimNames;
use super::key_ring::{KeyRefresh, KeyRing, KeySource};
use super::keys::PUBLIC_KEY_ALGORITHMS;
use crate::domain::{Principal, Role};

/// A shorter HS256 secret can be brute-forced offline from any token.
pub const MIN_SECRET_BYTES: usize = 32;

/// Tolerated clock difference between the identity provider and this server.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// A token longer than this is refused before it is decoded: real ones are
/// a few hundred bytes to a few KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// How tokens are signed and whom they must be meant for.
#[derive(Clone)]
pub struct JwtSettings {
    pub keys: KeySource,
    pub refresh: KeyRefresh,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub claims: ClaimNames,
    /// Counted in whole seconds, as JWT times are.
    pub leeway: Duration,
}

impl JwtSettings {
    pub fn new(
        keys: KeySource,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Self, String> {
        if let KeySource::Secret(secret) = &keys
            && secret.len() < MIN_SECRET_BYTES
        {
            return Err(format!(
                "JWT_SECRET has {} bytes; HS256 needs at least {MIN_SECRET_BYTES} to resist guessing",
                secret.len()
            ));
        }
        Ok(Self {
            keys,
            refresh: KeyRefresh::default(),
            issuer,
            audience,
            claims: ClaimNames::default(),
            leeway: DEFAULT_LEEWAY,
        })
    }

    /// The provider's claim names and clock leeway.
    pub fn with_claims(mut self, claims: ClaimNames, leeway: Duration) -> Self {
        self.claims = claims;
        self.leeway = leeway;
        self
    }

    /// How often a key file or JWKS is read again.
    pub fn with_refresh(mut self, refresh: KeyRefresh) -> Self {
        self.refresh = refresh;
        self
    }
}

/// Why a bearer token was not accepted. The message is safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Turns a bearer token into the principal it names. Cheap to clone: the
/// handlers get one per request.
#[derive(Clone)]
pub struct TokenVerifier(Arc<Checks>);

struct Checks {
    keys: Arc<KeyRing>,
    /// The checks every token passes, one per algorithm a key may have: the
    /// chosen key's algorithm is the only one accepted.
    validations: Vec<Validation>,
    claims: ClaimNames,
}

/// A verified token: whom it names, and until when it may be used.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub valid_until: SystemTime,
}

impl TokenVerifier {
    /// Reads the keys (fetching a JWKS URL) and the checks to apply.
    pub async fn load(settings: &JwtSettings) -> Result<Self, String> {
        let keys = KeyRing::load(settings.keys.clone(), settings.refresh).await?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = settings.leeway.as_secs();
        validation.validate_nbf = true;
        // jsonwebtoken only compares `iss` and `aud` when a token has them:
        // a configured one must also be present.
        let mut required = vec!["exp", "sub"];
        if settings.issuer.is_some() {
            required.push("iss");
        }
        if settings.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        match &settings.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let validations = std::iter::once(Algorithm::HS256)
            .chain(PUBLIC_KEY_ALGORITHMS)
            .map(|algorithm| {
                let mut validation = validation.clone();
                validation.algorithms = vec![algorithm];
                validation
            })
            .collect();
        Ok(Self(Arc::new(Checks {
            keys: Arc::new(keys),
            validations,
            claims: settings.claims.clone(),
        })))
    }

    /// The key set, to refresh it on its timer.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.0.keys.clone()
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        Ok(self.verify_session(token).await?.principal)
    }

    /// Verifies a token that opens a long-lived session (a WebSocket), which
    /// must end when the token does.
    pub async fn verify_session(&self, token: &str) -> Result<Session, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid(format!(
                "the token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        // The header's `jku`, `x5u`, `jwk` and `x5c` are never read: keys
        // come only from configuration.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| TokenError::Invalid(describe(error.kind())))?;
        let checks = &self.0;
        let key = checks.keys.find(header.kid.as_deref(), header.alg).await?;
        let validation = checks
            .validations
            .iter()
            .find(|validation| validation.algorithms == [key.algorithm])
            .ok_or_else(|| TokenError::Invalid("algorithm not accepted".into()))?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation)
            .map_err(|error| TokenError::Invalid(describe(error.kind())))?;
        // `exp` is required and was checked to be a number.
        let expires = data
            .claims
            .get("exp")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let valid_until = UNIX_EPOCH
            + Duration::from_secs_f64(expires.max(0.0))
            + Duration::from_secs(validation.leeway);
        Ok(Session {
            principal: checks.claims.principal(&data.claims)?,
            valid_until,
        })
    }
}

/// Says what was wrong without echoing the token.
fn describe(kind: &jsonwebtoken::errors::ErrorKind) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => "expired".into(),
        ErrorKind::ImmatureSignature => "not valid yet (nbf)".into(),
        ErrorKind::InvalidIssuer => "wrong issuer".into(),
        ErrorKind::InvalidAudience => "wrong audience".into(),
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "algorithm not accepted".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("missing {claim} claim"),
        ErrorKind::Json(_) => "the claims are not a JSON object of the expected types".into(),
        _ => "malformed".into(),
    }
}

/// Mints tokens with the configured secret: the development token and the
/// `token` command. With public keys, tokens come from the provider only.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
    claims: ClaimNames,
}

impl TokenIssuer {
    pub fn new(settings: &JwtSettings) -> Option<Self> {
        let KeySource::Secret(secret) = &settings.keys else {
            return None;
        };
        Some(Self {
            key: EncodingKey::from_secret(secret),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            claims: settings.claims.clone(),
        })
    }

    pub fn mint(
        &self,
        subject: &str,
        workspace_id: &str,
        roles: &[Role],
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(subject));
        claims.insert("exp".into(), Value::from(now.saturating_add(ttl.as_secs())));
        claims.insert("iat".into(), Value::from(now));
        if let Some(issuer) = &self.issuer {
            claims.insert("iss".into(), Value::from(issuer.as_str()));
        }
        if let Some(audience) = &self.audience {
            claims.insert("aud".into(), Value::from(audience.as_str()));
        }
        self.claims.insert(&mut claims, workspace_id, roles);
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> KeySource {
        KeySource::Secret(vec![byte; 32])
    }

    fn settings() -> JwtSettings {
        JwtSettings::new(secret(7), Some("idp".into()), Some("update-mode".into())).unwrap()
    }

    async fn verifier(settings: &JwtSettings) -> TokenVerifier {
        TokenVerifier::load(settings).await.unwrap()
    }

    #[tokio::test]
    async fn a_minted_token_verifies_to_its_principal() {
        let token = TokenIssuer::new(&settings())
            .unwrap()
            .mint(
                "alice",
                "acme",
                &[Role::Developer, Role::Viewer],
                Duration::from_secs(60),
            )
            .unwrap();
        let principal = verifier(&settings()).await.verify(&token).await.unwrap();
        assert_eq!(principal.subject, "alice");
        assert_eq!(principal.workspace_id, "acme");
        assert_eq!(principal.roles, [Role::Developer, Role::Viewer].into());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(JwtSettings::new(KeySource::Secret(vec![1; 31]), None, None).is_err());
    }

    #[tokio::test]
    async fn another_secret_issuer_or_audience_is_refused() {
        let token = TokenIssuer::new(&settings())
            .unwrap()
            .mint("alice", "acme", &[Role::Viewer], Duration::from_secs(60))
            .unwrap();
        let other_secret =
            JwtSettings::new(secret(8), Some("idp".into()), Some("update-mode".into())).unwrap();
        let other_issuer =
            JwtSettings::new(secret(7), Some("evil".into()), Some("update-mode".into())).unwrap();
        let other_audience =
            JwtSettings::new(secret(7), Some("idp".into()), Some("other".into())).unwrap();
        for settings in [other_secret, other_issuer, other_audience] {
            assert!(verifier(&settings).await.verify(&token).await.is_err());
        }
    }

    #[tokio::test]
    async fn a_configured_issuer_and_audience_must_be_present() {
        let anonymous = JwtSettings::new(secret(7), None, None).unwrap();
        let token = TokenIssuer::new(&anonymous)
            .unwrap()
            .mint("alice", "acme", &[Role::Viewer], Duration::from_secs(60))
            .unwrap();
        assert!(verifier(&anonymous).await.verify(&token).await.is_ok());
        let issuer_only = JwtSettings::new(secret(7), Some("idp".into()), None).unwrap();
        assert_eq!(
            verifier(&issuer_only).await.verify(&token).await,
            Err(TokenError::Invalid("missing iss claim".into()))
        );
        let audience_only = JwtSettings::new(secret(7), None, Some("update-mode".into())).unwrap();
        assert_eq!(
            verifier(&audience_only).await.verify(&token).await,
            Err(TokenError::Invalid("missing aud claim".into()))
        );
    }
}
