//! SUBACK (spec 3.9).

use crate::{Properties, ReasonCode};

/// One reason code per filter of the SUBSCRIBE, in order. In 3.1.1 codes are
/// granted QoS 0/1/2 or failure 0x80 (any error code encodes as 0x80).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubAck {
    pub packet_id: u16,
    pub reason_codes: Vec<ReasonCode>,
    pub properties: Properties,
}
