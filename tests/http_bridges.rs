//! Data integration through the REST API and the built binary, EMQX 5's
//! paths, codes and shapes: an `http` connector to a webhook the test runs,
//! an action on it, a rule naming the action; real publishes reach the
//! webhook with the rule's output, and the action's metrics count them.
//! Then the errors (ALREADY_EXISTS, DEPENDENCY_EXISTS, NOT_FOUND, a bad id),
//! enable/disable, reset, and deletes.

#[macro_use]
mod common;
use common::access::{api, eventually, http_service};
use common::http::http;
use common::*;
use serde_json::{json, Value};

fn connector(url: &str) -> Value {
    json!({"type": "http", "name": "hook", "url": url,
           "headers": {"content-type": "application/json"},
           "connect_timeout": "5s", "pool_size": 2})
}

fn action() -> Value {
    json!({"type": "http", "name": "out", "connector": "hook",
           "parameters": {"method": "post", "path": "/ingest", "body": "${.}"},
           "resource_opts": {"batch_size": 1, "request_ttl": "30s"}})
}

fn rule() -> Value {
    json!({"id": "to_hook",
           "sql": r#"SELECT payload.temp AS t, clientid FROM "sensors/#" WHERE payload.temp > 30"#,
           "actions": ["http:out"]})
}

async fn metrics(b: &Broker, id: &str) -> Value {
    let (status, m) = api(b, "GET", &format!("/api/v5/actions/{id}/metrics"), None).await;
    assert_eq!(status, 200, "{m}");
    m
}

