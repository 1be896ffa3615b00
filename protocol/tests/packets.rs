//! Known byte vectors (from the 3.1.1 and 5.0 specs where they give one) in both
//! directions, and one failing input per validation rule with its exact error.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use roost_protocol::*;

fn malformed(e: ProtocolError) {
    assert!(
        matches!(e, ProtocolError::Malformed(_)),
        "expected Malformed, got {e:?}"
    );
}

fn protocol(e: ProtocolError) {
    assert!(
        matches!(e, ProtocolError::Protocol(_)),
        "expected Protocol, got {e:?}"
    );
}

// ---------------------------------------------------------------- fixed header

#[test]
fn remaining_length_examples_spec_1_5_5() {
    // Table 1-1 boundaries: 0, 127, 128, 16383, 16384, 2097151, 2097152, 268435455.
    let cases: &[(usize, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];
    for &(len, bytes) in cases {
        let mut header = vec![0x30];
        header.extend_from_slice(bytes);
        // Too large for a 100-byte limit, reported with the exact total size,
        // before any body byte arrives.
        let mut buf = BytesMut::from(&header[..]);
        let err = decode(&mut buf, V5, 100);
        if 1 + bytes.len() + len > 100 {
            assert_eq!(
                err,
                Err(ProtocolError::PacketTooLarge {
                    size: 1 + bytes.len() + len,
                    max: 100
                })
            );
        }
        // Without a limit the header is accepted and the body awaited.
        if len > 0 {
            let mut buf = BytesMut::from(&header[..]);
            assert_eq!(decode(&mut buf, V5, usize::MAX), Ok(None));
            assert_eq!(&buf[..], &header[..], "buffer untouched");
        }
    }
}

#[test]
fn remaining_length_fifth_byte_is_malformed() {
    malformed(dec_err(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], V5));
    malformed(dec_err(&[0x30, 0x80, 0x80, 0x80, 0x80], V3_1_1));
}

#[test]
fn packet_too_large_before_body() {
    let mut buf = BytesMut::from(&[0x30, 0xFF, 0x01][..]);
    assert_eq!(
        decode(&mut buf, V3_1_1, 100),
        Err(ProtocolError::PacketTooLarge {
            size: 258,
            max: 100
        })
    );
    assert_eq!(
        ProtocolError::PacketTooLarge { size: 1, max: 0 }.reason_code(),
        ReasonCode::PacketTooLarge
    );
    // Exactly at the limit is fine.
    let ping = [0xC0, 0x00];
    let mut buf = BytesMut::from(&ping[..]);
    assert_eq!(decode(&mut buf, V5, 2), Ok(Some(Packet::PingReq)));
}

#[test]
fn partial_input_returns_none_and_keeps_buffer() {
    let full = frame(0x30, &cat(&[&s("a/b"), b"hello"]));
    for cut in 0..full.len() {
        let mut buf = BytesMut::from(&full[..cut]);
        assert_eq!(decode(&mut buf, V3_1_1, usize::MAX), Ok(None), "cut {cut}");
        assert_eq!(&buf[..], &full[..cut]);
    }
    // Partial fixed header: continuation byte without its successor.
    let mut buf = BytesMut::from(&[0x30, 0x80][..]);
    assert_eq!(decode(&mut buf, V5, usize::MAX), Ok(None));
}

#[test]
fn two_packets_in_one_buffer_decode_in_order() {
    let mut bytes = vec![0xC0, 0x00];
    bytes.extend_from_slice(&[0xD0, 0x00, 0xE0]);
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(decode(&mut buf, V3_1_1, 1024), Ok(Some(Packet::PingReq)));
    assert_eq!(decode(&mut buf, V3_1_1, 1024), Ok(Some(Packet::PingResp)));
    assert_eq!(decode(&mut buf, V3_1_1, 1024), Ok(None));
    assert_eq!(&buf[..], &[0xE0]);
}

#[test]
fn packet_type_0_is_malformed() {
    malformed(dec_err(&[0x00, 0x00], V3_1_1));
    malformed(dec_err(&[0x00, 0x00], V5));
}

#[test]
fn packet_type_15_only_in_v5() {
    malformed(dec_err(&[0xF0, 0x00], V3_1_1));
    malformed(dec_err(&[0xF0, 0x00], V3_1));
    assert_eq!(dec_ok(&[0xF0, 0x00], V5), Packet::Auth(Auth::default()));
}

