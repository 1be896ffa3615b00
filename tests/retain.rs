//! Retained messages (MQTT 3.1.1 §3.3.1.3; MQTT 5.0 §3.3.1.3, 3.8.3.1, 3.3.2.3.3).

#[macro_use]
mod common;
use common::*;
use std::time::Instant;

fn opts(q: QoS, rap: bool, rh: RetainHandling) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: q,
        no_local: false,
        retain_as_published: rap,
        retain_handling: rh,
    }
}

// [MQTT-3.3.1-5, MQTT-3.3.1-6] (5.0 [MQTT-3.3.1-5, MQTT-3.3.1-9]): a retained message is
// stored and sent to later subscribers with RETAIN=1; QoS 0 retained messages are
// stored too (EMQX does; 3.1.1 [MQTT-3.3.1-7] SHOULD).
async fn retained_delivered_to_new_subscriber(v: ProtocolVersion) {
    let b = Broker::start();
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    for q in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("ret/{}", q as u8);
        publ.publish(&topic, topic.as_bytes(), q, true).await;
    }
    // A QoS 0 publish has no ack: make sure the broker handled it before subscribing.
    publ.ping().await;
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    for q in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("ret/{}", q as u8);
        sub.subscribe(&topic, QoS::ExactlyOnce).await;
        let m = sub.recv_message().await;
        assert_eq!(m.topic, topic);
        assert_eq!(&m.payload[..], topic.as_bytes());
        assert!(
            m.retain,
            "a retained message sent on subscribe has RETAIN=1: {m:?}"
        );
        assert_eq!(m.qos, q, "delivered at min(stored QoS, subscription QoS)");
    }
    sub.recv_none_for(Duration::from_millis(200)).await;
}
versioned_test!(retained_delivered_to_new_subscriber);

// The retained message is delivered at min(its QoS, the subscription's QoS).
async fn retained_delivered_at_min_qos(v: ProtocolVersion) {
    let b = Broker::start();
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("rq", b"x", QoS::ExactlyOnce, true).await;
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("rq", QoS::AtLeastOnce).await;
    let m = sub.recv_message().await;
    assert!(m.retain);
    assert_eq!(m.qos, QoS::AtLeastOnce);
}
versioned_test!(retained_delivered_at_min_qos);

// [MQTT-3.3.1-5]: a newer retained message replaces the stored one.
async fn retained_replaced_by_newer(v: ProtocolVersion) {
    let b = Broker::start();
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("rep", b"v1", QoS::AtLeastOnce, true).await;
    publ.publish("rep", b"v2", QoS::AtLeastOnce, true).await;
    // A non-retained publish does not replace it [MQTT-3.3.1-12 (3.1.1)].
    publ.publish("rep", b"v3-not-retained", QoS::AtLeastOnce, false)
        .await;
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("rep", QoS::AtLeastOnce).await;
    let m = sub.recv_message().await;
    assert_eq!(&m.payload[..], b"v2");
    assert!(m.retain);
    sub.recv_none_for(QUIET).await;
}
versioned_test!(retained_replaced_by_newer);

// [MQTT-3.3.1-10, MQTT-3.3.1-11] (5.0 [MQTT-3.3.1-6, MQTT-3.3.1-7]): a retained PUBLISH
// with an empty payload removes the retained message and is itself not stored; it is
// delivered to current subscribers as a normal message.
async fn empty_retained_payload_clears(v: ProtocolVersion) {
    let b = Broker::start();
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    let mut live = RawClient::connected(b.addr(), v, "live").await;
    publ.publish("clr", b"v1", QoS::AtLeastOnce, true).await;
    live.subscribe("clr", QoS::AtLeastOnce).await;
    assert_eq!(&live.recv_message().await.payload[..], b"v1");

    publ.publish("clr", b"", QoS::AtLeastOnce, true).await;
    let m = live.recv_message().await;
    assert!(
        m.payload.is_empty(),
        "current subscribers get the empty message"
    );
    assert!(!m.retain, "forwarded normally: RETAIN=0");

    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("clr", QoS::AtLeastOnce).await;
    sub.subscribe("clr/#", QoS::AtLeastOnce).await;
    sub.recv_none_for(QUIET).await;
}
versioned_test!(empty_retained_payload_clears);

