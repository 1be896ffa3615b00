//! MQTT 5.0 properties end to end: what a publisher sets reaches subscribers
//! unaltered (or, for Message Expiry Interval, counted down), subscription
//! identifiers and options, and the CONNECT requests that shape the broker's
//! answers.

#[macro_use]
mod common;
use common::*;

const V5: ProtocolVersion = ProtocolVersion::V5;

async fn client(b: &Broker, id: &str) -> RawClient {
    RawClient::connected(b.addr(), V5, id).await
}

async fn subscriber(b: &Broker, id: &str, filter: &str) -> RawClient {
    let mut c = client(b, id).await;
    let ack = c.subscribe(filter, QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1]);
    c
}

/// A QoS 1 PUBLISH with `props`.
fn publish_props(topic: &str, payload: &[u8], props: Properties) -> Publish {
    let mut p = publish_packet(topic, payload, QoS::AtLeastOnce, false);
    p.properties = props;
    p
}

/// An offline persistent subscriber of `filter` (session kept 300 s).
async fn offline_subscriber(b: &Broker, id: &str, filter: &str) {
    let (mut c, _) = RawClient::connect_ok(b.addr(), persistent_connect(V5, id, 300)).await;
    c.subscribe(filter, QoS::AtLeastOnce).await;
    c.disconnect().await;
}

async fn reconnect(b: &Broker, id: &str) -> RawClient {
    let (c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(V5, id, 300)).await;
    assert!(
        ack.session_present,
        "session of {id} should be present: {ack:?}"
    );
    c
}

// [MQTT-3.3.2-6] A message that waited ~2 s in the server goes out with its
// Message Expiry Interval reduced by the time waited (10 -> at most 8).
#[tokio::test]
async fn message_expiry_interval_counts_down() {
    let b = Broker::start();
    offline_subscriber(&b, "exp-sub", "v5/exp/t").await;
    let mut p = client(&b, "exp-pub").await;
    let props: Properties = PropertyValues {
        message_expiry_interval: Some(10),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/exp/t", b"m", props))
        .await
        .is_error());
    // Let the message wait in the offline session; this sleep is the scenario.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut s = reconnect(&b, "exp-sub").await;
    let m = s.recv_message().await;
    let left = m
        .properties
        .message_expiry_interval
        .expect("forwarded message must carry its expiry");
    assert!(
        (1..=8).contains(&left),
        "Message Expiry Interval after ~2 s of 10: {left}"
    );
}

// [MQTT-3.3.2-5] A message whose expiry passed before delivery started is not
// delivered: of two queued messages only the one without expiry arrives.
#[tokio::test]
async fn expired_message_is_not_delivered() {
    let b = Broker::start();
    offline_subscriber(&b, "expd-sub", "v5/expd/t").await;
    let mut p = client(&b, "expd-pub").await;
    let props: Properties = PropertyValues {
        message_expiry_interval: Some(1),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/expd/t", b"short-lived", props))
        .await
        .is_error());
    assert!(!p
        .publish("v5/expd/t", b"keep", QoS::AtLeastOnce, false)
        .await
        .is_error());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut s = reconnect(&b, "expd-sub").await;
    let m = s.recv_message().await;
    assert_eq!(
        &m.payload[..],
        b"keep",
        "the expired message was delivered: {m:?}"
    );
    s.recv_none_for(QUIET).await;
}

