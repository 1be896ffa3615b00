//! Flow control (MQTT 5.0 sections 3.3.4 and 4.9): Receive Maximum both ways,
//! Maximum Packet Size both ways and the bounded per-session message queue.
//! The backpressure from congested subscribers to publishers is in
//! tests/backpressure.rs.

#[macro_use]
mod common;
use common::*;

const V5: ProtocolVersion = ProtocolVersion::V5;

fn payload_str(p: &Publish) -> String {
    String::from_utf8_lossy(&p.payload).into_owned()
}

/// Publishes QoS 1 messages `m0..m{n-1}` to `topic`, each PUBACKed.
async fn publish_seq(p: &mut RawClient, topic: &str, n: usize) {
    for i in 0..n {
        let rc = p
            .publish(topic, format!("m{i}").as_bytes(), QoS::AtLeastOnce, false)
            .await;
        assert!(!rc.is_error(), "PUBACK of m{i}: {rc:?}");
    }
}

// Spec 3.2.2.3.3: the server's Receive Maximum is mqtt.max_inflight (EMQX
// announces max_inflight, 32 by default).
#[tokio::test]
async fn connack_receive_maximum_is_max_inflight() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_INFLIGHT", "7")]);
    let (_c, ack) = RawClient::connect_ok(b.addr(), connect_packet(V5, "rm-7")).await;
    assert_eq!(ack.properties.receive_maximum, Some(7), "{ack:?}");
}

#[tokio::test]
async fn connack_receive_maximum_default_is_32() {
    let b = Broker::start();
    let (_c, ack) = RawClient::connect_ok(b.addr(), connect_packet(V5, "rm-def")).await;
    assert_eq!(ack.properties.receive_maximum, Some(32), "{ack:?}");
}

/// Receives `n` PUBLISHes without acknowledging them.
async fn unacked(c: &mut RawClient, n: usize) -> Vec<Publish> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(c.expect_publish().await);
    }
    v
}

// [MQTT-3.3.4-9] The server sends no more than the client's Receive Maximum of
// unacknowledged QoS 1 PUBLISHes; each PUBACK lets one more out.
#[tokio::test]
async fn outbound_respects_client_receive_maximum() {
    let b = Broker::start();
    let mut c = connect_packet(V5, "rm-sub");
    c.properties.receive_maximum = Some(2);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/rm/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "rm-pub").await;
    publish_seq(&mut p, "fc/rm/t", 5).await;

    let first = unacked(&mut sub, 2).await;
    sub.recv_none_for(QUIET).await; // a third would exceed Receive Maximum 2
    sub.ack(&first[0]).await;
    let third = sub.expect_publish().await;
    sub.recv_none_for(QUIET).await;
    sub.ack(&first[1]).await;
    sub.ack(&third).await;
    let rest = unacked(&mut sub, 2).await;
    for m in &rest {
        sub.ack(m).await;
    }
    let order: Vec<_> = first
        .iter()
        .chain([&third])
        .chain(rest.iter())
        .map(payload_str)
        .collect();
    assert_eq!(order, vec!["m0", "m1", "m2", "m3", "m4"]);
}

// mqtt.max_inflight also caps the outbound window of a client that sent no
// Receive Maximum (EMQX: window = min(client's Receive Maximum, max_inflight)).
#[tokio::test]
async fn max_inflight_caps_outbound_window() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_INFLIGHT", "2")]);
    let mut sub = RawClient::connected(b.addr(), V5, "mi-sub").await;
    sub.subscribe("fc/mi/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "mi-pub").await;
    publish_seq(&mut p, "fc/mi/t", 4).await;
    let first = unacked(&mut sub, 2).await;
    sub.recv_none_for(QUIET).await;
    sub.ack(&first[0]).await;
    let third = sub.expect_publish().await;
    assert_eq!(payload_str(&third), "m2");
}

// Spec 3.2.2.3.3: a client that sends more QoS 2 PUBLISHes without completing
// them (no PUBREL here) than the server's Receive Maximum gets DISCONNECT 0x93.
// (EMQX instead counts them against max_awaiting_rel and answers PUBREC 0x93;
// the spec's wording is followed here.)
#[tokio::test]
async fn inbound_receive_maximum_exceeded_disconnects() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_INFLIGHT", "2")]);
    let (mut c, ack) = RawClient::connect_ok(b.addr(), connect_packet(V5, "rm-in")).await;
    assert_eq!(ack.properties.receive_maximum, Some(2), "{ack:?}");
    for pid in 1..=2u16 {
        let mut m = publish_packet("fc/rmin/t", b"x", QoS::ExactlyOnce, false);
        m.packet_id = pid;
        c.send(&Packet::Publish(m)).await;
        match c
            .recv_matching(
                "PUBREC",
                |p| matches!(p, Packet::PubRec(r) if r.packet_id == pid),
            )
            .await
        {
            Packet::PubRec(r) => assert!(!r.reason_code.is_error(), "PUBREC {pid}: {r:?}"),
            _ => unreachable!(),
        }
    }
    let mut m = publish_packet("fc/rmin/t", b"x", QoS::ExactlyOnce, false);
    m.packet_id = 3;
    c.send(&Packet::Publish(m)).await;
    c.expect_disconnect(ReasonCode::ReceiveMaximumExceeded)
        .await;
}

