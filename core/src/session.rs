//! A session as a plain value: what moves to another node when a client takes
//! its session over there, and what a durable store keeps of it. The runtime
//! turns its live session into a [`SessionSnapshot`] and back.

use crate::delivery::Delivery;
use roost_protocol::{ProtocolVersion, SubscriptionOptions};
use serde::{Deserialize, Serialize};

/// A session's subscriptions and the messages it has not delivered yet.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct SessionSnapshot {
    /// Session Expiry Interval in seconds (u32::MAX = never).
    pub expiry: u32,
    pub subscriptions: Vec<SubscriptionSnapshot>,
    /// Unacknowledged and queued messages, oldest first.
    pub messages: Vec<Delivery>,
    /// The node the session moved from (cross-node takeover), which goes on
    /// relaying what still reaches it there for a while (see the cluster's
    /// lossless takeover). Set by the receiving node, never sent.
    #[serde(skip)]
    pub moved_from: Option<String>,
}

/// One subscription of a [`SessionSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSnapshot {
    /// The filter as the client wrote it (with `$share/<group>/` if shared).
    pub raw: String,
    #[serde(with = "options_byte")]
    pub options: SubscriptionOptions,
    pub subscription_id: Option<u32>,
}

/// Subscription options as their SUBSCRIBE byte (5.0 layout, which holds them all).
pub mod options_byte {
    use super::*;

    pub fn serialize<S: serde::Serializer>(
        o: &SubscriptionOptions,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        o.to_byte(ProtocolVersion::V5).serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<SubscriptionOptions, D::Error> {
        let byte = u8::deserialize(d)?;
        SubscriptionOptions::from_byte(byte, ProtocolVersion::V5).map_err(serde::de::Error::custom)
    }
}
