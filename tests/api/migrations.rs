use std::process::Stdio;

use futures_util::future::join_all;
use serde_json::json;

use crate::common::*;
use crate::on_both_backends;

on_both_backends! {
    async fn migrate_prepares_the_database_for_a_server_that_skips_it(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        for run in ["first", "second"] {
            let status = server_command(&db, &Settings::default())
                .arg("migrate")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("update-mode migrate");
            assert!(status.success(), "{run} migrate");
        }
        let settings = Settings {
            env: vec![("SKIP_MIGRATIONS".into(), "true".into())],
            ..Settings::default()
        };
        let server = TestServer::start_on(&db, settings).await;
        assert!(server.log().contains("skipping migrations"));
        let program = create_dsl_program(&server, "Shop").await;
        assert_eq!(program_state(&server, &program).await["revision"], 1);
    }
}

/// Replicas starting together on one PostgreSQL database: one migrates under
/// the advisory lock, the others wait and find nothing left to do, and then
/// every replica serves the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn replicas_start_together_on_one_postgres_database() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let servers = join_all((0..3).map(|_| TestServer::start_on(&db, Settings::default()))).await;
    let program = create_dsl_program(&servers[0], "Shop").await;
    update_mode(&servers[1], &admin(), &program, "SYNC")
        .await
        .data();
    for server in &servers {
        let state = program_state(server, &program).await;
        assert_eq!(state["updateMode"], "SYNC");
        assert_eq!(state["revision"], 2);
        assert_eq!(state["updateModeHistory"]["totalCount"], json!(1));
    }
}
