use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::ClaimNames;
use crate::domain::{Principal, Role};

/// A shorter HS256 secret can be brute-forced offline from any token.
pub const MIN_SECRET_BYTES: usize = 32;

/// Tolerated clock difference between the identity provider and this server.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;

/// How tokens are signed and whom they must be meant for.
#[derive(Clone)]
pub struct JwtSettings {
    pub secret: Vec<u8>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub claims: ClaimNames,
    pub leeway_seconds: u64,
}

impl JwtSettings {
    pub fn new(
        secret: Vec<u8>,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Self, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "JWT_SECRET has {} bytes; HS256 needs at least {MIN_SECRET_BYTES} to resist guessing",
                secret.len()
            ));
        }
        Ok(Self {
            secret,
            issuer,
            audience,
            claims: ClaimNames::default(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
        })
    }

    /// The provider's claim names and clock leeway.
    pub fn with_claims(mut self, claims: ClaimNames, leeway_seconds: u64) -> Self {
        self.claims = claims;
        self.leeway_seconds = leeway_seconds;
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

/// Turns a bearer token into the principal it names.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    claims: ClaimNames,
}

impl TokenVerifier {
    pub fn new(settings: &JwtSettings) -> Self {
        // Only HS256 is accepted: the algorithm named in a token's header
        // never chooses how it is checked.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = settings.leeway_seconds;
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
        Self {
            key: DecodingKey::from_secret(&settings.secret),
            validation,
            claims: settings.claims.clone(),
        }
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|error| TokenError::Invalid(describe(error.kind())))?;
        self.claims.principal(&data.claims)
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
/// `token` command.
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
    claims: ClaimNames,
}

impl TokenIssuer {
    pub fn new(settings: &JwtSettings) -> Self {
        Self {
            key: EncodingKey::from_secret(&settings.secret),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            claims: settings.claims.clone(),
        }
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

    fn settings() -> JwtSettings {
        JwtSettings::new(vec![7; 32], Some("idp".into()), Some("update-mode".into())).unwrap()
    }

    #[test]
    fn a_minted_token_verifies_to_its_principal() {
        let token = TokenIssuer::new(&settings())
            .mint(
                "alice",
                "acme",
                &[Role::Developer, Role::Viewer],
                Duration::from_secs(60),
            )
            .unwrap();
        let principal = TokenVerifier::new(&settings()).verify(&token).unwrap();
        assert_eq!(principal.subject, "alice");
        assert_eq!(principal.workspace_id, "acme");
        assert_eq!(principal.roles, [Role::Developer, Role::Viewer].into());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(JwtSettings::new(vec![1; 31], None, None).is_err());
    }

    #[test]
    fn another_secret_issuer_or_audience_is_refused() {
        let token = TokenIssuer::new(&settings())
            .mint("alice", "acme", &[Role::Viewer], Duration::from_secs(60))
            .unwrap();
        let other_secret =
            JwtSettings::new(vec![8; 32], Some("idp".into()), Some("update-mode".into())).unwrap();
        let other_issuer =
            JwtSettings::new(vec![7; 32], Some("evil".into()), Some("update-mode".into())).unwrap();
        let other_audience =
            JwtSettings::new(vec![7; 32], Some("idp".into()), Some("other".into())).unwrap();
        for settings in [other_secret, other_issuer, other_audience] {
            assert!(TokenVerifier::new(&settings).verify(&token).is_err());
        }
    }

    #[test]
    fn a_configured_issuer_and_audience_must_be_present() {
        let anonymous = JwtSettings::new(vec![7; 32], None, None).unwrap();
        let token = TokenIssuer::new(&anonymous)
            .mint("alice", "acme", &[Role::Viewer], Duration::from_secs(60))
            .unwrap();
        assert!(TokenVerifier::new(&anonymous).verify(&token).is_ok());
        let issuer_only = JwtSettings::new(vec![7; 32], Some("idp".into()), None).unwrap();
        assert_eq!(
            TokenVerifier::new(&issuer_only).verify(&token),
            Err(TokenError::Invalid("missing iss claim".into()))
        );
        let audience_only =
            JwtSettings::new(vec![7; 32], None, Some("update-mode".into())).unwrap();
        assert_eq!(
            TokenVerifier::new(&audience_only).verify(&token),
            Err(TokenError::Invalid("missing aud claim".into()))
        );
    }
}
