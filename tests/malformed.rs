//! Malformed input, byte by byte, for 3.1.1 and 5.0. Each bad packet must end
//! *that* connection (in 5.0, after CONNACK, with a DISCONNECT carrying the right
//! reason code first, as EMQX does: 0x81 malformed, 0x82 protocol error, 0x90
//! topic name invalid, 0x95 too large), while the broker keeps running and a
//! healthy client connected beside it keeps publishing and receiving.

#[macro_use]
mod common;
use common::*;

use std::collections::BTreeSet;
use std::time::Instant;

const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;
const PROTOCOL: ReasonCode = ReasonCode::ProtocolError;

/// A broker with a healthy 5.0 client subscribed to its own topic.
struct Fixture {
    broker: Broker,
    healthy: RawClient,
    round: u32,
}

impl Fixture {
    async fn new() -> Fixture {
        let broker = Broker::start();
        let mut healthy = RawClient::connected(broker.addr(), ProtocolVersion::V5, "healthy").await;
        healthy.subscribe("health/t", QoS::AtLeastOnce).await;
        Fixture {
            broker,
            healthy,
            round: 0,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.broker.addr()
    }

    /// A connected client of version `v` to misbehave with.
    async fn offender(&mut self, v: ProtocolVersion) -> RawClient {
        self.round += 1;
        RawClient::connected(self.addr(), v, &format!("bad-{}-{}", vname(v), self.round)).await
    }

    /// The broker process is alive, the healthy client still publishes and
    /// receives, and a new client can connect.
    async fn assert_healthy(&mut self, case: &str) {
        assert!(self.broker.is_running(), "{case}: the broker process died");
        let tag = format!("after {case} #{}", self.round);
        let rc = self
            .healthy
            .publish("health/t", tag.as_bytes(), QoS::AtLeastOnce, false)
            .await;
        assert!(!rc.is_error(), "{case}: healthy client's PUBACK: {rc:?}");
        let m = self.healthy.recv_message().await;
        assert_eq!(
            m.payload,
            tag.as_bytes(),
            "{case}: healthy client got {m:?}"
        );
        let mut fresh = RawClient::connected(self.addr(), ProtocolVersion::V5, "fresh").await;
        fresh.ping().await;
        fresh.disconnect().await;
    }
}

/// The connection must close; for 5.0 after a DISCONNECT whose code is one of
/// `codes`, for 3.1.1 with no DISCONNECT (3.1.1 servers have none).
async fn assert_rejected(c: &mut RawClient, case: &str, codes: &[ReasonCode]) {
    let d = c.expect_closed().await;
    if c.version().is_v5() {
        let d = d.unwrap_or_else(|| {
            panic!("{case}: closed without DISCONNECT; expected one of {codes:?}")
        });
        assert!(
            codes.contains(&d.reason_code),
            "{case}: DISCONNECT {d:?}, expected one of {codes:?}"
        );
    } else {
        assert!(d.is_none(), "{case}: a 3.1.1 server sent DISCONNECT {d:?}");
    }
}

/// A frame: `first` byte, minimal remaining length, `body`.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    encode_remaining_length(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// A UTF-8 string field from raw bytes (which may be invalid UTF-8).
fn string(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(b);
    out
}

/// The empty property block of 5.0, nothing in 3.1.1.
fn no_props(v: ProtocolVersion) -> &'static [u8] {
    if v.is_v5() {
        &[0]
    } else {
        &[]
    }
}

/// PUBLISH body: topic bytes, packet id if `pid` is given, properties, payload.
fn publish_body(v: ProtocolVersion, topic: &[u8], pid: Option<u16>) -> Vec<u8> {
    let mut b = string(topic);
    if let Some(pid) = pid {
        b.extend_from_slice(&pid.to_be_bytes());
    }
    b.extend_from_slice(no_props(v));
    b.extend_from_slice(b"payload");
    b
}

/// SUBSCRIBE body: packet id 1, properties, then each (filter, options byte).
fn subscribe_body(v: ProtocolVersion, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut b = 1u16.to_be_bytes().to_vec();
    b.extend_from_slice(no_props(v));
    for (f, o) in filters {
        b.extend_from_slice(&string(f.as_bytes()));
        b.push(*o);
    }
    b
}

/// Runs one case: connect an offender of version `v`, send `bytes`, expect the
/// connection to be rejected with one of `codes`, then check the broker's health.
async fn case(f: &mut Fixture, v: ProtocolVersion, name: &str, bytes: &[u8], codes: &[ReasonCode]) {
    let mut c = f.offender(v).await;
    c.send_bytes(bytes).await;
    assert_rejected(&mut c, &format!("{name} ({})", vname(v)), codes).await;
    f.assert_healthy(name).await;
}

// [MQTT-3.8.1-1] [MQTT-2.1.3-1] SUBSCRIBE fixed-header flags must be 0010.
async fn subscribe_reserved_flags_zero(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x80, &subscribe_body(v, &[("a/b", 1)]));
    case(&mut f, v, "SUBSCRIBE flags 0000", &bytes, &[MALFORMED]).await;
}
versioned_test!(subscribe_reserved_flags_zero);

// [MQTT-3.6.1-1] [MQTT-2.1.3-1] PUBREL fixed-header flags must be 0010.
async fn pubrel_reserved_flags_zero(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    case(
        &mut f,
        v,
        "PUBREL flags 0000",
        &[0x60, 0x02, 0x00, 0x01],
        &[MALFORMED],
    )
    .await;
}
versioned_test!(pubrel_reserved_flags_zero);