/// A QoS 1 PUBLISH to `topic` whose whole encoding for `v` is exactly `size` bytes.
fn publish_of_size(v: ProtocolVersion, topic: &str, size: usize, pid: u16) -> Publish {
    let mut p = publish_packet(topic, b"", QoS::AtLeastOnce, false);
    p.packet_id = pid;
    let base = roost_protocol::encoded_len(&Packet::Publish(p.clone()), v);
    // The remaining length grows by a byte when crossing 127 / 16383; adjust.
    let mut n = size - base;
    loop {
        p.payload = Bytes::from(vec![b'x'; n]);
        let len = roost_protocol::encoded_len(&Packet::Publish(p.clone()), v);
        if len == size {
            return p;
        }
        assert!(len > size, "cannot size a PUBLISH to {size}");
        n -= len - size;
    }
}

// Spec 3.2.2.3.6 / [MQTT-3.2.2-15]: the server announces mqtt.max_packet_size; a
// packet of exactly that size is accepted, a larger one gets DISCONNECT 0x95 (5.0)
// and the connection closes (both versions).
async fn inbound_packet_too_large(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_PACKET_SIZE", "1024")]);
    let (mut c, ack) =
        RawClient::connect_ok(b.addr(), connect_packet(v, &format!("mps-in-{}", vname(v)))).await;
    if v.is_v5() {
        assert_eq!(ack.properties.maximum_packet_size, Some(1024), "{ack:?}");
    }
    let ok = publish_of_size(v, "fc/mps/in", 1024, 1);
    // Nobody subscribes, so 5.0 answers 0x10 No Matching Subscribers (a success).
    let expected = if v.is_v5() {
        ReasonCode::NoMatchingSubscribers
    } else {
        ReasonCode::Success
    };
    assert_eq!(
        c.publish_with(ok).await,
        expected,
        "a 1024-byte packet is within the limit"
    );
    let big = publish_of_size(v, "fc/mps/in", 1025, 2);
    c.send(&Packet::Publish(big)).await;
    c.expect_disconnect(ReasonCode::PacketTooLarge).await;
}
versioned_test!(inbound_packet_too_large);

// [MQTT-3.1.2-24] [MQTT-3.1.2-25] A client announcing Maximum Packet Size 200
// never receives a larger packet: a big message is discarded for it (as if
// delivered, so it takes no inflight slot: Receive Maximum 1 here) and the small
// ones around it arrive.
#[tokio::test]
async fn outbound_respects_client_maximum_packet_size() {
    let b = Broker::start();
    let mut c = connect_packet(V5, "mps-out-sub");
    c.properties.maximum_packet_size = Some(200);
    c.properties.receive_maximum = Some(1);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/mps/out", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "mps-out-pub").await;
    for payload in [&b"small-1"[..], &[b'B'; 500][..], &b"small-2"[..]] {
        assert!(!p
            .publish("fc/mps/out", payload, QoS::AtLeastOnce, false)
            .await
            .is_error());
    }
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = sub.expect_publish().await;
        let len = sub.last_frame().len();
        assert!(
            len <= 200,
            "received a {len}-byte packet, above Maximum Packet Size 200"
        );
        sub.ack(&m).await;
        got.push(payload_str(&m));
    }
    assert_eq!(got, vec!["small-1", "small-2"]);
    sub.recv_none_for(QUIET).await;
}

// mqtt.max_mqueue_len bounds an offline persistent session's queue; when full
// the oldest message is dropped (EMQX's default policy): of m0..m9 queued with a
// bound of 3, m7, m8 and m9 arrive on reconnect.
#[tokio::test]
async fn offline_queue_drops_oldest() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_MQUEUE_LEN", "3")]);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), persistent_connect(V5, "mq-off", 300)).await;
    sub.subscribe("fc/mq/off", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut p = RawClient::connected(b.addr(), V5, "mq-off-pub").await;
    publish_seq(&mut p, "fc/mq/off", 10).await;
    let (mut sub, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(V5, "mq-off", 300)).await;
    assert!(ack.session_present, "{ack:?}");
    let got: Vec<_> = sub.recv_messages(3).await.iter().map(payload_str).collect();
    assert_eq!(got, vec!["m7", "m8", "m9"]);
    sub.recv_none_for(QUIET).await;
}

