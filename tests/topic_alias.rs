//! Topic aliases (MQTT 5.0 section 3.3.2.3.4): inbound, the broker maps the
//! aliases a client sets up to full topics; outbound, it may alias topics for a
//! client that announced a Topic Alias Maximum, never above it.

#[macro_use]
mod common;
use common::*;

use std::collections::HashMap;

const V5: ProtocolVersion = ProtocolVersion::V5;

/// A 5.0 PUBLISH of `payload` to `topic` (may be empty) with Topic Alias `alias`.
fn aliased(topic: &str, alias: u16, payload: &[u8]) -> Publish {
    let mut p = publish_packet(topic, payload, QoS::AtLeastOnce, false);
    p.properties.topic_alias = Some(alias);
    p
}

/// A 5.0 client whose CONNACK must announce a non-zero Topic Alias Maximum.
/// (Its publishes to topics nobody subscribes get 0x10 No Matching Subscribers,
/// a success code, as EMQX answers.)
async fn alias_publisher(b: &Broker, id: &str) -> (RawClient, u16) {
    let (c, ack) = RawClient::connect_ok(b.addr(), connect_packet(V5, id)).await;
    let max = ack.properties.topic_alias_maximum.unwrap_or(0);
    assert!(
        max >= 1,
        "CONNACK must announce a Topic Alias Maximum >= 1 by default: {ack:?}"
    );
    (c, max)
}

// [MQTT-3.3.2-12] The server accepts every alias from 1 to its maximum: alias 1
// set with a topic, then used with an empty topic, reaches the subscriber under
// the full topic both times (the subscriber announced no alias maximum, so it
// gets no alias [MQTT-3.1.2-27]).
#[tokio::test]
async fn inbound_alias_maps_to_full_topic() {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), V5, "ta-in-sub").await;
    sub.subscribe("ta/in/#", QoS::AtLeastOnce).await;
    let (mut p, _) = alias_publisher(&b, "ta-in-pub").await;
    assert_eq!(
        p.publish_with(aliased("ta/in/t", 1, b"a")).await,
        ReasonCode::Success
    );
    assert_eq!(
        p.publish_with(aliased("", 1, b"b")).await,
        ReasonCode::Success
    );
    // Re-mapping alias 1 to another topic is allowed; the empty topic then means the new one.
    assert_eq!(
        p.publish_with(aliased("ta/in/x", 1, b"c")).await,
        ReasonCode::Success
    );
    assert_eq!(
        p.publish_with(aliased("", 1, b"d")).await,
        ReasonCode::Success
    );
    let got = sub.recv_messages(4).await;
    let seen: Vec<_> = got
        .iter()
        .map(|m| (m.topic.as_str(), &m.payload[..], m.properties.topic_alias))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ta/in/t", &b"a"[..], None),
            ("ta/in/t", &b"b"[..], None),
            ("ta/in/x", &b"c"[..], None),
            ("ta/in/x", &b"d"[..], None),
        ]
    );
}

// [MQTT-3.3.2-8] Topic Alias 0 is not permitted: DISCONNECT 0x94.
#[tokio::test]
async fn inbound_alias_zero_is_rejected() {
    let b = Broker::start();
    let (mut p, _) = alias_publisher(&b, "ta-zero").await;
    let mut pkt = aliased("ta/zero", 0, b"x");
    pkt.packet_id = p.next_pid();
    p.send(&Packet::Publish(pkt)).await;
    p.expect_disconnect(ReasonCode::TopicAliasInvalid).await;
}

// [MQTT-3.3.2-9] [MQTT-3.3.2-12] With mqtt.max_topic_alias = 3 the CONNACK says 3;
// alias 3 is accepted, alias 4 gets DISCONNECT 0x94.
#[tokio::test]
async fn inbound_alias_above_maximum_is_rejected() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_TOPIC_ALIAS", "3")]);
    let (mut p, max) = alias_publisher(&b, "ta-max").await;
    assert_eq!(
        max, 3,
        "CONNACK Topic Alias Maximum must be mqtt.max_topic_alias"
    );
    assert_eq!(
        p.publish_with(aliased("ta/max/a", 3, b"ok")).await,
        ReasonCode::NoMatchingSubscribers
    );
    let mut pkt = aliased("ta/max/b", 4, b"x");
    pkt.packet_id = p.next_pid();
    p.send(&Packet::Publish(pkt)).await;
    p.expect_disconnect(ReasonCode::TopicAliasInvalid).await;
}

