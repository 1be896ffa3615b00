//! CONNACK (spec 3.2).

use crate::{Properties, ReasonCode};

/// The server's answer to CONNECT. For 3.1.1 `reason_code` is encoded with
/// [`ReasonCode::connack_v3`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    pub session_present: bool,
    pub reason_code: ReasonCode,
    pub properties: Properties,
}
