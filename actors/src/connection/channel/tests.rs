//! The channel driven with packets and instants only: no socket, no actor, no
//! clock. Normative statements are cited from the MQTT 5.0 OASIS standard
//! unless a test says 3.1.1.

use super::*;
use bytes::Bytes;
use roost_core::config::ServerKeepaliveMode;
use roost_protocol::{PubRel, SubAck, SubscriptionOptions, UnsubAck, Unsubscribe};

const SEED: u64 = 0x5eed;

fn connect(version: ProtocolVersion, client_id: &str, clean_start: bool) -> Connect {
    Connect {
        protocol: version,
        clean_start,
        keep_alive: 30,
        client_id: client_id.into(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    }
}

fn connected(version: ProtocolVersion, config: MqttConfig) -> Channel {
    let mut ch = Channel::new(config, SEED);
    ch.connect(&connect(version, "c1", true)).expect("accepted");
    ch
}

fn v5() -> Channel {
    connected(ProtocolVersion::V5, MqttConfig::default())
}

fn publish(topic: &str, qos: QoS, packet_id: u16) -> Packet {
    Packet::Publish(Publish {
        topic: topic.into(),
        qos,
        packet_id,
        payload: Bytes::from_static(b"x"),
        ..Default::default()
    })
}

fn aliased(topic: &str, alias: u16) -> Packet {
    let Packet::Publish(mut p) = publish(topic, QoS::AtMostOnce, 0) else {
        unreachable!()
    };
    p.properties.topic_alias = Some(alias);
    Packet::Publish(p)
}

fn pubrel(packet_id: u16) -> Packet {
    Packet::PubRel(PubRel {
        packet_id,
        ..Default::default()
    })
}

/// The message and ack of a PUBLISH the channel routes.
fn routed(effect: Effect) -> (Arc<Message>, Option<Packet>) {
    match effect {
        Effect::Publish { message, ack } => (message, ack),
        other => panic!("not routed: {other:?}"),
    }
}

/// The packet the channel answers with.
fn sent(effect: Effect) -> Packet {
    match effect {
        Effect::Send(p) => p,
        other => panic!("nothing sent: {other:?}"),
    }
}

/// The reason code of a protocol violation.
fn violated(effect: Effect) -> ReasonCode {
    match effect {
        Effect::Violation(v) => v.reason,
        other => panic!("no violation: {other:?}"),
    }
}

/// The reason code of the PUBCOMP answering a PUBREL of `packet_id`.
fn pubcomp(effect: Effect, packet_id: u16) -> ReasonCode {
    match sent(effect) {
        Packet::PubComp(c) => {
            assert_eq!(c.packet_id, packet_id);
            c.reason_code
        }
        other => panic!("not a PUBCOMP: {other:?}"),
    }
}

fn is_pubrec(packet: &Option<Packet>, packet_id: u16, code: ReasonCode) -> bool {
    matches!(packet, Some(Packet::PubRec(r)) if r.packet_id == packet_id && r.reason_code == code)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn first_packet_must_be_connect() {
    let now = Instant::now();
    // [MQTT-3.1.0-1] anything before CONNECT closes the connection.
    for packet in [
        Packet::PingReq,
        publish("t", QoS::AtLeastOnce, 1),
        pubrel(1),
        Packet::Disconnect(Disconnect::default()),
        Packet::Auth(Auth::default()),
    ] {
        let mut ch = Channel::new(MqttConfig::default(), SEED);
        assert!(matches!(ch.handle_in(packet, now), Effect::Close));
        assert!(!ch.is_connected());
    }
    let mut ch = Channel::new(MqttConfig::default(), SEED);
    match ch.handle_in(
        Packet::Connect(connect(ProtocolVersion::V5, "a", true)),
        now,
    ) {
        Effect::Connect(c) => assert_eq!(c.client_id, "a"),
        other => panic!("{other:?}"),
    }
    // Connected only once the CONNECT flow accepted it.
    assert!(!ch.is_connected());
}

#[test]
fn second_connect_is_a_protocol_error() {
    let mut ch = v5();
    let now = Instant::now();
    // [MQTT-3.1.0-2]
    let again = Packet::Connect(connect(ProtocolVersion::V5, "c1", true));
    assert_eq!(
        violated(ch.handle_in(again, now)),
        ReasonCode::ProtocolError
    );
    assert!(matches!(ch.handle_in(Packet::PingReq, now), Effect::Close));
}

#[test]
fn server_to_client_packets_from_a_client_are_a_protocol_error() {
    let now = Instant::now();
    for packet in [
        Packet::ConnAck(ConnAck::default()),
        Packet::SubAck(SubAck::default()),
        Packet::UnsubAck(UnsubAck::default()),
        Packet::PingResp,
    ] {
        let mut ch = v5();
        assert_eq!(
            violated(ch.handle_in(packet, now)),
            ReasonCode::ProtocolError
        );
    }
}

#[test]
fn pingreq_is_answered_with_pingresp() {
    let mut ch = v5();
    // [MQTT-3.12.4-1]
    assert!(matches!(
        sent(ch.handle_in(Packet::PingReq, Instant::now())),
        Packet::PingResp
    ));
}

#[test]
fn qos0_and_qos1_publishes_are_routed_with_their_ack() {
    let mut ch = v5();
    let now = Instant::now();
    let (message, ack) = routed(ch.handle_in(publish("a/b", QoS::AtMostOnce, 0), now));
    assert_eq!((&*message.topic, &*message.from), ("a/b", "c1"));
    assert!(ack.is_none());
    // [MQTT-4.3.2-4] PUBACK with the PUBLISH's packet id, sent once routed.
    let (message, ack) = routed(ch.handle_in(publish("a/b", QoS::AtLeastOnce, 7), now));
    assert_eq!(message.qos, QoS::AtLeastOnce);
    assert!(
        matches!(ack, Some(Packet::PubAck(a)) if a.packet_id == 7 && a.reason_code == ReasonCode::Success)
    );
    // [MQTT-4.3.2-5] after the PUBACK, the same packet id is a new message.
    let (_, ack) = routed(ch.handle_in(publish("a/b", QoS::AtLeastOnce, 7), now));
    assert!(matches!(ack, Some(Packet::PubAck(_))));
}

#[test]
fn qos2_inbound_is_deduplicated_until_pubrel() {
    let mut ch = v5();
    let now = Instant::now();
    // [MQTT-4.3.3-8] PUBREC with the PUBLISH's packet id.
    let (_, ack) = routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 5), now));
    assert!(is_pubrec(&ack, 5, ReasonCode::Success));
    // [MQTT-4.3.3-10] until PUBREL, a resent PUBLISH is acknowledged again
    // and not routed a second time.
    let again = sent(ch.handle_in(publish("t", QoS::ExactlyOnce, 5), now));
    assert!(is_pubrec(&Some(again), 5, ReasonCode::Success));
    // [MQTT-4.3.3-11] PUBREL is answered with PUBCOMP of the same id.
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(5), now), 5),
        ReasonCode::Success
    );
    // Released: a second PUBREL finds nothing, 0x92 (5.0 §3.7.2.1).
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(5), now), 5),
        ReasonCode::PacketIdentifierNotFound
    );
    // [MQTT-4.3.3-12] after PUBCOMP, the id starts a new message.
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 5), now));
}

