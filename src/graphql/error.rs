//! Codes for the errors async-graphql raises itself, and the answers to
//! documents refused before they ran. What the services refuse is mapped
//! once, in `crate::error::ApiError`.

use async_graphql::{Response, ServerError};

use super::document::Refused;

/// The codes of a document that never ran: it did not parse, did not
/// validate (variables that do not coerce included), or named no operation
/// it holds.
pub const REQUEST_ERROR_CODES: [&str; 3] = [
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_REQUEST",
];

/// Gives an error `code` unless it has one, so that every error a client
/// sees carries one.
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

/// The answer to a document refused before it ran.
pub fn refused(refused: Refused) -> Response {
    let error = match refused {
        Refused::Parse(error) => with_code(error, "GRAPHQL_PARSE_FAILED"),
        Refused::Validation(error) => with_code(error, "GRAPHQL_VALIDATION_FAILED"),
        Refused::Request(error) => with_code(error, "BAD_REQUEST"),
    };
    Response::from_errors(vec![error])
}