// Retained messages are sent for every topic a new wildcard subscription matches.
async fn retained_on_wildcard_subscribe(v: ProtocolVersion) {
    let b = Broker::start();
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    for t in ["w/a", "w/b/c", "w", "x/y", "$w/z"] {
        publ.publish(t, t.as_bytes(), QoS::AtLeastOnce, true).await;
    }
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("w/#", QoS::AtLeastOnce).await;
    let mut got: Vec<String> = sub
        .recv_messages(3)
        .await
        .into_iter()
        .map(|m| {
            assert!(m.retain);
            assert_eq!(m.payload, Bytes::from(m.topic.clone().into_bytes()));
            m.topic
        })
        .collect();
    got.sort();
    assert_eq!(got, vec!["w", "w/a", "w/b/c"]);
    sub.recv_none_for(Duration::from_millis(300)).await;

    // '+' or '#' at the first level do not match "$w/z" [MQTT-4.7.2-1].
    let mut sub2 = RawClient::connected(b.addr(), v, "sub2").await;
    sub2.subscribe("+/z", QoS::AtLeastOnce).await;
    sub2.recv_none_for(Duration::from_millis(300)).await;
    let mut sub3 = RawClient::connected(b.addr(), v, "sub3").await;
    sub3.subscribe("#", QoS::AtLeastOnce).await;
    let mut all: Vec<String> = sub3
        .recv_messages(4)
        .await
        .into_iter()
        .map(|m| m.topic)
        .collect();
    all.sort();
    assert_eq!(all, vec!["w", "w/a", "w/b/c", "x/y"]);
    sub3.recv_none_for(Duration::from_millis(300)).await;
}
versioned_test!(retained_on_wildcard_subscribe);

// 3.1.1 [MQTT-3.3.1-9] / 5.0 [MQTT-3.3.1-12]: a retained PUBLISH forwarded to an
// established subscription has RETAIN=0 (5.0: unless Retain As Published, then
// the flag is kept [MQTT-3.3.1-13]).
async fn forwarded_retained_publish_has_retain_0(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("fwd", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("fwd", b"r", QoS::AtLeastOnce, true).await;
    let m = sub.recv_message().await;
    assert_eq!(&m.payload[..], b"r");
    assert!(!m.retain, "RETAIN must be 0 on normal forwarding: {m:?}");
}
versioned_test!(forwarded_retained_publish_has_retain_0);

// 5.0 [MQTT-3.3.1-13]: with Retain As Published the RETAIN flag of the publish is kept.
#[tokio::test]
async fn v5_retain_as_published_keeps_flag() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe_opts(&[(
        "rap",
        opts(QoS::AtLeastOnce, true, RetainHandling::SendAtSubscribe),
    )])
    .await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("rap", b"r", QoS::AtLeastOnce, true).await;
    let m = sub.recv_message().await;
    assert!(m.retain, "retain as published: RETAIN=1 kept: {m:?}");
    publ.publish("rap", b"n", QoS::AtLeastOnce, false).await;
    let m = sub.recv_message().await;
    assert!(!m.retain, "a non-retained publish stays RETAIN=0: {m:?}");
}

// 5.0 Retain Handling [MQTT-3.3.1-9, MQTT-3.3.1-10, MQTT-3.3.1-11]: 0 sends retained
// messages at every subscribe; 1 only if the subscription did not exist; 2 never.
#[tokio::test]
async fn v5_retain_handling() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("rh", b"kept", QoS::AtLeastOnce, true).await;
    let mut c = RawClient::connected(b.addr(), v, "c").await;

    // 0: on every SUBSCRIBE, new or not.
    let o0 = opts(QoS::AtLeastOnce, false, RetainHandling::SendAtSubscribe);
    c.subscribe_opts(&[("rh", o0)]).await;
    assert!(c.recv_message().await.retain);
    c.subscribe_opts(&[("rh", o0)]).await;
    assert!(
        c.recv_message().await.retain,
        "handling 0 re-sends on re-subscribe"
    );

    // 1: only when the subscription is new.
    let o1 = opts(QoS::AtLeastOnce, false, RetainHandling::SendIfNew);
    c.subscribe_opts(&[("rh/+", o1), ("rh", o1)]).await;
    // "rh" existed: nothing for it; "rh/+" is new but matches nothing retained.
    c.recv_none_for(QUIET).await;
    let mut c2 = RawClient::connected(b.addr(), v, "c2").await;
    c2.subscribe_opts(&[("rh", o1)]).await;
    assert!(
        c2.recv_message().await.retain,
        "handling 1, new subscription: sent"
    );

    // 2: never.
    let o2 = opts(QoS::AtLeastOnce, false, RetainHandling::DoNotSend);
    let mut c3 = RawClient::connected(b.addr(), v, "c3").await;
    c3.subscribe_opts(&[("rh", o2)]).await;
    c3.recv_none_for(QUIET).await;
    // ... but live messages still flow to it.
    publ.publish("rh", b"live", QoS::AtLeastOnce, false).await;
    assert_eq!(&c3.recv_message().await.payload[..], b"live");
}

