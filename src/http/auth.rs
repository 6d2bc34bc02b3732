use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{TokenError, TokenVerifier};
use crate::domain::Principal;
use crate::error::ApiError;

/// The principal of the request's bearer token; requests without a valid one
/// are answered 401 before anything else is read.
pub struct Authenticated(pub Principal);

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    TokenVerifier: FromRef<S>,
{
    type Rejection = Unauthenticated;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).map_err(Unauthenticated)?;
        TokenVerifier::from_ref(state)
            .verify(token)
            .await
            .map(Authenticated)
            .map_err(Unauthenticated)
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, TokenError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(TokenError::Missing)?
        .to_str()
        .map_err(|_| TokenError::Invalid("the Authorization header is not ASCII".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(TokenError::Invalid(
            "expected `Authorization: Bearer <token>`".into(),
        )),
    }
}

pub struct Unauthenticated(TokenError);

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        // RFC 6750: a request that brought no token gets only the scheme.
        let challenge = match self.0 {
            TokenError::Missing => HeaderValue::from_static("Bearer"),
            TokenError::Invalid(_) => HeaderValue::from_static("Bearer error=\"invalid_token\""),
        };
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            self.0.to_string(),
        )
        .with_header(header::WWW_AUTHENTICATE, challenge)
        .into_response()
    }
}
