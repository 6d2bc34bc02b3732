//! Bearer tokens: verifying the JWTs that tenants' identity providers issue
//! (with a shared secret, a public key or a published key set), minting
//! tokens for development and operators, and the development secret.

mod claims;
mod dev_secret;
mod key_ring;
mod keys;
mod token;

pub use claims::{ClaimNames, parse_role_map};
pub use dev_secret::load_or_create_dev_secret;
pub use key_ring::{KeyRefresh, KeyRing, KeySource};
pub use token::{
    DEFAULT_LEEWAY, JwtSettings, MAX_TOKEN_BYTES, MIN_SECRET_BYTES, Session, TokenError,
    TokenIssuer, TokenVerifier,
};