#[test]
fn reserved_flags_mqtt_2_1_3_1() {
    // PUBREL, SUBSCRIBE, UNSUBSCRIBE need 0010.
    malformed(dec_err(&[0x60, 0x02, 0x00, 0x01], V3_1_1));
    malformed(dec_err(
        &frame(0x80, &cat(&[&[0, 1], &s("a"), &[0]])),
        V3_1_1,
    ));
    malformed(dec_err(&frame(0xA0, &cat(&[&[0, 1], &s("a")])), V3_1_1));
    // Everything else but PUBLISH needs 0000.
    malformed(dec_err(&[0x42, 0x02, 0x00, 0x01], V3_1_1));
    malformed(dec_err(&[0xC1, 0x00], V3_1_1));
    malformed(dec_err(&[0xD8, 0x00], V5));
    malformed(dec_err(&[0xE1, 0x00], V5));
    malformed(dec_err(&[0xF1, 0x00], V5));
    malformed(dec_err(&[0x21, 0x02, 0x00, 0x00], V3_1_1));
}

#[test]
fn publish_qos_3_is_malformed_mqtt_3_3_1_4() {
    malformed(dec_err(&frame(0x36, &cat(&[&s("a"), &[0, 1]])), V3_1_1));
}

#[test]
fn publish_dup_on_qos0_is_malformed_mqtt_3_3_1_2() {
    malformed(dec_err(&frame(0x38, &s("a")), V3_1_1));
}

#[test]
fn ping_with_body_is_malformed() {
    malformed(dec_err(&[0xC0, 0x01, 0x00], V3_1_1));
    malformed(dec_err(&[0xD0, 0x01, 0x00], V5));
}

// ------------------------------------------------------------------ UTF-8

#[test]
fn strings_must_be_valid_utf8_mqtt_1_5_4_1() {
    let mut body = vec![0x00, 0x02, 0xC3, 0x28];
    body.extend_from_slice(b"x");
    malformed(dec_err(&frame(0x30, &body), V3_1_1));
    // An encoded surrogate (U+D800) is not UTF-8.
    malformed(dec_err(&frame(0x30, &[0x00, 0x03, 0xED, 0xA0, 0x80]), V5));
}

#[test]
fn strings_must_not_contain_nul_mqtt_1_5_4_2() {
    malformed(dec_err(
        &frame(0x30, &[0x00, 0x03, b'a', 0x00, b'b']),
        V3_1_1,
    ));
}

#[test]
fn string_length_past_remaining_is_malformed() {
    malformed(dec_err(&frame(0x30, &[0x00, 0x09, b'a']), V3_1_1));
}

// ---------------------------------------------------------------- CONNECT

fn connect_body(name: &str, level: u8, flags: u8, rest: &[u8]) -> Vec<u8> {
    cat(&[&s(name), &[level, flags, 0x00, 0x3C], rest])
}

#[test]
fn connect_v311_minimal_vector() {
    let bytes = [
        0x10, 0x0C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00,
    ];
    let expected = Packet::Connect(Connect {
        protocol: V3_1_1,
        clean_start: true,
        keep_alive: 60,
        client_id: String::new(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    });
    assert_eq!(dec_ok(&bytes, V3_1_1), expected);
    assert_eq!(enc(&expected, V3_1_1), bytes);
    assert_eq!(encoded_len(&expected, V3_1_1), bytes.len());
}

#[test]
fn connect_v31_mqisdp_level_3() {
    let bytes = frame(0x10, &connect_body("MQIsdp", 3, 0x02, &s("c1")));
    let Packet::Connect(c) = dec_ok(&bytes, V3_1_1) else {
        panic!()
    };
    assert_eq!(c.protocol, V3_1);
    assert_eq!(c.client_id, "c1");
    assert_eq!(enc(&Packet::Connect(c), V3_1), bytes);
}

#[test]
fn connect_v5_spec_3_1_2_12_example_with_will_and_credentials() {
    // Variable header of the spec example: flags 0xCE (user name, password, will
    // QoS 1, will, clean start), keep alive 10, session expiry 10.
    let mut body = cat(&[
        &s("MQTT"),
        &[0x05, 0xCE, 0x00, 0x0A],
        &[0x05, 0x11, 0x00, 0x00, 0x00, 0x0A],
    ]);
    body.extend(s("cid"));
    body.extend([0x05, 0x18, 0x00, 0x00, 0x00, 0x05]); // will delay 5
    body.extend(s("will/t"));
    body.extend(s("bye"));
    body.extend(s("user"));
    body.extend([0x00, 0x02, 0xFF, 0x00]);
    let bytes = frame(0x10, &body);
    let expected = Packet::Connect(Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 10,
        client_id: "cid".into(),
        will: Some(Will {
            topic: "will/t".into(),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: PropertyValues {
                will_delay_interval: Some(5),
                ..Default::default()
            }
            .into(),
        }),
        username: Some("user".into()),
        password: Some(Bytes::from_static(&[0xFF, 0x00])),
        properties: PropertyValues {
            session_expiry_interval: Some(10),
            ..Default::default()
        }
        .into(),
    });
    assert_eq!(
        dec_ok(&bytes, V3_1_1),
        expected,
        "CONNECT carries its own version"
    );
    assert_eq!(enc(&expected, V5), bytes);
}

