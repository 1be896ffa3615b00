//! Will messages (MQTT 3.1.1 §3.1.2.5-3.1.2.7; MQTT 5.0 §3.1.2.5-3.1.2.7, 3.1.3.2).

#[macro_use]
mod common;
use common::*;
use std::time::Instant;

/// A connected client with `w` as its will and keep alive `ka` seconds.
async fn with_will(b: &Broker, v: ProtocolVersion, id: &str, w: Will, ka: u16) -> RawClient {
    let mut c = connect_packet(v, id);
    c.will = Some(w);
    c.keep_alive = ka;
    RawClient::connect_ok(b.addr(), c).await.0
}

/// A subscriber to `filter` at QoS 2.
async fn watcher(b: &Broker, v: ProtocolVersion, filter: &str) -> RawClient {
    let mut s = RawClient::connected(b.addr(), v, "watcher").await;
    s.subscribe(filter, QoS::ExactlyOnce).await;
    s
}

// [MQTT-3.1.2-8]: the will is published when the network connection closes without
// DISCONNECT; at the will's QoS [MQTT-3.1.2-14..16] (min with the subscription's).
async fn will_published_on_abnormal_close(v: ProtocolVersion) {
    let b = Broker::start();
    let mut w = watcher(&b, v, "will/#").await;
    for q in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let id = format!("dying{}", q as u8);
        let topic = format!("will/{id}");
        let c = with_will(&b, v, &id, will(&topic, b"gone", q, false), 60).await;
        c.drop_connection().await;
        let m = w.recv_message().await;
        assert_eq!(m.topic, topic);
        assert_eq!(&m.payload[..], b"gone");
        assert_eq!(m.qos, q, "will QoS");
        assert!(!m.retain);
    }
}
versioned_test!(will_published_on_abnormal_close);

// The will is published when the server closes the connection for a keep alive
// timeout [MQTT-3.1.2-8] (3.1.1 §3.1.2.5 lists "fails to communicate within the
// Keep Alive time").
async fn will_published_on_keepalive_timeout(v: ProtocolVersion) {
    let b = Broker::start();
    let mut w = watcher(&b, v, "will/ka").await;
    let t0 = Instant::now();
    let _c = with_will(
        &b,
        v,
        "silent",
        will("will/ka", b"ka", QoS::AtLeastOnce, false),
        1,
    )
    .await;
    w.timeout = Duration::from_secs(6);
    let m = w.recv_message().await;
    assert_eq!(&m.payload[..], b"ka");
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "will sent before the keep alive expired ({:?})",
        t0.elapsed()
    );
}
versioned_test!(will_published_on_keepalive_timeout);

// `mqtt.server_keepalive` is a 5.0 CONNACK property [MQTT-3.2.2-21]: a 3.1.1
// client cannot be told of it, so its own Keep Alive holds. Against
// `server_keepalive: 60`, a silent 3.1.1 client with keep alive 5 is closed
// after 1.5 x 5 s and its will arrives within 8 s, not after 90 s.
#[tokio::test]
async fn v3_client_keeps_its_own_keepalive_under_server_keepalive() {
    let b = Broker::start_with(&[("ROOST__MQTT__SERVER_KEEPALIVE", "60")]);
    let v = ProtocolVersion::V3_1_1;
    let mut w = watcher(&b, v, "will/ska").await;
    let t0 = Instant::now();
    let _c = with_will(
        &b,
        v,
        "ska-v3",
        will("will/ska", b"late?", QoS::AtLeastOnce, false),
        5,
    )
    .await;
    w.timeout = Duration::from_secs(8);
    let m = w.recv_message().await;
    assert_eq!(&m.payload[..], b"late?");
    let after = t0.elapsed();
    assert!(
        after >= Duration::from_secs(5) && after <= Duration::from_secs(8),
        "will after {after:?}, expected within 5 to 8 s"
    );
}