#[test]
fn pubrel_of_an_unknown_packet_id() {
    let now = Instant::now();
    // 5.0: PUBCOMP 0x92 Packet Identifier not found (§3.7.2.1).
    let mut ch = v5();
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(9), now), 9),
        ReasonCode::PacketIdentifierNotFound
    );
    // 3.1.1 has no reason codes: PUBCOMP all the same [MQTT-4.3.3-2] (3.1.1).
    let mut ch = connected(ProtocolVersion::V3_1_1, MqttConfig::default());
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(9), now), 9),
        ReasonCode::Success
    );
}

#[test]
fn awaiting_rel_expires_after_await_rel_timeout() {
    let mut ch = connected(
        ProtocolVersion::V5,
        MqttConfig {
            await_rel_timeout: secs(10),
            ..Default::default()
        },
    );
    let t0 = Instant::now();
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 1), t0));
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 2), t0));
    // Within mqtt.await_rel_timeout the id is released as usual.
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(1), t0 + secs(9)), 1),
        ReasonCode::Success
    );
    // Past it the id was forgotten (as EMQX's expire_awaiting_rel): 0x92.
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(2), t0 + secs(10)), 2),
        ReasonCode::PacketIdentifierNotFound
    );
}

#[test]
fn receive_maximum_exceeded_is_0x93() {
    let config = MqttConfig {
        max_inflight: 2,
        await_rel_timeout: secs(10),
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut ch = connected(ProtocolVersion::V5, config.clone());
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 1), t0));
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 2), t0));
    // [MQTT-3.3.4-7] no more QoS 2 PUBLISH than our Receive Maximum (the
    // CONNACK's, mqtt.max_inflight) unreleased: DISCONNECT 0x93 (§3.1.2.11.3).
    assert_eq!(
        violated(ch.handle_in(publish("t", QoS::ExactlyOnce, 3), t0 + secs(9))),
        ReasonCode::ReceiveMaximumExceeded
    );
    // Ids older than mqtt.await_rel_timeout are forgotten to make room.
    let mut ch = connected(ProtocolVersion::V5, config);
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 1), t0));
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 2), t0 + secs(5)));
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 3), t0 + secs(10)));
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(1), t0 + secs(10)), 1),
        ReasonCode::PacketIdentifierNotFound
    );
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(2), t0 + secs(10)), 2),
        ReasonCode::Success
    );
}

