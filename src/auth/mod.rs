//! Bearer tokens: verifying the JWTs that tenants' identity providers issue,
//! minting tokens for development and operators, and the development secret.

mod claims;
mod dev_secret;
mod token;

pub use claims::{ClaimNames, parse_role_map};
pub use dev_secret::load_or_create_dev_secret;
pub use token::{
    DEFAULT_LEEWAY_SECONDS, JwtSettings, MIN_SECRET_BYTES, TokenError, TokenIssuer, TokenVerifier,
};