// [MQTT-3.10.1-1] UNSUBSCRIBE fixed-header flags must be 0010.
async fn unsubscribe_reserved_flags_zero(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut body = 1u16.to_be_bytes().to_vec();
    body.extend_from_slice(no_props(v));
    body.extend_from_slice(&string(b"a/b"));
    case(
        &mut f,
        v,
        "UNSUBSCRIBE flags 0000",
        &frame(0xA0, &body),
        &[MALFORMED],
    )
    .await;
}
versioned_test!(unsubscribe_reserved_flags_zero);

// [MQTT-3.3.1-4] A PUBLISH with both QoS bits set is malformed.
async fn publish_qos_3(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x36, &publish_body(v, b"a/b", Some(1)));
    case(&mut f, v, "PUBLISH QoS 3", &bytes, &[MALFORMED]).await;
}
versioned_test!(publish_qos_3);

// [MQTT-1.5.5-1] A Variable Byte Integer has at most four bytes.
async fn remaining_length_of_five_bytes(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00];
    case(
        &mut f,
        v,
        "remaining length of 5 bytes",
        &bytes,
        &[MALFORMED],
    )
    .await;
}
versioned_test!(remaining_length_of_five_bytes);

// [MQTT-1.5.4-1] Ill-formed UTF-8 in a string (here the topic) is malformed.
async fn topic_invalid_utf8(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x30, &publish_body(v, &[b'a', 0xC3, 0x28], None));
    case(&mut f, v, "topic with invalid UTF-8", &bytes, &[MALFORMED]).await;
}
versioned_test!(topic_invalid_utf8);

// [MQTT-1.5.4-2] [MQTT-4.7.3-2] U+0000 in a string is malformed (1.5.4); as a
// topic-name rule (4.7.3) 0x90 Topic Name invalid is accepted too.
async fn topic_with_null_character(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x30, &publish_body(v, b"a\0b", None));
    case(
        &mut f,
        v,
        "topic with U+0000",
        &bytes,
        &[MALFORMED, ReasonCode::TopicNameInvalid],
    )
    .await;
}
versioned_test!(topic_with_null_character);

// [MQTT-3.3.2-2] A Topic Name has no wildcards: 0x90 Topic Name invalid (EMQX's
// DISCONNECT code for it).
async fn wildcard_in_publish_topic(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    for topic in [&b"a/+"[..], b"a/#", b"#"] {
        let bytes = frame(0x30, &publish_body(v, topic, None));
        let name = format!("PUBLISH to {:?}", String::from_utf8_lossy(topic));
        case(&mut f, v, &name, &bytes, &[ReasonCode::TopicNameInvalid]).await;
    }
}
versioned_test!(wildcard_in_publish_topic);

// [MQTT-2.2.1-3] A QoS 1 PUBLISH needs a non-zero packet identifier. The spec
// names no code; malformed or protocol error are both accepted.
async fn qos1_publish_with_packet_id_zero(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x32, &publish_body(v, b"a/b", Some(0)));
    case(
        &mut f,
        v,
        "QoS 1 PUBLISH with packet id 0",
        &bytes,
        &[MALFORMED, PROTOCOL],
    )
    .await;
}
versioned_test!(qos1_publish_with_packet_id_zero);

// [MQTT-3.8.3-2] A SUBSCRIBE carries at least one filter; "a SUBSCRIBE packet
// with no Payload is a Protocol Error" (5.0), closed in 3.1.1.
async fn subscribe_without_filters(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x82, &subscribe_body(v, &[]));
    case(&mut f, v, "SUBSCRIBE without filters", &bytes, &[PROTOCOL]).await;
}
versioned_test!(subscribe_without_filters);

// [MQTT-3.10.3-2] An UNSUBSCRIBE carries at least one filter (Protocol Error).
async fn unsubscribe_without_filters(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut body = 1u16.to_be_bytes().to_vec();
    body.extend_from_slice(no_props(v));
    case(
        &mut f,
        v,
        "UNSUBSCRIBE without filters",
        &frame(0xA2, &body),
        &[PROTOCOL],
    )
    .await;
}
versioned_test!(unsubscribe_without_filters);

// [MQTT-3.8.3-5] (5.0: bits 6-7) / 3.1.1 [MQTT-3.8.3-4] (bits 2-7): reserved bits
// of the subscription options must be 0, otherwise the SUBSCRIBE is malformed.
async fn subscription_options_reserved_bits(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x82, &subscribe_body(v, &[("a/b", 0xC1)]));
    case(&mut f, v, "subscription options 0xC1", &bytes, &[MALFORMED]).await;
}
versioned_test!(subscription_options_reserved_bits);

// Spec 3.8.3.1: Retain Handling 3 is a Protocol Error (5.0 only).
#[tokio::test]
async fn retain_handling_3_is_protocol_error() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let bytes = frame(0x82, &subscribe_body(v, &[("a/b", 0x31)]));
    case(&mut f, v, "Retain Handling 3", &bytes, &[PROTOCOL]).await;
}

