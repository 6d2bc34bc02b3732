//! `GET /v1/launch/{miniProgramId}`: what a super app does at a cold start,
//! answered from memory, with a strong ETag for conditional requests.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{LaunchCaching, etag};
use crate::domain::{LaunchDecision, LaunchRequest};
use crate::error::ApiError;
use crate::launch::{LaunchLimiter, LaunchPolicies, LaunchRefusal};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchParameters {
    device_id: Option<String>,
    cached_version: Option<String>,
    cache_age_seconds: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LaunchAnswer<'a> {
    mini_program_id: &'a str,
    target_version: Option<String>,
    update_mode: &'static str,
    action: &'static str,
    async_update_seconds: i32,
    sync_update_seconds: i32,
    gray_release: bool,
    minimum_version: Option<String>,
    policy_revision: i32,
}

impl<'a> LaunchAnswer<'a> {
    fn new(mini_program_id: &'a str, decision: &LaunchDecision) -> Self {
        Self {
            mini_program_id,
            target_version: decision.target_version.map(|version| version.to_string()),
            update_mode: decision.update_mode.as_str(),
            action: decision.action.as_str(),
            async_update_seconds: decision.timers.async_update_seconds,
            sync_update_seconds: decision.timers.sync_update_seconds,
            gray_release: decision.gray_release,
            minimum_version: decision.minimum_version.map(|version| version.to_string()),
            policy_revision: decision.policy_revision,
        }
    }
}

pub async fn launch(
    State(launch): State<Arc<LaunchPolicies>>,
    State(caching): State<LaunchCaching>,
    State(limiter): State<Arc<LaunchLimiter>>,
    Path(mini_program_id): Path<String>,
    parameters: Result<Query<LaunchParameters>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let client_key = headers
        .get("x-client-key")
        .and_then(|value| value.to_str().ok());
    let workspace = match launch.authenticate(client_key) {
        Ok(workspace) => workspace,
        Err(refusal) => return refused(refusal),
    };
    if let Err(wait) = limiter.take(client_key.unwrap_or_default()) {
        let seconds = wait.as_secs() + 1;
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("too many launch requests for this client key; retry in {seconds} s"),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
        .into_launch_response();
    }
    let Ok(Query(parameters)) = parameters else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the query string is malformed",
        )
        .into_launch_response();
    };
    let request = match LaunchRequest::parse(
        parameters.device_id.as_deref(),
        parameters.cached_version.as_deref(),
        parameters.cache_age_seconds.as_deref(),
    ) {
        Ok(request) => request,
        Err(violation) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                violation.to_string(),
            )
            .into_launch_response();
        }
    };
    let decision = match launch.answer(&workspace, &mini_program_id, &request) {
        Ok(decision) => decision,
        Err(refusal) => return refused(refusal),
    };
    let body = match serde_json::to_vec(&LaunchAnswer::new(&mini_program_id, &decision)) {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "internal server error",
            )
            .into_launch_response();
        }
    };
    let etag = etag::from_sha256(&Sha256::digest(&body));
    let cache_control = format!("private, max-age={}", caching.max_age.as_secs());
    let mut response = if etag::is_fresh(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let response_headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, etag);
    }
    if let Ok(cache_control) = HeaderValue::from_str(&cache_control) {
        response_headers.insert(header::CACHE_CONTROL, cache_control);
    }
    response
}

fn refused(refusal: LaunchRefusal) -> Response {
    match refusal {
        LaunchRefusal::UnknownKey => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "a valid x-client-key header is required",
        ),
        LaunchRefusal::NoSuchProgram => {
            ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "mini program not found")
        }
    }
    .into_launch_response()
}