// The will is published when the server closes the connection for a protocol error
// (here a second CONNECT, [MQTT-3.1.0-2]).
async fn will_published_on_protocol_error(v: ProtocolVersion) {
    let b = Broker::start();
    let mut w = watcher(&b, v, "will/pe").await;
    let mut c = with_will(
        &b,
        v,
        "bad",
        will("will/pe", b"pe", QoS::AtLeastOnce, false),
        60,
    )
    .await;
    c.send(&Packet::Connect(connect_packet(v, "bad"))).await;
    c.expect_closed().await;
    let m = w.recv_message().await;
    assert_eq!(&m.payload[..], b"pe");
}
versioned_test!(will_published_on_protocol_error);

// [MQTT-3.1.2-10] (5.0 [MQTT-3.1.2-10], [MQTT-3.14.4-3]): a normal DISCONNECT deletes
// the will: it is not published.
async fn no_will_on_normal_disconnect(v: ProtocolVersion) {
    let b = Broker::start();
    let mut w = watcher(&b, v, "will/#").await;
    let c = with_will(
        &b,
        v,
        "polite",
        will("will/polite", b"no", QoS::AtLeastOnce, false),
        60,
    )
    .await;
    c.disconnect().await;
    w.recv_none_for(Duration::from_secs(1)).await;
}
versioned_test!(no_will_on_normal_disconnect);

// 5.0 §3.14.2.1: DISCONNECT with reason 0x04 Disconnect with Will Message publishes
// the will.
#[tokio::test]
async fn v5_disconnect_with_will_message_publishes_it() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = watcher(&b, v, "will/#").await;
    let c = with_will(
        &b,
        v,
        "w04",
        will("will/w04", b"04", QoS::AtLeastOnce, false),
        60,
    )
    .await;
    c.disconnect_with(Disconnect {
        reason_code: ReasonCode::DisconnectWithWillMessage,
        ..Default::default()
    })
    .await;
    let m = w.recv_message().await;
    assert_eq!(m.topic, "will/w04");
    assert_eq!(&m.payload[..], b"04");
}

// 5.0 [MQTT-3.1.3-9]: with a Will Delay Interval the will is published only after the
// delay (the session outlives it: expiry 60 s).
#[tokio::test]
async fn v5_will_delay_interval() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = watcher(&b, v, "will/#").await;
    let mut wl = will("will/delayed", b"late", QoS::AtLeastOnce, false);
    wl.properties.will_delay_interval = Some(2);
    let mut conn = persistent_connect(v, "delayed", 60);
    conn.will = Some(wl);
    let (c, _) = RawClient::connect_ok(b.addr(), conn).await;
    let t0 = Instant::now();
    c.drop_connection().await;
    w.timeout = Duration::from_secs(6);
    let m = w.recv_message().await;
    let el = t0.elapsed();
    assert_eq!(&m.payload[..], b"late");
    assert!(
        el >= Duration::from_millis(1700),
        "will sent before its delay: {el:?}"
    );
    assert!(
        el <= Duration::from_millis(4500),
        "will sent too late: {el:?}"
    );
}

// 5.0 [MQTT-3.1.3-9]: reconnecting to the session before the Will Delay Interval has
// passed cancels the will.
#[tokio::test]
async fn v5_will_delay_cancelled_by_reconnect() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = watcher(&b, v, "will/#").await;
    let mut wl = will("will/cancel", b"never", QoS::AtLeastOnce, false);
    wl.properties.will_delay_interval = Some(2);
    let mut conn = persistent_connect(v, "cancel", 60);
    conn.will = Some(wl);
    let (c, _) = RawClient::connect_ok(b.addr(), conn).await;
    c.drop_connection().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_c2, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "cancel", 60)).await;
    assert!(ack.session_present);
    w.recv_none_for(Duration::from_secs(3)).await;
}

// 5.0 §3.1.2.5: the will is published when the Will Delay Interval passes or the
// session ends, whichever is first: a will delay longer than the session expiry (0 s
// here, the session ends at once) does not hold the will back.
#[tokio::test]
async fn v5_will_sent_when_session_ends_before_delay() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = watcher(&b, v, "will/#").await;
    let mut wl = will("will/ends", b"ended", QoS::AtLeastOnce, false);
    wl.properties.will_delay_interval = Some(30);
    let mut conn = connect_packet(v, "ends");
    conn.will = Some(wl);
    let (c, _) = RawClient::connect_ok(b.addr(), conn).await;
    c.drop_connection().await;
    let m = w.recv_message().await;
    assert_eq!(&m.payload[..], b"ended");
}

