//! PUBLISH (spec 3.3).

use super::{read_packet_id, write_packet_id};
use crate::properties::PropertyContext;
use crate::topic::validate_topic_name;
use crate::wire::{binary_len, put_string, Reader};
use crate::wire::{put_varint, varint_len, MAX_VARINT};
use crate::{Properties, ProtocolError, ProtocolVersion, QoS};
use bytes::{BufMut, Bytes, BytesMut};

/// An application message in flight.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// Redelivery of an earlier attempt; always false for QoS 0.
    pub dup: bool,
    /// Delivery guarantee of this message.
    pub qos: QoS,
    /// Store as the topic's retained message (or, outbound, was retained).
    pub retain: bool,
    /// May be empty in 5.0 when a topic alias is used.
    pub topic: String,
    /// 0 for QoS 0 (not on the wire); non-zero otherwise.
    pub packet_id: u16,
    /// Application data, sliced without copying from the received buffer.
    pub payload: Bytes,
    /// Message properties (5.0).
    pub properties: Properties,
}

impl Publish {
    /// Decodes the body; `flags` are the fixed header's low nibble, already checked
    /// for QoS 3 and DUP on QoS 0.
    pub(crate) fn read(
        flags: u8,
        r: &mut Reader,
        v: ProtocolVersion,
    ) -> Result<Publish, ProtocolError> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11)
            .ok_or(ProtocolError::Malformed("PUBLISH with QoS 3"))?;
        let retain = flags & 0b0001 != 0;
        let topic = r.string()?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            read_packet_id(r)?
        };
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::Publish)?
        } else {
            Properties::default()
        };
        // An empty topic stands for the alias's topic; the broker resolves it.
        if !(topic.is_empty() && v.is_v5() && properties.topic_alias.is_some()) {
            validate_topic_name(&topic)?;
        }
        let payload = r.rest();
        Ok(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            payload,
            properties,
        })
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        binary_len(self.topic.as_bytes())
            + if self.qos == QoS::AtMostOnce { 0 } else { 2 }
            + if v.is_v5() {
                self.properties.encoded_len()
            } else {
                0
            }
            + self.payload.len()
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(ProtocolError::Malformed("DUP set on a QoS 0 PUBLISH")); // [MQTT-3.3.1-2]
        }
        put_string(buf, &self.topic)?;
        if self.qos != QoS::AtMostOnce {
            write_packet_id(buf, self.packet_id)?;
        }
        if v.is_v5() {
            self.properties.write(buf)?;
        }
        buf.put_slice(&self.payload);
        Ok(())
    }
}

/// A PUBLISH encoded from borrowed parts. A broker sends one stored message to
/// many subscribers: building an owned [`Publish`] for each would copy the topic
/// and move a packet-sized value per delivery; this writes the same bytes as
/// encoding `Packet::Publish` with the same fields.
#[derive(Debug, Clone, Copy)]
pub struct PublishRef<'a> {
    /// Redelivery of an earlier attempt; always false for QoS 0.
    pub dup: bool,
    /// Delivery guarantee of this message.
    pub qos: QoS,
    /// The RETAIN flag as sent to this receiver.
    pub retain: bool,
    /// May be empty in 5.0 when a topic alias is used.
    pub topic: &'a str,
    /// 0 for QoS 0 (not on the wire); non-zero otherwise.
    pub packet_id: u16,
    /// Application data.
    pub payload: &'a [u8],
    /// 5.0 properties; `None` encodes as no properties (and is all 3.1.1 sends).
    pub properties: Option<&'a Properties>,
}

impl PublishRef<'_> {
    fn body_len(&self, v: ProtocolVersion) -> usize {
        binary_len(self.topic.as_bytes())
            + if self.qos == QoS::AtMostOnce { 0 } else { 2 }
            + match (v.is_v5(), self.properties) {
                (false, _) => 0,
                (true, Some(p)) => p.encoded_len(),
                // A property length of 0.
                (true, None) => 1,
            }
            + self.payload.len()
    }

    /// The bytes [`Self::encode`] writes, fixed header included.
    pub fn encoded_len(&self, v: ProtocolVersion) -> usize {
        let body = self.body_len(v);
        1 + varint_len(body) + body
    }

    /// Appends the PUBLISH to `buf` (nothing on error).
    pub fn encode(&self, v: ProtocolVersion, buf: &mut BytesMut) -> Result<(), ProtocolError> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(ProtocolError::Malformed("DUP set on a QoS 0 PUBLISH")); // [MQTT-3.3.1-2]
        }
        let body = self.body_len(v);
        if body > MAX_VARINT {
            return Err(ProtocolError::Malformed(
                "remaining length exceeds 268,435,455",
            ));
        }
        let start = buf.len();
        buf.reserve(1 + varint_len(body) + body);
        buf.put_u8(
            0x30 | (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain),
        );
        put_varint(buf, body);
        let written = (|| {
            put_string(buf, self.topic)?;
            if self.qos != QoS::AtMostOnce {
                write_packet_id(buf, self.packet_id)?;
            }
            if v.is_v5() {
                match self.properties {
                    Some(p) => p.write(buf)?,
                    None => buf.put_u8(0),
                }
            }
            buf.put_slice(self.payload);
            Ok(())
        })();
        if written.is_err() {
            buf.truncate(start);
        }
        written
    }
}
