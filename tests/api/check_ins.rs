//! Device check-ins: every launch answer counts, processes add up, and the
//! adoption and impact previews read what devices really reported.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

/// Flushes every second, so that tests see their check-ins soon.
fn flushing() -> Settings {
    Settings::with_env(&[("CHECKIN_FLUSH_SECONDS", "1")])
}

/// A DSL program of the admin's workspace with 2.0.0 fully released under
/// `mode` (the global mode when it was submitted).
async fn released(server: &TestServer, token: &str, name: &str, mode: &str) -> String {
    let program = create_program_as(server, token, name, "DSL", "WORKSPACE").await;
    if mode != "DEFAULT" {
        update_mode(server, token, &program, mode).await.data();
    }
    let version = server
        .gql(
            token,
            "mutation($input: CreateMiniProgramVersionInput!) { createMiniProgramVersion(input: $input) { miniProgramVersion { id } } }",
            json!({ "input": { "miniProgramId": program, "version": "2.0.0" } }),
        )
        .await;
    let version = version.data()["createMiniProgramVersion"]["miniProgramVersion"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    submit(server, token, &version).await.data();
    decide(server, token, &version, "APPROVE").await;
    server
        .gql(token, RELEASE, json!({ "id": version, "g": null }))
        .await
        .data();
    program
}

/// One device's report: its id, its cached version and cache age.
#[derive(Clone)]
struct Device {
    id: String,
    cached: Option<&'static str>,
    age: u64,
}

/// A known population against the default timers (1 hour, 10 days): 1,500
/// devices on 1.0.0 past the async time, 1,200 on 1.5.0 past the sync time,
/// 600 on 1.5.0 before the async time, 300 on the target and 80 first
/// opens; 3,680 devices in all.
fn population() -> Vec<Device> {
    let group = |prefix: &str, count: usize, cached, age| {
        (0..count)
            .map(|i| Device {
                id: format!("{prefix}-{i}"),
                cached,
                age,
            })
            .collect::<Vec<_>>()
    };
    [
        group("due", 1_500, Some("1.0.0"), 5_400),
        group("stale", 1_200, Some("1.5.0"), 900_000),
        group("recent", 600, Some("1.5.0"), 60),
        group("current", 300, Some("2.0.0"), 60),
        group("new", 80, None, 0),
    ]
    .concat()
}

/// Sends each device's launch request; returns the action each was told.
async fn check_in(
    server: &TestServer,
    key: &str,
    program: &str,
    devices: &[Device],
) -> HashMap<String, String> {
    let url = format!("{}/v1/launch/{program}", server.url);
    stream::iter(devices.iter().cloned())
        .map(|device| {
            let request = server.http().get(&url).header("x-client-key", key);
            async move {
                let mut query = vec![
                    ("deviceId", device.id.clone()),
                    ("cacheAgeSeconds", device.age.to_string()),
                ];
                if let Some(cached) = device.cached {
                    query.push(("cachedVersion", cached.to_owned()));
                }
                let answer = request.query(&query).send().await.unwrap();
                assert_eq!(answer.status(), 200, "{}", device.id);
                let body: Value = answer.json().await.unwrap();
                (device.id, body["action"].as_str().unwrap().to_owned())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// How many devices were told each action.
fn tally(actions: &HashMap<String, String>) -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    for action in actions.values() {
        *counts.entry(action.clone()).or_insert(0) += 1;
    }
    counts
}

const ADOPTION: &str = "query($id: ID!, $hours: Int) { miniProgram(id: $id) {
    adoption(sinceHours: $hours) { checkIns devices updatedAt versions { version checkIns devices share } }
    adoptionSeries(sinceHours: $hours) { hour version devices }
} }";

async fn adoption(server: &TestServer, token: &str, program: &str) -> Value {
    server
        .gql(token, ADOPTION, json!({ "id": program }))
        .await
        .data()["miniProgram"]
        .clone()
}

/// Waits until the program's flushed check-ins reach `check_ins`, read as
/// `token` of the program's workspace.
async fn flushed(server: &TestServer, token: &str, program: &str, check_ins: i64) -> Value {
    let seen = eventually(Duration::from_secs(20), "the check-ins flushed", || async {
        let read = adoption(server, token, program).await;
        (read["adoption"]["checkIns"].as_i64() >= Some(check_ins)).then_some(read)
    })
    .await;
    assert_eq!(seen["adoption"]["checkIns"], check_ins, "{seen}");
    seen
}

fn assert_near(estimate: &Value, truth: i64, tolerance: f64, what: &str) {
    let estimate = estimate
        .as_i64()
        .unwrap_or_else(|| panic!("{what}: {estimate}"));
    assert!(
        (estimate - truth).abs() as f64 <= truth as f64 * tolerance,
        "{what}: {estimate} for {truth}"
    );
}

fn version(adoption: &Value, number: Value) -> &Value {
    adoption["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == number)
        .unwrap_or_else(|| panic!("{number} in {adoption}"))
}

const UPDATE_MODE_IMPACT: &str = "query($id: ID!, $mode: UpdateMode!, $hours: Int) {
    updateModeImpact(miniProgramId: $id, mode: $mode, sinceHours: $hours) { devices byAction { action devices } }
}";

const MINIMUM_VERSION_IMPACT: &str = "query($id: ID!, $version: String!, $hours: Int) {
    minimumVersionImpact(miniProgramId: $id, version: $version, sinceHours: $hours) { devicesBelow share }
}";

async fn impact(server: &TestServer, program: &str, mode: &str) -> HashMap<String, i64> {
    let read = server
        .gql(
            &viewer(),
            UPDATE_MODE_IMPACT,
            json!({ "id": program, "mode": mode }),
        )
        .await;
    let impact = &read.data()["updateModeImpact"];
    let by_action: HashMap<String, i64> = impact["byAction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|count| {
            (
                count["action"].as_str().unwrap().to_owned(),
                count["devices"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_action.len(), 3, "every action is listed: {impact}");
    assert_eq!(
        by_action.values().sum::<i64>(),
        impact["devices"].as_i64().unwrap()
    );
    by_action
}

/// The preview of each action within 3% of all devices of what was answered.
fn assert_matches(preview: &HashMap<String, i64>, answered: &HashMap<String, i64>, what: &str) {
    let devices: i64 = answered.values().sum();
    for action in ["NONE", "ASYNC_DOWNLOAD", "SYNC_DOWNLOAD"] {
        let (previewed, real) = (preview[action], answered.get(action).copied().unwrap_or(0));
        assert!(
            (previewed - real).abs() as f64 <= devices as f64 * 0.03,
            "{what}, {action}: previewed {previewed}, answered {real}"
        );
    }
}

on_both_backends! {
    async fn check_ins_show_adoption_and_the_impact_of_a_change(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, flushing()).await;
        let key = create_client_key(&server, &admin()).await;
        let shop = released(&server, &admin(), "Shop", "DEFAULT").await;
        let twin = released(&server, &admin(), "Twin", "SYNC").await;
        let other_admin = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        let other_key = create_client_key(&server, &other_admin).await;
        let theirs = released(&server, &other_admin, "Theirs", "DEFAULT").await;

        // Another workspace's key is refused our program, and not counted.
        let refused = server
            .http()
            .get(format!("{}/v1/launch/{shop}?deviceId=intruder", server.url))
            .header("x-client-key", &other_key)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 404);

        let devices = population();
        let shop_answers = check_in(&server, &key, &shop, &devices).await;
        // 500 devices open the program a second time: check-ins, not devices.
        check_in(&server, &key, &shop, &devices[..500]).await;
        let twin_answers = check_in(&server, &key, &twin, &devices).await;
        check_in(&server, &other_key, &theirs, &devices[..100]).await;

        let read = flushed(&server, &admin(), &shop, 4_180).await;
        let seen = &read["adoption"];
        assert_near(&seen["devices"], 3_680, 0.03, "devices");
        assert!(seen["updatedAt"].is_string());
        for (number, check_ins, devices) in [
            (json!("1.0.0"), 2_000, 1_500),
            (json!("1.5.0"), 1_800, 1_800),
            (json!("2.0.0"), 300, 300),
        ] {
            let version = version(seen, number.clone());
            assert_eq!(version["checkIns"], check_ins, "{number}");
            assert_near(&version["devices"], devices, 0.03, &number.to_string());
            let share = version["share"].as_f64().unwrap();
            assert!((share - devices as f64 / 3_680.0).abs() < 0.03, "{number}: {share}");
        }
        let first_opens = version(seen, Value::Null);
        assert_eq!(first_opens["checkIns"], 80);
        assert_eq!(first_opens["devices"], 80, "small counts are exact");
        let order: Vec<&Value> = seen["versions"].as_array().unwrap().iter().map(|v| &v["version"]).collect();
        assert_eq!(order, [&json!("1.5.0"), &json!("1.0.0"), &json!("2.0.0"), &Value::Null]);
        let series = read["adoptionSeries"].as_array().unwrap();
        for number in [json!("1.0.0"), json!("1.5.0"), json!("2.0.0"), Value::Null] {
            assert!(series.iter().any(|point| point["version"] == number), "{number}: {series:?}");
        }
        assert!(series.windows(2).all(|pair| pair[0]["hour"].as_str() <= pair[1]["hour"].as_str()));

        // The previews match what answers under each mode really gave: Twin
        // serves the same devices the same target under SYNC.
        let (shop_answered, twin_answered) = (tally(&shop_answers), tally(&twin_answers));
        assert_eq!(
            (shop_answered["NONE"], shop_answered["ASYNC_DOWNLOAD"], shop_answered["SYNC_DOWNLOAD"]),
            (900, 1_500, 1_280),
            "before the async time a cache starts as it is"
        );
        assert_eq!(twin_answered["SYNC_DOWNLOAD"], 3_380);
        flushed(&server, &admin(), &twin, 3_680).await;
        assert_matches(&impact(&server, &shop, "DEFAULT").await, &shop_answered, "Shop as it is");
        assert_matches(&impact(&server, &shop, "SYNC").await, &twin_answered, "Shop under SYNC");
        assert_matches(&impact(&server, &twin, "DEFAULT").await, &shop_answered, "Twin under DEFAULT");
        let asynchronous = impact(&server, &shop, "ASYNC").await;
        assert_near(&json!(asynchronous["ASYNC_DOWNLOAD"]), 3_300, 0.03, "ASYNC");
        // First opens download first: 80 devices, counted before the rest.
        assert_near(&json!(asynchronous["SYNC_DOWNLOAD"]), 80, 0.0, "first opens");

        for (floor, below) in [("1.5.0", 1_500), ("2.0.0", 3_300)] {
            let read = server
                .gql(&viewer(), MINIMUM_VERSION_IMPACT, json!({ "id": shop, "version": floor }))
                .await;
            let impact = &read.data()["minimumVersionImpact"];
            assert_near(&impact["devicesBelow"], below, 0.03, floor);
            let share = impact["share"].as_f64().unwrap();
            assert!((share - below as f64 / 3_680.0).abs() < 0.03, "{floor}: {share}");
        }
        let none_below = server
            .gql(&viewer(), MINIMUM_VERSION_IMPACT, json!({ "id": shop, "version": "1.0.0" }))
            .await;
        assert_eq!(none_below.data()["minimumVersionImpact"], json!({ "devicesBelow": 0, "share": 0.0 }));

        // Each workspace sees only its own. Their check-ins may land in a
        // later flush than ours, so they are awaited too.
        flushed(&server, &other_admin, &theirs, 100).await;
        assert_eq!(adoption(&server, &other_admin, &shop).await, Value::Null);
        for (query, variables) in [
            (UPDATE_MODE_IMPACT, json!({ "id": shop, "mode": "SYNC" })),
            (MINIMUM_VERSION_IMPACT, json!({ "id": shop, "version": "1.5.0" })),
        ] {
            let refused = server.gql(&other_admin, query, variables).await;
            assert_eq!(refused.code(), "NOT_FOUND", "{query}");
        }
    }

    async fn bad_windows_and_versions_are_refused(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let shop = released(&server, &admin(), "Shop", "DEFAULT").await;
        for hours in [0, -1, 721] {
            let refused = server
                .gql(&viewer(), ADOPTION, json!({ "id": shop, "hours": hours }))
                .await;
            assert_eq!(refused.code(), "BAD_USER_INPUT", "{hours}");
            let refused = server
                .gql(&viewer(), UPDATE_MODE_IMPACT, json!({ "id": shop, "mode": "SYNC", "hours": hours }))
                .await;
            assert_eq!(refused.code(), "BAD_USER_INPUT", "{hours}");
        }
        for hours in [1, 720] {
            let read = server
                .gql(&viewer(), ADOPTION, json!({ "id": shop, "hours": hours }))
                .await;
            assert_eq!(
                read.data()["miniProgram"]["adoption"],
                json!({ "checkIns": 0, "devices": 0, "updatedAt": null, "versions": [] })
            );
        }
        let refused = server
            .gql(&viewer(), MINIMUM_VERSION_IMPACT, json!({ "id": shop, "version": "1.5" }))
            .await;
        assert_eq!(refused.code(), "BAD_USER_INPUT");
        let unknown = server
            .gql(&viewer(), MINIMUM_VERSION_IMPACT, json!({ "id": "no-such-program", "version": "1.5.0" }))
            .await;
        assert_eq!(unknown.code(), "NOT_FOUND");
    }

    async fn a_graceful_stop_flushes_what_was_counted(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        // Never flushed on schedule within the test: only the stop flushes.
        let quiet = Settings::with_env(&[("CHECKIN_FLUSH_SECONDS", "3600")]);
        let mut server = TestServer::start_on(&db, quiet.clone()).await;
        let key = create_client_key(&server, &admin()).await;
        let shop = released(&server, &admin(), "Shop", "DEFAULT").await;
        check_in(&server, &key, &shop, &population()[..250]).await;
        assert_eq!(adoption(&server, &admin(), &shop).await["adoption"]["checkIns"], 0);
        server.terminate();
        assert!(server.wait_for_exit(Duration::from_secs(20)).is_some_and(|status| status.success()));
        let next = TestServer::start_on(&db, quiet).await;
        let seen = adoption(&next, &admin(), &shop).await;
        assert_eq!(seen["adoption"]["checkIns"], 250);
        assert_near(&seen["adoption"]["devices"], 250, 0.03, "devices");
    }

    async fn hours_past_the_retention_are_deleted(backend: Backend) {
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, flushing()).await;
        let shop = released(&server, &admin(), "Shop", "DEFAULT").await;
        drop(server);
        // An hour three days old, with an empty sketch.
        let (old_hour, sketch) = if db.is_postgres() {
            ("date_trunc('hour', now() AT TIME ZONE 'UTC') - interval '72 hours'", "'\\x010000'::bytea")
        } else {
            ("strftime('%Y-%m-%d %H:00:00', 'now', '-72 hours')", "X'010000'")
        };
        db.execute(&format!(
            "INSERT INTO check_in_hours VALUES ('{shop}', {old_hour}, '1.0.0', 'NONE', false, 'DUE', 7, {sketch}, {old_hour})"
        ))
        .await;
        let kept = Settings::with_env(&[("CHECKIN_FLUSH_SECONDS", "1"), ("CHECKIN_RETENTION_DAYS", "7")]);
        let server = TestServer::start_on(&db, kept).await;
        let month = server.gql(&admin(), ADOPTION, json!({ "id": shop, "hours": 720 })).await;
        assert_eq!(month.data()["miniProgram"]["adoption"]["checkIns"], 7, "kept for 7 days");
        drop(server);

        let one_day = Settings::with_env(&[("CHECKIN_FLUSH_SECONDS", "1"), ("CHECKIN_RETENTION_DAYS", "1")]);
        let server = TestServer::start_on(&db, one_day).await;
        eventually(Duration::from_secs(10), "the old hour deleted", || async {
            let month = server.gql(&admin(), ADOPTION, json!({ "id": shop, "hours": 720 })).await;
            (month.data()["miniProgram"]["adoption"]["checkIns"] == 0).then_some(())
        })
        .await;
    }
}