// [MQTT-3.1.0-2] A second CONNECT is a Protocol Error.
async fn second_connect(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = f.offender(v).await;
    c.send(&Packet::Connect(connect_packet(v, "second-connect")))
        .await;
    assert_rejected(&mut c, "second CONNECT", &[PROTOCOL]).await;
    f.assert_healthy("second CONNECT").await;
}
versioned_test!(second_connect);

// Packet type 0 is reserved: malformed.
async fn reserved_packet_type(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    case(&mut f, v, "packet type 0", &[0x00, 0x00], &[MALFORMED]).await;
}
versioned_test!(reserved_packet_type);

/// A CONNECT built by hand: `flags` byte, and for 5.0 the `props` block bytes.
fn connect_bytes(v: ProtocolVersion, flags: u8, props: &[u8], client_id: &str) -> Vec<u8> {
    let mut body = string(b"MQTT");
    body.push(v.level());
    body.push(flags);
    body.extend_from_slice(&60u16.to_be_bytes());
    if v.is_v5() {
        encode_remaining_length(props.len(), &mut body);
        body.extend_from_slice(props);
    }
    body.extend_from_slice(&string(client_id.as_bytes()));
    frame(0x10, &body)
}

/// A refused CONNECT: the server either closes at once or answers a failure
/// CONNACK (for 5.0, with one of `codes`) and then closes. Never a success.
async fn assert_connect_refused(c: &mut RawClient, case: &str, codes: &[ReasonCode]) {
    match c.try_recv_for(RECV_TIMEOUT).await {
        Recv::Closed => return,
        Recv::Timeout => panic!("{case}: no answer and no close within {RECV_TIMEOUT:?}"),
        Recv::Packet(Packet::ConnAck(a)) => {
            assert!(a.reason_code.is_error(), "{case}: CONNECT accepted: {a:?}");
            if c.version().is_v5() {
                assert!(
                    codes.contains(&a.reason_code),
                    "{case}: CONNACK {a:?}, expected one of {codes:?}"
                );
            }
        }
        Recv::Packet(p) => panic!("{case}: expected a failure CONNACK or a close, got {p:?}"),
    }
    match c.try_recv_for(RECV_TIMEOUT).await {
        Recv::Closed => {}
        other => panic!("{case}: connection not closed after the failure CONNACK: {other:?}"),
    }
}

// [MQTT-3.1.2-3] The reserved CONNECT flag (bit 0) must be 0; otherwise malformed.
async fn connect_reserved_flag(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = RawClient::open(f.addr(), v).await;
    c.send_bytes(&connect_bytes(v, 0x03, &[], "reserved-flag"))
        .await;
    assert_connect_refused(&mut c, "CONNECT reserved flag", &[MALFORMED]).await;
    f.assert_healthy("CONNECT reserved flag").await;
}
versioned_test!(connect_reserved_flag);

// Spec 2.2.2.2 / 3.1.2.11.2: including Session Expiry Interval twice is a
// Protocol Error (a malformed-packet answer is accepted too).
#[tokio::test]
async fn connect_duplicate_property() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let props = [0x11, 0, 0, 0, 10, 0x11, 0, 0, 0, 10];
    let mut c = RawClient::open(f.addr(), v).await;
    c.send_bytes(&connect_bytes(v, 0x02, &props, "dup-prop"))
        .await;
    assert_connect_refused(
        &mut c,
        "duplicate Session Expiry Interval",
        &[PROTOCOL, MALFORMED],
    )
    .await;
    f.assert_healthy("duplicate property").await;
}

// [MQTT-3.1.0-1] The first packet must be CONNECT: an HTTP request is closed
// without any answer.
#[tokio::test]
async fn garbage_before_connect() {
    let mut f = Fixture::new().await;
    let mut c = RawClient::open(f.addr(), ProtocolVersion::V5).await;
    c.send_bytes(b"GET / HTTP/1.1\r\nHost: roost\r\n\r\n").await;
    match c.try_recv_for(RECV_TIMEOUT).await {
        Recv::Closed => {}
        other => panic!("garbage before CONNECT: expected a close without answer, got {other:?}"),
    }
    f.assert_healthy("garbage before CONNECT").await;
}

// [MQTT-3.1.0-1] A SUBSCRIBE before CONNECT is closed without an answer.
#[tokio::test]
async fn subscribe_before_connect() {
    let mut f = Fixture::new().await;
    let mut c = RawClient::open(f.addr(), ProtocolVersion::V5).await;
    c.send_bytes(&frame(
        0x82,
        &subscribe_body(ProtocolVersion::V5, &[("a/b", 1)]),
    ))
    .await;
    match c.try_recv_for(RECV_TIMEOUT).await {
        Recv::Closed => {}
        other => panic!("SUBSCRIBE before CONNECT: expected a close without answer, got {other:?}"),
    }
    f.assert_healthy("SUBSCRIBE before CONNECT").await;
}

// A packet cut short by EOF (before and after CONNECT) just ends that connection.
async fn truncated_packet_then_eof(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = f.offender(v).await;
    c.send_bytes(&[0x30, 0x0A, 0x00, 0x03, b'a']).await;
    c.drop_connection().await;
    f.assert_healthy("truncated PUBLISH then EOF").await;

    let mut c = RawClient::open(f.addr(), v).await;
    let connect = connect_bytes(v, 0x02, &[], "truncated-connect");
    c.send_bytes(&connect[..connect.len() - 3]).await;
    c.drop_connection().await;
    f.assert_healthy("truncated CONNECT then EOF").await;
}
versioned_test!(truncated_packet_then_eof);

