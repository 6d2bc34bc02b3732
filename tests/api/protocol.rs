//! GraphQL over HTTP: the answer's media type follows `Accept`, and with
//! `application/graphql-response+json` a document that never ran (it did
//! not parse or validate, or its variables did not coerce) is a 400 with no
//! `data` entry, while one that ran is a 200 whatever its errors.

use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs `body` with `Accept: accept` (none if `None`): the status, the
/// content type and the body.
async fn post(server: &TestServer, accept: Option<&str>, body: Value) -> (u16, String, Value) {
    let mut request = server
        .http()
        .post(format!("{}/graphql", server.url))
        .bearer_auth(admin())
        .json(&body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.json().await.unwrap())
}

on_both_backends! {
    async fn the_answer_is_in_the_media_type_accepted(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let query = json!({ "query": "{ viewer { subject } }" });
        for (accept, expected) in [
            (None, JSON),
            (Some("*/*"), JSON),
            (Some(JSON), JSON),
            (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
            (Some("application/graphql-response+json, application/json;q=0.9"), GRAPHQL_RESPONSE),
        ] {
            let (status, content_type, body) = post(&server, accept, query.clone()).await;
            assert_eq!((status, content_type.as_str()), (200, expected), "{accept:?}");
            assert!(body["data"]["viewer"]["subject"].is_string(), "{body}");
        }
    }

    async fn a_document_that_never_ran_is_a_400_without_data_when_asked(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;
        let mutation = "mutation($id: ID!) { updateMode(input: { miniProgramId: $id, mode: SYNC }) { changed } }";
        for (body, code) in [
            (json!({ "query": "{" }), "GRAPHQL_PARSE_FAILED"),
            (json!({ "query": "{ noSuchField }" }), "GRAPHQL_VALIDATION_FAILED"),
            // The variable does not coerce: the mutation never runs.
            (json!({ "query": mutation, "variables": { "id": null } }), "GRAPHQL_VALIDATION_FAILED"),
            (json!({ "query": "query A { viewer { subject } } query B { viewer { subject } }" }), "BAD_REQUEST"),
        ] {
            let (status, content_type, answer) = post(&server, Some(GRAPHQL_RESPONSE), body.clone()).await;
            assert_eq!((status, content_type.as_str()), (400, GRAPHQL_RESPONSE), "{body}: {answer}");
            assert!(answer.get("data").is_none(), "{body}: {answer}");
            assert_eq!(answer["errors"][0]["extensions"]["code"], code, "{body}: {answer}");
            // Older clients read the same errors from a 200.
            let (status, content_type, answer) = post(&server, Some(JSON), body.clone()).await;
            assert_eq!((status, content_type.as_str()), (200, JSON), "{body}: {answer}");
            assert_eq!(answer["errors"][0]["extensions"]["code"], code, "{body}: {answer}");
        }
        assert_eq!(program_state(&server, &program).await, before, "a refused document changed nothing");

        // A document that ran answers 200 even when a field failed.
        let missing = json!({ "query": "{ miniProgram(id: \"nope\") { name } }" });
        let (status, _, answer) = post(&server, Some(GRAPHQL_RESPONSE), missing).await;
        assert_eq!(status, 200, "{answer}");
        assert!(answer.get("data").is_some(), "{answer}");

        // No document at all is not a GraphQL request.
        let (status, _, answer) = post(&server, Some(GRAPHQL_RESPONSE), json!({ "qeury": "{ viewer { subject } }" })).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
}
