//! Retained messages through the REST API (`/api/v5/mqtt/retainer/...`,
//! EMQX 5's paths): the list with paging and its topic filter, one message
//! by URL-encoded topic, and deleting one, against messages retained by a
//! real client.

#[macro_use]
mod common;
use common::http::{http, Resp, ADMIN};
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;

async fn call(addr: SocketAddr, method: &str, path: &str) -> Resp {
    http(addr, method, path, Some(ADMIN), None).await
}

async fn get_ok(addr: SocketAddr, path: &str) -> Value {
    let r = call(addr, "GET", path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.json()
}

fn topics(v: &Value) -> Vec<&str> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["topic"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn retained_messages_list_show_and_delete() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let mut p = V5Client::connect(mqtt, "pub").await;
    for (t, payload) in [("r/1", "one"), ("r/2", "two"), ("r/x/3", "three")] {
        p.publish(t, payload.as_bytes(), 1, true).await;
    }

    let all = get_ok(addr, "/api/v5/mqtt/retainer/messages?topic=r/%23").await;
    assert_eq!(topics(&all), ["r/1", "r/2", "r/x/3"]);
    assert_eq!(
        all["meta"],
        json!({"page": 1, "limit": 100, "count": 3, "hasnext": false})
    );
    let m = &all["data"][0];
    assert_eq!(
        (&m["qos"], &m["from_clientid"], &m["payload_size"]),
        (&json!(1), &json!("pub"), &json!(3))
    );
    let plus = get_ok(addr, "/api/v5/mqtt/retainer/messages?topic=r/%2B").await;
    assert_eq!(topics(&plus), ["r/1", "r/2"]);
    let p2 = get_ok(
        addr,
        "/api/v5/mqtt/retainer/messages?topic=r/%23&limit=2&page=2",
    )
    .await;
    assert_eq!(topics(&p2), ["r/x/3"]);
    assert_eq!(
        p2["meta"],
        json!({"page": 2, "limit": 2, "count": 3, "hasnext": false})
    );
    let p1 = get_ok(addr, "/api/v5/mqtt/retainer/messages?topic=r/%23&limit=2").await;
    assert_eq!(p1["meta"]["hasnext"], true);
    // Without a filter every retained message is listed ($SYS's too).
    let every = get_ok(addr, "/api/v5/mqtt/retainer/messages").await;
    assert!(every["meta"]["count"].as_u64().unwrap() >= 3, "{every}");

    let one = get_ok(addr, "/api/v5/mqtt/retainer/message/r%2Fx%2F3").await;
    assert_eq!(one["topic"], "r/x/3");
    assert_eq!(one["payload"], "dGhyZWU=", "base64 of three");
    let r = call(addr, "GET", "/api/v5/mqtt/retainer/message/r%2Fnone").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "NOT_FOUND");

    let r = call(addr, "DELETE", "/api/v5/mqtt/retainer/message/r%2F1").await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(addr, "GET", "/api/v5/mqtt/retainer/message/r%2F1").await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = call(addr, "DELETE", "/api/v5/mqtt/retainer/message/r%2F1").await;
    assert_eq!(r.status, 404, "{}", r.body);
    // A new subscriber gets what is left, nothing for the deleted topic.
    let mut s = V5Client::connect(mqtt, "late").await;
    s.subscribe("r/+", 0).await;
    let got = s.recv_publishes(1).await;
    assert_eq!(topic5(&got[0]), "r/2");
    s.recv_no_publish_for(QUIET).await;

    for q in ["topic=r/%23/x", "page=0", "limit=100000"] {
        let r = call(addr, "GET", &format!("/api/v5/mqtt/retainer/messages?{q}")).await;
        assert_eq!(r.status, 400, "?{q}: {}", r.body);
    }
}
