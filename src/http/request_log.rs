//! One span per request: a request id (the caller's `x-request-id`, or a new
//! one, returned either way), the method and path, and once known the
//! principal, the GraphQL operation, the outcome and the duration. Tokens,
//! secrets and variables are never recorded. The same layer bounds the
//! request body, so that every request passes one layer rather than two.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use tracing::Instrument;

use super::metrics::{Metrics, RequestOutcome};
use crate::sync::lock;

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
    // A body known to be empty (every GET, the launch endpoint's included)
    // has nothing to bound or drain, and passes as it is.
    let (body, rest) = if body.size_hint().exact() == Some(0) {
        (body, None)
    } else {
        let (capped, rest) = Capped::new(body, body_limit);
        (Body::new(capped), Some(rest))
    };
    let request = Request::from_parts(parts, body);
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Some(rest) = rest.filter(|_| response.status() == StatusCode::PAYLOAD_TOO_LARGE) {
        drain(&rest).await;
    }
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

/// How much of an over-limit body is read and dropped before the 413 is
/// sent: a client still sending when the server closes gets a reset, which
/// can discard the answer before the client reads it.
const DRAIN_BYTES: usize = 1 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A body cut off at its limit, whose unread remainder is kept to be
/// drained once the handler has answered.
struct Capped {
    body: Body,
    allowed: usize,
    rest: Arc<Mutex<Option<Body>>>,
}

impl Capped {
    fn new(body: Body, limit: usize) -> (Self, Arc<Mutex<Option<Body>>>) {
        let rest = Arc::new(Mutex::new(None));
        let capped = Capped {
            body,
            allowed: limit,
            rest: rest.clone(),
        };
        (capped, rest)
    }
}

/// What the GraphQL body reader reports, and `BadRequest` answers with 413.
#[derive(Debug)]
struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("length limit exceeded")
    }
}

impl std::error::Error for TooLarge {}

impl HttpBody for Capped {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        let size = frame.data_ref().map_or(0, Bytes::len);
        if size > this.allowed {
            let rest = std::mem::replace(&mut this.body, Body::empty());
            *lock(&this.rest) = Some(rest);
            return Poll::Ready(Some(Err(axum::Error::new(TooLarge))));
        }
        this.allowed -= size;
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Reads and drops what is left of an over-limit body, up to a bound.
async fn drain(rest: &Mutex<Option<Body>>) {
    let Some(mut body) = lock(rest).take() else {
        return;
    };
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut drained = 0;
        while drained < DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => drained += frame.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
    })
    .await;
}
