//! MQTT 5.0 properties (spec 2.2.2.2). One struct holds every property; each
//! packet's decoder rejects properties that packet may not carry and duplicates
//! of properties that may appear only once.

use crate::wire::{binary_len, put_binary, put_string, put_varint, varint_len, Reader, MAX_VARINT};
use crate::ProtocolError;
use bytes::{BufMut, Bytes, BytesMut};

/// The properties of one packet (or will): absent in most packets, so they
/// cost one pointer and no allocation until one is set. A packet is moved
/// several times between the socket and its handler; with every property
/// inline (`PropertyValues`, 344 bytes) each PUBACK weighed as much.
///
/// Reads go through `Deref` (an absent block reads as all-absent); the first
/// write through `DerefMut` allocates the block.
#[derive(Clone, Default)]
pub struct Properties(Option<Box<PropertyValues>>);

/// Every MQTT 5.0 property. `None` / empty means absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropertyValues {
    /// 0x01, PUBLISH and will: 0 = unspecified bytes, 1 = UTF-8.
    pub payload_format_indicator: Option<u8>,
    /// 0x02, PUBLISH and will: lifetime of the message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03, PUBLISH and will.
    pub content_type: Option<String>,
    /// 0x08, PUBLISH and will.
    pub response_topic: Option<String>,
    /// 0x09, PUBLISH and will.
    pub correlation_data: Option<Bytes>,
    /// 0x0B, PUBLISH (may repeat, server to client) and SUBSCRIBE (once).
    pub subscription_identifiers: Vec<u32>,
    /// 0x11, CONNECT, CONNACK, DISCONNECT.
    pub session_expiry_interval: Option<u32>,
    /// 0x12, CONNACK.
    pub assigned_client_identifier: Option<String>,
    /// 0x13, CONNACK.
    pub server_keep_alive: Option<u16>,
    /// 0x15, CONNECT, CONNACK, AUTH.
    pub authentication_method: Option<String>,
    /// 0x16, CONNECT, CONNACK, AUTH.
    pub authentication_data: Option<Bytes>,
    /// 0x17, CONNECT.
    pub request_problem_information: Option<u8>,
    /// 0x18, will properties.
    pub will_delay_interval: Option<u32>,
    /// 0x19, CONNECT.
    pub request_response_information: Option<u8>,
    /// 0x1A, CONNACK.
    pub response_information: Option<String>,
    /// 0x1C, CONNACK, DISCONNECT.
    pub server_reference: Option<String>,
    /// 0x1F, every ack, CONNACK, DISCONNECT, AUTH.
    pub reason_string: Option<String>,
    /// 0x21, CONNECT, CONNACK.
    pub receive_maximum: Option<u16>,
    /// 0x22, CONNECT, CONNACK.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23, PUBLISH.
    pub topic_alias: Option<u16>,
    /// 0x24, CONNACK.
    pub maximum_qos: Option<u8>,
    /// 0x25, CONNACK.
    pub retain_available: Option<u8>,
    /// 0x26, every packet that has properties; may repeat, order kept.
    pub user_properties: Vec<(String, String)>,
    /// 0x27, CONNECT, CONNACK.
    pub maximum_packet_size: Option<u32>,
    /// 0x28, CONNACK.
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29, CONNACK.
    pub subscription_identifier_available: Option<u8>,
    /// 0x2A, CONNACK.
    pub shared_subscription_available: Option<u8>,
}

impl PropertyValues {
    /// No property at all, for reading an absent block.
    const NONE: PropertyValues = PropertyValues {
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        subscription_identifiers: Vec::new(),
        session_expiry_interval: None,
        assigned_client_identifier: None,
        server_keep_alive: None,
        authentication_method: None,
        authentication_data: None,
        request_problem_information: None,
        will_delay_interval: None,
        request_response_information: None,
        response_information: None,
        server_reference: None,
        reason_string: None,
        receive_maximum: None,
        topic_alias_maximum: None,
        topic_alias: None,
        maximum_qos: None,
        retain_available: None,
        user_properties: Vec::new(),
        maximum_packet_size: None,
        wildcard_subscription_available: None,
        subscription_identifier_available: None,
        shared_subscription_available: None,
    };

