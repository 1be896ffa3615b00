//! The dashboard's Connectors and Actions pages in a real browser (headless
//! Chromium through chromedriver, as tests/dashboard_rules.rs): a person
//! creates an http connector and an action from the JSON form, sees their
//! status, watches the action's metrics count real publishes sent through a
//! rule to a webhook the test runs, disables the action, and deletes it.

#[macro_use]
mod common;
use common::access::{api, http_service};
use common::browser::{log_in, open, wait_js, ChromeDriver, STEP};
use common::*;

use fantoccini::{Client, Locator};
use serde_json::json;

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

/// Opens the create form of the page, fills its JSON, and creates.
async fn create(c: &Client, conf: serde_json::Value) {
    click(c, "button[data-action=new]").await;
    set(c, ".bridge-form textarea[name=conf]", &conf.to_string()).await;
    click(c, "button[data-action=create]").await;
}

#[tokio::test]
async fn create_watch_and_delete_a_connector_and_an_action() {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let (hook, seen) = http_service(|_| (200, json!({}))).await;
    let b = Broker::start();
    let http = b.http_addr();
    let c = driver.browser().await;
    log_in(&c, http).await;

    open(&c, http, "connectors").await;
    wait_js(
        &c,
        "the empty connector list",
        "return !!document.querySelector('section.page td.empty')",
        vec![],
    )
    .await;
    create(
        &c,
        json!({"type": "http", "name": "hook", "url": format!("http://{hook}"), "pool_size": 2}),
    )
    .await;
    wait_js(
        &c,
        "the connector's row, connected",
        "const row = document.querySelector('tr[data-bridge=\"http:hook\"]'); \
         return !!row && row.querySelector('td.status').innerText.includes('connected')",
        vec![],
    )
    .await;

    // A wrong JSON object: the API's message shows, the form stays.
    open(&c, http, "actions").await;
    create(
        &c,
        json!({"type": "http", "name": "out", "connector": "nowhere"}),
    )
    .await;
    let err = wait_js(
        &c,
        "the save error",
        "return document.querySelector('.save-error')?.innerText || ''",
        vec![],
    )
    .await;
    assert!(!err.as_str().unwrap().is_empty());
    set(
        &c,
        ".bridge-form textarea[name=conf]",
        &json!({"type": "http", "name": "out", "connector": "hook",
                "parameters": {"method": "post", "path": "/in", "body": "${.}"}})
        .to_string(),
    )
    .await;
    click(&c, "button[data-action=create]").await;
    wait_js(
        &c,
        "the action's row",
        "return !!document.querySelector('tr[data-bridge=\"http:out\"]')",
        vec![],
    )
    .await;
    let (status, a) = api(&b, "GET", "/api/v5/actions/http:out", None).await;
    assert_eq!(
        (status, a["connector"].as_str()),
        (200, Some("hook")),
        "{a}"
    );

    // A rule sends to it; the row counts.
    let rule = json!({"id": "r", "sql": "SELECT payload FROM \"t/#\"", "actions": ["http:out"]});
    assert_eq!(api(&b, "POST", "/api/v5/rules", Some(rule)).await.0, 201);
    let mut p = V5Client::connect(b.addr(), "c1").await;
    for _ in 0..3 {
        p.publish("t/1", b"hi", 1, false).await;
    }
    wait_js(
        &c,
        "the action's metrics in its row",
        "const row = document.querySelector('tr[data-bridge=\"http:out\"]'); \
         return row && row.querySelector('.m-matched').innerText === '3' \
             && row.querySelector('.m-success').innerText === '3'",
        vec![],
    )
    .await;
    assert_eq!(seen.lock().unwrap().len(), 3);

    // Disable, then delete (after the rule that uses it, and the confirmation).
    click(&c, "tr[data-bridge=\"http:out\"] button.toggle").await;
    wait_js(
        &c,
        "the action shown stopped",
        "return document.querySelector('tr[data-bridge=\"http:out\"] td.status')?.innerText.includes('stopped')",
        vec![],
    )
    .await;
    assert_eq!(
        api(&b, "GET", "/api/v5/actions/http:out", None).await.1["enable"],
        false
    );
    assert_eq!(api(&b, "DELETE", "/api/v5/rules/r", None).await.0, 204);
    click(&c, "tr[data-bridge=\"http:out\"] button.delete").await;
    click(&c, "dialog[open] #confirm-ok").await;
    wait_js(
        &c,
        "the action gone from the list",
        "return !document.querySelector('tr[data-bridge=\"http:out\"]') && !!document.querySelector('td.empty')",
        vec![],
    )
    .await;
    assert_eq!(
        api(&b, "GET", "/api/v5/actions/http:out", None).await.0,
        404
    );
    c.close().await.unwrap();
}
