//! Quality of service: delivery QoS, the QoS 1 and QoS 2 exchanges in both directions,
//! exactly-once on receipt and redelivery on session resume (MQTT 3.1.1 §4.3-4.4;
//! MQTT 5.0 §4.3-4.4).

#[macro_use]
mod common;
use common::*;
use std::collections::HashSet;

const ALL_QOS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];

// [MQTT-3.8.4-8] (3.1.1 [MQTT-3.8.4-6]): a message is delivered at the minimum of its
// publish QoS and the subscription's granted QoS; all 9 combinations. QoS > 0
// PUBLISHes carry a non-zero packet id [MQTT-2.2.1-3] (3.1.1 [MQTT-2.3.1-1]).
async fn delivery_qos_is_min_of_publish_and_subscription(v: ProtocolVersion) {
    let b = Broker::start();
    let mut subs = Vec::new();
    for sq in ALL_QOS {
        let mut s = RawClient::connected(b.addr(), v, &format!("sub{}", sq as u8)).await;
        let ack = s.subscribe("m/q", sq).await;
        assert_eq!(ack.reason_codes, vec![granted(sq)]);
        subs.push((sq, s));
    }
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    for pq in ALL_QOS {
        let payload = [b'p', pq as u8];
        publ.publish("m/q", &payload, pq, false).await;
        for (sq, s) in subs.iter_mut() {
            let m = s.recv_message().await;
            assert_eq!(&m.payload[..], &payload[..]);
            assert_eq!(
                m.qos,
                pq.min(*sq),
                "publish QoS {pq:?}, subscription QoS {sq:?}"
            );
            if m.qos != QoS::AtMostOnce {
                assert_ne!(m.packet_id, 0, "QoS > 0 needs a packet id");
            }
        }
    }
    for (_, s) in subs.iter_mut() {
        s.recv_none_for(Duration::from_millis(200)).await;
    }
}
versioned_test!(delivery_qos_is_min_of_publish_and_subscription);

// [MQTT-4.3.2-4] (3.1.1 [MQTT-4.3.2-2]): a QoS 1 PUBLISH is answered by PUBACK with
// its packet id.
async fn qos1_publish_gets_puback(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    c.subscribe("q1", QoS::AtLeastOnce).await;
    let mut p = publish_packet("q1", b"x", QoS::AtLeastOnce, false);
    p.packet_id = 0x1234;
    c.send(&Packet::Publish(p)).await;
    let ack = c
        .recv_matching("PUBACK", |p| matches!(p, Packet::PubAck(_)))
        .await;
    match ack {
        Packet::PubAck(a) => {
            assert_eq!(a.packet_id, 0x1234);
            assert_eq!(a.reason_code, ReasonCode::Success);
        }
        _ => unreachable!(),
    }
    let m = c.recv_message().await;
    assert_eq!(m.topic, "q1");
}
versioned_test!(qos1_publish_gets_puback);

// [MQTT-4.3.3-8..11] (3.1.1 [MQTT-4.3.3-2]): QoS 2 inbound: PUBLISH -> PUBREC,
// PUBREL -> PUBCOMP, each with the packet id; delivered once.
async fn qos2_inbound_exchange(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("q2", QoS::ExactlyOnce).await;
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    let mut p = publish_packet("q2", b"once", QoS::ExactlyOnce, false);
    p.packet_id = 9;
    c.send(&Packet::Publish(p)).await;
    match c.recv().await {
        Packet::PubRec(r) => {
            assert_eq!(r.packet_id, 9);
            assert_eq!(r.reason_code, ReasonCode::Success);
        }
        p => panic!("expected PUBREC, got {p:?}"),
    }
    c.send(&Packet::PubRel(PubRel::new(9))).await;
    match c.recv().await {
        Packet::PubComp(r) => {
            assert_eq!(r.packet_id, 9);
            assert_eq!(r.reason_code, ReasonCode::Success);
        }
        p => panic!("expected PUBCOMP, got {p:?}"),
    }
    let m = sub.recv_message().await;
    assert_eq!(&m.payload[..], b"once");
    assert_eq!(m.qos, QoS::ExactlyOnce);
    sub.recv_none_for(QUIET).await;
}
versioned_test!(qos2_inbound_exchange);

