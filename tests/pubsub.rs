//! Subscribe, publish, topic matching and unsubscribe (MQTT 3.1.1 §3.3, 3.8-3.11,
//! 4.7; MQTT 5.0 §3.3, 3.8-3.11, 4.7).

#[macro_use]
mod common;
use common::*;

/// Asserts that `sub` receives exactly the messages whose topics are in `expect`
/// (in order), and none of the others, after `publisher` published every topic in
/// `topics` (QoS 1, so each one is routed before the next) and then a sentinel on
/// `sentinel_topic` that `sub` is subscribed to.
async fn assert_routed(
    publisher: &mut RawClient,
    sub: &mut RawClient,
    topics: &[&str],
    expect: &[&str],
    sentinel_topic: &str,
) {
    for t in topics {
        publisher
            .publish(t, t.as_bytes(), QoS::AtLeastOnce, false)
            .await;
    }
    publisher
        .publish(sentinel_topic, b"sentinel", QoS::AtLeastOnce, false)
        .await;
    let mut got = Vec::new();
    loop {
        let m = sub.recv_message().await;
        if m.payload == Bytes::from_static(b"sentinel") {
            break;
        }
        got.push(m.topic.clone());
    }
    sub.recv_none_for(Duration::from_millis(200)).await;
    assert_eq!(got, expect, "delivered topics");
}

// Exact topic names match only themselves (4.7).
async fn exact_topic(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    let ack = sub.subscribe("a/b", QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1]);
    sub.subscribe("sentinel", QoS::AtLeastOnce).await;
    assert_routed(
        &mut publ,
        &mut sub,
        &["a/c", "a/b/c", "a", "A/b", "a/b", "/a/b"],
        &["a/b"],
        "sentinel",
    )
    .await;
}
versioned_test!(exact_topic);

// '+' matches exactly one level, including an empty one [MQTT-4.7.1-3].
async fn single_level_wildcard(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("s/+/t", QoS::AtLeastOnce).await;
    sub.subscribe("sentinel", QoS::AtLeastOnce).await;
    assert_routed(
        &mut publ,
        &mut sub,
        &["s/x/t", "s/x/y/t", "s/t", "s//t", "s/x/t/u", "q/x/t"],
        &["s/x/t", "s//t"],
        "sentinel",
    )
    .await;
}
versioned_test!(single_level_wildcard);

// '#' matches the parent and any number of child levels; "sport/#" matches "sport"
// [MQTT-4.7.1-2].
async fn multi_level_wildcard(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("sport/#", QoS::AtLeastOnce).await;
    sub.subscribe("sentinel", QoS::AtLeastOnce).await;
    assert_routed(
        &mut publ,
        &mut sub,
        &[
            "sport",
            "sport/tennis",
            "sport/tennis/player1",
            "sports",
            "sport/",
            "x/sport",
        ],
        &["sport", "sport/tennis", "sport/tennis/player1", "sport/"],
        "sentinel",
    )
    .await;
}
versioned_test!(multi_level_wildcard);

// '+' alone matches one level only; a leading '/' makes an empty first level
// ("/finance" is matched by "/+" and "+/+", not by "+") [MQTT-4.7.1-3 examples].
async fn plus_and_empty_levels(v: ProtocolVersion) {
    let b = Broker::start();
    let mut one = RawClient::connected(b.addr(), v, "one").await;
    let mut slash = RawClient::connected(b.addr(), v, "slash").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    one.subscribe("+", QoS::AtLeastOnce).await;
    slash.subscribe("/+", QoS::AtLeastOnce).await;
    slash.subscribe("sentinel", QoS::AtLeastOnce).await;
    assert_routed(
        &mut publ,
        &mut slash,
        &["/finance", "finance", "/", "//x"],
        &["/finance", "/"],
        "sentinel",
    )
    .await;
    let got: Vec<String> = one
        .recv_messages(2)
        .await
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert_eq!(got, vec!["finance", "sentinel"]);
    one.recv_none_for(Duration::from_millis(200)).await;
}
versioned_test!(plus_and_empty_levels);

// A subscription to "#" alone receives every (non-$) topic.
async fn hash_alone_matches_everything(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("#", QoS::AtLeastOnce).await;
    assert_routed(
        &mut publ,
        &mut sub,
        &["a", "a/b/c", "/", "x/"],
        &["a", "a/b/c", "/", "x/"],
        "sentinel",
    )
    .await;
}
versioned_test!(hash_alone_matches_everything);

