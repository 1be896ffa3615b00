//! The REST API's health checks, nodes, listeners and OpenAPI document:
//! `GET /status` and `/api/v5/status` without credentials (EMQX's text),
//! `/api/v5/nodes[/{node}]`, `/api/v5/listeners[/{id}]`, and `/api-docs`.

#[macro_use]
mod common;
use common::http::{get, http};
use common::*;
use serde_json::Value;

#[tokio::test]
async fn status_answers_without_credentials() {
    let b = Broker::start();
    let addr = b.http_addr();
    for path in ["/status", "/api/v5/status"] {
        let r = http(addr, "GET", path, None, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(r.header("content-type").unwrap().starts_with("text/plain"));
        assert_eq!(r.body, "Node roost@127.0.0.1 is started\nroost is running");
        let j = http(addr, "GET", &format!("{path}?format=json"), None, None).await;
        assert_eq!(j.status, 200);
        let j = j.json();
        assert_eq!(j["broker_status"], "started");
        assert_eq!(j["app_status"], "running");
        assert_eq!(j["node"], "roost@127.0.0.1");
    }
    // Everything else still needs them.
    let r = http(addr, "GET", "/api/v5/clients", None, None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn nodes_and_listeners() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let _c = V5Client::connect(mqtt, "one").await;

    let nodes = get(addr, "/api/v5/nodes").await.json();
    let n = &nodes[0];
    assert_eq!(n["node"], "roost@127.0.0.1");
    assert_eq!(n["node_status"], "running");
    assert_eq!(n["role"], "core");
    assert_eq!(n["connections"], 1);
    assert!(n["uptime"].is_u64() && n["version"].is_string(), "{n}");
    let one = get(addr, "/api/v5/nodes/roost@127.0.0.1").await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json()["node"], "roost@127.0.0.1");
    let none = get(addr, "/api/v5/nodes/other@host").await;
    assert_eq!(none.status, 404);
    assert_eq!(none.json()["code"], "NOT_FOUND");

    let ls = get(addr, "/api/v5/listeners").await;
    assert_eq!(ls.status, 200, "{}", ls.body);
    let ls = ls.json();
    let ids: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["tcp:default", "ssl:default", "ws:default", "wss:default"]
    );
    let tcp = &ls[0];
    assert_eq!(tcp["type"], "tcp");
    assert_eq!(tcp["name"], "default");
    assert_eq!(tcp["running"], true);
    assert_eq!(tcp["enable"], true);
    assert_eq!(tcp["bind"], mqtt.to_string(), "the bound address");
    assert_eq!(tcp["current_connections"], 1);
    assert!(tcp["max_connections"].as_u64().unwrap() > 0);
    assert_eq!(ls[1]["running"], false, "TLS is off by default");
    let one = get(addr, "/api/v5/listeners/tcp:default").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["id"], "tcp:default");
    assert_eq!(
        get(addr, "/api/v5/listeners/quic:default").await.status,
        404
    );
}

#[tokio::test]
async fn the_openapi_document_covers_the_api() {
    let b = Broker::start();
    let addr = b.http_addr();
    for path in ["/api-docs", "/api-docs/swagger.json"] {
        let r = http(addr, "GET", path, None, None).await;
        assert_eq!(r.status, 200, "{path} without credentials: {}", r.body);
        let doc: Value = r.json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["basicAuth"]["scheme"], "basic");
        assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v5/clients",
            "/api/v5/clients/{clientid}",
            "/api/v5/clients/{clientid}/subscribe",
            "/api/v5/clients/{clientid}/mqueue_messages",
            "/api/v5/subscriptions",
            "/api/v5/topics",
            "/api/v5/publish",
            "/api/v5/publish/bulk",
            "/api/v5/mqtt/retainer/messages",
            "/api/v5/mqtt/retainer/message/{topic}",
            "/api/v5/nodes",
            "/api/v5/listeners",
            "/api/v5/actors",
            "/api/v5/actors/kill",
            "/api/v5/stats",
            "/api/v5/cluster",
            "/api/v5/banned",
            "/api/v5/authentication/{id}/users",
            "/api/v5/authorization/sources/built_in_database/rules/{kind}",
            "/status",
        ] {
            assert!(paths.contains_key(p), "{p} is documented");
        }
        assert_eq!(
            doc["paths"]["/status"]["get"]["security"],
            serde_json::json!([{}]),
            "/status needs no credentials"
        );
        assert!(doc["paths"]["/api/v5/clients"]["get"]["responses"]["400"].is_object());
    }
}
