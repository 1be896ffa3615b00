//! MQTT 5.0 properties: the input's first byte picks a packet (and so the
//! property context of spec table 2-4), the rest is used verbatim as that
//! packet's property block (length prefix included), wrapped in a valid
//! packet. Whatever decodes must encode and decode back to the same packet.
//!
//! Called by the fuzz target `properties` and by the corpus replay in
//! protocol/tests/fuzz_corpus.rs.

use roost_protocol::ProtocolVersion;

/// The fixed-header first byte, the body bytes before the property block and
/// after it, for each packet whose properties are checked.
const WRAPPERS: &[(u8, &[u8], &[u8])] = &[
    // CONNECT: "MQTT" 5, flags 0x02 (clean start), keep alive 60; client id "c".
    (0x10, b"\x00\x04MQTT\x05\x02\x00\x3c", b"\x00\x01c"),
    // CONNECT with a will (flags 0x06): the block is the will's; CONNECT's is empty.
    (
        0x10,
        b"\x00\x04MQTT\x05\x06\x00\x3c\x00\x00\x01c",
        b"\x00\x03w/t\x00\x01p",
    ),
    // CONNACK, session present 0, reason 0.
    (0x20, b"\x00\x00", b""),
    // PUBLISH QoS 1, topic "t", packet id 1, payload "p".
    (0x32, b"\x00\x01t\x00\x01", b"p"),
    // PUBACK, PUBREC, PUBREL, PUBCOMP: packet id 1, reason 0x10 / 0x10 / 0x92 / 0.
    (0x40, b"\x00\x01\x10", b""),
    (0x50, b"\x00\x01\x10", b""),
    (0x62, b"\x00\x01\x92", b""),
    (0x70, b"\x00\x01\x00", b""),
    // SUBSCRIBE id 1: "a/+" QoS 1.
    (0x82, b"\x00\x01", b"\x00\x03a/+\x01"),
    // SUBACK id 1: granted QoS 1.
    (0x90, b"\x00\x01", b"\x01"),
    // UNSUBSCRIBE id 1: "a/+".
    (0xA2, b"\x00\x01", b"\x00\x03a/+"),
    // UNSUBACK id 1: success.
    (0xB0, b"\x00\x01", b"\x00"),
    // DISCONNECT, reason 0x04 (with will message).
    (0xE0, b"\x04", b""),
    // AUTH, reason 0x18 (continue authentication).
    (0xF0, b"\x18", b""),
];

/// The packet `data` describes: wrapper `data[0] % WRAPPERS.len()` around the
/// property block `data[1..]`.
pub fn packet(data: &[u8]) -> Option<Vec<u8>> {
    let (&pick, block) = data.split_first()?;
    let (first, before, after) = WRAPPERS[pick as usize % WRAPPERS.len()];
    let body = [before, block, after].concat();
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len & 0x7F) as u8;
        len >>= 7;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&body);
    Some(out)
}

/// Wraps the property block and checks the packet's round trip.
pub fn check(data: &[u8]) {
    if let Some(bytes) = packet(data) {
        super::packet::check(&bytes, ProtocolVersion::V5);
    }
}
