//! CONNECT / CONNACK, keep alive and client takeover (MQTT 3.1.1 §3.1-3.2, 3.12;
//! MQTT 5.0 §3.1-3.2, 3.12, 4.13).

#[macro_use]
mod common;
use common::*;
use std::time::Instant;

// [MQTT-3.2.0-1] the server answers CONNECT with CONNACK; a new clean session
// has Session Present 0 [MQTT-3.2.2-2].
async fn connack_success(v: ProtocolVersion) {
    let b = Broker::start();
    let (mut c, ack) = RawClient::connect(b.addr(), connect_packet(v, "c1")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
    assert!(
        !ack.session_present,
        "clean start must give session present 0"
    );
    assert_eq!(connack_code_byte(&c.last_frame()), 0);
    // The connection works: PINGREQ gets PINGRESP.
    c.ping().await;
}
versioned_test!(connack_success);

// 5.0 §3.2.2.3: the server announces its limits. EMQX 5 defaults: Receive Maximum =
// max_inflight 32, Topic Alias Maximum 65535, Maximum Packet Size 1 MB; retain,
// wildcard, shared subscriptions and subscription identifiers available (absent
// means available, so absent or 1 are both accepted).
#[tokio::test]
async fn v5_connack_properties_defaults() {
    let b = Broker::start();
    let (_c, ack) = RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V5, "c1")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    let p = &ack.properties;
    assert_eq!(p.receive_maximum, Some(32), "Receive Maximum: {p:?}");
    assert_eq!(
        p.topic_alias_maximum,
        Some(65535),
        "Topic Alias Maximum: {p:?}"
    );
    assert_eq!(
        p.maximum_packet_size,
        Some(1_048_576),
        "Maximum Packet Size: {p:?}"
    );
    for (name, val) in [
        ("Retain Available", p.retain_available),
        (
            "Wildcard Subscription Available",
            p.wildcard_subscription_available,
        ),
        (
            "Shared Subscription Available",
            p.shared_subscription_available,
        ),
        (
            "Subscription Identifier Available",
            p.subscription_identifier_available,
        ),
    ] {
        assert!(
            matches!(val, None | Some(1)),
            "{name} must be absent or 1: {p:?}"
        );
    }
    assert!(
        matches!(p.maximum_qos, None | Some(2)),
        "Maximum QoS 2 is the default (absent or 2): {p:?}"
    );
    assert_eq!(
        p.assigned_client_identifier, None,
        "client id was given: {p:?}"
    );
}

// The announced Receive Maximum follows mqtt.max_inflight.
#[tokio::test]
async fn v5_connack_receive_maximum_follows_max_inflight() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_INFLIGHT", "4")]);
    let (_c, ack) = RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V5, "c1")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert_eq!(ack.properties.receive_maximum, Some(4), "{ack:?}");
}

// 3.1.1 [MQTT-3.1.3-6, MQTT-3.1.3-7]: a zero-byte client id with clean session 1 is
// accepted (the server assigns a unique id).
#[tokio::test]
async fn v311_empty_client_id_with_clean_session_accepted() {
    let b = Broker::start();
    let (mut c, ack) =
        RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V3_1_1, "")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
    assert!(!ack.session_present);
    // and it is a working connection: it can subscribe and receive.
    c.subscribe("e/t", QoS::AtMostOnce).await;
    c.publish("e/t", b"x", QoS::AtMostOnce, false).await;
    assert_eq!(c.expect_publish().await.payload, Bytes::from_static(b"x"));
}

// 3.1.1 [MQTT-3.1.3-8]: a zero-byte client id with clean session 0 gets CONNACK
// return code 0x02 (identifier rejected) and the connection is closed.
#[tokio::test]
async fn v311_empty_client_id_with_persistent_session_rejected() {
    let b = Broker::start();
    let mut conn = connect_packet(ProtocolVersion::V3_1_1, "");
    conn.clean_start = false;
    let mut c = RawClient::open(b.addr(), ProtocolVersion::V3_1_1).await;
    c.send(&Packet::Connect(conn)).await;
    let frame = c.recv_raw().await.expect("a CONNACK before closing");
    assert_eq!(frame[0], 0x20, "expected CONNACK, got {frame:02x?}");
    assert_eq!(
        connack_code_byte(&frame),
        0x02,
        "identifier rejected: {frame:02x?}"
    );
    // [MQTT-3.2.2-4]: a non-zero return code has Session Present 0.
    assert_eq!(frame[2], 0x00, "session present must be 0: {frame:02x?}");
    c.expect_closed().await;
}

