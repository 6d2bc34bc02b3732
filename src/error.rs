//! The one error a caller of the API sees: a code, an HTTP status, a message
//! safe to show, and extensions. Built once, wherever a request is refused,
//! and rendered in the shape of the answer it goes into: a GraphQL error, an
//! HTTP refusal (`{"errors": [...]}`), or a launch answer
//! (`{"error": {...}}`, the shape super-app SDKs read).

use async_graphql::{ErrorExtensions, ServerError, Value};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::RuleViolation;
use crate::service::ServiceError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Besides `code`, in the order they are set.
    extensions: Vec<(&'static str, Value)>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extensions: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// An error inside a GraphQL answer, which is sent with HTTP 200.
    pub fn in_answer(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::OK, code, message)
    }

    pub fn with(mut self, name: &'static str, value: impl Into<Value>) -> Self {
        self.extensions.push((name, value.into()));
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The error as resolvers return it.
    pub fn into_graphql(self) -> async_graphql::Error {
        let ApiError {
            code,
            message,
            extensions,
            ..
        } = self;
        async_graphql::Error::new(message).extend_with(move |_, e| {
            e.set("code", code);
            for (name, value) in &extensions {
                e.set(*name, value.clone());
            }
        })
    }

    pub fn into_server_error(self) -> ServerError {
        self.into_graphql().into_server_error(Default::default())
    }

    /// A GraphQL answer holding only this error.
    pub fn into_answer(self) -> async_graphql::Response {
        async_graphql::Response::from_errors(vec![self.into_server_error()])
    }

    /// The error as a launch answer gives it.
    pub fn into_launch_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}

/// An HTTP refusal: the status, and a GraphQL-shaped body so that clients
/// read every error the same way.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut extensions = serde_json::Map::new();
        extensions.insert("code".into(), self.code.into());
        for (name, value) in self.extensions {
            extensions.insert(
                name.into(),
                value.into_json().unwrap_or(serde_json::Value::Null),
            );
        }
        let body = json!({ "errors": [{ "message": self.message, "extensions": extensions }] });
        let mut response = (self.status, axum::Json(body)).into_response();
        response.headers_mut().extend(self.headers);
        response
    }
}

/// The one mapping from what a use case refuses to what the caller sees.
impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Forbidden(reason) => {
                Self::in_answer("FORBIDDEN", format!("forbidden: {reason}"))
            }
            ServiceError::NotFound(what) => {
                Self::in_answer("NOT_FOUND", format!("{what} not found"))
            }
            ServiceError::Rule(violation) => violation.into(),
            ServiceError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Self::in_answer(
                    "SERVICE_UNAVAILABLE",
                    "the service is unavailable; try again shortly",
                )
            }
            ServiceError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                Self::in_answer("INTERNAL_SERVER_ERROR", "internal server error")
            }
            ServiceError::Interrupted => Self::in_answer(
                "SUBSCRIPTION_INTERRUPTED",
                "live updates were interrupted and events may have been missed: \
                 read the current state again and subscribe again",
            ),
        }
    }
}

impl From<RuleViolation> for ApiError {
    fn from(violation: RuleViolation) -> Self {
        let message = violation.to_string();
        match violation {
            RuleViolation::InvalidInput { field, .. } => {
                Self::in_answer("BAD_USER_INPUT", message).with("field", field)
            }
            RuleViolation::VersionNotGreater { latest, .. } => {
                Self::in_answer("BAD_USER_INPUT", message)
                    .with("field", "version")
                    .with("latestVersion", latest.to_string())
            }
            RuleViolation::NameTaken { .. } => {
                Self::in_answer("CONFLICT", message).with("field", "name")
            }
            RuleViolation::UpdateModeLocked(locks) => {
                let locks: Vec<Value> = locks
                    .iter()
                    .map(|lock| Value::from(lock.as_str()))
                    .collect();
                Self::in_answer("UPDATE_MODE_LOCKED", message).with("locks", locks)
            }
            RuleViolation::StaleRevision { current, .. } => {
                Self::in_answer("CONFLICT", message).with("currentRevision", current)
            }
            RuleViolation::AnotherVersionPending { version } => {
                Self::in_answer("CONFLICT", message).with("pendingVersion", version.to_string())
            }
            RuleViolation::NewerVersionReleased { version } => {
                Self::in_answer("CONFLICT", message).with("releasedVersion", version.to_string())
            }
            RuleViolation::Vetoed { hook, .. } => {
                Self::in_answer("HOOK_REJECTED", message).with("hook", hook)
            }
            RuleViolation::InvalidTransition { status, .. } => {
                Self::in_answer("INVALID_TRANSITION", message).with("status", status.as_str())
            }
            RuleViolation::RolloutInForce { status } => {
                Self::in_answer("CONFLICT", message).with("rolloutStatus", status.as_str())
            }
            RuleViolation::RolloutNotInStatus { status, .. } => {
                Self::in_answer("INVALID_TRANSITION", message)
                    .with("rolloutStatus", status.as_str())
            }
            RuleViolation::NothingReleased => Self::in_answer("INVALID_TRANSITION", message),
            RuleViolation::ChangedMeanwhile => Self::in_answer("CONFLICT", message),
            RuleViolation::WindowNotPending { status } => {
                Self::in_answer("INVALID_TRANSITION", message)
                    .with("scheduledChangeStatus", status.as_str())
            }
            RuleViolation::WindowOverlaps { id } => {
                Self::in_answer("CONFLICT", message).with("scheduledChangeId", id)
            }
        }
    }
}

impl From<ServiceError> for async_graphql::Error {
    fn from(error: ServiceError) -> Self {
        ApiError::from(error).into_graphql()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_has_one_shape_per_kind_of_answer() {
        let error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", "slow down")
            .with("retryAfterSeconds", 3)
            .with_header(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from_static("3"),
            );
        let answer = error.clone().into_answer();
        let answer = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            answer["errors"][0]["extensions"],
            json!({ "code": "RATE_LIMITED", "retryAfterSeconds": 3 })
        );
        assert_eq!(answer["errors"][0]["message"], "slow down");
        let response = error.clone().into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "3");
        let launch = error.into_launch_response();
        assert_eq!(launch.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(launch.headers()["retry-after"], "3");
    }
}
