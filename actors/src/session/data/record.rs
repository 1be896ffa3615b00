//! [`SessionData`] as plain owned values, for what leaves the process (a stored
//! session, a later issue's persistence). Messages go as core's
//! [`DeliveryRecord`]s and subscriptions as [`SubscriptionSnapshot`]s, the
//! forms a cross-node handover already uses. Like a [`MessageRecord`]'s expiry,
//! every time is the time elapsed (or left) when the record was made, since an
//! `Instant` means nothing elsewhere.
//!
//! [`MessageRecord`]: roost_core::message::MessageRecord

use super::{SessionData, SubscriptionRecord};
use crate::session::queue::{InflightEntry, InflightState};
use crate::session::SubscriptionSnapshot;
use bytes::Bytes;
use roost_core::delivery::DeliveryRecord;
use roost_protocol::{PropertyValues, QoS, Will};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// A [`SessionData`] in its serialised form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub generation: u64,
    pub bound_before: bool,
    /// Sorted by filter, so equal sessions make equal records.
    pub subscriptions: Vec<SubscriptionSnapshot>,
    /// The inflight window, in send order.
    pub inflight: Vec<InflightRecord>,
    /// The queue, oldest first.
    pub mqueue: Vec<DeliveryRecord>,
    /// The queue's bound (0 = unbounded).
    pub max_mqueue_len: u64,
    pub next_packet_id: u16,
    pub awaiting_rel: Vec<u16>,
    pub will: Option<WillRecord>,
    /// Session Expiry Interval in seconds (u32::MAX = never).
    pub expiry: u32,
    /// Milliseconds since the last connection went away, if it has.
    pub detached_ms_ago: Option<u64>,
}

/// One unacknowledged outbound message of a [`SessionRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InflightRecord {
    pub packet_id: u16,
    pub delivery: DeliveryRecord,
    pub state: InflightState,
    /// Milliseconds since its PUBLISH (or PUBREL) was last sent.
    pub sent_ms_ago: u64,
}

/// A will with the properties a will may carry (5.0 §3.1.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WillRecord {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub will_delay_interval: Option<u32>,
    pub message_expiry_interval: Option<u32>,
    pub payload_format_indicator: Option<u8>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub user_properties: Vec<(String, String)>,
}

/// Why a record does not make a session.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("invalid subscription filter {0:?}")]
    Filter(String),
}

/// `s`'s subscriptions, sorted by filter (a record's bytes do not depend on
/// the map's order).
fn subscriptions_of(s: &SessionData) -> Vec<SubscriptionSnapshot> {
    let mut subscriptions: Vec<SubscriptionSnapshot> = s
        .subscriptions
        .iter()
        .map(|(raw, r)| r.snapshot(raw))
        .collect();
    subscriptions.sort_by(|a, b| a.raw.cmp(&b.raw));
    subscriptions
}

impl SessionRecord {
    /// The record of `s`, its times counted from `now`.
    pub fn of(s: &SessionData, now: Instant) -> SessionRecord {
        SessionRecord {
            generation: s.generation,
            bound_before: s.bound_before,
            subscriptions: subscriptions_of(s),
            inflight: s
                .inflight
                .iter()
                .map(|e| InflightRecord {
                    packet_id: e.packet_id,
                    delivery: DeliveryRecord::of(&e.delivery, now),
                    state: e.state,
                    sent_ms_ago: millis(now.saturating_duration_since(e.sent_at)),
                })
                .collect(),
            mqueue: s
                .mqueue
                .iter()
                .map(|d| DeliveryRecord::of(d, now))
                .collect(),
            max_mqueue_len: s.mqueue.max_len() as u64,
            next_packet_id: s.next_packet_id,
            awaiting_rel: s.awaiting_rel.clone(),
            will: s.will.as_deref().map(WillRecord::of),
            expiry: s.expiry,
            detached_ms_ago: s
                .detached_at
                .map(|at| millis(now.saturating_duration_since(at))),
        }
    }

