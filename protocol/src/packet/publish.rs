//! PUBLISH (spec 3.3).

use crate::{Properties, QoS};
use bytes::Bytes;

/// An application message in flight.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty in 5.0 when a topic alias is used.
    pub topic: String,
    /// 0 for QoS 0 (not on the wire); non-zero otherwise.
    pub packet_id: u16,
    pub payload: Bytes,
    pub properties: Properties,
}
