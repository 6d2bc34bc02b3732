//! Lists under each program of a listed page are read for the whole page at
//! once: the console's list page costs the same statements at any size, and
//! shows what each program's own lists show.

use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

const CONSOLE: &str = "query($first: Int!) { miniPrograms(first: $first) { totalCount nodes {
    id name type channel updateMode updateModeEditable updateModeLocks revision
    versions(first: 5) { totalCount pageInfo { hasNextPage endCursor } nodes { id version status updateMode updateModeSource } }
    released: versions(first: 2, status: [FULL_RELEASE, GRAY_RELEASE, OFFLINE]) { totalCount nodes { version } }
} } }";

const ONE: &str = "query($id: ID!) { miniProgram(id: $id) {
    id name type channel updateMode updateModeEditable updateModeLocks revision
    versions(first: 5) { totalCount pageInfo { hasNextPage endCursor } nodes { id version status updateMode updateModeSource } }
    released: versions(first: 2, status: [FULL_RELEASE, GRAY_RELEASE, OFFLINE]) { totalCount nodes { version } }
} }";

async fn counted_server(backend: Backend) -> (InProcessServer, TestDatabase) {
    let db = TestDatabase::create(backend).await;
    // No background polling: every statement counted is the request's.
    let settings = Settings::with_env(&[
        ("HOOK_POLL_INTERVAL_MS", "600000"),
        ("SCHEDULER_POLL_INTERVAL_MS", "600000"),
    ]);
    let server = InProcessServer::start(&db, settings, Default::default()).await;
    (server, db)
}

