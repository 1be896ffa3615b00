//! The dashboard's Rules page in a real browser (headless Chromium through
//! chromedriver, as tests/dashboard.rs): a person creates a rule in the
//! editor, tries its SQL in the test pane (the output, then "SQL Not
//! Match"), sees it in the list, publishes, and watches its metrics count;
//! then disables and deletes it.
//!
//! `cargo test --test dashboard_rules -- --ignored screenshot` writes
//! docs/dashboard-rules.png.

#[macro_use]
mod common;
use common::access::api;
use common::browser::{log_in, open, wait_js, ChromeDriver, STEP};
use common::*;

use fantoccini::{Client, Locator};
use serde_json::json;

const SQL: &str = r#"SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30"#;

/// Sets a form field's value as typing would (input and change events).
async fn set(c: &Client, css: &str, value: &str) {
    c.execute(
        "const el = document.querySelector(arguments[0]); \
         if (!el) throw new Error('no ' + arguments[0]); \
         el.value = arguments[1]; \
         el.dispatchEvent(new Event('input', {bubbles: true})); \
         el.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![json!(css), json!(value)],
    )
    .await
    .unwrap_or_else(|e| panic!("set {css}: {e}"));
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(STEP)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// The test pane's answer, once one is shown.
async fn test_result(c: &Client) -> String {
    wait_js(
        c,
        "the test pane's result",
        "return document.querySelector('.test-output .result')?.innerText || ''",
        vec![],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

/// Fills the editor as a person would: id, SQL, one republish action.
async fn fill_editor(c: &Client, id: &str) {
    set(c, ".rule-form input[name=id]", id).await;
    set(c, ".rule-form textarea[name=sql]", SQL).await;
    set(c, ".rule-form input[name=name]", "hot rooms").await;
    // The new rule starts with a console action: turn it into a republish.
    set(c, ".action-row select[name=function]", "republish").await;
    set(c, ".action-row input[name=topic]", "alerts/${clientid}").await;
    set(c, ".action-row select[name=qos]", "1").await;
    set(c, ".action-row input[name=payload]", "${t}").await;
}

#[tokio::test]
async fn create_test_and_watch_a_rule() {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let b = Broker::start();
    let http = b.http_addr();
    let c = driver.browser().await;
    log_in(&c, http).await;

    open(&c, http, "rules").await;
    wait_js(
        &c,
        "the empty rule list",
        "return !!document.querySelector('section.page td.empty')",
        vec![],
    )
    .await;
    click(&c, "button[data-action=new-rule]").await;
    wait_js(
        &c,
        "the editor",
        "return location.hash === '#/rules/new' && !!document.querySelector('.rule-form textarea[name=sql]')",
        vec![],
    )
    .await;
    fill_editor(&c, "hot").await;

    // The test pane: a matching payload shows the output...
    set(&c, ".test-form input[name=topic]", "sensors/room1").await;
    set(&c, ".test-form input[name=clientid]", "room1").await;
    set(&c, ".test-form textarea[name=payload]", r#"{"temp": 35}"#).await;
    click(&c, "button[data-action=test]").await;
    let out = test_result(&c).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v, json!({"t": 35, "clientid": "room1"}));
    // ...one the WHERE refuses says so.
    c.execute(
        "document.querySelector('.test-output').replaceChildren()",
        vec![],
    )
    .await
    .unwrap();
    set(&c, ".test-form textarea[name=payload]", r#"{"temp": 20}"#).await;
    click(&c, "button[data-action=test]").await;
    let out = test_result(&c).await;
    assert!(out.contains("SQL Not Match"), "{out}");

    // Create: back on the list, with the rule in it.
    click(&c, "button[data-action=save]").await;
    wait_js(
        &c,
        "the new rule in the list",
        "return location.hash === '#/rules' && !!document.querySelector('tr[data-rule=hot]')",
        vec![],
    )
    .await;
    let (status, r) = api(&b, "GET", "/api/v5/rules/hot", None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["sql"], SQL);
    assert_eq!(
        r["actions"],
        json!([{"function": "republish", "args": {
            "topic": "alerts/${clientid}", "qos": 1, "retain": false, "payload": "${t}"}}])
    );

    // Publishes: the rule republishes, and its row counts.
    let mut sub = V5Client::connect(b.addr(), "watcher").await;
    sub.subscribe("alerts/#", 1).await;
    let mut p = V5Client::connect(b.addr(), "room1").await;
    p.publish("sensors/room1", br#"{"temp": 35}"#, 1, false)
        .await;
    p.publish("sensors/room1", br#"{"temp": 36}"#, 1, false)
        .await;
    p.publish("sensors/room1", br#"{"temp": 10}"#, 1, false)
        .await;
    let got = sub.recv_publishes(2).await;
    assert_eq!(&got[0].payload[..], b"35");
    wait_js(
        &c,
        "the rule's metrics in its row",
        "const row = document.querySelector('tr[data-rule=hot]'); \
         return row && row.querySelector('.m-matched').innerText === '3' \
             && row.querySelector('.m-passed').innerText === '2' \
             && row.querySelector('.m-success').innerText === '2'",
        vec![],
    )
    .await;

    // Disable, then delete (after the confirmation).
    click(&c, "tr[data-rule=hot] button.toggle").await;
    wait_js(
        &c,
        "the rule shown disabled",
        "return document.querySelector('tr[data-rule=hot]')?.innerText.includes('disabled')",
        vec![],
    )
    .await;
    let (_, r) = api(&b, "GET", "/api/v5/rules/hot", None).await;
    assert_eq!(r["enable"], false);
    click(&c, "tr[data-rule=hot] button.delete").await;
    click(&c, "dialog[open] #confirm-ok").await;
    wait_js(
        &c,
        "the rule gone from the list",
        "return !document.querySelector('tr[data-rule=hot]') && !!document.querySelector('td.empty')",
        vec![],
    )
    .await;
    let (status, _) = api(&b, "GET", "/api/v5/rules/hot", None).await;
    assert_eq!(status, 404);

    // The editor refuses bad SQL with the API's message and keeps the form.
    open(&c, http, "rules/new").await;
    set(&c, ".rule-form textarea[name=sql]", "SELEC nothing").await;
    click(&c, "button[data-action=save]").await;
    let err = wait_js(
        &c,
        "the save error",
        "return document.querySelector('.save-error')?.innerText || ''",
        vec![],
    )
    .await;
    assert!(
        err.as_str().unwrap().to_lowercase().contains("sql"),
        "{err}"
    );
    c.close().await.unwrap();
}

/// Writes docs/dashboard-rules.png: the list with a few rules that have run,
/// and the editor with a test result. Run by hand after changing the page.
#[tokio::test]
#[ignore]
async fn screenshot() {
    let driver = ChromeDriver::start().expect("chromedriver for the screenshot");
    let b = Broker::start();
    let http = b.http_addr();
    for body in [
        json!({"id": "temp_alert", "name": "hot rooms", "sql": SQL, "actions": [{"function": "republish",
            "args": {"topic": "alerts/${clientid}", "qos": 1, "payload": "${t}"}}]}),
        json!({"id": "connected", "name": "presence", "sql": "SELECT clientid, peername FROM \"$events/client_connected\"",
            "actions": [{"function": "republish", "args": {"topic": "presence/${clientid}"}}]}),
        json!({"id": "batch_split", "name": "split batches", "sql":
            "FOREACH payload.readings AS r DO r.v AS v, clientid FROM \"batch/#\"",
            "actions": [{"function": "console"}], "enable": false}),
    ] {
        let (status, r) = api(&b, "POST", "/api/v5/rules", Some(body)).await;
        assert_eq!(status, 201, "{r}");
    }
    let mut p = V5Client::connect(b.addr(), "room1").await;
    for t in [35, 12, 41, 28, 33] {
        p.publish(
            "sensors/room1",
            format!("{{\"temp\": {t}}}").as_bytes(),
            1,
            false,
        )
        .await;
    }
    let c = driver.browser().await;
    log_in(&c, http).await;
    open(&c, http, "rules").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::write(
        docs.join("dashboard-rules.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    open(&c, http, "rules/edit/temp_alert").await;
    set(&c, ".test-form textarea[name=payload]", r#"{"temp": 35}"#).await;
    click(&c, "button[data-action=test]").await;
    test_result(&c).await;
    std::fs::write(
        docs.join("dashboard-rules-editor.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    eprintln!("wrote docs/dashboard-rules.png and docs/dashboard-rules-editor.png");
    c.close().await.unwrap();
}