#[tokio::test]
async fn a_rule_sends_through_an_http_action_and_the_metrics_move() {
    let (hook, seen) = http_service(|_| (200, json!({}))).await;
    let b = Broker::start();

    let (status, c) = api(
        &b,
        "POST",
        "/api/v5/connectors",
        Some(connector(&format!("http://{hook}"))),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(
        (c["type"].as_str(), c["name"].as_str()),
        (Some("http"), Some("hook"))
    );
    eventually(
        Duration::from_secs(10),
        "the connector connected",
        || async {
            api(&b, "GET", "/api/v5/connectors/http:hook", None).await.1["status"] == "connected"
        },
    )
    .await;
    let (status, a) = api(&b, "POST", "/api/v5/actions", Some(action())).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["connector"], "hook");
    assert_eq!(a["parameters"]["body"], "${.}");
    let (status, r) = api(&b, "POST", "/api/v5/rules", Some(rule())).await;
    assert_eq!(status, 201, "{r}");

    // Lists are arrays with the status of each.
    let (status, list) = api(&b, "GET", "/api/v5/actions", None).await;
    assert_eq!(status, 200);
    let list = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "out");
    assert!(list[0]["status"].is_string(), "{}", list[0]);

    let mut p = V5Client::connect(b.addr(), "room1").await;
    p.publish("sensors/room1", br#"{"temp": 35}"#, 1, false)
        .await;
    p.publish("sensors/room1", br#"{"temp": 10}"#, 1, false)
        .await; // the WHERE refuses it
    p.publish("sensors/room1", br#"{"temp": 40}"#, 1, false)
        .await;
    eventually(
        Duration::from_secs(10),
        "two requests at the webhook",
        || async { seen.lock().unwrap().len() >= 2 },
    )
    .await;
    // pool_size 2: the two requests may arrive in either order.
    let mut got = seen.lock().unwrap().clone();
    got.sort_by_key(|v| v["t"].as_i64());
    assert_eq!(
        got,
        [
            json!({"t": 35, "clientid": "room1"}),
            json!({"t": 40, "clientid": "room1"})
        ]
    );
    eventually(
        Duration::from_secs(10),
        "the action counted both",
        || async {
            let m = metrics(&b, "http:out").await;
            m["metrics"]["matched"] == 2 && m["metrics"]["success"] == 2
        },
    )
    .await;
    let m = metrics(&b, "http:out").await;
    for k in [
        "failed",
        "dropped",
        "dropped.queue_full",
        "dropped.expired",
        "dropped.other",
        "queuing",
        "inflight",
        "retried",
    ] {
        assert_eq!(m["metrics"][k], 0, "{k} in {m}");
    }
    assert!(
        m["node_metrics"].as_array().is_some_and(|n| !n.is_empty()),
        "{m}"
    );

    // Reset zeroes them.
    let (status, _) = api(&b, "PUT", "/api/v5/actions/http:out/metrics/reset", None).await;
    assert_eq!(status, 204);
    assert_eq!(metrics(&b, "http:out").await["metrics"]["success"], 0);

    // Disabled, the action is stopped and sends nothing.
    let (status, _) = api(&b, "PUT", "/api/v5/actions/http:out/enable/false", None).await;
    assert_eq!(status, 204);
    let (_, a) = api(&b, "GET", "/api/v5/actions/http:out", None).await;
    assert_eq!(
        (a["enable"].clone(), a["status"].clone()),
        (json!(false), json!("stopped")),
        "{a}"
    );
    p.publish("sensors/room1", br#"{"temp": 50}"#, 1, false)
        .await;
    // What a stopped action is handed is counted (EMQX's name), not lost
    // silently.
    eventually(
        Duration::from_secs(10),
        "dropped.resource_stopped",
        || async {
            let m = metrics(&b, "http:out").await;
            m["metrics"]["dropped.resource_stopped"] == 1
                && m["metrics"]["dropped"] == 1
                && m["metrics"]["matched"] == 1
        },
    )
    .await;
    let (status, _) = api(&b, "PUT", "/api/v5/actions/http:out/enable/true", None).await;
    assert_eq!(status, 204);
    p.publish("sensors/room1", br#"{"temp": 60}"#, 1, false)
        .await;
    eventually(Duration::from_secs(10), "the third request", || async {
        seen.lock().unwrap().len() >= 3
    })
    .await;
    assert_eq!(
        seen.lock().unwrap()[2]["t"],
        60,
        "the message sent while disabled did not go"
    );

    // PUT changes the fields and keeps type and name.
    let mut changed = action();
    changed["parameters"]["path"] = json!("/other");
    changed.as_object_mut().unwrap().remove("type");
    changed.as_object_mut().unwrap().remove("name");
    let (status, a) = api(&b, "PUT", "/api/v5/actions/http:out", Some(changed)).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["parameters"]["path"], "/other");
    assert_eq!(a["name"], "out");
}

#[tokio::test]
async fn errors_have_emqx_codes() {
    let (hook, _) = http_service(|_| (200, json!({}))).await;
    let b = Broker::start();
    let url = format!("http://{hook}");
    assert_eq!(
        api(&b, "POST", "/api/v5/connectors", Some(connector(&url)))
            .await
            .0,
        201
    );
    let (status, e) = api(&b, "POST", "/api/v5/connectors", Some(connector(&url))).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("ALREADY_EXISTS")),
        "{e}"
    );
    // A type that does not exist, a field that is wrong.
    let (status, e) = api(
        &b,
        "POST",
        "/api/v5/connectors",
        Some(json!({"type": "nope", "name": "x"})),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    let (status, e) = api(
        &b,
        "POST",
        "/api/v5/connectors",
        Some(json!({"type": "http", "name": "bad", "url": 7})),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    // An action on a connector that does not exist.
    let mut orphan = action();
    orphan["connector"] = json!("nowhere");
    let (status, e) = api(&b, "POST", "/api/v5/actions", Some(orphan)).await;
    assert_eq!(status, 400, "{e}");

    assert_eq!(
        api(&b, "POST", "/api/v5/actions", Some(action())).await.0,
        201
    );
    assert_eq!(api(&b, "POST", "/api/v5/rules", Some(rule())).await.0, 201);
    // Still used: the connector by the action, the action by the rule.
    let (status, e) = api(&b, "DELETE", "/api/v5/connectors/http:hook", None).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("DEPENDENCY_EXISTS")),
        "{e}"
    );
    let (status, e) = api(&b, "DELETE", "/api/v5/actions/http:out", None).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("DEPENDENCY_EXISTS")),
        "{e}"
    );

    for path in [
        "/api/v5/connectors/http:none",
        "/api/v5/actions/http:none",
        "/api/v5/sources/mqtt:none",
        "/api/v5/actions/http:none/metrics",
    ] {
        let (status, e) = api(&b, "GET", path, None).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{path}: {e}"
        );
    }
    let (status, e) = api(&b, "GET", "/api/v5/connectors/no_colon", None).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{e}"
    );
    // Credentials are needed, as for the rest of the API.
    let r = http(b.http_addr(), "GET", "/api/v5/connectors", None, None).await;
    assert_eq!(r.status, 401);

    // Deleted in order: rule, action, connector.
    assert_eq!(
        api(&b, "DELETE", "/api/v5/rules/to_hook", None).await.0,
        204
    );
    assert_eq!(
        api(&b, "DELETE", "/api/v5/actions/http:out", None).await.0,
        204
    );
    assert_eq!(
        api(&b, "DELETE", "/api/v5/connectors/http:hook", None)
            .await
            .0,
        204
    );
    assert_eq!(
        api(&b, "GET", "/api/v5/connectors", None).await.1,
        json!([])
    );
}