// [MQTT-4.7.2-1]: filters starting with a wildcard do not match topics starting with
// '$'; "$foo/#" does.
async fn dollar_topics_not_matched_by_leading_wildcards(v: ProtocolVersion) {
    let b = Broker::start();
    let mut wild = RawClient::connected(b.addr(), v, "wild").await;
    let mut dollar = RawClient::connected(b.addr(), v, "dollar").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    wild.subscribe("#", QoS::AtLeastOnce).await;
    wild.subscribe("+/info", QoS::AtLeastOnce).await;
    wild.subscribe("+/+", QoS::AtLeastOnce).await;
    dollar.subscribe("$foo/#", QoS::AtLeastOnce).await;

    publ.publish("$foo/info", b"d", QoS::AtLeastOnce, false)
        .await;
    let m = dollar.recv_message().await;
    assert_eq!(m.topic, "$foo/info");
    assert_eq!(m.payload, Bytes::from_static(b"d"));
    // The wildcard subscriber got nothing for it; its next message is the sentinel
    // (one copy for its three overlapping filters; three with per_subscription).
    publ.publish("plain/info", b"p", QoS::AtLeastOnce, false)
        .await;
    let m = wild.recv_message().await;
    assert_eq!(
        m.topic, "plain/info",
        "'$foo/info' must not match '#', '+/info', '+/+'"
    );
    while let Recv::Packet(p) = wild.try_recv_for(Duration::from_millis(300)).await {
        if let Packet::Publish(p) = p {
            assert_ne!(p.topic, "$foo/info", "[MQTT-4.7.2-1]");
        }
    }
}
versioned_test!(dollar_topics_not_matched_by_leading_wildcards);

// Without No Local (and with ignore_loop_deliver false) a client receives its own
// publications.
async fn own_publish_delivered(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "self").await;
    c.subscribe("me/t", QoS::AtLeastOnce).await;
    c.publish("me/t", b"loop", QoS::AtLeastOnce, false).await;
    let m = c.recv_message().await;
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("me/t", &b"loop"[..]));
}
versioned_test!(own_publish_delivered);

// UNSUBSCRIBE stops delivery and is answered by UNSUBACK with the same packet id
// [MQTT-3.10.4-1..5]; 5.0 reason codes: 0x00 success, 0x11 no subscription existed.
async fn unsubscribe_stops_delivery(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("u/t", QoS::AtLeastOnce).await;
    publ.publish("u/t", b"1", QoS::AtLeastOnce, false).await;
    assert_eq!(sub.recv_message().await.payload, Bytes::from_static(b"1"));

    let ack = sub.unsubscribe(&["u/t", "never/subscribed"]).await;
    if v.is_v5() {
        assert_eq!(
            ack.reason_codes,
            vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
            "{ack:?}"
        );
    }
    publ.publish("u/t", b"2", QoS::AtLeastOnce, false).await;
    sub.recv_none_for(QUIET).await;
}
versioned_test!(unsubscribe_stops_delivery);

// Unsubscribing one filter leaves the client's other subscriptions in place.
async fn unsubscribe_one_of_two(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("k/1", QoS::AtLeastOnce).await;
    sub.subscribe("k/2", QoS::AtLeastOnce).await;
    sub.unsubscribe(&["k/1"]).await;
    assert_routed(&mut publ, &mut sub, &["k/1", "k/2"], &["k/2"], "k/2").await;
}
versioned_test!(unsubscribe_one_of_two);

// [MQTT-3.8.4-5, MQTT-3.9.3-1]: one SUBACK code per filter, in order, granting the
// requested QoS (max_qos_allowed is 2).
async fn suback_granted_qos_per_filter(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    let ack = c
        .subscribe_opts(&[
            ("q/2", sub_opts(QoS::ExactlyOnce)),
            ("q/0", sub_opts(QoS::AtMostOnce)),
            ("q/1", sub_opts(QoS::AtLeastOnce)),
        ])
        .await;
    assert_eq!(
        ack.reason_codes,
        vec![
            ReasonCode::GrantedQoS2,
            ReasonCode::Success,
            ReasonCode::GrantedQoS1
        ]
    );
    let frame = c.last_frame();
    let n = frame.len();
    assert_eq!(&frame[n - 3..], &[2, 0, 1], "granted QoS bytes on the wire");
}
versioned_test!(suback_granted_qos_per_filter);

