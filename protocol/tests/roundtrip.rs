//! Property tests: decode(encode(p)) == p for arbitrary valid packets of every
//! type and version, `encoded_len` equals the bytes written, every strict prefix
//! is "need more bytes", and arbitrary input never panics the decoder.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use roost_protocol::*;

/// Where a property block sits; mirrors the columns of spec table 2-4.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ctx {
    Connect,
    ConnAck,
    Publish,
    Will,
    Ack,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

fn text() -> impl Strategy<Value = String> {
    "[a-z/é😀 ]{0,6}"
}

fn data() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..8).prop_map(Bytes::from)
}

fn flag() -> impl Strategy<Value = Option<u8>> {
    option::of(0u8..=1)
}

fn topic_name() -> impl Strategy<Value = String> {
    "[a-z$]{1,3}(/[a-z]{0,3}){0,3}".prop_filter("valid", |t| topic::validate_topic_name(t).is_ok())
}

fn topic_filter() -> impl Strategy<Value = String> {
    let level = prop_oneof!["[a-z]{1,3}", Just("+".to_string()), Just(String::new())];
    (
        vec(level, 1..4),
        any::<bool>(),
        option::of(prop_oneof![
            Just("$share/g/".to_string()),
            Just("$queue/".to_string())
        ]),
    )
        .prop_map(|(levels, hash, share)| {
            let mut f = levels.join("/");
            if hash {
                f.push_str("/#");
            }
            format!("{}{f}", share.unwrap_or_default())
        })
        .prop_filter("valid", |f| topic::parse_subscription_filter(f).is_ok())
}

/// Properties with valid values for every field, then cleared down to what `ctx`
/// may carry.
fn props(ctx: Ctx) -> BoxedStrategy<Properties> {
    let a = (
        flag(),
        option::of(any::<u32>()),
        option::of(text()),
        option::of(text()),
        option::of(data()),
        vec(1u32..=268_435_455, 0..3),
        option::of(any::<u32>()),
        option::of(text()),
        option::of(any::<u16>()),
        option::of(text()),
        option::of(data()),
        flag(),
    );
    let b = (
        option::of(any::<u32>()),
        flag(),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(1u16..),
        option::of(any::<u16>()),
        option::of(any::<u16>()),
        flag(),
        flag(),
        vec((text(), text()), 0..3),
        option::of(1u32..),
    );
    let c = (flag(), flag(), flag());
    (a, b, c)
        .prop_map(move |(a, b, c)| {
            let mut p: Properties = PropertyValues {
                payload_format_indicator: a.0,
                message_expiry_interval: a.1,
                content_type: a.2,
                response_topic: a.3,
                correlation_data: a.4,
                subscription_identifiers: a.5,
                session_expiry_interval: a.6,
                assigned_client_identifier: a.7,
                server_keep_alive: a.8,
                authentication_method: a.9,
                authentication_data: a.10,
                request_problem_information: a.11,
                will_delay_interval: b.0,
                request_response_information: b.1,
                response_information: b.2,
                server_reference: b.3,
                reason_string: b.4,
                receive_maximum: b.5,
                topic_alias_maximum: b.6,
                topic_alias: b.7,
                maximum_qos: b.8,
                retain_available: b.9,
                user_properties: b.10,
                maximum_packet_size: b.11,
                wildcard_subscription_available: c.0,
                subscription_identifier_available: c.1,
                shared_subscription_available: c.2,
            }
            .into();
            restrict(&mut p, ctx);
            p
        })
        .boxed()
}

/// Clears every property not allowed in `ctx` (spec table 2-4).
fn restrict(p: &mut Properties, ctx: Ctx) {
    use Ctx::*;
    let msg = matches!(ctx, Publish | Will);
    if !msg {
        p.payload_format_indicator = None;
        p.message_expiry_interval = None;
        p.content_type = None;
        p.response_topic = None;
        p.correlation_data = None;
    }
    match ctx {
        Publish => {}
        Subscribe => p.subscription_identifiers.truncate(1),
        _ => p.subscription_identifiers.clear(),
    }
    if !matches!(ctx, Connect | ConnAck | Disconnect) {
        p.session_expiry_interval = None;
    }
    if ctx != ConnAck {
        p.assigned_client_identifier = None;
        p.server_keep_alive = None;
        p.response_information = None;
        p.maximum_qos = None;
        p.retain_available = None;
        p.wildcard_subscription_available = None;
        p.subscription_identifier_available = None;
        p.shared_subscription_available = None;
    }
    if !matches!(ctx, Connect | ConnAck | Auth) {
        p.authentication_method = None;
        p.authentication_data = None;
    }
    if ctx == Connect && p.authentication_method.is_none() {
        p.authentication_data = None;
    }
    if ctx != Connect {
        p.request_problem_information = None;
        p.request_response_information = None;
    }
    if ctx != Will {
        p.will_delay_interval = None;
    }
    if !matches!(ctx, ConnAck | Disconnect) {
        p.server_reference = None;
    }
    if !matches!(ctx, ConnAck | Ack | SubAck | UnsubAck | Disconnect | Auth) {
        p.reason_string = None;
    }
    if !matches!(ctx, Connect | ConnAck) {
        p.receive_maximum = None;
        p.topic_alias_maximum = None;
        p.maximum_packet_size = None;
    }
    if ctx != Publish {
        p.topic_alias = None;
    }
}

