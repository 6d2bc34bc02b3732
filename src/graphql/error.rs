//! The one mapping from errors to GraphQL `extensions.code`.

use async_graphql::{ErrorExtensions, Response, ServerError, Value};

use super::document::Refused;

use crate::domain::RuleViolation;
use crate::service::ServiceError;

impl From<ServiceError> for async_graphql::Error {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Forbidden(reason) => coded(format!("forbidden: {reason}"), "FORBIDDEN"),
            ServiceError::NotFound(what) => coded(format!("{what} not found"), "NOT_FOUND"),
            ServiceError::Rule(violation) => rule_error(violation),
            ServiceError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                coded(
                    "the service is unavailable; try again shortly",
                    "SERVICE_UNAVAILABLE",
                )
            }
            ServiceError::Internal(source) => {
                tracing::error!(error = %source, "internal error");
                coded("internal server error", "INTERNAL_SERVER_ERROR")
            }
            ServiceError::Interrupted => coded(
                "live updates were interrupted and events may have been missed: \
                 read the current state again and subscribe again",
                "SUBSCRIPTION_INTERRUPTED",
            ),
        }
    }
}

fn coded(message: impl Into<String>, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

fn rule_error(violation: RuleViolation) -> async_graphql::Error {
    let message = violation.to_string();
    match violation {
        RuleViolation::InvalidInput { field, .. } => {
            coded(message, "BAD_USER_INPUT").extend_with(|_, e| e.set("field", field))
        }
        RuleViolation::VersionNotGreater { latest, .. } => coded(message, "BAD_USER_INPUT")
            .extend_with(|_, e| {
                e.set("field", "version");
                e.set("latestVersion", latest.to_string());
            }),
        RuleViolation::NameTaken { .. } => {
            coded(message, "CONFLICT").extend_with(|_, e| e.set("field", "name"))
        }
        RuleViolation::UpdateModeLocked(locks) => {
            let locks: Vec<Value> = locks
                .iter()
                .map(|lock| Value::from(lock.as_str()))
                .collect();
            coded(message, "UPDATE_MODE_LOCKED")
                .extend_with(move |_, e| e.set("locks", locks.clone()))
        }
        RuleViolation::StaleRevision { current, .. } => {
            coded(message, "CONFLICT").extend_with(move |_, e| e.set("currentRevision", current))
        }
        RuleViolation::AnotherVersionPending { version } => coded(message, "CONFLICT")
            .extend_with(move |_, e| e.set("pendingVersion", version.to_string())),
        RuleViolation::NewerVersionReleased { version } => coded(message, "CONFLICT")
            .extend_with(move |_, e| e.set("releasedVersion", version.to_string())),
        RuleViolation::Vetoed { hook, .. } => {
            coded(message, "HOOK_REJECTED").extend_with(move |_, e| e.set("hook", hook.clone()))
        }
        RuleViolation::InvalidTransition { status, .. } => coded(message, "INVALID_TRANSITION")
            .extend_with(move |_, e| e.set("status", status.as_str())),
    }
}

/// Gives the errors that async-graphql raises itself a code too, so that
/// every error a client sees carries one.
/// Gives an error `code` unless it has one.
pub(super) fn with_code(mut error: ServerError, code: &'static str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// Codes the errors the executor left without one. The document passed
/// `document::check` before it ran, so an error without a code and without a
/// path failed validation (a rule of the schema, a limit, a variable that
/// does not coerce); one with a path is an argument the schema could not
/// coerce (resolvers always set a code).
pub fn code_errors(response: &mut Response) {
    response.errors = std::mem::take(&mut response.errors)
        .into_iter()
        .map(|error| {
            let code = if error.path.is_empty() {
                "GRAPHQL_VALIDATION_FAILED"
            } else {
                "BAD_USER_INPUT"
            };
            with_code(error, code)
        })
        .collect();
}

/// An answer with one error, coded.
pub fn error_answer(code: &'static str, message: impl Into<String>) -> Response {
    Response::from_errors(vec![with_code(ServerError::new(message, None), code)])
}

/// The answer to a document refused before it ran.
pub fn refused(refused: Refused) -> Response {
    let error = match refused {
        Refused::Parse(error) => with_code(error, "GRAPHQL_PARSE_FAILED"),
        Refused::Validation(error) => with_code(error, "GRAPHQL_VALIDATION_FAILED"),
        Refused::Request(error) => with_code(error, "BAD_REQUEST"),
    };
    Response::from_errors(vec![error])
}
