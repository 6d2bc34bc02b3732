//! HTTP: the axum router, bearer authentication, and the endpoints
//! `/graphql`, `/graphiql`, `/healthz` and `/readyz`.

mod auth;
mod graphiql;
mod graphql;
mod health;
mod launch;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::auth::{TokenIssuer, TokenVerifier};
use crate::db::Database;
use crate::graphql::ApiSchema;
use crate::launch::{LaunchLimiter, LaunchPolicies};

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
}

/// How long devices and proxies may reuse a launch answer.
#[derive(Debug, Clone, Copy)]
pub struct LaunchCaching {
    pub max_age_seconds: u32,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::execute).post(graphql::execute))
        .route("/graphiql", get(graphiql::page))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/v1/launch/{mini_program_id}", get(launch::launch))
        .with_state(state)
}

/// A GraphQL-shaped error body for requests refused before execution, so
/// that clients read every error the same way.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}