// [MQTT-3.1.2-17] (5.0 [MQTT-3.1.2-15]): a will with Will Retain 1 is published as a
// retained message: a later subscriber receives it with RETAIN=1.
async fn retained_will(v: ProtocolVersion) {
    let b = Broker::start();
    let c = with_will(
        &b,
        v,
        "rw",
        will("will/retained", b"rip", QoS::AtLeastOnce, true),
        60,
    )
    .await;
    c.drop_connection().await;
    // Poll: subscribe until the retained will is there (it is published asynchronously).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    loop {
        n += 1;
        let mut s = RawClient::connected(b.addr(), v, &format!("late{n}")).await;
        s.subscribe("will/retained", QoS::AtLeastOnce).await;
        match s.try_recv_for(Duration::from_millis(300)).await {
            // Subscribed before the will went out: a live forward (RETAIN=0); the
            // next subscriber must find the stored copy.
            Recv::Packet(Packet::Publish(m)) if !m.retain && Instant::now() < deadline => {
                assert_eq!(&m.payload[..], b"rip");
            }
            Recv::Packet(Packet::Publish(m)) => {
                assert_eq!(&m.payload[..], b"rip");
                assert!(m.retain, "retained will delivered with RETAIN=1");
                assert_eq!(m.qos, QoS::AtLeastOnce);
                break;
            }
            other => assert!(
                Instant::now() < deadline,
                "retained will not stored within 5 s (last: {other:?})"
            ),
        }
    }
}
versioned_test!(retained_will);

// 5.0 §3.1.3.2: will properties (content type, payload format, response topic,
// correlation data, user properties, message expiry) are passed on to subscribers;
// Will Delay Interval is not a PUBLISH property and is not forwarded.
#[tokio::test]
async fn v5_will_properties_passed_through() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = watcher(&b, v, "will/#").await;
    let mut wl = will("will/props", b"{\"ok\":false}", QoS::AtLeastOnce, false);
    wl.properties.content_type = Some("application/json".into());
    wl.properties.payload_format_indicator = Some(1);
    wl.properties.response_topic = Some("reply/here".into());
    wl.properties.correlation_data = Some(Bytes::from_static(b"\x00corr"));
    wl.properties.user_properties = vec![("k".into(), "v".into()), ("k".into(), "v2".into())];
    wl.properties.message_expiry_interval = Some(3600);
    let c = with_will(&b, v, "props", wl, 60).await;
    c.drop_connection().await;
    let m = w.recv_message().await;
    let p = &m.properties;
    assert_eq!(p.content_type.as_deref(), Some("application/json"));
    assert_eq!(p.payload_format_indicator, Some(1));
    assert_eq!(p.response_topic.as_deref(), Some("reply/here"));
    assert_eq!(p.correlation_data.as_deref(), Some(&b"\x00corr"[..]));
    assert_eq!(
        p.user_properties,
        vec![
            ("k".to_string(), "v".to_string()),
            ("k".to_string(), "v2".to_string())
        ],
        "user properties in order [MQTT-3.3.2-18]"
    );
    assert!(
        matches!(p.message_expiry_interval, Some(3595..=3600)),
        "{p:?}"
    );
    assert_eq!(p.will_delay_interval, None);
}

// A real client library's Last Will (rumqttc, 3.1.1), connection dropped.
#[tokio::test]
async fn rumqttc_v311_last_will() {
    let b = Broker::start();
    let mut w = watcher(&b, ProtocolVersion::V3_1_1, "lw/#").await;
    let mut o = V4Client::options(b.addr(), "lwt");
    o.set_last_will(rumqttc::LastWill::new(
        "lw/t",
        "offline",
        rumqttc::QoS::AtLeastOnce,
        false,
    ));
    let c = V4Client::connect_with(o).await;
    c.abort();
    let m = w.recv_message().await;
    assert_eq!(m.topic, "lw/t");
    assert_eq!(&m.payload[..], b"offline");
}