// A client announcing a huge remaining length (256 MB, above the 1 MB default
// max_packet_size) and trickling bytes is cut off at once, with 0x95 in 5.0,
// instead of being buffered.
async fn huge_remaining_length_is_cut_off(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = f.offender(v).await;
    c.send_bytes(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut disconnect = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "a 256 MB PUBLISH trickled byte by byte was not cut off within 3 s"
        );
        match c.try_recv_for(Duration::from_millis(20)).await {
            Recv::Closed => break,
            Recv::Packet(Packet::Disconnect(d)) if disconnect.is_none() => disconnect = Some(d),
            Recv::Packet(p) => panic!("expected the connection to close, got {p:?}"),
            Recv::Timeout => c.send_bytes(b"x").await,
        }
    }
    if v.is_v5() {
        let d = disconnect.expect("closed without DISCONNECT 0x95");
        assert_eq!(d.reason_code, ReasonCode::PacketTooLarge, "{d:?}");
    } else {
        assert!(
            disconnect.is_none(),
            "3.1.1 server sent DISCONNECT {disconnect:?}"
        );
    }
    f.assert_healthy("huge remaining length").await;
}
versioned_test!(huge_remaining_length_is_cut_off);

// [MQTT-4.7.3-1] A Topic Name is at least one character; in 5.0 an empty topic
// without a Topic Alias is a Protocol Error.
async fn empty_topic_without_alias(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x30, &publish_body(v, b"", None));
    let codes = [PROTOCOL, ReasonCode::TopicNameInvalid];
    case(&mut f, v, "PUBLISH with empty topic", &bytes, &codes).await;
}
versioned_test!(empty_topic_without_alias);

// Many malformed connections in a row (every case above, both versions) leave
// one broker healthy: no leak or crash accumulates.
#[tokio::test]
async fn many_bad_connections_in_a_row() {
    let mut f = Fixture::new().await;
    for v in VERSIONS {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "SUBSCRIBE flags",
                frame(0x80, &subscribe_body(v, &[("a", 1)])),
            ),
            ("QoS 3", frame(0x36, &publish_body(v, b"a", Some(1)))),
            ("bad UTF-8", frame(0x30, &publish_body(v, &[0xFF], None))),
            ("wildcard topic", frame(0x30, &publish_body(v, b"+", None))),
            ("5-byte length", vec![0x30, 0x80, 0x80, 0x80, 0x80, 0x01]),
        ];
        for (name, bytes) in cases {
            let mut c = f.offender(v).await;
            c.send_bytes(&bytes).await;
            let _ = c.expect_closed().await;
            assert!(f.broker.is_running(), "{name}: broker died");
        }
    }
    f.assert_healthy("a series of bad connections").await;
}

// Spec 2.2.2.2: a property identifier not valid for the packet type (Topic Alias
// in SUBSCRIBE) makes the packet malformed.
#[tokio::test]
async fn property_not_allowed_in_packet() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let mut body = vec![0x00, 0x01, 0x03, 0x23, 0x00, 0x01];
    body.extend_from_slice(&string(b"a/b"));
    body.push(0x01);
    case(
        &mut f,
        v,
        "Topic Alias in SUBSCRIBE",
        &frame(0x82, &body),
        &[MALFORMED],
    )
    .await;
}

// Spec 2.2.2.2: an unknown property identifier is malformed.
#[tokio::test]
async fn unknown_property_identifier() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let mut body = string(b"a/b");
    body.extend_from_slice(&[0x02, 0x7F, 0x00]);
    body.extend_from_slice(b"payload");
    case(
        &mut f,
        v,
        "property 0x7F in PUBLISH",
        &frame(0x30, &body),
        &[MALFORMED],
    )
    .await;
}

// A string whose length runs past the end of the packet is malformed.
async fn string_longer_than_packet(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x30, &[0x00, 0x10, b'a', b'b']);
    case(
        &mut f,
        v,
        "topic length beyond remaining length",
        &bytes,
        &[MALFORMED],
    )
    .await;
}
versioned_test!(string_longer_than_packet);

// PINGREQ has no body; a remaining length of 1 is malformed.
async fn pingreq_with_body(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    case(
        &mut f,
        v,
        "PINGREQ with a body",
        &[0xC0, 0x01, 0x00],
        &[MALFORMED],
    )
    .await;
}
versioned_test!(pingreq_with_body);

// [MQTT-3.14.1-1] DISCONNECT reserved flags must be 0; otherwise the receiver
// answers DISCONNECT 0x81. (In 3.1.1 [MQTT-3.14.1-1] likewise: close.)
async fn disconnect_reserved_flags(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes: &[u8] = if v.is_v5() {
        &[0xE1, 0x01, 0x00]
    } else {
        &[0xE1, 0x00]
    };
    case(&mut f, v, "DISCONNECT flags 0001", bytes, &[MALFORMED]).await;
}
versioned_test!(disconnect_reserved_flags);

// AUTH (type 15) does not exist in 3.1.1: a reserved packet type, closed.
#[tokio::test]
async fn auth_packet_in_v311() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V3_1_1;
    case(&mut f, v, "AUTH in 3.1.1", &[0xF0, 0x00], &[]).await;
}

