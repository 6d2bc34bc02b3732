//! Update-mode windows: scheduled with the rules of `updateMode`, started
//! and ended by the server itself as `updateMode` would (watched live), a
//! revert skipped when someone changed the mode meanwhile, cancelling, and
//! three processes applying a window once.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::common::live::{LiveClient, wait_for_subscriptions};
use crate::common::*;
use crate::on_both_backends;

const SCHEDULE: &str = "mutation($input: ScheduleUpdateModeInput!) {
    scheduleUpdateMode(input: $input) { scheduledChange { id mode startsAt endsAt status revertTo createdBy note } }
}";
const CANCEL: &str = "mutation($id: ID!) {
    cancelScheduledUpdateMode(input: { id: $id }) { scheduledChange { id status revertTo note } }
}";
const WINDOWS: &str = "query($id: ID!) { miniProgram(id: $id) {
    updateMode scheduledUpdateModes { id mode status revertTo note startsAt endsAt }
} }";
const MODE_CHANGED: &str = "subscription($id: ID!) {
    updateModeChanged(miniProgramId: $id) { previousMode mode changedBy revision changedAt }
}";

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn at(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a date-time"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

async fn schedule(
    server: &TestServer,
    token: &str,
    program: &str,
    mode: &str,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
) -> Gql {
    server
        .gql(
            token,
            SCHEDULE,
            json!({ "input": { "miniProgramId": program, "mode": mode, "startsAt": rfc3339(starts_at), "endsAt": ends_at.map(rfc3339) } }),
        )
        .await
}

fn window_id(response: &Gql) -> String {
    response.data()["scheduleUpdateMode"]["scheduledChange"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn windows(server: &TestServer, program: &str) -> Value {
    server
        .gql(&viewer(), WINDOWS, json!({ "id": program }))
        .await
        .data()["miniProgram"]
        .clone()
}

fn admin_named(subject: &str) -> String {
    let mut claims = claims(WORKSPACE, &["WORKSPACE_ADMIN"]);
    claims["sub"] = json!(subject);
    sign(&claims)
}

on_both_backends! {
    async fn a_window_starts_and_ends_by_itself_as_update_mode_would(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        update_mode(&server, &admin(), &program, "ASYNC").await.data();
        let mut live = LiveClient::connect(&server, &viewer()).await;
        live.subscribe("modes", MODE_CHANGED, json!({ "id": program })).await;
        wait_for_subscriptions(&server, 1).await;

        let starts = Utc::now() + Duration::seconds(2);
        let ends = starts + Duration::seconds(2);
        let scheduled = schedule(&server, &admin_named("campaign-lead"), &program, "SYNC", starts, Some(ends)).await;
        let window = &scheduled.data()["scheduleUpdateMode"]["scheduledChange"];
        assert_eq!(window["status"], "SCHEDULED");
        assert_eq!(window["createdBy"], "campaign-lead");
        assert_eq!(window["revertTo"], Value::Null);
        let id = window["id"].as_str().unwrap().to_owned();
        assert_eq!(windows(&server, &program).await["scheduledUpdateModes"][0]["id"], id);

        // The change made before subscribing may still be on its way.
        let mut started = live.next_data("modes").await["updateModeChanged"].clone();
        if started["mode"] == "ASYNC" {
            started = live.next_data("modes").await["updateModeChanged"].clone();
        }
        assert_eq!((&started["previousMode"], &started["mode"], &started["changedBy"]), (&json!("ASYNC"), &json!("SYNC"), &json!("campaign-lead")));
        let late = at(&started["changedAt"]) - starts;
        assert!(late >= Duration::zero() && late <= Duration::seconds(2), "started {late} after its time");
        let active = windows(&server, &program).await;
        assert_eq!(active["updateMode"], "SYNC");
        assert_eq!(active["scheduledUpdateModes"][0]["status"], "ACTIVE");
        assert_eq!(active["scheduledUpdateModes"][0]["revertTo"], "ASYNC");

        let ended = live.next_data("modes").await["updateModeChanged"].clone();
        assert_eq!((&ended["previousMode"], &ended["mode"]), (&json!("SYNC"), &json!("ASYNC")));
        let late = at(&ended["changedAt"]) - ends;
        assert!(late >= Duration::zero() && late <= Duration::seconds(2), "ended {late} after its time");
        let done = windows(&server, &program).await;
        assert_eq!(done["updateMode"], "ASYNC");
        assert_eq!(done["scheduledUpdateModes"], json!([]));
        let history = program_state(&server, &program).await["updateModeHistory"].clone();
        assert_eq!(history["totalCount"], 3);
        let audit = server.gql(&admin(), "query($t: ID!) { auditLog(first: 10, filter: { targetId: $t, actions: [APPLY_SCHEDULED_UPDATE_MODE] }) { nodes { actor } } }", json!({ "t": id })).await;
        assert_eq!(audit.data()["auditLog"]["nodes"].as_array().unwrap().len(), 2);
    }

    async fn a_revert_is_skipped_when_the_mode_was_changed_during_the_window(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        let starts = Utc::now() + Duration::seconds(1);
        let ends = starts + Duration::seconds(2);
        let id = window_id(&schedule(&server, &admin(), &program, "SYNC", starts, Some(ends)).await);
        eventually(std::time::Duration::from_secs(10), "the window to start", || async {
            (windows(&server, &program).await["scheduledUpdateModes"][0]["status"] == "ACTIVE").then_some(())
        })
        .await;
        update_mode(&server, &admin_named("night-shift"), &program, "ASYNC").await.data();
        let before_end = program_state(&server, &program).await;
        let audit = "query($t: ID!) { auditLog(first: 10, filter: { targetId: $t }) { nodes { action after } } }";
        let skipped = eventually(std::time::Duration::from_secs(10), "the window to end", || async {
            let response = server.gql(&admin(), audit, json!({ "t": id })).await;
            let nodes = response.data()["auditLog"]["nodes"].as_array().unwrap().clone();
            nodes.iter().find(|node| node["after"]["status"] == "SKIPPED").cloned()
        })
        .await;
        let note = skipped["after"]["note"].as_str().unwrap();
        assert!(note.contains("night-shift") && note.contains("ASYNC"), "{note}");
        assert_eq!(program_state(&server, &program).await, before_end, "nothing changed");
        assert_eq!(windows(&server, &program).await["scheduledUpdateModes"], json!([]));
    }

    async fn refused_windows_change_nothing_and_cancelling_reverts_an_active_one(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let program = create_dsl_program(&server, "Mall").await;
        let soon = Utc::now() + Duration::hours(1);
        let first = window_id(&schedule(&server, &admin(), &program, "SYNC", soon, Some(soon + Duration::hours(2))).await);
        let before = windows(&server, &program).await;
        let refusals = [
            (developer(), soon + Duration::days(1), None, "FORBIDDEN", None),
            (token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]), soon + Duration::days(1), None, "NOT_FOUND", None),
            (admin(), Utc::now() - Duration::minutes(1), None, "BAD_USER_INPUT", Some("startsAt")),
            (admin(), Utc::now() + Duration::days(367), None, "BAD_USER_INPUT", Some("startsAt")),
            (admin(), soon + Duration::days(1), Some(soon + Duration::days(1)), "BAD_USER_INPUT", Some("endsAt")),
            (admin(), soon + Duration::minutes(30), None, "CONFLICT", None),
            (admin(), soon - Duration::minutes(30), Some(soon + Duration::minutes(30)), "CONFLICT", None),
        ];
        for (token, starts, ends, code, field) in refusals {
            let refused = schedule(&server, &token, &program, "ASYNC", starts, ends).await;
            assert_eq!(refused.code(), code, "{}", refused.body);
            if let Some(field) = field {
                assert_eq!(refused.error()["extensions"]["field"], field);
            }
        }
        for (program_type, channel) in [("H5", "WORKSPACE"), ("DSL", "ALIPAY_PLUS")] {
            let locked = create_program(&server, &format!("{program_type} {channel}"), program_type, channel).await;
            let refused = schedule(&server, &admin(), &locked, "SYNC", soon, None).await;
            assert_eq!(refused.code(), "UPDATE_MODE_LOCKED");
        }
        assert_eq!(windows(&server, &program).await, before);

        assert_eq!(server.gql(&developer(), CANCEL, json!({ "id": first })).await.code(), "FORBIDDEN");
        assert_eq!(server.gql(&token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]), CANCEL, json!({ "id": first })).await.code(), "NOT_FOUND");
        let cancelled = server.gql(&admin(), CANCEL, json!({ "id": first })).await;
        assert_eq!(cancelled.data()["cancelScheduledUpdateMode"]["scheduledChange"]["status"], "CANCELLED");
        assert_eq!(server.gql(&admin(), CANCEL, json!({ "id": first })).await.code(), "INVALID_TRANSITION");
        assert_eq!(windows(&server, &program).await["scheduledUpdateModes"], json!([]));
        assert_eq!(program_state(&server, &program).await["updateMode"], "DEFAULT");

        // An active window, cancelled, reverts at once.
        let starts = Utc::now() + Duration::seconds(1);
        let active = window_id(&schedule(&server, &admin(), &program, "SYNC", starts, Some(starts + Duration::hours(1))).await);
        eventually(std::time::Duration::from_secs(10), "the window to start", || async {
            (windows(&server, &program).await["updateMode"] == "SYNC").then_some(())
        })
        .await;
        let cancelled = server.gql(&admin(), CANCEL, json!({ "id": active })).await;
        let change = &cancelled.data()["cancelScheduledUpdateMode"]["scheduledChange"];
        assert_eq!((&change["status"], &change["revertTo"], &change["note"]), (&json!("CANCELLED"), &json!("DEFAULT"), &Value::Null));
        assert_eq!(program_state(&server, &program).await["updateMode"], "DEFAULT");
        // A window without an end is a change at a time.
        let once = Utc::now() + Duration::seconds(1);
        schedule(&server, &admin(), &program, "ASYNC", once, None).await.data();
        eventually(std::time::Duration::from_secs(10), "the change", || async {
            let state = windows(&server, &program).await;
            (state["updateMode"] == "ASYNC" && state["scheduledUpdateModes"] == json!([])).then_some(())
        })
        .await;
    }
}