// 5.0 [MQTT-3.1.3-6, MQTT-3.2.2-16]: a zero-byte client id is given one, reported in
// the Assigned Client Identifier property.
#[tokio::test]
async fn v5_empty_client_id_gets_assigned_identifier() {
    let b = Broker::start();
    let (mut c, ack) = RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V5, "")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
    let id = ack
        .properties
        .assigned_client_identifier
        .clone()
        .expect("Assigned Client Identifier property");
    assert!(!id.is_empty(), "assigned id must not be empty");
    // Two anonymous clients get different ids.
    let (_c2, ack2) = RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V5, "")).await;
    let id2 = ack2
        .properties
        .assigned_client_identifier
        .clone()
        .expect("assigned id");
    assert_ne!(id, id2, "assigned ids must be unique");
    c.ping().await;
}

// [MQTT-3.1.2-2] (3.1.1) / 5.0 §3.1.2.2: an unsupported protocol level gets CONNACK
// 0x01 "unacceptable protocol version" (5.0 form: 0x84) and the connection closes.
// Which CONNACK layout to use for an unknown level is not specified; EMQX 5 answers
// in the 3.1.1 layout with return code 1, and the 5.0 layout with 0x84 is accepted too.
async fn unsupported_level(level: u8) {
    let b = Broker::start();
    let mut c = RawClient::open(b.addr(), ProtocolVersion::V3_1_1).await;
    c.send_bytes(&raw_connect_bytes("MQTT", level, "lvl")).await;
    let frame = c
        .recv_raw()
        .await
        .unwrap_or_else(|| panic!("level {level}: closed without CONNACK"));
    let ok_v3 = frame[..] == [0x20, 0x02, 0x00, 0x01];
    let ok_v5 = frame.len() >= 4 && frame[0] == 0x20 && connack_code_byte(&frame) == 0x84;
    assert!(
        ok_v3 || ok_v5,
        "level {level}: expected CONNACK 0x01 (or 5.0 0x84), got {frame:02x?}"
    );
    c.expect_closed().await;
}

#[tokio::test]
async fn unsupported_protocol_level_6_rejected() {
    unsupported_level(6).await;
}

#[tokio::test]
async fn unsupported_protocol_level_2_rejected() {
    unsupported_level(2).await;
}

// [MQTT-3.1.0-1]: the first packet must be CONNECT; otherwise the server closes the
// connection (no CONNACK, and no DISCONNECT before a CONNACK [MQTT-3.14.0-1]).
#[tokio::test]
async fn first_packet_not_connect_closes() {
    let b = Broker::start();
    for first in [
        Packet::PingReq,
        Packet::Publish(publish_packet("a/b", b"x", QoS::AtMostOnce, false)),
    ] {
        let mut c = RawClient::open(b.addr(), ProtocolVersion::V3_1_1).await;
        c.send(&first).await;
        let d = c.expect_closed().await;
        assert!(d.is_none(), "no DISCONNECT before CONNECT: {d:?}");
    }
}

// [MQTT-3.1.0-2]: a second CONNECT is a protocol violation: the connection is closed
// (5.0: DISCONNECT 0x82 Protocol Error first).
async fn second_connect_closes(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "c1").await;
    c.send(&Packet::Connect(connect_packet(v, "c1"))).await;
    c.expect_disconnect(ReasonCode::ProtocolError).await;
}
versioned_test!(second_connect_closes);

// [MQTT-3.1.2-24] (5.0 [MQTT-3.1.2-22]): no packet within 1.5 x keep alive closes the
// connection (5.0: DISCONNECT 0x8D Keep Alive Timeout). EMQX uses keepalive x 1.5.
async fn keepalive_timeout_disconnects(v: ProtocolVersion) {
    let b = Broker::start();
    let mut conn = connect_packet(v, "ka");
    conn.keep_alive = 1;
    let (mut c, _) = RawClient::connect_ok(b.addr(), conn).await;
    let t0 = Instant::now();
    c.timeout = Duration::from_secs(6);
    c.expect_disconnect(ReasonCode::KeepAliveTimeout).await;
    let el = t0.elapsed();
    assert!(
        el >= Duration::from_millis(1000),
        "closed too early ({el:?}): the allowance is 1.5 x keep alive"
    );
    assert!(
        el <= Duration::from_millis(4000),
        "closed too late ({el:?})"
    );
}
versioned_test!(keepalive_timeout_disconnects);

