//! Introspection where it is on: what describes the schema, and the
//! standard introspection query that GraphiQL and client generators send.

use serde_json::json;

use crate::common::*;
use crate::on_both_backends;

/// The service's description, as Cargo.toml gives it.
const DESCRIPTION: &str = "GraphQL API for managing the update modes of super-app mini programs";

/// A server that answers introspection, as in development mode.
async fn introspectable(backend: Backend) -> (TestServer, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    let settings = Settings::with_env(&[("GRAPHQL_INTROSPECTION", "true")]);
    (TestServer::start_on(&db, settings).await, db)
}

on_both_backends! {
    async fn the_schema_describes_the_service(backend: Backend) {
        let (server, _db) = introspectable(backend).await;
        let response = server.gql(&viewer(), "{ __schema { description } }", json!({})).await;
        assert_eq!(response.data()["__schema"]["description"], DESCRIPTION);
        // Under an alias, through fragments, and next to other fields.
        let query = "query Q { s: __schema { about: description ...D queryType { name } } viewer { subject } }
            fragment D on __Schema { description }";
        let response = server.gql(&viewer(), query, json!({})).await;
        assert_eq!(
            response.data()["s"],
            json!({ "about": DESCRIPTION, "description": DESCRIPTION, "queryType": { "name": "Query" } })
        );
        assert!(response.data()["viewer"]["subject"].is_string());
    }
}