#[test]
fn v3_awaiting_rel_is_bounded_by_max_awaiting_rel() {
    let mut ch = connected(
        ProtocolVersion::V3_1_1,
        MqttConfig {
            max_awaiting_rel: 1,
            ..Default::default()
        },
    );
    let now = Instant::now();
    routed(ch.handle_in(publish("t", QoS::ExactlyOnce, 1), now));
    assert_eq!(
        violated(ch.handle_in(publish("t", QoS::ExactlyOnce, 2), now)),
        ReasonCode::ReceiveMaximumExceeded
    );
}

#[test]
fn restored_awaiting_rel_ids_are_deduplicated_and_expire() {
    let mut ch = connected(
        ProtocolVersion::V5,
        MqttConfig {
            await_rel_timeout: secs(10),
            ..Default::default()
        },
    );
    let t0 = Instant::now();
    ch.restore_awaiting_rel(vec![7, 8], t0);
    // [MQTT-4.3.3-10] across connections too (the session kept the ids).
    let again = sent(ch.handle_in(publish("t", QoS::ExactlyOnce, 7), t0 + secs(1)));
    assert!(is_pubrec(&Some(again), 7, ReasonCode::Success));
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(7), t0 + secs(1)), 7),
        ReasonCode::Success
    );
    // Restored at t0, so they expire counting from t0.
    assert_eq!(
        pubcomp(ch.handle_in(pubrel(8), t0 + secs(10)), 8),
        ReasonCode::PacketIdentifierNotFound
    );
    assert!(ch.take_awaiting_rel().is_empty());
}

#[test]
fn inbound_topic_alias() {
    let config = MqttConfig {
        max_topic_alias: 10,
        ..Default::default()
    };
    let now = Instant::now();
    let mut ch = connected(ProtocolVersion::V5, config.clone());
    let (message, _) = routed(ch.handle_in(aliased("a/b", 3), now));
    assert_eq!(&*message.topic, "a/b");
    // [MQTT-3.3.2-12] empty topic + known alias resolves to the topic.
    let (message, _) = routed(ch.handle_in(aliased("", 3), now));
    assert_eq!(&*message.topic, "a/b");
    // A topic with a known alias sets it anew.
    routed(ch.handle_in(aliased("c", 3), now));
    let (message, _) = routed(ch.handle_in(aliased("", 3), now));
    assert_eq!(&*message.topic, "c");
    // [MQTT-3.3.2-9] an alias above the server's Topic Alias Maximum: 0x94.
    let mut ch = connected(ProtocolVersion::V5, config.clone());
    assert_eq!(
        violated(ch.handle_in(aliased("x", 11), now)),
        ReasonCode::TopicAliasInvalid
    );
    // [MQTT-3.3.2-8] alias 0: 0x94.
    let mut ch = connected(ProtocolVersion::V5, config.clone());
    assert_eq!(
        violated(ch.handle_in(aliased("x", 0), now)),
        ReasonCode::TopicAliasInvalid
    );
    // An alias nobody set is a Protocol Error (§3.3.2.3.4), also one set on an
    // earlier connection [MQTT-3.3.2-7].
    let mut ch = connected(ProtocolVersion::V5, config);
    assert_eq!(
        violated(ch.handle_in(aliased("", 3), now)),
        ReasonCode::ProtocolError
    );
    // No aliases at all when the server's maximum is 0.
    let mut ch = connected(
        ProtocolVersion::V5,
        MqttConfig {
            max_topic_alias: 0,
            ..Default::default()
        },
    );
    assert_eq!(
        violated(ch.handle_in(aliased("x", 1), now)),
        ReasonCode::TopicAliasInvalid
    );
}

