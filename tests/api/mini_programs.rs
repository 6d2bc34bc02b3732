use serde_json::{Value, json};

use crate::common::*;
use crate::on_both_backends;

const CREATE: &str = "mutation($input: CreateMiniProgramInput!) {
    createMiniProgram(input: $input) {
        miniProgram { id name type channel updateMode updateModeEditable updateModeLocks revision createdAt updatedAt }
    }
}";

const LIST: &str = "query($first: Int, $after: String, $filter: MiniProgramFilter) {
    miniPrograms(first: $first, after: $after, filter: $filter) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { cursor node { name } }
        nodes { name }
    }
}";

async fn names(server: &TestServer, filter: Value) -> Vec<String> {
    let response = server
        .gql(&viewer(), LIST, json!({ "first": 100, "filter": filter }))
        .await;
    let list = &response.data()["miniPrograms"];
    let names: Vec<String> = list["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        list["totalCount"],
        json!(names.len()),
        "totalCount of {filter}"
    );
    names
}

/// Creates a program by name; the answer, to read refusals from.
async fn create_named(server: &TestServer, token: &str, name: &str) -> Gql {
    server
        .gql(
            token,
            CREATE,
            json!({ "input": { "name": name, "type": "DSL" } }),
        )
        .await
}

on_both_backends! {
    async fn names_that_could_mislead_are_refused_and_change_nothing(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        create_dsl_program(&server, "Shop").await;
        let mut misleading: Vec<String> = ('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}')
            .map(|control| format!("Shop{control}gnikcart"))
            .collect();
        misleading.extend(["\u{200B}", "\u{200B}\u{200D}\u{2060}", " \u{200C} ", "\u{FEFF}Mall"].map(String::from));
        for name in &misleading {
            let response = create_named(&server, &admin(), name).await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "{name:?}: {}", response.body);
            assert_eq!(response.error()["extensions"]["field"], "name", "{name:?}");
        }
        assert_eq!(names(&server, json!({})).await, ["Shop"], "nothing else was created");
    }

    async fn names_are_unique_ignoring_case_and_width_per_workspace(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        create_dsl_program(&server, "progA").await;
        for same in ["PROGA", "proga", "\u{FF50}\u{FF52}\u{FF4F}\u{FF47}\u{FF21}", "prog\u{200B}A", " ProgA "] {
            let response = create_named(&server, &admin(), same).await;
            assert_eq!(response.code(), "CONFLICT", "{same:?}: {}", response.body);
            assert_eq!(response.error()["extensions"]["field"], "name");
        }
        assert_eq!(names(&server, json!({})).await, ["progA"], "the refusals created nothing");
        // Another workspace has its own names.
        let other = token(OTHER_WORKSPACE, &["WORKSPACE_ADMIN"]);
        let response = create_named(&server, &other, "PROGA").await;
        assert_eq!(response.data()["createMiniProgram"]["miniProgram"]["name"], "PROGA");
    }

    async fn names_stored_before_their_keys_are_keyed_at_start(backend: Backend) {
        // Rows of an older server: no key, and two names that are one now.
        let db = TestDatabase::create(backend).await;
        let server = TestServer::start_on(&db, Settings::default()).await;
        create_dsl_program(&server, "Shop").await;
        create_dsl_program(&server, "Mall").await;
        drop(server);
        db.execute("UPDATE mini_programs SET name = 'SHOP', search_name = 'shop' WHERE name = 'Mall'").await;
        db.execute("UPDATE mini_programs SET name_key = NULL").await;

        let server = TestServer::start_on(&db, Settings::default()).await;
        let listed = names(&server, json!({})).await;
        assert_eq!(listed.len(), 2, "both old names stay: {listed:?}");
        for same in ["shop", "Shop", "SHOP"] {
            assert_eq!(create_named(&server, &admin(), same).await.code(), "CONFLICT", "{same:?}");
        }
        create_dsl_program(&server, "Mall").await;
        assert_eq!(names(&server, json!({})).await.len(), 3);
    }

    async fn an_admin_creates_a_program_at_default(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let response = server
            .gql(&admin(), CREATE, json!({ "input": { "name": "  Shop  ", "type": "DSL" } }))
            .await;
        let program = &response.data()["createMiniProgram"]["miniProgram"];
        assert_eq!(program["name"], "Shop");
        assert_eq!(program["type"], "DSL");
        assert_eq!(program["channel"], "WORKSPACE", "the channel defaults to WORKSPACE");
        assert_eq!(program["updateMode"], "DEFAULT");
        assert_eq!(program["updateModeEditable"], true);
        assert_eq!(program["updateModeLocks"], json!([]));
        assert_eq!(program["revision"], 1);
        let created_at = program["createdAt"].as_str().unwrap();
        assert!(created_at.ends_with('Z'), "RFC 3339 UTC: {created_at}");
        assert!(chrono::DateTime::parse_from_rfc3339(created_at).is_ok());

        let id = program["id"].as_str().unwrap();
        let read = server.gql(&viewer(), "query($id: ID!) { miniProgram(id: $id) { id name } }", json!({ "id": id })).await;
        assert_eq!(read.data()["miniProgram"]["name"], "Shop");
    }

    async fn only_admins_create_programs_and_bad_input_is_refused(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        create_dsl_program(&server, "Shop").await;
        for token in [developer(), viewer(), approver()] {
            let response = server.gql(&token, CREATE, json!({ "input": { "name": "Sneaky", "type": "DSL" } })).await;
            assert_eq!(response.code(), "FORBIDDEN");
        }
        // Authorization comes before validation.
        let response = server.gql(&viewer(), CREATE, json!({ "input": { "name": "", "type": "DSL" } })).await;
        assert_eq!(response.code(), "FORBIDDEN");

        for name in ["", "   ", "line\nbreak", &"x".repeat(101)] {
            let response = server.gql(&admin(), CREATE, json!({ "input": { "name": name, "type": "H5" } })).await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "{name:?}");
            assert_eq!(response.error()["extensions"]["field"], "name");
        }
        let response = server.gql(&admin(), CREATE, json!({ "input": { "name": "Shop", "type": "H5" } })).await;
        assert_eq!(response.code(), "CONFLICT", "a duplicate name");
        let response = server.gql(&admin(), CREATE, json!({ "input": { "name": "X", "type": "APP" } })).await;
        assert!(response.code().starts_with("GRAPHQL_VALIDATION") || response.code() == "BAD_USER_INPUT");

        assert_eq!(names(&server, json!({})).await, ["Shop"], "nothing else was created");
    }

    async fn programs_are_listed_by_name_and_filtered(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        create_program(&server, "Mall", "DSL", "WORKSPACE").await;
        create_program(&server, "guide", "H5", "WORKSPACE").await;
        create_program(&server, "Alipay+ Rewards", "DSL", "ALIPAY_PLUS").await;
        let sale = create_program(&server, "50% Sale_Days", "DSL", "WORKSPACE").await;
        assert!(update_mode(&server, &admin(), &sale, "SYNC").await.data()["updateMode"]["changed"].as_bool().unwrap());

        assert_eq!(names(&server, json!({})).await, ["50% Sale_Days", "Alipay+ Rewards", "guide", "Mall"]);
        assert_eq!(names(&server, json!({ "type": "H5" })).await, ["guide"]);
        assert_eq!(names(&server, json!({ "channel": "ALIPAY_PLUS" })).await, ["Alipay+ Rewards"]);
        assert_eq!(names(&server, json!({ "updateMode": "SYNC" })).await, ["50% Sale_Days"]);
        assert_eq!(names(&server, json!({ "type": "DSL", "channel": "WORKSPACE" })).await, ["50% Sale_Days", "Mall"]);
        assert_eq!(names(&server, json!({ "nameContains": "MAL" })).await, ["Mall"]);
        assert_eq!(names(&server, json!({ "nameContains": "%" })).await, ["50% Sale_Days"]);
        assert_eq!(names(&server, json!({ "nameContains": "_" })).await, ["50% Sale_Days"]);
        assert_eq!(names(&server, json!({ "nameContains": "' OR 1=1--" })).await, Vec::<String>::new());
    }

    async fn pages_follow_cursors_to_the_end(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let mut expected = Vec::new();
        for i in 0..7 {
            let name = format!("Program {i:02}");
            create_dsl_program(&server, &name).await;
            expected.push(name);
        }
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let response = server.gql(&viewer(), LIST, json!({ "first": 3, "after": after })).await;
            let list = &response.data()["miniPrograms"];
            assert_eq!(list["totalCount"], 7);
            assert_eq!(list["pageInfo"]["hasPreviousPage"], after.is_some());
            for edge in list["edges"].as_array().unwrap() {
                seen.push(edge["node"]["name"].as_str().unwrap().to_owned());
            }
            if !list["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = Some(list["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
        }
        assert_eq!(seen, expected);

        for first in [0, -1, 101] {
            let response = server.gql(&viewer(), LIST, json!({ "first": first })).await;
            assert_eq!(response.code(), "BAD_USER_INPUT", "first: {first}");
            assert_eq!(response.error()["extensions"]["field"], "first");
        }
        let response = server.gql(&viewer(), LIST, json!({ "after": "garbage" })).await;
        assert_eq!(response.code(), "BAD_USER_INPUT");
        let response = server.gql(&viewer(), LIST, json!({ "first": null })).await;
        assert_eq!(response.data()["miniPrograms"]["nodes"].as_array().unwrap().len(), 7, "null means the default");
    }

    async fn unknown_ids_read_as_null(backend: Backend) {
        let (server, _db) = TestServer::start(backend).await;
        let response = server
            .gql(&viewer(), "{ miniProgram(id: \"nope\") { id } miniProgramVersion(id: \"nope\") { id } }", json!({}))
            .await;
        assert_eq!(response.data(), &json!({ "miniProgram": null, "miniProgramVersion": null }));
    }
}