#[test]
fn connect_unsupported_level() {
    let e = dec_err(&frame(0x10, &connect_body("MQTT", 3, 0x02, &s("c"))), V5);
    assert_eq!(
        e,
        ProtocolError::UnsupportedProtocolVersion {
            name: "MQTT".into(),
            level: 3
        }
    );
    assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
    let e = dec_err(&frame(0x10, &connect_body("MQIsdp", 4, 0x02, &s("c"))), V5);
    assert_eq!(
        e,
        ProtocolError::UnsupportedProtocolVersion {
            name: "MQIsdp".into(),
            level: 4
        }
    );
    let e = dec_err(&frame(0x10, &connect_body("MQTT", 6, 0x02, &s("c"))), V5);
    assert!(matches!(
        e,
        ProtocolError::UnsupportedProtocolVersion { level: 6, .. }
    ));
}

#[test]
fn connect_unknown_protocol_name_mqtt_3_1_2_1() {
    protocol(dec_err(
        &frame(0x10, &connect_body("HTTP", 4, 0x02, &s("c"))),
        V5,
    ));
}

#[test]
fn connect_reserved_flag_mqtt_3_1_2_3() {
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 4, 0x03, &s("c"))),
        V3_1_1,
    ));
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x03, &[0, 0, 1, b'c'])),
        V5,
    ));
}

#[test]
fn connect_will_qos_without_will_flag_mqtt_3_1_2_13() {
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 4, 0x0A, &s("c"))),
        V3_1_1,
    ));
}

#[test]
fn connect_will_retain_without_will_flag_mqtt_3_1_2_15() {
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 4, 0x22, &s("c"))),
        V3_1_1,
    ));
}

#[test]
fn connect_will_qos_3_mqtt_3_1_2_14() {
    let rest = cat(&[&s("c"), &s("t"), &s("m")]);
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 4, 0x1E, &rest)),
        V3_1_1,
    ));
}

#[test]
fn connect_password_without_username_mqtt_3_1_2_22() {
    let rest = cat(&[&s("c"), &s("pw")]);
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 4, 0x42, &rest)),
        V3_1_1,
    ));
    // 5.0 allows it (spec 3.1.2.9).
    let rest5 = cat(&[&[0], &s("c"), &s("pw")]);
    let Packet::Connect(c) = dec_ok(&frame(0x10, &connect_body("MQTT", 5, 0x42, &rest5)), V5)
    else {
        panic!()
    };
    assert_eq!(c.username, None);
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
}

#[test]
fn connect_missing_payload_fields_are_malformed() {
    // Username flag set, but no user name follows.
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 4, 0x82, &s("c"))),
        V3_1_1,
    ));
    // Bytes after the last field.
    let rest = cat(&[&s("c"), &[0xAA]]);
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 4, 0x02, &rest)),
        V3_1_1,
    ));
}

#[test]
fn connect_will_topic_is_a_topic_name() {
    let rest = cat(&[&s("c"), &s("a/+"), &s("m")]);
    assert!(matches!(
        dec_err(&frame(0x10, &connect_body("MQTT", 4, 0x06, &rest)), V3_1_1),
        ProtocolError::TopicNameInvalid(_)
    ));
}

#[test]
fn connect_property_not_allowed_is_malformed() {
    // Topic Alias (0x23) is a PUBLISH-only property.
    let rest = cat(&[&[0x03, 0x23, 0x00, 0x01], &s("c")]);
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
    // Will Delay Interval belongs to the will, not the CONNECT.
    let rest = cat(&[&[0x05, 0x18, 0, 0, 0, 1], &s("c")]);
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
}

