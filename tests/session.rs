//! Sessions: clean start, persistence across connections, offline queueing, the
//! bounded queue and session expiry (MQTT 3.1.1 §3.1.2.4, 4.1; MQTT 5.0 §3.1.2.4,
//! 3.1.2.11.2, 3.14.2.2.2, 4.1).

#[macro_use]
mod common;
use common::*;

/// Publishes `payloads` to `topic` at `q` from a fresh client `pub`.
async fn publish_all(b: &Broker, v: ProtocolVersion, topic: &str, payloads: &[&[u8]], q: QoS) {
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    for pl in payloads {
        p.publish(topic, pl, q, false).await;
    }
    // QoS 0 has no ack: a PINGRESP shows the broker has read everything before.
    p.ping().await;
    p.disconnect().await;
}

/// A persistent session for `id` subscribed to `filter` at `q`, then disconnected
/// normally (so the session is offline).
async fn offline_session(b: &Broker, v: ProtocolVersion, id: &str, filter: &str, q: QoS) {
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, id, 300)).await;
    let ack = c.subscribe(filter, q).await;
    assert_eq!(ack.reason_codes, vec![granted(q)]);
    c.disconnect().await;
}

/// Resumes `id`'s session (asserting Session Present 1).
async fn resume(b: &Broker, v: ProtocolVersion, id: &str) -> RawClient {
    let (c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, id, 300)).await;
    assert!(
        ack.session_present,
        "session of {id} must be present: {ack:?}"
    );
    c
}

// [MQTT-3.1.2-6] (3.1.1) / 5.0 [MQTT-3.1.2-4]: Clean Session/Clean Start 1 discards the
// previous session and its subscriptions.
async fn clean_start_discards_old_session(v: ProtocolVersion) {
    let b = Broker::start();
    offline_session(&b, v, "cs", "cs/t", QoS::AtLeastOnce).await;
    let (mut c, ack) = RawClient::connect_ok(b.addr(), connect_packet(v, "cs")).await;
    assert!(!ack.session_present);
    publish_all(&b, v, "cs/t", &[b"x"], QoS::AtLeastOnce).await;
    c.recv_none_for(QUIET).await;
    c.disconnect().await;
    // ... and a clean 3.1.1 session / 5.0 session with expiry 0 is not kept either
    // [MQTT-3.1.2-6]: resuming finds nothing.
    let (mut c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "cs", 300)).await;
    assert!(!ack.session_present, "{ack:?}");
    publish_all(&b, v, "cs/t", &[b"y"], QoS::AtLeastOnce).await;
    c.recv_none_for(QUIET).await;
}
versioned_test!(clean_start_discards_old_session);

// [MQTT-3.1.2-4] (3.1.1) / 5.0 [MQTT-3.1.2-5]: a persistent session keeps its
// subscriptions across connections.
async fn persistent_session_keeps_subscriptions(v: ProtocolVersion) {
    let b = Broker::start();
    offline_session(&b, v, "ps", "ps/+", QoS::AtLeastOnce).await;
    let mut c = resume(&b, v, "ps").await;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    p.publish("ps/1", b"still subscribed", QoS::AtLeastOnce, false)
        .await;
    let m = c.recv_message().await;
    assert_eq!(m.topic, "ps/1");
    assert_eq!(m.qos, QoS::AtLeastOnce);
}
versioned_test!(persistent_session_keeps_subscriptions);

// [MQTT-3.1.2-5] (3.1.1) / 5.0 §4.1: QoS 1 and QoS 2 messages published while the
// client is offline are queued and delivered, in order, when it resumes.
async fn offline_qos1_and_qos2_messages_delivered_on_resume(v: ProtocolVersion) {
    let b = Broker::start();
    offline_session(&b, v, "off", "off/#", QoS::ExactlyOnce).await;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    p.publish("off/a", b"1", QoS::AtLeastOnce, false).await;
    p.publish("off/b", b"2", QoS::ExactlyOnce, false).await;
    p.publish("off/a", b"3", QoS::AtLeastOnce, false).await;
    let mut c = resume(&b, v, "off").await;
    let got = c.recv_messages(3).await;
    let summary: Vec<(&str, &[u8], QoS)> = got
        .iter()
        .map(|m| (m.topic.as_str(), &m.payload[..], m.qos))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("off/a", &b"1"[..], QoS::AtLeastOnce),
            ("off/b", &b"2"[..], QoS::ExactlyOnce),
            ("off/a", &b"3"[..], QoS::AtLeastOnce),
        ]
    );
    c.recv_none_for(Duration::from_millis(300)).await;
    // Delivered once: a further resume gets nothing again.
    c.disconnect().await;
    let mut c = resume(&b, v, "off").await;
    c.recv_none_for(QUIET).await;
}
versioned_test!(offline_qos1_and_qos2_messages_delivered_on_resume);

