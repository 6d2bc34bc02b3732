use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use update_mode::app::Plugins;
use update_mode::domain::EventType;
use update_mode::hooks::{GuardHook, HookEvent, NotifyError, NotifyHook, Veto};

use crate::common::*;
use crate::on_both_backends;

fn settings(env: &[(&str, &str)]) -> Settings {
    let mut all = vec![
        (
            "WEBHOOK_ALLOW_PRIVATE_TARGETS".to_owned(),
            "true".to_owned(),
        ),
        ("WEBHOOK_RETRY_BASE_MS".to_owned(), "100".to_owned()),
        ("WEBHOOK_RETRY_MAX_MS".to_owned(), "400".to_owned()),
    ];
    for (name, value) in env {
        all.retain(|(n, _)| n != name);
        all.push(((*name).to_owned(), (*value).to_owned()));
    }
    Settings {
        env: all,
        ..Settings::default()
    }
}

async fn start(backend: Backend, env: &[(&str, &str)]) -> (TestServer, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    let server = TestServer::start_on(&db, settings(env)).await;
    (server, db)
}

fn event_summary(body: &Value) -> (String, Value, Value) {
    (
        body["type"].as_str().unwrap().to_owned(),
        body["data"]["version"].clone(),
        body["data"]["updateMode"].clone(),
    )
}

