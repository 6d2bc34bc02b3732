//! The one mapping from errors to GraphQL `extensions.code`.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensions, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};

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
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

/// Gives an error `code` unless it has one.
pub(super) fn with_code(mut error: ServerError, code: &'static str) -> ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables)
            .await
            .map_err(|error| with_code(error, "GRAPHQL_PARSE_FAILED"))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| with_code(error, "GRAPHQL_VALIDATION_FAILED"))
                .collect()
        })
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|error| {
                // Resolvers always set a code; a field error without one is an
                // argument the schema could not coerce.
                let code = if error.path.is_empty() {
                    "BAD_REQUEST"
                } else {
                    "BAD_USER_INPUT"
                };
                with_code(error, code)
            })
            .collect();
        response
    }
}
