//! Bearer authentication: the `Authorization` header's token, verified
//! before a handler runs, and the 401 answer with its challenge.

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
        let token = header_token(parts).map_err(Unauthenticated)?;
        TokenVerifier::from_ref(state)
            .verify(token)
            .await
            .map(Authenticated)
            .map_err(Unauthenticated)
    }
}

fn header_token(parts: &Parts) -> Result<&str, TokenError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(TokenError::Missing)?
        .to_str()
        .map_err(|_| TokenError::Invalid("the Authorization header is not ASCII".into()))?;
    bearer_token(value)
        .ok_or_else(|| TokenError::Invalid("expected `Authorization: Bearer <token>`".into()))
}

/// The token of an `Authorization` value `Bearer <token>` (the scheme in any
/// case, as RFC 9110 has it), wherever the value came from: a request
/// header or a WebSocket's `connection_init`.
pub(super) fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_scheme_with_a_token_names_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        for refused in [
            "Bearer",
            "Bearer ",
            "Bearer   ",
            "Basic YWRtaW46",
            "abc",
            "",
        ] {
            assert_eq!(bearer_token(refused), None, "{refused:?}");
        }
    }
}