#[test]
fn connect_duplicate_property_is_protocol_error_spec_2_2_2_2() {
    let rest = cat(&[&[0x0A, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2], &s("c")]);
    protocol(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
}

#[test]
fn connect_property_values_checked() {
    // Request Problem Information must be 0 or 1.
    let rest = cat(&[&[0x02, 0x17, 0x02], &s("c")]);
    protocol(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
    // Receive Maximum 0.
    let rest = cat(&[&[0x03, 0x21, 0x00, 0x00], &s("c")]);
    protocol(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
    // Maximum Packet Size 0.
    let rest = cat(&[&[0x05, 0x27, 0, 0, 0, 0], &s("c")]);
    protocol(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
    // Authentication Data without Authentication Method (spec 3.1.2.11.10).
    let rest = cat(&[&[0x04, 0x16, 0x00, 0x01, 0xAB], &s("c")]);
    protocol(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
}

#[test]
fn connect_property_length_beyond_remaining_is_malformed() {
    let body = connect_body("MQTT", 5, 0x02, &[0x20, 0x11]);
    malformed(dec_err(&frame(0x10, &body), V5));
}

#[test]
fn unknown_property_identifier_is_malformed() {
    let rest = cat(&[&[0x02, 0x7F, 0x00], &s("c")]);
    malformed(dec_err(
        &frame(0x10, &connect_body("MQTT", 5, 0x02, &rest)),
        V5,
    ));
}

#[test]
fn user_properties_repeat_in_order() {
    let mut props = vec![];
    for (k, v) in [("b", "1"), ("a", "2"), ("b", "3")] {
        props.push(0x26);
        props.extend(s(k));
        props.extend(s(v));
    }
    let rest = cat(&[&[props.len() as u8], &props, &s("c")]);
    let bytes = frame(0x10, &connect_body("MQTT", 5, 0x02, &rest));
    let Packet::Connect(c) = dec_ok(&bytes, V5) else {
        panic!()
    };
    assert_eq!(
        c.properties.user_properties,
        vec![
            ("b".to_string(), "1".to_string()),
            ("a".to_string(), "2".to_string()),
            ("b".to_string(), "3".to_string())
        ]
    );
    assert_eq!(enc(&Packet::Connect(c), V5), bytes);
}

// ---------------------------------------------------------------- CONNACK

#[test]
fn connack_v311_vectors() {
    assert_eq!(
        enc(&Packet::ConnAck(ConnAck::default()), V3_1_1),
        [0x20, 0x02, 0x00, 0x00]
    );
    let sp = ConnAck {
        session_present: true,
        ..Default::default()
    };
    assert_eq!(
        enc(&Packet::ConnAck(sp.clone()), V3_1_1),
        [0x20, 0x02, 0x01, 0x00]
    );
    assert_eq!(
        dec_ok(&[0x20, 0x02, 0x01, 0x00], V3_1_1),
        Packet::ConnAck(sp)
    );
}

#[test]
fn connack_v3_return_codes_via_connack_v3() {
    let cases = [
        (ReasonCode::UnsupportedProtocolVersion, 1),
        (ReasonCode::ClientIdentifierNotValid, 2),
        (ReasonCode::ServerUnavailable, 3),
        (ReasonCode::ServerBusy, 3),
        (ReasonCode::BadUserNameOrPassword, 4),
        (ReasonCode::NotAuthorized, 5),
        (ReasonCode::Banned, 5),
    ];
    for (code, byte) in cases {
        let p = Packet::ConnAck(ConnAck {
            reason_code: code,
            ..Default::default()
        });
        assert_eq!(enc(&p, V3_1_1), [0x20, 0x02, 0x00, byte], "{code:?}");
        assert_eq!(enc(&p, V3_1), [0x20, 0x02, 0x00, byte], "{code:?}");
    }
    malformed(dec_err(&[0x20, 0x02, 0x00, 0x06], V3_1_1));
}

#[test]
fn connack_reserved_flags_mqtt_3_2_2_1() {
    malformed(dec_err(&[0x20, 0x02, 0x02, 0x00], V3_1_1));
    malformed(dec_err(&[0x20, 0x03, 0x02, 0x00, 0x00], V5));
}

#[test]
fn connack_v5_vector_with_properties() {
    let p = Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: PropertyValues {
            receive_maximum: Some(10),
            assigned_client_identifier: Some("id".into()),
            ..Default::default()
        }
        .into(),
    });
    let bytes = [
        0x20, 0x0B, 0x00, 0x00, 0x08, 0x12, 0x00, 0x02, b'i', b'd', 0x21, 0x00, 0x0A,
    ];
    assert_eq!(enc(&p, V5), bytes);
    assert_eq!(dec_ok(&bytes, V5), p);
    // A 5.0 reason code not valid in CONNACK.
    malformed(dec_err(&[0x20, 0x03, 0x00, 0x10, 0x00], V5));
}

// ---------------------------------------------------------------- PUBLISH

#[test]
fn publish_v311_spec_3_3_2_example() {
    // Topic "a/b", packet id 10 (spec 3.3.2.3 figure), QoS 1, payload "hi".
    let bytes = [
        0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i',
    ];
    let p = Packet::Publish(Publish {
        qos: QoS::AtLeastOnce,
        topic: "a/b".into(),
        packet_id: 10,
        payload: Bytes::from_static(b"hi"),
        ..Default::default()
    });
    assert_eq!(dec_ok(&bytes, V3_1_1), p);
    assert_eq!(enc(&p, V3_1_1), bytes);
}

#[test]
fn publish_v5_with_properties() {
    let bytes = [
        0x3D, 0x0C, 0x00, 0x01, b't', 0x00, 0x01, 0x05, 0x01, 0x01, 0x23, 0x00, 0x07, b'x',
    ];
    let p = Packet::Publish(Publish {
        dup: true,
        qos: QoS::ExactlyOnce,
        retain: true,
        topic: "t".into(),
        packet_id: 1,
        payload: Bytes::from_static(b"x"),
        properties: PropertyValues {
            payload_format_indicator: Some(1),
            topic_alias: Some(7),
            ..Default::default()
        }
        .into(),
    });
    assert_eq!(dec_ok(&bytes, V5), p);
    assert_eq!(enc(&p, V5), bytes);
}

#[test]
fn publish_payload_is_zero_copy() {
    let bytes = frame(0x30, &cat(&[&s("a"), &[7u8; 64]]));
    let mut buf = BytesMut::from(&bytes[..]);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let Some(Packet::Publish(p)) = decode(&mut buf, V3_1_1, usize::MAX).unwrap() else {
        panic!()
    };
    assert_eq!(p.payload.len(), 64);
    assert!(
        range.contains(&(p.payload.as_ptr() as usize)),
        "payload was copied"
    );
}

#[test]
fn publish_topic_wildcard_is_invalid_mqtt_3_3_2_2() {
    let e = dec_err(&frame(0x30, &s("a/+")), V3_1_1);
    assert!(matches!(e, ProtocolError::TopicNameInvalid(_)));
    assert_eq!(e.reason_code(), ReasonCode::TopicNameInvalid);
    assert!(matches!(
        dec_err(&frame(0x30, &cat(&[&s("#"), &[0]])), V5),
        ProtocolError::TopicNameInvalid(_)
    ));
}

#[test]
fn publish_empty_topic_needs_alias_in_v5() {
    assert!(matches!(
        dec_err(&frame(0x30, &s("")), V3_1_1),
        ProtocolError::TopicNameInvalid(_)
    ));
    assert!(matches!(
        dec_err(&frame(0x30, &cat(&[&s(""), &[0]])), V5),
        ProtocolError::TopicNameInvalid(_)
    ));
    let Packet::Publish(p) = dec_ok(&frame(0x30, &cat(&[&s(""), &[3, 0x23, 0, 4]])), V5) else {
        panic!()
    };
    assert_eq!(p.topic, "");
    assert_eq!(p.properties.topic_alias, Some(4));
}

#[test]
fn publish_topic_alias_zero_decodes_for_the_broker() {
    let Packet::Publish(p) = dec_ok(&frame(0x30, &cat(&[&s("t"), &[3, 0x23, 0, 0]])), V5) else {
        panic!()
    };
    assert_eq!(p.properties.topic_alias, Some(0));
}

#[test]
fn publish_packet_id_zero_mqtt_2_2_1_3() {
    protocol(dec_err(&frame(0x32, &cat(&[&s("t"), &[0, 0]])), V3_1_1));
    protocol(dec_err(&frame(0x34, &cat(&[&s("t"), &[0, 0], &[0]])), V5));
}

#[test]
fn publish_subscription_identifiers() {
    // Several identifiers (server to client), and one from a client decodes too.
    let body = cat(&[&s("t"), &[5, 0x0B, 0x01, 0x0B, 0x80, 0x01]]);
    let Packet::Publish(p) = dec_ok(&frame(0x30, &body), V5) else {
        panic!()
    };
    assert_eq!(p.properties.subscription_identifiers, vec![1, 128]);
    // Identifier 0 is a protocol error.
    protocol(dec_err(
        &frame(0x30, &cat(&[&s("t"), &[2, 0x0B, 0x00]])),
        V5,
    ));
}

#[test]
fn publish_property_not_allowed_and_duplicates() {
    // Session Expiry Interval is not a PUBLISH property.
    malformed(dec_err(
        &frame(0x30, &cat(&[&s("t"), &[5, 0x11, 0, 0, 0, 1]])),
        V5,
    ));
    // Two Topic Alias properties.
    protocol(dec_err(
        &frame(0x30, &cat(&[&s("t"), &[6, 0x23, 0, 1, 0x23, 0, 2]])),
        V5,
    ));
    // Payload Format Indicator must be 0 or 1.
    protocol(dec_err(
        &frame(0x30, &cat(&[&s("t"), &[2, 0x01, 0x02]])),
        V5,
    ));
}

#[test]
fn publish_missing_property_length_is_malformed() {
    malformed(dec_err(&frame(0x30, &s("t")), V5));
}

#[test]
fn publish_encode_rejects_invalid() {
    let mut buf = BytesMut::new();
    let p = Packet::Publish(Publish {
        qos: QoS::AtLeastOnce,
        topic: "t".into(),
        ..Default::default()
    });
    assert!(matches!(
        encode(&p, V3_1_1, &mut buf),
        Err(ProtocolError::Protocol(_))
    ));
    assert!(buf.is_empty(), "nothing written on error");
}

// ---------------------------------------------------------------- acks

#[test]
fn acks_v311_vectors() {
    let cases = [
        (0x40u8, Packet::PubAck(PubAck::new(10))),
        (0x50, Packet::PubRec(PubRec::new(10))),
        (0x62, Packet::PubRel(PubRel::new(10))),
        (0x70, Packet::PubComp(PubComp::new(10))),
    ];
    for (first, p) in cases {
        let bytes = [first, 0x02, 0x00, 0x0A];
        assert_eq!(dec_ok(&bytes, V3_1_1), p);
        assert_eq!(enc(&p, V3_1_1), bytes);
        // 5.0 short form: Success without properties [spec 3.4.2.1].
        assert_eq!(dec_ok(&bytes, V5), p);
        assert_eq!(enc(&p, V5), bytes);
    }
}

#[test]
fn acks_packet_id_zero_mqtt_2_2_1_3() {
    protocol(dec_err(&[0x40, 0x02, 0x00, 0x00], V3_1_1));
    protocol(dec_err(&[0x62, 0x02, 0x00, 0x00], V5));
}

#[test]
fn ack_v311_with_extra_bytes_is_malformed() {
    malformed(dec_err(&[0x40, 0x03, 0x00, 0x01, 0x00], V3_1_1));
    malformed(dec_err(&[0x40, 0x01, 0x00], V3_1_1));
}

#[test]
fn ack_v5_reason_without_properties_spec_3_4_2_2_1() {
    let bytes = [0x40, 0x03, 0x00, 0x01, 0x10];
    let p = Packet::PubAck(PubAck {
        packet_id: 1,
        reason_code: ReasonCode::NoMatchingSubscribers,
        properties: Properties::default(),
    });
    assert_eq!(dec_ok(&bytes, V5), p);
    assert_eq!(enc(&p, V5), bytes);
    // Explicit zero property length also decodes to the same packet.
    assert_eq!(dec_ok(&[0x40, 0x04, 0x00, 0x01, 0x10, 0x00], V5), p);
}

#[test]
fn ack_v5_with_reason_string() {
    let bytes = [
        0x70, 0x09, 0x00, 0x02, 0x92, 0x05, 0x1F, 0x00, 0x02, b'n', b'o',
    ];
    let p = Packet::PubComp(PubComp {
        packet_id: 2,
        reason_code: ReasonCode::PacketIdentifierNotFound,
        properties: PropertyValues {
            reason_string: Some("no".into()),
            ..Default::default()
        }
        .into(),
    });
    assert_eq!(dec_ok(&bytes, V5), p);
    assert_eq!(enc(&p, V5), bytes);
}

#[test]
fn ack_reason_code_must_fit_packet() {
    // 0x05 is no reason code at all.
    malformed(dec_err(&[0x40, 0x03, 0x00, 0x01, 0x05], V5));
    // 0x10 is a PUBACK code, not a PUBREL one.
    malformed(dec_err(&[0x62, 0x03, 0x00, 0x01, 0x10], V5));
    // 0x92 is a PUBREL code, not a PUBACK one.
    malformed(dec_err(&[0x40, 0x03, 0x00, 0x01, 0x92], V5));
    // Properties only valid elsewhere: Topic Alias in PUBACK.
    malformed(dec_err(
        &[0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01],
        V5,
    ));
}

// ---------------------------------------------------------------- SUBSCRIBE

#[test]
fn subscribe_v311_spec_3_8_3_example() {
    let bytes = [
        0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x00, 0x03, b'c', b'/', b'd',
        0x02,
    ];
    let opts = |qos| SubscriptionOptions {
        qos,
        ..Default::default()
    };
    let p = Packet::Subscribe(Subscribe {
        packet_id: 10,
        filters: vec![
            ("a/b".into(), opts(QoS::AtLeastOnce)),
            ("c/d".into(), opts(QoS::ExactlyOnce)),
        ],
        properties: Properties::default(),
    });
    assert_eq!(dec_ok(&bytes, V3_1_1), p);
    assert_eq!(enc(&p, V3_1_1), bytes);
}

#[test]
fn subscribe_v5_options_and_identifier() {
    let body = cat(&[&[0, 1, 2, 0x0B, 0x05], &s("$share/g/a/#"), &[0x2A]]);
    let bytes = frame(0x82, &body);
    let p = Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![(
            "$share/g/a/#".into(),
            SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: false,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            },
        )],
        properties: PropertyValues {
            subscription_identifiers: vec![5],
            ..Default::default()
        }
        .into(),
    });
    assert_eq!(dec_ok(&bytes, V5), p);
    assert_eq!(enc(&p, V5), bytes);
}

