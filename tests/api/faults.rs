use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::own_postgres::OwnPostgres;
use crate::common::*;

/// The database goes away: requests fail fast with SERVICE_UNAVAILABLE,
/// `/readyz` answers 503, the process stays up, and it serves again by itself
/// once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_database_is_survived() {
    // Skipped, with the reason, where PostgreSQL's server binaries are
    // missing; in CI that fails instead.
    let Some(postgres) = OwnPostgres::create() else {
        return;
    };
    let db = postgres.database();
    let server = TestServer::start_on(&db, Settings::default()).await;
    let program = create_dsl_program(&server, "Shop").await;
    let ready = || async {
        server
            .http()
            .get(format!("{}/readyz", server.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);

    postgres.stop();
    let started = Instant::now();
    let response = update_mode(&server, &admin(), &program, "SYNC").await;
    assert_eq!(response.code(), "SERVICE_UNAVAILABLE", "{}", response.body);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    let response = server
        .gql(&viewer(), "{ miniPrograms { totalCount } }", json!({}))
        .await;
    assert_eq!(response.code(), "SERVICE_UNAVAILABLE");
    assert_eq!(ready().await, 503);
    let health = server
        .http()
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the process is up");

    postgres.start();
    eventually(
        Duration::from_secs(15),
        "readiness after the database is back",
        || async { (ready().await == 200).then_some(()) },
    )
    .await;
    let response = update_mode(&server, &admin(), &program, "SYNC").await;
    assert_eq!(response.data()["updateMode"]["changed"], true);
}
