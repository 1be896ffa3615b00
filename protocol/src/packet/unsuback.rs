//! UNSUBACK (spec 3.11).

use crate::{Properties, ReasonCode};

/// In 5.0 one reason code per filter; in 3.1.1 the codes are not on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubAck {
    pub packet_id: u16,
    pub reason_codes: Vec<ReasonCode>,
    pub properties: Properties,
}
