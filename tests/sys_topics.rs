//! `$SYS` (issue 14), black-box: a real subscriber sees EMQX's tree under
//! `$SYS/brokers`: the node names, version, sysdescr, uptime and datetime,
//! `stats/...` and `metrics/...` with `/` for `.`, and the JSON client events
//! `clients/<id>/connected` and `disconnected` as they happen.

#[macro_use]
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

const NODE: &str = "roost@sys";

/// Reads `$SYS` messages until every topic in `want` was seen (the latest
/// payload of each topic is kept).
async fn collect(c: &mut RawClient, want: &[String]) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !want.iter().all(|t| seen.contains_key(t)) {
        assert!(
            Instant::now() < deadline,
            "missing {:?}; seen {:?}",
            want.iter()
                .filter(|t| !seen.contains_key(*t))
                .collect::<Vec<_>>(),
            seen.keys().collect::<Vec<_>>()
        );
        if let Recv::Packet(Packet::Publish(p)) = c.try_recv_for(Duration::from_secs(2)).await {
            seen.insert(
                p.topic.to_string(),
                String::from_utf8_lossy(&p.payload).to_string(),
            );
        }
    }
    seen
}

fn sys(path: &str) -> String {
    format!("$SYS/brokers/{NODE}/{path}")
}

#[tokio::test]
async fn a_subscriber_sees_the_emqx_tree() {
    let b = Broker::start_with(&[
        ("ROOST__NODE__NAME", NODE),
        ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "1s"),
        ("ROOST__SYS_TOPICS__SYS_HEARTBEAT_INTERVAL", "1s"),
    ]);
    let mut s = RawClient::connected(b.addr(), ProtocolVersion::V5, "watcher").await;
    s.subscribe("$SYS/brokers/#", QoS::AtMostOnce).await;
    let want: Vec<String> = std::iter::once("$SYS/brokers".to_string())
        .chain(
            [
                "version",
                "sysdescr",
                "uptime",
                "datetime",
                "stats/connections/count",
                "stats/subscriptions/count",
                "stats/topics/count",
                "metrics/messages/received",
                "metrics/packets/subscribe/received",
            ]
            .map(sys),
        )
        .collect();
    let seen = collect(&mut s, &want).await;
    assert_eq!(seen["$SYS/brokers"], NODE);
    assert_eq!(seen[&sys("version")], env!("CARGO_PKG_VERSION"));
    assert!(seen[&sys("uptime")].parse::<u64>().is_ok(), "{seen:?}");
    let datetime = &seen[&sys("datetime")];
    assert!(
        humantime::parse_rfc3339(datetime).is_ok(),
        "datetime {datetime:?}"
    );
    // The watcher itself is connected and subscribed.
    assert_eq!(seen[&sys("stats/connections/count")], "1");
    assert_eq!(seen[&sys("stats/subscriptions/count")], "1");
    assert_eq!(seen[&sys("metrics/packets/subscribe/received")], "1");
    // Roost's old names are gone.
    for old in [
        "clients/connected",
        "clients/hibernating",
        "sessions/hibernating",
        "routes/count",
        "retained/count",
    ] {
        assert!(!seen.contains_key(&sys(old)), "{old}: {seen:?}");
    }
}

#[tokio::test]
async fn client_events_are_published_as_they_happen() {
    let b = Broker::start_with(&[
        ("ROOST__NODE__NAME", NODE),
        ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s"),
        ("ROOST__SYS_TOPICS__SYS_HEARTBEAT_INTERVAL", "0s"),
        (
            "ROOST__SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_SUBSCRIBED",
            "true",
        ),
    ]);
    let mut s = RawClient::connected(b.addr(), ProtocolVersion::V5, "watcher").await;
    s.subscribe("$SYS/brokers/+/clients/#", QoS::AtMostOnce)
        .await;
    let mut c = RawClient::connected(b.addr(), ProtocolVersion::V3_1_1, "evt").await;
    c.subscribe("e/+", QoS::AtLeastOnce).await;
    c.disconnect().await;
    let want =
        ["connected", "subscribed", "disconnected"].map(|e| sys(&format!("clients/evt/{e}")));
    let seen = collect(&mut s, &want).await;
    let json = |e: &str| -> Value {
        serde_json::from_str(&seen[&sys(&format!("clients/evt/{e}"))]).unwrap()
    };
    let connected = json("connected");
    assert_eq!(connected["clientid"], "evt", "{connected}");
    assert_eq!(connected["proto_name"], "MQTT", "{connected}");
    assert_eq!(connected["proto_ver"], 4, "{connected}");
    assert_eq!(connected["keepalive"], 60, "{connected}");
    assert_eq!(connected["clean_start"], true, "{connected}");
    assert_eq!(connected["ipaddress"], "127.0.0.1", "{connected}");
    assert!(
        connected["connected_at"].as_u64().unwrap() > 0,
        "{connected}"
    );
    let subscribed = json("subscribed");
    assert_eq!(subscribed["topic"], "e/+", "{subscribed}");
    assert_eq!(subscribed["subopts"]["qos"], 1, "{subscribed}");
    let disconnected = json("disconnected");
    assert_eq!(disconnected["clientid"], "evt", "{disconnected}");
    assert_eq!(disconnected["reason"], "normal", "{disconnected}");
    assert!(
        disconnected["disconnected_at"].as_u64() >= connected["connected_at"].as_u64(),
        "{disconnected}"
    );
}

#[tokio::test]
async fn client_events_can_be_turned_off() {
    let b = Broker::start_with(&[
        ("ROOST__NODE__NAME", NODE),
        ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s"),
        ("ROOST__SYS_TOPICS__SYS_HEARTBEAT_INTERVAL", "0s"),
        (
            "ROOST__SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_CONNECTED",
            "false",
        ),
    ]);
    let mut s = RawClient::connected(b.addr(), ProtocolVersion::V5, "watcher").await;
    s.subscribe("$SYS/brokers/+/clients/#", QoS::AtMostOnce)
        .await;
    let c = RawClient::connected(b.addr(), ProtocolVersion::V5, "quiet").await;
    c.disconnect().await;
    // Only the disconnection is told.
    let p = s.recv_message().await;
    assert_eq!(p.topic.to_string(), sys("clients/quiet/disconnected"));
    s.recv_none_for(Duration::from_millis(300)).await;
}