// The same bound for a connected but slow subscriber, with backpressure off
// (EMQX's behaviour): with one message in flight (Receive Maximum 1, never
// acked) the queue keeps only the newest 3, and the publisher is never held.
#[tokio::test]
async fn slow_subscriber_queue_drops_oldest() {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__MAX_MQUEUE_LEN", "3"),
        ("ROOST__MQTT__BACKPRESSURE", "false"),
    ]);
    let mut c = connect_packet(V5, "mq-slow");
    c.properties.receive_maximum = Some(1);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/mq/slow", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "mq-slow-pub").await;
    publish_seq(&mut p, "fc/mq/slow", 10).await;
    let first = sub.expect_publish().await;
    assert_eq!(payload_str(&first), "m0");
    // Every delivery is in the session's inbox once its PUBACK came, but the
    // session may not have taken them all in yet, and an ack is handled before
    // deliveries: ack only once the six drops (10 - 1 in flight - 3 queued)
    // were counted, so the queue's drop policy is what is tested.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = common::http::get(b.http_addr(), "/api/v5/metrics?aggregate=true")
            .await
            .json();
        let dropped = stats["delivery.dropped.queue_full"].as_u64().unwrap();
        if dropped >= 6 {
            assert_eq!(dropped, 6, "{stats}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "drops not counted: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sub.ack(&first).await;
    let got: Vec<_> = sub.recv_messages(3).await.iter().map(payload_str).collect();
    assert_eq!(got, vec!["m7", "m8", "m9"]);
    sub.recv_none_for(QUIET).await;
}

// [MQTT-3.3.4-9] / spec 4.9: a QoS 2 PUBLISH uses its send-quota slot until the
// PUBCOMP, not just the PUBREC: with Receive Maximum 1 the second message waits
// for the first one's PUBCOMP.
#[tokio::test]
async fn qos2_slot_is_freed_by_pubcomp() {
    let b = Broker::start();
    let mut c = connect_packet(V5, "rm2-sub");
    c.properties.receive_maximum = Some(1);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/rm2/t", QoS::ExactlyOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "rm2-pub").await;
    for i in 0..2 {
        let rc = p
            .publish(
                "fc/rm2/t",
                format!("m{i}").as_bytes(),
                QoS::ExactlyOnce,
                false,
            )
            .await;
        assert!(!rc.is_error(), "{rc:?}");
    }
    let first = sub.expect_publish().await;
    assert_eq!(payload_str(&first), "m0");
    sub.send(&Packet::PubRec(PubRec::new(first.packet_id)))
        .await;
    match sub.recv().await {
        Packet::PubRel(r) => assert_eq!(r.packet_id, first.packet_id),
        p => panic!("expected PUBREL (the second PUBLISH must wait for PUBCOMP), got {p:?}"),
    }
    sub.recv_none_for(QUIET).await;
    sub.send(&Packet::PubComp(PubComp::new(first.packet_id)))
        .await;
    let second = sub.recv_message().await;
    assert_eq!(payload_str(&second), "m1");
}

// [MQTT-3.3.4-9]: a PUBREC with an error code also gives the slot back (spec
// 4.9: the quota is incremented on PUBREC with a Reason Code >= 0x80).
#[tokio::test]
async fn error_pubrec_frees_the_slot() {
    let b = Broker::start();
    let mut c = connect_packet(V5, "rmx-sub");
    c.properties.receive_maximum = Some(1);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/rmx/t", QoS::ExactlyOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "rmx-pub").await;
    for i in 0..2 {
        let rc = p
            .publish(
                "fc/rmx/t",
                format!("m{i}").as_bytes(),
                QoS::ExactlyOnce,
                false,
            )
            .await;
        assert!(!rc.is_error(), "{rc:?}");
    }
    let first = sub.expect_publish().await;
    sub.send(&Packet::PubRec(PubRec {
        packet_id: first.packet_id,
        reason_code: ReasonCode::UnspecifiedError,
        properties: Properties::default(),
    }))
    .await;
    // [MQTT-4.3.3-4]: PUBREL answers only a PUBREC below 0x80; an error PUBREC
    // ends the exchange and frees the slot.
    let second = match sub.recv().await {
        Packet::Publish(m) => m,
        other => panic!(
            "after PUBREC 0x80 expected the next PUBLISH (no PUBREL [MQTT-4.3.3-4]), got {other:?}"
        ),
    };
    assert_eq!(payload_str(&second), "m1");
}

// Spec 4.9: the server's quota of unreleased inbound QoS 2 messages comes back
// when the client completes them: after PUBREL/PUBCOMP of two, two more fit.
#[tokio::test]
async fn inbound_quota_restored_by_pubrel() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_INFLIGHT", "2")]);
    let (mut c, _) = RawClient::connect_ok(b.addr(), connect_packet(V5, "rm-back")).await;
    for round in 0..3u16 {
        for pid in [round * 2 + 1, round * 2 + 2] {
            let mut m = publish_packet("fc/rmback/t", b"x", QoS::ExactlyOnce, false);
            m.packet_id = pid;
            c.send(&Packet::Publish(m)).await;
            match c
                .recv_matching(
                    "PUBREC",
                    |p| matches!(p, Packet::PubRec(r) if r.packet_id == pid),
                )
                .await
            {
                Packet::PubRec(r) => assert!(!r.reason_code.is_error(), "round {round}: {r:?}"),
                _ => unreachable!(),
            }
        }
        for pid in [round * 2 + 1, round * 2 + 2] {
            c.send(&Packet::PubRel(PubRel::new(pid))).await;
            c.recv_matching(
                "PUBCOMP",
                |p| matches!(p, Packet::PubComp(r) if r.packet_id == pid),
            )
            .await;
        }
    }
    c.ping().await;
}