/// Sends a hand-made CONNECT and asserts it is refused (CONNACK with one of
/// `codes` for 5.0, or a close), then checks the broker's health.
async fn refused_connect(
    f: &mut Fixture,
    v: ProtocolVersion,
    name: &str,
    bytes: &[u8],
    codes: &[ReasonCode],
) {
    let mut c = RawClient::open(f.addr(), v).await;
    c.send_bytes(bytes).await;
    assert_connect_refused(&mut c, &format!("{name} ({})", vname(v)), codes).await;
    f.assert_healthy(name).await;
}

// [MQTT-3.1.2-11] Will Flag 0 requires Will QoS 0; [MQTT-3.1.2-13] and Will
// Retain 0; [MQTT-3.1.2-12] Will QoS 3 is invalid. All malformed.
async fn connect_bad_will_flags(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    // clean start + will QoS 1 without will flag
    refused_connect(
        &mut f,
        v,
        "will QoS without will flag",
        &connect_bytes(v, 0x0A, &[], "w1"),
        &[MALFORMED],
    )
    .await;
    // clean start + will retain without will flag
    refused_connect(
        &mut f,
        v,
        "will retain without will flag",
        &connect_bytes(v, 0x22, &[], "w2"),
        &[MALFORMED],
    )
    .await;
    // clean start + will flag + will QoS 3 (will topic and payload follow the client id)
    let mut body = string(b"MQTT");
    body.push(v.level());
    body.push(0x1E);
    body.extend_from_slice(&60u16.to_be_bytes());
    body.extend_from_slice(no_props(v));
    body.extend_from_slice(&string(b"w3"));
    body.extend_from_slice(no_props(v));
    body.extend_from_slice(&string(b"will/t"));
    body.extend_from_slice(&string(b"bye"));
    refused_connect(&mut f, v, "will QoS 3", &frame(0x10, &body), &[MALFORMED]).await;
}
versioned_test!(connect_bad_will_flags);

// Spec 3.1.2.11.3 / 3.1.2.11.4: Receive Maximum 0 and Maximum Packet Size 0 in
// CONNECT are Protocol Errors.
#[tokio::test]
async fn connect_zero_receive_maximum_or_packet_size() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let rm0 = connect_bytes(v, 0x02, &[0x21, 0x00, 0x00], "rm0");
    refused_connect(&mut f, v, "Receive Maximum 0", &rm0, &[PROTOCOL]).await;
    let mps0 = connect_bytes(v, 0x02, &[0x27, 0, 0, 0, 0], "mps0");
    refused_connect(&mut f, v, "Maximum Packet Size 0", &mps0, &[PROTOCOL]).await;
}

// mqtt.idle_timeout: a TCP connection that never completes a CONNECT (silent, or
// stuck half-way through one) is closed, so idle sockets cannot pile up.
#[tokio::test]
async fn connection_without_connect_is_closed_after_idle_timeout() {
    let broker = Broker::start_with(&[("ROOST__MQTT__IDLE_TIMEOUT", "1s")]);
    let mut silent = RawClient::open(broker.addr(), ProtocolVersion::V5).await;
    let mut partial = RawClient::open(broker.addr(), ProtocolVersion::V5).await;
    partial.send_bytes(&[0x10, 0x20, 0x00, 0x04, b'M']).await;
    for (name, c) in [("silent", &mut silent), ("half a CONNECT", &mut partial)] {
        c.timeout = Duration::from_secs(4);
        match c.try_recv_for(Duration::from_secs(4)).await {
            Recv::Closed => {}
            other => panic!("{name}: expected a close after idle_timeout 1s, got {other:?}"),
        }
    }
    let mut ok = RawClient::connected(broker.addr(), ProtocolVersion::V5, "after-idle").await;
    ok.ping().await;
}

// Many offenders at once, of every kind, while the healthy client keeps going.
#[tokio::test]
async fn concurrent_bad_connections() {
    let mut f = Fixture::new().await;
    let addr = f.addr();
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        tasks.push(tokio::spawn(async move {
            let v = if i % 2 == 0 {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V3_1_1
            };
            let bytes: Vec<u8> = match i % 5 {
                0 => frame(0x36, &publish_body(v, b"a", Some(1))),
                1 => b"\x00\x00garbage".to_vec(),
                2 => vec![0x30, 0xFF, 0xFF, 0xFF, 0x7F],
                3 => frame(0x30, &publish_body(v, b"a/#", None)),
                _ => frame(0x80, &subscribe_body(v, &[("a", 1)])),
            };
            let mut c = RawClient::connected(addr, v, &format!("conc-{i}")).await;
            c.send_bytes(&bytes).await;
            let _ = c.expect_closed().await;
        }));
    }
    for t in tasks {
        t.await.expect("offender task");
    }
    f.assert_healthy("40 concurrent offenders").await;
}

// [MQTT-1.5.7-1] Both strings of a User Property are well-formed UTF-8.
#[tokio::test]
async fn user_property_invalid_utf8() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let mut props = vec![0x26];
    props.extend_from_slice(&string(&[0xFF, 0xFE]));
    props.extend_from_slice(&string(b"v"));
    let mut body = string(b"a/b");
    encode_remaining_length(props.len(), &mut body);
    body.extend_from_slice(&props);
    body.extend_from_slice(b"payload");
    case(
        &mut f,
        v,
        "User Property with invalid UTF-8",
        &frame(0x30, &body),
        &[MALFORMED],
    )
    .await;
}

