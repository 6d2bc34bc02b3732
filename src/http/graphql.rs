use async_graphql::ParseRequestError;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Authenticated;
use super::error_response;
use crate::graphql::ApiSchema;

/// `POST /graphql`, and `GET /graphql` for queries.
pub async fn execute(
    State(schema): State<ApiSchema>,
    method: Method,
    Authenticated(principal): Authenticated,
    request: GraphQLRequest<BadRequest>,
) -> Response {
    // A GET request can be triggered by a link or an image: it may only read.
    let request = request.into_inner();
    if method == Method::GET && is_mutation(&request) {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    GraphQLResponse::from(schema.execute(request.data(principal)).await).into_response()
}

/// Whether the operation the request would run is a mutation. A document that
/// does not parse is left to the executor, which reports it.
fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(operation), _) => operation.node.ty == OperationType::Mutation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get(name)
            .is_some_and(|operation| operation.node.ty == OperationType::Mutation),
        (DocumentOperations::Multiple(operations), None) => operations
            .values()
            .any(|operation| operation.node.ty == OperationType::Mutation),
    }
}

/// A body that is not a GraphQL request at all.
pub struct BadRequest(ParseRequestError);

impl From<ParseRequestError> for BadRequest {
    fn from(error: ParseRequestError) -> Self {
        BadRequest(error)
    }
}

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        let message = match self.0 {
            ParseRequestError::UnsupportedBatch => "batched requests are not supported".to_owned(),
            ParseRequestError::PayloadTooLarge => "the request is too large".to_owned(),
            other => format!("not a GraphQL request: {other}"),
        };
        error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message)
    }
}