    /// True when no property is set (encodes as a zero property length).
    pub fn is_empty(&self) -> bool {
        // Field by field: comparing with a freshly built default would
        // construct one each time.
        let PropertyValues {
            payload_format_indicator,
            message_expiry_interval,
            content_type,
            response_topic,
            correlation_data,
            subscription_identifiers,
            session_expiry_interval,
            assigned_client_identifier,
            server_keep_alive,
            authentication_method,
            authentication_data,
            request_problem_information,
            will_delay_interval,
            request_response_information,
            response_information,
            server_reference,
            reason_string,
            receive_maximum,
            topic_alias_maximum,
            topic_alias,
            maximum_qos,
            retain_available,
            user_properties,
            maximum_packet_size,
            wildcard_subscription_available,
            subscription_identifier_available,
            shared_subscription_available,
        } = self;
        payload_format_indicator.is_none()
            && message_expiry_interval.is_none()
            && content_type.is_none()
            && response_topic.is_none()
            && correlation_data.is_none()
            && subscription_identifiers.is_empty()
            && session_expiry_interval.is_none()
            && assigned_client_identifier.is_none()
            && server_keep_alive.is_none()
            && authentication_method.is_none()
            && authentication_data.is_none()
            && request_problem_information.is_none()
            && will_delay_interval.is_none()
            && request_response_information.is_none()
            && response_information.is_none()
            && server_reference.is_none()
            && reason_string.is_none()
            && receive_maximum.is_none()
            && topic_alias_maximum.is_none()
            && topic_alias.is_none()
            && maximum_qos.is_none()
            && retain_available.is_none()
            && user_properties.is_empty()
            && maximum_packet_size.is_none()
            && wildcard_subscription_available.is_none()
            && subscription_identifier_available.is_none()
            && shared_subscription_available.is_none()
    }
}

static NO_PROPERTIES: PropertyValues = PropertyValues::NONE;

impl Properties {
    /// True when no property is set (encodes as a zero property length).
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|p| p.is_empty())
    }
}

impl std::ops::Deref for Properties {
    type Target = PropertyValues;

    fn deref(&self) -> &PropertyValues {
        self.0.as_deref().unwrap_or(&NO_PROPERTIES)
    }
}

