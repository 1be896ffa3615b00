//! A message on its way to one session, and the identity of a shared
//! subscription group.

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

/// A message on its way to one session: through one subscription, or, when
/// several subscriptions of the client match it (`mqtt.overlapping_subscriptions:
/// one_copy`), as the one copy that stands for all of them (see
/// [`Delivery::merge`]).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: Arc<Message>,
    /// The subscription's maximum QoS (the highest of the merged ones').
    pub qos: QoS,
    pub retain_as_published: bool,
    pub subscription_ids: SubscriptionIds,
    /// Set when delivered through a shared subscription (for redispatch).
    pub shared: Option<Arc<SharedKey>>,
    /// Sent because of a new subscription: the RETAIN flag is set [MQTT-3.3.1-8].
    pub from_retained: bool,
}

impl Delivery {
    /// Makes this copy stand for one more subscription of the same client
    /// that the message matches too: one copy delivered with the highest QoS
    /// granted to any of them [MQTT-3.3.4-2] that carries every identifier
    /// they have [MQTT-3.3.4-3, MQTT-3.3.4-4]. The specification leaves
    /// Retain As Published open for a merged copy: it is set if any of them
    /// asks, so the RETAIN flag as published reaches the client whenever one of
    /// its subscriptions wants to see it.
    pub fn merge(&mut self, qos: QoS, retain_as_published: bool, subscription_id: Option<u32>) {
        self.qos = self.qos.max(qos);
        self.retain_as_published |= retain_as_published;
        if let Some(id) = subscription_id {
            self.subscription_ids.push(id);
        }
    }
}

/// The Subscription Identifiers a delivery carries in its PUBLISH. Most
/// deliveries carry none or one (no allocation); several only when one copy
/// stands for overlapping subscriptions. Two words, since a [`Delivery`] sits
/// in every queued message: the list of several is behind one thin pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SubscriptionIds {
    #[default]
    None,
    One(u32),
    /// Two or more, ascending, each once.
    Many(Arc<Vec<u32>>),
}

impl SubscriptionIds {
    /// The identifiers in `ids`, ascending, each once.
    pub fn from_ids(ids: impl IntoIterator<Item = u32>) -> SubscriptionIds {
        let mut v: Vec<u32> = ids.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        match v[..] {
            [] => SubscriptionIds::None,
            [id] => SubscriptionIds::One(id),
            _ => SubscriptionIds::Many(Arc::new(v)),
        }
    }

    /// Adds `id`. Two subscriptions with the same identifier make one entry:
    /// the client could not tell them apart by it anyway.
    pub fn push(&mut self, id: u32) {
        match self {
            SubscriptionIds::None => *self = SubscriptionIds::One(id),
            SubscriptionIds::One(first) if *first == id => {}
            SubscriptionIds::One(first) => {
                let pair = vec![(*first).min(id), (*first).max(id)];
                *self = SubscriptionIds::Many(Arc::new(pair));
            }
            SubscriptionIds::Many(ids) => {
                if let Err(at) = ids.binary_search(&id) {
                    Arc::make_mut(ids).insert(at, id);
                }
            }
        }
    }

    /// The identifiers, as the PUBLISH property lists them.
    #[inline]
    pub fn as_slice(&self) -> &[u32] {
        match self {
            SubscriptionIds::None => &[],
            SubscriptionIds::One(id) => std::slice::from_ref(id),
            SubscriptionIds::Many(ids) => ids,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, SubscriptionIds::None)
    }
}

impl From<Option<u32>> for SubscriptionIds {
    #[inline]
    fn from(id: Option<u32>) -> SubscriptionIds {
        id.map_or(SubscriptionIds::None, SubscriptionIds::One)
    }
}