#[test]
fn subscribe_without_filters_mqtt_3_8_3_3() {
    protocol(dec_err(&[0x82, 0x02, 0x00, 0x01], V3_1_1));
    protocol(dec_err(&[0x82, 0x03, 0x00, 0x01, 0x00], V5));
}

#[test]
fn subscribe_options_reserved_bits_mqtt_3_8_3_5() {
    let bytes = frame(0x82, &cat(&[&[0, 1, 0], &s("a"), &[0x40]]));
    malformed(dec_err(&bytes, V5));
    let bytes = frame(0x82, &cat(&[&[0, 1, 0], &s("a"), &[0x80]]));
    malformed(dec_err(&bytes, V5));
}

#[test]
fn subscribe_v311_upper_bits_mqtt_3_8_3_4() {
    let bytes = frame(0x82, &cat(&[&[0, 1], &s("a"), &[0x04]]));
    malformed(dec_err(&bytes, V3_1_1));
}

#[test]
fn subscribe_retain_handling_3_and_qos_3() {
    // Spec 3.8.3.1: Retain Handling 3 is a Protocol Error; QoS 3 is malformed.
    protocol(dec_err(
        &frame(0x82, &cat(&[&[0, 1, 0], &s("a"), &[0x30]])),
        V5,
    ));
    malformed(dec_err(
        &frame(0x82, &cat(&[&[0, 1, 0], &s("a"), &[0x03]])),
        V5,
    ));
    malformed(dec_err(
        &frame(0x82, &cat(&[&[0, 1], &s("a"), &[0x03]])),
        V3_1_1,
    ));
}