// [MQTT-4.3.3-10] (3.1.1 [MQTT-4.3.3-2], method A/B): until PUBREL, a QoS 2 PUBLISH
// re-sent with the same packet id (DUP=1) must not be delivered again; it is answered
// with PUBREC again (EMQX 5 sets 0x91 Packet Identifier In Use on it in 5.0, which
// is not asserted: the spec only requires the PUBREC). After PUBCOMP the id is free:
// the same id then carries a new message.
async fn qos2_duplicate_before_pubrel_delivered_once(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("dupq2", QoS::ExactlyOnce).await;
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    let mut p = publish_packet("dupq2", b"m1", QoS::ExactlyOnce, false);
    p.packet_id = 5;
    c.send(&Packet::Publish(p.clone())).await;
    match c.recv().await {
        Packet::PubRec(r) => assert_eq!(r.packet_id, 5),
        p => panic!("expected PUBREC, got {p:?}"),
    }
    p.dup = true;
    c.send(&Packet::Publish(p.clone())).await;
    match c.recv().await {
        Packet::PubRec(r) => assert_eq!(r.packet_id, 5, "PUBREC for the re-sent PUBLISH"),
        p => panic!("expected PUBREC for the duplicate, got {p:?}"),
    }
    c.send(&Packet::PubRel(PubRel::new(5))).await;
    match c.recv().await {
        Packet::PubComp(r) => assert_eq!(r.packet_id, 5),
        p => panic!("expected PUBCOMP, got {p:?}"),
    }
    let m = sub.recv_message().await;
    assert_eq!(&m.payload[..], b"m1");
    sub.recv_none_for(QUIET).await;

    // The packet id is released: a new message with id 5 is delivered.
    let mut p2 = publish_packet("dupq2", b"m2", QoS::ExactlyOnce, false);
    p2.packet_id = 5;
    c.publish_with(p2).await;
    let m = sub.recv_message().await;
    assert_eq!(&m.payload[..], b"m2");
}
versioned_test!(qos2_duplicate_before_pubrel_delivered_once);