// Spec 3.3.2.3.4: an empty Topic Name with an alias that has no mapping is a
// Protocol Error (EMQX: DISCONNECT 0x82).
#[tokio::test]
async fn empty_topic_with_unknown_alias_is_protocol_error() {
    let b = Broker::start();
    let (mut p, _) = alias_publisher(&b, "ta-unknown").await;
    assert_eq!(
        p.publish_with(aliased("ta/unknown", 1, b"a")).await,
        ReasonCode::NoMatchingSubscribers
    );
    let mut pkt = aliased("", 2, b"x");
    pkt.packet_id = p.next_pid();
    p.send(&Packet::Publish(pkt)).await;
    p.expect_disconnect(ReasonCode::ProtocolError).await;
}

// [MQTT-3.3.2-7] Alias mappings do not carry over to a new connection, even one
// that resumes the session.
#[tokio::test]
async fn alias_mappings_do_not_survive_reconnect() {
    let b = Broker::start();
    let (mut p, _) = RawClient::connect_ok(b.addr(), persistent_connect(V5, "ta-carry", 300)).await;
    assert_eq!(
        p.publish_with(aliased("ta/carry", 1, b"a")).await,
        ReasonCode::NoMatchingSubscribers
    );
    p.disconnect().await;
    let (mut p, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(V5, "ta-carry", 300)).await;
    assert!(ack.session_present, "session should resume: {ack:?}");
    let mut pkt = aliased("", 1, b"x");
    pkt.packet_id = p.next_pid();
    p.send(&Packet::Publish(pkt)).await;
    p.expect_disconnect(ReasonCode::ProtocolError).await;
}

// mqtt.max_topic_alias = 0: CONNACK announces none (absent or 0), and then any
// alias from the client is invalid [MQTT-3.2.2-17]: DISCONNECT 0x94.
#[tokio::test]
async fn max_topic_alias_zero_disables_inbound_aliases() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_TOPIC_ALIAS", "0")]);
    let (mut p, ack) = RawClient::connect_ok(b.addr(), connect_packet(V5, "ta-off")).await;
    assert!(
        matches!(ack.properties.topic_alias_maximum, None | Some(0)),
        "CONNACK must announce no Topic Alias Maximum: {ack:?}"
    );
    let mut pkt = aliased("ta/off", 1, b"x");
    pkt.packet_id = p.next_pid();
    p.send(&Packet::Publish(pkt)).await;
    p.expect_disconnect(ReasonCode::TopicAliasInvalid).await;
}

// [MQTT-3.3.2-11] [MQTT-3.1.2-26] A subscriber announcing Topic Alias Maximum 5
// gets aliases (EMQX aliases outbound topics), never above 5; every PUBLISH
// resolves to the right topic, including ones sent with an empty topic. Eight
// topics for five aliases also exercises what happens when aliases run out.
#[tokio::test]
async fn outbound_aliases_respect_client_maximum() {
    let b = Broker::start();
    let mut c = connect_packet(V5, "ta-out-sub");
    c.properties.topic_alias_maximum = Some(5);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("ta/out/#", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "ta-out-pub").await;
    let n = 24;
    for i in 0..n {
        let topic = format!("ta/out/{}", i % 8);
        assert!(!p
            .publish(&topic, i.to_string().as_bytes(), QoS::AtLeastOnce, false)
            .await
            .is_error());
    }
    let mut map: HashMap<u16, String> = HashMap::new();
    let mut aliased_count = 0;
    let mut empty_count = 0;
    for _ in 0..n {
        let m = sub.recv_message().await;
        let payload: usize = String::from_utf8_lossy(&m.payload)
            .parse()
            .expect("numeric payload");
        let topic = match m.properties.topic_alias {
            Some(a) => {
                assert!((1..=5).contains(&a), "alias {a} outside 1..=5: {m:?}");
                aliased_count += 1;
                if m.topic.is_empty() {
                    empty_count += 1;
                    map.get(&a)
                        .unwrap_or_else(|| panic!("alias {a} used before being set: {m:?}"))
                        .clone()
                } else {
                    map.insert(a, m.topic.clone());
                    m.topic.clone()
                }
            }
            None => {
                assert!(!m.topic.is_empty(), "empty topic without alias: {m:?}");
                m.topic.clone()
            }
        };
        assert_eq!(
            topic,
            format!("ta/out/{}", payload % 8),
            "message {payload} resolved to the wrong topic"
        );
    }
    assert!(
        aliased_count > 0,
        "the broker never used an outbound topic alias"
    );
    // Not required by the spec, but the point of aliasing (and what EMQX does):
    // repeated topics go out with an empty topic name.
    assert!(
        empty_count > 0,
        "aliases were set but never used with an empty topic"
    );
}

