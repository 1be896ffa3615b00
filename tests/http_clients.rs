//! The clients resource of the REST API (`/api/v5/clients[...]`, EMQX 5's
//! paths and shapes), black-box with real MQTT clients connected: the list,
//! its paging and every filter, one client, kick, subscriptions on a
//! client's behalf, and its session's queue and inflight window.

#[macro_use]
mod common;
use common::http::{http, Resp, ADMIN};
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Resp {
    let body = body.map(|b| b.to_string());
    http(addr, method, path, Some(ADMIN), body.as_deref()).await
}

async fn get_ok(addr: SocketAddr, path: &str) -> Value {
    let r = call(addr, "GET", path, None).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    r.json()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clientid"].as_str().unwrap().to_string())
        .collect()
}

fn named(version: ProtocolVersion, id: &str, user: &str) -> Connect {
    let mut c = connect_packet(version, id);
    c.username = Some(user.into());
    c
}

/// Polls `path` until `pred` holds (the broker updates its tables as
/// connections come and go).
async fn wait_json(addr: SocketAddr, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let v = get_ok(addr, path).await;
        if pred(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "GET {path}: condition not met within 10 s; last answer {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn clients_list_pages_and_filters_connected_and_offline_clients() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let (c1, _) = RawClient::connect_ok(mqtt, named(ProtocolVersion::V5, "dev-1", "alice")).await;
    let (_c2, _) =
        RawClient::connect_ok(mqtt, named(ProtocolVersion::V3_1_1, "dev-2", "bob")).await;
    let mut keep = persistent_connect(ProtocolVersion::V5, "keep-3", 600);
    keep.username = Some("carol".into());
    let (mut c3, _) = RawClient::connect_ok(mqtt, keep).await;
    c3.subscribe("k/#", QoS::AtLeastOnce).await;
    c3.send(&Packet::Disconnect(Disconnect::default())).await;
    c3.expect_closed().await;

    // Offline persistent sessions are listed too, as EMQX does.
    let all = wait_json(addr, "/api/v5/clients", |v| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["clientid"] == "keep-3" && c["connected"] == false)
    })
    .await;
    assert_eq!(ids(&all), ["dev-1", "dev-2", "keep-3"]);
    assert_eq!(
        all["meta"],
        json!({"page": 1, "limit": 100, "count": 3, "hasnext": false})
    );
    let d1 = &all["data"][0];
    assert_eq!(d1["username"], "alice");
    assert_eq!(d1["connected"], true);
    assert_eq!(d1["ip_address"], "127.0.0.1");
    assert_eq!(d1["port"], c1.local_addr().port());
    assert_eq!(d1["listener"], "tcp:default");
    assert_eq!(d1["proto_name"], "MQTT");
    assert_eq!(d1["proto_ver"], 5);
    assert_eq!(d1["clean_start"], true);
    assert_eq!(d1["keepalive"], 60);
    assert!(d1["node"].as_str().unwrap().contains('@'), "{d1}");
    assert!(d1["connected_at"].as_str().unwrap().ends_with('Z'), "{d1}");
    assert!(d1["recv_pkt"].as_u64().unwrap() >= 1, "{d1}");
    let d3 = &all["data"][2];
    assert_eq!(d3["connected"], false);
    assert_eq!(d3["subscriptions_cnt"], 1);
    assert_eq!(d3["expiry_interval"], 600);
    assert!(d3["disconnected_at"].is_string(), "{d3}");

    // Paging.
    let p1 = get_ok(addr, "/api/v5/clients?limit=2").await;
    assert_eq!(ids(&p1), ["dev-1", "dev-2"]);
    assert_eq!(
        p1["meta"],
        json!({"page": 1, "limit": 2, "count": 3, "hasnext": true})
    );
    let p2 = get_ok(addr, "/api/v5/clients?limit=2&page=2").await;
    assert_eq!(ids(&p2), ["keep-3"]);
    assert_eq!(p2["meta"]["hasnext"], false);
    assert!(ids(&get_ok(addr, "/api/v5/clients?limit=2&page=5").await).is_empty());

    // Each filter.
    for (query, expected) in [
        ("clientid=dev-2", vec!["dev-2"]),
        ("like_clientid=dev", vec!["dev-1", "dev-2"]),
        ("username=carol", vec!["keep-3"]),
        ("like_username=o", vec!["dev-2", "keep-3"]),
        ("ip_address=127.0.0.1", vec!["dev-1", "dev-2", "keep-3"]),
        ("ip_address=10.1.2.3", vec![]),
        ("conn_state=connected", vec!["dev-1", "dev-2"]),
        ("conn_state=disconnected", vec!["keep-3"]),
        ("proto_ver=4", vec!["dev-2"]),
        ("proto_ver=5", vec!["dev-1", "keep-3"]),
        ("clean_start=false", vec!["keep-3"]),
        ("clean_start=true&proto_ver=5", vec!["dev-1"]),
        ("node=elsewhere@nowhere", vec![]),
    ] {
        let v = get_ok(addr, &format!("/api/v5/clients?{query}")).await;
        assert_eq!(ids(&v), expected, "?{query}");
        assert_eq!(v["meta"]["count"], expected.len(), "?{query}");
    }

    // Bad parameters: 400 in EMQX's error shape.
    for query in [
        "page=0",
        "limit=0",
        "limit=10001",
        "limit=x",
        "ip_address=not-an-ip",
        "conn_state=asleep",
        "proto_ver=five",
        "clean_start=maybe",
    ] {
        let r = call(addr, "GET", &format!("/api/v5/clients?{query}"), None).await;
        assert_eq!(r.status, 400, "?{query}: {}", r.body);
        assert_eq!(r.json()["code"], "INVALID_PARAMETER", "?{query}");
    }
}

