//! UNSUBACK (spec 3.11).

use super::{check_reason, read_packet_id, read_reason, write_packet_id};
use crate::properties::PropertyContext;
use crate::wire::Reader;
use crate::{Properties, ProtocolError, ProtocolVersion, ReasonCode};
use bytes::{BufMut, BytesMut};

/// In 5.0 one reason code per filter; in 3.1.1 the codes are not on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE being answered.
    pub packet_id: u16,
    /// One code per filter of the UNSUBSCRIBE, in order.
    pub reason_codes: Vec<ReasonCode>,
    /// Reason String and User Properties (5.0).
    pub properties: Properties,
}

/// Reason codes of a 5.0 UNSUBACK (spec 3.11.3).
const ALLOWED: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];

impl UnsubAck {
    pub(crate) fn read(r: &mut Reader, v: ProtocolVersion) -> Result<UnsubAck, ProtocolError> {
        let packet_id = read_packet_id(r)?;
        if !v.is_v5() {
            // 3.1.1 UNSUBACK is only the packet id; leftovers fail in the dispatcher.
            return Ok(UnsubAck {
                packet_id,
                ..Default::default()
            });
        }
        let properties = Properties::read(r, PropertyContext::UnsubAck)?;
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            reason_codes.push(read_reason(r, ALLOWED)?);
        }
        if reason_codes.is_empty() {
            // An UNSUBSCRIBE has at least one filter, so there is a code per filter.
            return Err(ProtocolError::Protocol("UNSUBACK without reason codes"));
        }
        Ok(UnsubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        if v.is_v5() {
            2 + self.properties.encoded_len() + self.reason_codes.len()
        } else {
            2
        }
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        write_packet_id(buf, self.packet_id)?;
        if !v.is_v5() {
            return Ok(());
        }
        if self.reason_codes.is_empty() {
            return Err(ProtocolError::Protocol("UNSUBACK without reason codes"));
        }
        self.properties.write(buf)?;
        for &code in &self.reason_codes {
            check_reason(code, ALLOWED)?;
            buf.put_u8(code as u8);
        }
        Ok(())
    }
}
