//! GraphQL over HTTP's two media types for an answer, picked from `Accept`.
//! `application/json` (asked for, `*/*`, no `Accept`, or nothing we serve)
//! answers every GraphQL result with 200, as clients older than the spec
//! expect. `application/graphql-response+json` answers a document that
//! never ran (it did not parse or validate, or its variables did not
//! coerce) with 400 and no `data` entry, so that the status alone tells.

use std::collections::BTreeMap;
use std::convert::Infallible;

use async_graphql::{ServerError, Value};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Json,
    GraphQLResponse,
}

impl<S: Send + Sync> FromRequestParts<S> for MediaType {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MediaType::accepted(&parts.headers))
    }
}

impl MediaType {
    /// The media type `Accept` prefers: the higher quality, and on a tie the
    /// one named first (`*/*` names both at once, and means JSON).
    pub fn accepted(headers: &HeaderMap) -> Self {
        let ranges: Vec<(usize, &str, f32)> = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .enumerate()
            .filter_map(|(position, range)| {
                let mut parts = range.split(';');
                let media_range = parts.next()?.trim();
                let quality = parts
                    .filter_map(|parameter| parameter.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                    .map_or(Some(1.0), |(_, q)| q.trim().parse::<f32>().ok())?;
                Some((position, media_range, quality))
            })
            .collect();
        let graphql_response = preference(&ranges, GRAPHQL_RESPONSE);
        let json = preference(&ranges, JSON);
        match (graphql_response, json) {
            (Some((q, at)), Some((json_q, json_at)))
                if q > 0.0 && (q > json_q || (q == json_q && at < json_at)) =>
            {
                MediaType::GraphQLResponse
            }
            (Some((q, _)), None) if q > 0.0 => MediaType::GraphQLResponse,
            _ => MediaType::Json,
        }
    }

    /// The executor's answer in this media type.
    pub fn render(self, response: async_graphql::Response) -> Response {
        let (status, body) = if self == MediaType::GraphQLResponse && never_ran(&response) {
            let errors = RequestErrors {
                errors: &response.errors,
                extensions: &response.extensions,
            };
            (StatusCode::BAD_REQUEST, serde_json::to_vec(&errors))
        } else {
            (StatusCode::OK, serde_json::to_vec(&response))
        };
        let body = match body {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "an answer did not serialize");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_SERVER_ERROR",
                    "internal server error",
                )
                .into_response();
            }
        };
        let content_type = match self {
            MediaType::Json => JSON,
            MediaType::GraphQLResponse => GRAPHQL_RESPONSE,
        };
        (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    }
}

/// The quality `Accept` gives `media_type`, by its most specific range (RFC
/// 9110 §12.5.1), and where that range stands in the header.
fn preference(ranges: &[(usize, &str, f32)], media_type: &str) -> Option<(f32, usize)> {
    let (kind, _) = media_type.split_once('/')?;
    ranges
        .iter()
        .filter_map(|&(position, range, quality)| {
            let specificity = if range.eq_ignore_ascii_case(media_type) {
                2
            } else if range
                .strip_suffix("/*")
                .is_some_and(|range_kind| range_kind.eq_ignore_ascii_case(kind))
            {
                1
            } else if range == "*/*" {
                0
            } else {
                return None;
            };
            Some((specificity, position, quality))
        })
        .max_by_key(|&(specificity, position, _)| (specificity, std::cmp::Reverse(position)))
        .map(|(_, position, quality)| (quality, position))
}

/// Whether the answer is a request error: no data, and only errors that
/// `graphql::code_errors` or the document check give a document that never
/// ran.
fn never_ran(response: &async_graphql::Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| {
            error.path.is_empty()
                && error
                    .extensions
                    .as_ref()
                    .and_then(|extensions| extensions.get("code"))
                    .is_some_and(|code| {
                        crate::graphql::REQUEST_ERROR_CODES
                            .iter()
                            .any(|request_error| *code == Value::from(*request_error))
                    })
        })
}

/// A request error's answer: `errors` and no `data` entry.
#[derive(Serialize)]
struct RequestErrors<'a> {
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(accept: Option<&str>) -> MediaType {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        MediaType::accepted(&headers)
    }

    #[test]
    fn json_unless_the_graphql_response_type_is_preferred() {
        use MediaType::{GraphQLResponse, Json};
        for (accept, expected) in [
            (None, Json),
            (Some("*/*"), Json),
            (Some("application/json"), Json),
            (Some("text/html"), Json),
            (Some("application/*"), Json),
            (Some(GRAPHQL_RESPONSE), GraphQLResponse),
            (
                Some("Application/GraphQL-Response+JSON; charset=utf-8"),
                GraphQLResponse,
            ),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                GraphQLResponse,
            ),
            (
                Some("application/graphql-response+json, application/json"),
                GraphQLResponse,
            ),
            (
                Some("application/json, application/graphql-response+json"),
                Json,
            ),
            (
                Some("application/json;q=0.5, application/graphql-response+json"),
                GraphQLResponse,
            ),
            (Some("application/graphql-response+json;q=0, */*"), Json),
            (
                Some("text/html, application/graphql-response+json;q=0.9, */*;q=0.8"),
                GraphQLResponse,
            ),
        ] {
            assert_eq!(accepted(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn only_a_request_error_loses_its_data_entry() {
        let refused = async_graphql::Response::from_errors(vec![
            ApiError::in_answer("GRAPHQL_VALIDATION_FAILED", "no such field").into_server_error(),
        ]);
        let response = MediaType::GraphQLResponse.render(refused);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], GRAPHQL_RESPONSE);
        let failed = async_graphql::Response::from_errors(vec![
            ApiError::in_answer("SERVICE_UNAVAILABLE", "try again").into_server_error(),
        ]);
        assert_eq!(
            MediaType::GraphQLResponse.render(failed).status(),
            StatusCode::OK
        );
        let refused = async_graphql::Response::from_errors(vec![
            ApiError::in_answer("GRAPHQL_PARSE_FAILED", "unexpected end").into_server_error(),
        ]);
        let response = MediaType::Json.render(refused);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], JSON);
    }
}
