use std::time::Duration;

use async_graphql::ParseRequestError;
use async_graphql::parser::types::OperationType;
use async_graphql_axum::GraphQLRequest;

use axum::extract::{FromRef, FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::Authenticated;
use super::media_type::MediaType;
use super::metrics::RequestOutcome;
use super::request_log::RequestIdHeader;
use crate::domain::Principal;
use crate::error::ApiError;
use crate::graphql::nesting::{MAX_NESTING, nests_deeper_than};
use crate::graphql::{DocumentLimits, RequestId, SchemaDescriptions};
use crate::service::persisted_queries::{PersistedQueries, PersistedQueryError};
use crate::service::rate_limit;

/// Mutations per principal per minute; 0 means no limit.
#[derive(Debug, Clone, Copy)]
pub struct MutationLimit(pub u32);

/// How long one request may run.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeout(pub Duration);

/// `POST /graphql`, and `GET /graphql` for queries.
#[expect(
    clippy::too_many_arguments,
    reason = "axum extractors, one per part of the request"
)]
pub async fn execute(
    State(state): State<AppState>,
    method: Method,
    media_type: MediaType,
    _: JsonBody,
    Authenticated(principal): Authenticated,
    request_id: RequestIdHeader,
    RawQuery(query_string): RawQuery,
    request: GraphQLRequest<BadRequest>,
) -> Response {
    let mut request = request.into_inner();
    if method == Method::GET && request.operation_name.is_none() {
        request.operation_name = operation_name_of(query_string.as_deref());
    }
    let span = tracing::Span::current();
    span.record("subject", principal.subject.as_str());
    span.record("workspace", principal.workspace_id.as_str());
    // Named before the checks, so that the log names refused operations too.
    let operation_name = request.operation_name.clone();
    if let Some(operation) = &operation_name {
        span.record("operation", operation.as_str());
    }
    let RequestTimeout(timeout) = state.request_timeout;
    // One deadline from here on, parsing and validation included.
    let deadline = tokio::time::Instant::now() + timeout;
    let prepared = tokio::time::timeout_at(
        deadline,
        prepare(
            &state.persisted_queries,
            &state.document_limits,
            &mut request,
            &principal,
        ),
    );
    let prepared = match prepared.await {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(refusal)) => return refusal.render(media_type),
        Err(_) => return timed_out(timeout),
    };
    if let Err(refused) = admit(&state, &method, &principal, prepared.operation, media_type).await {
        return refused;
    }
    // A request stopped here drops its transaction uncommitted.
    let request = request.data(principal).data(RequestId(request_id.0));
    match tokio::time::timeout_at(deadline, state.schema.execute(request)).await {
        Ok(mut response) => {
            prepared.schema_descriptions.fill(&mut response);
            answered(response, operation_name, media_type)
        }
        Err(_) => timed_out(timeout),
    }
}

/// What an operation of a kind must pass over HTTP: subscriptions go over
/// WebSocket, mutations only over POST and within the principal's rate.
async fn admit(
    state: &AppState,
    method: &Method,
    principal: &Principal,
    operation: OperationType,
    media_type: MediaType,
) -> Result<(), Response> {
    match operation {
        OperationType::Query => Ok(()),
        OperationType::Subscription => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "subscriptions are served over WebSocket (graphql-transport-ws) on /graphql",
        )
        .into_response()),
        // A GET request can be triggered by a link or an image: it may only read.
        OperationType::Mutation if method == Method::GET => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        )
        .with_header(header::ALLOW, HeaderValue::from_static("POST"))
        .into_response()),
        OperationType::Mutation => {
            let MutationLimit(limit) = state.mutation_limit;
            if limit == 0 {
                return Ok(());
            }
            match rate_limit::admit_mutation(&state.services, principal, limit).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(retry_after)) => Err(rate_limited(limit, retry_after)),
                Err(error) => Err(media_type.render(ApiError::from(error).into_answer())),
            }
        }
    }
}

/// The executor's answer, coded, with its outcome for the log and metrics.
fn answered(
    mut response: async_graphql::Response,
    operation: Option<String>,
    media_type: MediaType,
) -> Response {
    crate::graphql::code_errors(&mut response);
    let outcome = response
        .errors
        .first()
        .and_then(|error| error.extensions.as_ref())
        .and_then(|extensions| extensions.get("code"))
        .map_or_else(
            || "ok".to_owned(),
            |code| code.to_string().trim_matches('"').to_owned(),
        );
    tracing::Span::current().record("outcome", outcome.as_str());
    let mut answer = media_type.render(response);
    answer.extensions_mut().insert(RequestOutcome {
        operation: operation.unwrap_or_default(),
        outcome,
    });
    answer
}

/// The `operationName` parameter of a GET request, which GraphQL over HTTP
/// names in camel case as a POST body does, while async-graphql's GET
/// reader takes only `operation_name`.
fn operation_name_of(query_string: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query_string?.as_bytes())
        .find(|(name, _)| name == "operationName")
        .map(|(_, value)| value.into_owned())
        .filter(|name| !name.is_empty())
}

fn timed_out(timeout: Duration) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "TIMEOUT",
        format!("the request was stopped after {} ms", timeout.as_millis()),
    )
    .into_response()
}

/// Why a request is refused before it runs.
pub(super) enum Refusal {
    /// An HTTP status with one coded error (with 200: an answer, as below).
    Error(ApiError),
    /// An answer as the executor gives it, in the media type asked for.
    Answer(Box<async_graphql::Response>),
}

