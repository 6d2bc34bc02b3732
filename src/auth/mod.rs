//! Bearer tokens: verifying the JWTs that tenants' identity providers issue,
//! minting tokens for development and operators, and the development secret.

mod dev_secret;
mod token;

pub use dev_secret::load_or_create_dev_secret;
pub use token::{JwtSettings, MIN_SECRET_BYTES, TokenError, TokenIssuer, TokenVerifier};