on_both_backends! {
    async fn a_partner_follows_the_release_through_signed_webhooks(backend: Backend) {
        let (server, _db) = start(backend, &[]).await;
        let program = create_dsl_program(&server, "Shop").await;
        let first = create_version(&server, &program, "1.0.0").await;
        submit(&server, &developer(), &first).await.data();
        decide(&server, &admin(), &first, "APPROVE").await;
        release(&server, &first, None).await;

        let receiver = Receiver::start().await;
        let (integration, secret) = register_integration(&server, &receiver.url).await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let second = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &second).await.data();

        // The integration learns of the submission with the fixed mode, and answers.
        let delivered = receiver.wait_for(2).await;
        let submitted = delivered[1].verified(&secret);
        assert_eq!(submitted["type"], "version.submitted_for_release_approval");
        assert_eq!(submitted["data"]["versionId"], json!(second));
        assert_eq!(submitted["data"]["updateMode"], "ASYNC");
        assert_eq!(submitted["data"]["status"], "PENDING_APPROVAL");
        assert_eq!(submitted["data"]["workspaceId"], WORKSPACE);
        assert_eq!(submitted["data"]["miniProgramId"], json!(program));
        assert_eq!(submitted["data"]["actor"], "developer-user");
        decide(&server, &approver(), &second, "APPROVE").await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        release(&server, &second, Some(10)).await;
        release(&server, &second, None).await;

        let delivered = receiver.wait_for(7).await;
        let events: Vec<Value> = delivered.iter().map(|r| r.verified(&secret)).collect();
        let summary: Vec<(String, Value, Value)> = events.iter().map(event_summary).collect();
        assert_eq!(
            summary,
            [
                ("update_mode.changed".into(), Value::Null, json!("ASYNC")),
                ("version.submitted_for_release_approval".into(), json!("1.1.0"), json!("ASYNC")),
                ("version.approved".into(), json!("1.1.0"), json!("ASYNC")),
                ("update_mode.changed".into(), Value::Null, json!("SYNC")),
                ("version.released".into(), json!("1.1.0"), json!("ASYNC")),
                ("version.released".into(), json!("1.1.0"), json!("ASYNC")),
                ("version.offline".into(), json!("1.0.0"), json!("DEFAULT")),
            ]
        );
        assert_eq!(events[0]["data"]["previousMode"], "DEFAULT");
        assert_eq!(events[2]["data"]["comment"], "ok");
        assert_eq!(events[4]["data"]["grayPercentage"], 10);
        assert_eq!(events[5]["data"]["status"], "FULL_RELEASE");
        assert_eq!(events[6]["data"]["status"], "OFFLINE");
        let ids: BTreeSet<String> = delivered.iter().map(Received::webhook_id).collect();
        assert_eq!(ids.len(), 7, "each event has its own webhook-id");

        let log = deliveries(&server, &integration).await;
        assert_eq!(log.len(), 7);
        for (entry, received) in log.iter().zip(&delivered) {
            assert_eq!(entry["status"], "DELIVERED");
            assert_eq!(entry["attempts"], 1);
            assert_eq!(entry["eventId"], json!(received.webhook_id()));
            assert!(entry["deliveredAt"].is_string());
        }
        assert_eq!(log[1]["eventType"], "VERSION_SUBMITTED_FOR_RELEASE_APPROVAL");
    }

    async fn failed_attempts_are_retried_with_the_same_webhook_id(backend: Backend) {
        let (server, _db) = start(backend, &[]).await;
        let receiver = Receiver::start().await;
        receiver.fail_next(2);
        let (integration, secret) = register_integration(&server, &receiver.url).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();

        let delivered = receiver.wait_for(1).await;
        let attempts = receiver.received();
        assert_eq!(attempts.len(), 3);
        assert_eq!(attempts.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 500, 204]);
        assert!(attempts.iter().all(|r| r.webhook_id() == delivered[0].webhook_id()));
        assert_eq!(delivered[0].verified(&secret)["data"]["updateMode"], "SYNC");
        let log = eventually(Duration::from_secs(10), "the log to show the delivery", || async {
            let log = deliveries(&server, &integration).await;
            (log[0]["status"] == "DELIVERED").then_some(log)
        })
        .await;
        assert_eq!(log[0]["attempts"], 3);
        assert_eq!(log[0]["lastError"], Value::Null);
    }

    async fn exhausted_deliveries_fail_and_can_be_redelivered(backend: Backend) {
        let (server, _db) = start(backend, &[("WEBHOOK_MAX_ATTEMPTS", "2")]).await;
        let receiver = Receiver::start().await;
        receiver.fail_next(2);
        let (integration, secret) = register_integration(&server, &receiver.url).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();

        let log = eventually(Duration::from_secs(10), "the delivery to fail", || async {
            let log = deliveries(&server, &integration).await;
            (log[0]["status"] == "FAILED").then_some(log)
        })
        .await;
        assert_eq!(log[0]["attempts"], 2);
        assert_eq!(log[0]["lastError"], "the receiver answered HTTP 500");
        assert_eq!(log[0]["nextAttemptAt"], Value::Null);
        assert!(receiver.delivered().is_empty());

        // A later event is not held back by a failed one.
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let delivered = receiver.wait_for(1).await;
        assert_eq!(delivered[0].verified(&secret)["data"]["updateMode"], "SYNC");

        let response = server
            .gql(
                &admin(),
                "mutation($i: ID!, $e: ID!) { redeliverHookEvent(input: { integrationId: $i, eventId: $e }) { delivery { status attempts } } }",
                json!({ "i": integration, "e": log[0]["eventId"] }),
            )
            .await;
        assert_eq!(response.data()["redeliverHookEvent"]["delivery"], json!({ "status": "PENDING", "attempts": 0 }));
        let delivered = receiver.wait_for(2).await;
        assert_eq!(delivered[1].webhook_id(), log[0]["eventId"].as_str().unwrap());
        assert_eq!(delivered[1].verified(&secret)["data"]["updateMode"], "ASYNC");

        let response = server
            .gql(
                &developer(),
                "mutation($i: ID!, $e: ID!) { redeliverHookEvent(input: { integrationId: $i, eventId: $e }) { delivery { status } } }",
                json!({ "i": integration, "e": log[0]["eventId"] }),
            )
            .await;
        assert_eq!(response.code(), "FORBIDDEN");
        let response = server
            .gql(
                &admin(),
                "mutation($i: ID!) { redeliverHookEvent(input: { integrationId: $i, eventId: \"evt_nope\" }) { delivery { status } } }",
                json!({ "i": integration }),
            )
            .await;
        assert_eq!(response.code(), "NOT_FOUND");
    }

    async fn each_program_is_delivered_in_commit_order(backend: Backend) {
        let (server, _db) = start(backend, &[]).await;
        let receiver = Receiver::start().await;
        receiver.fail_next(1);
        let (_, secret) = register_integration(&server, &receiver.url).await;
        let program = create_dsl_program(&server, "Shop").await;
        let modes = ["ASYNC", "SYNC", "DEFAULT", "ASYNC", "SYNC", "DEFAULT"];
        for mode in modes {
            update_mode(&server, &admin(), &program, mode).await.data();
        }
        let delivered = receiver.wait_for(modes.len()).await;
        let seen: Vec<Value> = delivered.iter().map(|r| r.verified(&secret)["data"]["updateMode"].clone()).collect();
        assert_eq!(seen, modes.map(|m| json!(m)));
    }

    async fn pending_deliveries_survive_a_killed_process(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        // The receiver's port, with nothing listening yet.
        let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        // A delivery claimed when the process dies is taken over once its
        // lease runs out.
        let leases = settings(&[("HOOK_LEASE_MS", "1000")]);
        let mut server = TestServer::start_on(&db, leases.clone()).await;
        let (_, secret) = register_integration(&server, &format!("http://{address}/hooks")).await;
        let program = create_dsl_program(&server, "Shop").await;
        for mode in ["ASYNC", "SYNC", "DEFAULT"] {
            update_mode(&server, &admin(), &program, mode).await.data();
        }
        server.kill();

        let receiver = Receiver::start_on(address).await;
        let _server = TestServer::start_on(&db, leases).await;
        let delivered = receiver.wait_for(3).await;
        let seen: Vec<Value> = delivered.iter().map(|r| r.verified(&secret)["data"]["updateMode"].clone()).collect();
        assert_eq!(seen, [json!("ASYNC"), json!("SYNC"), json!("DEFAULT")]);
    }

    async fn integrations_are_managed_by_workspace_admins(backend: Backend) {
        let (server, _db) = start(backend, &[]).await;
        let receiver = Receiver::start().await;
        let register = |token: String, input: Value| {
            let server = &server;
            async move { server.gql(&token, REGISTER, json!({ "input": input })).await }
        };
        let bad_inputs = [
            (json!({ "name": "X", "url": "ftp://partner.example/", "events": ["VERSION_RELEASED"] }), "url"),
            (json!({ "name": "X", "url": "not a url", "events": ["VERSION_RELEASED"] }), "url"),
            (json!({ "name": "X", "url": receiver.url, "events": [] }), "events"),
            (json!({ "name": " ", "url": receiver.url, "events": ["VERSION_RELEASED"] }), "name"),
        ];
        for (input, field) in bad_inputs {
            let response = register(admin(), input).await;
            assert_eq!(response.code(), "BAD_USER_INPUT");
            assert_eq!(response.error()["extensions"]["field"], field);
        }
        for token in [developer(), viewer(), approver()] {
            let response = register(token.clone(), json!({ "name": "X", "url": receiver.url, "events": ["VERSION_RELEASED"] })).await;
            assert_eq!(response.code(), "FORBIDDEN");
            assert_eq!(server.gql(&token, "{ releaseIntegrations { id } }", json!({})).await.code(), "FORBIDDEN");
        }
        let listed = server.gql(&admin(), "{ releaseIntegrations { id } }", json!({})).await;
        assert_eq!(listed.data()["releaseIntegrations"], json!([]), "refusals created nothing");

        let response = register(admin(), json!({ "name": "Desk", "url": receiver.url, "events": ["UPDATE_MODE_CHANGED"] })).await;
        let created = &response.data()["registerReleaseIntegration"];
        let id = created["integration"]["id"].as_str().unwrap().to_owned();
        let first_secret = created["secret"].as_str().unwrap().to_owned();
        assert!(first_secret.starts_with("whsec_"));
        assert_eq!(created["integration"]["active"], true);
        assert_eq!(created["integration"]["events"], json!(["UPDATE_MODE_CHANGED"]));

        // Only subscribed events are delivered.
        let program = create_dsl_program(&server, "Shop").await;
        let version = create_version(&server, &program, "1.0.0").await;
        submit(&server, &developer(), &version).await.data();
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let delivered = receiver.wait_for(1).await;
        assert_eq!(delivered[0].verified(&first_secret)["type"], "update_mode.changed");

        let response = server
            .gql(&admin(), "mutation($id: ID!) { rotateReleaseIntegrationSecret(input: { id: $id }) { secret } }", json!({ "id": id }))
            .await;
        let second_secret = response.data()["rotateReleaseIntegrationSecret"]["secret"].as_str().unwrap().to_owned();
        assert_ne!(second_secret, first_secret);
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let delivered = receiver.wait_for(2).await;
        assert_eq!(delivered[1].verified(&second_secret)["data"]["updateMode"], "ASYNC");

        let response = server
            .gql(
                &admin(),
                "mutation($id: ID!) { updateReleaseIntegration(input: { id: $id, active: false, url: \"https://partner.example/v2\" }) { integration { active url } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(response.data()["updateReleaseIntegration"]["integration"], json!({ "active": false, "url": "https://partner.example/v2" }));
        // Deliveries are queued in the change's transaction: an inactive
        // integration has none queued, so nothing new can ever be sent to it.
        update_mode(&server, &admin(), &program, "DEFAULT").await.data();
        let log = deliveries(&server, &id).await;
        assert_eq!(log.len(), 2, "an inactive integration gets nothing new: {log:?}");
        assert!(log.iter().all(|entry| entry["status"] == "DELIVERED"));
        assert_eq!(receiver.received().len(), 2);

        let intruder = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        let response = server
            .gql(&intruder, "mutation($id: ID!) { deleteReleaseIntegration(input: { id: $id }) { deletedIntegrationId } }", json!({ "id": id }))
            .await;
        assert_eq!(response.code(), "NOT_FOUND");
        let response = server
            .gql(&admin(), "mutation($id: ID!) { deleteReleaseIntegration(input: { id: $id }) { deletedIntegrationId } }", json!({ "id": id }))
            .await;
        assert_eq!(response.data()["deleteReleaseIntegration"]["deletedIntegrationId"], json!(id));
        let listed = server.gql(&admin(), "{ releaseIntegrations { id } }", json!({})).await;
        assert_eq!(listed.data()["releaseIntegrations"], json!([]));
    }

    async fn integration_names_are_checked_and_unique_in_the_workspace(backend: Backend) {
        let (server, _db) = start(backend, &[]).await;
        let (desk, _) = register_integration(&server, "https://partner.example/hooks").await;
        let register = |name: &str| {
            let server = &server;
            let input = json!({ "name": name, "url": "https://other.example/hooks", "events": ["VERSION_RELEASED"] });
            async move { server.gql(&admin(), REGISTER, json!({ "input": input })).await }
        };
        let response = register("Other desk").await;
        let other = response.data()["registerReleaseIntegration"]["integration"]["id"].as_str().unwrap().to_owned();
        let listed = || async { server.gql(&admin(), "{ releaseIntegrations { id name url } }", json!({})).await.data()["releaseIntegrations"].clone() };
        let before = listed().await;
        let rename = "mutation($id: ID!, $name: String!) { updateReleaseIntegration(input: { id: $id, name: $name }) { integration { name } } }";
        for (name, code) in [
            ("REVIEW DESK", "CONFLICT"),
            ("review\u{200B} desk", "CONFLICT"),
            ("\u{200B}\u{200B}", "BAD_USER_INPUT"),
            ("\u{FEFF}Desk", "BAD_USER_INPUT"),
            ("Desk\u{2067}", "BAD_USER_INPUT"),
        ] {
            let response = register(name).await;
            assert_eq!(response.code(), code, "{name:?}: {}", response.body);
            assert_eq!(response.error()["extensions"]["field"], "name");
            let response = server.gql(&admin(), rename, json!({ "id": other, "name": name })).await;
            assert_eq!(response.code(), code, "rename to {name:?}: {}", response.body);
        }
        assert_eq!(listed().await, before, "the refusals stored nothing and changed nothing");
        // Renaming an integration to another spelling of its own name is no conflict.
        let response = server.gql(&admin(), rename, json!({ "id": desk, "name": "REVIEW DESK" })).await;
        assert_eq!(response.data()["updateReleaseIntegration"]["integration"]["name"], "REVIEW DESK");
    }

    async fn delivery_cursors_are_the_event_ids_the_log_shows(backend: Backend) {
        use base64::Engine as _;
        let (server, _db) = start(backend, &[]).await;
        let receiver = Receiver::start().await;
        let (integration, _) = register_integration(&server, &receiver.url).await;
        let program = create_dsl_program(&server, "Shop").await;
        for mode in ["SYNC", "ASYNC", "DEFAULT"] {
            update_mode(&server, &admin(), &program, mode).await.data();
        }
        receiver.wait_for(3).await;
        let page = |after: Value| {
            let server = &server;
            async move {
                server
                    .gql(&admin(), "query($after: String) { releaseIntegrations { deliveries(first: 2, after: $after) {
                        pageInfo { endCursor } edges { cursor node { eventId } } } } }", json!({ "after": after }))
                    .await
            }
        };
        let first = page(Value::Null).await;
        let edges = first.data()["releaseIntegrations"][0]["deliveries"]["edges"].as_array().unwrap().clone();
        for edge in &edges {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(edge["cursor"].as_str().unwrap()).unwrap();
            assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), edge["node"]["eventId"], "nothing but the event id");
        }
        let rest = page(edges[1]["cursor"].clone()).await;
        let rest = rest.data()["releaseIntegrations"][0]["deliveries"]["edges"].as_array().unwrap().clone();
        assert_eq!(rest.len(), 1);
        let all = deliveries(&server, &integration).await;
        assert_eq!(rest[0]["node"]["eventId"], all[0]["eventId"], "the oldest comes last");
        let numeric = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("2");
        let refused = page(json!(numeric)).await;
        assert_eq!(refused.code(), "BAD_USER_INPUT");
    }

    async fn private_targets_are_refused_unless_allowed(backend: Backend) {
        let (server, _db) = start(backend, &[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "false"), ("WEBHOOK_MAX_ATTEMPTS", "1")]).await;
        let receiver = Receiver::start().await;
        // A name is resolved, and its address refused, when the sender connects.
        let localhost = receiver.url.replace("127.0.0.1", "localhost");
        let (by_name, _) = register_integration(&server, &localhost).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let log = eventually(Duration::from_secs(10), "the delivery to fail", || async {
            let log = deliveries(&server, &by_name).await;
            (log[0]["status"] == "FAILED").then_some(log)
        })
        .await;
        let error = log[0]["lastError"].as_str().unwrap();
        assert!(error.contains("is not public"), "{error}");
        assert!(receiver.received().is_empty());
    }

    async fn literal_private_addresses_are_refused_at_registration_in_every_spelling(backend: Backend) {
        let (server, _db) = start(backend, &[("WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")]).await;
        let receiver = Receiver::start().await;
        let port = receiver.url.rsplit_once(':').unwrap().1.split('/').next().unwrap().to_owned();
        let (integration, _) = register_integration(&server, "https://partner.example/hooks").await;
        let listed = || async {
            server.gql(&admin(), "{ releaseIntegrations { id url } }", json!({})).await.data()["releaseIntegrations"].clone()
        };
        let before = listed().await;
        let update = "mutation($id: ID!, $url: String!) { updateReleaseIntegration(input: { id: $id, url: $url }) { integration { url } } }";
        for host in [
            "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.1.", "[::ffff:127.0.0.1]",
            "[::1]", "[::]", "0.0.0.0", "[fd00::1]", "[fe80::1]", "100.64.0.1", "169.254.169.254", "10.0.0.7",
        ] {
            let url = format!("http://{host}:{port}/hooks");
            let response = server
                .gql(&admin(), REGISTER, json!({ "input": { "name": "Inside", "url": url, "events": ["VERSION_RELEASED"] } }))
                .await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "{url}: {}", response.body);
            assert_eq!(response.error()["extensions"]["field"], "url", "{url}");
            let response = server.gql(&admin(), update, json!({ "id": integration, "url": url })).await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "{url}: {}", response.body);
            assert_eq!(response.error()["extensions"]["field"], "url", "{url}");
        }
        assert_eq!(listed().await, before, "the refusals stored nothing and changed nothing");
    }

    async fn redirects_are_not_followed(backend: Backend) {
        let (server, _db) = start(backend, &[("WEBHOOK_MAX_ATTEMPTS", "1")]).await;
        let receiver = Receiver::start().await;
        let (integration, _) = register_integration(&server, &receiver.url.replace("/hooks", "/moved")).await;
        let program = create_dsl_program(&server, "Shop").await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let log = eventually(Duration::from_secs(10), "the delivery to fail", || async {
            let log = deliveries(&server, &integration).await;
            (log[0]["status"] == "FAILED").then_some(log)
        })
        .await;
        assert_eq!(log[0]["lastError"], "the receiver answered HTTP 307");
        assert!(receiver.received().is_empty(), "the redirect was followed");
    }

    async fn a_guard_plugin_vetoes_and_nothing_changes(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let heard = Arc::new(Recorder::default());
        let plugins = Plugins {
            guards: vec![Arc::new(NoSync)],
            notifiers: vec![heard.clone()],
            ..Plugins::default()
        };
        let server = InProcessServer::start(&db, settings(&[]), plugins).await;
        let receiver = Receiver::start().await;
        register_integration(&server, &receiver.url).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;

        let response = update_mode(&server, &admin(), &program, "SYNC").await;
        assert_eq!(response.code(), "HOOK_REJECTED");
        assert_eq!(response.error()["extensions"]["hook"], "no-sync");
        assert!(response.error()["message"].as_str().unwrap().contains("SYNC is frozen"));
        assert_eq!(program_state(&server, &program).await, before);

        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        receiver.wait_for(1).await;
        let heard = eventually(Duration::from_secs(10), "the notify hook", || async {
            let heard = heard.events();
            (!heard.is_empty()).then_some(heard)
        })
        .await;
        assert_eq!(heard.len(), 1, "the vetoed change announced nothing");
        assert_eq!(heard[0].data["updateMode"], "ASYNC");
        assert_eq!(receiver.received().len(), 1);
    }

    async fn a_slow_guard_fails_closed(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let plugins = Plugins {
            guards: vec![Arc::new(Sleepy)],
            ..Plugins::default()
        };
        let server = InProcessServer::start(&db, settings(&[("HOOK_GUARD_TIMEOUT_MS", "200")]), plugins).await;
        let program = create_dsl_program(&server, "Shop").await;
        let before = program_state(&server, &program).await;
        let response = update_mode(&server, &admin(), &program, "SYNC").await;
        assert_eq!(response.code(), "HOOK_REJECTED");
        assert_eq!(program_state(&server, &program).await, before);
    }

    async fn a_panicking_notify_plugin_fails_its_deliveries_only(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let heard = Arc::new(Recorder::default());
        let plugins = Plugins {
            notifiers: vec![Arc::new(Panicky), heard.clone()],
            ..Plugins::default()
        };
        let server = InProcessServer::start(&db, settings(&[("WEBHOOK_MAX_ATTEMPTS", "1")]), plugins).await;
        let program = create_dsl_program(&server, "Shop").await;
        for mode in ["ASYNC", "SYNC"] {
            update_mode(&server, &admin(), &program, mode).await.data();
        }
        let heard = eventually(Duration::from_secs(10), "the other plugin to hear both events", || async {
            let heard = heard.events();
            (heard.len() == 2).then_some(heard)
        })
        .await;
        assert_eq!(heard[1].data["updateMode"], "SYNC", "the dispatcher kept going");
    }

    async fn notify_plugins_hear_every_committed_event_in_order(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let heard = Arc::new(Recorder::default());
        let plugins = Plugins {
            guards: Vec::new(),
            notifiers: vec![heard.clone()],
            ..Plugins::default()
        };
        let server = InProcessServer::start(&db, settings(&[]), plugins).await;
        let program = create_dsl_program(&server, "Shop").await;
        let version = create_version(&server, &program, "1.0.0").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        submit(&server, &developer(), &version).await.data();
        decide(&server, &approver(), &version, "REJECT").await;
        let heard = eventually(Duration::from_secs(10), "four events", || async {
            let heard = heard.events();
            (heard.len() >= 4).then_some(heard)
        })
        .await;
        let types: Vec<EventType> = heard.iter().map(|e| e.event_type).collect();
        assert_eq!(types, [EventType::VersionCreated, EventType::UpdateModeChanged, EventType::VersionSubmittedForReleaseApproval, EventType::VersionRejected]);
        assert_eq!(heard[0].data["status"], "NEW_VERSION_CREATED");
        assert_eq!(heard[0].data["updateMode"], "DEFAULT", "the mode the new version will execute");
        assert_eq!(heard[1].data["revision"], 2);
        assert_eq!(heard[3].data["comment"], "ok");
    }
}