// [MQTT-3.8.3-1] Topic filters are UTF-8 strings: ill-formed UTF-8 is malformed.
async fn subscribe_filter_invalid_utf8(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut body = 1u16.to_be_bytes().to_vec();
    body.extend_from_slice(no_props(v));
    body.extend_from_slice(&string(&[b'a', 0xC0, 0xAF]));
    body.push(0x01);
    case(
        &mut f,
        v,
        "SUBSCRIBE filter with invalid UTF-8",
        &frame(0x82, &body),
        &[MALFORMED],
    )
    .await;
}
versioned_test!(subscribe_filter_invalid_utf8);

// A property length running past the end of the packet is malformed.
#[tokio::test]
async fn property_length_beyond_packet() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let mut body = string(b"a/b");
    body.extend_from_slice(&[0x20, 0x01, 0x01]);
    case(
        &mut f,
        v,
        "property length beyond the packet",
        &frame(0x30, &body),
        &[MALFORMED],
    )
    .await;
}

/// The encoding of `p` for `v`.
fn bytes_of(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    roost_protocol::encode(p, v, &mut b).expect("encode");
    b.to_vec()
}

/// CONNECT, SUBSCRIBE, PUBLISH (QoS 1, to the subscribed topic) and PINGREQ.
fn session_script(v: ProtocolVersion, id: &str) -> Vec<u8> {
    let mut out = bytes_of(&Packet::Connect(connect_packet(v, id)), v);
    out.extend(bytes_of(
        &Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("ok/t".to_string(), sub_opts(QoS::AtLeastOnce))],
            ..Default::default()
        }),
        v,
    ));
    let mut p = publish_packet("ok/t", b"hello", QoS::AtLeastOnce, false);
    p.packet_id = 2;
    out.extend(bytes_of(&Packet::Publish(p), v));
    out.extend(bytes_of(&Packet::PingReq, v));
    out
}

/// Expects the answers to [`session_script`]: SUBACK, PUBACK, PINGRESP and the
/// client's own message, which must be delivered because its SUBSCRIBE came
/// first on the same connection (EMQX handles a connection's packets in order,
/// so a subscription is in effect for the next packet; request/response clients
/// that publish right after subscribing rely on it).
async fn expect_session_script_answers(c: &mut RawClient, case: &str) {
    let ack = c.expect_connack().await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{case}: {ack:?}");
    let mut got = Vec::new();
    let done = |got: &Vec<Packet>| {
        got.iter()
            .any(|p| matches!(p, Packet::SubAck(a) if a.packet_id == 1))
            && got
                .iter()
                .any(|p| matches!(p, Packet::PubAck(a) if a.packet_id == 2))
            && got
                .iter()
                .any(|p| matches!(p, Packet::Publish(m) if &m.payload[..] == b"hello"))
            && got.iter().any(|p| matches!(p, Packet::PingResp))
    };
    while !done(&got) {
        match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(p) => got.push(p),
            other => {
                let kinds: Vec<String> = got
                    .iter()
                    .map(|p| {
                        format!("{p:?}")
                            .split(['(', ' '])
                            .next()
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect();
                panic!(
                    "{case}: expected SUBACK, PUBACK, PINGRESP and the client's own message \
                     (its SUBSCRIBE preceded the PUBLISH); got {kinds:?}, then {other:?}"
                )
            }
        }
    }
}

// Not malformed at all, the reverse check: several packets in one TCP write are
// all decoded and handled in order (the decoder must keep the rest of a read).
async fn coalesced_packets_in_one_write(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = RawClient::open(f.addr(), v).await;
    c.send_bytes(&session_script(v, &format!("coalesced-{}", vname(v))))
        .await;
    expect_session_script_answers(&mut c, "coalesced").await;
    f.assert_healthy("coalesced packets").await;
}
versioned_test!(coalesced_packets_in_one_write);

// And the other extreme: the same packets one byte per write (a slow but legal
// client) are reassembled.
async fn packets_split_byte_by_byte(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = RawClient::open(f.addr(), v).await;
    for b in session_script(v, &format!("bytewise-{}", vname(v))) {
        c.send_bytes(&[b]).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    expect_session_script_answers(&mut c, "byte by byte").await;
    f.assert_healthy("byte-by-byte packets").await;
}
versioned_test!(packets_split_byte_by_byte);

// [MQTT-3.10.4-2] Pipelined the other way: UNSUBSCRIBE then PUBLISH in one
// write; once the subscription is deleted no new message may be added for the
// client, so its own PUBLISH must not come back.
async fn pipelined_unsubscribe_then_publish(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = RawClient::connected(f.addr(), v, &format!("pipe-unsub-{}", vname(v))).await;
    c.subscribe("pipe/t", QoS::AtLeastOnce).await;
    let mut bytes = bytes_of(
        &Packet::Unsubscribe(Unsubscribe {
            packet_id: 10,
            filters: vec!["pipe/t".into()],
            ..Default::default()
        }),
        v,
    );
    let mut p = publish_packet("pipe/t", b"after-unsub", QoS::AtLeastOnce, false);
    p.packet_id = 11;
    bytes.extend(bytes_of(&Packet::Publish(p), v));
    c.send_bytes(&bytes).await;
    let mut got = Vec::new();
    loop {
        match c.try_recv_for(QUIET).await {
            Recv::Packet(p) => got.push(p),
            Recv::Timeout => break,
            Recv::Closed => panic!("connection closed; got {got:?}"),
        }
    }
    assert!(
        got.iter()
            .any(|p| matches!(p, Packet::UnsubAck(a) if a.packet_id == 10)),
        "no UNSUBACK: {got:?}"
    );
    assert!(
        got.iter()
            .any(|p| matches!(p, Packet::PubAck(a) if a.packet_id == 11)),
        "no PUBACK: {got:?}"
    );
    let delivered: Vec<_> = got
        .iter()
        .filter_map(|p| {
            if let Packet::Publish(m) = p {
                Some(brief(m))
            } else {
                None
            }
        })
        .collect();
    assert!(
        delivered.is_empty(),
        "delivered after its UNSUBSCRIBE: {delivered:?}"
    );
    f.assert_healthy("pipelined unsubscribe").await;
}
versioned_test!(pipelined_unsubscribe_then_publish);

// Packets only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP) are not
// valid from a client: the connection is closed (malformed or protocol error).
async fn server_only_packets_from_client(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let cases: [(&str, &[u8]); 4] = [
        ("CONNACK", &[0x20, 0x02, 0x00, 0x00]),
        ("SUBACK", &[0x90, 0x03, 0x00, 0x01, 0x00]),
        ("UNSUBACK", &[0xB0, 0x02, 0x00, 0x01]),
        ("PINGRESP", &[0xD0, 0x00]),
    ];
    for (name, bytes) in cases {
        let bytes: Vec<u8> = if v.is_v5() && name == "SUBACK" {
            vec![0x90, 0x04, 0x00, 0x01, 0x00, 0x00]
        } else if v.is_v5() && name == "UNSUBACK" {
            vec![0xB0, 0x04, 0x00, 0x01, 0x00, 0x00]
        } else {
            bytes.to_vec()
        };
        case(
            &mut f,
            v,
            &format!("{name} from a client"),
            &bytes,
            &[MALFORMED, PROTOCOL],
        )
        .await;
    }
}
versioned_test!(server_only_packets_from_client);

// [MQTT-4.12.0-7] A client that sent no Authentication Method must not send AUTH:
// Protocol Error.
#[tokio::test]
async fn auth_without_authentication_method() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    case(
        &mut f,
        v,
        "AUTH without method",
        &[0xF0, 0x02, 0x19, 0x00],
        &[PROTOCOL],
    )
    .await;
}

// [MQTT-3.8.3-4] (3.1.1) / spec 3.8.3.1 (5.0): a requested QoS of 3 in the
// subscription options is malformed.
async fn subscribe_qos_3(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let bytes = frame(0x82, &subscribe_body(v, &[("a/b", 0x03)]));
    case(
        &mut f,
        v,
        "SUBSCRIBE requesting QoS 3",
        &bytes,
        &[MALFORMED],
    )
    .await;
}
versioned_test!(subscribe_qos_3);

// A 3.1.1 PUBACK is exactly 2 bytes of packet id; trailing bytes are malformed.
#[tokio::test]
async fn v311_puback_with_trailing_bytes() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V3_1_1;
    case(
        &mut f,
        v,
        "3.1.1 PUBACK of 3 bytes",
        &[0x40, 0x03, 0x00, 0x01, 0x00],
        &[],
    )
    .await;
}