// EMQX's mqtt.mqueue_store_qos0 (default true): QoS 0 messages are queued for an
// offline persistent session too (3.1.1 §3.1.2.4 allows it: "MAY").
async fn offline_qos0_queued_by_default(v: ProtocolVersion) {
    let b = Broker::start();
    offline_session(&b, v, "q0", "q0/t", QoS::AtLeastOnce).await;
    publish_all(&b, v, "q0/t", &[b"zero", b"again"], QoS::AtMostOnce).await;
    let mut c = resume(&b, v, "q0").await;
    let got = c.recv_messages(2).await;
    assert_eq!(&got[0].payload[..], b"zero");
    assert_eq!(&got[1].payload[..], b"again");
    assert!(got.iter().all(|m| m.qos == QoS::AtMostOnce));
}
versioned_test!(offline_qos0_queued_by_default);

// mqtt.mqueue_store_qos0 = false: offline QoS 0 messages are dropped, QoS 1 kept.
async fn offline_qos0_not_queued_when_disabled(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MQUEUE_STORE_QOS0", "false")]);
    offline_session(&b, v, "nq0", "nq0/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    p.publish("nq0/t", b"qos0", QoS::AtMostOnce, false).await;
    p.publish("nq0/t", b"qos1", QoS::AtLeastOnce, false).await;
    let mut c = resume(&b, v, "nq0").await;
    let m = c.recv_message().await;
    assert_eq!(
        &m.payload[..],
        b"qos1",
        "the QoS 0 message must not be queued"
    );
    c.recv_none_for(Duration::from_millis(300)).await;
}
versioned_test!(offline_qos0_not_queued_when_disabled);

// mqtt.max_mqueue_len bounds the queue of an offline session; when full the oldest
// message is dropped (EMQX 5). While the client is offline nothing is in flight (EMQX
// fills the inflight window only for a connected client), so of 10 QoS 1 messages
// the newest 5 are queued and delivered on resume, in order.
async fn bounded_queue_drops_oldest(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_MQUEUE_LEN", "5")]);
    offline_session(&b, v, "bq", "bq/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    for i in 0..10u8 {
        p.publish("bq/t", &[b'm', b'0' + i], QoS::AtLeastOnce, false)
            .await;
    }
    let mut c = resume(&b, v, "bq").await;
    let got: Vec<String> = c
        .recv_messages(5)
        .await
        .into_iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    assert_eq!(
        got,
        vec!["m5", "m6", "m7", "m8", "m9"],
        "newest 5, in order"
    );
    c.recv_none_for(QUIET).await;
}
versioned_test!(bounded_queue_drops_oldest);

// A takeover with Clean Start 0 moves the session to the new connection: it is
// present and keeps its subscriptions (5.0 §3.1.4; EMQX takeover).
async fn takeover_keeps_session(v: ProtocolVersion) {
    let b = Broker::start();
    let (mut old, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "tk", 300)).await;
    old.subscribe("tk/t", QoS::AtLeastOnce).await;
    let (mut new, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "tk", 300)).await;
    assert!(ack.session_present, "{ack:?}");
    old.expect_disconnect(ReasonCode::SessionTakenOver).await;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    p.publish("tk/t", b"moved", QoS::AtLeastOnce, false).await;
    assert_eq!(&new.recv_message().await.payload[..], b"moved");
}
versioned_test!(takeover_keeps_session);

// 5.0 §3.1.2.11.2 [MQTT-4.1.0-2]: the session is discarded once its Session Expiry
// Interval has passed after the connection closed.
#[tokio::test]
async fn v5_session_expires_after_interval() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "exp", 1)).await;
    c.subscribe("exp/t", QoS::AtLeastOnce).await;
    c.disconnect().await;
    // Setup, not the assertion: let the 1 s expiry pass.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (mut c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "exp", 1)).await;
    assert!(!ack.session_present, "the session expired: {ack:?}");
    publish_all(&b, v, "exp/t", &[b"x"], QoS::AtLeastOnce).await;
    c.recv_none_for(QUIET).await;
}

// ... and is still there before it expires.
#[tokio::test]
async fn v5_session_present_before_expiry() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let (c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "keep", 5)).await;
    c.disconnect().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (_c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "keep", 5)).await;
    assert!(ack.session_present, "{ack:?}");
}