// [MQTT-3.3.4-9] after a reconnect: the unacknowledged message is resent (DUP)
// and counts against the new connection's Receive Maximum, so the next one waits
// for its PUBACK.
#[tokio::test]
async fn receive_maximum_holds_across_reconnect() {
    let b = Broker::start();
    let conn = || {
        let mut c = persistent_connect(V5, "rm-resume", 300);
        c.properties.receive_maximum = Some(1);
        c
    };
    let (mut sub, _) = RawClient::connect_ok(b.addr(), conn()).await;
    sub.subscribe("fc/resume/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "rm-resume-pub").await;
    publish_seq(&mut p, "fc/resume/t", 3).await;
    let first = sub.expect_publish().await;
    assert_eq!(payload_str(&first), "m0");
    sub.drop_connection().await;

    let (mut sub, ack) = RawClient::connect_ok(b.addr(), conn()).await;
    assert!(ack.session_present);
    let again = sub.expect_publish().await;
    assert_eq!(
        (payload_str(&again), again.dup),
        ("m0".to_string(), true),
        "{again:?}"
    );
    sub.recv_none_for(QUIET).await;
    sub.ack(&again).await;
    let rest: Vec<_> = sub.recv_messages(2).await.iter().map(payload_str).collect();
    assert_eq!(rest, vec!["m1", "m2"]);
}

// [MQTT-3.1.2-24] also for retained messages sent at subscribe time: one too
// big for the client is skipped, a small one is delivered.
#[tokio::test]
async fn retained_message_over_client_maximum_packet_size() {
    let b = Broker::start();
    let mut p = RawClient::connected(b.addr(), V5, "mps-ret-pub").await;
    assert!(!p
        .publish("fc/mpsret/big", &[b'B'; 400], QoS::AtLeastOnce, true)
        .await
        .is_error());
    assert!(!p
        .publish("fc/mpsret/small", b"s", QoS::AtLeastOnce, true)
        .await
        .is_error());
    let mut c = connect_packet(V5, "mps-ret-sub");
    c.properties.maximum_packet_size = Some(200);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/mpsret/+", QoS::AtLeastOnce).await;
    let m = sub.recv_message().await;
    assert_eq!(m.topic, "fc/mpsret/small");
    assert!(sub.last_frame().len() <= 200);
    sub.recv_none_for(QUIET).await;
}

// [MQTT-3.3.4-10] / spec 4.9: with the send quota used up the server still sends
// other packets (PINGRESP, SUBACK) and, as EMQX does, QoS 0 messages, which do
// not take a quota slot.
#[tokio::test]
async fn other_packets_flow_while_quota_is_exhausted() {
    let b = Broker::start();
    let mut c = connect_packet(V5, "quota-sub");
    c.properties.receive_maximum = Some(1);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/quota/q1", QoS::AtLeastOnce).await;
    sub.subscribe("fc/quota/q0", QoS::AtMostOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "quota-pub").await;
    publish_seq(&mut p, "fc/quota/q1", 2).await;
    let held = sub.expect_publish().await; // quota now 0
    assert_eq!(payload_str(&held), "m0");
    sub.ping().await;
    let ack = sub.subscribe("fc/quota/other", QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1]);
    assert!(!p
        .publish("fc/quota/q0", b"zero", QoS::AtMostOnce, false)
        .await
        .is_error());
    let m = match sub.try_recv_for(RECV_TIMEOUT).await {
        Recv::Packet(Packet::Publish(m)) => m,
        other => panic!(
            "QoS 0 message held back while the QoS 1 send quota is 0 (spec 4.9 allows \
             either; EMQX sends QoS 0 at once): got {other:?}"
        ),
    };
    assert_eq!(
        (m.qos, &m.payload[..]),
        (QoS::AtMostOnce, &b"zero"[..]),
        "{}",
        brief(&m)
    );
    sub.ack(&held).await;
    assert_eq!(payload_str(&sub.recv_message().await), "m1");
}