/// Properties for `ctx` in 5.0, none before.
fn props_for(v: ProtocolVersion, ctx: Ctx) -> BoxedStrategy<Properties> {
    if v.is_v5() {
        props(ctx)
    } else {
        Just(Properties::default()).boxed()
    }
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn code(bytes: &'static [u8]) -> impl Strategy<Value = ReasonCode> {
    proptest::sample::select(bytes).prop_map(|b| ReasonCode::from_u8(b).unwrap())
}

const CONNACK_V5: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
/// The 5.0 codes that 3.1.1 return codes 0..=5 decode back to.
const CONNACK_V3: &[u8] = &[0x00, 0x84, 0x85, 0x88, 0x86, 0x87];
const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL: &[u8] = &[0x00, 0x92];
const SUBACK_V5: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const SUBACK_V3: &[u8] = &[0x00, 0x01, 0x02, 0x80];
const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH: &[u8] = &[0x00, 0x18, 0x19];

fn reason(v: ProtocolVersion, allowed: &'static [u8]) -> BoxedStrategy<ReasonCode> {
    if v.is_v5() {
        code(allowed).boxed()
    } else {
        Just(ReasonCode::Success).boxed()
    }
}

fn connect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let will = (
        topic_name(),
        data(),
        qos(),
        any::<bool>(),
        props_for(v, Ctx::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        any::<bool>(),
        any::<u16>(),
        "[a-zA-Z0-9]{0,8}",
        option::of(will),
        option::of(text()),
        option::of(data()),
        props_for(v, Ctx::Connect),
    )
        .prop_map(
            move |(
                clean_start,
                keep_alive,
                client_id,
                will,
                username,
                mut password,
                properties,
            )| {
                if !v.is_v5() && username.is_none() {
                    password = None; // [MQTT-3.1.2-22]
                }
                Packet::Connect(Connect {
                    protocol: v,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                })
            },
        )
}

fn publish(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        1u16..,
        data(),
        props_for(v, Ctx::Publish),
        any::<bool>(),
    )
        .prop_map(
            move |(dup, qos, retain, topic, id, payload, properties, alias_only)| {
                let zero = qos == QoS::AtMostOnce;
                // With a topic alias 5.0 may send an empty topic.
                let topic = if alias_only && properties.topic_alias.is_some() {
                    String::new()
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    dup: dup && !zero,
                    qos,
                    retain,
                    topic,
                    packet_id: if zero { 0 } else { id },
                    payload,
                    properties,
                })
            },
        )
}

fn options(v: ProtocolVersion) -> impl Strategy<Value = SubscriptionOptions> {
    let rh = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNew),
        Just(RetainHandling::DoNotSend)
    ];
    (qos(), any::<bool>(), any::<bool>(), rh).prop_map(move |(qos, nl, rap, rh)| {
        if v.is_v5() {
            SubscriptionOptions {
                qos,
                no_local: nl,
                retain_as_published: rap,
                retain_handling: rh,
            }
        } else {
            SubscriptionOptions {
                qos,
                ..Default::default()
            }
        }
    })
}

fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let id = 1u16..;
    macro_rules! ack {
        ($variant:ident, $codes:expr) => {
            (id.clone(), reason(v, $codes), props_for(v, Ctx::Ack)).prop_map(
                |(packet_id, reason_code, properties)| {
                    Packet::$variant($variant {
                        packet_id,
                        reason_code,
                        properties,
                    })
                },
            )
        };
    }
    let connack = (
        any::<bool>(),
        if v.is_v5() {
            code(CONNACK_V5).boxed()
        } else {
            code(CONNACK_V3).boxed()
        },
        props_for(v, Ctx::ConnAck),
    )
        .prop_map(|(session_present, reason_code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present,
                reason_code,
                properties,
            })
        });
    let subscribe = (
        id.clone(),
        vec((topic_filter(), options(v)), 1..4),
        props_for(v, Ctx::Subscribe),
    )
        .prop_map(|(packet_id, mut filters, properties)| {
            for (f, o) in &mut filters {
                // No Local on a shared subscription is a protocol error [MQTT-3.8.3-4].
                if f.starts_with("$share/") || f.starts_with("$queue/") {
                    o.no_local = false;
                }
            }
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        });
    let suback = (
        id.clone(),
        vec(
            if v.is_v5() {
                code(SUBACK_V5).boxed()
            } else {
                code(SUBACK_V3).boxed()
            },
            1..4,
        ),
        props_for(v, Ctx::SubAck),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reason_codes,
                properties,
            })
        });
    let unsubscribe = (
        id.clone(),
        vec(topic_filter(), 1..4),
        props_for(v, Ctx::Unsubscribe),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        });
    let unsuback = (
        id.clone(),
        if v.is_v5() {
            vec(code(UNSUBACK), 1..4).boxed()
        } else {
            Just(vec![]).boxed()
        },
        props_for(v, Ctx::UnsubAck),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reason_codes,
                properties,
            })
        });
    let disconnect = (reason(v, DISCONNECT), props_for(v, Ctx::Disconnect)).prop_map(
        |(reason_code, properties)| {
            Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            })
        },
    );
    let mut all = vec![
        connect(v).boxed(),
        connack.boxed(),
        publish(v).boxed(),
        ack!(PubAck, PUBACK).boxed(),
        ack!(PubRec, PUBACK).boxed(),
        ack!(PubRel, PUBREL).boxed(),
        ack!(PubComp, PUBREL).boxed(),
        subscribe.boxed(),
        suback.boxed(),
        unsubscribe.boxed(),
        unsuback.boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        disconnect.boxed(),
    ];
    if v.is_v5() {
        all.push(
            (code(AUTH), props(Ctx::Auth))
                .prop_map(|(reason_code, properties)| {
                    Packet::Auth(Auth {
                        reason_code,
                        properties,
                    })
                })
                .boxed(),
        );
    }
    proptest::strategy::Union::new(all).boxed()
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(V3_1), Just(V3_1_1), Just(V5)]
}

fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| (Just(v), packet(v)))
}

proptest! {
    #[test]
    fn round_trip_every_packet((v, p) in versioned_packet()) {
        let mut buf = BytesMut::new();
        encode(&p, v, &mut buf).unwrap();
        prop_assert_eq!(encoded_len(&p, v), buf.len());
        let bytes = buf.clone().freeze();
        for cut in 0..bytes.len() {
            let mut partial = BytesMut::from(&bytes[..cut]);
            prop_assert_eq!(decode(&mut partial, v, usize::MAX), Ok(None), "prefix {}", cut);
            prop_assert_eq!(partial.len(), cut);
        }
        let decoded = decode(&mut buf, v, usize::MAX).unwrap();
        prop_assert_eq!(decoded, Some(p));
        prop_assert!(buf.is_empty());
    }

    /// The borrowed encoder writes exactly what encoding the owned PUBLISH writes.
    #[test]
    fn publish_ref_encodes_like_publish(p in version().prop_flat_map(|v| (Just(v), publish(v)))) {
        let (v, Packet::Publish(p)) = p else { unreachable!() };
        let mut owned = BytesMut::new();
        encode(&Packet::Publish(p.clone()), v, &mut owned).unwrap();
        let no_props = p.properties == Properties::default();
        let r = PublishRef {
            dup: p.dup,
            qos: p.qos,
            retain: p.retain,
            topic: &p.topic,
            packet_id: p.packet_id,
            payload: &p.payload,
            properties: if no_props { None } else { Some(&p.properties) },
        };
        let mut borrowed = BytesMut::new();
        r.encode(v, &mut borrowed).unwrap();
        prop_assert_eq!(r.encoded_len(v), borrowed.len());
        prop_assert_eq!(owned, borrowed);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(v in version(), bytes in vec(any::<u8>(), 0..64)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = decode(&mut buf, v, 1 << 20);
    }

    /// Arbitrary bodies behind a valid-looking fixed header reach the packet decoders.
    #[test]
    fn decode_never_panics_on_framed_garbage(
        v in version(),
        kind in 1u8..16,
        body in vec(any::<u8>(), 0..48),
    ) {
        let first = (kind << 4) | match kind { 6 | 8 | 10 => 2, _ => 0 };
        let mut buf = BytesMut::from(&frame(first, &body)[..]);
        let _ = decode(&mut buf, v, 1 << 20);
    }
}