impl std::ops::DerefMut for Properties {
    fn deref_mut(&mut self) -> &mut PropertyValues {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<PropertyValues> for Properties {
    fn from(p: PropertyValues) -> Properties {
        Properties((!p.is_empty()).then(|| Box::new(p)))
    }
}

/// Equal when the same properties are set (an allocated but empty block
/// equals an absent one).
impl PartialEq for Properties {
    fn eq(&self, other: &Properties) -> bool {
        **self == **other
    }
}

impl Eq for Properties {}

impl std::fmt::Debug for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// Which packet (or the will) a property block belongs to; decides which
/// identifiers are valid there (spec 2.2.2.2, table 2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropertyContext {
    Connect,
    ConnAck,
    Publish,
    Will,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP share one column set.
    Ack,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl PropertyContext {
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Bit mask of the contexts where property `id` is allowed, or 0 for an unknown id.
fn allowed_in(id: u32) -> u16 {
    use PropertyContext::*;
    let set = |cs: &[PropertyContext]| cs.iter().fold(0u16, |m, c| m | c.bit());
    match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => set(&[Publish, Will]),
        0x0B => set(&[Publish, Subscribe]),
        0x11 => set(&[Connect, ConnAck, Disconnect]),
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => set(&[ConnAck]),
        0x15 | 0x16 => set(&[Connect, ConnAck, Auth]),
        0x17 | 0x19 => set(&[Connect]),
        0x18 => set(&[Will]),
        0x1C => set(&[ConnAck, Disconnect]),
        0x1F => set(&[ConnAck, Ack, SubAck, UnsubAck, Disconnect, Auth]),
        0x21 | 0x22 | 0x27 => set(&[Connect, ConnAck]),
        0x23 => set(&[Publish]),
        0x26 => u16::MAX,
        _ => 0,
    }
}

/// Stores `value` in a once-only property slot; a second occurrence is a
/// protocol error (spec 2.2.2.2).
fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), ProtocolError> {
    if slot.is_some() {
        return Err(ProtocolError::Protocol("property appears more than once"));
    }
    *slot = Some(value);
    Ok(())
}

/// A byte property whose only legal values are 0 and 1 (e.g. Retain Available).
fn flag(value: u8) -> Result<u8, ProtocolError> {
    if value > 1 {
        return Err(ProtocolError::Protocol("property value must be 0 or 1"));
    }
    Ok(value)
}

impl Properties {
    /// Reads a property length and the properties it covers, rejecting ids not
    /// valid in `ctx` (malformed) and illegal values or duplicates (protocol errors).
    pub(crate) fn read(r: &mut Reader, ctx: PropertyContext) -> Result<Properties, ProtocolError> {
        let len = r.varint()? as usize;
        if len > r.remaining() {
            return Err(ProtocolError::Malformed(
                "property length exceeds remaining length",
            ));
        }
        if len == 0 {
            return Ok(Properties::default());
        }
        let mut r = Reader::new(r.take(len)?);
        let mut p = PropertyValues::default();
        while !r.is_empty() {
            let id = r.varint()?;
            if allowed_in(id) & ctx.bit() == 0 {
                return Err(ProtocolError::Malformed(
                    "property not valid for this packet",
                ));
            }
            match id {
                0x01 => once(&mut p.payload_format_indicator, flag(r.u8()?)?)?,
                0x02 => once(&mut p.message_expiry_interval, r.u32()?)?,
                0x03 => once(&mut p.content_type, r.string()?)?,
                0x08 => once(&mut p.response_topic, r.string()?)?,
                0x09 => once(&mut p.correlation_data, r.binary()?)?,
                0x0B => {
                    let v = r.varint()?;
                    if v == 0 {
                        return Err(ProtocolError::Protocol("subscription identifier 0"));
                    }
                    // Only a server-to-client PUBLISH may carry several [spec 3.3.2.3.8].
                    if ctx == PropertyContext::Subscribe && !p.subscription_identifiers.is_empty() {
                        return Err(ProtocolError::Protocol("property appears more than once"));
                    }
                    p.subscription_identifiers.push(v);
                }
                0x11 => once(&mut p.session_expiry_interval, r.u32()?)?,
                0x12 => once(&mut p.assigned_client_identifier, r.string()?)?,
                0x13 => once(&mut p.server_keep_alive, r.u16()?)?,
                0x15 => once(&mut p.authentication_method, r.string()?)?,
                0x16 => once(&mut p.authentication_data, r.binary()?)?,
                0x17 => once(&mut p.request_problem_information, flag(r.u8()?)?)?,
                0x18 => once(&mut p.will_delay_interval, r.u32()?)?,
                0x19 => once(&mut p.request_response_information, flag(r.u8()?)?)?,
                0x1A => once(&mut p.response_information, r.string()?)?,
                0x1C => once(&mut p.server_reference, r.string()?)?,
                0x1F => once(&mut p.reason_string, r.string()?)?,
                0x21 => {
                    let v = r.u16()?;
                    if v == 0 {
                        return Err(ProtocolError::Protocol("receive maximum 0"));
                    }
                    once(&mut p.receive_maximum, v)?
                }
                0x22 => once(&mut p.topic_alias_maximum, r.u16()?)?,
                // Topic Alias 0 decodes; the broker, which knows the maximum, rejects it.
                0x23 => once(&mut p.topic_alias, r.u16()?)?,
                0x24 => once(&mut p.maximum_qos, flag(r.u8()?)?)?,
                0x25 => once(&mut p.retain_available, flag(r.u8()?)?)?,
                0x26 => {
                    let k = r.string()?;
                    let v = r.string()?;
                    p.user_properties.push((k, v));
                }
                0x27 => {
                    let v = r.u32()?;
                    if v == 0 {
                        return Err(ProtocolError::Protocol("maximum packet size 0"));
                    }
                    once(&mut p.maximum_packet_size, v)?
                }
                0x28 => once(&mut p.wildcard_subscription_available, flag(r.u8()?)?)?,
                0x29 => once(&mut p.subscription_identifier_available, flag(r.u8()?)?)?,
                0x2A => once(&mut p.shared_subscription_available, flag(r.u8()?)?)?,
                _ => unreachable!("allowed_in rejects unknown identifiers"),
            }
        }
        Ok(Properties(Some(Box::new(p))))
    }

