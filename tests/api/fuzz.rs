//! Property tests of the request path: arbitrary bearer tokens, JSON bodies
//! and GraphQL documents, sent to the real server, never make it panic or
//! hang, and every answer is a well-formed GraphQL response.

use std::time::Duration;

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

use crate::common::*;

const CASES: u32 = 300;

/// The server and a client, driven from proptest's synchronous runner.
struct Target {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    _db: TestDatabase,
    http: reqwest::Client,
}

impl Target {
    fn start() -> Target {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (server, db) = runtime.block_on(async {
            let (server, db) = TestServer::start(Backend::Sqlite).await;
            let program = create_dsl_program(&server, "Shop").await;
            create_version(&server, &program, "1.0.0").await;
            (server, db)
        });
        // A request that takes this long counts as a hang.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Target {
            runtime,
            server,
            _db: db,
            http,
        }
    }

    /// POSTs `body` as JSON with `authorization`, and returns status and body.
    fn post(&self, authorization: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        self.runtime.block_on(async {
            let response = self
                .http
                .post(format!("{}/graphql", self.server.url))
                .header("content-type", "application/json")
                .header("authorization", authorization)
                .body(body)
                .send()
                .await
                .expect("an answer in time");
            let status = response.status().as_u16();
            (status, response.bytes().await.unwrap().to_vec())
        })
    }
}

/// A GraphQL response: `data` and/or a non-empty `errors` list whose every
/// error has a message and a code; never a server error.
fn well_formed(status: u16, body: &[u8]) -> Result<Value, TestCaseError> {
    prop_assert!(
        status < 500,
        "HTTP {status}: {}",
        String::from_utf8_lossy(body)
    );
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| TestCaseError::fail(format!("not JSON: {}", String::from_utf8_lossy(body))))?;
    prop_assert!(
        value.get("data").is_some() || value.get("errors").is_some(),
        "{value}"
    );
    if let Some(errors) = value.get("errors") {
        let errors = errors.as_array().filter(|errors| !errors.is_empty());
        prop_assert!(errors.is_some(), "errors must be a non-empty list: {value}");
        for error in errors.into_iter().flatten() {
            prop_assert!(error["message"].is_string(), "{value}");
            prop_assert!(
                error["extensions"]["code"].is_string(),
                "an error without a code: {value}"
            );
        }
    }
    Ok(value)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn printable(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0x20u8..0x7f, 0..max).prop_map(|bytes| String::from_utf8(bytes).unwrap())
}

/// Tokens: printable noise, and three-part tokens whose parts are noise,
/// headers with real and made-up algorithms and key ids, or real claims.
fn token() -> impl Strategy<Value = String> {
    let header = (
        prop::sample::select(vec![
            "HS256", "HS512", "RS256", "ES256", "EdDSA", "none", "NONE", "", "PS256",
        ]),
        prop::option::of(printable(40)),
        any::<bool>(),
    )
        .prop_map(|(alg, kid, jku)| {
            let mut header = json!({ "alg": alg, "typ": "JWT" });
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            if jku {
                header["jku"] = json!("http://127.0.0.1:1/jwks.json");
            }
            b64(header.to_string().as_bytes())
        });
    let part = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| b64(&bytes)),
        printable(40),
        Just(b64(claims(WORKSPACE, &["WORKSPACE_ADMIN"])
            .to_string()
            .as_bytes())),
    ];
    prop_oneof![
        printable(200),
        (header, part.clone(), part)
            .prop_map(|(header, claims, signature)| format!("{header}.{claims}.{signature}")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(
            |number| serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
        ),
        printable(30).prop_map(Value::from),
    ];
    let key = prop_oneof![
        prop::sample::select(vec![
            "query",
            "variables",
            "operationName",
            "extensions",
            "persistedQuery",
            "sha256Hash",
            "version",
            "input",
            "id"
        ])
        .prop_map(str::to_owned),
        printable(10),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Documents made of GraphQL's own tokens and this schema's names, in any
/// order: mostly invalid, sometimes valid, sometimes deep or repetitive.
fn document() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ":",
        "...",
        "@",
        "$",
        "!",
        "=",
        "query",
        "mutation",
        "subscription",
        "fragment",
        "on",
        "F",
        "Q",
        "miniPrograms",
        "miniProgram",
        "versions",
        "nodes",
        "edges",
        "node",
        "id",
        "name",
        "updateMode",
        "viewer",
        "subject",
        "first",
        "after",
        "filter",
        "totalCount",
        "__typename",
        "__schema",
        "types",
        "updateModeHistory",
        "auditLog",
        "launchPolicy",
        "skip",
        "include",
        "if",
        "true",
        "false",
        "null",
        "100",
        "-1",
        "99999999999",
        "1.5",
        "\"x\"",
        "\"\"\"block\"\"\"",
        "SYNC",
        "input",
        "mode",
        "DSL",
        "#",
        ",",
        "\n",
    ]);
    prop::collection::vec(word, 0..60).prop_map(|words| words.join(" "))
}

#[test]
fn arbitrary_tokens_are_refused_with_401() {
    let target = Target::start();
    runner()
        .run(&token(), |token| {
            let body = json!({ "query": "{ viewer { subject } }" })
                .to_string()
                .into_bytes();
            let (status, body) = target.post(&format!("Bearer {token}"), body);
            let value = well_formed(status, &body)?;
            prop_assert_eq!(status, 401);
            prop_assert_eq!(&value["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_json_bodies_get_graphql_answers() {
    let target = Target::start();
    let authorization = format!("Bearer {}", admin());
    runner()
        .run(&json_value(), |body| {
            let (status, answer) = target.post(&authorization, body.to_string().into_bytes());
            well_formed(status, &answer)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_documents_get_graphql_answers() {
    let target = Target::start();
    let authorization = format!("Bearer {}", admin());
    runner()
        .run(&(document(), json_value()), |(document, variables)| {
            let body = json!({ "query": document, "variables": variables });
            let (status, answer) = target.post(&authorization, body.to_string().into_bytes());
            well_formed(status, &answer)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_get_graphql_answers() {
    let target = Target::start();
    let authorization = format!("Bearer {}", admin());
    runner()
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            let (status, answer) = target.post(&authorization, bytes);
            well_formed(status, &answer)?;
            Ok(())
        })
        .unwrap();
}
