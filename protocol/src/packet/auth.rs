//! AUTH (spec 3.15, 5.0 only): enhanced authentication exchange.

use super::check_reason;
use super::disconnect::{read_reason_and_properties, short_form_len, write_short_form};
use crate::properties::PropertyContext;
use crate::wire::Reader;
use crate::{Properties, ProtocolError, ProtocolVersion, ReasonCode};
use bytes::BytesMut;

/// One step of an enhanced authentication exchange (or a re-authentication).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Success, Continue Authentication or Re-authenticate.
    pub reason_code: ReasonCode,
    /// Authentication Method / Data, Reason String, User Properties.
    pub properties: Properties,
}

/// Reason codes of AUTH (spec 3.15.2.1).
const ALLOWED: &[u8] = &[0x00, 0x18, 0x19];

impl Auth {
    /// Only reached for 5.0: the fixed header check rejects type 15 before.
    pub(crate) fn read(r: &mut Reader) -> Result<Auth, ProtocolError> {
        read_reason_and_properties(r, ProtocolVersion::V5, ALLOWED, PropertyContext::Auth).map(
            |(reason_code, properties)| Auth {
                reason_code,
                properties,
            },
        )
    }

    pub(crate) fn body_len(&self) -> usize {
        short_form_len(ProtocolVersion::V5, self.reason_code, &self.properties)
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if !v.is_v5() {
            return Err(ProtocolError::Protocol("AUTH exists only in MQTT 5.0"));
        }
        check_reason(self.reason_code, ALLOWED)?;
        write_short_form(v, self.reason_code, &self.properties, buf)
    }
}