#[test]
fn subscribe_invalid_filters_decode_for_the_broker_to_refuse() {
    // An invalid filter is answered per filter in SUBACK (0x8F / 0x80), not by
    // closing the connection, so the packet decodes and keeps the filter as sent.
    for f in [
        "a/#/b",
        "a+",
        "",
        "$share/g",
        "$share//a",
        "$share/g/",
        "$share/g+/a",
    ] {
        let p = dec_ok(&frame(0x82, &cat(&[&[0, 1], &s(f), &[0]])), V3_1_1);
        let Packet::Subscribe(sub) = p else {
            panic!("{f:?}: {p:?}")
        };
        assert_eq!(sub.filters[0].0, f);
        assert!(
            roost_protocol::topic::parse_subscription_filter(f).is_err(),
            "{f:?}"
        );
    }
}

#[test]
fn subscribe_packet_id_zero() {
    protocol(dec_err(
        &frame(0x82, &cat(&[&[0, 0], &s("a"), &[0]])),
        V3_1_1,
    ));
}

#[test]
fn subscribe_identifier_zero_and_twice() {
    protocol(dec_err(
        &frame(0x82, &cat(&[&[0, 1, 2, 0x0B, 0], &s("a"), &[0]])),
        V5,
    ));
    protocol(dec_err(
        &frame(0x82, &cat(&[&[0, 1, 4, 0x0B, 1, 0x0B, 2], &s("a"), &[0]])),
        V5,
    ));
}