/// Two processes on one PostgreSQL add up: exact check-ins, and devices
/// seen by both counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn two_processes_add_up() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let first = TestServer::start_on(&db, flushing()).await;
    let second = TestServer::start_on(&db, flushing()).await;
    let key = create_client_key(&first, &admin()).await;
    let shop = released(&first, &admin(), "Shop", "DEFAULT").await;
    eventually(
        Duration::from_secs(5),
        "the second process to know the program",
        || async {
            let answer = second
                .http()
                .get(format!("{}/v1/launch/{shop}?deviceId=probe", second.url))
                .header("x-client-key", &key)
                .send()
                .await
                .unwrap();
            (answer.status() == 200).then_some(())
        },
    )
    .await;
    let devices = population();
    // 2,000 devices through the first, 2,180 through the second, and the
    // 500 in the middle through both.
    let (to_first, to_second) = (&devices[..2_000], &devices[1_500..]);
    let (a, b) = tokio::join!(
        check_in(&first, &key, &shop, to_first),
        check_in(&second, &key, &shop, to_second)
    );
    assert_eq!(a.len() + b.len(), 4_180);
    // The probe counted once too.
    let read = flushed(&first, &admin(), &shop, 4_181).await;
    let seen = &read["adoption"];
    assert_near(&seen["devices"], 3_681, 0.03, "devices");
    let older = version(seen, json!("1.5.0"));
    assert_eq!(older["checkIns"], 2_300, "500 of them through both");
    assert_near(&older["devices"], 1_800, 0.03, "1.5.0");
    assert_eq!(
        adoption(&second, &admin(), &shop).await["adoption"]["checkIns"],
        4_181,
        "every process reads the same figures"
    );
}
