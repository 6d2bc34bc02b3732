use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;
use crate::on_both_backends;

/// The documented gray group: SHA-256 of `{programId}:{deviceId}`, first
/// eight bytes big-endian, modulo 10 000, below percentage x 100.
fn in_gray_group(program: &str, device: &str, percentage: u64) -> bool {
    gray_bucket(program, device) < percentage * 100
}

/// The device's gray bucket, 0 to 9 999.
fn gray_bucket(program: &str, device: &str) -> u64 {
    let digest = Sha256::digest(format!("{program}:{device}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap()) % 10_000
}

/// Names are unique in a workspace: a second key needs its own.
async fn named_client_key(server: &TestServer, token: &str, name: &str) -> String {
    let response = server
        .gql(
            token,
            "mutation($name: String!) { createClientKey(input: { name: $name }) { clientKey { id name revokedAt } key } }",
            json!({ "name": name }),
        )
        .await;
    let created = &response.data()["createClientKey"];
    assert_eq!(created["clientKey"]["revokedAt"], Value::Null);
    created["key"].as_str().unwrap().to_owned()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn launch_with(
    server: &TestServer,
    key: Option<&str>,
    program: &str,
    query: &[(&str, &str)],
    etag: Option<&str>,
) -> Answer {
    let mut request = server
        .http()
        .get(format!("{}/v1/launch/{program}", server.url))
        .query(query);
    if let Some(key) = key {
        request = request.header("x-client-key", key);
    }
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    Answer {
        status,
        headers,
        body,
    }
}

async fn launch(server: &TestServer, key: &str, program: &str, query: &[(&str, &str)]) -> Value {
    let answer = launch_with(server, Some(key), program, query, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

async fn decide_and_release(server: &TestServer, version: &str, gray: Option<i32>) {
    decide(server, &approver(), version, "APPROVE").await;
    release(server, version, gray).await;
}

/// A DSL program whose version `number` is fully released with `mode`.
async fn released(server: &TestServer, name: &str, mode: &str, number: &str) -> (String, String) {
    let program = create_dsl_program(server, name).await;
    if mode != "DEFAULT" {
        update_mode(server, &admin(), &program, mode).await.data();
    }
    let version = create_version(server, &program, number).await;
    submit(server, &developer(), &version).await.data();
    decide_and_release(server, &version, None).await;
    (program, version)
}

fn action(answer: &Value) -> &str {
    answer["action"].as_str().unwrap()
}

on_both_backends! {
    async fn devices_are_told_what_to_do_at_launch(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let key = create_client_key(&server, &admin()).await;

        let (asynchronous, _) = released(&server, "Async", "ASYNC", "1.1.0").await;
        let first_open = launch(&server, &key, &asynchronous, &[("deviceId", "d1")]).await;
        assert_eq!(
            first_open,
            json!({
                "miniProgramId": asynchronous, "targetVersion": "1.1.0", "updateMode": "ASYNC",
                "action": "SYNC_DOWNLOAD", "asyncUpdateSeconds": 3600, "syncUpdateSeconds": 864000,
                "grayRelease": false, "minimumVersion": null, "policyRevision": first_open["policyRevision"],
            })
        );
        assert!(first_open["policyRevision"].is_i64());
        let cases = [
            (&asynchronous, "1.1.0", None, "NONE"),
            (&asynchronous, "1.0.0", Some("99999999"), "ASYNC_DOWNLOAD"),
            (&asynchronous, "1.2.0", None, "SYNC_DOWNLOAD"),
        ];
        for (program, cached, age, expected) in cases {
            let mut query = vec![("deviceId", "d1"), ("cachedVersion", cached)];
            if let Some(age) = age {
                query.push(("cacheAgeSeconds", age));
            }
            assert_eq!(action(&launch(&server, &key, program, &query).await), expected, "{cached}");
        }

        let (synchronous, _) = released(&server, "Sync", "SYNC", "2.0.0").await;
        let answer = launch(&server, &key, &synchronous, &[("deviceId", "d1"), ("cachedVersion", "1.9.9"), ("cacheAgeSeconds", "1")]).await;
        assert_eq!((action(&answer), answer["updateMode"].as_str().unwrap()), ("SYNC_DOWNLOAD", "SYNC"));

        let (default, _) = released(&server, "Default", "DEFAULT", "3.0.0").await;
        for (age, expected) in [(None, "ASYNC_DOWNLOAD"), (Some("5400"), "ASYNC_DOWNLOAD"), (Some("863999"), "ASYNC_DOWNLOAD"), (Some("864000"), "SYNC_DOWNLOAD")] {
            let mut query = vec![("deviceId", "d1"), ("cachedVersion", "2.9.0")];
            if let Some(age) = age {
                query.push(("cacheAgeSeconds", age));
            }
            assert_eq!(action(&launch(&server, &key, &default, &query).await), expected, "age {age:?}");
        }

        let unreleased = create_dsl_program(&server, "Unreleased").await;
        update_mode(&server, &admin(), &unreleased, "SYNC").await.data();
        let answer = launch(&server, &key, &unreleased, &[("deviceId", "d1"), ("cachedVersion", "1.0.0")]).await;
        assert_eq!((answer["targetVersion"].clone(), action(&answer)), (Value::Null, "NONE"));
        assert_eq!(answer["updateMode"], "SYNC", "the global mode when nothing is released");
    }

    async fn gray_releases_reach_a_stable_growing_share(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let key = create_client_key(&server, &admin()).await;
        let (program, _) = released(&server, "Shop", "DEFAULT", "1.0.0").await;
        update_mode(&server, &admin(), &program, "SYNC").await.data();
        let gray = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &gray).await.data();
        decide_and_release(&server, &gray, Some(30)).await;

        let devices: Vec<String> = (0..200).map(|i| format!("device-{i}")).collect();
        let mut members = Vec::new();
        for device in &devices {
            let answer = launch(&server, &key, &program, &[("deviceId", device), ("cachedVersion", "1.0.0")]).await;
            let expected = in_gray_group(&program, device, 30);
            assert_eq!(answer["grayRelease"], expected, "{device}");
            if expected {
                assert_eq!((answer["targetVersion"].as_str(), answer["updateMode"].as_str(), action(&answer)), (Some("1.1.0"), Some("SYNC"), "SYNC_DOWNLOAD"));
                members.push(device.clone());
            } else {
                assert_eq!((answer["targetVersion"].as_str(), answer["updateMode"].as_str()), (Some("1.0.0"), Some("DEFAULT")));
            }
            let again = launch(&server, &key, &program, &[("deviceId", device), ("cachedVersion", "1.0.0")]).await;
            assert_eq!(again["grayRelease"], answer["grayRelease"], "stable for {device}");
        }
        assert!((30..=90).contains(&members.len()), "{} of 200 in a 30% group", members.len());

        release(&server, &gray, Some(60)).await;
        for device in &members {
            let answer = launch(&server, &key, &program, &[("deviceId", device)]).await;
            assert_eq!(answer["grayRelease"], true, "{device} left the group as it grew");
        }
        let grown = devices.iter().filter(|d| in_gray_group(&program, d, 60)).count();
        assert!(grown > members.len());
    }

    async fn taking_a_gray_version_offline_rolls_its_devices_back(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let key = create_client_key(&server, &admin()).await;
        let (program, _) = released(&server, "Shop", "ASYNC", "1.0.0").await;
        let gray = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &gray).await.data();
        decide_and_release(&server, &gray, Some(50)).await;
        let member = (0..1000).map(|i| format!("device-{i}")).find(|d| in_gray_group(&program, d, 50)).unwrap();
        let query = [("deviceId", member.as_str()), ("cachedVersion", "1.1.0")];
        let before = launch(&server, &key, &program, &query).await;
        assert_eq!((before["targetVersion"].as_str(), action(&before)), (Some("1.1.0"), "NONE"));

        server
            .gql(&admin(), "mutation($id: ID!) { takeVersionOffline(input: { versionId: $id }) { miniProgramVersion { status } } }", json!({ "id": gray }))
            .await
            .data();
        let after = launch(&server, &key, &program, &query).await;
        assert_eq!((after["targetVersion"].as_str(), action(&after), after["grayRelease"].as_bool()), (Some("1.0.0"), "SYNC_DOWNLOAD", Some(false)));
        assert!(after["policyRevision"].as_i64() > before["policyRevision"].as_i64());

        let next = create_version(&server, &program, "1.2.0").await;
        submit(&server, &developer(), &next).await.data();
        decide_and_release(&server, &next, None).await;
        let full = launch(&server, &key, &program, &query).await;
        assert_eq!((full["targetVersion"].as_str(), action(&full)), (Some("1.2.0"), "ASYNC_DOWNLOAD"));
    }

    async fn keys_workspaces_and_input_are_checked(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let key = create_client_key(&server, &admin()).await;
        let foreign_key = create_client_key(&server, &token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"])).await;
        let (program, _) = released(&server, "Shop", "ASYNC", "1.0.0").await;
        let device = [("deviceId", "d1")];

        let expect = |answer: Answer, status: u16, code: &str| {
            assert_eq!(answer.status, status, "{}", answer.body);
            assert_eq!(answer.body["error"]["code"], code);
            assert!(answer.body["error"]["message"].is_string());
        };
        expect(launch_with(&server, None, &program, &device, None).await, 401, "UNAUTHENTICATED");
        expect(launch_with(&server, Some("umk_unknown"), &program, &device, None).await, 401, "UNAUTHENTICATED");
        expect(launch_with(&server, Some(&foreign_key), &program, &device, None).await, 404, "NOT_FOUND");
        expect(launch_with(&server, Some(&key), "no-such-program", &device, None).await, 404, "NOT_FOUND");
        let long = "x".repeat(129);
        for query in [
            vec![],
            vec![("deviceId", "")],
            vec![("deviceId", "has space")],
            vec![("deviceId", long.as_str())],
            vec![("deviceId", "d1"), ("cachedVersion", "v1")],
            vec![("deviceId", "d1"), ("cacheAgeSeconds", "-1")],
        ] {
            expect(launch_with(&server, Some(&key), &program, &query, None).await, 400, "BAD_REQUEST");
        }
        // Authentication comes first.
        expect(launch_with(&server, None, &program, &[], None).await, 401, "UNAUTHENTICATED");

        let keys = server.gql(&admin(), "{ clientKeys { id name revokedAt } }", json!({})).await;
        let id = keys.data()["clientKeys"][0]["id"].as_str().unwrap().to_owned();
        let response = server
            .gql(&token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]), "mutation($id: ID!) { revokeClientKey(input: { id: $id }) { clientKey { id } } }", json!({ "id": id }))
            .await;
        assert_eq!(response.code(), "NOT_FOUND");
        assert_eq!(launch_with(&server, Some(&key), &program, &device, None).await.status, 200);
        let response = server
            .gql(&admin(), "mutation($id: ID!) { revokeClientKey(input: { id: $id }) { clientKey { revokedAt } } }", json!({ "id": id }))
            .await;
        assert!(response.data()["revokeClientKey"]["clientKey"]["revokedAt"].is_string());
        expect(launch_with(&server, Some(&key), &program, &device, None).await, 401, "UNAUTHENTICATED");

        for token in [developer(), viewer()] {
            assert_eq!(server.gql(&token, "{ clientKeys { id } }", json!({})).await.code(), "FORBIDDEN");
            assert_eq!(server.gql(&token, "mutation { createClientKey(input: { name: \"x\" }) { key } }", json!({})).await.code(), "FORBIDDEN");
        }
    }

    async fn client_key_names_are_checked_and_unique_among_live_keys(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        named_client_key(&server, &admin(), "iOS app").await;
        let create = |name: &str| {
            let server = &server;
            let name = name.to_owned();
            async move {
                server
                    .gql(&admin(), "mutation($name: String!) { createClientKey(input: { name: $name }) { clientKey { id } } }", json!({ "name": name }))
                    .await
            }
        };
        for (name, code) in [
            ("IOS APP", "CONFLICT"),
            ("ios\u{00A0}app", "CONFLICT"),
            ("\u{200B}", "BAD_USER_INPUT"),
            ("\u{FEFF}Android", "BAD_USER_INPUT"),
            ("Android\u{202E}ppa", "BAD_USER_INPUT"),
        ] {
            let response = create(name).await;
            assert_eq!(response.code(), code, "{name:?}: {}", response.body);
            assert_eq!(response.error()["extensions"]["field"], "name");
        }
        let keys = server.gql(&admin(), "{ clientKeys { id name } }", json!({})).await;
        let listed = keys.data()["clientKeys"].as_array().unwrap().clone();
        assert_eq!(listed.len(), 1, "the refusals created nothing: {listed:?}");
        // A revoked key's name may go to its successor.
        server
            .gql(&admin(), "mutation($id: ID!) { revokeClientKey(input: { id: $id }) { clientKey { id } } }", json!({ "id": listed[0]["id"] }))
            .await
            .data();
        create("IOS APP").await.data();
    }

    async fn answers_carry_a_strong_etag(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings { env: vec![("LAUNCH_CACHE_MAX_AGE_SECONDS".into(), "30".into())], ..Settings::default() };
        let server = TestServer::start_on(&db, settings).await;
        let key = create_client_key(&server, &admin()).await;
        let (program, _) = released(&server, "Shop", "ASYNC", "1.0.0").await;
        let device = [("deviceId", "d1"), ("cachedVersion", "1.0.0")];
        let first = launch_with(&server, Some(&key), &program, &device, None).await;
        assert_eq!(first.headers["cache-control"], "private, max-age=30");
        let etag = first.headers["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");

        let cached = launch_with(&server, Some(&key), &program, &device, Some(&etag)).await;
        assert_eq!(cached.status, 304);
        assert_eq!(cached.body, Value::Null);
        assert_eq!(cached.headers["etag"].to_str().unwrap(), etag);
        let other = launch_with(&server, Some(&key), &program, &device, Some("\"something-else\"")).await;
        assert_eq!(other.status, 200);

        server
            .gql(&admin(), "mutation($id: ID!) { setUpdateTimers(input: { miniProgramId: $id, asyncUpdateSeconds: 60, syncUpdateSeconds: 600 }) { miniProgram { id } } }", json!({ "id": program }))
            .await
            .data();
        let changed = launch_with(&server, Some(&key), &program, &device, Some(&etag)).await;
        assert_eq!(changed.status, 200, "a changed answer is sent again");
        assert_ne!(changed.headers["etag"].to_str().unwrap(), etag);
    }

    async fn a_configured_rate_limit_answers_429(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let settings = Settings { env: vec![("LAUNCH_RATE_LIMIT_PER_MINUTE".into(), "5".into())], ..Settings::default() };
        let server = TestServer::start_on(&db, settings).await;
        let key = create_client_key(&server, &admin()).await;
        let other_key = named_client_key(&server, &admin(), "Android app").await;
        let (program, _) = released(&server, "Shop", "ASYNC", "1.0.0").await;
        for _ in 0..5 {
            assert_eq!(launch_with(&server, Some(&key), &program, &[("deviceId", "d1")], None).await.status, 200);
        }
        let limited = launch_with(&server, Some(&key), &program, &[("deviceId", "d1")], None).await;
        assert_eq!(limited.status, 429);
        assert_eq!(limited.body["error"]["code"], "RATE_LIMITED");
        let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=13).contains(&retry), "{retry}");
        assert_eq!(launch_with(&server, Some(&other_key), &program, &[("deviceId", "d1")], None).await.status, 200);
        // Unknown keys are refused before they count against anything.
        assert_eq!(launch_with(&server, Some("umk_nope"), &program, &[("deviceId", "d1")], None).await.status, 401);
    }

    async fn admins_set_the_update_timers(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let key = create_client_key(&server, &admin()).await;
        let (program, _) = released(&server, "Shop", "DEFAULT", "1.0.0").await;
        let set = |token: String, program: String, async_seconds: i64, sync_seconds: i64| {
            let server = &server;
            async move {
                server
                    .gql(
                        &token,
                        "mutation($id: ID!, $a: Int!, $s: Int!) { setUpdateTimers(input: { miniProgramId: $id, asyncUpdateSeconds: $a, syncUpdateSeconds: $s }) { miniProgram { asyncUpdateSeconds syncUpdateSeconds revision } } }",
                        json!({ "id": program, "a": async_seconds, "s": sync_seconds }),
                    )
                    .await
            }
        };
        let before = launch(&server, &key, &program, &[("deviceId", "d1")]).await;
        let before_state = program_state(&server, &program).await;
        for (a, s, field) in [(600, 600, "asyncUpdateSeconds"), (0, 600, "asyncUpdateSeconds"), (60, 400_000_000, "syncUpdateSeconds")] {
            let response = set(admin(), program.clone(), a, s).await;
            assert_eq!(response.code(), "BAD_USER_INPUT");
            assert_eq!(response.error()["extensions"]["field"], field);
        }
        assert_eq!(set(developer(), program.clone(), 60, 600).await.code(), "FORBIDDEN");
        let web = create_program(&server, "Web", "H5", "WORKSPACE").await;
        let response = set(admin(), web, 60, 600).await;
        assert_eq!(response.code(), "UPDATE_MODE_LOCKED");
        assert_eq!(program_state(&server, &program).await, before_state);

        let response = set(admin(), program.clone(), 60, 7200).await;
        assert_eq!(
            response.data()["setUpdateTimers"]["miniProgram"],
            json!({ "asyncUpdateSeconds": 60, "syncUpdateSeconds": 7200, "revision": before_state["revision"].as_i64().unwrap() + 1 })
        );
        let after = launch(&server, &key, &program, &[("deviceId", "d1"), ("cachedVersion", "0.9.0"), ("cacheAgeSeconds", "7200")]).await;
        assert_eq!((after["asyncUpdateSeconds"].as_i64(), after["syncUpdateSeconds"].as_i64()), (Some(60), Some(7200)));
        assert_eq!(action(&after), "SYNC_DOWNLOAD", "past the new sync time");
        assert!(after["policyRevision"].as_i64() > before["policyRevision"].as_i64());
    }

    async fn the_preview_is_the_device_answer(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let key = create_client_key(&server, &admin()).await;
        let (program, _) = released(&server, "Shop", "DEFAULT", "1.0.0").await;
        let gray = create_version(&server, &program, "1.1.0").await;
        submit(&server, &developer(), &gray).await.data();
        decide_and_release(&server, &gray, Some(40)).await;
        let preview = "query($p: ID!, $d: String!, $c: String, $a: Int) { launchPolicy(miniProgramId: $p, deviceId: $d, cachedVersion: $c, cacheAgeSeconds: $a) {
            miniProgramId targetVersion updateMode action asyncUpdateSeconds syncUpdateSeconds grayRelease minimumVersion policyRevision } }";
        for i in 0..10 {
            let device = format!("device-{i}");
            let answer = launch(&server, &key, &program, &[("deviceId", &device), ("cachedVersion", "1.0.0"), ("cacheAgeSeconds", "900000")]).await;
            let response = server.gql(&viewer(), preview, json!({ "p": program, "d": device, "c": "1.0.0", "a": 900000 })).await;
            assert_eq!(response.data()["launchPolicy"], answer, "{device}");
        }
        let explained = "query($p: ID!, $d: String!) { launchPolicy(miniProgramId: $p, deviceId: $d, cachedVersion: \"1.0.0\", cacheAgeSeconds: 900000) { action reasons } }";
        for i in 0..10 {
            let device = format!("device-{i}");
            let response = server.gql(&viewer(), explained, json!({ "p": program, "d": device })).await;
            let policy = &response.data()["launchPolicy"];
            let reasons: Vec<&str> = policy["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            let bucket = gray_bucket(&program, &device);
            assert!(reasons[0].starts_with(&format!("This device's gray bucket is {bucket} of 10,000; 1.1.0 is gray-released to 40% (buckets below 4000)")), "{reasons:?}");
            if in_gray_group(&program, &device, 40) {
                assert_eq!(reasons[1], "The target is the gray version 1.1.0.");
                assert!(reasons[3].contains("at or past the sync timer (10days)"), "{reasons:?}");
                assert_eq!(policy["action"], "SYNC_DOWNLOAD");
            } else {
                assert_eq!(reasons[1], "The target is the full release 1.0.0.");
                assert_eq!(reasons[3], "The cached version is the target, 1.0.0: the device starts it as it is.");
                assert_eq!(policy["action"], "NONE");
            }
            assert!(reasons[2].starts_with("The mode is DEFAULT"), "{reasons:?}");
        }
        let response = server.gql(&viewer(), preview, json!({ "p": program, "d": "bad device" })).await;
        assert_eq!(response.code(), "BAD_USER_INPUT");
        let response = server.gql(&token(OTHER_WORKSPACE, &["VIEWER"]), preview, json!({ "p": program, "d": "d1" })).await;
        assert_eq!(response.code(), "NOT_FOUND");
    }

    async fn launches_run_no_sql(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        // The pool's statements are counted per process, background work
        // included: keep the dispatcher's polling and the snapshot's resync
        // out of the window.
        let quiet = Settings {
            env: vec![("HOOK_POLL_INTERVAL_MS".into(), "600000".into()), ("LAUNCH_RESYNC_SECONDS".into(), "600".into())],
            ..Settings::default()
        };
        let server = InProcessServer::start(&db, quiet, Default::default()).await;
        let key = create_client_key(&server, &admin()).await;
        let (program, _) = released(&server, "Shop", "ASYNC", "1.0.0").await;
        launch(&server, &key, &program, &[("deviceId", "warm-up")]).await;
        // The dispatcher wakes on the last commit, finds nothing and goes idle.
        let before = server.settled_statements().await;
        for i in 0..200 {
            let device = format!("device-{i}");
            launch(&server, &key, &program, &[("deviceId", &device), ("cachedVersion", "0.9.0")]).await;
        }
        assert_eq!(server.statements_executed(), before, "launch requests ran SQL");
        // The counter does count: a GraphQL read runs statements.
        program_state(&server, &program).await;
        assert!(server.statements_executed() > before);
    }
}