// [MQTT-3.1.2-27] A client that announced no Topic Alias Maximum never receives
// a Topic Alias, even for a topic the publisher aliased.
#[tokio::test]
async fn no_outbound_alias_without_client_maximum() {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), V5, "ta-none-sub").await;
    sub.subscribe("ta/none/t", QoS::AtLeastOnce).await;
    let (mut p, _) = alias_publisher(&b, "ta-none-pub").await;
    assert_eq!(
        p.publish_with(aliased("ta/none/t", 1, b"0")).await,
        ReasonCode::Success
    );
    for i in 1..6 {
        assert_eq!(
            p.publish_with(aliased("", 1, i.to_string().as_bytes()))
                .await,
            ReasonCode::Success
        );
    }
    for m in sub.recv_messages(6).await {
        assert_eq!(m.topic, "ta/none/t", "{m:?}");
        assert_eq!(m.properties.topic_alias, None, "{m:?}");
    }
}

// A 3.1.1 subscriber has no aliases at all: it gets the full topic for messages
// a 5.0 publisher sent through an alias.
#[tokio::test]
async fn v311_subscriber_gets_full_topics() {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), ProtocolVersion::V3_1_1, "ta-v3-sub").await;
    sub.subscribe("ta/v3/t", QoS::AtLeastOnce).await;
    let (mut p, _) = alias_publisher(&b, "ta-v3-pub").await;
    assert_eq!(
        p.publish_with(aliased("ta/v3/t", 1, b"a")).await,
        ReasonCode::Success
    );
    assert_eq!(
        p.publish_with(aliased("", 1, b"b")).await,
        ReasonCode::Success
    );
    let got = sub.recv_messages(2).await;
    let seen: Vec<_> = got
        .iter()
        .map(|m| (m.topic.as_str(), &m.payload[..]))
        .collect();
    assert_eq!(seen, vec![("ta/v3/t", &b"a"[..]), ("ta/v3/t", &b"b"[..])]);
}

/// Receives `n` messages, resolving aliases with `map`; returns (topic, payload).
async fn resolve(
    sub: &mut RawClient,
    map: &mut HashMap<u16, String>,
    max: u16,
    n: usize,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let m = sub.recv_message().await;
        let topic = match m.properties.topic_alias {
            Some(a) => {
                assert!((1..=max).contains(&a), "alias {a} outside 1..={max}: {m:?}");
                if m.topic.is_empty() {
                    map.get(&a)
                        .unwrap_or_else(|| {
                            panic!("alias {a} used before being set on this connection: {m:?}")
                        })
                        .clone()
                } else {
                    map.insert(a, m.topic.clone());
                    m.topic.clone()
                }
            }
            None => m.topic.clone(),
        };
        out.push((topic, String::from_utf8_lossy(&m.payload).into_owned()));
    }
    out
}

