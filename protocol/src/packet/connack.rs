//! CONNACK (spec 3.2).

use super::{check_reason, read_reason};
use crate::properties::PropertyContext;
use crate::wire::Reader;
use crate::{Properties, ProtocolError, ProtocolVersion, ReasonCode};
use bytes::{BufMut, BytesMut};

/// The server's answer to CONNECT. For 3.1.1 `reason_code` is encoded with
/// [`ReasonCode::connack_v3`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Whether the server resumed a stored session.
    pub session_present: bool,
    /// Accepted (Success) or why the connection is refused.
    pub reason_code: ReasonCode,
    /// Server capabilities and assignments (5.0).
    pub properties: Properties,
}

/// Reason codes a 5.0 CONNACK may carry (spec 3.2.2.2).
const ALLOWED: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];

impl ConnAck {
    pub(crate) fn read(r: &mut Reader, v: ProtocolVersion) -> Result<ConnAck, ProtocolError> {
        let flags = r.u8()?;
        if flags & 0xFE != 0 {
            return Err(ProtocolError::Malformed("CONNACK reserved flags set")); // [MQTT-3.2.2-1]
        }
        let session_present = flags & 0x01 != 0;
        if !v.is_v5() {
            // 3.1.1 return codes 0..=5 (spec 3.2.2.3), read back into the 5.0 code
            // that `connack_v3` maps to each of them.
            let reason_code = match r.u8()? {
                0 => ReasonCode::Success,
                1 => ReasonCode::UnsupportedProtocolVersion,
                2 => ReasonCode::ClientIdentifierNotValid,
                3 => ReasonCode::ServerUnavailable,
                4 => ReasonCode::BadUserNameOrPassword,
                5 => ReasonCode::NotAuthorized,
                _ => return Err(ProtocolError::Malformed("CONNACK return code above 5")),
            };
            return Ok(ConnAck {
                session_present,
                reason_code,
                properties: Properties::default(),
            });
        }
        let reason_code = read_reason(r, ALLOWED)?;
        let properties = Properties::read(r, PropertyContext::ConnAck)?;
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        2 + if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        }
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        buf.put_u8(u8::from(self.session_present));
        if v.is_v5() {
            check_reason(self.reason_code, ALLOWED)?;
            buf.put_u8(self.reason_code as u8);
            self.properties.write(buf)
        } else {
            buf.put_u8(self.reason_code.connack_v3());
            Ok(())
        }
    }
}