#[test]
fn subscribe_no_local_on_shared_mqtt_3_8_3_4() {
    protocol(dec_err(
        &frame(0x82, &cat(&[&[0, 1, 0], &s("$share/g/a"), &[0x04]])),
        V5,
    ));
}

#[test]
fn subscribe_truncated_options_is_malformed() {
    malformed(dec_err(&frame(0x82, &cat(&[&[0, 1], &s("a")])), V3_1_1));
}

// ---------------------------------------------------------------- SUBACK

#[test]
fn suback_v311_vector_and_error_mapping() {
    let p = Packet::SubAck(SubAck {
        packet_id: 10,
        reason_codes: vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS2,
            ReasonCode::NotAuthorized,
            ReasonCode::TopicFilterInvalid,
        ],
        properties: Properties::default(),
    });
    let bytes = [0x90, 0x06, 0x00, 0x0A, 0x00, 0x02, 0x80, 0x80];
    assert_eq!(enc(&p, V3_1_1), bytes);
    let Packet::SubAck(back) = dec_ok(&bytes, V3_1_1) else {
        panic!()
    };
    assert_eq!(
        back.reason_codes,
        vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
            ReasonCode::UnspecifiedError
        ]
    );
    malformed(dec_err(&[0x90, 0x03, 0x00, 0x0A, 0x87], V3_1_1));
}

#[test]
fn suback_v5_vector() {
    let p = Packet::SubAck(SubAck {
        packet_id: 1,
        reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized],
        properties: Properties::default(),
    });
    let bytes = [0x90, 0x05, 0x00, 0x01, 0x00, 0x01, 0x87];
    assert_eq!(enc(&p, V5), bytes);
    assert_eq!(dec_ok(&bytes, V5), p);
    malformed(dec_err(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x10], V5));
}

// ---------------------------------------------------------------- UNSUBSCRIBE

#[test]
fn unsubscribe_v311_vector() {
    let bytes = [
        0xA2, 0x0C, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x03, b'c', b'/', b'd',
    ];
    let p = Packet::Unsubscribe(Unsubscribe {
        packet_id: 10,
        filters: vec!["a/b".into(), "c/d".into()],
        properties: Properties::default(),
    });
    assert_eq!(dec_ok(&bytes, V3_1_1), p);
    assert_eq!(enc(&p, V3_1_1), bytes);
}