// [MQTT-3.3.2-17] [MQTT-3.3.2-18] User Properties reach the subscriber
// unaltered and in order, repeated keys included.
#[tokio::test]
async fn user_properties_forwarded_in_order() {
    let b = Broker::start();
    let mut s = subscriber(&b, "up-sub", "v5/up/t").await;
    let mut p = client(&b, "up-pub").await;
    let ups: Vec<(String, String)> = [
        ("z", "1"),
        ("a", "2"),
        ("z", "3"),
        ("k", ""),
        ("ünï", "cödé"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let props: Properties = PropertyValues {
        user_properties: ups.clone(),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/up/t", b"m", props))
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(m.properties.user_properties, ups);
}

// [MQTT-3.3.2-15] [MQTT-3.3.2-16] Response Topic and Correlation Data are
// forwarded unaltered.
#[tokio::test]
async fn response_topic_and_correlation_data_forwarded() {
    let b = Broker::start();
    let mut s = subscriber(&b, "rr-sub", "v5/req/t").await;
    let mut p = client(&b, "rr-pub").await;
    let corr = Bytes::from_static(&[0, 1, 2, 0xFF, 0xFE]);
    let props: Properties = PropertyValues {
        response_topic: Some("v5/resp/for-rr".into()),
        correlation_data: Some(corr.clone()),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/req/t", b"m", props))
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(
        m.properties.response_topic.as_deref(),
        Some("v5/resp/for-rr")
    );
    assert_eq!(m.properties.correlation_data, Some(corr));
}

// [MQTT-3.3.2-4] [MQTT-3.3.2-20] Payload Format Indicator and Content Type are
// forwarded unaltered.
#[tokio::test]
async fn payload_format_and_content_type_forwarded() {
    let b = Broker::start();
    let mut s = subscriber(&b, "pf-sub", "v5/pf/t").await;
    let mut p = client(&b, "pf-pub").await;
    let props: Properties = PropertyValues {
        payload_format_indicator: Some(1),
        content_type: Some("application/json; charset=utf-8".into()),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/pf/t", b"{\"a\":1}", props))
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(m.properties.payload_format_indicator, Some(1));
    assert_eq!(
        m.properties.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
}

/// Subscribes `filter` with Subscription Identifier `id` (none if 0).
async fn subscribe_with_id(c: &mut RawClient, filter: &str, id: u32) {
    let pid = c.next_pid();
    let mut sub = Subscribe {
        packet_id: pid,
        filters: vec![(filter.to_string(), sub_opts(QoS::AtLeastOnce))],
        ..Default::default()
    };
    if id != 0 {
        sub.properties.subscription_identifiers = vec![id];
    }
    let ack = c.subscribe_with(sub).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1], "{ack:?}");
}

// [MQTT-3.3.4-3] A message matching a subscription made with Subscription
// Identifier 7 carries 7; one matching a subscription without one carries none.
#[tokio::test]
async fn subscription_identifier_delivered() {
    let b = Broker::start();
    let mut s = client(&b, "sid-sub").await;
    subscribe_with_id(&mut s, "v5/sid/with", 7).await;
    subscribe_with_id(&mut s, "v5/sid/without", 0).await;
    let mut p = client(&b, "sid-pub").await;
    assert!(!p
        .publish("v5/sid/with", b"a", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert!(!p
        .publish("v5/sid/without", b"b", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(
        (m.topic.as_str(), &m.properties.subscription_identifiers[..]),
        ("v5/sid/with", &[7u32][..])
    );
    let m = s.recv_message().await;
    assert_eq!(
        (m.topic.as_str(), &m.properties.subscription_identifiers[..]),
        ("v5/sid/without", &[][..])
    );
}

// [MQTT-3.8.3-3] With No Local, a client's own publishes are not sent back to it;
// a subscriber without No Local (control) gets them.
#[tokio::test]
async fn no_local_suppresses_own_messages() {
    let b = Broker::start();
    let mut me = client(&b, "nl-me").await;
    let opts = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        ..Default::default()
    };
    let ack = me.subscribe_opts(&[("v5/nl/t", opts)]).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1]);
    let mut control = subscriber(&b, "nl-control", "v5/nl/t").await;
    let mut other = client(&b, "nl-other").await;
    assert!(!me
        .publish("v5/nl/t", b"own", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert!(!other
        .publish("v5/nl/t", b"other", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = me.recv_message().await;
    assert_eq!(
        &m.payload[..],
        b"other",
        "No Local subscriber got its own message: {m:?}"
    );
    me.recv_none_for(QUIET).await;
    let got: Vec<_> = control
        .recv_messages(2)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(
        got,
        vec![Bytes::from_static(b"own"), Bytes::from_static(b"other")]
    );
}

// [MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published 1 keeps the RETAIN flag of
// a live retained publish; 0 clears it.
#[tokio::test]
async fn retain_as_published() {
    let b = Broker::start();
    let mut rap = client(&b, "rap-1").await;
    let opts = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        retain_as_published: true,
        ..Default::default()
    };
    rap.subscribe_opts(&[("v5/rap/t", opts)]).await;
    let mut plain = subscriber(&b, "rap-0", "v5/rap/t").await;
    let mut p = client(&b, "rap-pub").await;
    assert!(!p
        .publish("v5/rap/t", b"r", QoS::AtLeastOnce, true)
        .await
        .is_error());
    assert!(!p
        .publish("v5/rap/t", b"n", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let got: Vec<_> = rap
        .recv_messages(2)
        .await
        .iter()
        .map(|m| m.retain)
        .collect();
    assert_eq!(got, vec![true, false], "Retain As Published 1");
    let got: Vec<_> = plain
        .recv_messages(2)
        .await
        .iter()
        .map(|m| m.retain)
        .collect();
    assert_eq!(got, vec![false, false], "Retain As Published 0");
}

// [MQTT-3.1.2-29] With Request Problem Information 0 the server sends no Reason
// String or User Property on any packet but PUBLISH, CONNACK and DISCONNECT. The
// test provokes acknowledgements with error or non-success codes, where a broker
// is most tempted to explain: PUBACK 0x10 (no subscribers), SUBACK 0x9E (shared
// subscriptions disabled), UNSUBACK 0x11, PUBCOMP 0x92 (unknown packet id).
#[tokio::test]
async fn request_problem_information_zero() {
    let b = Broker::start_with(&[("ROOST__MQTT__SHARED_SUBSCRIPTION", "false")]);
    let mut c = connect_packet(V5, "rpi-0");
    c.properties.request_problem_information = Some(0);
    let (mut c, _) = RawClient::connect_ok(b.addr(), c).await;
    let check = |what: &str, props: &Properties| {
        assert_eq!(
            props.reason_string, None,
            "{what} carries a Reason String: {props:?}"
        );
        assert!(
            props.user_properties.is_empty(),
            "{what} carries User Properties: {props:?}"
        );
    };

    let pid = c.next_pid();
    c.send(&Packet::Publish(Publish {
        packet_id: pid,
        ..publish_packet("v5/rpi/nobody", b"x", QoS::AtLeastOnce, false)
    }))
    .await;
    match c
        .recv_matching("PUBACK", |p| matches!(p, Packet::PubAck(_)))
        .await
    {
        Packet::PubAck(a) => check("PUBACK", &a.properties),
        _ => unreachable!(),
    }
    let pid = c.next_pid();
    c.send(&Packet::Publish(Publish {
        packet_id: pid,
        ..publish_packet("v5/rpi/nobody", b"x", QoS::ExactlyOnce, false)
    }))
    .await;
    match c
        .recv_matching("PUBREC", |p| matches!(p, Packet::PubRec(_)))
        .await
    {
        Packet::PubRec(a) => check("PUBREC", &a.properties),
        _ => unreachable!(),
    }
    c.send(&Packet::PubRel(PubRel::new(pid))).await;
    match c
        .recv_matching("PUBCOMP", |p| matches!(p, Packet::PubComp(_)))
        .await
    {
        Packet::PubComp(a) => check("PUBCOMP", &a.properties),
        _ => unreachable!(),
    }
    c.send(&Packet::PubRel(PubRel::new(999))).await;
    match c
        .recv_matching("PUBCOMP", |p| matches!(p, Packet::PubComp(_)))
        .await
    {
        Packet::PubComp(a) => check("PUBCOMP for an unknown packet id", &a.properties),
        _ => unreachable!(),
    }
    let ack = c.subscribe("$share/g/v5/rpi/t", QoS::AtLeastOnce).await;
    check("SUBACK", &ack.properties);
    let ack = c.unsubscribe(&["v5/rpi/never-subscribed"]).await;
    check("UNSUBACK", &ack.properties);
}

// [MQTT-3.1.2-28] mqtt.response_information is returned in CONNACK to a client
// that sets Request Response Information 1, and only then.
#[tokio::test]
async fn response_information_on_request() {
    let b = Broker::start_with(&[("ROOST__MQTT__RESPONSE_INFORMATION", "resp/")]);
    let mut c = connect_packet(V5, "ri-1");
    c.properties.request_response_information = Some(1);
    let (_c1, ack) = RawClient::connect_ok(b.addr(), c).await;
    assert_eq!(
        ack.properties.response_information.as_deref(),
        Some("resp/"),
        "{ack:?}"
    );
    let mut c = connect_packet(V5, "ri-0");
    c.properties.request_response_information = Some(0);
    let (_c0, ack) = RawClient::connect_ok(b.addr(), c).await;
    assert_eq!(ack.properties.response_information, None, "{ack:?}");
    let (_c2, ack) = RawClient::connect_ok(b.addr(), connect_packet(V5, "ri-absent")).await;
    assert_eq!(ack.properties.response_information, None, "{ack:?}");
}

/// Reason codes a DISCONNECT may carry (spec 3.14.2.1).
const DISCONNECT_CODES: [u8; 29] = [
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];

/// The server's DISCONNECT, decoded and checked byte-wise: fixed header 0xE0, a
/// DISCONNECT reason code [MQTT-3.14.2-1], no Session Expiry Interval
/// [MQTT-3.14.2-2], and a Server Reference only with 0x9C / 0x9D.
async fn server_disconnect(c: &mut RawClient) -> Disconnect {
    let d = match c.try_recv_for(RECV_TIMEOUT).await {
        Recv::Packet(Packet::Disconnect(d)) => d,
        other => panic!("expected the server's DISCONNECT, got {other:?}"),
    };
    let frame = c.last_frame();
    assert_eq!(frame[0], 0xE0, "DISCONNECT fixed header: {frame:02x?}");
    let code = d.reason_code as u8;
    assert!(
        DISCONNECT_CODES.contains(&code),
        "not a DISCONNECT code: {code:#x}"
    );
    match c.try_recv_for(RECV_TIMEOUT).await {
        Recv::Closed => {}
        other => panic!(
            "nothing may follow DISCONNECT and the server must close [MQTT-3.14.4-1]: {other:?}"
        ),
    }
    assert_eq!(d.properties.session_expiry_interval, None, "{d:?}");
    if !matches!(
        d.reason_code,
        ReasonCode::UseAnotherServer | ReasonCode::ServerMoved
    ) {
        assert_eq!(d.properties.server_reference, None, "{d:?}");
    }
    d
}

// Server DISCONNECTs are well formed, for several causes.
#[tokio::test]
async fn server_disconnects_are_well_formed() {
    let b = Broker::start();
    // Protocol error: a second CONNECT [MQTT-3.1.0-2].
    let mut c = client(&b, "wf-1").await;
    c.send(&Packet::Connect(connect_packet(V5, "wf-1"))).await;
    assert_eq!(
        server_disconnect(&mut c).await.reason_code,
        ReasonCode::ProtocolError
    );
    // Session taken over [MQTT-3.1.4-3].
    let mut old = client(&b, "wf-2").await;
    let _new = client(&b, "wf-2").await;
    assert_eq!(
        server_disconnect(&mut old).await.reason_code,
        ReasonCode::SessionTakenOver
    );
    // Topic alias invalid.
    let mut c = client(&b, "wf-3").await;
    let mut p = publish_packet("v5/wf", b"x", QoS::AtLeastOnce, false);
    p.packet_id = 1;
    p.properties.topic_alias = Some(0);
    c.send(&Packet::Publish(p)).await;
    assert_eq!(
        server_disconnect(&mut c).await.reason_code,
        ReasonCode::TopicAliasInvalid
    );
}

// [MQTT-3.3.4-6] A PUBLISH from a client must not carry a Subscription
// Identifier: Protocol Error, DISCONNECT 0x82.
#[tokio::test]
async fn client_publish_with_subscription_identifier() {
    let b = Broker::start();
    let mut c = client(&b, "pub-sid").await;
    let mut p = publish_packet("v5/psid", b"x", QoS::AtLeastOnce, false);
    p.packet_id = 1;
    p.properties.subscription_identifiers = vec![5];
    c.send(&Packet::Publish(p)).await;
    c.expect_disconnect(ReasonCode::ProtocolError).await;
}

// Spec 3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error. Sent as raw
// bytes: roost-protocol refuses to encode it.
#[tokio::test]
async fn subscription_identifier_zero() {
    let b = Broker::start();
    let mut c = client(&b, "sid-0").await;
    let mut body = vec![0x00, 0x01, 0x02, 0x0B, 0x00];
    body.extend_from_slice(&[0x00, 0x07]);
    body.extend_from_slice(b"v5/sid0");
    body.push(0x01);
    let mut bytes = vec![0x82];
    encode_remaining_length(body.len(), &mut bytes);
    bytes.extend_from_slice(&body);
    c.send_bytes(&bytes).await;
    c.expect_disconnect(ReasonCode::ProtocolError).await;
}

// [MQTT-3.3.2-6] Even delivered at once, a message keeps an expiry no larger than
// the one it was published with; one published without expiry gets none.
#[tokio::test]
async fn live_delivery_keeps_expiry() {
    let b = Broker::start();
    let mut s = subscriber(&b, "live-exp-sub", "v5/lexp/+").await;
    let mut p = client(&b, "live-exp-pub").await;
    let props: Properties = PropertyValues {
        message_expiry_interval: Some(100),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/lexp/a", b"m", props))
        .await
        .is_error());
    assert!(!p
        .publish("v5/lexp/b", b"n", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = s.recv_message().await;
    let left = m.properties.message_expiry_interval;
    assert!(
        matches!(left, Some(99..=100)),
        "expiry of a live delivery: {left:?}"
    );
    let m = s.recv_message().await;
    assert_eq!(m.properties.message_expiry_interval, None, "{m:?}");
}

// [MQTT-3.3.2-5] [MQTT-3.3.2-6] Retained messages expire too: one retained with
// an interval of 1 s is gone 2 s later, while one with 60 s is delivered with
// its interval counted down.
#[tokio::test]
async fn retained_message_expiry() {
    let b = Broker::start();
    let mut p = client(&b, "rexp-pub").await;
    let short: Properties = PropertyValues {
        message_expiry_interval: Some(1),
        ..Default::default()
    }
    .into();
    let long: Properties = PropertyValues {
        message_expiry_interval: Some(60),
        ..Default::default()
    }
    .into();
    let mut m = publish_props("v5/rexp/short", b"s", short);
    m.retain = true;
    assert!(!p.publish_with(m).await.is_error());
    let mut m = publish_props("v5/rexp/long", b"l", long);
    m.retain = true;
    assert!(!p.publish_with(m).await.is_error());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut s = subscriber(&b, "rexp-sub", "v5/rexp/+").await;
    let m = s.recv_message().await;
    assert_eq!(
        m.topic, "v5/rexp/long",
        "the expired retained message was delivered: {m:?}"
    );
    let left = m.properties.message_expiry_interval;
    assert!(
        matches!(left, Some(1..=58)),
        "retained expiry after ~2 s of 60: {left:?}"
    );
    s.recv_none_for(QUIET).await;
}

// [MQTT-3.8.4-3] Subscribing again to the same filter replaces the subscription,
// its identifier included.
#[tokio::test]
async fn resubscribe_replaces_subscription_identifier() {
    let b = Broker::start();
    let mut s = client(&b, "resid-sub").await;
    subscribe_with_id(&mut s, "v5/resid/t", 1).await;
    subscribe_with_id(&mut s, "v5/resid/t", 2).await;
    let mut p = client(&b, "resid-pub").await;
    assert!(!p
        .publish("v5/resid/t", b"m", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(m.properties.subscription_identifiers, vec![2]);
    s.recv_none_for(QUIET).await;
}

// [MQTT-3.3.4-3] A retained message sent because of a subscription carries that
// subscription's identifier.
#[tokio::test]
async fn retained_delivery_carries_subscription_identifier() {
    let b = Broker::start();
    let mut p = client(&b, "rsid-pub").await;
    assert!(!p
        .publish("v5/rsid/t", b"r", QoS::AtLeastOnce, true)
        .await
        .is_error());
    let mut s = client(&b, "rsid-sub").await;
    subscribe_with_id(&mut s, "v5/rsid/#", 42).await;
    let m = s.recv_message().await;
    assert!(m.retain, "{m:?}");
    assert_eq!(m.properties.subscription_identifiers, vec![42]);
}

// [MQTT-3.3.4-3] Subscription identifiers work on shared subscriptions too.
#[tokio::test]
async fn shared_subscription_carries_identifier() {
    let b = Broker::start();
    let mut s = client(&b, "ssid-sub").await;
    subscribe_with_id(&mut s, "$share/g/v5/ssid/t", 9).await;
    let mut p = client(&b, "ssid-pub").await;
    assert!(!p
        .publish("v5/ssid/t", b"m", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(m.properties.subscription_identifiers, vec![9]);
}

/// Every forwardable property of a PUBLISH.
fn all_forwarded_props() -> Properties {
    PropertyValues {
        payload_format_indicator: Some(1),
        content_type: Some("text/plain".into()),
        response_topic: Some("v5/keep/resp".into()),
        correlation_data: Some(Bytes::from_static(b"\x01\x02corr")),
        user_properties: vec![
            ("b".into(), "1".into()),
            ("a".into(), "2".into()),
            ("b".into(), "3".into()),
        ],
        ..Default::default()
    }
    .into()
}

fn assert_props_kept(what: &str, m: &Publish) {
    let want = all_forwarded_props();
    let got = &m.properties;
    assert_eq!(
        got.payload_format_indicator, want.payload_format_indicator,
        "{what}"
    );
    assert_eq!(got.content_type, want.content_type, "{what}");
    assert_eq!(got.response_topic, want.response_topic, "{what}");
    assert_eq!(got.correlation_data, want.correlation_data, "{what}");
    assert_eq!(got.user_properties, want.user_properties, "{what}");
}

// [MQTT-3.3.2-4] [MQTT-3.3.2-15..18] [MQTT-3.3.2-20] Properties survive storage:
// a retained message sent at subscribe time and a message queued for an offline
// session carry them unaltered.
#[tokio::test]
async fn properties_survive_retained_store_and_offline_queue() {
    let b = Broker::start();
    offline_subscriber(&b, "keep-off", "v5/keep/q").await;
    let mut p = client(&b, "keep-pub").await;
    let mut m = publish_props("v5/keep/r", b"retained", all_forwarded_props());
    m.retain = true;
    assert!(!p.publish_with(m).await.is_error());
    assert!(!p
        .publish_with(publish_props("v5/keep/q", b"queued", all_forwarded_props()))
        .await
        .is_error());

    let mut s = subscriber(&b, "keep-ret", "v5/keep/r").await;
    let m = s.recv_message().await;
    assert!(m.retain);
    assert_props_kept("retained message", &m);

    let mut s = reconnect(&b, "keep-off").await;
    let m = s.recv_message().await;
    assert_eq!(&m.payload[..], b"queued");
    assert_props_kept("message queued for an offline session", &m);
}

// Spec 3.8.2.1.2: Subscription Identifier ranges up to 268,435,455 (the largest
// Variable Byte Integer) and comes back intact.
#[tokio::test]
async fn largest_subscription_identifier() {
    let b = Broker::start();
    let mut s = client(&b, "maxsid-sub").await;
    subscribe_with_id(&mut s, "v5/maxsid/t", 268_435_455).await;
    let mut p = client(&b, "maxsid-pub").await;
    assert!(!p
        .publish("v5/maxsid/t", b"m", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(m.properties.subscription_identifiers, vec![268_435_455]);
}

// [MQTT-3.3.2-6] A message resent after a reconnect has waited longer: its
// Message Expiry Interval is counted down again.
#[tokio::test]
async fn resent_message_expiry_counts_down() {
    let b = Broker::start();
    let (mut s, _) =
        RawClient::connect_ok(b.addr(), persistent_connect(V5, "rexp2-sub", 300)).await;
    s.subscribe("v5/rexp2/t", QoS::AtLeastOnce).await;
    let mut p = client(&b, "rexp2-pub").await;
    let props: Properties = PropertyValues {
        message_expiry_interval: Some(10),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/rexp2/t", b"m", props))
        .await
        .is_error());
    let first = s.expect_publish().await; // not acknowledged
    assert!(
        matches!(first.properties.message_expiry_interval, Some(9..=10)),
        "{first:?}"
    );
    s.drop_connection().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut s = reconnect(&b, "rexp2-sub").await;
    let again = s.recv_message().await;
    assert!(again.dup, "{again:?}");
    let left = again.properties.message_expiry_interval;
    assert!(
        matches!(left, Some(1..=8)),
        "expiry of a message resent after ~2 s: {left:?}"
    );
}

// mqtt.ignore_loop_deliver (EMQX): a client's own publishes are not delivered
// back to it, whatever its protocol version; others' are.
async fn ignore_loop_deliver(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__IGNORE_LOOP_DELIVER", "true")]);
    let mut me = RawClient::connected(b.addr(), v, &format!("loop-me-{}", vname(v))).await;
    me.subscribe("v5/loop/t", QoS::AtLeastOnce).await;
    let mut other = RawClient::connected(b.addr(), v, &format!("loop-other-{}", vname(v))).await;
    assert!(!me
        .publish("v5/loop/t", b"own", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert!(!other
        .publish("v5/loop/t", b"other", QoS::AtLeastOnce, false)
        .await
        .is_error());
    let m = me.recv_message().await;
    assert_eq!(
        &m.payload[..],
        b"other",
        "own message delivered back: {}",
        brief(&m)
    );
    me.recv_none_for(QUIET).await;
}
versioned_test!(ignore_loop_deliver);

// [MQTT-3.3.2-17] [MQTT-3.3.2-18] Many User Properties (200) all arrive, in order.
#[tokio::test]
async fn many_user_properties_forwarded() {
    let b = Broker::start();
    let mut s = subscriber(&b, "mup-sub", "v5/mup/t").await;
    let mut p = client(&b, "mup-pub").await;
    let ups: Vec<(String, String)> = (0..200)
        .map(|i| (format!("k{}", i % 7), format!("v{i}")))
        .collect();
    let props: Properties = PropertyValues {
        user_properties: ups.clone(),
        ..Default::default()
    }
    .into();
    assert!(!p
        .publish_with(publish_props("v5/mup/t", b"m", props))
        .await
        .is_error());
    let m = s.recv_message().await;
    assert_eq!(m.properties.user_properties, ups);
}