on_both_backends! {
    async fn the_list_page_costs_the_same_statements_at_any_size(backend: Backend) {
        let (server, _db) = counted_server(backend).await;
        for n in 0..24 {
            let program = create_dsl_program(&server, &format!("Program {n:02}")).await;
            // 0 to 7 versions, the older ones released.
            for minor in 0..(n % 8) {
                let version = create_version(&server, &program, &format!("1.{minor}.0")).await;
                if minor + 2 < n % 8 {
                    submit(&server, &developer(), &version).await.data();
                    decide(&server, &approver(), &version, "APPROVE").await;
                    release(&server, &version, None).await;
                }
            }
        }

        let mut costs = Vec::new();
        for first in [1, 5, 12, 24] {
            let before = server.settled_statements().await;
            let page = server.gql(&admin(), CONSOLE, json!({ "first": first })).await;
            costs.push(server.statements_executed() - before);
            let nodes = page.data()["miniPrograms"]["nodes"].as_array().unwrap().clone();
            assert_eq!(nodes.len(), first);
            if first == 24 {
                // Each program shows what its own page shows.
                for node in &nodes {
                    let before = server.settled_statements().await;
                    let own = server.gql(&admin(), ONE, json!({ "id": node["id"] })).await;
                    assert_eq!(server.statements_executed() - before, 1, "one program with its lists");
                    assert_eq!(&own.data()["miniProgram"], node);
                }
                let shown: Vec<usize> = nodes.iter().map(|node| node["versions"]["nodes"].as_array().unwrap().len()).collect();
                assert!(shown.contains(&0) && shown.contains(&5), "{shown:?}");
            }
        }
        // The programs, their count, and both lists under them with their
        // counts: one statement, at any size.
        assert_eq!(costs, [1, 1, 1, 1], "statements per page size 1, 5, 12, 24");
    }

    async fn whole_version_records_are_read_once_for_the_page(backend: Backend) {
        let (server, _db) = counted_server(backend).await;
        let mut programs = Vec::new();
        for n in 0..3 {
            let program = create_dsl_program(&server, &format!("Program {n}")).await;
            for minor in 0..3 {
                let version = create_version(&server, &program, &format!("1.{minor}.0")).await;
                if minor == 0 {
                    submit(&server, &developer(), &version).await.data();
                }
            }
            programs.push(program);
        }
        // Statuses through a variable, the list inside a fragment, and fields
        // that a listed page's summary of a version does not hold.
        let page = "query($statuses: [VersionStatus!]) { miniPrograms(first: 10) { edges { node { ...Shown } } } }
            fragment Shown on MiniProgram { id versions(first: 2, status: $statuses) {
                totalCount nodes { id version status description createdAt submittedAt availableActions }
            } }";
        let one = "query($id: ID!, $statuses: [VersionStatus!]) { miniProgram(id: $id) { id versions(first: 2, status: $statuses) {
                totalCount nodes { id version status description createdAt submittedAt availableActions }
            } } }";
        for (statuses, shown) in [(json!(null), 2), (json!(["PENDING_APPROVAL"]), 1)] {
            let before = server.settled_statements().await;
            let read = server.gql(&developer(), page, json!({ "statuses": statuses })).await;
            assert_eq!(server.statements_executed() - before, 2, "the page, then the whole records");
            let edges = read.data()["miniPrograms"]["edges"].as_array().unwrap().clone();
            assert_eq!(edges.len(), 3);
            for (edge, program) in edges.iter().zip(&programs) {
                let node = &edge["node"];
                assert_eq!(node["versions"]["nodes"].as_array().unwrap().len(), shown, "{statuses}");
                let own = server.gql(&developer(), one, json!({ "id": program, "statuses": statuses })).await;
                assert_eq!(&own.data()["miniProgram"], node);
                // Each version as it reads alone, by its id: a path that
                // reads whole records only.
                for version in node["versions"]["nodes"].as_array().unwrap() {
                    let alone = server.gql(&developer(), "query($id: ID!) { miniProgramVersion(id: $id) {
                        id version status description createdAt submittedAt availableActions } }", json!({ "id": version["id"] })).await;
                    assert_eq!(&alone.data()["miniProgramVersion"], version);
                }
            }
        }
    }

    async fn one_program_with_versions_and_history_costs_two_statements(backend: Backend) {
        let (server, _db) = counted_server(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        for minor in 0..3 {
            create_version(&server, &program, &format!("1.{minor}.0")).await;
        }
        for mode in ["ASYNC", "SYNC"] {
            update_mode(&server, &admin(), &program, mode).await.data();
        }
        // The console's program page, as bench/graphql.lua's MODE=program asks it.
        let page = "query($id: ID!) { miniProgram(id: $id) { id name type channel updateMode updateModeEditable revision
            versions(first: 10) { nodes { id version status updateMode updateModeSource } }
            updateModeHistory(first: 10) { nodes { revision previousMode mode changedBy changedAt } }
        } }";
        let before = server.settled_statements().await;
        let read = server.gql(&admin(), page, json!({ "id": program })).await;
        assert_eq!(server.statements_executed() - before, 2, "the program with its versions, then its history");
        let shown = &read.data()["miniProgram"];
        let versions: Vec<&str> = shown["versions"]["nodes"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
        assert_eq!(versions, ["1.2.0", "1.1.0", "1.0.0"]);
        assert_eq!(shown["versions"]["nodes"][0]["updateMode"], "SYNC", "unsubmitted versions show the global mode");
        let modes: Vec<&str> = shown["updateModeHistory"]["nodes"].as_array().unwrap().iter().map(|c| c["mode"].as_str().unwrap()).collect();
        assert_eq!(modes, ["SYNC", "ASYNC"]);
        // Another workspace's program, or none: null, as before.
        let theirs = server.gql(&token(OTHER_WORKSPACE, &["VIEWER"]), page, json!({ "id": program })).await;
        assert_eq!(theirs.data()["miniProgram"], Value::Null);
        let none = server.gql(&admin(), page, json!({ "id": "no-such-program" })).await;
        assert_eq!(none.data()["miniProgram"], Value::Null);
    }

    async fn a_listed_page_counts_all_programs_and_refuses_a_bad_list(backend: Backend) {
        let (server, _db) = counted_server(backend).await;
        for name in ["Mall", "Shop"] {
            let program = create_dsl_program(&server, name).await;
            create_version(&server, &program, "1.0.0").await;
        }
        let page = "query($after: String) { miniPrograms(first: 1, after: $after) {
            totalCount pageInfo { endCursor } nodes { name }
        } }";
        let mut after = Value::Null;
        // Both pages, then the empty one past the end: each counts all.
        for shown in [json!([{ "name": "Mall" }]), json!([{ "name": "Shop" }]), json!([])] {
            let read = server.gql(&admin(), page, json!({ "after": after })).await;
            let programs = &read.data()["miniPrograms"];
            assert_eq!(programs["nodes"], shown);
            assert_eq!(programs["totalCount"], 2, "{shown}");
            after = programs["pageInfo"]["endCursor"].clone();
            if after.is_null() {
                break;
            }
        }
        let refused = server
            .gql(&admin(), "{ miniPrograms { nodes { id versions(first: 0) { nodes { id } } } } }", json!({}))
            .await;
        assert_eq!(refused.code(), "BAD_USER_INPUT");
    }

    async fn later_pages_and_repeated_lists_still_answer_alone(backend: Backend) {
        let (server, _db) = counted_server(backend).await;
        let program = create_dsl_program(&server, "Shop").await;
        for minor in 0..7 {
            create_version(&server, &program, &format!("1.{minor}.0")).await;
        }
        let query = "query($after: String) { miniPrograms(first: 1) { nodes {
            a: versions(first: 3) { nodes { version } pageInfo { endCursor } }
            b: versions(first: 3) { nodes { version } }
            c: versions(first: 3, after: $after) { nodes { version } }
        } } }";
        let first = server.gql(&admin(), query, json!({ "after": null })).await;
        let node = &first.data()["miniPrograms"]["nodes"][0];
        let versions = |list: &Value| list["nodes"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(versions(&node["a"]), ["1.6.0", "1.5.0", "1.4.0"]);
        assert_eq!(versions(&node["b"]), versions(&node["a"]), "the same list asked twice");
        let cursor = node["a"]["pageInfo"]["endCursor"].clone();
        let next = server.gql(&admin(), query, json!({ "after": cursor })).await;
        assert_eq!(versions(&next.data()["miniPrograms"]["nodes"][0]["c"]), ["1.3.0", "1.2.0", "1.1.0"]);
    }
}
