//! Publishing through the REST API (`/api/v5/publish[/bulk]`) to real
//! subscribers (rumqttc), and the subscriptions and topics listings
//! (`/api/v5/subscriptions`, `/api/v5/topics[/{topic}]`), EMQX 5's shapes.

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

async fn publish(addr: SocketAddr, body: Value) -> Resp {
    call(addr, "POST", "/api/v5/publish", Some(body)).await
}

#[tokio::test]
async fn publish_reaches_a_real_subscriber_with_its_properties() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let mut sub = V5Client::connect(mqtt, "sub").await;
    sub.subscribe("p/#", 1).await;

    let r = publish(
        addr,
        json!({
            "topic": "p/1", "payload": "hello", "qos": 1, "clientid": "api-pub",
            "properties": {
                "payload_format_indicator": 1,
                "message_expiry_interval": 60,
                "response_topic": "reply/here",
                "correlation_data": "corr-7",
                "content_type": "text/plain",
                "user_properties": {"k": "v"}
            }
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().expect("an id").to_string();
    assert_eq!(id.len(), 32, "a 128-bit hex id: {id}");
    let m = sub.recv_publish().await;
    assert_eq!(
        (topic5(&m).as_str(), &m.payload[..]),
        ("p/1", &b"hello"[..])
    );
    assert_eq!(m.qos, rumqttc::v5::mqttbytes::QoS::AtLeastOnce);
    let p = m.properties.expect("properties");
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.response_topic.as_deref(), Some("reply/here"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"corr-7"[..]));
    assert_eq!(p.payload_format_indicator, Some(1));
    assert_eq!(p.user_properties, vec![("k".to_string(), "v".to_string())]);
    assert!(p.message_expiry_interval.is_some_and(|s| s <= 60));

    // base64 payloads are decoded.
    let r = publish(
        addr,
        json!({"topic": "p/2", "payload": "AAEC/w==", "payload_encoding": "base64"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(&sub.recv_publish().await.payload[..], &[0, 1, 2, 255][..]);

    // Nobody subscribed: 202 with reason code 16, as EMQX.
    let r = publish(addr, json!({"topic": "nobody/here", "payload": "x"})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"reason_code": 16, "message": "no_matching_subscribers"})
    );

    // A retained publish is stored.
    let r = publish(
        addr,
        json!({"topic": "keep/1", "payload": "kept", "retain": true}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let kept = get_ok(addr, "/api/v5/mqtt/retainer/message/keep%2F1").await;
    assert_eq!(kept["payload"], "a2VwdA==");

    // Errors: 400 and nothing delivered.
    for body in [
        json!({"topic": "p/+", "payload": "x"}),
        json!({"topic": "", "payload": "x"}),
        json!({"topic": "$SYS/x", "payload": "x"}),
        json!({"topic": "p/3", "payload": "@@not base64", "payload_encoding": "base64"}),
        json!({"topic": "p/3", "payload": "x", "payload_encoding": "hex"}),
        json!({"topic": "p/3", "payload": "x", "qos": 3}),
        json!({"topic": "p/3", "payload": "x", "properties": {"payload_format_indicator": 2}}),
        json!({"topic": "p/3"}),
        json!("p/3"),
    ] {
        let r = publish(addr, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json()["code"], "BAD_REQUEST", "{body}");
    }
    let r = http(
        addr,
        "POST",
        "/api/v5/publish",
        Some(ADMIN),
        Some("{not json"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    sub.recv_no_publish_for(QUIET).await;
}

#[tokio::test]
async fn publish_bulk_sends_in_order_and_checks_all_first() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let mut sub = V5Client::connect(mqtt, "sub").await;
    sub.subscribe("b/#", 1).await;
    let bulk = |body: Value| call(addr, "POST", "/api/v5/publish/bulk", Some(body));

    let r = bulk(json!([
        {"topic": "b/1", "payload": "one", "qos": 1},
        {"topic": "b/2", "payload": "two"}
    ]))
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answers = r.json();
    assert_eq!(answers.as_array().unwrap().len(), 2);
    assert!(answers[0]["id"].is_string() && answers[1]["id"].is_string());
    let got = sub.recv_publishes(2).await;
    assert_eq!(
        got.iter().map(|p| p.payload.to_vec()).collect::<Vec<_>>(),
        [b"one".to_vec(), b"two".to_vec()]
    );

    // One without a subscriber: 202, each answered.
    let r = bulk(json!([
        {"topic": "b/3", "payload": "three"},
        {"topic": "elsewhere", "payload": "lost"}
    ]))
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let answers = r.json();
    assert!(answers[0]["id"].is_string());
    assert_eq!(answers[1]["reason_code"], 16);
    assert_eq!(&sub.recv_publish().await.payload[..], b"three");

    // One bad message: 400 and none sent; an empty batch: 400.
    let r = bulk(json!([
        {"topic": "b/4", "payload": "four"},
        {"topic": "b/#", "payload": "bad"}
    ]))
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = bulk(json!([])).await;
    assert_eq!(r.status, 400, "{}", r.body);
    sub.recv_no_publish_for(QUIET).await;
}

fn topics_of(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["topic"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn subscriptions_and_topics_list_with_filters() {
    let b = Broker::start();
    let (mqtt, addr) = (b.addr(), b.http_addr());
    let (mut c1, _) = RawClient::connect_ok(mqtt, connect_packet(ProtocolVersion::V5, "c1")).await;
    c1.subscribe("a/+", QoS::AtLeastOnce).await;
    c1.subscribe("$share/g1/b/#", QoS::AtMostOnce).await;
    let (mut c2, _) =
        RawClient::connect_ok(mqtt, connect_packet(ProtocolVersion::V3_1_1, "c2")).await;
    c2.subscribe("a/b", QoS::AtMostOnce).await;

    let all = get_ok(addr, "/api/v5/subscriptions").await;
    assert_eq!(topics_of(&all), ["$share/g1/b/#", "a/+", "a/b"]);
    assert_eq!(all["meta"]["count"], 3);
    let s = &all["data"][1];
    assert_eq!(s["clientid"], "c1");
    assert_eq!(s["qos"], 1);
    assert!(s["node"].is_string());
    for (query, expected) in [
        ("clientid=c1", vec!["$share/g1/b/#", "a/+"]),
        ("clientid=c2", vec!["a/b"]),
        ("clientid=nobody", vec![]),
        ("topic=a/%2B", vec!["a/+"]),
        ("topic=b/%23", vec!["$share/g1/b/#"]),
        ("qos=1", vec!["a/+"]),
        ("qos=0", vec!["$share/g1/b/#", "a/b"]),
        ("share_group=g1", vec!["$share/g1/b/#"]),
        ("share_group=g2", vec![]),
        ("match_topic=a/x", vec!["a/+"]),
        ("match_topic=a/b", vec!["a/+", "a/b"]),
        ("match_topic=b/c/d", vec!["$share/g1/b/#"]),
        ("clientid=c1&qos=0", vec!["$share/g1/b/#"]),
    ] {
        let v = get_ok(addr, &format!("/api/v5/subscriptions?{query}")).await;
        assert_eq!(topics_of(&v), expected, "?{query}");
    }
    let p = get_ok(addr, "/api/v5/subscriptions?limit=2&page=2").await;
    assert_eq!(topics_of(&p), ["a/b"]);
    assert_eq!(
        p["meta"],
        json!({"page": 2, "limit": 2, "count": 3, "hasnext": false})
    );
    assert_eq!(
        get_ok(addr, "/api/v5/subscriptions?limit=2").await["meta"]["hasnext"],
        true
    );
    for q in ["qos=3", "page=0", "limit=abc"] {
        let r = call(addr, "GET", &format!("/api/v5/subscriptions?{q}"), None).await;
        assert_eq!(r.status, 400, "?{q}: {}", r.body);
    }

    // Topics: the routing table.
    let t = get_ok(addr, "/api/v5/topics").await;
    let mut sorted = topics_of(&t);
    sorted.sort();
    assert_eq!(sorted, ["$share/g1/b/#", "a/+", "a/b"]);
    assert_eq!(t["meta"]["count"], 3);
    let one = get_ok(addr, "/api/v5/topics?topic=a/b").await;
    assert_eq!(topics_of(&one), ["a/b"]);
    let p = get_ok(addr, "/api/v5/topics?limit=1&page=3").await;
    assert_eq!(
        p["meta"],
        json!({"page": 3, "limit": 1, "count": 3, "hasnext": false})
    );
    assert_eq!(p["data"].as_array().unwrap().len(), 1);
    let route = get_ok(addr, "/api/v5/topics/a%2F%2B").await;
    assert_eq!(route[0]["topic"], "a/+");
    assert!(route[0]["node"].is_string());
    let r = call(addr, "GET", "/api/v5/topics/x%2Fy", None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["code"], "TOPIC_NOT_FOUND");
    let r = call(addr, "GET", "/api/v5/topics?limit=0", None).await;
    assert_eq!(r.status, 400);

    // A route goes with its last subscriber.
    c2.send(&Packet::Disconnect(Disconnect::default())).await;
    c2.expect_closed().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while call(addr, "GET", "/api/v5/topics/a%2Fb", None).await.status != 404 {
        assert!(std::time::Instant::now() < deadline, "route a/b never went");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