// [MQTT-4.7.3-3] The longest legal Topic Name (65,535 bytes) is accepted and
// delivered intact: the limit is not off by one.
#[tokio::test]
async fn longest_topic_name_is_accepted() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let topic = format!("long/{}", "x".repeat(65535 - 5));
    let mut sub = RawClient::connected(f.addr(), v, "long-sub").await;
    sub.subscribe("long/+", QoS::AtLeastOnce).await;
    let mut c = RawClient::connected(f.addr(), v, "long-pub").await;
    assert_eq!(
        c.publish(&topic, b"m", QoS::AtLeastOnce, false).await,
        ReasonCode::Success
    );
    let m = sub.recv_message().await;
    assert_eq!(m.topic.len(), 65535);
    assert_eq!(m.topic, topic);
    f.assert_healthy("longest topic").await;
}

/// A small deterministic PRNG (xorshift), so a failing fuzz case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid packets of every kind a client sends, for the mutation fuzz.
fn fuzz_seeds(v: ProtocolVersion) -> Vec<Vec<u8>> {
    let mut publish = publish_packet("fuzz/t", b"payload", QoS::AtLeastOnce, false);
    publish.packet_id = 7;
    if v.is_v5() {
        publish.properties.user_properties = vec![("k".into(), "v".into())];
        publish.properties.message_expiry_interval = Some(30);
        publish.properties.content_type = Some("text/plain".into());
    }
    let mut subscribe = Subscribe {
        packet_id: 8,
        filters: vec![
            ("fuzz/#".into(), sub_opts(QoS::ExactlyOnce)),
            ("$share/g/fuzz/+".into(), sub_opts(QoS::AtLeastOnce)),
        ],
        ..Default::default()
    };
    if v.is_v5() {
        subscribe.properties.subscription_identifiers = vec![3];
    }
    let mut connect = connect_packet(v, "fuzz-second");
    connect.will = Some(will("fuzz/will", b"w", QoS::AtLeastOnce, false));
    vec![
        bytes_of(&Packet::Publish(publish), v),
        bytes_of(&Packet::Subscribe(subscribe), v),
        bytes_of(
            &Packet::Unsubscribe(Unsubscribe {
                packet_id: 9,
                filters: vec!["fuzz/#".into()],
                ..Default::default()
            }),
            v,
        ),
        bytes_of(&Packet::PubRel(PubRel::new(7)), v),
        bytes_of(&Packet::PubAck(PubAck::new(1)), v),
        bytes_of(&Packet::PingReq, v),
        bytes_of(&Packet::Connect(connect), v),
    ]
}

