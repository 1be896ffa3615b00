//! A message on its way to one session through one subscription, and the
//! identity of a shared subscription group.

use crate::message::{Message, MessageRecord};
use roost_protocol::QoS;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// Identity of a shared subscription: its share name and its topic filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SharedKey {
    pub group: Arc<str>,
    pub filter: Arc<str>,
}

/// A message on its way to one session through one subscription.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: Arc<Message>,
    /// The subscription's maximum QoS.
    pub qos: QoS,
    pub retain_as_published: bool,
    pub subscription_id: Option<u32>,
    /// Set when delivered through a shared subscription (for redispatch).
    pub shared: Option<Arc<SharedKey>>,
    /// Sent because of a new subscription: the RETAIN flag is set [MQTT-3.3.1-8].
    pub from_retained: bool,
}

/// A [`Delivery`] as plain owned values (see [`MessageRecord`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub message: MessageRecord,
    pub qos: u8,
    pub retain_as_published: bool,
    pub subscription_id: Option<u32>,
    /// `(group, filter)` if it came through a shared subscription.
    pub shared: Option<(String, String)>,
    pub from_retained: bool,
}

impl DeliveryRecord {
    /// The record of `d`, its message's expiry counted from `now`.
    pub fn of(d: &Delivery, now: Instant) -> DeliveryRecord {
        DeliveryRecord {
            message: MessageRecord::of(&d.message, now),
            qos: d.qos as u8,
            retain_as_published: d.retain_as_published,
            subscription_id: d.subscription_id,
            shared: d
                .shared
                .as_ref()
                .map(|k| (k.group.to_string(), k.filter.to_string())),
            from_retained: d.from_retained,
        }
    }

    /// The delivery again, its message's expiry counted from `now`.
    pub fn into_delivery(self, now: Instant) -> Delivery {
        Delivery {
            message: Arc::new(self.message.into_message(now)),
            qos: QoS::from_u8(self.qos).unwrap_or(QoS::AtMostOnce),
            retain_as_published: self.retain_as_published,
            subscription_id: self.subscription_id,
            shared: self.shared.map(|(group, filter)| {
                Arc::new(SharedKey {
                    group: group.into(),
                    filter: filter.into(),
                })
            }),
            from_retained: self.from_retained,
        }
    }
}

impl Serialize for Delivery {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        DeliveryRecord::of(self, Instant::now()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Delivery {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Delivery, D::Error> {
        Ok(DeliveryRecord::deserialize(d)?.into_delivery(Instant::now()))
    }
}
