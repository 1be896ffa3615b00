//! PUBACK, PUBREC, PUBREL and PUBCOMP (spec 3.4 - 3.7): one shape, four packets.

use crate::{Properties, ReasonCode};

macro_rules! ack_packet {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            pub packet_id: u16,
            pub reason_code: ReasonCode,
            pub properties: Properties,
        }

        impl $name {
            /// A successful ack for `packet_id`.
            pub fn new(packet_id: u16) -> Self {
                $name { packet_id, ..Default::default() }
            }
        }
    };
}

ack_packet!(
    /// Acknowledges a QoS 1 PUBLISH.
    PubAck
);
ack_packet!(
    /// First ack of a QoS 2 PUBLISH.
    PubRec
);
ack_packet!(
    /// Releases a QoS 2 PUBLISH (fixed header flags 0b0010).
    PubRel
);
ack_packet!(
    /// Completes a QoS 2 exchange.
    PubComp
);
