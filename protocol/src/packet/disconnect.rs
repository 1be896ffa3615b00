//! DISCONNECT (spec 3.14): from either side in 5.0, client only in 3.1.1.

use super::{check_reason, read_reason};
use crate::properties::PropertyContext;
use crate::wire::Reader;
use crate::{Properties, ProtocolError, ProtocolVersion, ReasonCode};
use bytes::{BufMut, BytesMut};

/// Why a connection ends (5.0); in 3.1.1 always a plain client disconnect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Why the connection ends (5.0); Success in 3.1.1.
    pub reason_code: ReasonCode,
    /// Session Expiry, Reason String, Server Reference, User Properties (5.0).
    pub properties: Properties,
}

/// Reason codes of a 5.0 DISCONNECT (spec 3.14.2.1).
const ALLOWED: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];

impl Disconnect {
    /// 3.1.1 DISCONNECT is empty (leftovers fail in the dispatcher). In 5.0 a
    /// remaining length of 0 means Normal disconnection without properties, and
    /// of 1 a reason code without properties (spec 3.14.2.1, 3.14.2.2.1).
    pub(crate) fn read(r: &mut Reader, v: ProtocolVersion) -> Result<Disconnect, ProtocolError> {
        read_reason_and_properties(r, v, ALLOWED, PropertyContext::Disconnect).map(
            |(reason_code, properties)| Disconnect {
                reason_code,
                properties,
            },
        )
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        short_form_len(v, self.reason_code, &self.properties)
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if v.is_v5() {
            check_reason(self.reason_code, ALLOWED)?;
        }
        write_short_form(v, self.reason_code, &self.properties, buf)
    }
}

/// The optional reason code and optional properties shared by DISCONNECT and AUTH.
pub(crate) fn read_reason_and_properties(
    r: &mut Reader,
    v: ProtocolVersion,
    allowed: &[u8],
    ctx: PropertyContext,
) -> Result<(ReasonCode, Properties), ProtocolError> {
    if !v.is_v5() || r.is_empty() {
        return Ok((ReasonCode::Success, Properties::default()));
    }
    let reason = read_reason(r, allowed)?;
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        Properties::read(r, ctx)?
    };
    Ok((reason, properties))
}

/// Body size of DISCONNECT / AUTH: empty for Success without properties, the
/// reason byte alone without properties.
pub(crate) fn short_form_len(v: ProtocolVersion, reason: ReasonCode, props: &Properties) -> usize {
    if !v.is_v5() {
        0
    } else if props.is_empty() {
        usize::from(reason != ReasonCode::Success)
    } else {
        1 + props.encoded_len()
    }
}

pub(crate) fn write_short_form(
    v: ProtocolVersion,
    reason: ReasonCode,
    props: &Properties,
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    if !v.is_v5() || (props.is_empty() && reason == ReasonCode::Success) {
        return Ok(());
    }
    buf.put_u8(reason as u8);
    if props.is_empty() {
        Ok(())
    } else {
        props.write(buf)
    }
}
