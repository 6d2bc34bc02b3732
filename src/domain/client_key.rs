//! Keys that super apps present when they ask how to launch a program.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A workspace's client key; the key itself is shown once and kept only as
/// a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// How a key is stored and looked up. Keys are 256 random bits, so a plain
/// SHA-256 cannot be reversed or guessed.
pub fn client_key_hash(key: &str) -> String {
    sha256_hex(key)
}

/// The SHA-256 of a text as lowercase hex: how client keys are stored and
/// how clients name persisted queries.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            client_key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // printf '{ __typename }' | sha256sum
        assert_eq!(
            sha256_hex("{ __typename }"),
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
    }
}