// Outbound QoS 2 [MQTT-4.3.3-1..7]: the server sends PUBLISH, the client PUBREC, the
// server PUBREL with the same packet id, the client PUBCOMP; nothing is re-sent after.
async fn qos2_outbound_exchange(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("out2", QoS::ExactlyOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("out2", b"x", QoS::ExactlyOnce, false).await;
    let m = sub.expect_publish().await;
    assert_eq!(m.qos, QoS::ExactlyOnce);
    assert_ne!(m.packet_id, 0);
    assert!(!m.dup, "first delivery has DUP=0 [MQTT-3.3.1-3]");
    sub.send(&Packet::PubRec(PubRec::new(m.packet_id))).await;
    match sub.recv().await {
        Packet::PubRel(r) => assert_eq!(r.packet_id, m.packet_id),
        p => panic!("expected PUBREL, got {p:?}"),
    }
    sub.send(&Packet::PubComp(PubComp::new(m.packet_id))).await;
    sub.recv_none_for(QUIET).await;
}
versioned_test!(qos2_outbound_exchange);

// [MQTT-2.2.1-3/4] (3.1.1 [MQTT-2.3.1-2]): unacknowledged outbound QoS 1/2 messages
// in flight at once use distinct non-zero packet ids.
async fn outbound_packet_ids_distinct_while_in_flight(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("ids", QoS::ExactlyOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    for i in 0..10u8 {
        let q = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        publ.publish("ids", &[i], q, false).await;
    }
    let mut ids = HashSet::new();
    for _ in 0..10 {
        let m = sub.expect_publish().await; // not acknowledged
        assert_ne!(m.packet_id, 0);
        assert!(
            ids.insert(m.packet_id),
            "packet id {} reused while in flight",
            m.packet_id
        );
    }
}
versioned_test!(outbound_packet_ids_distinct_while_in_flight);

// [MQTT-4.4.0-1] (3.1.1 [MQTT-4.4.0-1]): on resume with a present session the server
// re-sends unacknowledged QoS 1 PUBLISHes with their original packet ids and DUP=1
// [MQTT-3.3.1-1].
async fn unacked_qos1_resent_with_dup_on_resume(v: ProtocolVersion) {
    let b = Broker::start();
    let (mut sub, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "resume", 300)).await;
    sub.subscribe("re/1", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("re/1", b"again", QoS::AtLeastOnce, false)
        .await;
    let first = sub.expect_publish().await; // no PUBACK
    assert!(!first.dup);
    sub.drop_connection().await;

    let (mut sub, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(v, "resume", 300)).await;
    assert!(ack.session_present, "{ack:?}");
    let again = sub.expect_publish().await;
    assert_eq!(&again.payload[..], b"again");
    assert_eq!(again.topic, "re/1");
    assert_eq!(again.qos, QoS::AtLeastOnce);
    assert!(again.dup, "a re-sent PUBLISH has DUP=1: {again:?}");
    assert_eq!(again.packet_id, first.packet_id, "original packet id");
    sub.ack(&again).await;
    sub.recv_none_for(QUIET).await;
}
versioned_test!(unacked_qos1_resent_with_dup_on_resume);

// [MQTT-4.4.0-1]: the same for QoS 2: an unacknowledged PUBLISH is re-sent with
// DUP=1; once PUBREC was sent, it is the PUBREL that is re-sent, not the PUBLISH.
async fn unacked_qos2_resent_on_resume(v: ProtocolVersion) {
    let b = Broker::start();
    let (mut sub, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "resume2", 300)).await;
    sub.subscribe("re/2", QoS::ExactlyOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("re/2", b"a", QoS::ExactlyOnce, false).await;
    publ.publish("re/2", b"b", QoS::ExactlyOnce, false).await;
    let a = sub.expect_publish().await;
    let bm = sub.expect_publish().await;
    assert_eq!((&a.payload[..], &bm.payload[..]), (&b"a"[..], &b"b"[..]));
    // "a": PUBREC sent, PUBREL received, PUBCOMP not sent. "b": nothing sent.
    sub.send(&Packet::PubRec(PubRec::new(a.packet_id))).await;
    match sub.recv().await {
        Packet::PubRel(r) => assert_eq!(r.packet_id, a.packet_id),
        p => panic!("expected PUBREL, got {p:?}"),
    }
    sub.drop_connection().await;

    let (mut sub, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(v, "resume2", 300)).await;
    assert!(ack.session_present);
    let mut got_pubrel = false;
    let mut got_b = false;
    for _ in 0..2 {
        match sub.recv().await {
            Packet::PubRel(r) => {
                assert_eq!(r.packet_id, a.packet_id);
                got_pubrel = true;
                sub.send(&Packet::PubComp(PubComp::new(r.packet_id))).await;
            }
            Packet::Publish(p) => {
                assert_eq!(
                    &p.payload[..],
                    b"b",
                    "\"a\" was PUBREC'd: only its PUBREL is re-sent"
                );
                assert!(p.dup, "re-sent PUBLISH has DUP=1");
                assert_eq!(p.packet_id, bm.packet_id);
                got_b = true;
                sub.ack(&p).await;
            }
            p => panic!("unexpected {p:?}"),
        }
    }
    assert!(got_pubrel && got_b);
    sub.recv_none_for(QUIET).await;
}
versioned_test!(unacked_qos2_resent_on_resume);

// 5.0 §3.7.2.1 / 3.1.1 §4.3.3: PUBREL for a packet id the server does not know is
// answered by PUBCOMP with that id; 5.0: reason 0x92 Packet Identifier Not Found.
async fn pubrel_for_unknown_packet_id(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    c.send(&Packet::PubRel(PubRel::new(77))).await;
    match c.recv().await {
        Packet::PubComp(r) => {
            assert_eq!(r.packet_id, 77);
            if v.is_v5() {
                assert_eq!(r.reason_code, ReasonCode::PacketIdentifierNotFound);
            }
        }
        p => panic!("expected PUBCOMP, got {p:?}"),
    }
    c.ping().await;
}
versioned_test!(pubrel_for_unknown_packet_id);

// A PUBACK for a packet id that is not in flight is ignored (EMQX logs and drops
// it); the connection stays usable.
async fn puback_for_unknown_packet_id_ignored(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    c.send(&Packet::PubAck(PubAck::new(4242))).await;
    c.send(&Packet::PubComp(PubComp::new(4243))).await;
    c.ping().await;
}
versioned_test!(puback_for_unknown_packet_id_ignored);

// QoS 2 through a real client library at both ends (rumqttc drives every ack).
#[tokio::test]
async fn rumqttc_v5_qos2_end_to_end() {
    let b = Broker::start();
    let mut sub = V5Client::connect(b.addr(), "s").await;
    sub.subscribe("e2e", 2).await;
    let mut publ = V5Client::connect(b.addr(), "p").await;
    for i in 0..20u8 {
        publ.publish("e2e", &[i], 2, false).await;
    }
    let got = sub.recv_publishes(20).await;
    let payloads: Vec<u8> = got.iter().map(|m| m.payload[0]).collect();
    assert_eq!(payloads, (0..20).collect::<Vec<_>>());
    assert!(got.iter().all(|m| m.qos as u8 == 2));
    sub.recv_no_publish_for(QUIET).await;
}

// mqtt.max_qos_allowed = 1: subscriptions are granted at most QoS 1 (§3.8.4: the
// server may grant a lower QoS than requested); 5.0 CONNACK says Maximum QoS 1
// [MQTT-3.2.2-9]; a 5.0 QoS 2 PUBLISH is then a protocol error, DISCONNECT 0x9B QoS
// not supported [MQTT-3.2.2-11].
async fn max_qos_allowed_1(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_QOS_ALLOWED", "1")]);
    let (mut c, ack) = RawClient::connect_ok(b.addr(), connect_packet(v, "c")).await;
    if v.is_v5() {
        assert_eq!(ack.properties.maximum_qos, Some(1), "{ack:?}");
    }
    let sa = c.subscribe("mq", QoS::ExactlyOnce).await;
    assert_eq!(sa.reason_codes, vec![ReasonCode::GrantedQoS1]);
    c.publish("mq", b"1", QoS::AtLeastOnce, false).await;
    let m = c.recv_message().await;
    assert_eq!(m.qos, QoS::AtLeastOnce);
    if v.is_v5() {
        let mut p = publish_packet("mq", b"2", QoS::ExactlyOnce, false);
        p.packet_id = 7;
        c.send(&Packet::Publish(p)).await;
        c.expect_disconnect(ReasonCode::QoSNotSupported).await;
    }
}
versioned_test!(max_qos_allowed_1);

// mqtt.upgrade_qos = true (EMQX): messages are delivered at the subscription's QoS
// even when published at a lower one.
async fn upgrade_qos(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__UPGRADE_QOS", "true")]);
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("up", QoS::ExactlyOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("up", b"0", QoS::AtMostOnce, false).await;
    let m = sub.recv_message().await;
    assert_eq!(m.qos, QoS::ExactlyOnce, "upgraded to the subscription QoS");
    assert_ne!(m.packet_id, 0);
}
versioned_test!(upgrade_qos);

// [MQTT-4.4.0-1] / [MQTT-4.3.3-9..10]: the server keeps an inbound QoS 2 packet id
// (PUBREC sent, PUBREL not yet received) across reconnects of a persistent session:
// the client re-sends the PUBLISH (DUP) and then PUBREL; the message is delivered
// once and PUBREL is answered by a successful PUBCOMP (not 0x92).
async fn inbound_qos2_state_survives_reconnect(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("in2", QoS::ExactlyOnce).await;
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "p2", 300)).await;
    let mut p = publish_packet("in2", b"once", QoS::ExactlyOnce, false);
    p.packet_id = 21;
    c.send(&Packet::Publish(p.clone())).await;
    match c.recv().await {
        Packet::PubRec(r) => assert_eq!(r.packet_id, 21),
        p => panic!("expected PUBREC, got {p:?}"),
    }
    c.drop_connection().await;

    let (mut c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "p2", 300)).await;
    assert!(ack.session_present);
    p.dup = true;
    c.send(&Packet::Publish(p)).await;
    match c.recv().await {
        Packet::PubRec(r) => assert_eq!(r.packet_id, 21),
        p => panic!("expected PUBREC for the re-sent PUBLISH, got {p:?}"),
    }
    c.send(&Packet::PubRel(PubRel::new(21))).await;
    match c.recv().await {
        Packet::PubComp(r) => {
            assert_eq!(r.packet_id, 21);
            assert_eq!(r.reason_code, ReasonCode::Success, "the packet id was kept");
        }
        p => panic!("expected PUBCOMP, got {p:?}"),
    }
    assert_eq!(&sub.recv_message().await.payload[..], b"once");
    sub.recv_none_for(QUIET).await;
}
versioned_test!(inbound_qos2_state_survives_reconnect);