#[test]
fn unsubscribe_rules_mqtt_3_10_3_2() {
    protocol(dec_err(&[0xA2, 0x02, 0x00, 0x01], V3_1_1));
    protocol(dec_err(&[0xA2, 0x03, 0x00, 0x01, 0x00], V5));
    protocol(dec_err(&frame(0xA2, &cat(&[&[0, 0], &s("a")])), V3_1_1));
    // An invalid filter decodes; the broker answers it with UNSUBACK 0x8F.
    assert!(matches!(
        dec_ok(&frame(0xA2, &cat(&[&[0, 1], &s("a/#/c")])), V3_1_1),
        Packet::Unsubscribe(_)
    ));
    // Only User Property is allowed in UNSUBSCRIBE.
    malformed(dec_err(
        &frame(0xA2, &cat(&[&[0, 1, 2, 0x0B, 1], &s("a")])),
        V5,
    ));
}

// ---------------------------------------------------------------- UNSUBACK

#[test]
fn unsuback_vectors() {
    let p = Packet::UnsubAck(UnsubAck {
        packet_id: 10,
        reason_codes: vec![],
        properties: Properties::default(),
    });
    assert_eq!(enc(&p, V3_1_1), [0xB0, 0x02, 0x00, 0x0A]);
    assert_eq!(dec_ok(&[0xB0, 0x02, 0x00, 0x0A], V3_1_1), p);
    // 3.1.1 drops the codes on encode.
    let p5 = Packet::UnsubAck(UnsubAck {
        packet_id: 10,
        reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        properties: Properties::default(),
    });
    assert_eq!(enc(&p5, V3_1_1), [0xB0, 0x02, 0x00, 0x0A]);
    let bytes = [0xB0, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x11];
    assert_eq!(enc(&p5, V5), bytes);
    assert_eq!(dec_ok(&bytes, V5), p5);
    malformed(dec_err(&[0xB0, 0x03, 0x00, 0x0A, 0x00], V3_1_1));
    malformed(dec_err(&[0xB0, 0x04, 0x00, 0x0A, 0x00, 0x01], V5));
}

// ---------------------------------------------------------------- DISCONNECT / AUTH

#[test]
fn disconnect_vectors() {
    let d = Packet::Disconnect(Disconnect::default());
    assert_eq!(enc(&d, V3_1_1), [0xE0, 0x00]);
    assert_eq!(enc(&d, V5), [0xE0, 0x00]);
    assert_eq!(dec_ok(&[0xE0, 0x00], V3_1_1), d);
    assert_eq!(dec_ok(&[0xE0, 0x00], V5), d);
    malformed(dec_err(&[0xE0, 0x01, 0x00], V3_1_1));
    let will = Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::DisconnectWithWillMessage,
        properties: Properties::default(),
    });
    assert_eq!(enc(&will, V5), [0xE0, 0x01, 0x04]);
    assert_eq!(dec_ok(&[0xE0, 0x01, 0x04], V5), will);
    let with_props = Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::ServerShuttingDown,
        properties: PropertyValues {
            session_expiry_interval: Some(0),
            ..Default::default()
        }
        .into(),
    });
    let bytes = [0xE0, 0x07, 0x8B, 0x05, 0x11, 0, 0, 0, 0];
    assert_eq!(enc(&with_props, V5), bytes);
    assert_eq!(dec_ok(&bytes, V5), with_props);
    malformed(dec_err(&[0xE0, 0x01, 0x18], V5));
    malformed(dec_err(&[0xE0, 0x05, 0x00, 0x03, 0x23, 0x00, 0x01], V5));
}

#[test]
fn auth_vectors() {
    let a = Packet::Auth(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: PropertyValues {
            authentication_method: Some("m".into()),
            ..Default::default()
        }
        .into(),
    });
    let bytes = [0xF0, 0x06, 0x18, 0x04, 0x15, 0x00, 0x01, b'm'];
    assert_eq!(enc(&a, V5), bytes);
    assert_eq!(dec_ok(&bytes, V5), a);
    // Disconnect with Will is not an AUTH reason code.
    malformed(dec_err(&[0xF0, 0x01, 0x04], V5));
    let mut buf = BytesMut::new();
    assert!(encode(&a, V3_1_1, &mut buf).is_err());
    assert!(buf.is_empty());
}

#[test]
fn error_reason_codes() {
    assert_eq!(
        ProtocolError::Malformed("x").reason_code(),
        ReasonCode::MalformedPacket
    );
    assert_eq!(
        ProtocolError::Protocol("x").reason_code(),
        ReasonCode::ProtocolError
    );
}
