//! GraphiQL at `/graphiql`: a pinned production build embedded in the
//! binary (see `graphiql/README.md`), so that it works offline and sends no
//! browser to a CDN. Its files are served under `/graphiql/`, and the page
//! under a Content-Security-Policy that lets only them run.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use serde_json::json;

use super::{console, etag};
use crate::auth::TokenIssuer;
use crate::domain::Role;
use crate::service::demo::DEMO_WORKSPACE;

#[derive(RustEmbed)]
#[folder = "graphiql/"]
struct Assets;

/// The page; `{{SETTINGS}}` becomes its JSON settings.
const PAGE: &str = include_str!("graphiql.html");

/// How long the token that GraphiQL opens with stays valid.
const DEV_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Only the embedded files run and style; GraphiQL's fonts and icons are
/// data URLs; it talks to this origin only (its WebSocket included).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     font-src 'self' data:; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `GET /graphiql`. In development mode it opens with a fresh demo admin
/// token in its headers and subscription parameters; otherwise the user
/// pastes one.
pub async fn page(State(dev_issuer): State<Option<TokenIssuer>>) -> Response {
    let authorization = dev_issuer
        .and_then(|issuer| {
            issuer
                .mint(
                    "graphiql",
                    DEMO_WORKSPACE,
                    &[Role::WorkspaceAdmin],
                    DEV_TOKEN_TTL,
                )
                .ok()
        })
        .map(|token| format!("Bearer {token}"));
    // Inside a <script> element: no `<` may close it early.
    let settings = json!({ "authorization": authorization })
        .to_string()
        .replace('<', "\\u003c");
    let mut response = PAGE.replace("{{SETTINGS}}", &settings).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // The page may carry a token.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(headers);
    response
}

/// `GET /graphiql/{*path}`: GraphiQL's scripts, styles and licences.
pub async fn file(Path(path): Path<String>, request: HeaderMap) -> Response {
    let Some(file) = Assets::get(&path) else {
        return (StatusCode::NOT_FOUND, "no such file in GraphiQL").into_response();
    };
    let etag = etag::from_sha256(&file.metadata.sha256_hash());
    let mut response = if etag::is_fresh(&request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, console::content_type(&path));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    secure(headers);
    response
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
