//! The `persistedQuery` request extension of automatic persisted queries,
//! the protocol Apollo clients speak: `{ "version": 1, "sha256Hash": "…" }`.

use async_graphql::Value;

/// The hash a request names, if it names one; why the extension is not
/// understood otherwise.
pub fn persisted_query_hash(
    request: &async_graphql::Request,
) -> Result<Option<String>, &'static str> {
    request
        .extensions
        .get("persistedQuery")
        .map(requested_hash)
        .transpose()
}

fn requested_hash(extension: &Value) -> Result<String, &'static str> {
    let Value::Object(fields) = extension else {
        return Err("persistedQuery must be an object");
    };
    match fields.get("version") {
        Some(Value::Number(version)) if version.as_u64() == Some(1) => {}
        _ => {
            return Err("only persistedQuery version 1 is supported");
        }
    }
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()) =>
        {
            Ok(hash.to_ascii_lowercase())
        }
        _ => Err("persistedQuery.sha256Hash must be 64 hexadecimal digits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_version_1_with_a_sha256_is_understood() {
        let extension = |value: serde_json::Value| Value::from_json(value).unwrap();
        let hash = "A".repeat(64);
        assert_eq!(
            requested_hash(&extension(
                serde_json::json!({ "version": 1, "sha256Hash": hash })
            ))
            .unwrap(),
            "a".repeat(64)
        );
        for bad in [
            serde_json::json!({ "version": 2, "sha256Hash": hash }),
            serde_json::json!({ "version": 1, "sha256Hash": "abc" }),
            serde_json::json!({ "version": 1 }),
            serde_json::json!("v1"),
        ] {
            assert!(requested_hash(&extension(bad.clone())).is_err(), "{bad}");
        }
    }
}