// [MQTT-3.1.4-3] with 5.0 §3.1.4 (non-normative): when another connection takes the
// client id over, the old connection's will is published if its Will Delay is 0
// (EMQX 5: emqx_channel maybe_publish_will_msg(takenover, ..); 3.1.1 always).
async fn will_published_on_takeover(v: ProtocolVersion) {
    let b = Broker::start();
    let mut w = watcher(&b, v, "will/#").await;
    let mut conn = persistent_connect(v, "tko", 60);
    conn.will = Some(will("will/tko", b"taken", QoS::AtLeastOnce, false));
    let (mut old, _) = RawClient::connect_ok(b.addr(), conn).await;
    let (_new, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "tko", 60)).await;
    assert!(ack.session_present);
    old.expect_disconnect(ReasonCode::SessionTakenOver).await;
    let m = w.recv_message().await;
    assert_eq!(&m.payload[..], b"taken");
}
versioned_test!(will_published_on_takeover);

// 5.0 §3.1.4 (non-normative) / [MQTT-3.1.3-9]: a takeover with Clean Start 0 is a
// new connection to the session before the Will Delay passed: the will is not sent.
#[tokio::test]
async fn v5_delayed_will_not_published_on_takeover_resuming_session() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = watcher(&b, v, "will/#").await;
    let mut wl = will("will/tkd", b"never", QoS::AtLeastOnce, false);
    wl.properties.will_delay_interval = Some(1);
    let mut conn = persistent_connect(v, "tkd", 60);
    conn.will = Some(wl);
    let (mut old, _) = RawClient::connect_ok(b.addr(), conn).await;
    let (_new, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "tkd", 60)).await;
    assert!(ack.session_present);
    old.expect_disconnect(ReasonCode::SessionTakenOver).await;
    w.recv_none_for(Duration::from_millis(2500)).await;
}

// 5.0 §3.1.2.5: the will is sent when the Will Delay passes *or the session ends*: a
// new connection with Clean Start 1 ends the old session, so a delayed will of the
// disconnected client is published at once (EMQX: `discarded`).
#[tokio::test]
async fn v5_delayed_will_published_when_clean_start_ends_session() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = watcher(&b, v, "will/#").await;
    let mut wl = will("will/cs", b"session ended", QoS::AtLeastOnce, false);
    wl.properties.will_delay_interval = Some(30);
    let mut conn = persistent_connect(v, "csw", 60);
    conn.will = Some(wl);
    let (c, _) = RawClient::connect_ok(b.addr(), conn).await;
    c.drop_connection().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_new, ack) = RawClient::connect_ok(b.addr(), connect_packet(v, "csw")).await;
    assert!(!ack.session_present);
    let m = w.recv_message().await;
    assert_eq!(&m.payload[..], b"session ended");
}

// [MQTT-3.1.2-10] (3.1.1: [MQTT-3.14.4-3]): a DISCONNECT discards the will, also when
// it arrives right behind a SUBSCRIBE (so it waits while the session handles the
// SUBSCRIBE) and the socket closes at once; the PUBLISH between them is routed too.
async fn no_will_when_disconnect_comes_right_behind_subscribe(v: ProtocolVersion) {
    let b = Broker::start();
    let mut w = watcher(&b, v, "will/#").await;
    let mut c = with_will(
        &b,
        v,
        "hasty",
        will("will/hasty", b"no", QoS::AtLeastOnce, false),
        60,
    )
    .await;
    let mut burst = bytes::BytesMut::new();
    for p in [
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("hasty/t".to_string(), sub_opts(QoS::AtLeastOnce))],
            ..Default::default()
        }),
        Packet::Publish(publish_packet(
            "will/behind-subscribe",
            b"routed",
            QoS::AtMostOnce,
            false,
        )),
        Packet::Disconnect(Disconnect::default()),
    ] {
        roost_protocol::encode(&p, v, &mut burst).unwrap();
    }
    c.send_bytes(&burst).await;
    c.drop_connection().await;
    let m = w.recv_message().await;
    assert_eq!(m.topic, "will/behind-subscribe");
    assert_eq!(&m.payload[..], b"routed");
    w.recv_none_for(Duration::from_secs(1)).await;
}
versioned_test!(no_will_when_disconnect_comes_right_behind_subscribe);
