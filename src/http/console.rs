//! The console: the web page under `/console/`, built into the binary (read
//! from `console/` on disk in debug builds, so that edits show on reload),
//! and its `config.json`, which in development mode carries a demo token.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rust_embed::RustEmbed;
use serde_json::json;

use super::etag;
use crate::auth::TokenIssuer;
use crate::domain::Role;
use crate::service::demo::DEMO_WORKSPACE;

#[derive(RustEmbed)]
#[folder = "console/"]
struct Assets;

/// How long the token that the console fills in stays valid.
const DEV_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Only the console's own files run; the API is the one origin it talks to.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `GET /console`: the page's relative links need the trailing slash.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/`
pub async fn index(headers: HeaderMap) -> Response {
    asset("index.html", &headers)
}

/// `GET /console/{*path}`
pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    asset(&path, &headers)
}

/// `GET /console/config.json`: in development mode, a fresh demo admin token.
pub async fn config(State(dev_issuer): State<Option<TokenIssuer>>) -> Response {
    let dev_token = dev_issuer.and_then(|issuer| {
        issuer
            .mint(
                "console",
                DEMO_WORKSPACE,
                &[Role::WorkspaceAdmin],
                DEV_TOKEN_TTL,
            )
            .ok()
    });
    let mut response = axum::Json(json!({ "devToken": dev_token })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn asset(path: &str, request: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return (StatusCode::NOT_FOUND, "no such file in the console").into_response();
    };
    let etag = etag::from_sha256(&file.metadata.sha256_hash());
    let mut response = if etag::is_fresh(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type(path));
    // The files are not fingerprinted: revalidate each time, cheaply by ETag.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
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
    response
}

/// The media type of a served file, by its extension.
pub(super) fn content_type(path: &str) -> HeaderValue {
    let extension = path.rsplit_once('.').map_or("", |(_, extension)| extension);
    HeaderValue::from_static(match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_styles_are_served_as_such() {
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("console.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