#[tokio::test]
async fn one_client_and_kick_closes_its_socket() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let (mut c, _) = RawClient::connect_ok(mqtt, named(ProtocolVersion::V5, "kick-me", "k")).await;

    let one = get_ok(addr, "/api/v5/clients/kick-me").await;
    assert_eq!(one["clientid"], "kick-me");
    assert_eq!(one["connected"], true);
    assert_eq!(one["port"], c.local_addr().port());

    let r = call(addr, "GET", "/api/v5/clients/nobody", None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "CLIENTID_NOT_FOUND");

    let r = call(addr, "DELETE", "/api/v5/clients/kick-me", None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let d = c
        .expect_closed()
        .await
        .expect("a DISCONNECT before the close");
    assert_eq!(d.reason_code, ReasonCode::AdministrativeAction);
    wait_json(addr, "/api/v5/clients?clientid=kick-me", |v| {
        v["meta"]["count"] == 0
    })
    .await;
    let r = call(addr, "GET", "/api/v5/clients/kick-me", None).await;
    assert_eq!(r.status, 404, "gone after the kick: {}", r.body);
    let r = call(addr, "DELETE", "/api/v5/clients/kick-me", None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "CLIENTID_NOT_FOUND");

    // An offline persistent session is kicked out too (discarded).
    let (mut p, _) =
        RawClient::connect_ok(mqtt, persistent_connect(ProtocolVersion::V5, "away", 600)).await;
    p.send(&Packet::Disconnect(Disconnect::default())).await;
    p.expect_closed().await;
    wait_json(addr, "/api/v5/clients?clientid=away", |v| {
        v["meta"]["count"] == 1
    })
    .await;
    let r = call(addr, "DELETE", "/api/v5/clients/away", None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    wait_json(addr, "/api/v5/clients?clientid=away", |v| {
        v["meta"]["count"] == 0
    })
    .await;

    // A connected persistent session does not stay behind offline.
    let (mut stay, _) =
        RawClient::connect_ok(mqtt, persistent_connect(ProtocolVersion::V5, "stay", 600)).await;
    let r = call(addr, "DELETE", "/api/v5/clients/stay", None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    stay.expect_closed().await;
    wait_json(addr, "/api/v5/clients?clientid=stay", |v| {
        v["meta"]["count"] == 0
    })
    .await;
}

#[tokio::test]
async fn subscribe_and_unsubscribe_on_a_clients_behalf() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let (mut c, _) = RawClient::connect_ok(mqtt, connect_packet(ProtocolVersion::V5, "s1")).await;
    let base = "/api/v5/clients/s1";

    let r = call(
        addr,
        "POST",
        &format!("{base}/subscribe"),
        Some(json!({"topic": "t/1", "qos": 1, "nl": 1, "rap": 1, "rh": 2})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = r.json();
    assert_eq!(
        (
            &s["clientid"],
            &s["topic"],
            &s["qos"],
            &s["nl"],
            &s["rap"],
            &s["rh"]
        ),
        (
            &json!("s1"),
            &json!("t/1"),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(2)
        )
    );
    let subs = get_ok(addr, &format!("{base}/subscriptions")).await;
    assert_eq!(subs.as_array().unwrap().len(), 1, "{subs}");
    assert_eq!(subs[0]["topic"], "t/1");
    assert_eq!(subs[0]["qos"], 1);

    // The subscription is real: a publish reaches the client.
    let r = call(
        addr,
        "POST",
        "/api/v5/publish",
        Some(json!({"topic": "t/1", "payload": "hello", "qos": 1})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = c.recv_message().await;
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("t/1", &b"hello"[..]));

    let r = call(
        addr,
        "POST",
        &format!("{base}/unsubscribe"),
        Some(json!({"topic": "t/1"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let subs = get_ok(addr, &format!("{base}/subscriptions")).await;
    assert_eq!(subs, json!([]));

    let r = call(
        addr,
        "POST",
        &format!("{base}/subscribe/bulk"),
        Some(json!([{"topic": "b/1"}, {"topic": "$share/g/b/2", "qos": 2}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
    let subs = get_ok(addr, &format!("{base}/subscriptions")).await;
    let topics: Vec<&str> = subs
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["$share/g/b/2", "b/1"]);
    let r = call(
        addr,
        "POST",
        &format!("{base}/unsubscribe/bulk"),
        Some(json!([{"topic": "b/1"}, {"topic": "$share/g/b/2"}])),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        get_ok(addr, &format!("{base}/subscriptions")).await,
        json!([])
    );

    // Errors.
    for (path, body) in [
        (format!("{base}/subscribe"), json!({"topic": "a/#/b"})),
        (format!("{base}/subscribe"), json!({"topic": "a", "qos": 3})),
        (format!("{base}/subscribe"), json!({"topic": "a", "rh": 3})),
        (
            format!("{base}/subscribe"),
            json!({"topic": "$share/g/a", "nl": 1}),
        ),
        (format!("{base}/subscribe"), json!({"qos": 1})),
        (format!("{base}/subscribe/bulk"), json!({"topic": "a"})),
        (format!("{base}/unsubscribe"), json!({})),
    ] {
        let r = call(addr, "POST", &path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "POST {path} {body}: {}", r.body);
        assert!(r.json()["code"].is_string());
    }
    for path in ["subscribe", "unsubscribe"] {
        let r = call(
            addr,
            "POST",
            &format!("/api/v5/clients/nobody/{path}"),
            Some(json!({"topic": "a"})),
        )
        .await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert_eq!(r.json()["code"], "CLIENTID_NOT_FOUND");
    }
    let r = call(addr, "GET", "/api/v5/clients/nobody/subscriptions", None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn mqueue_and_inflight_messages_page_by_position() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let (mut c, _) =
        RawClient::connect_ok(mqtt, persistent_connect(ProtocolVersion::V5, "q1", 600)).await;
    c.subscribe("q/#", QoS::AtLeastOnce).await;
    let publish = |topic: &'static str, payload: &'static str| async move {
        let r = call(
            addr,
            "POST",
            "/api/v5/publish",
            Some(json!({"topic": topic, "payload": payload, "qos": 1})),
        )
        .await;
        assert!(r.status == 200, "{}", r.body);
    };
    // Three deliveries the client never acknowledges: inflight.
    for (t, p) in [("q/1", "m1"), ("q/2", "m2"), ("q/3", "m3")] {
        publish(t, p).await;
        c.expect_publish().await;
    }
    let base = "/api/v5/clients/q1";
    let me = get_ok(addr, base).await;
    assert_eq!(
        (&me["send_msg"], &me["inflight_cnt"]),
        (&json!(3), &json!(3)),
        "{me}"
    );
    assert_eq!(me["recv_msg"], 0, "{me}");
    let all = get_ok(addr, &format!("{base}/inflight_messages")).await;
    let topics: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["q/1", "q/2", "q/3"]);
    assert_eq!(all["data"][0]["payload"], "bTE=", "base64 by default");
    assert_eq!(all["data"][0]["qos"], 1);
    assert_eq!(all["meta"], json!({"start": "1", "position": "3"}));
    let first = get_ok(addr, &format!("{base}/inflight_messages?limit=2")).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["meta"]["position"], "2");
    let rest = get_ok(
        addr,
        &format!("{base}/inflight_messages?limit=2&position=2"),
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["topic"], "q/3");
    let plain = get_ok(addr, &format!("{base}/inflight_messages?payload=plain")).await;
    assert_eq!(plain["data"][2]["payload"], "m3");
    let none = get_ok(addr, &format!("{base}/inflight_messages?payload=none")).await;
    assert!(none["data"][0].get("payload").is_none(), "{none}");
    let empty = get_ok(addr, &format!("{base}/mqueue_messages")).await;
    assert_eq!(
        empty,
        json!({"data": [], "meta": {"start": "none", "position": "none"}})
    );

    // Offline: what arrives now is queued.
    drop(c);
    wait_json(addr, base, |v| v["connected"] == false).await;
    publish("q/4", "m4").await;
    publish("q/5", "m5").await;
    let queued = get_ok(addr, &format!("{base}/mqueue_messages?payload=plain")).await;
    let payloads: Vec<&str> = queued["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["payload"].as_str().unwrap())
        .collect();
    assert_eq!(payloads, ["m4", "m5"]);
    assert_eq!(get_ok(addr, base).await["mqueue_len"], 2);

    for q in ["position=abc", "limit=0", "payload=hex"] {
        let r = call(addr, "GET", &format!("{base}/mqueue_messages?{q}"), None).await;
        assert_eq!(r.status, 400, "?{q}: {}", r.body);
        assert_eq!(r.json()["code"], "INVALID_PARAMETER");
    }
    for which in ["mqueue_messages", "inflight_messages"] {
        let r = call(
            addr,
            "GET",
            &format!("/api/v5/clients/nobody/{which}"),
            None,
        )
        .await;
        assert_eq!(r.status, 404, "{which}: {}", r.body);
        assert_eq!(r.json()["code"], "CLIENTID_NOT_FOUND");
    }
}
