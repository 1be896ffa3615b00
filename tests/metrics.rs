//! The counters and gauges (issue 14), black-box: `/api/v5/metrics` moves by
//! exact amounts when real clients connect, subscribe, publish, acknowledge
//! and disconnect; `/api/v5/stats` and `/api/v5/monitor_current` report what
//! is connected and subscribed; `/api/v5/monitor` samples add up to the
//! counters.

#[macro_use]
mod common;
use common::http::get;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

/// No `$SYS` message of any kind: every message counted is a client's.
const QUIET_SYS: [(&str, &str); 4] = [
    ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s"),
    ("ROOST__SYS_TOPICS__SYS_HEARTBEAT_INTERVAL", "0s"),
    (
        "ROOST__SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_CONNECTED",
        "false",
    ),
    (
        "ROOST__SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_DISCONNECTED",
        "false",
    ),
];

async fn metrics(http: SocketAddr) -> BTreeMap<String, u64> {
    let r = get(http, "/api/v5/metrics?aggregate=true").await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).expect("an object of counters")
}

/// What each counter moved by since `before` (only those that moved).
fn moved(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Polls the counters until `done` holds for what moved since `before`.
async fn wait_moved(
    http: SocketAddr,
    before: &BTreeMap<String, u64>,
    done: impl Fn(&BTreeMap<String, u64>) -> bool,
) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = moved(before, &metrics(http).await);
        if done(&d) {
            return d;
        }
        assert!(Instant::now() < deadline, "counters never settled: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn counters_move_by_exact_amounts() {
    let b = Broker::start_with(&QUIET_SYS);
    let http = b.http_addr();
    let names: Vec<String> = metrics(http).await.into_keys().collect();
    for name in [
        "bytes.received",
        "packets.publish.sent",
        "messages.qos2.received",
        "delivery.dropped.queue_full",
        "client.connected",
        "session.takenover",
        "authorization.allow",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }
    let before = metrics(http).await;

    let v = ProtocolVersion::V5;
    let mut sub = RawClient::connected(b.addr(), v, "m-sub").await;
    sub.subscribe("m/#", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "m-pub").await;
    publ.publish("m/0", b"zero", QoS::AtMostOnce, false).await;
    publ.publish("m/1", b"one", QoS::AtLeastOnce, false).await;
    publ.publish("m/2", b"two", QoS::ExactlyOnce, false).await;
    publ.publish("nobody/here", b"x", QoS::AtMostOnce, false)
        .await;
    // Acknowledged as they come.
    sub.recv_messages(3).await;
    publ.disconnect().await;

    let d = wait_moved(http, &before, |d| {
        d.get("messages.acked") == Some(&2) && d.get("client.disconnected") == Some(&1)
    })
    .await;
    let expect: &[(&str, u64)] = &[
        ("client.connect", 2),
        ("client.connack", 2),
        ("client.connected", 2),
        ("client.authenticate", 2),
        ("client.subscribe", 1),
        ("client.disconnected", 1),
        ("session.created", 2),
        ("authentication.success", 2),
        ("packets.connect.received", 2),
        ("packets.connack.sent", 2),
        ("packets.subscribe.received", 1),
        ("packets.suback.sent", 1),
        ("packets.publish.received", 4),
        ("packets.puback.sent", 1),
        ("packets.pubrec.sent", 1),
        ("packets.pubrel.received", 1),
        ("packets.pubcomp.sent", 1),
        ("packets.disconnect.received", 1),
        // The subscriber's QoS 1 caps the QoS 2 message: three deliveries,
        // two of them acknowledged with PUBACK.
        ("packets.publish.sent", 3),
        ("packets.puback.received", 2),
        ("messages.received", 4),
        ("messages.qos0.received", 2),
        ("messages.qos1.received", 1),
        ("messages.qos2.received", 1),
        ("messages.sent", 3),
        ("messages.delivered", 3),
        ("messages.qos0.sent", 1),
        ("messages.qos1.sent", 2),
        ("messages.acked", 2),
        ("messages.dropped", 1),
        ("messages.dropped.no_subscribers", 1),
    ];
    for (name, n) in expect {
        assert_eq!(d.get(*name), Some(n), "{name}: {d:?}");
    }
    // Every packet in or out of that exchange, and nothing else.
    let received = 2 + 1 + 4 + 1 + 1 + 2; // CONNECT, SUBSCRIBE, PUBLISH, PUBREL, DISCONNECT, PUBACK
    let sent = 2 + 1 + 1 + 1 + 1 + 3; // CONNACK, SUBACK, PUBACK, PUBREC, PUBCOMP, PUBLISH
    assert_eq!(d.get("packets.received"), Some(&received), "{d:?}");
    assert_eq!(d.get("packets.sent"), Some(&sent), "{d:?}");
    assert!(d["bytes.received"] > 40 && d["bytes.sent"] > 20, "{d:?}");
    assert_eq!(d.get("messages.qos2.sent"), None, "{d:?}");
    assert_eq!(d.get("delivery.dropped"), None, "{d:?}");
}

#[tokio::test]
async fn a_resumed_session_and_a_takeover_are_counted() {
    let b = Broker::start_with(&QUIET_SYS);
    let http = b.http_addr();
    let before = metrics(http).await;
    let v = ProtocolVersion::V5;
    let (c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "m-keep", 60)).await;
    // The same client id again: takes the first connection over, resumes the session.
    let (c2, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "m-keep", 60)).await;
    assert!(ack.session_present);
    drop(c);
    let d = wait_moved(http, &before, |d| d.get("session.resumed") == Some(&1)).await;
    assert_eq!(d.get("session.created"), Some(&1), "{d:?}");
    assert_eq!(d.get("session.takenover"), Some(&1), "{d:?}");
    assert_eq!(d.get("client.connected"), Some(&2), "{d:?}");
    drop(c2);
}