// 5.0 [MQTT-3.1.2-23]: Session Expiry Interval 0 (or absent) ends the session when
// the network connection closes, even with Clean Start 0.
#[tokio::test]
async fn v5_session_expiry_zero_ends_session_at_disconnect() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut conn = connect_packet(v, "zero");
    conn.clean_start = false; // no Session Expiry Interval property: 0
    let (mut c, _) = RawClient::connect_ok(b.addr(), conn.clone()).await;
    c.subscribe("zero/t", QoS::AtLeastOnce).await;
    c.drop_connection().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut c, ack) = RawClient::connect_ok(b.addr(), conn).await;
    assert!(!ack.session_present, "{ack:?}");
    publish_all(&b, v, "zero/t", &[b"x"], QoS::AtLeastOnce).await;
    c.recv_none_for(QUIET).await;
}

// 5.0 §3.14.2.2.2: DISCONNECT may change the Session Expiry Interval: 60 -> 0 ends the
// session at once.
#[tokio::test]
async fn v5_disconnect_can_shorten_session_expiry() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "dz", 60)).await;
    c.subscribe("dz/t", QoS::AtLeastOnce).await;
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(0);
    c.disconnect_with(d).await;
    let (_c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "dz", 60)).await;
    assert!(!ack.session_present, "DISCONNECT set expiry 0: {ack:?}");
}

// 5.0 §3.14.2.2.2: if CONNECT had Session Expiry Interval 0, a DISCONNECT setting a
// non-zero one is a Protocol Error: the server answers DISCONNECT 0x82, does not
// treat it as a normal DISCONNECT (so the will is published) and the session still
// ends with the connection.
#[tokio::test]
async fn v5_disconnect_cannot_set_expiry_when_connect_had_zero() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let mut w = RawClient::connected(b.addr(), v, "watcher").await;
    w.subscribe("nz/will", QoS::AtLeastOnce).await;

    let mut conn = connect_packet(v, "nz");
    conn.clean_start = false;
    conn.will = Some(will("nz/will", b"protocol error", QoS::AtLeastOnce, false));
    let (mut c, _) = RawClient::connect_ok(b.addr(), conn).await;
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(30);
    c.send(&Packet::Disconnect(d)).await;
    c.expect_disconnect(ReasonCode::ProtocolError).await;

    let m = w.recv_message().await;
    assert_eq!(
        &m.payload[..],
        b"protocol error",
        "not a valid DISCONNECT: will sent"
    );
    let (_c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "nz", 30)).await;
    assert!(
        !ack.session_present,
        "the session was not extended: {ack:?}"
    );
}

// mqtt.session_expiry_interval is the expiry of 3.1.1 persistent sessions (EMQX).
#[tokio::test]
async fn v311_persistent_session_expires_per_config() {
    let b = Broker::start_with(&[("ROOST__MQTT__SESSION_EXPIRY_INTERVAL", "1s")]);
    let v = ProtocolVersion::V3_1_1;
    offline_session(&b, v, "cfg", "cfg/t", QoS::AtLeastOnce).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "cfg", 0)).await;
    assert!(!ack.session_present, "expired after 1 s: {ack:?}");
}

// mqtt.session_expiry_interval caps what a 5.0 client asks for (EMQX); the server
// then reports the value it uses in CONNACK (§3.2.2.3.2) or, if it
// does not report it, still expires the session at the cap.
#[tokio::test]
async fn v5_session_expiry_capped_by_config() {
    let b = Broker::start_with(&[("ROOST__MQTT__SESSION_EXPIRY_INTERVAL", "1s")]);
    let v = ProtocolVersion::V5;
    let (c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "cap", 3600)).await;
    assert!(
        matches!(ack.properties.session_expiry_interval, None | Some(1)),
        "CONNACK Session Expiry Interval, if sent, is the capped value: {ack:?}"
    );
    c.disconnect().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "cap", 3600)).await;
    assert!(!ack.session_present, "expired at the 1 s cap: {ack:?}");
}

// The same persistence through a real client library (rumqttc 3.1.1, clean session
// false).
#[tokio::test]
async fn rumqttc_v311_persistent_session() {
    let b = Broker::start();
    let mut o = V4Client::options(b.addr(), "rp");
    o.set_clean_session(false);
    let mut c = V4Client::connect_with(o.clone()).await;
    c.subscribe("rp/t", 1).await;
    c.disconnect().await;
    publish_all(
        &b,
        ProtocolVersion::V3_1_1,
        "rp/t",
        &[b"while away"],
        QoS::AtLeastOnce,
    )
    .await;
    let mut c = V4Client::connect_with(o).await;
    assert!(c.connack.session_present);
    let m = c.recv_publish().await;
    assert_eq!(&m.payload[..], b"while away");
}

