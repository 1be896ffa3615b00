//! A session's two message stores: the inflight window (QoS 1/2 messages sent and
//! not yet acknowledged, in send order) and the bounded message queue (MQueue)
//! that holds what does not fit in the window or arrives while offline.

use super::Delivery;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Where an outbound QoS 1/2 exchange stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InflightState {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitAck,
    /// PUBREL sent, waiting for PUBCOMP (QoS 2).
    AwaitComp,
}

/// One unacknowledged outbound message.
#[derive(Debug, Clone)]
pub struct InflightEntry {
    pub packet_id: u16,
    pub delivery: Delivery,
    pub state: InflightState,
    /// When the PUBLISH (or PUBREL) was last sent, for `retry_interval`.
    pub sent_at: std::time::Instant,
}

/// The inflight window, ordered by send time so resends keep the original order
/// [MQTT-4.6.0-1].
#[derive(Debug, Default)]
pub struct Inflight {
    entries: VecDeque<InflightEntry>,
}

impl Inflight {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, packet_id: u16) -> bool {
        self.entries.iter().any(|e| e.packet_id == packet_id)
    }

    pub fn push(&mut self, entry: InflightEntry) {
        self.entries.push_back(entry);
    }

    /// Removes the entry for `packet_id` if it is in `state`.
    pub fn remove(&mut self, packet_id: u16, state: InflightState) -> Option<InflightEntry> {
        let i = self
            .entries
            .iter()
            .position(|e| e.packet_id == packet_id && e.state == state)?;
        self.entries.remove(i)
    }

    /// Moves a QoS 2 entry from waiting for PUBREC to waiting for PUBCOMP.
    pub fn released(&mut self, packet_id: u16) -> bool {
        match self.entries.iter_mut().find(|e| e.packet_id == packet_id) {
            Some(e) if e.state == InflightState::AwaitAck => {
                e.state = InflightState::AwaitComp;
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut InflightEntry> {
        self.entries.iter_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = &InflightEntry> {
        self.entries.iter()
    }

    pub fn drain(&mut self) -> impl Iterator<Item = InflightEntry> + '_ {
        self.entries.drain(..)
    }
}

/// What happened when a message was queued.
#[derive(Debug)]
pub enum Enqueued {
    Queued,
    /// The queue was full (in count or in bytes): the oldest messages were
    /// dropped to make room.
    DroppedOldest(Vec<Delivery>),
}

/// The bytes a queued delivery holds: its topic and payload (the rest is a
/// few dozen bytes, shared or not, and is bounded by the count).
pub fn delivery_bytes(d: &Delivery) -> usize {
    d.message.topic.len() + d.message.payload.len()
}

/// The bounded session queue, bounded in count (`mqtt.max_mqueue_len`) and in
/// bytes (`mqtt.max_mqueue_bytes`). When full, the oldest messages are dropped
/// (EMQX's default policy) and the caller counts the drops.
#[derive(Debug)]
pub struct MQueue {
    items: VecDeque<Delivery>,
    max_len: usize,
    /// 0 means unbounded.
    max_bytes: usize,
    /// Topic and payload bytes of the queued messages.
    bytes: usize,
}

impl MQueue {
    /// `max_len` 0 means unbounded.
    pub fn new(max_len: usize) -> MQueue {
        MQueue {
            items: VecDeque::new(),
            max_len,
            max_bytes: 0,
            bytes: 0,
        }
    }

    /// Bounds the queue in bytes too (0 = no bound).
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
    }

    /// Topic and payload bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The bound (0 = unbounded).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn push(&mut self, d: Delivery) -> Enqueued {
        let mut dropped = Vec::new();
        if self.max_len != 0 && self.items.len() >= self.max_len {
            dropped.extend(self.pop());
        }
        let size = delivery_bytes(&d);
        // A message larger than the whole bound still goes in, alone.
        while self.max_bytes != 0 && self.bytes + size > self.max_bytes && !self.items.is_empty() {
            dropped.extend(self.pop());
        }
        self.bytes += size;
        self.items.push_back(d);
        match dropped.is_empty() {
            true => Enqueued::Queued,
            false => Enqueued::DroppedOldest(dropped),
        }
    }

    /// The queued messages, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Delivery> {
        self.items.iter()
    }

    pub fn front(&self) -> Option<&Delivery> {
        self.items.front()
    }

    pub fn pop(&mut self) -> Option<Delivery> {
        let d = self.items.pop_front()?;
        self.bytes -= delivery_bytes(&d);
        Some(d)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Delivery> + '_ {
        self.bytes = 0;
        self.items.drain(..)
    }
}
