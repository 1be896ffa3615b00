//! PUBACK, PUBREC, PUBREL and PUBCOMP (spec 3.4 - 3.7): one shape, four packets.

use super::{check_reason, read_packet_id, read_reason, write_packet_id};
use crate::properties::PropertyContext;
use crate::wire::Reader;
use crate::{Properties, ProtocolError, ProtocolVersion, ReasonCode};
use bytes::{BufMut, BytesMut};

/// Reason codes of PUBACK and PUBREC (spec 3.4.2.1, 3.5.2.1).
const PUBACK_PUBREC_CODES: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// Reason codes of PUBREL and PUBCOMP (spec 3.6.2.1, 3.7.2.1).
const PUBREL_PUBCOMP_CODES: &[u8] = &[0x00, 0x92];

/// Decodes the common ack body. In 5.0 a remaining length of 2 means Success
/// without properties and 3 means a reason code without properties (spec 3.4.2.1,
/// 3.4.2.2.1); 3.1.1 acks are exactly the packet id.
fn read_ack(
    r: &mut Reader,
    v: ProtocolVersion,
    allowed: &[u8],
) -> Result<(u16, ReasonCode, Properties), ProtocolError> {
    let packet_id = read_packet_id(r)?;
    if !v.is_v5() || r.is_empty() {
        return Ok((packet_id, ReasonCode::Success, Properties::default()));
    }
    let reason = read_reason(r, allowed)?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        Properties::read(r, PropertyContext::Ack)?
    };
    Ok((packet_id, reason, properties))
}

/// Body size: the short forms are used whenever they say the same thing.
fn ack_len(v: ProtocolVersion, reason: ReasonCode, properties: &Properties) -> usize {
    if !v.is_v5() {
        2
    } else if properties.is_empty() {
        if reason == ReasonCode::Success {
            2
        } else {
            3
        }
    } else {
        3 + properties.encoded_len()
    }
}

fn write_ack(
    buf: &mut BytesMut,
    v: ProtocolVersion,
    packet_id: u16,
    reason: ReasonCode,
    properties: &Properties,
    allowed: &[u8],
) -> Result<(), ProtocolError> {
    write_packet_id(buf, packet_id)?;
    if !v.is_v5() {
        return Ok(());
    }
    check_reason(reason, allowed)?;
    if properties.is_empty() {
        if reason != ReasonCode::Success {
            buf.put_u8(reason as u8);
        }
        return Ok(());
    }
    buf.put_u8(reason as u8);
    properties.write(buf)
}

macro_rules! ack_packet {
    ($(#[$doc:meta])* $name:ident, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// Identifier of the exchange being acknowledged; never 0.
            pub packet_id: u16,
            /// Outcome (5.0); always Success in 3.1.1, where it is not on the wire.
            pub reason_code: ReasonCode,
            /// Reason String and User Properties (5.0).
            pub properties: Properties,
        }

        impl $name {
            /// A successful ack for `packet_id`.
            pub fn new(packet_id: u16) -> Self {
                $name { packet_id, ..Default::default() }
            }

            pub(crate) fn read(r: &mut Reader, v: ProtocolVersion) -> Result<Self, ProtocolError> {
                let (packet_id, reason_code, properties) = read_ack(r, v, $allowed)?;
                Ok($name { packet_id, reason_code, properties })
            }

            pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
                ack_len(v, self.reason_code, &self.properties)
            }

            pub(crate) fn write(&self, v: ProtocolVersion, buf: &mut BytesMut) -> Result<(), ProtocolError> {
                write_ack(buf, v, self.packet_id, self.reason_code, &self.properties, $allowed)
            }
        }
    };
}

ack_packet!(
    /// Acknowledges a QoS 1 PUBLISH.
    PubAck,
    PUBACK_PUBREC_CODES
);
ack_packet!(
    /// First ack of a QoS 2 PUBLISH.
    PubRec,
    PUBACK_PUBREC_CODES
);
ack_packet!(
    /// Releases a QoS 2 PUBLISH (fixed header flags 0b0010).
    PubRel,
    PUBREL_PUBCOMP_CODES
);
ack_packet!(
    /// Completes a QoS 2 exchange.
    PubComp,
    PUBREL_PUBCOMP_CODES
);