#[test]
fn empty_topic_without_alias_is_a_protocol_error() {
    let mut ch = v5();
    // §3.3.2.3.4: a zero-length Topic Name without a Topic Alias.
    assert_eq!(
        violated(ch.handle_in(publish("", QoS::AtMostOnce, 0), Instant::now())),
        ReasonCode::ProtocolError
    );
}

#[test]
fn qos_and_retain_above_what_the_server_allows_are_refused() {
    let now = Instant::now();
    let mut ch = connected(
        ProtocolVersion::V5,
        MqttConfig {
            max_qos_allowed: 1,
            ..Default::default()
        },
    );
    // Above the CONNACK's Maximum QoS: 0x9B (§3.2.2.3.4).
    assert_eq!(
        violated(ch.handle_in(publish("t", QoS::ExactlyOnce, 1), now)),
        ReasonCode::QoSNotSupported
    );
    let mut ch = connected(
        ProtocolVersion::V5,
        MqttConfig {
            retain_available: false,
            ..Default::default()
        },
    );
    let Packet::Publish(mut p) = publish("t", QoS::AtMostOnce, 0) else {
        unreachable!()
    };
    p.retain = true;
    // Retain Available 0: 0x9A (§3.2.2.3.5).
    assert_eq!(
        violated(ch.handle_in(Packet::Publish(p), now)),
        ReasonCode::RetainNotSupported
    );
}

#[test]
fn sys_topics_are_refused_and_subscription_ids_are_a_protocol_error() {
    let mut ch = v5();
    let now = Instant::now();
    match sent(ch.handle_in(publish("$SYS/x", QoS::AtLeastOnce, 1), now)) {
        Packet::PubAck(a) => assert_eq!(a.reason_code, ReasonCode::NotAuthorized),
        other => panic!("{other:?}"),
    }
    // QoS 0: refused without a word.
    assert!(matches!(
        ch.handle_in(publish("$SYS/x", QoS::AtMostOnce, 0), now),
        Effect::None
    ));
    let Packet::Publish(mut p) = publish("t", QoS::AtMostOnce, 0) else {
        unreachable!()
    };
    p.properties.subscription_identifiers.push(1);
    // [MQTT-3.3.4-6]
    assert_eq!(
        violated(ch.handle_in(Packet::Publish(p), now)),
        ReasonCode::ProtocolError
    );
}

#[test]
fn acks_of_outbound_messages_go_to_the_session() {
    let mut ch = v5();
    let now = Instant::now();
    let ack = Packet::PubAck(PubAck {
        packet_id: 3,
        ..Default::default()
    });
    assert!(matches!(
        ch.handle_in(ack, now),
        Effect::Session(Inbound::PubAck(3))
    ));
    let rec = Packet::PubRec(PubRec {
        packet_id: 4,
        reason_code: ReasonCode::UnspecifiedError,
        ..Default::default()
    });
    assert!(matches!(
        ch.handle_in(rec, now),
        Effect::Session(Inbound::PubRec(4, ReasonCode::UnspecifiedError))
    ));
    let comp = Packet::PubComp(PubComp {
        packet_id: 5,
        ..Default::default()
    });
    assert!(matches!(
        ch.handle_in(comp, now),
        Effect::Session(Inbound::PubComp(5))
    ));
}

