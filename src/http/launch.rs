//! `GET /v1/launch/{miniProgramId}`: what a super app does at a cold start,
//! answered from memory, with a strong ETag for conditional requests and,
//! when a key is configured, a signature; `GET /v1/launch/keys` publishes
//! the keys that verify it.

use std::sync::Arc;

use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AppState, LaunchCaching, etag};
use crate::check_ins::CheckIns;
use crate::domain::{LaunchDecision, LaunchRequest};
use crate::error::ApiError;
use crate::launch::{LaunchLimiter, LaunchPolicies, LaunchRefusal, LaunchSigner};

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
    /// When the answer was signed: a device refuses one older than an
    /// answer it has seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_at: Option<String>,
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
            issued_at: None,
        }
    }
}

/// What the launch endpoint answers with, taken from the server's state.
pub struct LaunchEndpoint {
    policies: Arc<LaunchPolicies>,
    caching: LaunchCaching,
    limiter: Arc<LaunchLimiter>,
    signer: Option<Arc<LaunchSigner>>,
    check_ins: Arc<CheckIns>,
}

impl FromRef<AppState> for LaunchEndpoint {
    fn from_ref(state: &AppState) -> Self {
        Self {
            policies: state.launch.clone(),
            caching: state.launch_caching,
            limiter: state.launch_limiter.clone(),
            signer: state.launch_signer.clone(),
            check_ins: state.check_ins.clone(),
        }
    }
}

pub async fn launch(
    State(endpoint): State<LaunchEndpoint>,
    Path(mini_program_id): Path<String>,
    parameters: Result<Query<LaunchParameters>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let LaunchEndpoint {
        policies: launch,
        caching,
        limiter,
        signer,
        check_ins,
    } = endpoint;
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
    let decision = match launch.answer(&workspace, &mini_program_id, &request).await {
        Ok(decision) => decision,
        Err(refusal) => return refused(refusal),
    };
    // An answer given, fresh or not modified, is a check-in.
    check_ins.count(&mini_program_id, &request, &decision);
    let mut answer = LaunchAnswer::new(&mini_program_id, &decision);
    let Ok(body) = serde_json::to_vec(&answer) else {
        return internal_error();
    };
    // The tag is of the policy the answer states, not of when it was issued:
    // an unchanged answer stays fresh.
    let etag = etag::from_sha256(&Sha256::digest(&body));
    let cache_control = format!("private, max-age={}", caching.max_age.as_secs());
    let mut response = if etag::is_fresh(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if let Some(signer) = signer {
        let now = chrono::Utc::now();
        answer.issued_at = Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let Ok(body) = serde_json::to_vec(&answer) else {
            return internal_error();
        };
        let signature = signer.sign(&body, now.timestamp());
        let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let Ok(signature) = HeaderValue::from_str(&signature) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-launch-signature"), signature);
        }
        response
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

fn internal_error() -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "internal server error",
    )
    .into_launch_response()
}

/// The public keys that verify launch answers, as a JWKS (empty when
/// answers are not signed). Keys change only on a rotation, which a
/// device's hour-old copy survives: the previous key stays listed.
pub async fn keys(State(signer): State<Option<Arc<LaunchSigner>>>) -> Response {
    let jwks = signer.map_or_else(|| serde_json::json!({ "keys": [] }), |signer| signer.jwks());
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        jwks.to_string(),
    )
        .into_response()
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
        LaunchRefusal::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "the launch policy cannot be read right now; retry",
        ),
    }
    .into_launch_response()
}
