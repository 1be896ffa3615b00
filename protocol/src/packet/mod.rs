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
pub use publish::{Publish, PublishRef};
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use crate::wire::{put_varint, read_varint, varint_len, Reader, MAX_VARINT};
use crate::{Packet, ProtocolError, ProtocolVersion, QoS};
use bytes::{Buf, BufMut, BytesMut};

/// Checks the fixed header's first byte: packet type and the flag bits the spec
/// reserves for it [MQTT-2.1.3-1], plus PUBLISH's QoS and DUP rules.
fn check_first_byte(first: u8, version: ProtocolVersion) -> Result<(), ProtocolError> {
    let flags = first & 0x0F;
    match first >> 4 {
        0 => Err(ProtocolError::Malformed("reserved packet type 0")),
        3 => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                // [MQTT-3.3.1-4]
                Err(ProtocolError::Malformed("PUBLISH with QoS 3"))
            } else if qos == 0 && flags & 0b1000 != 0 {
                // [MQTT-3.3.1-2]
                Err(ProtocolError::Malformed("DUP set on a QoS 0 PUBLISH"))
            } else {
                Ok(())
            }
        }
        6 | 8 | 10 if flags != 0b0010 => Err(ProtocolError::Malformed(
            "reserved fixed header flags must be 0010",
        )),
        6 | 8 | 10 => Ok(()),
        15 if !version.is_v5() => Err(ProtocolError::Malformed(
            "packet type 15 is reserved before MQTT 5.0",
        )),
        _ if flags != 0 => Err(ProtocolError::Malformed(
            "reserved fixed header flags must be 0",
        )),
        _ => Ok(()),
    }
}

pub(crate) fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    check_first_byte(first, version)?;
    let Some((remaining, len_len)) = read_varint(&buf[1..])? else {
        return Ok(None);
    };
    let total = 1 + len_len + remaining;
    if total > max_packet_size {
        return Err(ProtocolError::PacketTooLarge {
            size: total,
            max: max_packet_size,
        });
    }
    if buf.len() < total {
        return Ok(None);
    }
    buf.advance(1 + len_len);
    let mut r = Reader::new(buf.split_to(remaining).freeze());
    let flags = first & 0x0F;
    let packet = match first >> 4 {
        1 => Packet::Connect(Connect::read(&mut r)?),
        2 => Packet::ConnAck(ConnAck::read(&mut r, version)?),
        3 => Packet::Publish(Publish::read(flags, &mut r, version)?),
        4 => Packet::PubAck(PubAck::read(&mut r, version)?),
        5 => Packet::PubRec(PubRec::read(&mut r, version)?),
        6 => Packet::PubRel(PubRel::read(&mut r, version)?),
        7 => Packet::PubComp(PubComp::read(&mut r, version)?),
        8 => Packet::Subscribe(Subscribe::read(&mut r, version)?),
        9 => Packet::SubAck(SubAck::read(&mut r, version)?),
        10 => Packet::Unsubscribe(Unsubscribe::read(&mut r, version)?),
        11 => Packet::UnsubAck(UnsubAck::read(&mut r, version)?),
        12 => Packet::PingReq,
        13 => Packet::PingResp,
        14 => Packet::Disconnect(Disconnect::read(&mut r, version)?),
        15 => Packet::Auth(Auth::read(&mut r)?),
        _ => unreachable!("check_first_byte rejects type 0"),
    };
    r.expect_end()?;
    Ok(Some(packet))
}

/// The first byte of the fixed header: type and flags.
fn first_byte(packet: &Packet) -> u8 {
    match packet {
        Packet::Connect(_) => 0x10,
        Packet::ConnAck(_) => 0x20,
        Packet::Publish(p) => {
            0x30 | (u8::from(p.dup) << 3) | ((p.qos as u8) << 1) | u8::from(p.retain)
        }
        Packet::PubAck(_) => 0x40,
        Packet::PubRec(_) => 0x50,
        Packet::PubRel(_) => 0x62,
        Packet::PubComp(_) => 0x70,
        Packet::Subscribe(_) => 0x82,
        Packet::SubAck(_) => 0x90,
        Packet::Unsubscribe(_) => 0xA2,
        Packet::UnsubAck(_) => 0xB0,
        Packet::PingReq => 0xC0,
        Packet::PingResp => 0xD0,
        Packet::Disconnect(_) => 0xE0,
        Packet::Auth(_) => 0xF0,
    }
}