#[test]
fn subscribe_is_authorized_by_the_connection_and_unsubscribe_goes_to_the_session() {
    let mut ch = v5();
    let now = Instant::now();
    let s = Subscribe {
        packet_id: 1,
        filters: vec![("a/#".into(), SubscriptionOptions::default())],
        properties: Properties::default(),
    };
    match ch.handle_in(Packet::Subscribe(s), now) {
        Effect::Subscribe(s) => assert_eq!((s.packet_id, s.filters.len()), (1, 1)),
        other => panic!("{other:?}"),
    }
    let u = Unsubscribe {
        packet_id: 2,
        filters: vec!["a/#".into()],
        properties: Properties::default(),
    };
    match ch.handle_in(Packet::Unsubscribe(u), now) {
        Effect::Unsubscribe(u) => assert_eq!(u.packet_id, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn auth_only_with_the_method_the_client_connected_with() {
    let now = Instant::now();
    let auth = |method: &str| {
        let mut a = Auth {
            reason_code: ReasonCode::ReAuthenticate,
            ..Default::default()
        };
        a.properties.authentication_method = Some(method.into());
        Packet::Auth(a)
    };
    // [MQTT-4.12.0-7] no Authentication Method in CONNECT, no AUTH.
    let mut ch = v5();
    assert_eq!(
        violated(ch.handle_in(auth("SCRAM-SHA-256"), now)),
        ReasonCode::ProtocolError
    );
    let scram = || {
        let mut ch = Channel::new(MqttConfig::default(), SEED);
        let mut c = connect(ProtocolVersion::V5, "a", true);
        c.properties.authentication_method = Some("SCRAM-SHA-256".into());
        ch.connect(&c).unwrap();
        ch
    };
    let mut ch = scram();
    assert_eq!(
        ch.authentication_method().map(String::as_str),
        Some("SCRAM-SHA-256")
    );
    assert!(matches!(
        ch.handle_in(auth("SCRAM-SHA-256"), now),
        Effect::Reauthenticate(a) if a.reason_code == ReasonCode::ReAuthenticate
    ));
    // [MQTT-4.12.1-1] re-authentication keeps the method.
    let mut ch = scram();
    assert_eq!(
        violated(ch.handle_in(auth("PLAIN"), now)),
        ReasonCode::ProtocolError
    );
}

#[test]
fn packets_after_disconnect_are_not_handled() {
    let mut ch = v5();
    let now = Instant::now();
    assert!(matches!(
        ch.handle_in(Packet::Disconnect(Disconnect::default()), now),
        Effect::Disconnect
    ));
    // [MQTT-3.14.4-3] a normal DISCONNECT discards the will.
    assert!(!ch.will_due());
    // [MQTT-3.14.4-1] nothing may follow DISCONNECT: what does is not routed.
    assert!(matches!(
        ch.handle_in(publish("t", QoS::AtLeastOnce, 1), now),
        Effect::Close
    ));
    assert!(matches!(ch.handle_in(Packet::PingReq, now), Effect::Close));
    // The connection still says why it closes to a 5.0 client.
    assert!(ch.is_connected());
}

#[test]
fn packets_after_a_violation_are_not_handled() {
    let mut ch = v5();
    let now = Instant::now();
    violated(ch.handle_in(publish("", QoS::AtMostOnce, 0), now));
    assert!(matches!(
        ch.handle_in(publish("t", QoS::AtMostOnce, 0), now),
        Effect::Close
    ));
    // No DISCONNECT came: the will is still due [MQTT-3.1.2-8].
    assert!(ch.will_due());
}

#[test]
fn disconnect_will_and_expiry_rules() {
    let now = Instant::now();
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(10);
    // [MQTT-3.14.2-2] expiry 0 at CONNECT cannot become non-zero.
    let mut ch = v5();
    assert_eq!(
        violated(ch.handle_in(Packet::Disconnect(d), now)),
        ReasonCode::ProtocolError
    );
    assert!(ch.will_due());
    // [MQTT-3.1.2-10] 0x04 Disconnect with Will Message: the will goes out.
    let mut ch = v5();
    let d = Disconnect {
        reason_code: ReasonCode::DisconnectWithWillMessage,
        ..Default::default()
    };
    assert!(matches!(
        ch.handle_in(Packet::Disconnect(d), now),
        Effect::Disconnect
    ));
    assert!(ch.will_due());
    assert_eq!(ch.new_session_expiry(), None);
    ch.drop_will();
    assert!(!ch.will_due());
    // A persistent session's new expiry is capped like the CONNECT's.
    let mut ch = Channel::new(
        MqttConfig {
            session_expiry_interval: secs(100),
            ..Default::default()
        },
        SEED,
    );
    let mut c = connect(ProtocolVersion::V5, "a", false);
    c.properties.session_expiry_interval = Some(50);
    ch.connect(&c).unwrap();
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(1000);
    assert!(matches!(
        ch.handle_in(Packet::Disconnect(d), now),
        Effect::Disconnect
    ));
    assert_eq!(ch.new_session_expiry(), Some(100));
}

#[test]
fn assigned_client_id_comes_from_the_seed() {
    let assigned = |seed: u64| {
        let mut ch = Channel::new(MqttConfig::default(), seed);
        let a = ch.connect(&connect(ProtocolVersion::V5, "", true)).unwrap();
        assert!(a.assigned);
        assert_eq!(ch.client_id, a.client_id);
        a.client_id
    };
    // [MQTT-3.1.3-6] the server assigns an id unique to it: one per seed,
    // the same for the same seed.
    assert_eq!(&*assigned(0x1234), "roost-0000000000001234");
    assert_eq!(assigned(u64::MAX), assigned(u64::MAX));
    assert_ne!(assigned(1), assigned(2));
}

#[test]
fn empty_client_id_rules() {
    // [MQTT-3.1.3-8] 3.1.1: empty id needs clean session.
    let mut ch = Channel::new(MqttConfig::default(), SEED);
    assert_eq!(
        ch.connect(&connect(ProtocolVersion::V3_1_1, "", false))
            .unwrap_err(),
        ReasonCode::ClientIdentifierNotValid
    );
    let a = Channel::new(MqttConfig::default(), SEED)
        .connect(&connect(ProtocolVersion::V3_1_1, "", true))
        .unwrap();
    assert!(a.assigned && !a.client_id.is_empty());
    // [MQTT-3.2.2-16] 5.0: assigned id is returned in CONNACK.
    let mut ch = Channel::new(MqttConfig::default(), SEED);
    let c = connect(ProtocolVersion::V5, "", false);
    let a = ch.connect(&c).unwrap();
    let ack = ch.connack(&a, false, &c);
    assert_eq!(
        ack.properties.assigned_client_identifier.as_deref(),
        Some(&*a.client_id)
    );
}

#[test]
fn session_expiry_is_capped_and_v3_persistent_uses_config() {
    let cfg = MqttConfig {
        session_expiry_interval: Duration::from_secs(100),
        ..Default::default()
    };
    let mut c = connect(ProtocolVersion::V5, "a", false);
    c.properties.session_expiry_interval = Some(u32::MAX);
    let mut ch = Channel::new(cfg.clone(), SEED);
    let a = ch.connect(&c).unwrap();
    assert_eq!(a.expiry, 100);
    assert_eq!(
        ch.connack(&a, false, &c).properties.session_expiry_interval,
        Some(100)
    );
    let a = Channel::new(cfg.clone(), SEED)
        .connect(&connect(ProtocolVersion::V3_1_1, "a", false))
        .unwrap();
    assert_eq!(a.expiry, 100);
    let a = Channel::new(cfg, SEED)
        .connect(&connect(ProtocolVersion::V3_1_1, "a", true))
        .unwrap();
    assert_eq!(a.expiry, 0);
}

/// The keep alive in force and the CONNACK's Server Keep Alive for a client
/// of `version` asking for `requested` seconds.
fn keepalive(cfg: &MqttConfig, version: ProtocolVersion, requested: u16) -> (u16, Option<u16>) {
    let mut ch = Channel::new(cfg.clone(), SEED);
    let mut c = connect(version, "a", true);
    c.keep_alive = requested;
    let a = ch.connect(&c).unwrap();
    let announced = ch.connack(&a, false, &c).properties.server_keep_alive;
    (a.keep_alive, announced)
}

// [MQTT-3.1.2-21] [MQTT-3.2.2-21]: by default the server's value is a maximum
// for 5.0 clients; a client asking for less, or a 3.1.1 client (which cannot be
// told), keeps its own.
#[test]
fn server_keepalive_is_a_maximum_for_v5_clients_only() {
    let cfg = MqttConfig {
        server_keepalive: Some(60),
        ..Default::default()
    };
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 300), (60, Some(60)));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 0), (60, Some(60)));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 5), (5, None));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 60), (60, None));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V3_1_1, 5), (5, None));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V3_1_1, 300), (300, None));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V3_1_1, 0), (0, None));
    let ch = Channel::new(cfg, SEED);
    assert_eq!(ch.keepalive_timeout(60), Some(Duration::from_secs(90)));
    assert_eq!(ch.keepalive_timeout(0), None);
}