// [MQTT-3.3.2-7] Outbound aliases do not carry over either: after the subscriber
// reconnects (resuming its session), the first message on an aliased topic comes
// with the full topic name again, queued ones included.
#[tokio::test]
async fn outbound_aliases_reset_on_reconnect() {
    let b = Broker::start();
    let conn = || {
        let mut c = persistent_connect(V5, "ta-reset-sub", 300);
        c.properties.topic_alias_maximum = Some(5);
        c
    };
    let (mut sub, _) = RawClient::connect_ok(b.addr(), conn()).await;
    sub.subscribe("ta/reset/#", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "ta-reset-pub").await;
    for i in 0..3 {
        assert!(!p
            .publish(
                "ta/reset/t",
                format!("a{i}").as_bytes(),
                QoS::AtLeastOnce,
                false
            )
            .await
            .is_error());
    }
    let mut map = HashMap::new();
    let got = resolve(&mut sub, &mut map, 5, 3).await;
    assert!(got.iter().all(|(t, _)| t == "ta/reset/t"), "{got:?}");
    sub.disconnect().await;
    // Queued while offline, then one more after the reconnect.
    assert!(!p
        .publish("ta/reset/t", b"q", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let (mut sub, ack) = RawClient::connect_ok(b.addr(), conn()).await;
    assert!(ack.session_present);
    let mut fresh = HashMap::new();
    let got = resolve(&mut sub, &mut fresh, 5, 1).await;
    assert_eq!(got, vec![("ta/reset/t".to_string(), "q".to_string())]);
    assert!(!p
        .publish("ta/reset/t", b"live", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let got = resolve(&mut sub, &mut fresh, 5, 1).await;
    assert_eq!(got, vec![("ta/reset/t".to_string(), "live".to_string())]);
}

// [MQTT-3.3.2-11] With Topic Alias Maximum 1 and two alternating topics, the one
// alias is re-mapped (or full topics sent): every message still resolves right.
#[tokio::test]
async fn outbound_single_alias_alternating_topics() {
    let b = Broker::start();
    let mut c = connect_packet(V5, "ta-one-sub");
    c.properties.topic_alias_maximum = Some(1);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("ta/one/+", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "ta-one-pub").await;
    let mut want = Vec::new();
    for i in 0..10 {
        let topic = format!("ta/one/{}", ["a", "a", "b", "a", "b", "b"][i % 6]);
        assert!(!p
            .publish(&topic, i.to_string().as_bytes(), QoS::AtLeastOnce, false)
            .await
            .is_error());
        want.push((topic, i.to_string()));
    }
    let mut map = HashMap::new();
    let got = resolve(&mut sub, &mut map, 1, 10).await;
    assert_eq!(got, want);
}

// Inbound alias mappings belong to one connection: two publishers using alias 1
// for different topics do not see each other's mapping.
#[tokio::test]
async fn inbound_aliases_are_per_connection() {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), V5, "ta-iso-sub").await;
    sub.subscribe("ta/iso/+", QoS::AtLeastOnce).await;
    let (mut x, _) = alias_publisher(&b, "ta-iso-x").await;
    let (mut y, _) = alias_publisher(&b, "ta-iso-y").await;
    assert_eq!(
        x.publish_with(aliased("ta/iso/x", 1, b"x1")).await,
        ReasonCode::Success
    );
    assert_eq!(
        y.publish_with(aliased("ta/iso/y", 1, b"y1")).await,
        ReasonCode::Success
    );
    assert_eq!(
        x.publish_with(aliased("", 1, b"x2")).await,
        ReasonCode::Success
    );
    assert_eq!(
        y.publish_with(aliased("", 1, b"y2")).await,
        ReasonCode::Success
    );
    let mut got: Vec<_> = sub
        .recv_messages(4)
        .await
        .iter()
        .map(|m| {
            (
                m.topic.clone(),
                String::from_utf8_lossy(&m.payload).into_owned(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("ta/iso/x", "x1"),
        ("ta/iso/x", "x2"),
        ("ta/iso/y", "y1"),
        ("ta/iso/y", "y2"),
    ]
    .iter()
    .map(|(t, p)| (t.to_string(), p.to_string()))
    .collect();
    assert_eq!(got, want);
}

// Spec 3.2.2.3.8: the CONNACK announces mqtt.max_topic_alias, 65,535 by default
// (EMQX's default), and the top alias is usable [MQTT-3.3.2-12].
#[tokio::test]
async fn connack_topic_alias_maximum_default() {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), V5, "ta-def-sub").await;
    sub.subscribe("ta/def/t", QoS::AtLeastOnce).await;
    let (mut p, max) = alias_publisher(&b, "ta-def").await;
    assert_eq!(max, 65535);
    assert_eq!(
        p.publish_with(aliased("ta/def/t", 65535, b"a")).await,
        ReasonCode::Success
    );
    assert_eq!(
        p.publish_with(aliased("", 65535, b"b")).await,
        ReasonCode::Success
    );
    let got: Vec<_> = sub
        .recv_messages(2)
        .await
        .into_iter()
        .map(|m| (m.topic, m.payload))
        .collect();
    assert_eq!(
        got,
        vec![
            ("ta/def/t".to_string(), Bytes::from_static(b"a")),
            ("ta/def/t".to_string(), Bytes::from_static(b"b"))
        ]
    );
}