/// Remaining length: the bytes after the fixed header.
fn body_len(packet: &Packet, v: ProtocolVersion) -> usize {
    match packet {
        Packet::Connect(p) => p.body_len(),
        Packet::ConnAck(p) => p.body_len(v),
        Packet::Publish(p) => p.body_len(v),
        Packet::PubAck(p) => p.body_len(v),
        Packet::PubRec(p) => p.body_len(v),
        Packet::PubRel(p) => p.body_len(v),
        Packet::PubComp(p) => p.body_len(v),
        Packet::Subscribe(p) => p.body_len(v),
        Packet::SubAck(p) => p.body_len(v),
        Packet::Unsubscribe(p) => p.body_len(v),
        Packet::UnsubAck(p) => p.body_len(v),
        Packet::PingReq | Packet::PingResp => 0,
        Packet::Disconnect(p) => p.body_len(v),
        Packet::Auth(p) => p.body_len(),
    }
}

fn write_body(
    packet: &Packet,
    v: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    match packet {
        Packet::Connect(p) => p.write(buf),
        Packet::ConnAck(p) => p.write(v, buf),
        Packet::Publish(p) => p.write(v, buf),
        Packet::PubAck(p) => p.write(v, buf),
        Packet::PubRec(p) => p.write(v, buf),
        Packet::PubRel(p) => p.write(v, buf),
        Packet::PubComp(p) => p.write(v, buf),
        Packet::Subscribe(p) => p.write(v, buf),
        Packet::SubAck(p) => p.write(v, buf),
        Packet::Unsubscribe(p) => p.write(v, buf),
        Packet::UnsubAck(p) => p.write(v, buf),
        Packet::PingReq | Packet::PingResp => Ok(()),
        Packet::Disconnect(p) => p.write(v, buf),
        Packet::Auth(p) => p.write(v, buf),
    }
}

pub(crate) fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), ProtocolError> {
    let body = body_len(packet, version);
    if body > MAX_VARINT {
        return Err(ProtocolError::Malformed(
            "remaining length exceeds 268,435,455",
        ));
    }
    let start = buf.len();
    buf.reserve(1 + varint_len(body) + body);
    buf.put_u8(first_byte(packet));
    put_varint(buf, body);
    if let Err(e) = write_body(packet, version, buf) {
        // Leave no half-written packet behind for the caller to send.
        buf.truncate(start);
        return Err(e);
    }
    debug_assert_eq!(buf.len() - start, 1 + varint_len(body) + body);
    Ok(())
}

pub(crate) fn encoded_len(packet: &Packet, version: ProtocolVersion) -> usize {
    let body = body_len(packet, version);
    1 + varint_len(body) + body
}

/// Reads a packet identifier that must be non-zero [MQTT-2.2.1-3].
fn read_packet_id(r: &mut Reader) -> Result<u16, ProtocolError> {
    match r.u16()? {
        0 => Err(ProtocolError::Protocol("packet identifier 0")),
        id => Ok(id),
    }
}

/// Writes a packet identifier; 0 is never valid on the wire [MQTT-2.2.1-3].
fn write_packet_id(buf: &mut BytesMut, id: u16) -> Result<(), ProtocolError> {
    if id == 0 {
        return Err(ProtocolError::Protocol("packet identifier 0"));
    }
    buf.put_u16(id);
    Ok(())
}

/// QoS from a two-bit field; 3 is malformed.
fn qos_from_bits(bits: u8) -> Result<QoS, ProtocolError> {
    QoS::from_u8(bits).ok_or(ProtocolError::Malformed("QoS 3"))
}

/// Reads a reason code byte, accepting only the codes listed for the packet.
fn read_reason(r: &mut Reader, allowed: &[u8]) -> Result<crate::ReasonCode, ProtocolError> {
    let byte = r.u8()?;
    if !allowed.contains(&byte) {
        return Err(ProtocolError::Malformed(
            "reason code not valid for this packet",
        ));
    }
    crate::ReasonCode::from_u8(byte).ok_or(ProtocolError::Malformed("unknown reason code"))
}

/// Rejects encoding a reason code the receiver would treat as malformed.
fn check_reason(code: crate::ReasonCode, allowed: &[u8]) -> Result<(), ProtocolError> {
    if allowed.contains(&(code as u8)) {
        Ok(())
    } else {
        Err(ProtocolError::Protocol(
            "reason code not valid for this packet",
        ))
    }
}
