//! The console in headless Chromium against the real server: signing in,
//! changing the update mode through the dialog and seeing it live in a
//! second session, the locked button with its reasons, the Release panel,
//! what each role is offered, paging, the server's refusals shown at their
//! fields, secrets shown once, a refused live connection, keyboard use,
//! rollout plans advancing live, a rollback, the release gates page, the
//! minimum version and update-mode windows that change the mode live, and
//! (in `adoption`) what devices reported: the Adoption tab, the dialogs'
//! impact previews and the launch preview's reasons.
//! Screenshots of the main screens are saved under
//! `target/console-screenshots/`.

/// The parts of tests/common/ that drive a server and set up its data.
#[path = "../common"]
mod common {
    pub mod database;
    pub mod gql;
    pub mod server;
    pub mod steps;
    pub mod tokens;
    pub mod wait;

    pub use database::*;
    pub use server::*;
    pub use steps::*;
    pub use tokens::*;
    pub use wait::*;
}

mod adoption;
mod browser;

use serde_json::{Value, json};

use browser::{Browser, Driver, WAIT};
use common::*;

const ESCAPE: &str = "\u{e00c}";

/// The database the browser tests run on: PostgreSQL, the production
/// database, where `TEST_DATABASE_URL` names one (as in CI), else SQLite.
fn backend() -> Backend {
    if cfg!(test_database) {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// A program with a version released under DEFAULT and one just created.
async fn program_with_versions(server: &TestServer) -> (String, String, String) {
    let program = create_dsl_program(server, "Mall").await;
    let released = create_version(server, &program, "1.0.0").await;
    submit(server, &developer(), &released).await.data();
    decide(server, &approver(), &released, "APPROVE").await;
    release(server, &released, None).await;
    let created = create_version(server, &program, "1.1.0").await;
    (program, released, created)
}

/// Submits and approves a version, ready for release.
async fn approve(server: &TestServer, version: &str) {
    submit(server, &developer(), version).await.data();
    decide(server, &approver(), version, "APPROVE").await;
}

/// A version of the program created and approved.
async fn approved_version(server: &TestServer, program: &str, number: &str) -> String {
    let version = create_version(server, program, number).await;
    approve(server, &version).await;
    version
}

/// A version's status, share, offline reason and plan, as the API says.
async fn version_state(server: &TestServer, version: &str) -> Value {
    let response = server
        .gql(
            &admin(),
            "query($id: ID!) { miniProgramVersion(id: $id) {
                status grayPercentage offlineReason
                rollout { status currentStep pausedReason steps { percentage holdSeconds reachedAt } }
            } }",
            json!({ "id": version }),
        )
        .await;
    response.data()["miniProgramVersion"].clone()
}

const START_ROLLOUT: &str = "mutation($input: StartRolloutInput!) {
    startRollout(input: $input) { miniProgramVersion { id } }
}";

/// The values of every form control that matches, in order.
async fn values(browser: &Browser, css: &str) -> Vec<String> {
    let script = format!(
        "return [...document.querySelectorAll({})].map((el) => el.value)",
        Value::from(css)
    );
    serde_json::from_value(browser.eval(&script).await).expect("values")
}

async fn focused_action(browser: &Browser) -> Value {
    browser
        .eval("return document.activeElement.dataset.action ?? null")
        .await
}

fn admin_named(subject: &str) -> String {
    let mut claims = claims(WORKSPACE, &["WORKSPACE_ADMIN"]);
    claims["sub"] = json!(subject);
    sign(&claims)
}

async fn open_program(browser: &Browser, program: &str) {
    browser
        .open(&format!("/console/#/programs/{program}"))
        .await;
    browser.wait_for("#update-mode-button").await;
    // The program has been read once its mode shows.
    browser
        .wait_for_text("#global-update-mode", "the program's mode", |text| {
            !text.is_empty()
        })
        .await;
}