/// A [`Delivery`] as plain owned values (see [`MessageRecord`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub message: MessageRecord,
    pub qos: u8,
    pub retain_as_published: bool,
    pub subscription_ids: Vec<u32>,
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
            subscription_ids: d.subscription_ids.as_slice().to_vec(),
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
            subscription_ids: SubscriptionIds::from_ids(self.subscription_ids),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(qos: QoS, retain_as_published: bool, id: Option<u32>) -> Delivery {
        Delivery {
            message: Arc::new(Message::new(
                "a".into(),
                bytes::Bytes::from_static(b"m"),
                QoS::ExactlyOnce,
                false,
                "p".into(),
                &Default::default(),
            )),
            qos,
            retain_as_published,
            subscription_ids: id.into(),
            shared: None,
            from_retained: false,
        }
    }

    // [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4] One copy for `a` (id 2, QoS 0)
    // and `a/#` (id 3, QoS 1): the highest QoS and both identifiers.
    #[test]
    fn a_merged_copy_has_the_highest_qos_and_every_identifier() {
        let mut d = delivery(QoS::AtMostOnce, false, Some(2));
        d.merge(QoS::AtLeastOnce, false, Some(3));
        assert_eq!(d.qos, QoS::AtLeastOnce);
        assert_eq!(d.subscription_ids.as_slice(), &[2, 3]);
        // Merging a lower QoS keeps the higher one; order of merging does not matter.
        let mut d = delivery(QoS::ExactlyOnce, false, Some(9));
        d.merge(QoS::AtMostOnce, false, Some(4));
        d.merge(QoS::AtLeastOnce, false, None);
        assert_eq!(d.qos, QoS::ExactlyOnce);
        assert_eq!(d.subscription_ids.as_slice(), &[4, 9]);
    }

    // A subscription without an identifier adds none [MQTT-3.3.4-3]; two
    // subscriptions with the same identifier make it appear once.
    #[test]
    fn identifiers_are_a_set() {
        let mut d = delivery(QoS::AtMostOnce, false, None);
        d.merge(QoS::AtMostOnce, false, None);
        assert_eq!(d.subscription_ids, SubscriptionIds::None);
        d.merge(QoS::AtMostOnce, false, Some(5));
        assert_eq!(d.subscription_ids, SubscriptionIds::One(5));
        d.merge(QoS::AtMostOnce, false, Some(5));
        assert_eq!(d.subscription_ids, SubscriptionIds::One(5));
        for id in [7, 1, 7, 3] {
            d.merge(QoS::AtMostOnce, false, Some(id));
        }
        assert_eq!(d.subscription_ids.as_slice(), &[1, 3, 5, 7]);
        assert_eq!(
            SubscriptionIds::from_ids([7, 1, 7, 3, 5]),
            d.subscription_ids
        );
        assert_eq!(SubscriptionIds::from_ids([4]), SubscriptionIds::One(4));
        assert_eq!(SubscriptionIds::from_ids([]), SubscriptionIds::None);
    }

    // Retain As Published [MQTT-3.3.1-12]: a merged copy keeps the flag as
    // published if any of its subscriptions asks.
    #[test]
    fn retain_as_published_if_any_subscription_asks() {
        let mut d = delivery(QoS::AtMostOnce, false, None);
        d.merge(QoS::AtMostOnce, false, None);
        assert!(!d.retain_as_published);
        d.merge(QoS::AtMostOnce, true, None);
        assert!(d.retain_as_published);
        let mut d = delivery(QoS::AtMostOnce, true, None);
        d.merge(QoS::AtMostOnce, false, None);
        assert!(d.retain_as_published);
    }

    // A merged copy survives its record (a session moving to another node).
    #[test]
    fn several_identifiers_survive_the_record() {
        let mut d = delivery(QoS::AtMostOnce, true, Some(2));
        d.merge(QoS::AtLeastOnce, false, Some(3));
        let now = Instant::now();
        let r = DeliveryRecord::of(&d, now);
        assert_eq!(r.subscription_ids, vec![2, 3]);
        let back = r.into_delivery(now);
        assert_eq!(back.subscription_ids, d.subscription_ids);
        assert_eq!(
            (back.qos, back.retain_as_published),
            (QoS::AtLeastOnce, true)
        );
    }

    // A Delivery sits in every queued message: the identifiers add one word to
    // what a single `Option<u32>` took.
    #[test]
    fn a_delivery_stays_small() {
        assert_eq!(std::mem::size_of::<SubscriptionIds>(), 16);
        assert!(std::mem::size_of::<Delivery>() <= 40);
    }
}