    /// Bytes of the property block without its length prefix.
    pub(crate) fn body_len(&self) -> usize {
        if self.0.is_none() {
            return 0;
        }
        let s = |v: &Option<String>| v.as_ref().map_or(0, |s| 1 + binary_len(s.as_bytes()));
        let b = |v: &Option<Bytes>| v.as_ref().map_or(0, |d| 1 + binary_len(d));
        let n = |present: bool, size: usize| if present { 1 + size } else { 0 };
        n(self.payload_format_indicator.is_some(), 1)
            + n(self.message_expiry_interval.is_some(), 4)
            + s(&self.content_type)
            + s(&self.response_topic)
            + b(&self.correlation_data)
            + self
                .subscription_identifiers
                .iter()
                .map(|&v| 1 + varint_len(v as usize))
                .sum::<usize>()
            + n(self.session_expiry_interval.is_some(), 4)
            + s(&self.assigned_client_identifier)
            + n(self.server_keep_alive.is_some(), 2)
            + s(&self.authentication_method)
            + b(&self.authentication_data)
            + n(self.request_problem_information.is_some(), 1)
            + n(self.will_delay_interval.is_some(), 4)
            + n(self.request_response_information.is_some(), 1)
            + s(&self.response_information)
            + s(&self.server_reference)
            + s(&self.reason_string)
            + n(self.receive_maximum.is_some(), 2)
            + n(self.topic_alias_maximum.is_some(), 2)
            + n(self.topic_alias.is_some(), 2)
            + n(self.maximum_qos.is_some(), 1)
            + n(self.retain_available.is_some(), 1)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| 1 + binary_len(k.as_bytes()) + binary_len(v.as_bytes()))
                .sum::<usize>()
            + n(self.maximum_packet_size.is_some(), 4)
            + n(self.wildcard_subscription_available.is_some(), 1)
            + n(self.subscription_identifier_available.is_some(), 1)
            + n(self.shared_subscription_available.is_some(), 1)
    }

    /// Bytes of the property block including its length prefix.
    pub(crate) fn encoded_len(&self) -> usize {
        let body = self.body_len();
        varint_len(body) + body
    }

    /// Writes the length prefix and every set property in identifier order, so
    /// the encoding is deterministic. The caller chose the properties for the
    /// packet; nothing here filters them by context.
    pub(crate) fn write(&self, buf: &mut BytesMut) -> Result<(), ProtocolError> {
        put_varint(buf, self.body_len());
        if self.0.is_none() {
            return Ok(());
        }
        let u8p = |buf: &mut BytesMut, id: u8, v: Option<u8>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u8(v);
            }
        };
        let u16p = |buf: &mut BytesMut, id: u8, v: Option<u16>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u16(v);
            }
        };
        let u32p = |buf: &mut BytesMut, id: u8, v: Option<u32>| {
            if let Some(v) = v {
                buf.put_u8(id);
                buf.put_u32(v);
            }
        };
        let binp = |buf: &mut BytesMut, id: u8, v: Option<&[u8]>| {
            if let Some(v) = v {
                buf.put_u8(id);
                put_binary(buf, v)
            } else {
                Ok(())
            }
        };
        let strp = |buf: &mut BytesMut, id: u8, v: &Option<String>| {
            binp(buf, id, v.as_deref().map(str::as_bytes))
        };
        u8p(buf, 0x01, self.payload_format_indicator);
        u32p(buf, 0x02, self.message_expiry_interval);
        strp(buf, 0x03, &self.content_type)?;
        strp(buf, 0x08, &self.response_topic)?;
        binp(buf, 0x09, self.correlation_data.as_deref())?;
        for &id in &self.subscription_identifiers {
            if id == 0 || id as usize > MAX_VARINT {
                return Err(ProtocolError::Protocol(
                    "subscription identifier out of range",
                ));
            }
            buf.put_u8(0x0B);
            put_varint(buf, id as usize);
        }
        u32p(buf, 0x11, self.session_expiry_interval);
        strp(buf, 0x12, &self.assigned_client_identifier)?;
        u16p(buf, 0x13, self.server_keep_alive);
        strp(buf, 0x15, &self.authentication_method)?;
        binp(buf, 0x16, self.authentication_data.as_deref())?;
        u8p(buf, 0x17, self.request_problem_information);
        u32p(buf, 0x18, self.will_delay_interval);
        u8p(buf, 0x19, self.request_response_information);
        strp(buf, 0x1A, &self.response_information)?;
        strp(buf, 0x1C, &self.server_reference)?;
        strp(buf, 0x1F, &self.reason_string)?;
        u16p(buf, 0x21, self.receive_maximum);
        u16p(buf, 0x22, self.topic_alias_maximum);
        u16p(buf, 0x23, self.topic_alias);
        u8p(buf, 0x24, self.maximum_qos);
        u8p(buf, 0x25, self.retain_available);
        for (k, v) in &self.user_properties {
            buf.put_u8(0x26);
            put_string(buf, k)?;
            put_string(buf, v)?;
        }
        u32p(buf, 0x27, self.maximum_packet_size);
        u8p(buf, 0x28, self.wildcard_subscription_available);
        u8p(buf, 0x29, self.subscription_identifier_available);
        u8p(buf, 0x2A, self.shared_subscription_available);
        Ok(())
    }
}