async fn assert_no_horizontal_scrolling(browser: &Browser) {
    let overflow: Value = browser
        .eval("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await;
    assert_eq!(overflow, 0, "no horizontal scrolling");
}

/// The version's row, expanded to its Release panel.
async fn release_panel(browser: &Browser, version: &str) -> String {
    let row = format!("[data-version-id=\"{version}\"]");
    let toggle = format!("{row} button[aria-expanded]");
    if browser.attribute(&toggle, "aria-expanded").await.as_deref() != Some("true") {
        browser.click(&toggle).await;
    }
    browser.wait_for(&format!("{row} .release-panel")).await;
    row
}

/// The secret that the page shows once.
async fn shown_secret(browser: &Browser) -> String {
    browser.wait_for(".secret-card input.secret").await;
    let value = browser
        .eval("return document.querySelector('.secret-card input.secret').value")
        .await;
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_changes_the_mode_and_another_session_sees_it_live() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, _, created) = program_with_versions(&server).await;
    create_program(&server, "Partner Mall", "H5", "ALIPAY_PLUS").await;

    let alice = driver.session(&server.url, 1280, 900).await;
    alice.sign_in(&admin_named("alice")).await;
    alice
        .wait_for(&format!("tr[data-program-id=\"{program}\"]"))
        .await;
    alice
        .wait_for_text("#program-count", "the count", |text| text.contains('2'))
        .await;
    alice.screenshot("programs").await;

    let bob = driver.session(&server.url, 1280, 900).await;
    bob.sign_in(&admin_named("bob")).await;
    open_program(&bob, &program).await;
    bob.wait_for_text("#live-status", "Live", |text| text == "Live")
        .await;
    assert_eq!(bob.text("#global-update-mode").await, "Default");

    open_program(&alice, &program).await;
    assert_eq!(alice.text("#global-update-mode").await, "Default");
    alice.click("#update-mode-button").await;
    alice.wait_for("#update-mode-dialog").await;
    let focus_inside: Value = alice
        .eval("return document.activeElement.closest('#update-mode-dialog') !== null")
        .await;
    assert_eq!(focus_inside, true, "focus moves into the dialog");
    let checked: Value = alice
        .eval("return document.querySelector('input[name=\"update-mode\"]:checked').value")
        .await;
    assert_eq!(checked, "DEFAULT");
    alice
        .click("#update-mode-dialog input[name=\"update-mode\"][value=\"SYNC\"]")
        .await;
    alice.screenshot("update-mode-dialog").await;
    alice.click("#confirm-update-mode").await;

    let result = alice
        .wait_for_text("#update-mode-result", "the affected versions", |text| {
            text.contains("1.1.0")
        })
        .await;
    assert!(result.contains("Sync"), "{result}");
    assert_eq!(alice.text("#global-update-mode").await, "Sync");
    // The New Version Created version now will execute Sync; the released one keeps Default.
    let row = release_panel(&alice, &created).await;
    assert_eq!(
        alice.text(&format!("{row} .version-update-mode")).await,
        "Sync"
    );
    alice.screenshot("update-mode-changed").await;

    // Bob's page follows without a reload.
    bob.wait_for_text("#global-update-mode", "Sync", |text| text == "Sync")
        .await;
    bob.wait_for_text("#live-message", "who changed it", |text| {
        text.contains("alice")
    })
    .await;
    let state = program_state(&server, &program).await;
    assert_eq!(state["updateMode"], "SYNC");
    assert_eq!(state["updateModeHistory"]["nodes"][0]["changedBy"], "alice");

    // A version created elsewhere shows up in both sessions, at the new mode.
    let newer = create_version(&server, &program, "1.2.0").await;
    for session in [&alice, &bob] {
        let row = format!("[data-version-id=\"{newer}\"]");
        session.wait_for(&row).await;
        let row = release_panel(session, &newer).await;
        assert_eq!(
            session.text(&format!("{row} .version-update-mode")).await,
            "Sync"
        );
    }

    alice.close().await;
    bob.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_sees_the_locked_button_with_every_reason() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let partner = create_program(&server, "Partner Mall", "H5", "ALIPAY_PLUS").await;
    let dsl = create_dsl_program(&server, "Mall").await;

    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&developer()).await;
    open_program(&browser, &partner).await;
    browser
        .wait_for_text("#update-mode-locks", "the reasons", |text| !text.is_empty())
        .await;
    assert!(
        browser
            .attribute("#update-mode-button", "disabled")
            .await
            .is_some(),
        "the Update Mode button is disabled"
    );
    let reasons = browser.texts("#update-mode-locks li").await;
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("admin"), "{reasons:?}");
    assert!(
        reasons.iter().any(|reason| reason.contains("DSL")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|reason| reason.contains("Alipay+")),
        "{reasons:?}"
    );
    let described_by = browser
        .attribute("#update-mode-button", "aria-describedby")
        .await
        .unwrap_or_default();
    assert!(
        described_by.contains("update-mode-locks"),
        "the reasons describe the button: {described_by:?}"
    );
    browser.screenshot("update-mode-locked").await;

    // On a DSL program of the workspace, only the role is in the way.
    open_program(&browser, &dsl).await;
    browser
        .wait_for_text("#update-mode-locks", "one reason", |text| {
            text.contains("admin") && !text.contains("Alipay+")
        })
        .await;
    assert_eq!(browser.texts("#update-mode-locks li").await.len(), 1);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_versions_release_panel_explains_its_mode_and_offers_its_steps() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, released, created) = program_with_versions(&server).await;
    update_mode(&server, &admin(), &program, "ASYNC")
        .await
        .data();

    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;

    let row = release_panel(&browser, &released).await;
    assert_eq!(
        browser.text(&format!("{row} .version-update-mode")).await,
        "Default"
    );
    let explanation = browser
        .text(&format!("{row} .update-mode-explanation"))
        .await;
    assert!(explanation.contains("actually released"), "{explanation}");
    assert!(
        browser
            .texts(&format!("{row} [data-action=\"offline\"]"))
            .await
            .len()
            == 1,
        "a full release may be taken offline"
    );

    let row = release_panel(&browser, &created).await;
    assert_eq!(
        browser.text(&format!("{row} .version-update-mode")).await,
        "Async"
    );
    let explanation = browser
        .text(&format!("{row} .update-mode-explanation"))
        .await;
    assert!(
        explanation.contains("will finally execute"),
        "{explanation}"
    );
    browser.screenshot("release-panel").await;

    // Submitting fixes the global mode on the version, as the panel then says.
    browser
        .click(&format!("{row} [data-action=\"submit\"]"))
        .await;
    browser
        .wait_for_text(
            &format!("{row} .update-mode-explanation"),
            "the released explanation",
            |text| text.contains("actually released"),
        )
        .await;
    let state = program_state(&server, &program).await;
    let submitted = state["versions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|version| version["id"] == created.as_str())
        .unwrap()
        .clone();
    assert_eq!(submitted["status"], "PENDING_APPROVAL");
    assert_eq!(submitted["updateMode"], "ASYNC");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_usable_by_keyboard_and_on_a_narrow_screen() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, _, _) = program_with_versions(&server).await;

    let phone = driver.session(&server.url, 360, 780).await;
    // A refused token is explained on the sign-in screen.
    phone.open("/console/").await;
    assert_eq!(phone.eval("return window.innerWidth").await, 360);
    let field = phone.wait_for("#token").await;
    field.send_keys("not-a-token").await.expect("type");
    phone.click("#sign-in").await;
    phone
        .wait_for_text("#sign-in-error", "an explanation", |text| !text.is_empty())
        .await;
    phone.screenshot("sign-in-refused-360").await;

    phone.sign_in(&admin()).await;
    phone
        .wait_for(&format!("tr[data-program-id=\"{program}\"]"))
        .await;
    assert_no_horizontal_scrolling(&phone).await;
    phone.screenshot("programs-360").await;

    open_program(&phone, &program).await;
    assert_no_horizontal_scrolling(&phone).await;
    phone.screenshot("versions-360").await;

    // The dialog opens from the keyboard, keeps focus, and Escape closes it
    // and returns focus to the button.
    phone
        .eval("document.querySelector('#update-mode-button').focus(); return null")
        .await;
    phone.press("\u{e007}").await;
    phone.wait_for("#update-mode-dialog").await;
    for _ in 0..8 {
        phone.press("\u{e004}").await;
        let inside: Value = phone
            .eval("return document.activeElement.closest('#update-mode-dialog') !== null")
            .await;
        assert_eq!(inside, true, "Tab stays inside the dialog");
    }
    phone.press(ESCAPE).await;
    let focused: Value = phone.eval("return document.activeElement.id").await;
    assert_eq!(focused, "update-mode-button");
    let open: Value = phone
        .eval("const d = document.querySelector('#update-mode-dialog'); return !!d && (d.open === true || d.offsetParent !== null)")
        .await;
    assert_eq!(open, false, "Escape closes the dialog");
    assert_eq!(
        program_state(&server, &program).await["updateMode"],
        "DEFAULT"
    );
    phone.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_edit_is_explained_and_the_choice_kept() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, db) = TestServer::start(backend()).await;
    let program = create_dsl_program(&server, "Mall").await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;
    browser.click("#update-mode-button").await;
    browser
        .click("#update-mode-dialog input[name=\"update-mode\"][value=\"SYNC\"]")
        .await;
    // A change the page cannot hear of: written past the API, so no event.
    db.execute(&format!(
        "UPDATE mini_programs SET update_mode = 'ASYNC', revision = revision + 1 WHERE id = '{program}'"
    ))
    .await;
    browser.click("#confirm-update-mode").await;
    let explained = browser
        .wait_for_text("#update-mode-error", "the conflict", |text| {
            text.contains("Another change")
        })
        .await;
    assert!(explained.contains("Async"), "{explained}");
    let kept: Value = browser
        .eval("return document.querySelector('input[name=\"update-mode\"]:checked').value")
        .await;
    assert_eq!(kept, "SYNC", "the user's choice is kept");
    assert_eq!(
        program_state(&server, &program).await["updateMode"],
        "ASYNC"
    );
    browser.screenshot("update-mode-conflict").await;
    // Confirming again, on the fresh revision, goes through.
    browser.click("#confirm-update-mode").await;
    browser
        .wait_for_text("#global-update-mode", "Sync", |text| text == "Sync")
        .await;
    assert_eq!(program_state(&server, &program).await["updateMode"], "SYNC");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_is_offered_only_what_it_may_do() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, released, _) = program_with_versions(&server).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&viewer()).await;
    let nav = browser.texts("#top-nav a").await;
    assert_eq!(nav, ["Programs"], "no integrations or client keys");
    open_program(&browser, &program).await;
    let tabs = browser.texts(".tabs a").await;
    assert_eq!(
        tabs,
        ["Versions", "Adoption", "History", "Launch preview"],
        "every reader may preview launches"
    );
    assert!(
        browser.texts(".new-version").await.is_empty(),
        "no New version form"
    );
    assert!(browser.texts("#roll-back").await.is_empty(), "no Roll back");
    let row = release_panel(&browser, &released).await;
    assert!(
        browser
            .texts(&format!("{row} .version-actions"))
            .await
            .is_empty(),
        "no release steps"
    );
    browser.open("/console/#/integrations").await;
    browser
        .wait_for_text("main h1", "the refusal", |text| {
            text == "Not available to you"
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_versions_tab_pages_past_fifty_versions() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let program = create_dsl_program(&server, "Mall").await;
    let mut versions = Vec::new();
    for minor in 0..55 {
        versions.push(create_version(&server, &program, &format!("1.{minor}.0")).await);
    }
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;
    browser
        .wait_for_text("#versions-count", "the first page", |text| {
            text.contains("Showing 50 of 55 versions")
        })
        .await;
    let shown = browser.texts("li.version .version-number").await;
    assert_eq!(shown.len(), 50);
    assert_eq!(
        (shown[0].as_str(), shown[49].as_str()),
        ("1.54.0", "1.5.0"),
        "newest first"
    );

    browser.click("#more-versions").await;
    browser
        .wait_for_text("#versions-count", "every version", |text| {
            text.starts_with("55 versions")
        })
        .await;
    let shown = browser.texts("li.version .version-number").await;
    assert_eq!(shown.len(), 55);
    assert_eq!(shown[54], "1.0.0");
    assert!(
        browser
            .attribute("#more-versions", "hidden")
            .await
            .is_some(),
        "no more pages"
    );
    let focused: Value = browser
        .eval(
            "return document.activeElement.closest('[data-version-id]')?.dataset.versionId ?? null",
        )
        .await;
    assert_eq!(
        focused,
        json!(versions[4]),
        "the focus goes to the first version the page added"
    );

    // A version created elsewhere takes its place at the top, as the API orders it.
    let newest = create_version(&server, &program, "1.55.0").await;
    browser
        .wait_for(&format!("[data-version-id=\"{newest}\"]"))
        .await;
    browser
        .wait_for_text("#versions-count", "the new count", |text| {
            text.starts_with("56 versions")
        })
        .await;
    let shown = browser.texts("li.version .version-number").await;
    assert_eq!((shown.len(), shown[0].as_str()), (56, "1.55.0"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_refusals_are_shown_at_their_fields() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, released, _) = program_with_versions(&server).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;

    // What the API says about a version number, the console shows at the field.
    for (typed, request) in [("1.1.0", "1.1.0"), ("1.2", "1.2")] {
        let field = browser.wait_for(".new-version-number").await;
        field.clear().await.expect("clear");
        field.send_keys(typed).await.expect("type");
        browser.click(".new-version button[type=\"submit\"]").await;
        let refused = server
            .gql(
                &admin(),
                "mutation($input: CreateMiniProgramVersionInput!) { createMiniProgramVersion(input: $input) { miniProgramVersion { id } } }",
                json!({ "input": { "miniProgramId": program, "version": request } }),
            )
            .await;
        assert_eq!(refused.code(), "BAD_USER_INPUT");
        assert_eq!(refused.error()["extensions"]["field"], "version");
        let said = refused.error()["message"]
            .as_str()
            .unwrap()
            .trim_start_matches("version: ")
            .to_owned();
        let shown = browser
            .wait_for_text(".new-version .field-error", "the server's reason", |text| {
                !text.is_empty()
            })
            .await;
        assert_eq!(shown.to_lowercase(), said.to_lowercase(), "{typed}");
        assert_eq!(
            browser
                .attribute(".new-version-number", "aria-invalid")
                .await
                .as_deref(),
            Some("true")
        );
        let focused: Value = browser
            .eval("return document.activeElement.classList.contains('new-version-number')")
            .await;
        assert_eq!(focused, true, "the focus goes to the field");
    }
    browser.screenshot("version-number-refused").await;

    // A gray share may only grow: the API says so, at the percentage field.
    let next = create_version(&server, &program, "1.2.0").await;
    submit(&server, &developer(), &next).await.data();
    decide(&server, &approver(), &next, "APPROVE").await;
    release(&server, &next, Some(10)).await;
    open_program(&browser, &program).await;
    let row = release_panel(&browser, &next).await;
    let percent = browser.wait_for(&format!("{row} .gray-percentage")).await;
    percent.send_keys("5").await.expect("type");
    browser
        .click(&format!("{row} [data-action=\"gray-release\"]"))
        .await;
    let shown = browser
        .wait_for_text(
            &format!("{row} .version-actions .field-error"),
            "the server's reason",
            |text| !text.is_empty(),
        )
        .await;
    assert!(
        shown.starts_with("May only grow") && shown.contains("10%"),
        "{shown}"
    );
    browser.screenshot("gray-share-refused").await;
    let state = program_state(&server, &program).await;
    let nodes = state["versions"]["nodes"].as_array().unwrap();
    let gray = nodes.iter().find(|v| v["id"] == next.as_str()).unwrap();
    assert_eq!(gray["grayPercentage"], 10, "nothing changed");
    let full = nodes.iter().find(|v| v["id"] == released.as_str()).unwrap();
    assert_eq!(full["status"], "FULL_RELEASE");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_and_client_keys_through_their_pages() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let program = create_dsl_program(&server, "Mall").await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;

    // An integration: the server refuses an ftp URL at its field, then
    // shows the signing secret once.
    browser.open("/console/#/integrations").await;
    let name = browser
        .wait_for("#register-heading ~ .field input[type=\"text\"]")
        .await;
    name.send_keys("Review desk").await.expect("type");
    let url = browser.wait_for("input[type=\"url\"]").await;
    url.send_keys("ftp://partner.example/hooks")
        .await
        .expect("type");
    browser.click("form button[type=\"submit\"]").await;
    let shown = browser
        .wait_for_text(
            "input[type=\"url\"] ~ .field-error",
            "the server's reason",
            |text| !text.is_empty(),
        )
        .await;
    assert_eq!(shown, "Must use http or https");
    url.clear().await.expect("clear");
    url.send_keys("https://partner.example/hooks")
        .await
        .expect("type");
    browser.click("form button[type=\"submit\"]").await;
    browser
        .wait_for_text(".secret-card h2", "the new integration", |text| {
            text == "Review desk is registered"
        })
        .await;
    let secret = shown_secret(&browser).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let focused: Value = browser
        .eval("return document.activeElement.classList.contains('secret-card')")
        .await;
    assert_eq!(focused, true, "the card takes the focus");
    let listed = server
        .gql(&admin(), "{ releaseIntegrations { name url } }", json!({}))
        .await;
    assert_eq!(
        listed.data()["releaseIntegrations"],
        json!([{ "name": "Review desk", "url": "https://partner.example/hooks" }])
    );

    // Its delivery log pages: 21 events, 20 shown, then the rest.
    for round in 0..21 {
        let mode = ["ASYNC", "SYNC", "DEFAULT"][round % 3];
        update_mode(&server, &admin(), &program, mode).await.data();
    }
    browser.open("/console/#/programs").await;
    browser.open("/console/#/integrations").await;
    let deliveries = || async {
        let rows = browser
            .eval("return [...document.querySelectorAll('.deliveries tbody tr')].map((row) => row.textContent)")
            .await;
        serde_json::from_value::<Vec<String>>(rows).unwrap()
    };
    let first = eventually(WAIT, "the first page of deliveries", || async {
        Some(deliveries().await).filter(|rows| !rows.is_empty())
    })
    .await;
    assert_eq!(first.len(), 20);
    browser.click(".integration .load-more").await;
    let all = eventually(WAIT, "the 21st delivery", || async {
        Some(deliveries().await).filter(|rows| rows.len() == 21)
    })
    .await;
    assert!(all[20].contains("Update mode changed"), "{}", all[20]);
    assert!(
        browser
            .attribute(".integration .load-more", "hidden")
            .await
            .is_some(),
        "no more pages"
    );

    // A client key: a blank name is the server's to refuse; the key shown
    // once is one that launch requests are answered with.
    browser.open("/console/#/client-keys").await;
    browser.click("form button[type=\"submit\"]").await;
    let shown = browser
        .wait_for_text(
            "#client-key-name ~ .field-error",
            "the server's reason",
            |text| !text.is_empty(),
        )
        .await;
    assert_eq!(shown, "Must not be blank");
    browser
        .wait_for("#client-key-name")
        .await
        .send_keys("Android production")
        .await
        .expect("type");
    browser.click("form button[type=\"submit\"]").await;
    browser
        .wait_for_text(".secret-card h2", "the new key", |text| {
            text.contains("Android production")
        })
        .await;
    let key = shown_secret(&browser).await;
    browser.screenshot("client-key-created").await;
    let launch = server
        .http()
        .get(format!(
            "{}/v1/launch/{program}?deviceId=device-1",
            server.url
        ))
        .header("x-client-key", &key)
        .send()
        .await
        .expect("a launch answer");
    assert_eq!(launch.status(), 200, "the key shown is the key");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_live_connections_are_explained_and_retried() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let db = TestDatabase::create(backend()).await;
    let one = Settings::with_env(&[("SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL", "1")]);
    let server = TestServer::start_on(&db, one).await;
    let program = create_dsl_program(&server, "Mall").await;
    let first = driver.session(&server.url, 1280, 900).await;
    first.sign_in(&admin_named("alice")).await;
    open_program(&first, &program).await;
    first
        .wait_for_text("#live-status", "Live", |text| text == "Live")
        .await;

    // The same user in a second browser: the server refuses the connection
    // with 4429, and the page says why.
    let second = driver.session(&server.url, 1280, 900).await;
    second.sign_in(&admin_named("alice")).await;
    open_program(&second, &program).await;
    let detail = second
        .wait_for_text("#live-detail", "the explanation", |text| {
            text.contains("too many live connections")
        })
        .await;
    assert!(detail.contains("Retrying in"), "{detail}");
    assert_eq!(second.text("#live-status").await, "Reconnecting…");
    second.screenshot("too-many-live-connections").await;

    // Once the first one is gone, a retry gets the connection.
    first.close().await;
    second
        .wait_for_text("#live-status", "Live", |text| text == "Live")
        .await;
    update_mode(&server, &admin(), &program, "SYNC")
        .await
        .data();
    second
        .wait_for_text("#global-update-mode", "Sync", |text| text == "Sync")
        .await;
    second.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_planned_in_the_editor_advances_live_to_the_full_release() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, released, _) = program_with_versions(&server).await;
    let next = approved_version(&server, &program, "1.2.0").await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;
    browser
        .wait_for_text("#live-status", "Live", |text| text == "Live")
        .await;
    // Gone if the page reloads.
    browser.eval("window.notReloaded = true; return null").await;

    let row = release_panel(&browser, &next).await;
    let step = |i: usize, what: &str| format!("{row} .rollout-step[data-step=\"{i}\"] {what}");
    browser.wait_for(&format!("{row} .rollout-editor")).await;
    assert_eq!(
        values(&browser, &format!("{row} .step-percentage")).await,
        ["1", "5", "20", "50", "100"],
        "the default plan"
    );
    assert_eq!(
        values(&browser, &format!("{row} .step-unit")).await,
        ["86400"; 4],
        "a day apart"
    );
    for _ in 0..3 {
        browser.click(&step(1, ".remove-step")).await;
    }
    assert_eq!(
        values(&browser, &format!("{row} .step-percentage")).await,
        ["1", "100"]
    );

    // A plan the server refuses is explained at the step it names (the
    // API counts from 0, the page from 1), as the server says it.
    browser.fill(&step(0, ".step-percentage"), "100").await;
    browser
        .click(&format!("{row} [data-action=\"start-rollout\"]"))
        .await;
    let shown = browser
        .wait_for_text(&step(1, ".field-error"), "the server's reason", |text| {
            !text.is_empty()
        })
        .await;
    assert_eq!(
        browser
            .attribute(&step(1, ".step-percentage"), "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    let refused = server
        .gql(
            &admin(),
            START_ROLLOUT,
            json!({ "input": { "versionId": next, "steps": [
                { "percentage": 100, "holdSeconds": 86400 },
                { "percentage": 100, "holdSeconds": 0 },
            ] } }),
        )
        .await;
    assert_eq!(refused.code(), "BAD_USER_INPUT");
    assert_eq!(refused.error()["extensions"]["field"], "steps");
    let said = refused.error()["message"]
        .as_str()
        .unwrap()
        .trim_start_matches("steps: ")
        .trim_start_matches("step 1: ")
        .to_lowercase();
    assert_eq!(shown.to_lowercase(), said);
    assert_eq!(version_state(&server, &next).await["rollout"], Value::Null);

    // 10 % for three seconds, then everyone.
    browser.fill(&step(0, ".step-percentage"), "10").await;
    browser.fill(&step(0, ".step-hold"), "3").await;
    browser
        .click(&step(0, ".step-unit option[value=\"1\"]"))
        .await;
    browser
        .click(&format!("{row} [data-action=\"start-rollout\"]"))
        .await;
    // The running plan, read at one instant: the step is due in 3 s.
    let script = format!(
        "const row = document.querySelector({});
         const status = row?.querySelector('.rollout-status')?.textContent;
         return status ? {{
             status,
             chart: row.querySelector('svg.rollout-chart').getAttribute('aria-label'),
             current: row.querySelector('.rollout-steps-table tr[aria-current=step]')?.dataset.step ?? null,
             manual: row.querySelectorAll('[data-action=gray-release]').length,
         }} : null",
        Value::from(row.as_str())
    );
    let running = eventually(WAIT, "the plan on the page", || async {
        Some(browser.eval(&script).await).filter(|shown| !shown.is_null())
    })
    .await;
    assert_eq!(running["status"], "Running", "{running}");
    let chart = running["chart"].as_str().unwrap_or_default();
    assert!(chart.contains("step 1 of 2"), "{chart}");
    assert_eq!(running["current"], "0", "the step in force is marked");
    assert_eq!(
        running["manual"], 0,
        "the plan's controls instead of a manual raise"
    );
    browser.screenshot("rollout-running").await;

    // The server applies the last step by itself; the page hears of it.
    browser
        .wait_for_text(&format!("{row} .rollout-status"), "Completed", |text| {
            text == "Completed"
        })
        .await;
    browser
        .wait_for(&format!(
            "[data-version-id=\"{next}\"][data-status=\"FULL_RELEASE\"]"
        ))
        .await;
    browser
        .wait_for(&format!(
            "[data-version-id=\"{released}\"][data-status=\"OFFLINE\"]"
        ))
        .await;
    let reached = browser
        .texts(&format!("{row} .rollout-steps-table tbody td:last-child"))
        .await;
    assert!(
        reached.len() == 2 && reached.iter().all(|text| text != "Not yet"),
        "{reached:?}"
    );
    assert_eq!(
        browser.eval("return window.notReloaded === true").await,
        true
    );
    browser.screenshot("rollout-completed").await;
    let state = version_state(&server, &next).await;
    assert_eq!(
        (&state["status"], &state["rollout"]["status"]),
        (&json!("FULL_RELEASE"), &json!("COMPLETED"))
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_is_paused_with_a_reason_resumed_and_cancelled() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, _, _) = program_with_versions(&server).await;
    let next = approved_version(&server, &program, "1.2.0").await;
    server
        .gql(
            &admin(),
            START_ROLLOUT,
            json!({ "input": { "versionId": next, "steps": [
                { "percentage": 10, "holdSeconds": 86400 },
                { "percentage": 100, "holdSeconds": 0 },
            ] } }),
        )
        .await
        .data();
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;
    let row = release_panel(&browser, &next).await;
    browser
        .wait_for_text(&format!("{row} .rollout-status"), "Running", |text| {
            text == "Running"
        })
        .await;
    browser
        .wait_for_text(&format!("{row} .rollout-next"), "the next step", |text| {
            !text.is_empty()
        })
        .await;

    // Pausing asks why; the server requires it, at the field.
    browser
        .click(&format!("{row} [data-action=\"pause\"]"))
        .await;
    browser.wait_for("dialog[open] .pause-reason").await;
    let focused: Value = browser
        .eval("return document.activeElement.classList.contains('pause-reason')")
        .await;
    assert_eq!(focused, true, "the focus goes to the reason");
    browser
        .click("dialog[open] [data-action=\"confirm-pause\"]")
        .await;
    browser
        .wait_for_text(
            "dialog[open] .pause-reason ~ .field-error",
            "the server's reason",
            |text| !text.is_empty(),
        )
        .await;
    assert_eq!(
        version_state(&server, &next).await["rollout"]["status"],
        "RUNNING"
    );
    browser
        .fill("dialog[open] .pause-reason", "Crash rate above 2 %")
        .await;
    browser.screenshot("rollout-pause-dialog").await;
    browser
        .click("dialog[open] [data-action=\"confirm-pause\"]")
        .await;
    browser
        .wait_for_text(&format!("{row} .rollout-status"), "Paused", |text| {
            text == "Paused"
        })
        .await;
    let reason = browser.text(&format!("{row} .paused-reason")).await;
    assert!(reason.contains("Crash rate above 2 %"), "{reason}");
    assert!(
        browser
            .texts(&format!("{row} .rollout-next"))
            .await
            .is_empty(),
        "no next step while paused"
    );
    // The page may show the pause (heard live) before its own answer moves the focus.
    eventually(WAIT, "the focus on Resume", || async {
        (focused_action(&browser).await == "resume").then_some(())
    })
    .await;
    browser.screenshot("rollout-paused").await;
    let state = version_state(&server, &next).await;
    assert_eq!(state["rollout"]["status"], "PAUSED");
    assert_eq!(state["rollout"]["pausedReason"], "Crash rate above 2 %");

    browser
        .click(&format!("{row} [data-action=\"resume\"]"))
        .await;
    browser
        .wait_for_text(&format!("{row} .rollout-status"), "Running", |text| {
            text == "Running"
        })
        .await;
    browser
        .wait_for_text(&format!("{row} .rollout-next"), "the next step", |text| {
            !text.is_empty()
        })
        .await;
    assert_eq!(
        version_state(&server, &next).await["rollout"]["status"],
        "RUNNING"
    );

    // Cancelling asks first; the share stays and manual releases are back.
    browser
        .click(&format!("{row} [data-action=\"cancel\"]"))
        .await;
    browser.click("dialog[open] button.danger").await;
    browser
        .wait_for_text(&format!("{row} .rollout-status"), "Cancelled", |text| {
            text == "Cancelled"
        })
        .await;
    browser
        .wait_for(&format!("{row} [data-action=\"gray-release\"]"))
        .await;
    browser.wait_for(&format!("{row} .rollout-editor")).await;
    let state = version_state(&server, &next).await;
    assert_eq!(
        (&state["rollout"]["status"], &state["grayPercentage"]),
        (&json!("CANCELLED"), &json!(10))
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_names_both_versions_and_restores_the_previous_release() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, first, second) = program_with_versions(&server).await;
    approve(&server, &second).await;
    release(&server, &second, None).await;
    let gray = approved_version(&server, &program, "1.2.0").await;
    release(&server, &gray, Some(10)).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;

    // A gray release is rolled back; the full release keeps serving.
    browser
        .wait_for_text("#roll-back", "the gray release", |text| {
            text.contains("1.2.0")
        })
        .await;
    browser.click("#roll-back").await;
    browser.wait_for("#roll-back-dialog").await;
    assert_eq!(
        browser.text("#roll-back-from").await,
        "1.2.0 (Gray Release (10%))"
    );
    assert_eq!(browser.text("#roll-back-to").await, "1.1.0");
    // The reason is required: the server says so at the field.
    browser.click("#confirm-roll-back").await;
    browser
        .wait_for_text(
            "#roll-back-reason ~ .field-error",
            "the server's reason",
            |text| !text.is_empty(),
        )
        .await;
    assert_eq!(
        version_state(&server, &gray).await["status"],
        "GRAY_RELEASE"
    );
    browser.fill("#roll-back-reason", "Crashes on start").await;
    browser.click("#confirm-roll-back").await;
    browser
        .wait_for(&format!(
            "[data-version-id=\"{gray}\"][data-status=\"OFFLINE\"]"
        ))
        .await;
    let shown = browser
        .text(&format!("[data-version-id=\"{gray}\"] .offline-reason"))
        .await;
    assert!(shown.contains("Crashes on start"), "{shown}");

    // Then the full release: the one it replaced is restored.
    browser
        .wait_for_text("#roll-back", "the full release", |text| {
            text.contains("1.1.0")
        })
        .await;
    browser.click("#roll-back").await;
    assert_eq!(
        browser.text("#roll-back-from").await,
        "1.1.0 (Full Release)"
    );
    assert_eq!(browser.text("#roll-back-to").await, "1.0.0");
    browser.fill("#roll-back-reason", "Payments fail").await;
    browser.screenshot("roll-back-dialog").await;
    browser.click("#confirm-roll-back").await;
    browser
        .wait_for(&format!(
            "[data-version-id=\"{second}\"][data-status=\"OFFLINE\"]"
        ))
        .await;
    browser
        .wait_for(&format!(
            "[data-version-id=\"{first}\"][data-status=\"FULL_RELEASE\"]"
        ))
        .await;
    let shown = browser
        .text(&format!("[data-version-id=\"{second}\"] .offline-reason"))
        .await;
    assert!(shown.contains("Payments fail"), "{shown}");
    browser
        .wait_for_text("#roll-back-result", "what happened", |text| {
            text.contains("1.1.0") && text.contains("1.0.0")
        })
        .await;
    browser.screenshot("rolled-back").await;
    let rolled_back = version_state(&server, &second).await;
    assert_eq!(
        (&rolled_back["status"], &rolled_back["offlineReason"]),
        (&json!("OFFLINE"), &json!("Payments fail"))
    );
    assert_eq!(
        version_state(&server, &first).await["status"],
        "FULL_RELEASE"
    );

    // Nothing older to restore: the dialog says "none"; Escape closes it.
    browser.click("#roll-back").await;
    assert_eq!(
        browser.text("#roll-back-from").await,
        "1.0.0 (Full Release)"
    );
    assert_eq!(browser.text("#roll-back-to").await, "none");
    browser.press(ESCAPE).await;
    let focused: Value = browser.eval("return document.activeElement.id").await;
    assert_eq!(focused, "roll-back", "the focus returns to the button");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_gates_are_registered_and_deleted_through_their_page() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    browser.click("#top-nav a[href=\"#/release-gates\"]").await;
    browser
        .wait_for_text("main h1", "the page", |text| text == "Release gates")
        .await;
    browser.wait_for("#release-gates[hidden]").await;

    // The server checks the URL as a webhook target, and says so at the field.
    browser.fill("#gate-name", "Crash monitor").await;
    browser.fill("#gate-url", "ftp://gate.example/check").await;
    browser.click("form button[type=\"submit\"]").await;
    browser
        .wait_for_text("#gate-url ~ .field-error", "the server's reason", |text| {
            !text.is_empty()
        })
        .await;
    browser
        .fill("#gate-url", "https://gate.example/check")
        .await;
    browser.click("form button[type=\"submit\"]").await;
    browser
        .wait_for_text(".secret-card h2", "the new gate", |text| {
            text == "Crash monitor is registered"
        })
        .await;
    let secret = shown_secret(&browser).await;
    assert!(!secret.is_empty());
    let row = browser.wait_for("#release-gates tbody tr").await;
    let id = row
        .attr("data-gate-id")
        .await
        .expect("an id")
        .expect("an id");
    let listed = browser.text("#release-gates tbody tr").await;
    assert!(
        listed.contains("Crash monitor") && listed.contains("https://gate.example/check"),
        "{listed}"
    );
    browser.screenshot("release-gates").await;
    let gates = server
        .gql(
            &admin(),
            "{ releaseGates { id name url active } }",
            json!({}),
        )
        .await;
    assert_eq!(
        gates.data()["releaseGates"],
        json!([{ "id": id, "name": "Crash monitor", "url": "https://gate.example/check", "active": true }])
    );

    // Deleting asks first: cancelled, nothing changes; confirmed, it is gone.
    browser
        .click(&format!("[data-gate-id=\"{id}\"] button.danger"))
        .await;
    browser.wait_for("dialog[open]").await;
    browser.press(ESCAPE).await;
    assert_eq!(
        server
            .gql(&admin(), "{ releaseGates { id } }", json!({}))
            .await
            .data()["releaseGates"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    browser
        .click(&format!("[data-gate-id=\"{id}\"] button.danger"))
        .await;
    browser.click("dialog[open] button.danger").await;
    browser
        .wait_for_text("main .result", "the deletion", |text| {
            text == "Crash monitor was deleted."
        })
        .await;
    browser.wait_for("#release-gates[hidden]").await;
    assert_eq!(
        server
            .gql(&admin(), "{ releaseGates { id } }", json!({}))
            .await
            .data()["releaseGates"],
        json!([])
    );
    browser.close().await;
}

/// GraphiQL from the binary alone, with every outside host unreachable:
/// it runs a query and its docs load the schema by introspection.
#[tokio::test(flavor = "multi_thread")]
async fn graphiql_works_offline_with_its_docs() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let db = TestDatabase::create(backend()).await;
    let settings = Settings {
        dev_mode: true,
        ..Settings::default()
    };
    let server = TestServer::start_on(&db, settings).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.open("/graphiql").await;
    browser
        .wait_for(".graphiql-container .graphiql-query-editor .CodeMirror")
        .await;
    browser
        .eval("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ viewer { subject workspaceId } }')")
        .await;
    browser.click(".graphiql-execute-button").await;
    browser
        .wait_for_text(".result-window", "the query's answer", |text| {
            text.contains("\"subject\": \"graphiql\"")
        })
        .await;
    browser
        .click("[aria-label='Show Documentation Explorer']")
        .await;
    let search = browser
        .wait_for(".graphiql-doc-explorer-search input")
        .await;
    search
        .send_keys("MiniProgram")
        .await
        .expect("type in the docs' search");
    // The docs know the schema (loaded by the standard introspection
    // query): their search lists the type.
    browser
        .wait_for_text(
            ".graphiql-doc-explorer",
            "MiniProgram in the docs",
            |text| text.lines().any(|line| line.trim() == "MiniProgram"),
        )
        .await;
    // And open the type's page, from the query root down.
    let open_type = |name: &str| {
        format!(
            "const link = [...document.querySelectorAll('.graphiql-doc-explorer a')].find(a => a.textContent === '{name}'); \
             if (link) {{ link.click(); return true; }} return false;"
        )
    };
    for name in ["Query", "MiniProgram"] {
        eventually(WAIT, &format!("a link to {name} in the docs"), || async {
            (browser.eval(&open_type(name)).await == Value::Bool(true)).then_some(())
        })
        .await;
        browser
            .wait_for_text(
                ".graphiql-doc-explorer-title",
                &format!("the docs of {name}"),
                |text| text.trim() == name,
            )
            .await;
    }
    browser
        .wait_for_text(".graphiql-doc-explorer", "MiniProgram's fields", |text| {
            text.contains("updateMode")
        })
        .await;
    browser.screenshot("graphiql-docs").await;
}

/// The program's minimum version and revision, as the API says.
async fn minimum_version(server: &TestServer, program: &str) -> Value {
    let response = server
        .gql(
            &admin(),
            "query($id: ID!) { miniProgram(id: $id) { minimumVersion revision } }",
            json!({ "id": program }),
        )
        .await;
    response.data()["miniProgram"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimum_version_is_chosen_among_the_released_versions() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, _, second) = program_with_versions(&server).await;
    approve(&server, &second).await;
    release(&server, &second, None).await;
    let gray = approved_version(&server, &program, "1.2.0").await;
    release(&server, &gray, Some(10)).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;
    browser
        .wait_for(&format!("[data-version-id=\"{gray}\"]"))
        .await;
    assert_eq!(browser.text("#minimum-version").await, "None");

    // Released versions up to the full release; not the gray one.
    browser.click("#set-minimum-version").await;
    browser.wait_for("#minimum-version-dialog").await;
    assert_eq!(
        values(&browser, "input[name=\"minimum-version\"]").await,
        ["", "1.1.0", "1.0.0"]
    );
    let checked: Value = browser.eval("return document.activeElement.id").await;
    assert_eq!(
        checked, "minimum-version-none",
        "the focus on the current choice"
    );
    browser.click("#minimum-version-1\\.0\\.0").await;
    browser.screenshot("minimum-version-dialog").await;
    browser.click("#confirm-minimum-version").await;
    browser
        .wait_for_text("#minimum-version", "the new floor", |text| text == "1.0.0")
        .await;
    let focused: Value = browser.eval("return document.activeElement.id").await;
    assert_eq!(
        focused, "set-minimum-version",
        "the focus returns to the button"
    );
    let state = minimum_version(&server, &program).await;
    assert_eq!(state["minimumVersion"], "1.0.0");

    // The full release goes offline while the dialog is open: the server
    // refuses 1.1.0 at the choice, and nothing changes.
    browser.click("#set-minimum-version").await;
    browser.click("#minimum-version-1\\.1\\.0").await;
    server
        .gql(
            &admin(),
            "mutation($id: ID!) { takeVersionOffline(input: { versionId: $id }) { miniProgramVersion { id } } }",
            json!({ "id": second }),
        )
        .await
        .data();
    browser.click("#confirm-minimum-version").await;
    browser
        .wait_for_text(
            "#minimum-version-choices ~ .field-error",
            "the server's reason",
            |text| !text.is_empty(),
        )
        .await;
    assert_eq!(minimum_version(&server, &program).await, state);
    browser.press(ESCAPE).await;
    assert_eq!(browser.text("#minimum-version").await, "1.0.0");
    browser.close().await;
}

/// Sets a `datetime-local` input to `seconds` from now, as the browser's
/// clock and time zone have it (WebDriver cannot type into one portably).
async fn set_local_time(browser: &Browser, css: &str, seconds: i64) {
    let script = format!(
        "const at = new Date(Date.now() + {seconds} * 1000);
         const local = new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
         document.querySelector({}).value = local;
         return local",
        Value::from(css)
    );
    browser.eval(&script).await;
}

/// The program's windows, as the API lists them.
async fn windows(server: &TestServer, program: &str) -> Value {
    let response = server
        .gql(
            &admin(),
            "query($id: ID!) { miniProgram(id: $id) { scheduledUpdateModes { id mode status revertTo } } }",
            json!({ "id": program }),
        )
        .await;
    response.data()["miniProgram"]["scheduledUpdateModes"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_scheduled_in_the_console_changes_the_mode_live_and_back() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, _, _) = program_with_versions(&server).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;
    browser
        .wait_for_text("#live-status", "Live", |text| text == "Live")
        .await;
    browser.wait_for("#update-mode-windows[hidden]").await;
    // Gone if the page reloads.
    browser.eval("window.notReloaded = true; return null").await;

    // A window for later, without an end; an end before its start is
    // refused at the end.
    browser.click("#schedule-update-mode").await;
    browser.wait_for("#schedule-dialog").await;
    let focused: Value = browser.eval("return document.activeElement.id").await;
    assert_eq!(focused, "schedule-mode", "the focus on the mode");
    set_local_time(&browser, "#schedule-ends-at", -3600).await;
    browser.click("#confirm-schedule").await;
    browser
        .wait_for_text(
            "#schedule-ends-at ~ .field-error",
            "the server's reason",
            |text| !text.is_empty(),
        )
        .await;
    assert_eq!(windows(&server, &program).await, json!([]));
    browser
        .eval("document.querySelector('#schedule-ends-at').value = ''; return null")
        .await;
    browser.click("#confirm-schedule").await;
    browser
        .wait_for("#update-mode-windows tr[data-window-status=\"SCHEDULED\"]")
        .await;
    let listed = windows(&server, &program).await;
    let later = listed[0]["id"]
        .as_str()
        .expect("the window's id")
        .to_owned();
    assert_eq!(
        listed,
        json!([{ "id": later, "mode": "SYNC", "status": "SCHEDULED", "revertTo": null }])
    );

    // One that starts in a few seconds and ends a few seconds later.
    browser.click("#schedule-update-mode").await;
    browser.wait_for("#schedule-dialog").await;
    set_local_time(&browser, "#schedule-starts-at", 8).await;
    set_local_time(&browser, "#schedule-ends-at", 16).await;
    browser.screenshot("schedule-dialog").await;
    browser.click("#confirm-schedule").await;
    let soon_row = "#update-mode-windows tbody tr:first-child";
    browser
        .wait_for_text("#update-mode-windows tbody", "two windows", |text| {
            text.lines().count() >= 2
        })
        .await;
    let soon = browser
        .attribute(soon_row, "data-window-id")
        .await
        .expect("the window's id");
    assert_ne!(soon, later, "the soonest first");
    assert_eq!(
        browser
            .attribute(soon_row, "data-window-status")
            .await
            .as_deref(),
        Some("SCHEDULED")
    );
    browser.screenshot("update-mode-windows").await;

    // The later one is cancelled after a confirmation.
    let later_row = format!("[data-window-id=\"{later}\"]");
    browser
        .click(&format!("{later_row} [data-action=\"cancel-window\"]"))
        .await;
    browser.click("dialog[open] button.danger").await;
    browser
        .wait_for_text("#update-mode-windows-result", "the cancellation", |text| {
            text.contains("cancelled")
        })
        .await;
    // The list is read again after the answer: the row goes then.
    eventually(WAIT, "the cancelled row to go", || async {
        browser.texts(&later_row).await.is_empty().then_some(())
    })
    .await;
    eventually(WAIT, "the focus on Schedule", || async {
        (browser.eval("return document.activeElement.id").await == "schedule-update-mode")
            .then_some(())
    })
    .await;

    // The soon one starts: the mode changes live, and changes back at its end.
    browser
        .wait_for_text("#global-update-mode", "Sync", |text| text == "Sync")
        .await;
    browser
        .wait_for(&format!(
            "[data-window-id=\"{soon}\"][data-window-status=\"ACTIVE\"]"
        ))
        .await;
    let shown = browser.text(&format!("[data-window-id=\"{soon}\"]")).await;
    assert!(
        shown.contains("Active") && shown.contains("Default"),
        "{shown}"
    );
    browser
        .wait_for_text("#global-update-mode", "Default again", |text| {
            text == "Default"
        })
        .await;
    browser.wait_for("#update-mode-windows[hidden]").await;
    assert_eq!(windows(&server, &program).await, json!([]));
    let history = program_state(&server, &program).await["updateModeHistory"]["totalCount"].clone();
    assert_eq!(history, 2, "the start and the end");
    assert_eq!(
        browser.eval("return window.notReloaded ?? false").await,
        true,
        "seen live, without a reload"
    );
    browser.close().await;
}
