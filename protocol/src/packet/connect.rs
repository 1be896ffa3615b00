//! CONNECT (spec 3.1): the first packet a client sends.

use super::qos_from_bits;
use crate::properties::PropertyContext;
use crate::topic::validate_topic_name;
use crate::wire::{binary_len, put_binary, put_string, Reader};
use crate::{Properties, ProtocolError, ProtocolVersion, QoS};
use bytes::{BufMut, Bytes, BytesMut};

/// A client's request to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The version the client speaks, from protocol name and level.
    pub protocol: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 disables it.
    pub keep_alive: u16,
    /// May be empty (the server then assigns one, or rejects it in 3.1.1 when
    /// clean_start is false).
    pub client_id: String,
    /// The message to publish if the connection ends without DISCONNECT.
    pub will: Option<Will>,
    /// User Name, present when its CONNECT flag is set.
    pub username: Option<String>,
    /// Password (binary data), present when its CONNECT flag is set.
    pub password: Option<Bytes>,
    /// CONNECT properties (5.0).
    pub properties: Properties,
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Will topic, a valid topic name.
    pub topic: String,
    /// Will payload (binary data).
    pub payload: Bytes,
    /// QoS the will is published with.
    pub qos: QoS,
    /// Whether the will is published as retained.
    pub retain: bool,
    /// Will properties (5.0): will delay, message expiry, content type, etc.
    pub properties: Properties,
}

impl Connect {
    /// Decodes CONNECT; the protocol version comes from the packet itself, not the
    /// connection (which has none yet).
    pub(crate) fn read(r: &mut Reader) -> Result<Connect, ProtocolError> {
        let name = r.string()?;
        let level = r.u8()?;
        let protocol = match (name.as_str(), level) {
            ("MQTT", 4) => ProtocolVersion::V3_1_1,
            ("MQTT", 5) => ProtocolVersion::V5,
            ("MQIsdp", 3) => ProtocolVersion::V3_1,
            ("MQTT" | "MQIsdp", _) => {
                return Err(ProtocolError::UnsupportedProtocolVersion { name, level })
            }
            // Not MQTT at all [MQTT-3.1.2-1]: nothing to answer in any version.
            _ => return Err(ProtocolError::Protocol("unknown protocol name")),
        };
        let flags = r.u8()?;
        if flags & 0x01 != 0 {
            return Err(ProtocolError::Malformed("CONNECT reserved flag set")); // [MQTT-3.1.2-3]
        }
        let clean_start = flags & 0x02 != 0;
        let will_flag = flags & 0x04 != 0;
        let will_qos_bits = (flags >> 3) & 0b11;
        let will_retain = flags & 0x20 != 0;
        let password_flag = flags & 0x40 != 0;
        let username_flag = flags & 0x80 != 0;
        if !will_flag && (will_qos_bits != 0 || will_retain) {
            // [MQTT-3.1.2-11, MQTT-3.1.2-13, MQTT-3.1.2-15]
            return Err(ProtocolError::Malformed(
                "will QoS or retain set without will flag",
            ));
        }
        let will_qos = qos_from_bits(will_qos_bits)?; // [MQTT-3.1.2-14]
        if password_flag && !username_flag && !protocol.is_v5() {
            // [MQTT-3.1.2-22]; 5.0 allows a password without a user name.
            return Err(ProtocolError::Malformed(
                "password flag without user name flag",
            ));
        }
        let keep_alive = r.u16()?;
        let properties = if protocol.is_v5() {
            let p = Properties::read(r, PropertyContext::Connect)?;
            if p.authentication_data.is_some() && p.authentication_method.is_none() {
                // [spec 3.1.2.11.10]
                return Err(ProtocolError::Protocol(
                    "authentication data without method",
                ));
            }
            p
        } else {
            Properties::default()
        };
        let client_id = r.string()?;
        let will = if will_flag {
            let properties = if protocol.is_v5() {
                Properties::read(r, PropertyContext::Will)?
            } else {
                Properties::default()
            };
            let topic = r.string()?;
            validate_topic_name(&topic)?;
            let payload = r.binary()?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = username_flag.then(|| r.string()).transpose()?;
        let password = password_flag.then(|| r.binary()).transpose()?;
        Ok(Connect {
            protocol,
            clean_start,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    fn protocol_name(&self) -> &'static str {
        match self.protocol {
            ProtocolVersion::V3_1 => "MQIsdp",
            _ => "MQTT",
        }
    }

    pub(crate) fn body_len(&self) -> usize {
        let v5 = self.protocol.is_v5();
        let props = |p: &Properties| if v5 { p.encoded_len() } else { 0 };
        binary_len(self.protocol_name().as_bytes())
            + 1
            + 1
            + 2
            + props(&self.properties)
            + binary_len(self.client_id.as_bytes())
            + self.will.as_ref().map_or(0, |w| {
                props(&w.properties) + binary_len(w.topic.as_bytes()) + binary_len(&w.payload)
            })
            + self
                .username
                .as_ref()
                .map_or(0, |u| binary_len(u.as_bytes()))
            + self.password.as_ref().map_or(0, |p| binary_len(p))
    }

    pub(crate) fn write(&self, buf: &mut BytesMut) -> Result<(), ProtocolError> {
        let v5 = self.protocol.is_v5();
        if self.password.is_some() && self.username.is_none() && !v5 {
            return Err(ProtocolError::Malformed("password without user name")); // [MQTT-3.1.2-22]
        }
        put_string(buf, self.protocol_name())?;
        buf.put_u8(self.protocol.level());
        let mut flags = u8::from(self.clean_start) << 1;
        if let Some(w) = &self.will {
            flags |= 0x04 | ((w.qos as u8) << 3) | (u8::from(w.retain) << 5);
        }
        flags |= u8::from(self.password.is_some()) << 6;
        flags |= u8::from(self.username.is_some()) << 7;
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        if v5 {
            self.properties.write(buf)?;
        }
        put_string(buf, &self.client_id)?;
        if let Some(w) = &self.will {
            if v5 {
                w.properties.write(buf)?;
            }
            put_string(buf, &w.topic)?;
            put_binary(buf, &w.payload)?;
        }
        if let Some(u) = &self.username {
            put_string(buf, u)?;
        }
        if let Some(p) = &self.password {
            put_binary(buf, p)?;
        }
        Ok(())
    }
}
