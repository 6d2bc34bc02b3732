use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
    issuer: Option<String>,
    audience: Option<String>,
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
        // jsonwebtoken checks the signature and the times. `exp`, `iss` and
        // `aud` are checked by `registered_claims` after it: jsonwebtoken
        // reports a claim of the wrong type as missing, and takes an `iss`
        // array that holds the expected issuer.
        validation.set_required_spec_claims::<&str>(&[]);
        validation.iss = None;
        validation.validate_aud = false;
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
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
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
        let header = read_header(token)?;
        let checks = &self.0;
        let key = checks.keys.find(header.kid.as_deref(), header.alg).await?;
        let validation = checks
            .validations
            .iter()
            .find(|validation| validation.algorithms == [key.algorithm])
            .ok_or_else(|| TokenError::Invalid("algorithm not accepted".into()))?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation)
            .map_err(|error| TokenError::Invalid(describe(error.kind())))?;
        let expires = registered_claims(
            &data.claims,
            checks.issuer.as_deref(),
            checks.audience.as_deref(),
        )?;
        // Checked: an `exp` past what `SystemTime` holds would panic.
        let valid_until = Duration::try_from_secs_f64(expires)
            .ok()
            .and_then(|expires| UNIX_EPOCH.checked_add(expires))
            .and_then(|until| until.checked_add(Duration::from_secs(validation.leeway)))
            .ok_or_else(|| invalid("the exp claim is too far in the future"))?;
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
        ErrorKind::InvalidClaimFormat(claim) => format!("the {claim} claim must be a number"),
        ErrorKind::Json(_) => "the claims are not a JSON object of the expected types".into(),
        ErrorKind::Base64(_) => "malformed: a part is not base64url".into(),
        _ => "malformed".into(),
    }
}

fn invalid(message: &str) -> TokenError {
    TokenError::Invalid(message.into())
}

/// Reads the protected header and names what is wrong with it; jsonwebtoken
/// reports every fault of a header, `alg: none` included, as a JSON error.
fn read_header(token: &str) -> Result<Header, TokenError> {
    let mut parts = token.split('.');
    let (Some(encoded), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed: a signed JWT has three parts"));
    };
    let decoded = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| invalid("malformed: the header is not base64url"))?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&decoded) else {
        return Err(invalid("the header is not a JSON object"));
    };
    match fields.get("alg") {
        None => return Err(invalid("the header names no algorithm (alg)")),
        Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
            return Err(invalid("unsigned tokens (alg none) are not accepted"));
        }
        Some(Value::String(alg)) if alg.parse::<Algorithm>().is_err() => {
            return Err(invalid("algorithm not accepted"));
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(invalid("the alg header must be a string")),
    }
    // RFC 7515 §4.1.11: a token whose `crit` names an extension the
    // recipient does not understand must be refused. We understand none, so
    // any `crit` is refused; its names are not echoed.
    if fields.contains_key("crit") {
        return Err(invalid(
            "the crit header names extensions this server does not understand",
        ));
    }
    serde_json::from_value(Value::Object(fields))
        .map_err(|_| invalid("the header's fields are not of their registered types"))
}

