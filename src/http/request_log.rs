//! One span per request: a request id (the caller's `x-request-id`, or a new
//! one, returned either way), the method and path, and once known the
//! principal, the GraphQL operation, the outcome and the duration. Tokens,
//! secrets and variables are never recorded. The same layer bounds the
//! request body, so that every request passes one layer rather than two.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::metrics::{Metrics, RequestOutcome};

const REQUEST_ID: &str = "x-request-id";

/// Generated ids are this process's random prefix and a counter: unique
/// across processes, and cheaper than a random id per request.
static PROCESS: LazyLock<String> =
    LazyLock::new(|| uuid::Uuid::now_v7().simple().to_string()[20..].to_owned());
static NEXT: AtomicU64 = AtomicU64::new(1);

fn new_request_id() -> String {
    format!("{}-{}", *PROCESS, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The request's id, as this layer read or made it.
pub struct RequestIdHeader(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestIdHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let id = parts
            .headers
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        Ok(RequestIdHeader(id.to_owned()))
    }
}

/// Logs the request and cuts its body off at `body_limit` bytes while it is
/// read (`JsonBody` refuses declared lengths over it before reading at all).
pub async fn log_request(
    body_limit: usize,
    metrics: Arc<Metrics>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        subject = tracing::field::Empty,
        workspace = tracing::field::Empty,
        operation = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(
        parts,
        Body::new(http_body_util::Limited::new(body, body_limit)),
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    metrics.observe(
        &route,
        response.extensions().get::<RequestOutcome>(),
        status,
        elapsed,
    );
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "answered"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
