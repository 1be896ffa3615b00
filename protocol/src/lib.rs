//! roost-protocol: a sans-IO codec for MQTT 3.1, 3.1.1 and 5.0.
//!
//! No sockets, no runtime: bytes in, [`Packet`]s out, and back. The broker's
//! connection actor owns the I/O and calls [`decode`] / [`encode`]. Payloads are
//! `bytes::Bytes` so one received payload can be shared by every subscriber.

#![warn(missing_docs)]

pub mod error;
pub mod packet;
pub mod properties;
pub mod reason;
pub mod topic;
mod wire;

pub use error::ProtocolError;
pub use packet::*;
pub use properties::{Properties, PropertyValues};
pub use reason::ReasonCode;

/// The protocol level a client speaks, from the CONNECT packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// MQTT 3.1, protocol name "MQIsdp", level 3.
    V3_1,
    /// MQTT 3.1.1, protocol name "MQTT", level 4.
    V3_1_1,
    /// MQTT 5.0, protocol name "MQTT", level 5.
    V5,
}

impl ProtocolVersion {
    /// Whether packets carry properties and reason codes (MQTT 5.0 only).
    pub fn is_v5(self) -> bool {
        self == ProtocolVersion::V5
    }

    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1 => 3,
            ProtocolVersion::V3_1_1 => 4,
            ProtocolVersion::V5 => 5,
        }
    }
}

/// Quality of service of a PUBLISH or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum QoS {
    /// QoS 0: fire and forget, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: acknowledged with PUBACK, may be duplicated.
    AtLeastOnce = 1,
    /// QoS 2: four-way PUBREC/PUBREL/PUBCOMP handshake, delivered once.
    ExactlyOnce = 2,
}

impl QoS {
    /// QoS from its two-bit wire value; 3 is malformed.
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// Every MQTT control packet. Fields not present in a protocol version (e.g.
/// properties in 3.1.1) are left at their defaults when decoding and ignored when
/// encoding for that version.
///
/// CONNECT is much larger than the other variants, but it is decoded once per
/// connection and the broker matches on these by value, so it is not boxed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Packet {
    /// Type 1, client to server.
    Connect(Connect),
    /// Type 2, server to client.
    ConnAck(ConnAck),
    /// Type 3, both directions.
    Publish(Publish),
    /// Type 4, both directions.
    PubAck(PubAck),
    /// Type 5, both directions.
    PubRec(PubRec),
    /// Type 6, both directions.
    PubRel(PubRel),
    /// Type 7, both directions.
    PubComp(PubComp),
    /// Type 8, client to server.
    Subscribe(Subscribe),
    /// Type 9, server to client.
    SubAck(SubAck),
    /// Type 10, client to server.
    Unsubscribe(Unsubscribe),
    /// Type 11, server to client.
    UnsubAck(UnsubAck),
    /// Type 12, client to server keep-alive probe.
    PingReq,
    /// Type 13, server's answer to PINGREQ.
    PingResp,
    /// Type 14, client to server (both directions in 5.0).
    Disconnect(Disconnect),
    /// Type 15, both directions, MQTT 5.0 only.
    Auth(Auth),
}

/// Decodes one packet from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold a whole packet (read more and
/// call again); on success the packet's bytes are consumed from `buf`. `version`
/// is the connection's negotiated version (ignored for CONNECT, which carries its
/// own). A packet whose total size exceeds `max_packet_size` is an error
/// ([`ProtocolError::PacketTooLarge`]) as soon as its fixed header is read.
///
/// After an error the stream cannot be resynchronised (the packet's bytes may or
/// may not have been consumed): report the error's reason code and close.
pub fn decode(
    buf: &mut bytes::BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, ProtocolError> {
    packet::decode(buf, version, max_packet_size)
}

/// Appends the encoding of `packet` for `version` to `buf`.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    buf: &mut bytes::BytesMut,
) -> Result<(), ProtocolError> {
    packet::encode(packet, version, buf)
}

/// The number of bytes [`encode`] would write for `packet` (fixed header included),
/// so a sender can respect the peer's Maximum Packet Size before encoding.
pub fn encoded_len(packet: &Packet, version: ProtocolVersion) -> usize {
    packet::encoded_len(packet, version)
}
