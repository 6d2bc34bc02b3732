//! Strong entity tags, and `If-None-Match` against them, for the answers
//! that clients revalidate: the console's files and launch answers.

use axum::http::{HeaderMap, header};

/// A strong entity tag named by a SHA-256 digest of the answer's bytes: its
/// first 16 bytes in hex, quoted (long enough that two answers never share one).
pub fn from_sha256(digest: &[u8]) -> String {
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Whether the copy the client holds, by its `If-None-Match` headers, is
/// still `etag`: `*`, or any tag listed, compared weakly as RFC 9110 says for
/// this header (a proxy that compresses an answer may weaken its tag).
pub fn is_fresh(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn asking(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::IF_NONE_MATCH, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_tag_is_the_quoted_hex_of_the_digests_first_half() {
        let digest = [0xab_u8; 32];
        let tag = from_sha256(&digest);
        assert_eq!(tag, format!("\"{}\"", "ab".repeat(16)));
    }

    #[test]
    fn any_listed_tag_star_or_a_weakened_copy_is_fresh() {
        let tag = "\"0011\"";
        assert!(is_fresh(&asking(&["\"0011\""]), tag));
        assert!(is_fresh(&asking(&["\"ffff\", \"0011\""]), tag));
        assert!(is_fresh(&asking(&["\"ffff\"", "\"0011\""]), tag));
        assert!(is_fresh(&asking(&["W/\"0011\""]), tag));
        assert!(is_fresh(&asking(&["*"]), tag));
        assert!(!is_fresh(&asking(&[]), tag));
        assert!(!is_fresh(&asking(&["\"ffff\""]), tag));
        assert!(
            !is_fresh(&asking(&["0011"]), tag),
            "an unquoted tag is another tag"
        );
    }
}