// `server_keepalive_mode: override` (EMQX 5): every 5.0 client gets the
// server's value; 3.1.1 clients still keep their own.
#[test]
fn server_keepalive_override_mode_replaces_every_v5_value() {
    let cfg = MqttConfig {
        server_keepalive: Some(7),
        server_keepalive_mode: ServerKeepaliveMode::Override,
        ..Default::default()
    };
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 30), (7, Some(7)));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 5), (7, Some(7)));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 0), (7, Some(7)));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V3_1_1, 5), (5, None));
    let ch = Channel::new(cfg, SEED);
    assert_eq!(ch.keepalive_timeout(7), Some(Duration::from_secs_f64(10.5)));
}

// Without `server_keepalive`, every client keeps its own value and CONNACK
// has no Server Keep Alive.
#[test]
fn no_server_keepalive_keeps_the_clients_value() {
    let cfg = MqttConfig::default();
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 30), (30, None));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V5, 0), (0, None));
    assert_eq!(keepalive(&cfg, ProtocolVersion::V3_1_1, 30), (30, None));
}

#[test]
fn outbound_aliases_respect_client_maximum_and_packet_size() {
    let mut ch = Channel::new(MqttConfig::default(), SEED);
    let mut c = connect(ProtocolVersion::V5, "a", true);
    c.properties.topic_alias_maximum = Some(1);
    c.properties.maximum_packet_size = Some(64);
    ch.connect(&c).unwrap();
    let now = Instant::now();
    let m = |topic: &str, n: usize| {
        Message::new(
            topic.into(),
            Bytes::from(vec![0u8; n]),
            QoS::AtMostOnce,
            false,
            "p".into(),
            &Properties::default(),
        )
    };
    // Encodes one delivery and decodes it back as the client would.
    let send = |ch: &mut Channel, topic: &str, n: usize| -> Option<Publish> {
        let mut buf = BytesMut::new();
        if !ch.outbound_publish(
            &m(topic, n),
            QoS::AtMostOnce,
            0,
            false,
            false,
            &[],
            now,
            &mut buf,
        ) {
            assert!(buf.is_empty());
            return None;
        }
        match roost_protocol::decode(&mut buf, ProtocolVersion::V5, usize::MAX) {
            Ok(Some(Packet::Publish(p))) => Some(p),
            other => panic!("{other:?}"),
        }
    };
    let p = send(&mut ch, "a/b", 1).unwrap();
    assert_eq!(
        (p.topic.as_str(), p.properties.topic_alias),
        ("a/b", Some(1))
    );
    let p = send(&mut ch, "a/b", 1).unwrap();
    assert_eq!((p.topic.as_str(), p.properties.topic_alias), ("", Some(1)));
    // Alias space used up: plain topic, no alias [MQTT-3.3.2-11].
    let p = send(&mut ch, "c", 1).unwrap();
    assert_eq!((p.topic.as_str(), p.properties.topic_alias), ("c", None));
    // [MQTT-3.1.2-25] never larger than the client's Maximum Packet Size.
    assert!(send(&mut ch, "c", 100).is_none());
}
