//! Device check-ins in the console: the Adoption tab after real launch
//! requests, the impact previews of the Update Mode and Minimum version
//! dialogs, and the launch preview's reasons.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::browser::{Browser, Driver, WAIT};
use super::common::*;
use super::{approve, backend, open_program, program_with_versions};

/// A server that flushes its check-ins every second.
async fn flushing_server() -> (TestServer, TestDatabase) {
    let db = TestDatabase::create(backend()).await;
    let settings = Settings::with_env(&[("CHECKIN_FLUSH_SECONDS", "1")]);
    (TestServer::start_on(&db, settings).await, db)
}

/// One cold start of `device`, as a super app asks: `GET /v1/launch/{id}`.
async fn launch(
    server: &TestServer,
    key: &str,
    program: &str,
    device: &str,
    cached: Option<&str>,
    age: u64,
) {
    let mut query = vec![
        ("deviceId", device.to_owned()),
        ("cacheAgeSeconds", age.to_string()),
    ];
    if let Some(cached) = cached {
        query.push(("cachedVersion", cached.to_owned()));
    }
    let answer = server
        .http()
        .get(format!("{}/v1/launch/{program}", server.url))
        .header("x-client-key", key)
        .query(&query)
        .send()
        .await
        .expect("GET /v1/launch");
    assert_eq!(answer.status(), 200, "the launch answer of {device}");
}

/// Launches `count` devices named `{prefix}-{i}`.
async fn launch_group(
    server: &TestServer,
    key: &str,
    program: &str,
    (prefix, count, cached, age): (&str, usize, Option<&str>, u64),
) {
    for i in 0..count {
        launch(server, key, program, &format!("{prefix}-{i}"), cached, age).await;
    }
}

/// Waits until the servers' flush has counted `check_ins` for the program.
async fn flushed(server: &TestServer, program: &str, check_ins: i64) {
    eventually(WAIT * 2, "the check-ins flushed", || async {
        let read = server
            .gql(
                &viewer(),
                "query($id: ID!) { miniProgram(id: $id) { adoption { checkIns } } }",
                json!({ "id": program }),
            )
            .await;
        (read.data()["miniProgram"]["adoption"]["checkIns"].as_i64() == Some(check_ins))
            .then_some(())
    })
    .await;
}

/// The table's rows: version (empty for first opens) → [devices, share, check-ins].
async fn table_rows(browser: &Browser) -> Vec<(String, Vec<String>)> {
    let rows = browser
        .eval(
            "return [...document.querySelectorAll('#adoption-table tbody tr')].map((tr) =>
                [tr.dataset.version, ['.devices', '.share', '.check-ins'].map((c) => tr.querySelector(c).innerText.trim())])",
        )
        .await;
    serde_json::from_value(rows).expect("the table's rows")
}

/// The chart's bands: version → devices per hour.
async fn chart_bands(browser: &Browser) -> BTreeMap<String, Vec<i64>> {
    let bands = browser
        .eval(
            "return Object.fromEntries([...document.querySelectorAll('#adoption-chart path.area')].map((p) =>
                [p.dataset.version, p.dataset.devices.split(',').map(Number)]))",
        )
        .await;
    serde_json::from_value(bands).expect("the chart's bands")
}

