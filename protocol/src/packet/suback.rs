//! SUBACK (spec 3.9).

use super::{read_packet_id, read_reason, write_packet_id};
use crate::properties::PropertyContext;
use crate::wire::Reader;
use crate::{Properties, ProtocolError, ProtocolVersion, ReasonCode};
use bytes::{BufMut, BytesMut};

/// One reason code per filter of the SUBSCRIBE, in order. In 3.1.1 codes are
/// granted QoS 0/1/2 or failure 0x80 (any error code encodes as 0x80).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE being answered.
    pub packet_id: u16,
    /// One code per filter of the SUBSCRIBE, in order.
    pub reason_codes: Vec<ReasonCode>,
    /// Reason String and User Properties (5.0).
    pub properties: Properties,
}

/// Reason codes of a 5.0 SUBACK (spec 3.9.3).
const ALLOWED_V5: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
/// Return codes of a 3.1.1 SUBACK [MQTT-3.9.3-2].
const ALLOWED_V3: &[u8] = &[0x00, 0x01, 0x02, 0x80];

impl SubAck {
    pub(crate) fn read(r: &mut Reader, v: ProtocolVersion) -> Result<SubAck, ProtocolError> {
        let packet_id = read_packet_id(r)?;
        let (properties, allowed) = if v.is_v5() {
            (Properties::read(r, PropertyContext::SubAck)?, ALLOWED_V5)
        } else {
            (Properties::default(), ALLOWED_V3)
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            reason_codes.push(read_reason(r, allowed)?);
        }
        if reason_codes.is_empty() {
            // A SUBSCRIBE has at least one filter, so its SUBACK has a code per filter.
            return Err(ProtocolError::Protocol("SUBACK without reason codes"));
        }
        Ok(SubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        2 + if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        } + self.reason_codes.len()
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if self.reason_codes.is_empty() {
            return Err(ProtocolError::Protocol("SUBACK without reason codes"));
        }
        write_packet_id(buf, self.packet_id)?;
        if v.is_v5() {
            self.properties.write(buf)?;
        }
        for &code in &self.reason_codes {
            let byte = code as u8;
            if v.is_v5() {
                super::check_reason(code, ALLOWED_V5)?;
                buf.put_u8(byte);
            } else if byte <= 0x02 {
                buf.put_u8(byte);
            } else {
                // 3.1.1 has a single failure code.
                buf.put_u8(0x80);
            }
        }
        Ok(())
    }
}