// mqtt.retry_interval: a 3.1.1 session re-sends an unacknowledged QoS 1 PUBLISH after
// the interval while connected, with DUP=1 and the same packet id (EMQX retry; 3.1.1
// allows it).
#[tokio::test]
async fn v311_retry_interval_resends_unacked() {
    let b = Broker::start_with(&[("ROOST__MQTT__RETRY_INTERVAL", "1s")]);
    let v = ProtocolVersion::V3_1_1;
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("rt", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("rt", b"retry me", QoS::AtLeastOnce, false)
        .await;
    let first = sub.expect_publish().await;
    assert!(!first.dup);
    let t0 = std::time::Instant::now();
    let again = sub.expect_publish().await; // not acked: re-sent
    assert!(
        t0.elapsed() >= Duration::from_millis(700),
        "re-sent after {:?}, retry_interval is 1 s",
        t0.elapsed()
    );
    assert!(again.dup, "{}", brief(&again));
    assert_eq!(again.packet_id, first.packet_id);
    assert_eq!(again.payload, first.payload);
    sub.ack(&again).await;
    sub.recv_none_for(Duration::from_millis(1500)).await;
}

// 5.0 [MQTT-4.4.0-1]: "Clients and Servers MUST NOT resend messages at any other
// time" than on session resume. The spec leaves no choice here, so unlike EMQX
// (which retries 5.0 clients too) nothing is re-sent while connected.
#[tokio::test]
async fn v5_no_resend_while_connected() {
    let b = Broker::start_with(&[("ROOST__MQTT__RETRY_INTERVAL", "1s")]);
    let v = ProtocolVersion::V5;
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("rt", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "pub").await;
    publ.publish("rt", b"once", QoS::AtLeastOnce, false).await;
    let _first = sub.expect_publish().await;
    sub.recv_none_for(Duration::from_millis(2500)).await;
}

// mqtt.await_rel_timeout: an inbound QoS 2 packet id whose PUBREL does not come within
// the timeout is forgotten (EMQX expire_awaiting_rel): a late PUBREL then gets
// PUBCOMP 0x92 in 5.0. The message itself was delivered once on receipt.
async fn await_rel_timeout_forgets_packet_id(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__AWAIT_REL_TIMEOUT", "1s")]);
    let mut sub = RawClient::connected(b.addr(), v, "sub").await;
    sub.subscribe("ar", QoS::ExactlyOnce).await;
    let mut c = RawClient::connected(b.addr(), v, "c").await;
    let mut p = publish_packet("ar", b"x", QoS::ExactlyOnce, false);
    p.packet_id = 3;
    c.send(&Packet::Publish(p)).await;
    match c.recv().await {
        Packet::PubRec(r) => assert_eq!(r.packet_id, 3),
        p => panic!("expected PUBREC, got {}", show(&p)),
    }
    assert_eq!(&sub.recv_message().await.payload[..], b"x");
    // Setup, not the assertion: let the 1 s timeout pass.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    c.send(&Packet::PubRel(PubRel::new(3))).await;
    match c.recv().await {
        Packet::PubComp(r) => {
            assert_eq!(r.packet_id, 3);
            if v.is_v5() {
                assert_eq!(r.reason_code, ReasonCode::PacketIdentifierNotFound);
            }
        }
        p => panic!("expected PUBCOMP, got {}", show(&p)),
    }
    sub.recv_none_for(Duration::from_millis(300)).await;
}
versioned_test!(await_rel_timeout_forgets_packet_id);