// [MQTT-4.4.0-1] and ordering [MQTT-4.6.0-5]: on resume, the unacknowledged in-flight
// messages are re-sent first (DUP=1, original packet ids), then the queued ones
// (DUP=0), all in publish order. max_inflight 2 keeps 3 of 5 messages queued.
async fn resume_resends_inflight_then_queue_in_order(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_INFLIGHT", "2")]);
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "io", 300)).await;
    c.subscribe("io/t", QoS::AtLeastOnce).await;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    for i in 1..=5u8 {
        p.publish("io/t", &[b'0' + i], QoS::AtLeastOnce, false)
            .await;
    }
    let m1 = c.expect_publish().await;
    let m2 = c.expect_publish().await;
    assert_eq!((&m1.payload[..], &m2.payload[..]), (&b"1"[..], &b"2"[..]));
    c.recv_none_for(Duration::from_millis(300)).await; // the window is full
    c.drop_connection().await;

    let mut c = resume(&b, v, "io").await;
    let got = c.recv_messages(5).await;
    let payloads: Vec<u8> = got.iter().map(|m| m.payload[0] - b'0').collect();
    assert_eq!(
        payloads,
        vec![1, 2, 3, 4, 5],
        "order: {:?}",
        got.iter().map(brief).collect::<Vec<_>>()
    );
    assert!(
        got[0].dup && got[1].dup,
        "re-sent in-flight messages have DUP=1"
    );
    assert_eq!(
        (got[0].packet_id, got[1].packet_id),
        (m1.packet_id, m2.packet_id)
    );
    assert!(
        got[2..].iter().all(|m| !m.dup),
        "first transmissions have DUP=0"
    );
}
versioned_test!(resume_resends_inflight_then_queue_in_order);

// A client with Keep Alive 0 is never disconnected for silence (§3.1.2.10: "a Keep
// Alive value of 0 has the effect of turning off the keep alive mechanism").
async fn keepalive_zero_never_times_out(v: ProtocolVersion) {
    let b = Broker::start();
    let mut conn = connect_packet(v, "ka0");
    conn.keep_alive = 0;
    let (mut c, _) = RawClient::connect_ok(b.addr(), conn).await;
    c.recv_none_for(Duration::from_millis(2500)).await;
    c.ping().await;
}
versioned_test!(keepalive_zero_never_times_out);

// 5.0 §3.1.2.4: Clean Start 1 discards the old session but the new one is kept per
// its own Session Expiry Interval.
#[tokio::test]
async fn v5_clean_start_with_expiry_creates_persistent_session() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    offline_session(&b, v, "cse", "old/t", QoS::AtLeastOnce).await;
    let mut conn = connect_packet(v, "cse");
    conn.properties.session_expiry_interval = Some(60);
    let (mut c, ack) = RawClient::connect_ok(b.addr(), conn).await;
    assert!(!ack.session_present);
    c.subscribe("new/t", QoS::AtLeastOnce).await;
    c.disconnect().await;
    publish_all(&b, v, "old/t", &[b"old"], QoS::AtLeastOnce).await;
    publish_all(&b, v, "new/t", &[b"new"], QoS::AtLeastOnce).await;
    let mut c = resume(&b, v, "cse").await;
    let m = c.recv_message().await;
    assert_eq!(
        &m.payload[..],
        b"new",
        "only the new session's subscription"
    );
    c.recv_none_for(QUIET).await;
}

// 5.0 §3.1.2.11.2: the Session Expiry Interval counts from when the network
// connection closes, not from CONNECT: a 1 s session connected for 2 s is still there
// right after disconnecting.
#[tokio::test]
async fn v5_session_expiry_counts_from_disconnect() {
    let b = Broker::start();
    let v = ProtocolVersion::V5;
    let (c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "from", 1)).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    c.disconnect().await;
    let (_c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "from", 1)).await;
    assert!(ack.session_present, "{ack:?}");
}

// Once the server has closed the connection after a DISCONNECT, the session is
// offline: a message published right after goes to the offline queue, not into an
// in-flight window of the gone connection. With max_mqueue_len 1 and two messages
// published right after the disconnect, the resumed session gets only the newest
// (EMQX: the channel handles DISCONNECT before closing the socket, so this is
// deterministic). Repeated to catch a race between the close and the session.
async fn session_offline_as_soon_as_connection_closed(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_MQUEUE_LEN", "1")]);
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, "race", 300)).await;
    c.subscribe("race/t", QoS::AtLeastOnce).await;
    for round in 0..10u8 {
        c.disconnect().await;
        p.publish("race/t", &[round, 0], QoS::AtLeastOnce, false)
            .await;
        p.publish("race/t", &[round, 1], QoS::AtLeastOnce, false)
            .await;
        c = resume(&b, v, "race").await;
        let m = c.recv_message().await;
        assert_eq!(
            &m.payload[..],
            &[round, 1],
            "round {round}: only the newest message was queued; got {}",
            brief(&m)
        );
        c.recv_none_for(Duration::from_millis(100)).await;
    }
}
versioned_test!(session_offline_as_soon_as_connection_closed);
