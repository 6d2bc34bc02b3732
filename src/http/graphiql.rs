use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use axum::extract::State;
use axum::response::Html;

use crate::auth::TokenIssuer;
use crate::domain::Role;
use crate::service::demo::DEMO_WORKSPACE;

/// How long the token that GraphiQL opens with stays valid.
const DEV_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// `GET /graphiql`, with subscriptions over the same endpoint. In
/// development mode it opens with a fresh demo admin token in its headers
/// and subscription parameters; otherwise the user pastes one.
pub async fn page(State(dev_issuer): State<Option<TokenIssuer>>) -> Html<String> {
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
    let source = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql")
        .title("update-mode");
    // Subscriptions carry the token in `connection_init`, not in a header.
    let source = match &authorization {
        Some(value) => source
            .header("Authorization", value)
            .ws_connection_param("Authorization", value),
        None => source,
    };
    Html(source.finish())
}
