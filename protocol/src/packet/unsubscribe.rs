//! UNSUBSCRIBE (spec 3.10).

use super::{read_packet_id, write_packet_id};
use crate::properties::PropertyContext;
use crate::wire::{binary_len, put_string, Reader};
use crate::{Properties, ProtocolError, ProtocolVersion};
use bytes::BytesMut;

/// A request to remove subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unsubscribe {
    /// Identifier echoed by the UNSUBACK; never 0.
    pub packet_id: u16,
    /// Filters to remove, exactly as subscribed (shared forms included).
    pub filters: Vec<String>,
    /// User Properties (5.0).
    pub properties: Properties,
}

impl Unsubscribe {
    pub(crate) fn read(r: &mut Reader, v: ProtocolVersion) -> Result<Unsubscribe, ProtocolError> {
        let packet_id = read_packet_id(r)?;
        let properties = if v.is_v5() {
            Properties::read(r, PropertyContext::Unsubscribe)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string()?;
            // Invalid filters are answered per filter in UNSUBACK (0x8F), not
            // treated as a malformed packet.
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(ProtocolError::Protocol("UNSUBSCRIBE without topic filters"));
            // [MQTT-3.10.3-2]
        }
        Ok(Unsubscribe {
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
            .map(|f| binary_len(f.as_bytes()))
            .sum::<usize>()
    }

    pub(crate) fn write(
        &self,
        v: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if self.filters.is_empty() {
            return Err(ProtocolError::Protocol("UNSUBSCRIBE without topic filters"));
        }
        write_packet_id(buf, self.packet_id)?;
        if v.is_v5() {
            self.properties.write(buf)?;
        }
        for filter in &self.filters {
            put_string(buf, filter)?;
        }
        Ok(())
    }
}