impl Refusal {
    fn status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal::Error(ApiError::new(status, code, message))
    }

    /// The refusal as a GraphQL answer, for transports without statuses.
    pub(super) fn into_answer(self) -> async_graphql::Response {
        match self {
            Refusal::Error(error) => error.into_answer(),
            Refusal::Answer(answer) => *answer,
        }
    }

    /// The refusal as an HTTP answer: its status, or a GraphQL answer in
    /// the media type asked for.
    fn render(self, media_type: MediaType) -> Response {
        match self {
            Refusal::Error(error) if error.status == StatusCode::OK => {
                media_type.render(error.into_answer())
            }
            Refusal::Error(error) => error.into_response(),
            Refusal::Answer(answer) => media_type.render(*answer),
        }
    }
}

/// A document that passed the checks, as the request now carries it.
pub(super) struct Prepared {
    pub operation: OperationType,
    pub schema_descriptions: SchemaDescriptions,
}

/// The checks that every document passes before it runs, over HTTP and
/// over WebSocket alike: nesting, persisted queries and the allow-list, and
/// the document's limits. On success the request carries the parsed
/// document.
pub(super) async fn prepare(
    persisted_queries: &PersistedQueries,
    limits: &DocumentLimits,
    request: &mut async_graphql::Request,
    principal: &Principal,
) -> Result<Prepared, Refusal> {
    // Before anything parses it: registering a persisted query does.
    too_deep(&request.query)?;
    let hash = crate::graphql::persisted_query_hash(request).map_err(|reason| {
        Refusal::status(
            StatusCode::BAD_REQUEST,
            "PERSISTED_QUERY_NOT_SUPPORTED",
            reason,
        )
    })?;
    let sent_as_hash = request.query.is_empty();
    if sent_as_hash && hash.is_none() {
        return Err(Refusal::status(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "no query: send the document in `query` (or a persisted query's hash)",
        ));
    }
    persisted_queries
        .resolve(&mut request.query, hash, principal)
        .await
        .map_err(persisted_query_refused)?;
    if sent_as_hash {
        too_deep(&request.query)?;
    }
    let checked = crate::graphql::check(&request.query, request.operation_name.as_deref(), limits)
        .map_err(|refused| Refusal::Answer(Box::new(crate::graphql::refused(refused))))?;
    request.set_parsed_query(checked.document);
    Ok(Prepared {
        operation: checked.operation,
        schema_descriptions: checked.schema_descriptions,
    })
}

/// Refuses a document nesting deeper than the parser can safely recurse.
fn too_deep(query: &str) -> Result<(), Refusal> {
    if nests_deeper_than(query, MAX_NESTING) {
        Err(Refusal::status(
            StatusCode::OK,
            "GRAPHQL_PARSE_FAILED",
            format!("the document nests deeper than {MAX_NESTING} levels"),
        ))
    } else {
        Ok(())
    }
}

fn persisted_query_refused(error: PersistedQueryError) -> Refusal {
    match error {
        // Apollo clients read this message and send the document with its hash.
        PersistedQueryError::NotFound => Refusal::status(
            StatusCode::OK,
            "PERSISTED_QUERY_NOT_FOUND",
            "PersistedQueryNotFound",
        ),
        PersistedQueryError::HashMismatch => Refusal::status(
            StatusCode::BAD_REQUEST,
            "PERSISTED_QUERY_HASH_MISMATCH",
            "the document's SHA-256 is not persistedQuery.sha256Hash",
        ),
        PersistedQueryError::NotAllowed => Refusal::status(
            StatusCode::FORBIDDEN,
            "OPERATION_NOT_ALLOWED",
            "this token may only run the operations of the allow-list",
        ),
        PersistedQueryError::Storage(error) => {
            Refusal::Answer(Box::new(ApiError::from(error).into_answer()))
        }
    }
}

fn rate_limited(limit: u32, retry_after: u64) -> Response {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        format!("more than {limit} mutations in a minute; retry in {retry_after} s"),
    )
    .with("retryAfterSeconds", retry_after)
    .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after))
    .into_response()
}

/// Refuses POST bodies that are not JSON, before anything else is read: a
/// browser cannot send JSON cross-site without a CORS preflight, so form and
/// text posts (the CSRF vectors) never reach the schema. Also refuses bodies
/// declared larger than the limit.
pub struct JsonBody;

/// The body size limit, as the handlers see it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<S> FromRequestParts<S> for JsonBody
where
    S: Send + Sync,
    BodyLimit: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.method != Method::POST {
            return Ok(JsonBody);
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media_type != "application/json" && !media_type.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the request as application/json",
            )
            .into_response());
        }
        let BodyLimit(limit) = BodyLimit::from_ref(state);
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(too_large(limit));
        }
        Ok(JsonBody)
    }
}

fn too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        format!("the request body is larger than {limit} bytes"),
    )
    .into_response()
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
        // A body without a declared length that grows past the limit is cut
        // off while it is read.
        if let ParseRequestError::Io(error) = &self.0
            && error.to_string().contains("length limit exceeded")
        {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large",
            )
            .into_response();
        }
        let message = match self.0 {
            ParseRequestError::UnsupportedBatch => "batched requests are not supported".to_owned(),
            ParseRequestError::PayloadTooLarge => "the request is too large".to_owned(),
            other => format!("not a GraphQL request: {other}"),
        };
        ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message).into_response()
    }
}
