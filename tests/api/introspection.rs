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

/// graphql-js's `getIntrospectionQuery()`: `ofType` nested nine deep.
const STANDARD_INTROSPECTION: &str = include_str!("../fixtures/introspection-query.graphql");

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

    async fn the_standard_introspection_query_is_answered(backend: Backend) {
        let (server, _db) = introspectable(backend).await;
        let response = server.gql(&viewer(), STANDARD_INTROSPECTION, json!({})).await;
        let schema = &response.data()["__schema"];
        assert_eq!(schema["queryType"]["name"], "Query");
        let types = schema["types"].as_array().unwrap();
        assert!(types.iter().any(|t| t["name"] == "MiniProgram" && t["fields"].as_array().is_some_and(|f| !f.is_empty())));
        // Still bounded: past GRAPHQL_MAX_INTROSPECTION_DEPTH it is refused.
        let deeper = (0..16).fold("name".to_owned(), |inner, _| format!("ofType {{ {inner} }}"));
        let response = server.gql(&viewer(), &format!("{{ __type(name: \"MiniProgram\") {{ {deeper} }} }}"), json!({})).await;
        assert_eq!(response.code(), "GRAPHQL_VALIDATION_FAILED");
        assert!(response.error()["message"].as_str().unwrap().contains("__schema and __type nest at most 16"), "{}", response.body);
        // Outside introspection the depth limit stands.
        let deep = (0..12).fold("subject".to_owned(), |inner, _| format!("viewer {{ {inner} }}"));
        let response = server.gql(&viewer(), &format!("{{ {deep} }}"), json!({})).await;
        assert_eq!(response.code(), "GRAPHQL_VALIDATION_FAILED");
        assert!(response.error()["message"].as_str().unwrap().contains("fields nest at most 12 levels"), "{}", response.body);
    }
}