/// Two processes on one PostgreSQL database share the deliveries: every
/// event reaches the integration exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn two_processes_deliver_each_event_exactly_once() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&db, settings(&[("HOOK_POLL_INTERVAL_MS", "100")])).await;
    let second = TestServer::start_on(&db, settings(&[("HOOK_POLL_INTERVAL_MS", "100")])).await;
    let receiver = Receiver::start().await;
    let (integration, secret) = register_integration(&first, &receiver.url).await;
    let mut programs = Vec::new();
    for i in 0..4 {
        programs.push(create_dsl_program(&first, &format!("Program {i}")).await);
    }
    let modes = ["ASYNC", "SYNC", "DEFAULT"];
    let token = admin();
    // Each program's changes one after the other, alternating between the
    // processes; the programs side by side.
    let chains = programs.iter().enumerate().map(|(i, program)| {
        let (first, second, token) = (&first, &second, &token);
        async move {
            for round in 0..6 {
                let server = if (round + i) % 2 == 0 { first } else { second };
                let response = update_mode(server, token, program, modes[round % 3]).await;
                assert_eq!(response.data()["updateMode"]["changed"], true);
            }
        }
    });
    futures_util::future::join_all(chains).await;
    receiver.wait_for(24).await;
    // A delivery is claimed, and its attempt counted, before it is sent:
    // once every one is recorded as delivered (the receiver has a request
    // a moment before its sender records the answer), each was claimed
    // once, by one process, and none can be sent again.
    let log = eventually(
        Duration::from_secs(10),
        "every delivery to be recorded",
        || async {
            let log = deliveries(&first, &integration).await;
            log.iter()
                .all(|entry| entry["status"] == "DELIVERED")
                .then_some(log)
        },
    )
    .await;
    assert_eq!(log.len(), 24);
    for entry in &log {
        assert_eq!(
            (&entry["status"], &entry["attempts"]),
            (&json!("DELIVERED"), &json!(1)),
            "{entry}"
        );
    }
    // And nothing else is on its way: one more event per program, each
    // sent only after the program's earlier ones, arrives as the only news.
    for (i, program) in programs.iter().enumerate() {
        let server = if i % 2 == 0 { &second } else { &first };
        update_mode(server, &token, program, "SYNC").await.data();
    }
    receiver.wait_for(28).await;
    let received = receiver.received();
    assert_eq!(received.len(), 28, "no event was sent twice");
    let ids: BTreeSet<String> = received.iter().map(Received::webhook_id).collect();
    assert_eq!(ids.len(), 28);
    for program in &programs {
        let seen: Vec<Value> = received
            .iter()
            .map(|r| r.verified(&secret))
            .filter(|body| body["data"]["miniProgramId"] == json!(program))
            .map(|body| body["data"]["updateMode"].clone())
            .collect();
        let expected: Vec<Value> = modes
            .iter()
            .cycle()
            .take(6)
            .chain(["SYNC"].iter())
            .map(|m| json!(m))
            .collect();
        assert_eq!(seen, expected, "commit order for {program}");
    }
}

