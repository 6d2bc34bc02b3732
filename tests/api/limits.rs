use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

/// An in-process server, so that its SQL statements can be counted.
async fn counted(backend: Backend) -> (InProcessServer, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    let quiet = Settings::with_env(&[
        ("HOOK_POLL_INTERVAL_MS", "600000"),
        ("SCHEDULER_POLL_INTERVAL_MS", "600000"),
    ]);
    let server = InProcessServer::start(&db, quiet, Default::default()).await;
    (server, db)
}

/// Sends `query` and checks it is refused with `code` without running SQL.
async fn refused_before_sql(server: &InProcessServer, query: &str, code: &str) -> Gql {
    let before = server.settled_statements().await;
    let response = server.gql(&admin(), query, json!({})).await;
    assert_eq!(response.code(), code, "{query}: {}", response.body);
    assert_eq!(
        server.statements_executed(),
        before,
        "SQL ran for a refused document"
    );
    response
}

async fn post(server: &TestServer, content_type: &str, body: Vec<u8>) -> Gql {
    let response = server
        .http()
        .post(format!("{}/graphql", server.url))
        .bearer_auth(admin())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

fn limited(limit: u32) -> Settings {
    Settings::with_env(&[("RATE_LIMIT_MUTATIONS_PER_MINUTE", &limit.to_string())])
}

/// Sends an update-mode change as the admin and checks that the rate limit
/// refuses it: HTTP 429, `retryAfterSeconds` (at most two minutes: a burst
/// weighs on the sliding minute until it has slid out) and the same in
/// `Retry-After`.
async fn assert_rate_limited(server: &TestServer, program: &str, mode: &str) {
    let response = server
        .http()
        .post(format!("{}/graphql", server.url))
        .bearer_auth(admin())
        .json(&json!({ "query": UPDATE_MODE, "variables": { "input": { "miniProgramId": program, "mode": mode } } }))
        .send()
        .await
        .unwrap();
    let header = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let response = Gql::read(response).await;
    assert_eq!(
        (response.status, response.code()),
        (429, "RATE_LIMITED"),
        "{}",
        response.body
    );
    let retry = response.error()["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap();
    assert!((1..=120).contains(&retry), "{retry}");
    assert_eq!(header, Some(retry.to_string()));
}

on_both_backends! {
    async fn mutations_are_rate_limited_per_principal(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, limited(4)).await;
        // The limit is a sliding minute: these five mutations fall into one
        // wherever the clock's minute boundary is.
        let program = create_dsl_program(&server, "Shop").await;
        for mode in ["ASYNC", "SYNC", "DEFAULT"] {
            update_mode(&server, &admin(), &program, mode).await.data();
        }
        let before = program_state(&server, &program).await;
        assert_rate_limited(&server, &program, "SYNC").await;
        assert_eq!(program_state(&server, &program).await, before, "reads are not limited, and nothing changed");
        // Another principal has its own allowance.
        create_version(&server, &program, "1.0.0").await;
    }

    async fn costly_documents_are_refused_before_any_sql(backend: Backend) {
        let (server, _db) = counted(backend).await;
        create_dsl_program(&server, "Shop").await;

        let mut deep = String::from("id");
        for _ in 0..3 {
            deep = format!("miniProgram {{ versions(first: 1) {{ nodes {{ {deep} }} }} }}");
        }
        let deep = format!("{{ miniPrograms(first: 1) {{ nodes {{ versions(first: 1) {{ nodes {{ {deep} }} }} }} }} }}");
        refused_before_sql(&server, &deep, "GRAPHQL_VALIDATION_FAILED").await;

        let costly = "{ miniPrograms(first: 100) { nodes { id versions(first: 100) { nodes { id version status } } } } }";
        refused_before_sql(&server, costly, "GRAPHQL_VALIDATION_FAILED").await;

        let aliases: Vec<String> = (0..101).map(|i| format!("a{i}: __typename")).collect();
        let response = refused_before_sql(&server, &format!("{{ {} }}", aliases.join(" ")), "GRAPHQL_VALIDATION_FAILED").await;
        assert!(response.error()["message"].as_str().unwrap().contains("101 aliases"));

        // Counted while the document is parsed, so it fails parsing.
        let directives = "@include(if: true) ".repeat(50);
        refused_before_sql(&server, &format!("{{ viewer {directives} {{ subject }} }}"), "GRAPHQL_PARSE_FAILED").await;

        // Fragment nesting, even endless, is bounded while the document is parsed.
        refused_before_sql(&server, "query { ...A } fragment A on Query { ...A }", "GRAPHQL_PARSE_FAILED").await;
        let mut chain = String::from("query { ...F0 }");
        for i in 0..200 {
            chain.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        chain.push_str(" fragment F200 on Query { __typename }");
        let response = refused_before_sql(&server, &chain, "GRAPHQL_PARSE_FAILED").await;
        assert!(response.error()["message"].as_str().unwrap().contains("recursion depth"));

        // Deep nesting is refused on the text: the parser recursed once per
        // level and 5,000 nested list brackets aborted the process.
        for (open, close) in [("{ a", "}"), ("[", "]"), ("(", ")")] {
            for levels in [65, 5_000, 15_000] {
                let document = format!("{{ miniPrograms(filter: {}1{}) {{ totalCount }} }}", open.repeat(levels), close.repeat(levels));
                let response = refused_before_sql(&server, &document, "GRAPHQL_PARSE_FAILED").await;
                assert!(response.error()["message"].as_str().unwrap().contains("nests deeper than 64"));
            }
        }
        server.gql(&admin(), "{ viewer { subject } }", json!({})).await.data();

        // The console's list page stays well inside the limits.
        let console = "{ miniPrograms(first: 20) { totalCount nodes { id name type channel updateMode updateModeEditable updateModeLocks revision
            versions(first: 5) { nodes { id version status updateMode updateModeSource } } } } }";
        server.gql(&admin(), console, json!({})).await.data();
    }

    async fn only_json_bodies_of_bounded_size_are_read(backend: Backend) {
        let (server, _db) = counted(backend).await;
        let query = br#"{"query":"{ viewer { subject } }"}"#.to_vec();
        let before = server.settled_statements().await;
        for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""] {
            let response = post(&server, content_type, query.clone()).await;
            assert_eq!(response.status, 415, "{content_type:?}");
            assert_eq!(response.code(), "UNSUPPORTED_MEDIA_TYPE");
        }
        assert_eq!(post(&server, "application/json; charset=utf-8", query.clone()).await.status, 200);

        let mut big = br#"{"query":"{ viewer { subject } }","variables":{"pad":""#.to_vec();
        big.extend(std::iter::repeat_n(b'x', 70 * 1024));
        big.extend(br#""}}"#);
        let response = post(&server, "application/json", big.clone()).await;
        assert_eq!(response.status, 413);
        assert_eq!(response.code(), "PAYLOAD_TOO_LARGE");

        // Without a declared length the body is cut off while it is read.
        // The server answers and closes while the client may still be
        // sending; the close can then reset the connection before the client
        // reads the answer, so a reset is tried again.
        let mut status = None;
        for _ in 0..5 {
            let chunks = futures_util::stream::iter(big.chunks(8192).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>());
            let sent = server
                .http()
                .post(format!("{}/graphql", server.url))
                .bearer_auth(admin())
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(chunks))
                .send()
                .await;
            if let Ok(response) = sent {
                status = Some(response.status());
                break;
            }
        }
        assert_eq!(status, Some(reqwest::StatusCode::PAYLOAD_TOO_LARGE));

        let batch = br#"[{"query":"{ viewer { subject } }"},{"query":"{ viewer { subject } }"}]"#.to_vec();
        let response = post(&server, "application/json", batch).await;
        assert_eq!((response.status, response.code()), (400, "BAD_REQUEST"));
        assert_eq!(server.statements_executed(), before, "SQL ran for a refused request");
    }

    async fn introspection_and_suggestions_are_off_outside_development(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let response = server.gql(&admin(), "{ __schema { types { name } } }", json!({})).await;
        assert_eq!(response.body["data"]["__schema"], Value::Null, "the schema is not described");
        let response = server.gql(&admin(), "{ __type(name: \"MiniProgram\") { fields { name } } }", json!({})).await;
        assert_eq!(response.body["data"]["__type"], Value::Null);
        let response = server.gql(&admin(), "{ miniProgramz { totalCount } }", json!({})).await;
        assert_eq!(response.code(), "GRAPHQL_VALIDATION_FAILED");
        assert!(!response.body.to_string().contains("Did you mean"), "{}", response.body);
        let graphiql = server.http().get(format!("{}/graphiql", server.url)).send().await.unwrap();
        assert_eq!(graphiql.status(), 404, "GraphiQL is off outside development");

        let db = TestDatabase::create(backend).await;
        let open = Settings { env: vec![("GRAPHQL_INTROSPECTION".into(), "true".into()), ("GRAPHIQL_ENABLED".into(), "true".into())], ..Settings::default() };
        let server = TestServer::start_on(&db, open).await;
        let response = server.gql(&admin(), "{ __schema { queryType { name } } }", json!({})).await;
        assert_eq!(response.data()["__schema"]["queryType"]["name"], "Query");
        let graphiql = server.http().get(format!("{}/graphiql", server.url)).send().await.unwrap();
        assert_eq!(graphiql.status(), 200);
    }

    async fn cross_origin_calls_need_an_allowed_origin(backend: Backend) {
        let preflight = |server: &TestServer, origin: &str| {
            server
                .http()
                .request(reqwest::Method::OPTIONS, format!("{}/graphql", server.url))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization,content-type")
                .send()
        };
        let (server, _db) = TestServer::start(backend).await;
        let response = preflight(&server, "https://console.example").await.unwrap();
        assert!(response.headers().get("access-control-allow-origin").is_none(), "nothing is allowed by default");

        let db = TestDatabase::create(backend).await;
        let settings = Settings { env: vec![("CORS_ALLOWED_ORIGINS".into(), "https://console.example,https://ops.example".into())], ..Settings::default() };
        let server = TestServer::start_on(&db, settings).await;
        let response = preflight(&server, "https://console.example").await.unwrap();
        assert_eq!(response.headers()["access-control-allow-origin"], "https://console.example");
        let response = preflight(&server, "https://evil.example").await.unwrap();
        assert!(response.headers().get("access-control-allow-origin").is_none());
    }

    async fn a_slow_request_is_stopped_and_changes_nothing(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let plugins = update_mode::app::Plugins { guards: vec![std::sync::Arc::new(Slow)], ..update_mode::app::Plugins::default() };
        let settings = Settings { env: vec![("REQUEST_TIMEOUT_MS".into(), "300".into()), ("HOOK_GUARD_TIMEOUT_MS".into(), "60000".into())], ..Settings::default() };
        let server = InProcessServer::start(&db, settings, plugins).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;
        let started = std::time::Instant::now();
        let response = update_mode(&server, &admin(), &program, "SYNC").await;
        assert_eq!((response.status, response.code()), (503, "TIMEOUT"));
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(program_state(&server, &program).await, before);
    }
}

