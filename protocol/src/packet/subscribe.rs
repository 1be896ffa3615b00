//! SUBSCRIBE (spec 3.8).

use super::{qos_from_bits, read_packet_id, write_packet_id};
use crate::properties::PropertyContext;
use crate::topic::parse_subscription_filter;
use crate::wire::{binary_len, put_string, Reader};
use crate::{Properties, ProtocolError, ProtocolVersion, QoS};
use bytes::{BufMut, BytesMut};

/// A request to add subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    /// Identifier echoed by the SUBACK; never 0.
    pub packet_id: u16,
    /// At least one (topic filter, options) pair [MQTT-3.8.3-3].
    pub filters: Vec<(String, SubscriptionOptions)>,
    /// May hold one subscription identifier and user properties.
    pub properties: Properties,
}

/// The options byte of one subscription (in 3.1.1 only `qos` exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver with on this subscription.
    pub qos: QoS,
    /// Do not send the client its own publications (5.0).
    pub no_local: bool,
    /// Keep the RETAIN flag as published when forwarding (5.0).
    pub retain_as_published: bool,
    /// When retained messages are sent for this subscription (5.0).
    pub retain_handling: RetainHandling,
}

/// When retained messages are sent for a new subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at subscribe time.
    #[default]
    SendAtSubscribe,
    /// 1: send only if the subscription did not exist.
    SendIfNew,
    /// 2: never send retained messages at subscribe time.
    DoNotSend,
}

impl SubscriptionOptions {
    /// Parses the options byte. 3.1.1 has only the QoS bits [MQTT-3.8.3-4]; 5.0
    /// reserves bits 6-7 [MQTT-3.8.3-5]; QoS 3 and Retain Handling 3 are malformed.
    pub fn from_byte(byte: u8, v: ProtocolVersion) -> Result<Self, ProtocolError> {
        let reserved = if v.is_v5() { 0xC0 } else { 0xFC };
        if byte & reserved != 0 {
            return Err(ProtocolError::Malformed(
                "subscription options reserved bits set",
            ));
        }
        let retain_handling = match (byte >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            // Spec 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
            _ => return Err(ProtocolError::Protocol("retain handling 3")),
        };
        Ok(SubscriptionOptions {
            qos: qos_from_bits(byte & 0b11)?,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling,
        })
    }

    /// The options byte; 5.0-only options are dropped for 3.1.1.
    pub fn to_byte(self, v: ProtocolVersion) -> u8 {
        let qos = self.qos as u8;
        if !v.is_v5() {
            return qos;
        }
        let rh = match self.retain_handling {
            RetainHandling::SendAtSubscribe => 0,
            RetainHandling::SendIfNew => 1,
            RetainHandling::DoNotSend => 2,
        };
        qos | (u8::from(self.no_local) << 2) | (u8::from(self.retain_as_published) << 3) | (rh << 4)
    }
}

impl Subscribe {
    pub(crate) fn read(r: &mut Reader, v: ProtocolVersion) -> Result<Subscribe, ProtocolError> {
        let packet_id = read_packet_id(r)?;
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::Subscribe)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string()?;
            let options = SubscriptionOptions::from_byte(r.u8()?, v)?;
            // An invalid filter is not a malformed packet: the broker answers it
            // with SUBACK 0x8F (5.0) / 0x80 (3.1.1) and serves the other filters,
            // as EMQX does. Only the packet-level rule below closes the connection.
            let shared = parse_subscription_filter(&filter).is_ok_and(|f| f.group.is_some());
            if options.no_local && shared && v.is_v5() {
                // [MQTT-3.8.3-4]
                return Err(ProtocolError::Protocol("No Local on a shared subscription"));
            }
            filters.push((filter, options));
        }
        if filters.is_empty() {
            return Err(ProtocolError::Protocol("SUBSCRIBE without topic filters"));
            // [MQTT-3.8.3-3]
        }
        Ok(Subscribe {
            packet_id,
            filters,
            properties,
        })
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        2 + if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        } + self
            .filters
            .iter()
            .map(|(f, _)| binary_len(f.as_bytes()) + 1)
            .sum::<usize>()
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if self.filters.is_empty() {
            return Err(ProtocolError::Protocol("SUBSCRIBE without topic filters"));
        }
        write_packet_id(buf, self.packet_id)?;
        if v.is_v5() {
            self.properties.write(buf)?;
        }
        for (filter, options) in &self.filters {
            put_string(buf, filter)?;
            buf.put_u8(options.to_byte(v));
        }
        Ok(())
    }
}
