//! GraphQL subscriptions over a real WebSocket (`graphql-transport-ws` on
//! /graphql): what a subscriber hears, what it never hears, how tokens are
//! checked, the caps and pings, and several processes on one PostgreSQL.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::live::{
    Event, LiveClient, next_event, open, open_with, wait_for_gauge, wait_for_subscriptions,
};
use crate::common::*;
use crate::on_both_backends;

const MODE_CHANGED: &str = "subscription($id: ID!) {
    updateModeChanged(miniProgramId: $id) { previousMode mode changedBy revision changedAt }
}";

const VERSION_CHANGED: &str = "subscription($id: ID!) {
    versionChanged(miniProgramId: $id) {
        id version status updateMode updateModeSource grayPercentage availableActions
        miniProgram { id updateMode }
    }
}";

/// A server whose settings are the suite's plus `env`.
async fn server_with(backend: Backend, env: &[(&str, &str)]) -> (TestServer, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    (TestServer::start_on(&db, Settings::with_env(env)).await, db)
}

on_both_backends! {
    async fn a_subscriber_hears_each_committed_change_of_its_program(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        let mut live = LiveClient::connect(&server, &viewer()).await;
        live.subscribe("modes", MODE_CHANGED, json!({ "id": program })).await;
        live.subscribe("versions", VERSION_CHANGED, json!({ "id": program })).await;
        wait_for_subscriptions(&server, 2).await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let change = live.next_data("modes").await["updateModeChanged"].clone();
        assert_eq!(change["previousMode"], "DEFAULT");
        assert_eq!(change["mode"], "SYNC");
        assert_eq!(change["changedBy"], "workspace_admin-user");
        assert_eq!(change["revision"], 2);
        let history = program_state(&server, &program).await["updateModeHistory"]["nodes"][0].clone();
        assert_eq!(history["revision"], change["revision"]);

        let version = create_version(&server, &program, "1.0.0").await;
        let created = live.next_data("versions").await["versionChanged"].clone();
        assert_eq!(created["id"], version.as_str());
        assert_eq!(created["status"], "NEW_VERSION_CREATED");
        assert_eq!(created["updateMode"], "SYNC");
        assert_eq!(created["updateModeSource"], "PENDING");
        // The subscriber's own roles decide what it may do: a viewer, nothing.
        assert_eq!(created["availableActions"], json!([]));
        assert_eq!(created["miniProgram"]["id"], program.as_str());

        submit(&server, &developer(), &version).await.data();
        let submitted = live.next_data("versions").await["versionChanged"].clone();
        assert_eq!(submitted["status"], "PENDING_APPROVAL");
        assert_eq!(submitted["updateModeSource"], "RELEASED");
        decide(&server, &approver(), &version, "APPROVE").await;
        assert_eq!(live.next_data("versions").await["versionChanged"]["status"], "APPROVED");
        release(&server, &version, Some(10)).await;
        let gray = live.next_data("versions").await["versionChanged"].clone();
        assert_eq!(gray["status"], "GRAY_RELEASE");
        assert_eq!(gray["grayPercentage"], 10);

        // A later change of the global mode leaves the released version's mode.
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let change = live.next_data("modes").await["updateModeChanged"].clone();
        assert_eq!((change["previousMode"].as_str(), change["mode"].as_str()), (Some("SYNC"), Some("ASYNC")));

        // A full release of a newer version takes the gray one offline: both are heard.
        let newer = create_version(&server, &program, "1.1.0").await;
        assert_eq!(live.next_data("versions").await["versionChanged"]["id"], newer.as_str());
        submit(&server, &developer(), &newer).await.data();
        live.next_data("versions").await;
        decide(&server, &approver(), &newer, "APPROVE").await;
        live.next_data("versions").await;
        release(&server, &newer, None).await;
        let mut heard = Vec::new();
        for _ in 0..2 {
            let version = live.next_data("versions").await["versionChanged"].clone();
            heard.push((version["version"].as_str().unwrap().to_owned(), version["status"].as_str().unwrap().to_owned()));
        }
        heard.sort();
        assert_eq!(heard, [("1.0.0".to_owned(), "OFFLINE".to_owned()), ("1.1.0".to_owned(), "FULL_RELEASE".to_owned())]);
        // Nothing more was sent: the next message of each subscription is
        // that of a later change.
        update_mode(&server, &admin(), &program, "DEFAULT").await.data();
        let later = create_version(&server, &program, "1.2.0").await;
        let mut next: Vec<(String, String)> = Vec::new();
        for _ in 0..2 {
            let message = live.next_message().await;
            let data = &message["payload"]["data"];
            let what = data["updateModeChanged"]["mode"].as_str().or(data["versionChanged"]["id"].as_str());
            next.push((message["id"].as_str().unwrap().to_owned(), what.unwrap_or_default().to_owned()));
        }
        next.sort();
        assert_eq!(next, [("modes".to_owned(), "DEFAULT".to_owned()), ("versions".to_owned(), later)]);
    }

    async fn a_refused_change_is_never_heard(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        let mut live = LiveClient::connect(&server, &admin()).await;
        live.subscribe("modes", MODE_CHANGED, json!({ "id": program })).await;
        wait_for_subscriptions(&server, 1).await;
        let refused = update_mode(&server, &developer(), &program, "SYNC").await;
        assert_eq!(refused.code(), "FORBIDDEN");
        let stale = server
            .gql(
                &admin(),
                UPDATE_MODE,
                json!({ "input": { "miniProgramId": program, "mode": "ASYNC", "expectedRevision": 0 } }),
            )
            .await;
        assert_eq!(stale.code(), "CONFLICT");
        // Setting the mode it already has writes nothing, so announces nothing.
        assert_eq!(update_mode(&server, &admin(), &program, "DEFAULT").await.data()["updateMode"]["changed"], false);
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let change = live.next_data("modes").await["updateModeChanged"].clone();
        assert_eq!((change["previousMode"].as_str(), change["mode"].as_str()), (Some("DEFAULT"), Some("SYNC")));
        assert_eq!(change["revision"], 2);
        // Nor afterwards: the next message is the next accepted change.
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let change = live.next_data("modes").await["updateModeChanged"].clone();
        assert_eq!((change["previousMode"].as_str(), change["mode"].as_str()), (Some("SYNC"), Some("ASYNC")));
        assert_eq!(change["revision"], 3);
    }

    async fn nothing_of_another_workspace_is_heard(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let ours = create_dsl_program(&server, "Mall").await;
        let other_admin = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        let theirs = create_program_as(&server, &other_admin, "Mall", "DSL", "WORKSPACE").await;
        let mut outsider = LiveClient::connect(&server, &other_admin).await;
        // Another workspace's program is not found, as over HTTP.
        outsider.subscribe("peek", MODE_CHANGED, json!({ "id": ours })).await;
        assert_eq!(outsider.ended_with("peek").await, "NOT_FOUND");
        outsider.subscribe("own", MODE_CHANGED, json!({ "id": theirs })).await;
        wait_for_subscriptions(&server, 1).await;
        update_mode(&server, &admin(), &ours, "SYNC").await.data();
        update_mode(&server, &other_admin, &theirs, "ASYNC").await.data();
        // Ours committed first: had it leaked, it would have come first.
        let heard = outsider.next_data("own").await["updateModeChanged"].clone();
        assert_eq!(heard["mode"], "ASYNC");
        // Nor after it: the next message is their next change, not ours.
        update_mode(&server, &admin(), &ours, "ASYNC").await.data();
        update_mode(&server, &other_admin, &theirs, "SYNC").await.data();
        let heard = outsider.next_data("own").await["updateModeChanged"].clone();
        assert_eq!((heard["previousMode"].as_str(), heard["mode"].as_str()), (Some("ASYNC"), Some("SYNC")));
    }

    async fn bad_tokens_close_the_connection_with_4401(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let expired = {
            let mut claims = claims(WORKSPACE, &["VIEWER"]);
            claims["exp"] = json!(jsonwebtoken::get_current_timestamp() - 3600);
            sign(&claims)
        };
        let other_key = sign_with(
            jsonwebtoken::Algorithm::HS256,
            b"another-secret-another-secret-another-secret",
            &claims(WORKSPACE, &["VIEWER"]),
        );
        for payload in [
            json!({}),
            json!({ "Authorization": "Bearer not-a-token" }),
            json!({ "Authorization": format!("Bearer {expired}") }),
            json!({ "Authorization": format!("Bearer {other_key}") }),
            json!({ "Authorization": viewer() }),
        ] {
            let closed = LiveClient::try_connect(&server, payload.clone()).await.err()
                .unwrap_or_else(|| panic!("accepted {payload}"));
            assert_eq!(closed.code, 4401, "{payload}: {closed:?}");
            assert!(closed.reason.starts_with("Unauthorized"), "{closed:?}");
        }
        // No payload at all, and a subscribe before connection_init.
        let closed = LiveClient::init(open(&server).await, None).await.err().expect("refused");
        assert_eq!(closed.code, 4401);
        let mut early = open(&server).await;
        let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": MODE_CHANGED } });
        early.send(Message::text(subscribe.to_string())).await.expect("send");
        match next_event(&mut early).await {
            Event::Closed(closed) => assert_eq!(closed.code, 4401),
            other => panic!("expected a close, got {other:?}"),
        }

        // The upgrade request's Authorization header is accepted too.
        let socket = open_with(&server, Some(&format!("Bearer {}", viewer()))).await;
        assert!(LiveClient::init(socket, None).await.is_ok());
    }

    async fn only_subscriptions_run_over_the_websocket(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        let mut live = LiveClient::connect(&server, &admin()).await;
        live.subscribe("q", "{ viewer { subject } }", json!({})).await;
        assert_eq!(live.ended_with("q").await, "BAD_REQUEST");
        live.subscribe("m", UPDATE_MODE, json!({ "input": { "miniProgramId": program, "mode": "SYNC" } })).await;
        assert_eq!(live.ended_with("m").await, "BAD_REQUEST");
        assert_eq!(program_state(&server, &program).await["updateMode"], "DEFAULT");
        live.subscribe("bad", "subscription { updateModeChanged(miniProgramId: 1) { nope } }", json!({})).await;
        assert_eq!(live.ended_with("bad").await, "GRAPHQL_VALIDATION_FAILED");
        live.subscribe("parse", "subscription {", json!({})).await;
        assert_eq!(live.ended_with("parse").await, "GRAPHQL_PARSE_FAILED");
        // And a subscription sent over HTTP is pointed to the WebSocket.
        let over_http = server.gql(&admin(), MODE_CHANGED, json!({ "id": program })).await;
        assert_eq!(over_http.code(), "BAD_REQUEST");
    }

    async fn subscriptions_and_connections_are_capped(backend: Backend) {
        let (server, _db) = server_with(backend, &[
            ("SUBSCRIPTIONS_PER_CONNECTION", "2"),
            ("SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL", "2"),
        ]).await;
        let program = create_dsl_program(&server, "Mall").await;
        let mut live = LiveClient::connect(&server, &viewer()).await;
        let ids = ["1", "2", "3"];
        for id in ids {
            live.subscribe(id, MODE_CHANGED, json!({ "id": program })).await;
        }
        // Which one is refused depends on the order the server starts them.
        let refused = match live.next_event().await {
            Event::Message(message) if message["type"] == "next" => {
                assert_eq!(message["payload"]["errors"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS");
                message["id"].as_str().unwrap().to_owned()
            }
            other => panic!("expected a refusal, got {other:?}"),
        };
        live.expect_complete(&refused).await;
        let running: Vec<&str> = ids.into_iter().filter(|id| *id != refused).collect();
        wait_for_subscriptions(&server, 2).await;
        // Completing one makes room for another.
        live.complete(running[0]).await;
        live.expect_complete(running[0]).await;
        live.subscribe("4", MODE_CHANGED, json!({ "id": program })).await;
        wait_for_subscriptions(&server, 2).await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let mut heard = Vec::new();
        for _ in 0..2 {
            match live.next_event().await {
                Event::Message(message) if message["type"] == "next" => {
                    assert_eq!(message["payload"]["data"]["updateModeChanged"]["mode"], "SYNC");
                    heard.push(message["id"].as_str().unwrap().to_owned());
                }
                other => panic!("expected a change, got {other:?}"),
            }
        }
        heard.sort();
        assert_eq!(heard, [running[1], "4"]);

        let _second = LiveClient::connect(&server, &viewer()).await;
        let third = LiveClient::try_connect(&server, json!({ "Authorization": format!("Bearer {}", viewer()) })).await;
        let closed = third.err().expect("a third connection of the same subject is refused");
        assert_eq!(closed.code, 4429);
        // Another subject is counted on its own.
        LiveClient::connect(&server, &developer()).await;
        drop(live);
        eventually(WAIT_FOR_SERVER, "a freed connection slot", || async {
            LiveClient::try_connect(&server, json!({ "Authorization": format!("Bearer {}", viewer()) }))
                .await
                .ok()
        })
        .await;
    }

    async fn connections_that_stop_answering_pings_are_closed(backend: Backend) {
        let (server, _db) = server_with(backend, &[("SUBSCRIPTION_PING_SECONDS", "1")]).await;
        let program = create_dsl_program(&server, "Mall").await;
        // A client that reads answers each ping, and stays connected.
        let mut awake = LiveClient::connect(&server, &viewer()).await;
        awake.subscribe("1", MODE_CHANGED, json!({ "id": program })).await;
        wait_for_subscriptions(&server, 1).await;
        // Past two ping intervals, answering each ping, with nothing else sent.
        awake.expect_pings(3).await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        assert_eq!(awake.next_data("1").await["updateModeChanged"]["mode"], "SYNC");
        // One that stops reading answers no ping, and is closed as dead.
        drop(awake);
        let mut asleep = LiveClient::connect(&server, &viewer()).await;
        wait_for_gauge(&server, "update_mode_live_connections", 1).await;
        wait_for_gauge(&server, "update_mode_live_connections", 0).await;
        assert!(server.log().contains("stopped answering pings"));
        // Its last frame says why, unless its late pongs hit the closed socket first.
        let closed = asleep.expect_closed().await;
        assert!([1011, 1006].contains(&closed.code), "{closed:?}");
    }

    async fn a_message_larger_than_a_request_body_is_closed_with_1009(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let mut live = LiveClient::connect(&server, &viewer()).await;
        wait_for_gauge(&server, "update_mode_live_connections", 1).await;
        let padding = " ".repeat(70_000);
        live.subscribe("big", &format!("subscription {{{padding}}}"), json!({})).await;
        let closed = live.expect_closed().await;
        assert_eq!(closed.code, 1009, "{closed:?}");
        assert_eq!(closed.reason, "Message too big: at most 65536 bytes");
        wait_for_gauge(&server, "update_mode_live_connections", 0).await;
    }

    async fn an_oversized_connection_init_is_closed_with_1009(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let padding = " ".repeat(70_000);
        let init = format!(r#"{{"type":"connection_init","payload":{{"x":"{padding}"}}}}"#);
        let mut socket = open(&server).await;
        socket
            .send(Message::text(init))
            .await
            .expect("send connection_init");
        match next_event(&mut socket).await {
            Event::Closed(closed) => {
                assert_eq!(closed.code, 1009, "{closed:?}");
                assert!(closed.reason.starts_with("Message too big"), "{closed:?}");
            }
            Event::Message(message) => panic!("expected a close, got {message}"),
        }
    }

    async fn a_connection_ends_when_its_token_does(backend: Backend) {
        let (server, _db) = server_with(backend, &[("JWT_LEEWAY_SECONDS", "0")]).await;
        let mut claims = claims(WORKSPACE, &["VIEWER"]);
        claims["exp"] = json!(jsonwebtoken::get_current_timestamp() + 2);
        let mut live = LiveClient::connect(&server, &sign(&claims)).await;
        let closed = live.expect_closed().await;
        assert_eq!(closed.code, 4401);
        assert!(closed.reason.contains("expired"), "{closed:?}");
    }

    async fn a_slow_connection_init_is_closed_with_4408(backend: Backend) {
        let (server, _db) = server_with(backend, &[("SUBSCRIPTION_INIT_TIMEOUT_SECONDS", "1")]).await;
        let mut socket = open(&server).await;
        match next_event(&mut socket).await {
            Event::Closed(closed) => assert_eq!(closed.code, 4408),
            other => panic!("expected a close, got {other:?}"),
        }
    }
}

const WAIT_FOR_SERVER: Duration = Duration::from_secs(5);

/// Two processes on one PostgreSQL database: a change made through one is
/// heard by the subscribers of the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn a_change_through_one_process_reaches_subscribers_of_another() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let writer = TestServer::start_on(&db, Settings::default()).await;
    let listener = TestServer::start_on(&db, Settings::default()).await;
    let program = create_dsl_program(&writer, "Mall").await;
    let mut live = LiveClient::connect(&listener, &viewer()).await;
    live.subscribe("modes", MODE_CHANGED, json!({ "id": program }))
        .await;
    live.subscribe("versions", VERSION_CHANGED, json!({ "id": program }))
        .await;
    wait_for_subscriptions(&listener, 2).await;
    update_mode(&writer, &admin(), &program, "ASYNC")
        .await
        .data();
    assert_eq!(
        live.next_data("modes").await["updateModeChanged"]["mode"],
        "ASYNC"
    );
    let version = create_version(&writer, &program, "1.0.0").await;
    let created = live.next_data("versions").await["versionChanged"].clone();
    assert_eq!(created["id"], version.as_str());
    assert_eq!(created["updateMode"], "ASYNC");
}

/// A process that loses its notification connection tells its subscribers
/// (they may have missed events), reconnects, and serves new subscriptions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn a_lost_notification_connection_is_never_silent() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let server = TestServer::start_on(&db, Settings::default()).await;
    let program = create_dsl_program(&server, "Mall").await;
    let mut live = LiveClient::connect(&server, &viewer()).await;
    live.subscribe("modes", MODE_CHANGED, json!({ "id": program }))
        .await;
    wait_for_subscriptions(&server, 1).await;
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'update-mode-live' AND datname = current_database()",
    )
    .await;
    assert_eq!(live.ended_with("modes").await, "SUBSCRIPTION_INTERRUPTED");
    // The process listens again by itself; then subscribing works again.
    eventually(
        Duration::from_secs(10),
        "the process to listen again",
        || async {
            (server.log().matches("following committed events").count() >= 2).then_some(())
        },
    )
    .await;
    live.subscribe("again", MODE_CHANGED, json!({ "id": program }))
        .await;
    wait_for_subscriptions(&server, 1).await;
    update_mode(&server, &admin(), &program, "SYNC")
        .await
        .data();
    assert_eq!(
        live.next_data("again").await["updateModeChanged"]["mode"],
        "SYNC"
    );
}

/// A stopping process tells its WebSocket clients to reconnect elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_process_closes_its_connections_with_1001() {
    let (mut server, _db) = TestServer::start(Backend::Sqlite).await;
    let program = create_dsl_program(&server, "Mall").await;
    let mut live = LiveClient::connect(&server, &viewer()).await;
    live.subscribe("1", MODE_CHANGED, json!({ "id": program }))
        .await;
    wait_for_subscriptions(&server, 1).await;
    server.terminate();
    let closed = live.expect_closed().await;
    assert_eq!(closed.code, 1001, "{closed:?}");
    assert!(server.wait_for_exit(Duration::from_secs(10)).is_some());
}