// [MQTT-3.12.4-1]: PINGREQ gets PINGRESP, and a client that keeps pinging within its
// keep alive stays connected.
async fn pingreq_keeps_connection_alive(v: ProtocolVersion) {
    let b = Broker::start();
    let mut conn = connect_packet(v, "ka");
    conn.keep_alive = 1;
    let (mut c, _) = RawClient::connect_ok(b.addr(), conn).await;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(3500) {
        c.send(&Packet::PingReq).await;
        match c.try_recv_for(Duration::from_millis(500)).await {
            Recv::Packet(Packet::PingResp) => {}
            other => panic!("expected PINGRESP after {:?}, got {other:?}", t0.elapsed()),
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Still connected after 3.5 x keep alive.
    c.ping().await;
}
versioned_test!(pingreq_keeps_connection_alive);

// 5.0 §3.2.2.3.14 [MQTT-3.2.2-21, MQTT-3.2.2-22]: with mqtt.server_keepalive the
// CONNACK carries Server Keep Alive and the server uses it instead of the client's.
#[tokio::test]
async fn v5_server_keepalive_overrides_client_value() {
    let b = Broker::start_with(&[("ROOST__MQTT__SERVER_KEEPALIVE", "2")]);
    let mut conn = connect_packet(ProtocolVersion::V5, "ska");
    conn.keep_alive = 60;
    let (mut c, ack) = RawClient::connect_ok(b.addr(), conn).await;
    assert_eq!(ack.properties.server_keep_alive, Some(2), "{ack:?}");
    // The server enforces 2 s (x1.5 = 3 s), not the client's 60 s.
    let t0 = Instant::now();
    c.timeout = Duration::from_secs(8);
    c.expect_disconnect(ReasonCode::KeepAliveTimeout).await;
    let el = t0.elapsed();
    assert!(
        el >= Duration::from_millis(2000),
        "closed too early: {el:?}"
    );
    assert!(el <= Duration::from_millis(6000), "closed too late: {el:?}");
}

// `mqtt.server_keepalive` is a maximum by default [MQTT-3.1.2-21]: a 5.0
// client asking for less keeps its own value (no Server Keep Alive in CONNACK)
// and is held to it; one asking for 0 gets the server's value.
#[tokio::test]
async fn v5_server_keepalive_is_a_maximum() {
    let b = Broker::start_with(&[("ROOST__MQTT__SERVER_KEEPALIVE", "60")]);
    let mut conn = connect_packet(ProtocolVersion::V5, "ska-less");
    conn.keep_alive = 1;
    let (mut c, ack) = RawClient::connect_ok(b.addr(), conn).await;
    assert_eq!(ack.properties.server_keep_alive, None, "{ack:?}");
    let t0 = Instant::now();
    c.timeout = Duration::from_secs(5);
    c.expect_disconnect(ReasonCode::KeepAliveTimeout).await;
    let el = t0.elapsed();
    assert!(
        el >= Duration::from_millis(1000),
        "closed too early: {el:?}"
    );
    assert!(el <= Duration::from_millis(3000), "closed too late: {el:?}");

    let mut conn = connect_packet(ProtocolVersion::V5, "ska-zero");
    conn.keep_alive = 0;
    let (_c, ack) = RawClient::connect_ok(b.addr(), conn).await;
    assert_eq!(ack.properties.server_keep_alive, Some(60), "{ack:?}");
}

// `server_keepalive_mode: override` (EMQX 5): a 5.0 client asking for less
// gets the server's value too.
#[tokio::test]
async fn v5_server_keepalive_override_mode() {
    let b = Broker::start_with(&[
        ("ROOST__MQTT__SERVER_KEEPALIVE", "2"),
        ("ROOST__MQTT__SERVER_KEEPALIVE_MODE", "override"),
    ]);
    let mut conn = connect_packet(ProtocolVersion::V5, "ska-over");
    conn.keep_alive = 1;
    let (_c, ack) = RawClient::connect_ok(b.addr(), conn).await;
    assert_eq!(ack.properties.server_keep_alive, Some(2), "{ack:?}");
}

// Without mqtt.server_keepalive, 5.0 CONNACK has no Server Keep Alive.
#[tokio::test]
async fn v5_no_server_keepalive_by_default() {
    let b = Broker::start();
    let (_c, ack) = RawClient::connect_ok(b.addr(), connect_packet(ProtocolVersion::V5, "c")).await;
    assert_eq!(ack.properties.server_keep_alive, None, "{ack:?}");
}

// [MQTT-3.1.4-3] (5.0 [MQTT-3.1.4-3]): a second connection with the same client id
// takes over: the old one is closed (5.0: DISCONNECT 0x8E Session Taken Over), the new
// one works.
async fn duplicate_client_id_takes_over(v: ProtocolVersion) {
    let b = Broker::start();
    let mut old = RawClient::connected(b.addr(), v, "dup").await;
    let (mut new, ack) = RawClient::connect(b.addr(), connect_packet(v, "dup")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
    old.expect_disconnect(ReasonCode::SessionTakenOver).await;
    new.ping().await;
    // The new connection owns the client id: it receives what it subscribes to.
    new.subscribe("dup/t", QoS::AtLeastOnce).await;
    new.publish("dup/t", b"hi", QoS::AtLeastOnce, false).await;
    let m = new.recv_message().await;
    assert_eq!(m.topic, "dup/t");
}
versioned_test!(duplicate_client_id_takes_over);

// [MQTT-3.2.2-2, MQTT-3.2.2-3] (5.0 [MQTT-3.2.2-2, MQTT-3.2.2-3]): Session Present is
// 0 for clean start, 1 when a stored session is resumed.
async fn session_present_flag(v: ProtocolVersion) {
    let b = Broker::start();
    let (c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "sp", 300)).await;
    assert!(!ack.session_present, "no session existed yet: {ack:?}");
    c.disconnect().await;
    let (c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "sp", 300)).await;
    assert!(ack.session_present, "the session must be resumed: {ack:?}");
    c.disconnect().await;
    // Clean start discards it: session present 0 [MQTT-3.2.2-1].
    let (c, ack) = RawClient::connect_ok(b.addr(), connect_packet(v, "sp")).await;
    assert!(!ack.session_present, "clean start: {ack:?}");
    c.disconnect().await;
}
versioned_test!(session_present_flag);

// A real client library connects (3.1.1).
#[tokio::test]
async fn rumqttc_v311_connects() {
    let b = Broker::start();
    let c = V4Client::connect(b.addr(), "rumq4").await;
    assert_eq!(c.connack.code, rumqttc::ConnectReturnCode::Success);
    assert!(!c.connack.session_present);
    c.disconnect().await;
}

// A real client library connects (5.0) and sees the server's Receive Maximum.
#[tokio::test]
async fn rumqttc_v5_connects() {
    let b = Broker::start();
    let c = V5Client::connect(b.addr(), "rumq5").await;
    assert_eq!(
        c.connack.code,
        rumqttc::v5::mqttbytes::v5::ConnectReturnCode::Success
    );
    let props = c.connack.properties.clone().expect("CONNACK properties");
    assert_eq!(props.receive_max, Some(32), "{props:?}");
    c.disconnect().await;
}

// MQTT 3.1 (protocol name "MQIsdp", level 3) is supported, as by EMQX.
#[tokio::test]
async fn v31_mqisdp_connects_and_works() {
    let b = Broker::start();
    let (mut c, ack) =
        RawClient::connect(b.addr(), connect_packet(ProtocolVersion::V3_1, "old")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
    assert_eq!(c.last_frame()[..], [0x20, 0x02, 0x00, 0x00]);
    c.subscribe("v31", QoS::AtLeastOnce).await;
    c.publish("v31", b"mqisdp", QoS::AtLeastOnce, false).await;
    assert_eq!(&c.recv_message().await.payload[..], b"mqisdp");
}

// mqtt.max_clientid_len (23 here): a longer client id is rejected with 5.0 0x85 Client
// Identifier not valid / 3.1.1 0x02 identifier rejected [MQTT-3.1.3-9 (3.1.1)], and
// the connection closed [MQTT-3.2.2-5 (3.1.1)].
async fn client_id_too_long_rejected(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_CLIENTID_LEN", "23")]);
    let mut c = RawClient::open(b.addr(), v).await;
    c.send(&Packet::Connect(connect_packet(v, &"x".repeat(24))))
        .await;
    let frame = c.recv_raw().await.expect("CONNACK");
    let expect = if v.is_v5() { 0x85 } else { 0x02 };
    assert_eq!(connack_code_byte(&frame), expect, "{frame:02x?}");
    c.expect_closed().await;
    // 23 characters are fine (the minimum every server must accept [MQTT-3.1.3-5])
    RawClient::connected(b.addr(), v, &"y".repeat(23)).await;
}
versioned_test!(client_id_too_long_rejected);

// mqtt.idle_timeout: a TCP connection that sends no CONNECT is closed after it
// (EMQX idle_timeout).
#[tokio::test]
async fn idle_connection_without_connect_closed() {
    let b = Broker::start_with(&[("ROOST__MQTT__IDLE_TIMEOUT", "1s")]);
    let mut c = RawClient::open(b.addr(), ProtocolVersion::V3_1_1).await;
    let t0 = Instant::now();
    c.timeout = Duration::from_secs(5);
    let d = c.expect_closed().await;
    assert!(d.is_none(), "{d:?}");
    let el = t0.elapsed();
    assert!(
        el >= Duration::from_millis(800) && el <= Duration::from_millis(3500),
        "closed after {el:?}, idle_timeout is 1 s"
    );
}

// [MQTT-3.1.2-23] (3.1.1) / 5.0 §3.1.2.10: any control packet resets the keep alive
// timer, not only PINGREQ: a client with keep alive 1 s that publishes every 400 ms
// stays connected.
async fn any_packet_resets_keepalive(v: ProtocolVersion) {
    let b = Broker::start();
    let mut conn = connect_packet(v, "busy");
    conn.keep_alive = 1;
    let (mut c, _) = RawClient::connect_ok(b.addr(), conn).await;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(3200) {
        c.publish("busy/t", b"x", QoS::AtMostOnce, false).await;
        match c.try_recv_for(Duration::from_millis(400)).await {
            Recv::Timeout => {}
            other => panic!("after {:?}: {other:?}", t0.elapsed()),
        }
    }
    c.ping().await;
}
versioned_test!(any_packet_resets_keepalive);

// [MQTT-3.2.0-1] / 5.0 §3.1.4: CONNACK is the first packet the server sends, and
// packets a client pipelines right after CONNECT (same TCP write) are processed in
// order after it (5.0 lets clients send before CONNACK; EMQX processes them in order).
async fn packets_pipelined_after_connect(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::open(b.addr(), v).await;
    let mut bytes = bytes::BytesMut::new();
    let sub = Subscribe {
        packet_id: 1,
        filters: vec![("pipe".to_string(), sub_opts(QoS::AtLeastOnce))],
        ..Default::default()
    };
    let mut publ = publish_packet("pipe", b"early", QoS::AtLeastOnce, false);
    publ.packet_id = 2;
    for p in [
        Packet::Connect(connect_packet(v, "pipe")),
        Packet::Subscribe(sub),
        Packet::Publish(publ),
    ] {
        roost_protocol::encode(&p, v, &mut bytes).unwrap();
    }
    c.send_bytes(&bytes).await;
    match c.recv().await {
        Packet::ConnAck(a) => assert_eq!(a.reason_code, ReasonCode::Success),
        p => panic!("CONNACK must come first, got {}", show(&p)),
    }
    // SUBACK, PUBACK and the PUBLISH may come in any order (the server may send
    // matching PUBLISHes before the SUBACK, §3.8.4), but the PUBLISH must be
    // delivered: the SUBSCRIBE took effect before the PUBLISH that followed it.
    let (mut suback, mut puback, mut msg) = (false, false, false);
    for _ in 0..3 {
        let p = match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(p) => p,
            other => {
                panic!("got SUBACK: {suback}, PUBACK: {puback}, PUBLISH: {msg}; then {other:?}")
            }
        };
        match p {
            Packet::SubAck(a) => {
                assert_eq!(a.packet_id, 1);
                suback = true;
            }
            Packet::PubAck(a) => {
                assert_eq!(a.packet_id, 2);
                puback = true;
            }
            Packet::Publish(m) => {
                assert_eq!(&m.payload[..], b"early");
                c.ack(&m).await;
                msg = true;
            }
            p => panic!("unexpected {}", show(&p)),
        }
    }
    assert!(suback && puback && msg);
}
versioned_test!(packets_pipelined_after_connect);