/// Checks `exp`, `iss` and `aud` for presence and type (RFC 7519 §4.1), and
/// the issuer and audience against the configured ones; answers `exp`.
/// jsonwebtoken has already checked a present `exp` to be a number in time.
fn registered_claims(
    claims: &Map<String, Value>,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<f64, TokenError> {
    let expires = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or_else(|| invalid("missing exp claim"))?;
    match (claims.get("iss"), issuer) {
        (Some(Value::String(iss)), Some(expected)) if iss != expected => {
            return Err(invalid("wrong issuer"));
        }
        (Some(Value::String(_)), _) | (None, None) => {}
        (Some(_), _) => return Err(invalid("the iss claim must be a string")),
        (None, Some(_)) => return Err(invalid("missing iss claim")),
    }
    // Without a configured audience `aud` is not read, as before.
    if let Some(expected) = audience {
        let audiences = match claims.get("aud") {
            None => return Err(invalid("missing aud claim")),
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(items)) => items
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("the aud claim must be a string or an array of strings"))?,
            Some(_) => {
                return Err(invalid(
                    "the aud claim must be a string or an array of strings",
                ));
            }
        };
        if !audiences.contains(&expected) {
            return Err(invalid("wrong audience"));
        }
    }
    Ok(expires)
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

    fn header_of(header: Value) -> Result<Header, TokenError> {
        let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        read_header(&format!("{encoded}.e30.c2ln"))
    }

    fn refusal(message: &str) -> TokenError {
        TokenError::Invalid(message.into())
    }

    #[test]
    fn a_header_names_its_fault() {
        for alg in ["none", "None", "NONE"] {
            assert_eq!(
                header_of(serde_json::json!({ "alg": alg })).unwrap_err(),
                refusal("unsigned tokens (alg none) are not accepted")
            );
        }
        let cases = [
            (
                serde_json::json!({ "typ": "JWT" }),
                "the header names no algorithm (alg)",
            ),
            (
                serde_json::json!({ "alg": 256 }),
                "the alg header must be a string",
            ),
            (
                serde_json::json!({ "alg": "HS257" }),
                "algorithm not accepted",
            ),
            (
                serde_json::json!(["HS256"]),
                "the header is not a JSON object",
            ),
            (
                serde_json::json!({ "alg": "HS256", "kid": 7 }),
                "the header's fields are not of their registered types",
            ),
        ];
        for (header, message) in cases {
            assert_eq!(
                header_of(header.clone()).unwrap_err(),
                refusal(message),
                "{header}"
            );
        }
        assert_eq!(
            read_header("two.parts").unwrap_err(),
            refusal("malformed: a signed JWT has three parts")
        );
        assert_eq!(
            read_header("a!.b.c").unwrap_err(),
            refusal("malformed: the header is not base64url")
        );
        let header = header_of(serde_json::json!({ "alg": "HS256", "kid": "k1" })).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::HS256, Some("k1"))
        );
    }

    #[test]
    fn any_crit_header_is_refused_as_not_understood() {
        for crit in [
            serde_json::json!(["exp"]),
            serde_json::json!(["b64"]),
            serde_json::json!([]),
            serde_json::json!("x"),
        ] {
            assert_eq!(
                header_of(serde_json::json!({ "alg": "HS256", "crit": crit, "b64": false }))
                    .unwrap_err(),
                refusal("the crit header names extensions this server does not understand")
            );
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn issuer_and_audience_must_be_present_of_their_type_and_ours() {
        let check = |value: Value| registered_claims(&claims(value), Some("idp"), Some("api"));
        assert_eq!(
            check(serde_json::json!({ "exp": 9, "iss": "idp", "aud": ["other", "api"] })),
            Ok(9.0)
        );
        let cases = [
            (
                serde_json::json!({ "iss": "idp", "aud": "api" }),
                "missing exp claim",
            ),
            (
                serde_json::json!({ "exp": 9, "aud": "api" }),
                "missing iss claim",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": 42, "aud": "api" }),
                "the iss claim must be a string",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": ["idp"], "aud": "api" }),
                "the iss claim must be a string",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": null, "aud": "api" }),
                "the iss claim must be a string",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": "evil", "aud": "api" }),
                "wrong issuer",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": "idp" }),
                "missing aud claim",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": "idp", "aud": 7 }),
                "the aud claim must be a string or an array of strings",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": "idp", "aud": ["api", 7] }),
                "the aud claim must be a string or an array of strings",
            ),
            (
                serde_json::json!({ "exp": 9, "iss": "idp", "aud": ["other"] }),
                "wrong audience",
            ),
        ];
        for (value, message) in cases {
            assert_eq!(check(value.clone()), Err(refusal(message)), "{value}");
        }
    }

    #[test]
    fn without_a_configured_issuer_a_present_iss_must_still_be_a_string() {
        let open = |value: Value| registered_claims(&claims(value), None, None);
        assert_eq!(open(serde_json::json!({ "exp": 9 })), Ok(9.0));
        assert_eq!(
            open(serde_json::json!({ "exp": 9, "iss": "any", "aud": 7 })),
            Ok(9.0)
        );
        assert_eq!(
            open(serde_json::json!({ "exp": 9, "iss": 42 })),
            Err(refusal("the iss claim must be a string"))
        );
    }
}