// 5.0 [MQTT-3.3.2-5]: a retained message whose Message Expiry Interval has passed is
// no longer delivered; before that it is delivered with the remaining interval
// [MQTT-3.3.2-6].
#[tokio::test]
async fn v5_retained_message_expires() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    let mut p = publish_packet("exp", b"short-lived", QoS::AtLeastOnce, true);
    p.properties.message_expiry_interval = Some(1);
    let t0 = Instant::now();
    publ.publish_with(p).await;

    let mut early = RawClient::connected(b.addr(), v, "early").await;
    early.subscribe("exp", QoS::AtLeastOnce).await;
    let m = early.recv_message().await;
    assert!(m.retain);
    let mei = m.properties.message_expiry_interval;
    assert!(
        matches!(mei, Some(0..=1)),
        "remaining Message Expiry Interval must be sent: {mei:?}"
    );

    // Poll with new subscribers until nothing is delivered; it must stop by ~2.5 s.
    let mut n = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        n += 1;
        let mut c = RawClient::connected(b.addr(), v, &format!("late{n}")).await;
        c.subscribe("exp", QoS::AtLeastOnce).await;
        match c.try_recv_for(Duration::from_millis(300)).await {
            Recv::Timeout => {
                assert!(
                    t0.elapsed() >= Duration::from_millis(900),
                    "expired too early ({:?})",
                    t0.elapsed()
                );
                break;
            }
            Recv::Packet(Packet::Publish(_)) => {
                assert!(
                    t0.elapsed() < Duration::from_millis(2500),
                    "retained message still delivered {:?} after publish with expiry 1 s",
                    t0.elapsed()
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

// mqtt.retain_available = false: 5.0 CONNACK says Retain Available 0 and a retained
// PUBLISH is a protocol error, DISCONNECT 0x9A Retain Not Supported
// [MQTT-3.2.2-13, MQTT-3.3.1-8]; 3.1.1 has no way to say so and the connection is
// closed (EMQX 5). Non-retained publishes work.
async fn retain_not_available(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__RETAIN_AVAILABLE", "false")]);
    let (mut c, ack) = RawClient::connect_ok(b.addr(), connect_packet(v, "c")).await;
    if v.is_v5() {
        assert_eq!(ack.properties.retain_available, Some(0), "{ack:?}");
    }
    c.subscribe("nr", QoS::AtLeastOnce).await;
    c.publish("nr", b"plain", QoS::AtLeastOnce, false).await;
    assert_eq!(&c.recv_message().await.payload[..], b"plain");
    let mut p = publish_packet("nr", b"retained", QoS::AtLeastOnce, true);
    p.packet_id = 99;
    c.send(&Packet::Publish(p)).await;
    c.expect_disconnect(ReasonCode::RetainNotSupported).await;
    // and nothing was stored
    let mut s = RawClient::connected(b.addr(), v, "s").await;
    s.subscribe("nr", QoS::AtLeastOnce).await;
    s.recv_none_for(QUIET).await;
}
versioned_test!(retain_not_available);

// rumqttc sees the retain flag on a retained message sent at subscribe.
#[tokio::test]
async fn rumqttc_v311_retained() {
    let b = Broker::start();
    let mut publ = V4Client::connect(b.addr(), "p").await;
    publ.publish("rr/t", b"kept", 1, true).await;
    let mut sub = V4Client::connect(b.addr(), "s").await;
    sub.subscribe("rr/#", 1).await;
    let m = sub.recv_publish().await;
    assert!(m.retain);
    assert_eq!(&m.payload[..], b"kept");
    assert_eq!(m.topic, "rr/t");
}

// A retained message published while a persistent session is offline reaches it
// once, as a queued normal message (RETAIN=0, EMQX: Retain As Published 0 clears the
// flag of every delivery that is not caused by the subscribe), not a second time as
// a retained message on resume (the subscription is not new).
async fn retained_publish_queued_for_offline_session_delivered_once(v: ProtocolVersion) {
    let b = Broker::start();
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "off", 300)).await;
    c.subscribe("ro/t", QoS::AtLeastOnce).await;
    c.disconnect().await;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    p.publish("ro/t", b"while offline", QoS::AtLeastOnce, true)
        .await;
    let (mut c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "off", 300)).await;
    assert!(ack.session_present);
    let m = c.recv_message().await;
    assert_eq!(&m.payload[..], b"while offline");
    assert!(
        !m.retain,
        "delivered through the existing subscription: RETAIN=0"
    );
    c.recv_none_for(QUIET).await;
}
versioned_test!(retained_publish_queued_for_offline_session_delivered_once);