/// Clicks Refresh until the table shows `devices` in all.
async fn refresh_until(browser: &Browser, devices: &str) {
    eventually(WAIT * 2, "the table to show the check-ins", || async {
        browser.click("#adoption-refresh").await;
        browser
            .wait_for("section.adoption[aria-busy=\"false\"]")
            .await;
        let total = browser
            .texts("#adoption-table tfoot td.devices")
            .await
            .pop()
            .unwrap_or_default();
        (total == devices).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adoption_tab_shows_what_devices_reported_in_a_table_and_a_chart() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = flushing_server().await;
    let (program, _, newest) = program_with_versions(&server).await;
    approve(&server, &newest).await;
    release(&server, &newest, None).await;
    let key = create_client_key(&server, &admin()).await;

    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&viewer()).await;
    browser
        .open(&format!("/console/#/programs/{program}/adoption"))
        .await;
    let empty = browser
        .wait_for_text("#adoption-empty", "the empty state", |text| {
            !text.is_empty()
        })
        .await;
    assert!(empty.contains("No device has checked in"), "{empty}");
    assert!(
        browser
            .texts(".adoption-figures:not([hidden])")
            .await
            .is_empty(),
        "no table or chart without figures"
    );

    // 6 devices on 1.0.0 (one of them starts twice), 3 on the newest
    // release, 2 first opens.
    launch_group(&server, &key, &program, ("old", 6, Some("1.0.0"), 60)).await;
    launch(&server, &key, &program, "old-0", Some("1.0.0"), 120).await;
    launch_group(&server, &key, &program, ("new", 3, Some("1.1.0"), 60)).await;
    launch_group(&server, &key, &program, ("first", 2, None, 0)).await;
    refresh_until(&browser, "11").await;

    assert_eq!(
        table_rows(&browser).await,
        [
            (
                "1.0.0".to_owned(),
                vec!["6".into(), "54.5%".into(), "7".into()]
            ),
            (
                "1.1.0".to_owned(),
                vec!["3".into(), "27.3%".into(), "3".into()]
            ),
            (String::new(), vec!["2".into(), "18.2%".into(), "2".into()]),
        ],
        "most devices first"
    );
    assert_eq!(
        browser.texts("#adoption-table tfoot tr > *").await,
        ["All devices", "11", "100%", "12"]
    );
    let summary = browser.text("#adoption-summary").await;
    assert!(
        summary.contains("27.3%") && summary.contains("newest release, 1.1.0"),
        "{summary}"
    );
    assert!(
        browser
            .text("#adoption-updated")
            .await
            .starts_with("Figures as of"),
        "the time of the last flush"
    );
    browser.screenshot("adoption").await;

    // Accessibility basics: a table with a caption and column headers, a
    // chart with a name and a description that takes the focus.
    assert_eq!(
        browser
            .texts("#adoption-table thead th[scope=\"col\"]")
            .await,
        ["Version", "Devices", "Share", "Check-ins"]
    );
    assert_eq!(
        browser
            .texts("#adoption-table tbody th[scope=\"row\"]")
            .await
            .len(),
        3
    );
    assert!(!browser.text("#adoption-table caption").await.is_empty());
    let named: Value = browser
        .eval(
            "const chart = document.querySelector('#adoption-chart');
             const by = (attr) => document.getElementById(chart.getAttribute(attr))?.textContent ?? '';
             return [chart.getAttribute('role'), chart.getAttribute('tabindex'), by('aria-labelledby'), by('aria-describedby')]",
        )
        .await;
    assert_eq!(named[0], "img");
    assert_eq!(named[1], "0");
    assert!(
        named[2]
            .as_str()
            .unwrap_or_default()
            .contains("last 24 hours"),
        "{named}"
    );
    assert!(
        named[3].as_str().unwrap_or_default().contains("arrow keys"),
        "{named}"
    );

    // The chart and the table agree: a band per version of the table, and
    // each band's devices add up to the table's (every device started in
    // one hour only, so per-hour counts add up to the period's).
    let bands = chart_bands(&browser).await;
    let table = table_rows(&browser).await;
    assert_eq!(
        bands.keys().cloned().collect::<BTreeSet<_>>(),
        table
            .iter()
            .map(|(v, _)| v.clone())
            .collect::<BTreeSet<_>>()
    );
    for (version, cells) in &table {
        assert_eq!(bands[version].len(), 24, "an hour per point");
        assert_eq!(
            bands[version].iter().sum::<i64>().to_string(),
            cells[0],
            "{version}"
        );
    }
    // From the keyboard, the newest hour's figures are read out.
    browser
        .eval("document.querySelector('#adoption-chart').focus(); return null")
        .await;
    browser.press("\u{e010}").await; // End
    let newest_hour: i64 = bands.values().map(|hours| hours[23]).sum();
    let readout = browser
        .wait_for_text("#adoption-readout", "the newest hour", |text| {
            !text.is_empty()
        })
        .await;
    assert!(
        readout.contains(&format!("{newest_hour} device")),
        "{readout}"
    );
    browser.press("\u{e012}").await; // Left
    let before = browser.text("#adoption-readout").await;
    assert_ne!(before, readout, "the cursor moves an hour back");

    // Seven days: an hour per point over the week, the same devices.
    browser.click("#adoption-period-168").await;
    browser
        .wait_for("#adoption-period-168[aria-pressed=\"true\"]")
        .await;
    eventually(WAIT, "the chart of 7 days", || async {
        let bands = chart_bands(&browser).await;
        bands.values().all(|hours| hours.len() == 168).then_some(())
    })
    .await;
    assert_eq!(
        browser
            .attribute("#adoption-period-24", "aria-pressed")
            .await
            .as_deref(),
        Some("false")
    );
    assert!(
        browser
            .text("#adoption-table caption")
            .await
            .contains("last 7 days")
    );
    assert_eq!(table_rows(&browser).await, table);
    browser.click("#adoption-period-24").await;
    eventually(WAIT, "the chart of 24 hours", || async {
        let bands = chart_bands(&browser).await;
        bands.values().all(|hours| hours.len() == 24).then_some(())
    })
    .await;
    browser.close().await;
}

/// 4 devices a version behind past the async time, 2 past the sync time,
/// 3 on the release and a first open: 10 devices.
async fn known_devices(server: &TestServer, key: &str, program: &str) {
    launch_group(server, key, program, ("due", 4, Some("0.9.0"), 5_400)).await;
    launch_group(
        server,
        key,
        program,
        ("stale", 2, Some("0.9.0"), 90 * 86_400),
    )
    .await;
    launch_group(server, key, program, ("current", 3, Some("1.0.0"), 60)).await;
    launch_group(server, key, program, ("first", 1, None, 0)).await;
    flushed(server, program, 10).await;
}

/// The dialog's impact line once it has its answer.
async fn impact(browser: &Browser, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    browser
        .wait_for(&format!("{css}[data-state=\"ready\"]"))
        .await;
    browser.wait_for_text(css, what, check).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialogs_tell_what_a_change_would_make_the_devices_seen_do() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = flushing_server().await;
    let (program, _, _) = program_with_versions(&server).await;
    let key = create_client_key(&server, &admin()).await;
    known_devices(&server, &key, &program).await;

    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&admin()).await;
    open_program(&browser, &program).await;

    // The current mode first: under Default, the stale caches download first.
    browser.click("#update-mode-button").await;
    browser.wait_for("#update-mode-dialog").await;
    let shown = impact(
        &browser,
        "#update-mode-impact",
        "Default's impact",
        |text| text.starts_with("In the last 24 h, 10 devices:"),
    )
    .await;
    for part in [
        "4 would update in the background",
        "3 would wait for a download",
        "3 would start the version they have",
    ] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
    assert_eq!(
        browser.text("#update-mode-impact-heading").await,
        "What Default would do"
    );

    // Each choice is previewed as it is made.
    browser
        .click("#update-mode-dialog input[name=\"update-mode\"][value=\"SYNC\"]")
        .await;
    let sync = impact(&browser, "#update-mode-impact", "Sync's impact", |text| {
        text.contains("7 would wait for a download")
    })
    .await;
    assert_eq!(
        sync,
        "In the last 24 h, 10 devices: 7 would wait for a download, 3 would start the version they have."
    );
    browser.screenshot("update-mode-impact").await;
    browser
        .click("#update-mode-dialog input[name=\"update-mode\"][value=\"ASYNC\"]")
        .await;
    let async_mode = impact(&browser, "#update-mode-impact", "Async's impact", |text| {
        text.contains("6 would update in the background")
    })
    .await;
    assert!(
        async_mode.contains("1 would wait for a download"),
        "{async_mode}"
    );
    // What the API says for that mode, in words.
    let api = server
        .gql(
            &admin(),
            "query($id: ID!) { updateModeImpact(miniProgramId: $id, mode: ASYNC) { devices byAction { action devices } } }",
            json!({ "id": program }),
        )
        .await;
    assert_eq!(
        api.data()["updateModeImpact"],
        json!({ "devices": 10, "byAction": [
            { "action": "NONE", "devices": 3 },
            { "action": "SYNC_DOWNLOAD", "devices": 1 },
            { "action": "ASYNC_DOWNLOAD", "devices": 6 },
        ] })
    );
    // The preview decides nothing: Confirm still changes the mode.
    browser.click("#confirm-update-mode").await;
    browser
        .wait_for_text("#global-update-mode", "Async", |text| text == "Async")
        .await;

    // The minimum version's preview, choice by choice.
    browser.click("#set-minimum-version").await;
    browser.wait_for("#minimum-version-dialog").await;
    let none = impact(&browser, "#minimum-version-impact", "no minimum", |text| {
        !text.is_empty()
    })
    .await;
    assert!(none.starts_with("With no minimum"), "{none}");
    browser.click("#minimum-version-1\\.0\\.0").await;
    let below = impact(
        &browser,
        "#minimum-version-impact",
        "the devices below 1.0.0",
        |text| text.contains("older version"),
    )
    .await;
    assert_eq!(
        below,
        "6 devices (60%) seen in the last 24 h run an older version and would download before starting."
    );
    browser.screenshot("minimum-version-impact").await;
    browser.click("#minimum-version-none").await;
    impact(
        &browser,
        "#minimum-version-impact",
        "no minimum again",
        |text| text.starts_with("With no minimum"),
    )
    .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_launch_preview_lists_the_reasons_for_its_answer() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (server, _db) = TestServer::start(backend()).await;
    let (program, _, _) = program_with_versions(&server).await;
    let browser = driver.session(&server.url, 1280, 900).await;
    browser.sign_in(&viewer()).await;
    browser
        .open(&format!("/console/#/programs/{program}/launch-preview"))
        .await;
    browser.fill("#launch-device", "device-7").await;
    browser.fill("#launch-cached", "0.9.0").await;
    browser.fill("#launch-age", "60").await;
    browser.click("form.card button[type=\"submit\"]").await;
    browser.wait_for("#launch-reasons li").await;
    let shown = browser.texts("#launch-reasons li").await;
    let api = server
        .gql(
            &viewer(),
            "query($id: ID!) { launchPolicy(miniProgramId: $id, deviceId: \"device-7\", cachedVersion: \"0.9.0\", cacheAgeSeconds: 60) { reasons } }",
            json!({ "id": program }),
        )
        .await;
    let reasons: Vec<String> =
        serde_json::from_value(api.data()["launchPolicy"]["reasons"].clone()).expect("reasons");
    assert_eq!(shown, reasons, "every reason, in order");
    assert!(shown.len() >= 3, "{shown:?}");
    assert!(shown[1].contains("full release 1.0.0"), "{shown:?}");
    assert_eq!(
        browser
            .eval("return document.querySelector('#launch-reasons').tagName")
            .await,
        "OL",
        "an ordered list"
    );
    browser
        .eval("document.querySelector('#launch-reasons').scrollIntoView({ block: 'end' }); return null")
        .await;
    browser.screenshot("launch-preview-reasons").await;
    browser.close().await;
}
