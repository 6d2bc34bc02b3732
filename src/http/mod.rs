//! HTTP: the axum router, bearer authentication, and the endpoints
//! `/graphql` (with subscriptions over WebSocket), `/console`, `/graphiql`,
//! `/healthz`, `/readyz`, `/metrics` and `/v1/launch`.

mod auth;
mod connections;
mod console;
mod etag;
mod graphiql;
mod graphql;
mod health;
mod launch;
mod media_type;
mod metrics;
mod request_log;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use connections::{
    ConnectionLimits, LimitedListener, OpenConnections, PerConnection, default_max,
};
pub use graphql::{BodyLimit, MutationLimit, RequestTimeout};
pub use metrics::Metrics;
pub use subscriptions::{Connections, Stopping, SubscriptionLimits};

use crate::auth::{TokenIssuer, TokenVerifier};
use crate::check_ins::CheckIns;
use crate::db::Database;
use crate::error::ApiError;
use crate::graphql::{ApiSchema, DocumentLimits};
use crate::launch::{LaunchLimiter, LaunchPolicies, LaunchSigner};
use crate::service::Services;
use crate::service::persisted_queries::PersistedQueries;

/// What the handlers share.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub schema: ApiSchema,
    pub verifier: TokenVerifier,
    pub db: Database,
    /// In development mode, mints the token that GraphiQL opens with.
    pub dev_issuer: Option<TokenIssuer>,
    pub launch: Arc<LaunchPolicies>,
    pub launch_caching: LaunchCaching,
    pub launch_limiter: Arc<LaunchLimiter>,
    /// Signs launch answers, when a signing key is configured.
    pub launch_signer: Option<Arc<LaunchSigner>>,
    /// Counts each launch answer as a device check-in.
    pub check_ins: Arc<CheckIns>,
    pub request_timeout: RequestTimeout,
    pub body_limit: BodyLimit,
    pub services: Services,
    pub mutation_limit: MutationLimit,
    pub metrics: Arc<Metrics>,
    pub persisted_queries: Arc<PersistedQueries>,
    pub document_limits: DocumentLimits,
    pub subscription_limits: SubscriptionLimits,
    pub connections: Arc<Connections>,
    pub open_connections: Arc<OpenConnections>,
    pub stopping: Stopping,
}

/// What the router is built with besides the handlers' state.
pub struct RouterSettings {
    pub graphiql: bool,
    pub cors_allowed_origins: Vec<HeaderValue>,
}

/// How long devices and proxies may reuse a launch answer (whole seconds:
/// the setting takes no fractions).
#[derive(Debug, Clone, Copy)]
pub struct LaunchCaching {
    pub max_age: Duration,
}

pub fn router(state: AppState, settings: RouterSettings) -> Router {
    let BodyLimit(body_limit) = state.body_limit;
    let recorder = state.metrics.clone();
    let mut router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql::execute))
        .route("/console", get(console::redirect))
        .route("/console/", get(console::index))
        .route("/console/config.json", get(console::config))
        .route("/console/{*path}", get(console::file))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/launch/keys", get(launch::keys))
        .route("/v1/launch/{mini_program_id}", get(launch::launch));
    if settings.graphiql {
        router = router
            .route("/graphiql", get(graphiql::page))
            .route("/graphiql/{*path}", get(graphiql::file));
    }
    let mut router = router
        // A panic fails its request only; the process and other requests go on.
        .layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn(move |request, next| {
            request_log::log_request(body_limit, recorder.clone(), request, next)
        }))
        .with_state(state);
    if !settings.cors_allowed_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(settings.cors_allowed_origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(Duration::from_secs(600)),
        );
    }
    router
}

/// `GET /graphql`: a WebSocket for subscriptions, or a query.
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    if subscriptions::is_upgrade(&request) {
        subscriptions::upgrade(state, request).await
    } else {
        graphql::execute.call(request, state).await
    }
}

fn panicked(panic: Box<dyn std::any::Any + Send>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "a request panicked");
    tracing::Span::current().record("outcome", "INTERNAL_SERVER_ERROR");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "the request failed on the server",
    )
    .into_response()
}
