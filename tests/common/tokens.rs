//! Tokens as the suite's identity provider signs them (HS256 with the
//! secret every test server is given), for each role of the workspace.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-of-the-update-mode-suite-0123456789";
pub const ISSUER: &str = "https://idp.example.test";
pub const AUDIENCE: &str = "update-mode";
pub const WORKSPACE: &str = "acme";

/// The claims of a valid token for `subject` in `workspace`; tests alter them.
pub fn claims(workspace: &str, roles: &[&str]) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({
        "sub": format!("{}-user", roles.first().map_or("no-role", |r| r).to_lowercase()),
        "workspace_id": workspace,
        "roles": roles,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
    })
}

pub fn sign(claims: &Value) -> String {
    sign_with(Algorithm::HS256, SECRET.as_bytes(), claims)
}

pub fn sign_with(algorithm: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign token")
}

pub fn token(workspace: &str, roles: &[&str]) -> String {
    sign(&claims(workspace, roles))
}

pub fn admin() -> String {
    token(WORKSPACE, &["WORKSPACE_ADMIN"])
}

pub fn developer() -> String {
    token(WORKSPACE, &["DEVELOPER"])
}

pub fn viewer() -> String {
    token(WORKSPACE, &["VIEWER"])
}

pub fn approver() -> String {
    token(WORKSPACE, &["RELEASE_APPROVER"])
}