// An invalid filter fails alone: 5.0 0x8F Topic Filter Invalid (3.1.1: 0x80) while
// the other filters of the same SUBSCRIBE are granted and work (EMQX 5 behaviour;
// 3.1.1 [MQTT-3.9.3-2] allows failure per filter).
async fn invalid_filter_fails_alone(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    let ack = c
        .subscribe_opts(&[
            ("ok/1", sub_opts(QoS::AtLeastOnce)),
            ("a/#/b", sub_opts(QoS::AtLeastOnce)),
            ("ok/2", sub_opts(QoS::AtMostOnce)),
            ("a/b#", sub_opts(QoS::AtMostOnce)),
        ])
        .await;
    let frame = c.last_frame();
    let n = frame.len();
    if v.is_v5() {
        assert_eq!(
            ack.reason_codes,
            vec![
                ReasonCode::GrantedQoS1,
                ReasonCode::TopicFilterInvalid,
                ReasonCode::Success,
                ReasonCode::TopicFilterInvalid
            ]
        );
    } else {
        assert_eq!(
            &frame[n - 4..],
            &[0x01, 0x80, 0x00, 0x80],
            "3.1.1 SUBACK codes"
        );
    }
    // The connection stays open and the valid filters are in force.
    c.publish("ok/1", b"1", QoS::AtLeastOnce, false).await;
    c.publish("ok/2", b"2", QoS::AtLeastOnce, false).await;
    let got = c.recv_messages(2).await;
    assert_eq!(got[0].topic, "ok/1");
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    assert_eq!(got[1].topic, "ok/2");
    assert_eq!(got[1].qos, QoS::AtMostOnce);
}
versioned_test!(invalid_filter_fails_alone);

// Payload bytes (all 256 values, an empty payload) and UTF-8 topics arrive intact.
async fn payload_and_topic_intact(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("bin/#", QoS::ExactlyOnce).await;
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let topic = "bin/ü/日本/ /x";
    for q in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        publ.publish(topic, &all, q, false).await;
        let m = sub.recv_message().await;
        assert_eq!(m.topic, topic);
        assert_eq!(&m.payload[..], &all[..], "binary payload at {q:?}");
        assert_eq!(m.qos, q);
        assert!(!m.retain);
    }
    publ.publish("bin/empty", b"", QoS::AtLeastOnce, false)
        .await;
    let m = sub.recv_message().await;
    assert_eq!(m.topic, "bin/empty");
    assert!(m.payload.is_empty(), "empty payload: {m:?}");
}
versioned_test!(payload_and_topic_intact);