#[tokio::test]
async fn stats_and_monitor_report_what_is_connected_and_subscribed() {
    let mut env = QUIET_SYS.to_vec();
    env.extend([
        ("ROOST__DASHBOARD__SAMPLE_INTERVAL", "200ms"),
        ("ROOST__NODE__NAME", "roost@stats"),
    ]);
    let b = Broker::start_with(&env);
    let http = b.http_addr();
    let v = ProtocolVersion::V5;
    let mut c1 = RawClient::connected(b.addr(), v, "s1").await;
    c1.subscribe("a/1", QoS::AtMostOnce).await;
    let mut c2 = RawClient::connected(b.addr(), v, "s2").await;
    c2.subscribe("b/#", QoS::AtMostOnce).await;
    let mut c3 = RawClient::connected(b.addr(), v, "s3").await;
    c3.subscribe("$share/g/b/#", QoS::AtMostOnce).await;
    c3.publish("r/1", b"kept", QoS::AtLeastOnce, true).await;

    // One object per node by default, with the node's name.
    let list = get(http, "/api/v5/stats").await.json();
    let list = list.as_array().expect("a list per node");
    assert_eq!(list.len(), 1);
    let s = &list[0];
    assert_eq!(s["node"], "roost@stats", "{s}");
    let expect = [
        ("connections.count", 3),
        ("live_connections.count", 3),
        ("sessions.count", 3),
        ("subscriptions.count", 3),
        ("subscriptions.shared.count", 1),
        ("subscribers.count", 3),
        // `a/1` and `b/#`: a shared group's filter is a topic too.
        ("topics.count", 2),
        ("retained.count", 1),
    ];
    for (name, n) in expect {
        assert_eq!(s[name], n, "{name}: {s}");
    }
    assert!(s["connections.max"].as_u64().unwrap() >= 3, "{s}");
    let agg = get(http, "/api/v5/stats?aggregate=true").await.json();
    assert!(
        agg.get("node").is_none() && agg["connections.count"] == 3,
        "{agg}"
    );
    let m = get(http, "/api/v5/metrics").await.json();
    assert_eq!(m[0]["node"], "roost@stats", "{m}");

    let cur = get(http, "/api/v5/monitor_current").await.json();
    let expect = [
        ("connections", 3),
        ("live_connections", 3),
        ("sessions", 3),
        ("topics", 2),
        ("subscriptions", 3),
        ("shared_subscriptions", 1),
        ("retained_msg_count", 1),
    ];
    for (name, n) in expect {
        assert_eq!(cur[name], n, "{name}: {cur}");
    }
    for rate in ["received_msg_rate", "sent_msg_rate", "dropped_msg_rate"] {
        assert!(cur[rate].is_number(), "{rate}: {cur}");
    }
    assert_eq!(
        get(http, "/api/v5/monitor_current/nodes/roost@stats")
            .await
            .status,
        200
    );
    assert_eq!(
        get(http, "/api/v5/monitor_current/nodes/nobody@x")
            .await
            .status,
        404
    );

    // Publishes show as a rate, and the samples add up to the counter.
    for i in 0..50 {
        c1.publish(&format!("b/{i}"), b"m", QoS::AtMostOnce, false)
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let samples = get(http, "/api/v5/monitor?latest=3600").await.json();
        let samples = samples.as_array().expect("a list of samples").clone();
        let received: u64 = samples
            .iter()
            .map(|s| s["received"].as_u64().unwrap())
            .sum();
        let sent: u64 = samples.iter().map(|s| s["sent"].as_u64().unwrap()).sum();
        let total = metrics(http).await;
        if received == 51 && sent == total["messages.sent"] && sent == 100 {
            // Every sample carries the gauges and a time stamp, oldest first.
            let last = samples.last().unwrap();
            assert_eq!(last["connections"], 3, "{last}");
            assert_eq!(last["topics"], 2, "{last}");
            assert!(samples
                .windows(2)
                .all(|w| w[0]["time_stamp"].as_u64() <= w[1]["time_stamp"].as_u64()));
            // The interval with the burst had a rate.
            assert!(samples.iter().any(|s| s["received"].as_u64().unwrap() > 0));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "samples never added up: received {received}, sent {sent}, {total:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen_rate = async || -> bool {
        let cur = get(http, "/api/v5/monitor_current").await.json();
        cur["received_msg_rate"].as_f64().unwrap() > 0.0
    };
    // A steady trickle shows as a rate above zero.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        c1.publish("a/1", b"t", QoS::AtMostOnce, false).await;
        if seen_rate().await {
            break;
        }
        assert!(Instant::now() < deadline, "received_msg_rate stayed 0");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _: Value = get(http, "/api/v5/monitor").await.json();
}