/// A change committed through one process reaches the others' answers
/// within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn other_processes_follow_changes_within_a_second() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&db, Settings::default()).await;
    let second = TestServer::start_on(&db, Settings::default()).await;
    let (program, _) = released(&first, "Shop", "ASYNC", "1.0.0").await;
    let key = create_client_key(&first, &admin()).await;

    let within_a_second =
        |what: &'static str, check: Box<dyn Fn(&Answer) -> bool + Send + Sync>| {
            let (second, program, key) = (&second, &program, &key);
            async move {
                let started = Instant::now();
                loop {
                    let answer =
                        launch_with(second, Some(key), program, &[("deviceId", "d1")], None).await;
                    if check(&answer) {
                        return started.elapsed();
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(1),
                        "{what} took over a second"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };

    let took = within_a_second("a new key", Box::new(|a| a.status == 200)).await;
    eprintln!("new key visible on the second process after {took:?}");

    let next = create_version(&first, &program, "1.1.0").await;
    submit(&first, &developer(), &next).await.data();
    decide_and_release(&first, &next, None).await;
    let took = within_a_second(
        "a release",
        Box::new(|a| a.body["targetVersion"] == "1.1.0"),
    )
    .await;
    eprintln!("release visible on the second process after {took:?}");

    let keys = first
        .gql(&admin(), "{ clientKeys { id } }", json!({}))
        .await;
    let id = keys.data()["clientKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    first
        .gql(
            &admin(),
            "mutation($id: ID!) { revokeClientKey(input: { id: $id }) { clientKey { id } } }",
            json!({ "id": id }),
        )
        .await
        .data();
    let took = within_a_second("a revocation", Box::new(|a| a.status == 401)).await;
    eprintln!("revocation visible on the second process after {took:?}");
}

/// The periodic resync reads the policies whose revision moved, so a change
/// that no notification announced still reaches the answers, and only by
/// its revision: a policy row changed without one is not read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn the_resync_reads_the_policies_whose_revision_moved() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let settings = Settings {
        env: vec![("LAUNCH_RESYNC_SECONDS".into(), "1".into())],
        ..Settings::default()
    };
    let server = TestServer::start_on(&db, settings).await;
    let key = create_client_key(&server, &admin()).await;
    let (moved, _) = released(&server, "Shop", "ASYNC", "1.0.0").await;
    let (unmarked, _) = released(&server, "Mall", "ASYNC", "1.0.0").await;
    for program in [&moved, &unmarked] {
        let next = create_version(&server, program, "1.1.0").await;
        submit(&server, &developer(), &next).await.data();
    }
    let target = async |program: &str| {
        launch_with(&server, Some(&key), program, &[("deviceId", "d1")], None)
            .await
            .body["targetVersion"]
            .clone()
    };
    assert_eq!(target(&moved).await, "1.0.0");
    assert_eq!(target(&unmarked).await, "1.0.0");

    // Released behind the server's back: no notification, one revision.
    let release = |program: &str| {
        format!(
            "UPDATE mini_program_versions SET status = CASE minor WHEN 1 THEN 'FULL_RELEASE' ELSE 'OFFLINE' END, \
             update_mode = 'ASYNC' WHERE mini_program_id = '{program}'"
        )
    };
    db.execute(&release(&moved)).await;
    db.execute(&release(&unmarked)).await;
    db.execute(&format!(
        "UPDATE mini_programs SET policy_revision = policy_revision + 1 WHERE id = '{moved}'"
    ))
    .await;
    eventually(
        Duration::from_secs(5),
        "the resync to read the moved policy",
        || async { (target(&moved).await == "1.1.0").then_some(()) },
    )
    .await;
    assert_eq!(target(&unmarked).await, "1.0.0");
}

/// A process whose notification connection is cut reconnects and reloads,
/// rather than serve stale answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn a_cut_notification_connection_is_recovered() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&db, Settings::default()).await;
    let second = TestServer::start_on(&db, Settings::default()).await;
    let (program, _) = released(&first, "Shop", "ASYNC", "1.0.0").await;
    let key = create_client_key(&first, &admin()).await;
    eventually(
        Duration::from_secs(2),
        "the second process to know the key",
        || async {
            (launch_with(&second, Some(&key), &program, &[("deviceId", "d1")], None)
                .await
                .status
                == 200)
                .then_some(())
        },
    )
    .await;

    // Cut every LISTEN connection of this database, as a network fault would.
    db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'")
        .await;
    let next = create_version(&first, &program, "1.1.0").await;
    submit(&first, &developer(), &next).await.data();
    decide_and_release(&first, &next, None).await;
    eventually(
        Duration::from_secs(5),
        "the second process to see the release",
        || async {
            let answer =
                launch_with(&second, Some(&key), &program, &[("deviceId", "d1")], None).await;
            (answer.body["targetVersion"] == "1.1.0").then_some(())
        },
    )
    .await;
    assert!(
        second.log().contains("launch notification connection"),
        "the cut was noticed"
    );
}