/// Refuses any change to SYNC.
struct NoSync;

#[async_trait::async_trait]
impl GuardHook for NoSync {
    fn name(&self) -> &str {
        "no-sync"
    }

    async fn check(&self, event: &HookEvent) -> Result<(), Veto> {
        if event.event_type == EventType::UpdateModeChanged && event.data["updateMode"] == "SYNC" {
            return Err(Veto {
                reason: "SYNC is frozen this week".into(),
            });
        }
        Ok(())
    }
}

/// Never answers in time.
struct Sleepy;

#[async_trait::async_trait]
impl GuardHook for Sleepy {
    fn name(&self) -> &str {
        "sleepy"
    }

    async fn check(&self, _: &HookEvent) -> Result<(), Veto> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
}

/// Panics on every event.
struct Panicky;

#[async_trait::async_trait]
impl NotifyHook for Panicky {
    fn name(&self) -> &str {
        "panicky"
    }

    async fn notify(&self, _: &HookEvent) -> Result<(), NotifyError> {
        panic!("a plugin bug");
    }
}

/// Keeps what it hears.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<HookEvent>>,
}

impl Recorder {
    fn events(&self) -> Vec<HookEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl NotifyHook for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    async fn notify(&self, event: &HookEvent) -> Result<(), NotifyError> {
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}