// The server's Maximum Packet Size applies to every packet, not only PUBLISH: a
// SUBSCRIBE over the limit also gets 0x95.
async fn inbound_subscribe_too_large(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_PACKET_SIZE", "1024")]);
    let mut c = RawClient::connected(b.addr(), v, &format!("mps-sub-{}", vname(v))).await;
    let filters = (0..40)
        .map(|i| {
            (
                format!("fc/mps/a-long-filter-name/{i:04}"),
                sub_opts(QoS::AtLeastOnce),
            )
        })
        .collect();
    let sub = Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters,
        ..Default::default()
    });
    assert!(roost_protocol::encoded_len(&sub, v) > 1024);
    c.send(&sub).await;
    c.expect_disconnect(ReasonCode::PacketTooLarge).await;
}
versioned_test!(inbound_subscribe_too_large);

// 3.1.1 has no Receive Maximum: mqtt.max_awaiting_rel bounds the unreleased
// inbound QoS 2 messages, and exceeding it closes the connection (EMQX
// disconnects with 0x93, which 3.1.1 cannot carry).
#[tokio::test]
async fn v311_max_awaiting_rel_closes() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_AWAITING_REL", "2")]);
    let mut c = RawClient::connected(b.addr(), ProtocolVersion::V3_1_1, "awrel-v3").await;
    for pid in 1..=2u16 {
        let mut m = publish_packet("fc/awrel/t", b"x", QoS::ExactlyOnce, false);
        m.packet_id = pid;
        c.send(&Packet::Publish(m)).await;
        c.recv_matching(
            "PUBREC",
            |p| matches!(p, Packet::PubRec(r) if r.packet_id == pid),
        )
        .await;
    }
    let mut m = publish_packet("fc/awrel/t", b"x", QoS::ExactlyOnce, false);
    m.packet_id = 3;
    c.send(&Packet::Publish(m)).await;
    c.expect_disconnect(ReasonCode::ReceiveMaximumExceeded)
        .await;
}

// EMQX's default max_inflight of 32 is the window of a client that announced no
// Receive Maximum (65,535): 40 unacknowledged QoS 1 messages, 32 arrive.
#[tokio::test]
async fn default_window_is_32() {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), V5, "win-sub").await;
    sub.subscribe("fc/win/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "win-pub").await;
    publish_seq(&mut p, "fc/win/t", 40).await;
    let held = unacked(&mut sub, 32).await;
    sub.recv_none_for(QUIET).await;
    sub.ack(&held[0]).await;
    assert_eq!(payload_str(&sub.expect_publish().await), "m32");
}

// [MQTT-3.1.2-24] forbids only packets *larger* than the client's Maximum Packet
// Size: a PUBLISH of exactly that size is sent, one byte more is not.
#[tokio::test]
async fn outbound_packet_exactly_at_client_maximum_is_sent() {
    let b = Broker::start();
    // What the broker will send: QoS 1, a packet id, no properties.
    let exact = publish_of_size(V5, "fc/exact/t", 150, 1);
    let mut c = connect_packet(V5, "exact-sub");
    c.properties.maximum_packet_size = Some(150);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("fc/exact/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), V5, "exact-pub").await;
    let over = [&exact.payload[..], b"+"].concat();
    assert!(!p
        .publish("fc/exact/t", &over, QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert!(!p
        .publish("fc/exact/t", &exact.payload, QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = sub.recv_message().await;
    assert_eq!(m.payload.len(), exact.payload.len(), "{}", brief(&m));
    assert_eq!(sub.last_frame().len(), 150);
    sub.recv_none_for(QUIET).await;
}