// 5.0 [MQTT-3.2.2-14]: with retain unavailable, a CONNECT whose will has Will Retain
// 1 is refused with CONNACK 0x9A Retain not supported.
#[tokio::test]
async fn v5_will_retain_refused_when_retain_unavailable() {
    let b = Broker::start_with(&[("ROOST__MQTT__RETAIN_AVAILABLE", "false")]);
    let mut conn = connect_packet(ProtocolVersion::V5, "wr");
    conn.will = Some(will("w/r", b"x", QoS::AtMostOnce, true));
    let (mut c, ack) = RawClient::connect(b.addr(), conn).await;
    assert_eq!(ack.reason_code, ReasonCode::RetainNotSupported, "{ack:?}");
    c.expect_closed().await;
}

// retainer.max_payload_size: a retained message with a larger payload is not stored
// (it is still forwarded to current subscribers) (EMQX retainer).
async fn retained_payload_over_limit_not_stored(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__RETAINER__MAX_PAYLOAD_SIZE", "10")]);
    let mut live = RawClient::connected(b.addr(), v, "live").await;
    live.subscribe("big/#", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("big/no", &[7u8; 11], QoS::AtLeastOnce, true)
        .await;
    publ.publish("big/yes", &[7u8; 10], QoS::AtLeastOnce, true)
        .await;
    assert_eq!(live.recv_messages(2).await.len(), 2);
    let mut s = RawClient::connected(b.addr(), v, "s").await;
    s.subscribe("big/#", QoS::AtLeastOnce).await;
    let m = s.recv_message().await;
    assert_eq!(m.topic, "big/yes");
    s.recv_none_for(Duration::from_millis(300)).await;
}
versioned_test!(retained_payload_over_limit_not_stored);

// retainer.max_retained_messages: a new retained topic beyond the limit is not
// stored; replacing an already stored topic still works (EMQX retainer). $SYS
// messages are off here: the broker's retained `$SYS/.../version` counts toward the
// limit too (as in EMQX).
async fn retained_count_limit(v: ProtocolVersion) {
    let b = Broker::start_with(&[
        ("ROOST__RETAINER__MAX_RETAINED_MESSAGES", "2"),
        ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s"),
    ]);
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("lim/1", b"1", QoS::AtLeastOnce, true).await;
    publ.publish("lim/2", b"2", QoS::AtLeastOnce, true).await;
    publ.publish("lim/3", b"3", QoS::AtLeastOnce, true).await;
    publ.publish("lim/1", b"1b", QoS::AtLeastOnce, true).await;
    let mut s = RawClient::connected(b.addr(), v, "s").await;
    s.subscribe("lim/#", QoS::AtLeastOnce).await;
    let mut got: Vec<(String, Vec<u8>)> = s
        .recv_messages(2)
        .await
        .into_iter()
        .map(|m| (m.topic, m.payload.to_vec()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("lim/1".to_string(), b"1b".to_vec()),
            ("lim/2".to_string(), b"2".to_vec())
        ]
    );
    s.recv_none_for(Duration::from_millis(300)).await;
}
versioned_test!(retained_count_limit);

// retainer.msg_expiry_interval: retained messages without a Message Expiry Interval
// expire after it (EMQX retainer).
async fn retainer_default_expiry(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__RETAINER__MSG_EXPIRY_INTERVAL", "1s")]);
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("rexp", b"r", QoS::AtLeastOnce, true).await;
    let mut s = RawClient::connected(b.addr(), v, "s").await;
    s.subscribe("rexp", QoS::AtLeastOnce).await;
    assert!(s.recv_message().await.retain, "stored at first");
    // Setup, not the assertion: let the 1 s expiry pass.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let mut late = RawClient::connected(b.addr(), v, "late").await;
    late.subscribe("rexp", QoS::AtLeastOnce).await;
    late.recv_none_for(QUIET).await;
}
versioned_test!(retainer_default_expiry);
