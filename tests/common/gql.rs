//! A GraphQL response as a test reads it: the data of a success, the first
//! error and its `extensions.code` of a refusal.

use serde_json::Value;

/// A GraphQL response with its HTTP status.
#[derive(Debug, Clone)]
pub struct Gql {
    pub status: u16,
    pub body: Value,
}

impl Gql {
    pub async fn read(response: reqwest::Response) -> Gql {
        let status = response.status().as_u16();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("not JSON (HTTP {status}): {text}"));
        Gql { status, body }
    }

    /// The data of a response that must have no errors.
    pub fn data(&self) -> &Value {
        assert_eq!(self.status, 200, "HTTP status of {}", self.body);
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The first error, which must exist.
    pub fn error(&self) -> &Value {
        let error = &self.body["errors"][0];
        assert!(error.is_object(), "expected an error, got {}", self.body);
        error
    }

    pub fn code(&self) -> &str {
        self.error()["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without a code: {}", self.body))
    }
}