    /// The part of `s`'s record a durable session stores as its record: no
    /// messages (each is an entry of its own, see `durable_entries.rs`), no
    /// next packet id (0: the restored session takes the id after its last
    /// one in flight) and no time (the store stamps the record).
    pub fn meta(s: &SessionData) -> SessionRecord {
        SessionRecord {
            generation: s.generation,
            bound_before: s.bound_before,
            subscriptions: subscriptions_of(s),
            inflight: Vec::new(),
            mqueue: Vec::new(),
            max_mqueue_len: s.mqueue.max_len() as u64,
            next_packet_id: 0,
            awaiting_rel: s.awaiting_rel.clone(),
            will: s.will.as_deref().map(WillRecord::of),
            expiry: s.expiry,
            detached_ms_ago: None,
        }
    }

    /// The session again, its times counted from `now`.
    pub fn into_data(self, now: Instant) -> Result<SessionData, RecordError> {
        let mut s = SessionData::new(self.max_mqueue_len as usize);
        for sub in self.subscriptions {
            let record = SubscriptionRecord::from_snapshot(&sub)
                .ok_or_else(|| RecordError::Filter(sub.raw.clone()))?;
            s.subscriptions.insert(sub.raw, record);
        }
        for e in self.inflight {
            s.inflight.push(InflightEntry {
                packet_id: e.packet_id,
                delivery: e.delivery.into_delivery(now),
                state: e.state,
                sent_at: before(now, e.sent_ms_ago),
            });
        }
        for d in self.mqueue {
            s.mqueue.push(d.into_delivery(now));
        }
        s.generation = self.generation;
        s.bound_before = self.bound_before;
        s.next_packet_id = self.next_packet_id;
        s.awaiting_rel = self.awaiting_rel;
        s.will = self.will.map(|w| Box::new(w.into_will()));
        s.expiry = self.expiry;
        s.detached_at = self.detached_ms_ago.map(|ms| before(now, ms));
        Ok(s)
    }
}

impl WillRecord {
    pub fn of(w: &Will) -> WillRecord {
        let p = &w.properties;
        WillRecord {
            topic: w.topic.clone(),
            payload: w.payload.to_vec(),
            qos: w.qos as u8,
            retain: w.retain,
            will_delay_interval: p.will_delay_interval,
            message_expiry_interval: p.message_expiry_interval,
            payload_format_indicator: p.payload_format_indicator,
            content_type: p.content_type.clone(),
            response_topic: p.response_topic.clone(),
            correlation_data: p.correlation_data.as_ref().map(|b| b.to_vec()),
            user_properties: p.user_properties.clone(),
        }
    }

    pub fn into_will(self) -> Will {
        Will {
            topic: self.topic,
            payload: Bytes::from(self.payload),
            qos: QoS::from_u8(self.qos).unwrap_or(QoS::AtMostOnce),
            retain: self.retain,
            properties: PropertyValues {
                will_delay_interval: self.will_delay_interval,
                message_expiry_interval: self.message_expiry_interval,
                payload_format_indicator: self.payload_format_indicator,
                content_type: self.content_type,
                response_topic: self.response_topic,
                correlation_data: self.correlation_data.map(Bytes::from),
                user_properties: self.user_properties,
                ..PropertyValues::default()
            }
            .into(),
        }
    }
}

/// Serialised as its [`SessionRecord`] made now (as core's `Delivery` is).
impl Serialize for SessionData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SessionRecord::of(self, Instant::now()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SessionData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SessionData, D::Error> {
        SessionRecord::deserialize(d)?
            .into_data(Instant::now())
            .map_err(serde::de::Error::custom)
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// `ms` milliseconds before `now` (`now` itself if the clock does not reach back that far).
fn before(now: Instant, ms: u64) -> Instant {
    now.checked_sub(Duration::from_millis(ms)).unwrap_or(now)
}