// Fuzz: 300 connections, each sending a mutated valid packet (bytes flipped,
// truncated or extended) or pure random bytes after CONNECT, then closing. The
// broker must survive all of it and the healthy client keeps working. The seed
// is fixed, so a failure replays.
#[tokio::test]
async fn fuzzed_packets_do_not_hurt_the_broker() {
    let mut f = Fixture::new().await;
    let addr = f.addr();
    let mut tasks = Vec::new();
    for worker in 0..10u64 {
        tasks.push(tokio::spawn(async move {
            let mut rng =
                Rng(0x9E37_79B9_7F4A_7C15 ^ (worker + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            for i in 0..30 {
                let v = if rng.below(2) == 0 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V3_1_1
                };
                let seeds = fuzz_seeds(v);
                let mut bytes = seeds[rng.below(seeds.len())].clone();
                match rng.below(4) {
                    0 => {
                        for _ in 0..1 + rng.below(3) {
                            let at = rng.below(bytes.len());
                            bytes[at] ^= 1 << rng.below(8);
                        }
                    }
                    1 => bytes.truncate(1 + rng.below(bytes.len())),
                    2 => bytes.extend((0..1 + rng.below(16)).map(|_| rng.next() as u8)),
                    _ => bytes = (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect(),
                }
                let mut c = RawClient::connected(addr, v, &format!("fuzz-{worker}-{i}")).await;
                c.send_bytes(&bytes).await;
                // Read whatever comes back for a moment (any packet must decode).
                let _ = c.try_recv_for(Duration::from_millis(20)).await;
                c.drop_connection().await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("fuzz worker");
    }
    f.assert_healthy("300 fuzzed connections").await;
}

// Pipelining at depth: 50 × (SUBSCRIBE f_i, PUBLISH to f_i) in one write. Every
// SUBSCRIBE is in effect for the PUBLISH after it, and every packet is answered.
async fn deep_subscribe_publish_pipeline(v: ProtocolVersion) {
    let mut f = Fixture::new().await;
    let mut c = RawClient::connected(f.addr(), v, &format!("deep-{}", vname(v))).await;
    let mut bytes = Vec::new();
    for i in 0..50u16 {
        let topic = format!("deep/{i}");
        bytes.extend(bytes_of(
            &Packet::Subscribe(Subscribe {
                packet_id: 1000 + i,
                filters: vec![(topic.clone(), sub_opts(QoS::AtLeastOnce))],
                ..Default::default()
            }),
            v,
        ));
        let mut p = publish_packet(&topic, topic.as_bytes(), QoS::AtLeastOnce, false);
        p.packet_id = 2000 + i;
        bytes.extend(bytes_of(&Packet::Publish(p), v));
    }
    c.send_bytes(&bytes).await;
    let (mut subacks, mut pubacks, mut delivered) = (0, 0, BTreeSet::new());
    while subacks < 50 || pubacks < 50 || delivered.len() < 50 {
        match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(Packet::SubAck(_)) => subacks += 1,
            Recv::Packet(Packet::PubAck(_)) => pubacks += 1,
            Recv::Packet(Packet::Publish(m)) => {
                c.ack(&m).await;
                delivered.insert(m.topic.clone());
            }
            other => panic!(
                "after {subacks} SUBACKs, {pubacks} PUBACKs, {} deliveries: {other:?}",
                delivered.len()
            ),
        }
    }
    f.assert_healthy("deep pipeline").await;
}
versioned_test!(deep_subscribe_publish_pipeline);

// A client blasting 5,000 QoS 0 publishes to its own subscription in one go
// without reading: the broker pushes back (or drops QoS 0) but stays healthy,
// and so does that connection once it reads again.
#[tokio::test]
async fn flood_of_pipelined_publishes() {
    let mut f = Fixture::new().await;
    let v = ProtocolVersion::V5;
    let mut c = RawClient::connected(f.addr(), v, "flood").await;
    c.subscribe("flood/t", QoS::AtMostOnce).await;
    let one = bytes_of(
        &Packet::Publish(publish_packet(
            "flood/t",
            &[b'f'; 100],
            QoS::AtMostOnce,
            false,
        )),
        v,
    );
    let bytes: Vec<u8> = one.iter().copied().cycle().take(one.len() * 5000).collect();
    // The write itself must finish: the broker keeps reading while its answers
    // pile up unread on our side.
    tokio::time::timeout(Duration::from_secs(20), c.send_bytes(&bytes))
        .await
        .expect("writing the flood stalled for 20 s");
    let mut n = 0;
    while let Recv::Packet(Packet::Publish(_)) = c.try_recv_for(Duration::from_millis(300)).await {
        n += 1;
    }
    assert!(n > 0, "none of the 5,000 QoS 0 messages came back");
    c.ping().await;
    f.assert_healthy("publish flood").await;
}