/// SIGTERM: the server stops accepting connections, lets the request in
/// flight finish, and exits cleanly. The request is held in flight by a
/// SQLite write lock that the test takes itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;

    let db = TestDatabase::create(Backend::Sqlite).await;
    let mut server = TestServer::start_on(&db, Settings::default()).await;
    let program = create_dsl_program(&server, "Shop").await;

    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let (locked, release) = (
        std::sync::mpsc::channel::<()>(),
        std::sync::mpsc::channel::<()>(),
    );
    let holder = std::thread::spawn(move || {
        let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
        conn.batch_execute("BEGIN IMMEDIATE").unwrap();
        locked.0.send(()).unwrap();
        release.1.recv().unwrap();
        conn.batch_execute("ROLLBACK").unwrap();
    });
    locked.1.recv().unwrap();

    let in_flight = {
        let url = server.url.clone();
        let program = program.clone();
        tokio::spawn(async move {
            let response = reqwest::Client::new()
                .post(format!("{url}/graphql"))
                .bearer_auth(admin())
                .json(&json!({ "query": UPDATE_MODE, "variables": { "input": { "miniProgramId": program, "mode": "SYNC" } } }))
                .send()
                .await
                .unwrap();
            Gql::read(response).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.terminate();
    let address = server.url.trim_start_matches("http://").to_owned();
    eventually(
        Duration::from_secs(5),
        "new connections to be refused while stopping",
        || async {
            std::net::TcpStream::connect(&address)
                .is_err()
                .then_some(())
        },
    )
    .await;

    release.0.send(()).unwrap();
    holder.join().unwrap();
    let response = in_flight.await.unwrap();
    assert_eq!(response.data()["updateMode"]["changed"], true);
    let status = server
        .wait_for_exit(Duration::from_secs(10))
        .expect("the server exits");
    assert!(status.success(), "{status:?}");
    let state: Value = {
        let restarted = TestServer::start_on(&db, Settings::default()).await;
        program_state(&restarted, &program).await
    };
    assert_eq!(
        state["updateMode"], "SYNC",
        "the finished request's change is kept"
    );
}

/// Takes two seconds to say yes.
struct Slow;

#[async_trait::async_trait]
impl update_mode::hooks::GuardHook for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    async fn check(
        &self,
        _: &update_mode::hooks::HookEvent,
    ) -> Result<(), update_mode::hooks::Veto> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(())
    }
}

/// Two processes on one PostgreSQL database count a principal's mutations together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn the_mutation_limit_is_shared_by_all_processes() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&db, limited(3)).await;
    let second = TestServer::start_on(&db, limited(3)).await;
    let program = create_dsl_program(&first, "Shop").await;
    update_mode(&first, &admin(), &program, "ASYNC")
        .await
        .data();
    update_mode(&second, &admin(), &program, "SYNC")
        .await
        .data();
    assert_rate_limited(&second, &program, "DEFAULT").await;
    assert_rate_limited(&first, &program, "DEFAULT").await;
}