// A ~100 KB payload (well below the 1 MB maximum packet size) arrives intact.
async fn large_payload_intact(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("big", QoS::AtLeastOnce).await;
    let payload: Vec<u8> = (0..100 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    publ.publish("big", &payload, QoS::AtLeastOnce, false).await;
    let m = sub.recv_message().await;
    assert_eq!(m.payload.len(), payload.len());
    assert!(m.payload[..] == payload[..], "large payload corrupted");
}
versioned_test!(large_payload_intact);

// [MQTT-4.6.0-5] (5.0 [MQTT-4.6.0-6]): messages of one publisher on one topic at QoS
// 1 reach a subscriber in publish order, and PUBACKs come back in order
// [MQTT-4.6.0-2]. The publisher pipelines its PUBLISHes, keeping at most 16
// unacknowledged (below the server's Receive Maximum of 32 [MQTT-3.3.4-7]). The
// subscriber reads meanwhile: one that did not would hold the publisher back
// (`mqtt.backpressure`) once 128 messages wait for it.
async fn qos1_order_preserved(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("ord", QoS::AtLeastOnce).await;
    const N: u32 = 200;
    let reading = tokio::spawn(async move { sub.recv_messages(N as usize).await });
    const WINDOW: u32 = 16;
    let mut acked = 0u32;
    for i in 1..=N {
        if i > WINDOW {
            acked += 1;
            match publ.recv().await {
                Packet::PubAck(a) => assert_eq!(a.packet_id, acked as u16, "PUBACK order"),
                p => panic!("expected PUBACK {acked}, got {p:?}"),
            }
        }
        let mut p = publish_packet("ord", &i.to_be_bytes(), QoS::AtLeastOnce, false);
        p.packet_id = i as u16;
        publ.send(&Packet::Publish(p)).await;
    }
    while acked < N {
        acked += 1;
        match publ.recv().await {
            Packet::PubAck(a) => assert_eq!(a.packet_id, acked as u16, "PUBACK order"),
            p => panic!("expected PUBACK {acked}, got {p:?}"),
        }
    }
    let got = reading.await.expect("subscriber task");
    let seq: Vec<u32> = got
        .iter()
        .map(|m| u32::from_be_bytes(m.payload[..4].try_into().unwrap()))
        .collect();
    assert_eq!(seq, (1..=N).collect::<Vec<_>>(), "delivery order");
    for m in &got {
        assert_ne!(
            m.packet_id, 0,
            "QoS 1 PUBLISH needs a packet id [MQTT-2.3.1-1]"
        );
    }
}
versioned_test!(qos1_order_preserved);

// 5.0 §3.4.2.1 / §3.5.2.1: a QoS 1 (QoS 2) publish nobody is subscribed to is
// acknowledged with PUBACK (PUBREC) 0x10 No Matching Subscribers, as EMQX 5 does
// (emqx_channel: puback_reason_code([]) / pubrec_reason_code([]) ->
// ?RC_NO_MATCHING_SUBSCRIBERS); 0x10 is a success code, so the QoS 2 exchange
// completes. With a subscriber the code is 0x00.
#[tokio::test]
async fn v5_puback_no_matching_subscribers() {
    let b = Broker::start();
    let mut publ = RawClient::connected(b.addr(), ProtocolVersion::V5, "pub").await;
    let rc = publ
        .publish("nobody/here", b"x", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(rc, ReasonCode::NoMatchingSubscribers, "PUBACK");
    let rc = publ
        .publish("nobody/here", b"x", QoS::ExactlyOnce, false)
        .await;
    assert_eq!(rc, ReasonCode::NoMatchingSubscribers, "PUBREC");
    let mut sub = RawClient::connected(b.addr(), ProtocolVersion::V5, "sub").await;
    sub.subscribe("nobody/here", QoS::AtMostOnce).await;
    let rc = publ
        .publish("nobody/here", b"x", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(rc, ReasonCode::Success);
}

// The same through a real client library, 3.1.1: rumqttc publishes at QoS 0/1/2 and
// a rumqttc subscriber gets each payload once, at min(pub, sub) QoS.
#[tokio::test]
async fn rumqttc_v311_pubsub() {
    let b = Broker::start();
    let mut sub = V4Client::connect(b.addr(), "rsub").await;
    let mut publ = V4Client::connect(b.addr(), "rpub").await;
    let ack = sub.subscribe("r/+", 2).await;
    assert_eq!(
        ack.return_codes,
        vec![rumqttc::SubscribeReasonCode::Success(
            rumqttc::QoS::ExactlyOnce
        )]
    );
    for q in 0..=2u8 {
        publ.publish(&format!("r/{q}"), &[q; 10], q, false).await;
        let m = sub.recv_publish().await;
        assert_eq!(m.topic, format!("r/{q}"));
        assert_eq!(&m.payload[..], &[q; 10]);
        assert_eq!(m.qos as u8, q);
    }
    sub.recv_no_publish_for(Duration::from_millis(300)).await;
}

// The same through rumqttc 5.0, with raw and library clients mixed.
#[tokio::test]
async fn rumqttc_v5_pubsub_with_raw_publisher() {
    let b = Broker::start();
    let mut sub = V5Client::connect(b.addr(), "rsub").await;
    sub.subscribe("r5/#", 1).await;
    let mut publ = RawClient::connected(b.addr(), ProtocolVersion::V5, "raw").await;
    publ.publish("r5/a/b", b"from raw", QoS::ExactlyOnce, false)
        .await;
    let m = sub.recv_publish().await;
    assert_eq!(topic5(&m), "r5/a/b");
    assert_eq!(&m.payload[..], b"from raw");
    assert_eq!(m.qos as u8, 1, "min(2, 1)");
    // and rumqttc -> raw
    let mut rsub = RawClient::connected(b.addr(), ProtocolVersion::V5, "rawsub").await;
    rsub.subscribe("back", QoS::AtLeastOnce).await;
    sub.publish("back", b"from rumqttc", 1, false).await;
    let m = rsub.recv_message().await;
    assert_eq!(&m.payload[..], b"from rumqttc");
}

// 3.1.1 has no Receive Maximum: a client may pipeline many QoS 1 PUBLISHes without
// waiting for PUBACKs. Every one must be acknowledged [MQTT-4.3.2-2] and delivered,
// in order; none may be lost by the server's reader (credit/backpressure pauses
// reading, it must not drop frames). The subscriber reads meanwhile (one that
// did not would hold the publisher back once 128 messages wait for it).
#[tokio::test]
async fn v311_deep_qos1_pipeline_loses_nothing() {
    let b = Broker::start();
    let v = ProtocolVersion::V3_1_1;
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("deep", QoS::AtLeastOnce).await;
    const N: u16 = 200;
    let reading = tokio::spawn(async move { sub.recv_messages(N as usize).await });
    let mut all = Vec::new();
    for i in 1..=N {
        let mut p = publish_packet("deep", &i.to_be_bytes(), QoS::AtLeastOnce, false);
        p.packet_id = i;
        let mut buf = bytes::BytesMut::new();
        roost_protocol::encode(&Packet::Publish(p), v, &mut buf).unwrap();
        all.extend_from_slice(&buf);
    }
    publ.send_bytes(&all).await; // 200 frames in one write
    for i in 1..=N {
        match publ.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(Packet::PubAck(a)) => assert_eq!(a.packet_id, i),
            other => panic!("PUBACK {i} of {N}: got {other:?}"),
        }
    }
    let got = reading.await.expect("subscriber task");
    let seq: Vec<u16> = got
        .iter()
        .map(|m| u16::from_be_bytes(m.payload[..2].try_into().unwrap()))
        .collect();
    assert_eq!(seq, (1..=N).collect::<Vec<_>>());
}

// [MQTT-3.8.4-3]: a SUBSCRIBE for a filter the client already has replaces that
// subscription (new QoS); it does not add a second one.
async fn resubscribe_replaces_subscription(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("rs", QoS::AtMostOnce).await;
    let ack = sub.subscribe("rs", QoS::ExactlyOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS2]);
    publ.publish("rs", b"x", QoS::ExactlyOnce, false).await;
    let m = sub.recv_message().await;
    assert_eq!(m.qos, QoS::ExactlyOnce, "the new subscription QoS applies");
    sub.recv_none_for(QUIET).await;
}
versioned_test!(resubscribe_replaces_subscription);

// mqtt.wildcard_subscription = false: wildcard filters are refused (5.0: 0xA2
// Wildcard Subscriptions not supported; 3.1.1: 0x80), plain ones granted; 5.0 CONNACK
// says Wildcard Subscription Available 0 (§3.2.2.3.12).
async fn wildcard_subscription_disabled(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__WILDCARD_SUBSCRIPTION", "false")]);
    let (mut c, ack) = RawClient::connect_ok(b.addr(), connect_packet(v, "c")).await;
    if v.is_v5() {
        assert_eq!(
            ack.properties.wildcard_subscription_available,
            Some(0),
            "{ack:?}"
        );
    }
    let sa = c
        .subscribe_opts(&[
            ("a/+", sub_opts(QoS::AtLeastOnce)),
            ("a/b", sub_opts(QoS::AtLeastOnce)),
            ("#", sub_opts(QoS::AtLeastOnce)),
        ])
        .await;
    if v.is_v5() {
        assert_eq!(
            sa.reason_codes,
            vec![
                ReasonCode::WildcardSubscriptionsNotSupported,
                ReasonCode::GrantedQoS1,
                ReasonCode::WildcardSubscriptionsNotSupported
            ]
        );
    } else {
        let f = c.last_frame();
        assert_eq!(&f[f.len() - 3..], &[0x80, 0x01, 0x80]);
    }
    c.publish("a/b", b"x", QoS::AtLeastOnce, false).await;
    assert_eq!(c.recv_message().await.topic, "a/b");
    c.recv_none_for(Duration::from_millis(300)).await;
}
versioned_test!(wildcard_subscription_disabled);

// mqtt.ignore_loop_deliver = true (EMQX): a client's own publishes are not
// delivered back to it, in every version; others still get them.
async fn ignore_loop_deliver(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__IGNORE_LOOP_DELIVER", "true")]);
    let mut me = RawClient::connected(b.addr(), v, "me").await;
    let mut other = RawClient::connected(b.addr(), v, "other").await;
    me.subscribe("loop", QoS::AtLeastOnce).await;
    other.subscribe("loop", QoS::AtLeastOnce).await;
    me.publish("loop", b"mine", QoS::AtLeastOnce, false).await;
    assert_eq!(&other.recv_message().await.payload[..], b"mine");
    me.recv_none_for(QUIET).await;
}
versioned_test!(ignore_loop_deliver);

// [MQTT-3.10.4-1]: UNSUBSCRIBE filters are compared character by character with the
// existing subscriptions: unsubscribing "w/+" removes that subscription only, not
// the "w/b" one it would match as a wildcard.
async fn unsubscribe_matches_filter_text_exactly(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    sub.subscribe("w/+", QoS::AtLeastOnce).await;
    sub.subscribe("w/b", QoS::AtLeastOnce).await;
    sub.subscribe("sentinel-w", QoS::AtLeastOnce).await;
    let ack = sub.unsubscribe(&["w/+"]).await;
    if v.is_v5() {
        assert_eq!(ack.reason_codes, vec![ReasonCode::Success]);
    }
    // "w/c" matched only "w/+": gone. "w/b" still matches "w/b": once.
    assert_routed(&mut publ, &mut sub, &["w/c", "w/b"], &["w/b"], "sentinel-w").await;
}
versioned_test!(unsubscribe_matches_filter_text_exactly);