/// Three processes on one PostgreSQL database apply a window's start and
/// end once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(test_database),
    ignore = "set TEST_DATABASE_URL to run against PostgreSQL"
)]
async fn three_processes_apply_a_window_exactly_once() {
    let db = TestDatabase::create(Backend::Postgres).await;
    let servers = futures_util::future::join_all(
        (0..3).map(|_| TestServer::start_on(&db, Settings::default())),
    )
    .await;
    let program = create_dsl_program(&servers[0], "Mall").await;
    let starts = Utc::now() + Duration::seconds(2);
    schedule(
        &servers[1],
        &admin(),
        &program,
        "SYNC",
        starts,
        Some(starts + Duration::seconds(1)),
    )
    .await
    .data();
    eventually(
        std::time::Duration::from_secs(15),
        "the window to end",
        || async {
            let state = windows(&servers[2], &program).await;
            (state["scheduledUpdateModes"] == json!([])).then_some(())
        },
    )
    .await;
    let state = program_state(&servers[0], &program).await;
    assert_eq!(state["updateMode"], "DEFAULT");
    let history: Vec<(Value, Value)> = state["updateModeHistory"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| (change["previousMode"].clone(), change["mode"].clone()))
        .collect();
    assert_eq!(
        history,
        [
            (json!("SYNC"), json!("DEFAULT")),
            (json!("DEFAULT"), json!("SYNC"))
        ],
        "one start, one end"
    );
}
