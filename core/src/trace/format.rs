//! What a trace line says: EMQX's text format, `<time> [<TAG>] <clientid>@<peer>
//! msg: <what>, <field>: <value>, ...`, with packets summarised as EMQX does
//! (`PUBLISH_IN(Q1, R0, D0, Topic=a/b, PacketId=1, Payload=hi)`).

use super::{PayloadEncode, Who};
use crate::message::Message;
use roost_protocol::{Packet, QoS};
use std::fmt::Write as _;
use std::time::SystemTime;

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketDir {
    In,
    Out,
}

/// Something a trace may write.
#[derive(Debug, Clone, Copy)]
pub enum TraceEvent<'a> {
    /// A packet received from, or sent to, the client.
    Packet(PacketDir, &'a Packet),
    /// A PUBLISH written to a subscriber (the writer encodes it from the
    /// stored message, without a `Packet`).
    PublishOut {
        message: &'a Message,
        qos: QoS,
        packet_id: u16,
        dup: bool,
        retain: bool,
    },
    /// A message about to be routed, from anyone (a client, the API, a will):
    /// what a topic trace follows.
    Published(&'a Message),
    Connected,
    Disconnected(&'a str),
    Subscribed(&'a str, QoS),
    Unsubscribed(&'a str),
    Authorization {
        action: &'a str,
        topic: &'a str,
        allowed: bool,
    },
    /// One delivery to this client was dropped.
    DeliveryDropped {
        topic: &'a str,
        reason: &'a str,
    },
}

impl TraceEvent<'_> {
    /// Whether a client id or address trace wants it (it is about one client).
    pub(super) fn is_clients(&self) -> bool {
        !matches!(self, TraceEvent::Published(_))
    }

    /// The topic a topic trace matches: messages routed and delivered.
    pub(super) fn topic(&self) -> Option<&str> {
        match self {
            TraceEvent::Published(m) => Some(&m.topic),
            TraceEvent::PublishOut { message, .. } => Some(&message.topic),
            _ => None,
        }
    }
}

/// RFC 3339 with microseconds, UTC.
pub(super) fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// One whole line (no newline).
pub(super) fn line(stamp: &str, who: &Who, event: &TraceEvent, enc: PayloadEncode) -> String {
    let mut out = String::with_capacity(128);
    let tag = match event {
        TraceEvent::Packet(..) | TraceEvent::PublishOut { .. } => "MQTT",
        TraceEvent::Published(_) => "PUBLISH",
        TraceEvent::Connected | TraceEvent::Disconnected(_) => "CONN",
        TraceEvent::Subscribed(..) => "SUBSCRIBE",
        TraceEvent::Unsubscribed(_) => "UNSUBSCRIBE",
        TraceEvent::Authorization { .. } => "AUTHZ",
        TraceEvent::DeliveryDropped { .. } => "DELIVERY",
    };
    let _ = write!(out, "{stamp} [{tag}] ");
    match (who.client_id, who.addr) {
        (Some(c), Some(a)) => {
            let _ = write!(out, "{c}@{a}");
        }
        (Some(c), None) => out.push_str(c),
        (None, Some(a)) => {
            let _ = write!(out, "@{a}");
        }
        (None, None) => out.push('-'),
    }
    out.push_str(" msg: ");
    match event {
        TraceEvent::Packet(dir, p) => {
            out.push_str(match dir {
                PacketDir::In => "mqtt_packet_received, packet: ",
                PacketDir::Out => "mqtt_packet_sent, packet: ",
            });
            packet(&mut out, *dir, p, enc);
        }
        TraceEvent::PublishOut {
            message,
            qos,
            packet_id,
            dup,
            retain,
        } => {
            out.push_str("mqtt_packet_sent, packet: ");
            publish(
                &mut out,
                "PUBLISH_OUT",
                (*qos, *retain, *dup),
                &message.topic,
                *packet_id,
                &message.payload,
                enc,
            );
        }
        TraceEvent::Published(m) => {
            let _ = write!(
                out,
                "publish_to, topic: {}, qos: {}, retain: {}, payload: ",
                m.topic, m.qos as u8, m.retain
            );
            payload(&mut out, &m.payload, enc);
        }
        TraceEvent::Connected => out.push_str("client_connected"),
        TraceEvent::Disconnected(reason) => {
            let _ = write!(out, "client_disconnected, reason: {reason}");
        }
        TraceEvent::Subscribed(filter, qos) => {
            let _ = write!(out, "subscribe, topic: {filter}, qos: {}", *qos as u8);
        }
        TraceEvent::Unsubscribed(filter) => {
            let _ = write!(out, "unsubscribe, topic: {filter}");
        }
        TraceEvent::Authorization {
            action,
            topic,
            allowed,
        } => {
            let r = if *allowed { "allowed" } else { "denied" };
            let _ = write!(
                out,
                "authorization_permission_{r}, action: {action}, topic: {topic}"
            );
        }
        TraceEvent::DeliveryDropped { topic, reason } => {
            let _ = write!(out, "delivery_dropped, topic: {topic}, reason: {reason}");
        }
    }
    // A newline in a client id, topic or text payload cannot forge a line.
    match crate::escape::escape_control(&out, false) {
        std::borrow::Cow::Borrowed(_) => out,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

fn packet(out: &mut String, dir: PacketDir, p: &Packet, enc: PayloadEncode) {
    let _ = match p {
        Packet::Connect(c) => write!(
            out,
            "CONNECT(ClientId={}, ProtoVer={}, CleanStart={}, KeepAlive={}, Username={}, Password={}{})",
            c.client_id,
            c.protocol.level(),
            c.clean_start,
            c.keep_alive,
            c.username.as_deref().unwrap_or("undefined"),
            if c.password.is_some() { "******" } else { "undefined" },
            match &c.will {
                Some(w) => format!(", Will(Q{}, R{}, Topic={})", w.qos as u8, w.retain as u8, w.topic),
                None => String::new(),
            }
        ),
        Packet::ConnAck(a) => write!(
            out,
            "CONNACK(SessionPresent={}, ReasonCode=0x{:02X})",
            a.session_present as u8, a.reason_code as u8
        ),
        Packet::Publish(pb) => {
            let name = match dir {
                PacketDir::In => "PUBLISH_IN",
                PacketDir::Out => "PUBLISH_OUT",
            };
            publish(
                out,
                name,
                (pb.qos, pb.retain, pb.dup),
                &pb.topic,
                pb.packet_id,
                &pb.payload,
                enc,
            );
            Ok(())
        }
        Packet::PubAck(a) => ack(out, "PUBACK", a.packet_id, a.reason_code as u8),
        Packet::PubRec(a) => ack(out, "PUBREC", a.packet_id, a.reason_code as u8),
        Packet::PubRel(a) => ack(out, "PUBREL", a.packet_id, a.reason_code as u8),
        Packet::PubComp(a) => ack(out, "PUBCOMP", a.packet_id, a.reason_code as u8),
        Packet::Subscribe(s) => {
            let _ = write!(out, "SUBSCRIBE(PacketId={}, TopicFilters=[", s.packet_id);
            for (i, (f, o)) in s.filters.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(out, "{sep}{f}(Q{})", o.qos as u8);
            }
            write!(out, "])")
        }
        Packet::SubAck(a) => codes(out, "SUBACK", a.packet_id, &a.reason_codes),
        Packet::Unsubscribe(u) => write!(
            out,
            "UNSUBSCRIBE(PacketId={}, TopicFilters=[{}])",
            u.packet_id,
            u.filters.join(", ")
        ),
        Packet::UnsubAck(a) => codes(out, "UNSUBACK", a.packet_id, &a.reason_codes),
        Packet::PingReq => write!(out, "PINGREQ"),
        Packet::PingResp => write!(out, "PINGRESP"),
        Packet::Disconnect(d) => write!(out, "DISCONNECT(ReasonCode=0x{:02X})", d.reason_code as u8),
        Packet::Auth(a) => write!(out, "AUTH(ReasonCode=0x{:02X})", a.reason_code as u8),
    };
}

fn ack(out: &mut String, name: &str, id: u16, reason: u8) -> std::fmt::Result {
    write!(out, "{name}(PacketId={id}, ReasonCode=0x{reason:02X})")
}

fn codes(
    out: &mut String,
    name: &str,
    id: u16,
    codes: &[roost_protocol::ReasonCode],
) -> std::fmt::Result {
    let _ = write!(out, "{name}(PacketId={id}, ReasonCodes=[");
    for (i, c) in codes.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(out, "{sep}0x{:02X}", *c as u8);
    }
    write!(out, "])")
}

fn publish(
    out: &mut String,
    name: &str,
    (qos, retain, dup): (QoS, bool, bool),
    topic: &str,
    packet_id: u16,
    body: &[u8],
    enc: PayloadEncode,
) {
    let _ = write!(
        out,
        "{name}(Q{}, R{}, D{}, Topic={topic}, PacketId={packet_id}, Payload=",
        qos as u8, retain as u8, dup as u8
    );
    payload(out, body, enc);
    out.push(')');
}

fn payload(out: &mut String, body: &[u8], enc: PayloadEncode) {
    match enc {
        PayloadEncode::Text => {
            out.push_str(&String::from_utf8_lossy(body).escape_debug().to_string())
        }
        PayloadEncode::Hex => {
            for b in body {
                let _ = write!(out, "{b:02X}");
            }
        }
        PayloadEncode::Hidden => out.push_str("******"),
    }
}
