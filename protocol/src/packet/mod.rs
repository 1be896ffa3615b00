//! One file per control packet, holding its struct and both its decoder and its
//! encoder side by side (as Mosquitto's codec does).

mod auth;
mod connack;
mod connect;
mod disconnect;
mod pubacks;
mod publish;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use pubacks::{PubAck, PubComp, PubRec, PubRel};
pub use publish::Publish;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use crate::{Packet, ProtocolError, ProtocolVersion};
use bytes::BytesMut;

pub(crate) fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, ProtocolError> {
    let _ = (buf, version, max_packet_size);
    unimplemented!("decode dispatch")
}

pub(crate) fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    let _ = (packet, version, buf);
    unimplemented!("encode dispatch")
}

pub(crate) fn encoded_len(packet: &Packet, version: ProtocolVersion) -> usize {
    let _ = (packet, version);
    unimplemented!("encoded_len")
}
